"""What `vaultwatch` says when it cannot do its job, as a new user meets it: the real binary, each
case in an environment of its own, nothing sent beyond this machine (endpoints on loopback, instance
metadata off). Each common failure is one line on stderr naming what is wrong and what to do, with
the documented exit status 3; `--verbose` adds the error as the SDK reported it."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import DR_VAULT
from harness.config import ROOT
from harness.loopback import LoopbackHandler, LoopbackServer

VAULTWATCH = ROOT / "target" / "debug" / "vaultwatch"
COULD_NOT = 3  # README: "3 when no report could be made (AWS or configuration error, printed on stderr)"
KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret"}
# The IAM User Guide's form of an access denied (docs/aws-facts.md#errors-the-command-explains),
# for the call `vaultwatch coverage` makes first.
PRINCIPAL = "arn:aws:iam::123456789012:user/auditor"
DENIED = (f"User: {PRINCIPAL} is not authorized to perform: backup:ListCopyJobs on resource: "
          "arn:aws:backup:us-east-1:123456789012:* because no identity-based policy allows the "
          "backup:ListCopyJobs action")
PERMANENT = "The resultant tag set must not have more than 50 user tags."


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on: bound, never listening, so a connection is refused and no
    other process can take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def home(tmp_path) -> Path:
    """A home directory without ~/.aws: no profile, no credentials file, no SSO cache."""
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The command with exactly this environment (and PATH), instance metadata off."""
    assert VAULTWATCH.exists(), "run `cargo build --workspace --bins` first"
    env = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", **env}
    return subprocess.run([str(VAULTWATCH), *args], env=env, capture_output=True, text=True, timeout=60)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The command failed as documented and said so in one line, without the SDK's Debug output."""
    assert (result.returncode, result.stdout) == (COULD_NOT, ""), (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("error: "), line
    for debug in ("DispatchFailure", "ConnectorError", "{", "}"):
        assert debug not in line, line
    return line


def test_no_credentials_says_where_credentials_come_from(home, closed_port):
    env = {"HOME": str(home), "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}
    line = one_line(run(env, "coverage", "--table", "t"))
    assert line == ("error: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                    "or run `aws sso login`")

    verbose = run(env, "coverage", "--table", "t", "--verbose")
    assert verbose.returncode == COULD_NOT
    first, detail = verbose.stderr.splitlines()[:2]
    assert first == line
    assert detail.startswith("detail: backup ListCopyJobs failed") and "no credentials found in chain" in detail


def test_an_expired_sso_session_asks_for_aws_sso_login(home, closed_port):
    # An sso-session profile, and the token `aws sso login` cached for the session: expired, without
    # the refresh token (and client registration) the SDK would refresh it with. aws-config reads it
    # from ~/.aws/sso/cache/<SHA-1 of the session name, hex>.json (aws-config's sso/cache.rs).
    aws = home / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    (aws / "config").write_text(
        "[profile ops]\n"
        "sso_session = corp\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = BackupAuditor\n"
        "region = us-east-1\n"
        "\n"
        "[sso-session corp]\n"
        "sso_start_url = https://d-1234567890.awsapps.com/start\n"
        "sso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n")
    token = "an-access-token-that-must-not-be-printed"
    cache = aws / "sso" / "cache" / f"{hashlib.sha1(b'corp').hexdigest()}.json"
    cache.write_text(json.dumps({"startUrl": "https://d-1234567890.awsapps.com/start", "region": "us-east-1",
                                 "accessToken": token, "expiresAt": "2024-01-01T00:00:00Z"}))
    env = {"HOME": str(home), "AWS_PROFILE": "ops", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}

    line = one_line(run(env, "coverage", "--table", "t"))
    assert line == ("error: the AWS SSO session of profile ops has expired (or was never signed in): "
                    "run `aws sso login --profile ops`")
    verbose = run(env, "--verbose", "coverage", "--table", "t")
    assert verbose.stderr.splitlines()[0] == line
    assert "the SSO token has expired and cannot be refreshed" in verbose.stderr
    assert token not in verbose.stderr


@pytest.mark.parametrize("command, option", [
    (["coverage", "--table", "t"], " (or --region with --organization)"),
    (["coverage", "--organization"], " (or --region with --organization)"),
    (["paths", "--no-plans"], ""),
    (["evidence", "verify", "--bucket", "b"], ""),
])
def test_no_region_says_where_a_region_comes_from(home, closed_port, command, option):
    env = {"HOME": str(home), **KEYS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}
    line = one_line(run(env, *command))
    assert line == f"error: no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in the profile{option}"


@pytest.mark.parametrize("command, service", [
    (["coverage", "--table", "t"], "backup"),
    (["paths", "--no-plans"], "sts"),
    (["evidence", "verify", "--bucket", "b"], "s3"),
])
def test_an_unreachable_endpoint_is_named_with_what_to_check(home, closed_port, command, service):
    endpoint = f"http://127.0.0.1:{closed_port}"
    env = {"HOME": str(home), **KEYS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    line = one_line(run(env, *command))
    assert line == f"error: cannot reach {service} at {endpoint}: check the network, a proxy, or AWS_ENDPOINT_URL*"

    verbose = run(env, *command, "--verbose")
    assert verbose.stderr.splitlines()[0] == line
    assert "Connection refused" in verbose.stderr and "DispatchFailure" in verbose.stderr


@pytest.fixture
def denying_backup():
    """AWS Backup refusing every call as IAM refuses one (AWS Backup is REST-JSON: the error type in
    `x-amzn-ErrorType`, AWS's message in the body; HTTP 400 as AWS Backup's Common Errors page gives
    for AccessDeniedException). Yields its URL and the paths asked for."""
    asked: list[str] = []

    class Denying(LoopbackHandler):
        def deny(self):
            asked.append(self.path)
            self.read_body()
            body = json.dumps({"message": DENIED}).encode()
            self.send(400, body, headers={"x-amzn-ErrorType": "AccessDeniedException"})

        do_GET = do_POST = do_PUT = deny

    server = LoopbackServer(Denying).serve_in_background()
    try:
        yield server.url, asked
    finally:
        server.stop()


def test_an_access_denied_names_the_action_and_where_the_needed_ones_are_listed(home, denying_backup):
    url, asked = denying_backup
    env = {"HOME": str(home), **KEYS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}
    line = one_line(run(env, "coverage", "--table", "t"))
    assert asked and asked[0].split("?")[0] == "/copy-jobs", asked  # ListCopyJobs
    assert line == (f"error: access denied: {PRINCIPAL} may not call backup:ListCopyJobs "
                    "(on arn:aws:backup:us-east-1:123456789012:*): the IAM policy of these credentials must "
                    "allow it (docs/operations.md#the-vaultwatch-command lists what `vaultwatch coverage` needs)")
    verbose = run(env, "coverage", "--table", "t", "--verbose")
    assert verbose.stderr.splitlines()[0] == line
    assert "AccessDeniedException" in verbose.stderr.splitlines()[1]
    assert KEYS["AWS_SECRET_ACCESS_KEY"] not in verbose.stderr


def test_a_tracking_table_that_does_not_exist_asks_for_the_stacks_output(settled, resource):
    # A failed copy: the report reads vaultwatch's record of it from the tracking table.
    failing = settled.backup.complete_backup("routed", resource)
    settled.backup.fail_next_copy(failing["RecoveryPointArn"], PERMANENT, destination=DR_VAULT)
    settled.delivery.settle()
    settled.queries.take_alerts()

    args = ("coverage", "--since", "1h", "--vault", "routed", "--table", "vaultwatch-tracking-typo")
    line = one_line(settled.vaultwatch(*args))
    assert line == ("error: the tracking table vaultwatch-tracking-typo does not exist in us-east-1: pass --table "
                    "with the stack's TrackingTableName output")
    verbose = settled.vaultwatch(*args, "--verbose")
    assert verbose.stderr.splitlines()[0] == line
    assert "ResourceNotFoundException" in verbose.stderr.splitlines()[1]
    assert settled.vaultwatch("coverage", "--since", "1h", "--vault", "routed").returncode == 1, "the stack's table"
