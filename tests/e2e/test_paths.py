"""`vaultwatch paths` through the real binary against the AWS Backup stand-in in strict mode
(standin.paths: what AWS does with no configuration is enforced): each seeded misconfiguration is
reported broken with its cause and fix before any copy fails, what another account must tell is
`cannot tell` with that account, a healthy path is `ok`, and the exit status says which. Copies run
on the paths show the stand-in fails them for the cause the check named (and lets the healthy one
through). moto serves KMS and IAM (AWS's managed policies loaded); the IAM proxy answers STS
GetCallerIdentity from the signing access key, SimulatePrincipalPolicy, and DescribeKey of the
stand-in's AWS managed keys; the stand-in reads keys from moto and roles through the proxy, and
serves Organizations from its own organization. No function binaries."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import boto3
import pytest

from harness.config import ROOT
from harness.processes import path_servers
from standin import paths as standin_paths
from standin.state import moto_account

SOURCE, DR = "111111111111", "222222222222"
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                                                             "Action": "sts:AssumeRole"}]})
SRC_VAULT = f"arn:aws:backup:us-east-1:{SOURCE}:backup-vault:src"
SAME_VAULT = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:dst"
LOCKED_VAULT = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:locked"
DR_VAULT = f"arn:aws:backup:us-west-2:{DR}:backup-vault:dr"
ROLE = f"arn:aws:iam::{SOURCE}:role/copier"
BINARY = ROOT / "target" / "debug" / "vaultwatch"
# `vaultwatch paths` exit status: 0 all ok, 1 a path broken, 4 none broken but some cannot tell.
OK, BROKEN, CANNOT_TELL = 0, 1, 4


@pytest.fixture(scope="module")
def servers():
    """moto (KMS, IAM), the IAM proxy in front of it, and a stand-in reading keys and roles there."""
    with path_servers() as urls:
        yield urls


def backup(servers, account: str, region: str = "us-east-1"):
    """The stand-in as `account` (a 12-digit access key id is the caller's account)."""
    return boto3.client("backup", region_name=region, endpoint_url=servers["backup"], aws_access_key_id=account,
                        aws_secret_access_key="testing")


def aws(servers, service: str, account: str, region: str = "us-east-1"):
    """A client of moto's `service` acting in `account`."""
    client = boto3.client(service, region_name=region, endpoint_url=servers["moto"], aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.meta.events.register("before-sign.*.*", moto_account(account))
    return client


def role(servers, name: str, *, managed: bool = True, inline: dict | None = None) -> str:
    """Role `name` of 1111, with AWS's managed policy for AWS Backup and/or an inline policy."""
    iam = aws(servers, "iam", SOURCE)
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    if managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=MANAGED_POLICY)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    return arn


def control(servers, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{servers['backup']}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def vaultwatch(servers, account: str, *args: str) -> subprocess.CompletedProcess:
    """`vaultwatch paths ARGS` as an operator of `account` in us-east-1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("COPY_ROUTES", "COPY_ROLE_ARN")}
    env.update({"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": servers["moto"], "AWS_ENDPOINT_URL_BACKUP": servers["backup"],
                "AWS_ENDPOINT_URL_STS": servers["proxy"], "AWS_ENDPOINT_URL_IAM": servers["proxy"],
                "AWS_ENDPOINT_URL_KMS": servers["proxy"], "AWS_ENDPOINT_URL_ORGANIZATIONS": servers["backup"],
                "TLS_ROOTS": "system"})
    return subprocess.run([str(BINARY), "paths", *args], env=env, capture_output=True, text=True, timeout=120)


def routes(*routes: tuple[str, str, int]) -> str:
    return json.dumps([{"sourceVault": "src", "destinationVaultArn": destination, "lifecycle": {"deleteAfterDays": days},
                       "resourceTypes": ["EBS"]} for _, destination, days in routes])


@pytest.fixture
def world(servers):
    """Strict mode; 1111 (the organization's management account) with `src` (us-east-1), `dst` and
    `locked` (us-west-2, Vault Lock MaxRetentionDays 30) on its AWS managed key, a plan copying `src`
    to `dst` and the role `copier` (AWS's managed policy for AWS Backup); 2222 with `dr` (us-west-2)
    and no vault access policy; cross-account backup off in the organization."""
    control(servers, "reset")
    role(servers, "copier")
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
EVERY_CHECK = (*SLICE_ONE, "kms_keys", "role")


def copy(servers, destination: str, days: int, role_arn: str = ROLE) -> dict:
    """A backup of 1111's `src`, copied to `destination` with DeleteAfterDays `days`, run to its end."""
    point = control(servers, "backup-jobs", {"vault": "src", "account": SOURCE, "resourceType": "EBS",
                                             "resourceArn": f"arn:aws:ec2:us-east-1:{SOURCE}:volume/vol-0123456789abcdef0"})
    client = backup(servers, SOURCE)
    job = client.start_copy_job(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="src",
                                DestinationBackupVaultArn=destination, IamRoleArn=role_arn,
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
    assert all(healthy[name]["status"] == "ok" for name in EVERY_CHECK), healthy
    assert routed[SAME_VAULT]["verdict"] == {"status": "ok"}

    lock = checks(routed[LOCKED_VAULT])["vault_lock"]
    assert (lock["status"], lock["cause"]) == ("broken", "retention"), lock
    assert "kept 35 days" in lock["found"] and "MaxRetentionDays 30" in lock["found"]
    assert "between 1 and 30 days" in lock["fix"]
    assert routed[LOCKED_VAULT]["verdict"]["cause"] == "retention"

    cross = checks(routed[DR_VAULT])
    assert (cross["organization"]["status"], cross["organization"]["cause"]) == ("broken", "organization"), cross
    # `src` is on its AWS managed key, which cannot be shared with 2222 for EBS copies.
    assert (cross["kms_keys"]["status"], cross["kms_keys"]["cause"]) == ("broken", "managed_key"), cross["kms_keys"]
    for name in ("destination_vault", "vault_access_policy", "vault_lock"):
        assert (cross[name]["status"], cross[name]["runIn"]) == ("cannotTell", DR), cross[name]

    plan = by_destination(report, "planRule")[SAME_VAULT]
    assert (plan["origin"]["plan"], plan["origin"]["rule"], plan["retention"]) == ("nightly", "daily", {"days": 14})
    assert all(checks(plan)[name]["status"] == "ok" for name in (*SLICE_ONE, "kms_keys")), plan
    assert "ListBackupSelections" in checks(plan)["role"]["why"]  # a plan's role is its selection's
    assert report["summary"] == {"ok": 1, "broken": 2, "cannotTell": 1}

    # The stand-in fails copies on the broken paths for the causes the check named, and lets the
    # healthy path's through.
    assert copy(world, SAME_VAULT, 30)["State"] == "COMPLETED"
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

    # The fix, as the destination vault's policy, and cross-account backup on: nothing the
    # destination account can read is left broken.
    dr = backup(world, DR, "us-west-2")
    dr.put_backup_vault_access_policy(BackupVaultName="dr", Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    backup(world, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true"})
    result = vaultwatch(world, DR, *path)
    assert result.returncode == CANNOT_TELL, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)["paths"]
    assert all(checks(report)[name]["status"] == "ok" for name in SLICE_ONE if name != "organization"), report
    # What the destination account cannot tell is the source's side: its key, its role, whether both
    # accounts are members (only the management account, 1111, lists them); each names 1111.
    for name in ("kms_keys", "role", "organization"):
        assert (checks(report)[name]["status"], checks(report)[name].get("runIn")) == ("cannotTell", SOURCE), name
    # From the source account the key tells: `src` is on its AWS managed key, which fails the copy.
    result = vaultwatch(world, SOURCE, *path)
    assert result.returncode == BROKEN, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)["paths"]
    kms = checks(report)["kms_keys"]
    assert (kms["status"], kms["cause"]) == ("broken", "managed_key"), kms
    assert checks(report)["organization"]["status"] == "ok" and checks(report)["role"]["status"] == "ok", report
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
    healthy = vaultwatch(world, SOURCE, "--no-plans", "--path", SRC_VAULT, SAME_VAULT, ROLE, "--delete-after-days", "30")
    assert healthy.returncode == OK, healthy.stdout + healthy.stderr
    assert healthy.stdout.splitlines()[-1] == f"1 paths checked from account {SOURCE}: 1 ok, 0 broken, 0 cannot tell"
    csv = vaultwatch(world, SOURCE, *args, "--format", "csv").stdout.splitlines()
    assert csv[0] == "source_vault,destination_vault,role,from,verdict,check,status,cause,found,fix,run_in"
    assert len(csv) == 1 + 7 and any(",vault_lock,broken,retention," in row for row in csv)
    assert vaultwatch(world, SOURCE, "--path", SRC_VAULT).returncode == 2
    assert vaultwatch(world, SOURCE, "--path", SRC_VAULT, "not-a-vault").returncode == 2


def test_a_plans_paths_pass_its_backup_selections_roles_each_checked(world):
    """A plan's copies pass the role of its backup selections (ListBackupSelections): one path per
    role, each simulated; a role without CopyIntoBackupVault is broken on the plan's path."""
    client = backup(world, SOURCE)
    (plan,) = client.list_backup_plans()["BackupPlansList"]
    custom = role(world, "selector", managed=False, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["backup:StartBackupJob"], "Resource": "*"}]})
    for name, arn in (("everything", ROLE), ("databases", custom)):
        client.create_backup_selection(BackupPlanId=plan["BackupPlanId"],
                                       BackupSelection={"SelectionName": name, "IamRoleArn": arn, "Resources": ["*"]})
    listed = client.list_backup_selections(BackupPlanId=plan["BackupPlanId"])["BackupSelectionsList"]
    assert sorted(selection["IamRoleArn"] for selection in listed) == sorted([ROLE, custom])
    result = vaultwatch(world, SOURCE, "--format", "json")
    assert result.returncode == BROKEN, result.stderr
    paths = {p["path"]["role"]: p for p in json.loads(result.stdout)["paths"] if p["origin"]["kind"] == "planRule"}
    assert sorted(paths) == sorted([ROLE, custom])
    assert paths[ROLE]["verdict"] == {"status": "ok"}, checks(paths[ROLE])
    assert (paths[custom]["verdict"]["status"], paths[custom]["verdict"]["cause"]) == ("broken", "access")


def path_check(servers, destination: str, role_arn: str = ROLE) -> dict:
    """`vaultwatch paths` of one path from 1111's `src` (EBS, 30 days), from 1111: its report."""
    result = vaultwatch(servers, SOURCE, "--no-plans", "--path", SRC_VAULT, destination, role_arn, "--delete-after-days", "30",
                        "--resource-type", "EBS", "--format", "json")
    assert result.returncode in (OK, BROKEN, CANNOT_TELL), result.stderr
    (report,) = json.loads(result.stdout)["paths"]
    report["exit"] = result.returncode
    return report


def test_a_disabled_destination_key_is_broken_with_the_command_that_enables_it(world):
    kms = aws(world, "kms", SOURCE, "us-west-2")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    backup(world, SOURCE, "us-west-2").create_backup_vault(BackupVaultName="keyed", EncryptionKeyArn=key_arn)
    keyed = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:keyed"
    first = path_check(world, keyed)
    assert first["exit"] == OK, [c for c in first["checks"] if c["status"] != "ok"]
    kms.disable_key(KeyId=key_arn.split("/")[-1])  # moto takes the key id
    report = path_check(world, keyed)
    assert report["exit"] == BROKEN
    check = checks(report)["kms_keys"]
    assert (check["status"], check["cause"]) == ("broken", "kms_key"), check
    assert check["found"].endswith(f"the destination vault's key {key_arn} is Disabled"), check["found"]
    assert check["fix"] == f"aws kms enable-key --key-id {key_arn} --region us-west-2 (in account {SOURCE})"
    assert copy(world, keyed, 30)["StatusMessage"] == standin_paths.KEY_UNUSABLE
    kms.enable_key(KeyId=key_arn.split("/")[-1])  # the fix: the path is ok and copies again
    assert path_check(world, keyed)["exit"] == OK
    assert copy(world, keyed, 30)["State"] == "COMPLETED"


def test_a_custom_role_without_copy_into_backup_vault_is_broken_and_the_fix_is_the_statement_to_add(world):
    custom = role(world, "custom", managed=False, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["backup:StartCopyJob", "backup:DescribeBackupVault"], "Resource": "*"}]})
    report = path_check(world, SAME_VAULT, custom)
    assert report["exit"] == BROKEN
    check = checks(report)["role"]
    assert (check["status"], check["cause"]) == ("broken", "access"), check
    assert "implicitDeny" in check["found"] and custom in check["found"], check["found"]
    statement = json.loads(check["fix"])
    assert statement == {"Sid": "AllowCopyIntoBackupVault", "Effect": "Allow", "Action": "backup:CopyIntoBackupVault",
                         "Resource": SAME_VAULT}
    assert copy(world, SAME_VAULT, 30, custom)["StatusMessage"] == standin_paths.ACCESS_DENIED
    # The fix, added to the role: the path is ok and the copy completes.
    aws(world, "iam", SOURCE).put_role_policy(RoleName="custom", PolicyName="copy-into",
                                              PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert path_check(world, SAME_VAULT, custom)["exit"] == OK
    assert copy(world, SAME_VAULT, 30, custom)["State"] == "COMPLETED"


def test_eight_seeded_misconfigurations_are_each_found_before_any_copy_runs_and_the_healthy_path_is_ok(world):
    """One `vaultwatch paths` run over nine paths from 1111's `src` (EBS, 35 days): eight broken each
    their own way and one healthy, checked before any copy has run; then one copy per path shows the
    stand-in fails each broken one for the cause the check named and lets the healthy one through."""
    west = backup(world, SOURCE, "us-west-2")
    kms = aws(world, "kms", SOURCE, "us-west-2")
    disabled, doomed = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    kms.disable_key(KeyId=disabled.split("/")[-1])
    kms.schedule_key_deletion(KeyId=doomed.split("/")[-1], PendingWindowInDays=7)
    west.create_backup_vault(BackupVaultName="off-key", EncryptionKeyArn=disabled)
    west.create_backup_vault(BackupVaultName="doomed-key", EncryptionKeyArn=doomed)
    west.create_backup_vault(BackupVaultName="denying")
    denying = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:denying"
    west.put_backup_vault_access_policy(BackupVaultName="denying", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]}))
    narrow = role(world, "narrow", managed=False, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["backup:StartCopyJob"], "Resource": "*"}]})
    ghost = f"arn:aws:iam::{SOURCE}:role/ghost"
    vault_of = lambda name: f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:{name}"  # noqa: E731
    seeded = {  # (destination, role): (the check that finds it, its cause)
        (vault_of("nope"), ROLE): ("destination_vault", "missing_vault"),
        (LOCKED_VAULT, ROLE): ("vault_lock", "retention"),
        (vault_of("off-key"), ROLE): ("kms_keys", "kms_key"),
        (vault_of("doomed-key"), ROLE): ("kms_keys", "kms_key"),
        (SAME_VAULT, ghost): ("role", "access"),
        (SAME_VAULT, narrow): ("role", "access"),
        (denying, ROLE): ("vault_access_policy", "vault_access_policy"),
        (DR_VAULT, ROLE): ("organization", "organization"),
    }
    assert backup(world, SOURCE).list_copy_jobs()["CopyJobs"] == [], "no copy has run"
    args = ["--no-plans", "--format", "json", "--delete-after-days", "35", "--resource-type", "EBS"]
    for destination, role_arn in [*seeded, (SAME_VAULT, ROLE)]:
        args += ["--path", SRC_VAULT, destination, role_arn]
    result = vaultwatch(world, SOURCE, *args)
    assert result.returncode == BROKEN, result.stderr
    reports = {(p["path"]["destinationVault"], p["path"]["role"]): p for p in json.loads(result.stdout)["paths"]}
    for (destination, role_arn), (check, cause) in seeded.items():
        report = reports[(destination, role_arn)]
        assert report["verdict"]["status"] == "broken", (destination, role_arn, report["verdict"])
        assert (checks(report)[check]["status"], checks(report)[check]["cause"]) == ("broken", cause), checks(report)[check]
    assert reports[(SAME_VAULT, ROLE)]["verdict"] == {"status": "ok"}, checks(reports[(SAME_VAULT, ROLE)])

    # The copies: each broken path's fails (or is refused) as the check said; the healthy one completes.
    expected = {
        LOCKED_VAULT: standin_paths.RETENTION, vault_of("off-key"): standin_paths.KEY_UNUSABLE,
        vault_of("doomed-key"): standin_paths.KEY_UNUSABLE, denying: standin_paths.ACCESS_DENIED,
        DR_VAULT: standin_paths.CROSS_ACCOUNT_OFF,
    }
    for destination, message in expected.items():
        assert copy(world, destination, 35)["StatusMessage"] == message, destination
    assert copy(world, SAME_VAULT, 35, ghost)["StatusMessage"] == standin_paths.ROLE_NOT_ASSUMABLE.format(role=ghost)
    assert copy(world, SAME_VAULT, 35, narrow)["StatusMessage"] == standin_paths.ACCESS_DENIED
    with pytest.raises(Exception, match="ResourceNotFound|does not exist|not found"):
        copy(world, vault_of("nope"), 35)
    assert copy(world, SAME_VAULT, 35)["State"] == "COMPLETED"
