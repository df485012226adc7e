"""`vaultwatch paths` through the real binary against the AWS Backup stand-in in strict mode
(standin.paths: what AWS does with no configuration is enforced): each seeded misconfiguration is
reported broken with its cause and fix before any copy fails, what another account must tell is
`cannot tell` with that account, and the exit status says which. Copies run on two of the paths
show the stand-in fails them for the cause the check named. moto and the IAM proxy (which answers
STS GetCallerIdentity from the signing access key) run beside it; no function binaries."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import boto3
import pytest

from harness.config import ROOT
from harness.processes import MOTO, start_server, start_standin
from standin import paths as standin_paths

SOURCE, DR = "111111111111", "222222222222"
SRC_VAULT = f"arn:aws:backup:us-east-1:{SOURCE}:backup-vault:src"
SAME_VAULT = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:dst"
LOCKED_VAULT = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:locked"
DR_VAULT = f"arn:aws:backup:us-west-2:{DR}:backup-vault:dr"
ROLE = f"arn:aws:iam::{SOURCE}:role/copier"
BINARY = ROOT / "target" / "debug" / "vaultwatch"
# `vaultwatch paths` exit status: 0 all ok, 1 a path broken, 4 none broken but some cannot tell.
BROKEN, CANNOT_TELL = 1, 4


@pytest.fixture(scope="module")
def servers():
    started = []
    try:
        moto, (moto_port,) = start_server(MOTO, "moto server", stderr=subprocess.DEVNULL)
        started.append(moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        proxy, (proxy_port,) = start_server([*MOTO[:2], "standin.iam_proxy", "--port", "0", "--moto", moto_url], "IAM proxy",
                                            stderr=subprocess.DEVNULL)
        started.append(proxy)
        standin, url = start_standin([], stderr=subprocess.DEVNULL)
        started.append(standin)
        yield {"moto": moto_url, "proxy": f"http://127.0.0.1:{proxy_port}", "backup": url}
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=10)


def backup(servers, account: str, region: str = "us-east-1"):
    """The stand-in as `account` (a 12-digit access key id is the caller's account)."""
    return boto3.client("backup", region_name=region, endpoint_url=servers["backup"], aws_access_key_id=account,
                        aws_secret_access_key="testing")


def control(servers, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{servers['backup']}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def vaultwatch(servers, account: str, *args: str) -> subprocess.CompletedProcess:
    """`vaultwatch paths ARGS` as an operator of `account` in us-east-1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("COPY_ROUTES", "COPY_ROLE_ARN")}
    env.update({"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": servers["moto"], "AWS_ENDPOINT_URL_BACKUP": servers["backup"],
                "AWS_ENDPOINT_URL_STS": servers["proxy"], "TLS_ROOTS": "system"})
    return subprocess.run([str(BINARY), "paths", *args], env=env, capture_output=True, text=True, timeout=120)


def routes(*routes: tuple[str, str, int]) -> str:
    return json.dumps([{"sourceVault": "src", "destinationVaultArn": destination, "lifecycle": {"deleteAfterDays": days},
                       "resourceTypes": ["EBS"]} for _, destination, days in routes])


@pytest.fixture
def world(servers):
    """Strict mode; 1111 (the organization's management account) with `src` (us-east-1), `dst` and
    `locked` (us-west-2, Vault Lock MaxRetentionDays 30), and a plan copying `src` to `dst`; 2222 with
    `dr` (us-west-2) and no vault access policy; cross-account backup off in the organization."""
    control(servers, "reset")
    control(servers, "paths", {"strict": True})
    control(servers, "organization", {"managementAccount": SOURCE, "members": [DR]})
    backup(servers, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "false"})
    backup(servers, SOURCE).create_backup_vault(BackupVaultName="src")
    west = backup(servers, SOURCE, "us-west-2")
    west.create_backup_vault(BackupVaultName="dst")
    west.create_backup_vault(BackupVaultName="locked")
    west.put_backup_vault_lock_configuration(BackupVaultName="locked", MinRetentionDays=1, MaxRetentionDays=30)
    backup(servers, DR, "us-west-2").create_backup_vault(BackupVaultName="dr")
    backup(servers, SOURCE).create_backup_plan(BackupPlan={"BackupPlanName": "nightly", "Rules": [{
        "RuleName": "daily", "TargetBackupVaultName": "src", "Lifecycle": {"DeleteAfterDays": 14},
        "CopyActions": [{"DestinationBackupVaultArn": SAME_VAULT}]}]})
    return servers


def by_destination(report: dict, origin: str) -> dict:
    return {p["path"]["destinationVault"]: p for p in report["paths"] if p["origin"]["kind"] == origin}


def checks(path: dict) -> dict:
    return {c["check"]: c for c in path["checks"]}


SLICE_ONE = ("destination_vault", "vault_access_policy", "vault_lock", "organization", "resource_types")


def copy(servers, destination: str, days: int) -> dict:
    """A backup of 1111's `src`, copied to `destination` with DeleteAfterDays `days`, run to its end."""
    point = control(servers, "backup-jobs", {"vault": "src", "account": SOURCE, "resourceType": "EBS",
                                             "resourceArn": f"arn:aws:ec2:us-east-1:{SOURCE}:volume/vol-0123456789abcdef0"})
    client = backup(servers, SOURCE)
    job = client.start_copy_job(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="src",
                                DestinationBackupVaultArn=destination, IamRoleArn=ROLE,
                                Lifecycle={"DeleteAfterDays": days})["CopyJobId"]
    control(servers, "advance")
    return client.describe_copy_job(CopyJobId=job)["CopyJob"]


def test_from_the_source_account_each_route_and_plan_gets_its_verdict(world):
    result = vaultwatch(world, SOURCE, "--routes", routes(("src", SAME_VAULT, 30), ("src", LOCKED_VAULT, 35), ("src", DR_VAULT, 30)),
                        "--role", ROLE, "--format", "json")
    assert result.returncode == BROKEN, result.stderr
    report = json.loads(result.stdout)
    assert report["account"] == SOURCE
    routed = by_destination(report, "route")

    healthy = checks(routed[SAME_VAULT])
    assert all(healthy[name]["status"] == "ok" for name in SLICE_ONE), healthy
    # KMS keys and the role are the second slice: cannot tell, run in the source account.
    assert (healthy["kms_keys"]["status"], healthy["kms_keys"]["runIn"]) == ("cannotTell", SOURCE)
    assert f"--policy-source-arn {ROLE}" in healthy["role"]["why"]
    assert routed[SAME_VAULT]["verdict"]["status"] == "cannotTell"

    lock = checks(routed[LOCKED_VAULT])["vault_lock"]
    assert (lock["status"], lock["cause"]) == ("broken", "retention"), lock
    assert "kept 35 days" in lock["found"] and "MaxRetentionDays 30" in lock["found"]
    assert "between 1 and 30 days" in lock["fix"]
    assert routed[LOCKED_VAULT]["verdict"]["cause"] == "retention"

    cross = checks(routed[DR_VAULT])
    assert (cross["organization"]["status"], cross["organization"]["cause"]) == ("broken", "organization"), cross
    for name in ("destination_vault", "vault_access_policy", "vault_lock"):
        assert (cross[name]["status"], cross[name]["runIn"]) == ("cannotTell", DR), cross[name]

    plan = by_destination(report, "planRule")[SAME_VAULT]
    assert (plan["origin"]["plan"], plan["origin"]["rule"], plan["retention"]) == ("nightly", "daily", {"days": 14})
    assert all(checks(plan)[name]["status"] == "ok" for name in SLICE_ONE), plan
    assert report["summary"] == {"ok": 0, "broken": 2, "cannotTell": 2}

    # The stand-in fails copies on the broken paths for the causes the check named.
    assert copy(world, LOCKED_VAULT, 35)["StatusMessage"] == standin_paths.RETENTION
    assert copy(world, DR_VAULT, 30)["StatusMessage"] == standin_paths.CROSS_ACCOUNT_OFF


def test_from_the_destination_account_a_missing_vault_policy_is_broken_and_its_fix_repairs_it(world):
    path = ["--no-plans", "--path", SRC_VAULT, DR_VAULT, ROLE, "--delete-after-days", "30", "--resource-type", "EBS",
            "--format", "json"]
    result = vaultwatch(world, DR, *path)
    assert result.returncode == BROKEN, result.stderr
    (report,) = json.loads(result.stdout)["paths"]
    policy = checks(report)["vault_access_policy"]
    assert (policy["status"], policy["cause"]) == ("broken", "vault_access_policy"), policy
    assert "has no access policy" in policy["found"]
    statement = json.loads(policy["fix"])
    assert (statement["Effect"], statement["Action"], statement["Principal"]) == (
        "Allow", "backup:CopyIntoBackupVault", {"AWS": f"arn:aws:iam::{SOURCE}:root"})
    assert checks(report)["destination_vault"]["status"] == "ok"

    # The fix, as the destination vault's policy, and cross-account backup on: nothing this slice
    # checks is left broken.
    dr = backup(world, DR, "us-west-2")
    dr.put_backup_vault_access_policy(BackupVaultName="dr", Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    backup(world, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true"})
    result = vaultwatch(world, DR, *path)
    assert result.returncode == CANNOT_TELL, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)["paths"]
    assert all(checks(report)[name]["status"] == "ok" for name in SLICE_ONE), report
    # What this slice cannot tell is what still fails the copy: the source vault's AWS managed key.
    assert checks(report)["kms_keys"]["status"] == "cannotTell"
    assert copy(world, DR_VAULT, 30)["StatusMessage"] == standin_paths.MANAGED_KEY


def test_the_table_and_csv_name_what_to_fix_and_usage_errors_exit_2(world):
    args = ["--no-plans", "--path", SRC_VAULT, LOCKED_VAULT, ROLE, "--delete-after-days", "35"]
    table = vaultwatch(world, SOURCE, *args)
    assert table.returncode == BROKEN, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["source_vault", "destination_vault", "role", "from", "verdict", "checks"]
    assert lines[1].split()[-2:] == ["broken", "vault_lock"], lines[1]
    assert any(line.strip().startswith("vault_lock broken (vault lock retention):") for line in lines), table.stdout
    assert lines[-1] == f"1 paths checked from account {SOURCE}: 0 ok, 1 broken, 0 cannot tell"
    csv = vaultwatch(world, SOURCE, *args, "--format", "csv").stdout.splitlines()
    assert csv[0] == "source_vault,destination_vault,role,from,verdict,check,status,cause,found,fix,run_in"
    assert len(csv) == 1 + 7 and any(",vault_lock,broken,retention," in row for row in csv)
    assert vaultwatch(world, SOURCE, "--path", SRC_VAULT).returncode == 2
    assert vaultwatch(world, SOURCE, "--path", SRC_VAULT, "not-a-vault").returncode == 2
