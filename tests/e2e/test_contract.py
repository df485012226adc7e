"""Runs the Rust adapter contract tests (tests/behaviour/contract.rs) against the running stack:
vaultwatch's AWS adapters through the real aws-sdk-backup / aws-sdk-dynamodb clients."""

import os
import re
import subprocess

from harness.config import CREDENTIALS, ROOT


def test_adapters_honour_the_aws_contracts(stack):
    env = {
        **os.environ, **CREDENTIALS,
        "AWS_ENDPOINT_URL": stack.endpoints.moto_url,
        "AWS_ENDPOINT_URL_BACKUP": stack.endpoints.backup_url,
        "TRACKING_TABLE_NAME": stack.resources.table,
    }
    run = subprocess.run(
        ["cargo", "test", "--quiet", "-p", "vaultwatch-tests", "--test", "behaviour", "contract::", "--", "--ignored", "--test-threads=1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    passed = re.search(r"test result: ok\. (\d+) passed; 0 failed", output)
    assert passed and int(passed.group(1)) == 8, output
