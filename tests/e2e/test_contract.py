"""Runs the Rust adapter contract tests (tests/behaviour/contract.rs) against a running stack:
vaultwatch's AWS adapters through the real aws-sdk-backup / aws-sdk-dynamodb clients."""

import os
import re
import subprocess

import pytest

from harness.config import CREDENTIALS, ROOT
from harness.stack import LocalAws


@pytest.fixture(scope="module")
def own_stack():
    """A stack of its own: the contract tests leave 2,500 copy jobs behind, which the session
    stack's next sweep would reconcile (more than a minute of another test's time)."""
    with LocalAws(start_functions=False) as stack:
        yield stack


def test_adapters_honour_the_aws_contracts(own_stack):
    env = {
        **os.environ, **CREDENTIALS,
        "AWS_ENDPOINT_URL": own_stack.endpoints.moto_url,
        "AWS_ENDPOINT_URL_BACKUP": own_stack.endpoints.backup_url,
        "TRACKING_TABLE_NAME": own_stack.resources.table,
    }
    # --workspace: the feature set `cargo test --workspace` built in (scripts/test), so nothing is
    # rebuilt; `-p vaultwatch-tests` alone would rebuild aws-config and all above it.
    run = subprocess.run(
        ["cargo", "test", "--quiet", "--workspace", "--test", "behaviour", "contract::", "--", "--ignored", "--test-threads=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    passed = re.search(r"test result: ok\. (\d+) passed; 0 failed", output)
    assert passed and int(passed.group(1)) == 8, output
