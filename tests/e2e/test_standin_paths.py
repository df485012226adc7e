"""Copy paths in the AWS Backup stand-in (standin.paths, docs/aws-facts.md#copy-paths): a
misconfigured path fails its copies by itself, with AWS's message and the derived category, and the
read APIs report the configuration that decides. moto serves KMS and IAM (its AWS managed policies
loaded); the IAM proxy (standin.iam_proxy) sits in front of moto's IAM for the stand-in and for
SimulatePrincipalPolicy. No function binaries."""

from __future__ import annotations

import json
import urllib.request

import boto3
import botocore.exceptions
import pytest

from harness.processes import path_servers
from standin import paths
from standin.common import derive_category
from standin.state import moto_account

SOURCE, DR, OUTSIDER, SAME = "111111111111", "222222222222", "555555555555", "123456789012"
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
VOLUME = "arn:aws:ec2:us-east-1:{account}:volume/vol-0123456789abcdef0"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                                                             "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def servers():
    """moto (KMS, IAM), the IAM proxy in front of it, and a stand-in reading keys and roles there."""
    with path_servers() as urls:
        yield urls


def aws(servers, service: str, account: str, region: str = "us-east-1", endpoint: str | None = None):
    """A client of moto's `service` (or the proxy's IAM) acting in `account`."""
    client = boto3.client(service, region_name=region, endpoint_url=endpoint or servers["moto"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register("before-sign.*.*", moto_account(account))
    return client


def backup(servers, account: str = SAME, region: str = "us-east-1"):
    """The stand-in as `account` (a 12-digit access key id is the caller's account)."""
    key = account if account != SAME else "testing"
    return boto3.client("backup", region_name=region, endpoint_url=servers["backup"],
                        aws_access_key_id=key, aws_secret_access_key="testing")


def control(servers, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{servers['backup']}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def error(call) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def role(servers, account: str, name: str, *, managed: bool = True, inline: dict | None = None) -> str:
    iam = aws(servers, "iam", account)
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    if managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=MANAGED_POLICY)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    return arn


def key(servers, account: str, policy: dict | None = None, region: str = "us-east-1") -> str:
    kms = aws(servers, "kms", account, region)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    if policy:
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    return arn


@pytest.fixture
def world(servers):
    """A fresh stand-in: vault `src` of account 1111 (us-east-1) and `dr` of 2222 (us-west-2), a
    same-account destination `dst` of 1111 (us-west-2), each account with a role `copier` that has
    AWS's managed policy."""
    control(servers, "reset")
    backup(servers, SOURCE).create_backup_vault(BackupVaultName="src")
    backup(servers, SOURCE, "us-west-2").create_backup_vault(BackupVaultName="dst")
    backup(servers, DR, "us-west-2").create_backup_vault(BackupVaultName="dr")
    for account in (SOURCE, DR, OUTSIDER):
        role(servers, account, "copier")
    return servers


DR_VAULT = f"arn:aws:backup:us-west-2:{DR}:backup-vault:dr"
SAME_ACCOUNT_VAULT = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:dst"


def copy(servers, *, destination: str = DR_VAULT, resource_type: str = "EBS", lifecycle: dict | None = None,
         role_name: str = "copier", vault: str = "src", account: str = SOURCE) -> dict:
    """A backup of `account`'s `vault`, copied to `destination` with `role_name`, run to its end."""
    point = control(servers, "backup-jobs", {"vault": vault, "account": account, "resourceType": resource_type,
                                             "resourceArn": VOLUME.format(account=account)})["RecoveryPointArn"]
    extra = {"Lifecycle": lifecycle} if lifecycle else {}
    client = backup(servers, account)
    job_id = client.start_copy_job(RecoveryPointArn=point, SourceBackupVaultName=vault, DestinationBackupVaultArn=destination,
                                   IamRoleArn=f"arn:aws:iam::{account}:role/{role_name}", **extra)["CopyJobId"]
    control(servers, "advance")
    return client.describe_copy_job(CopyJobId=job_id)["CopyJob"]


def failed(job: dict, message: str) -> bool:
    assert (job["State"], job.get("StatusMessage")) == ("FAILED", message)
    assert job["MessageCategory"] == derive_category(message)
    return True


def completed(job: dict) -> bool:
    assert job["State"] == "COMPLETED", job.get("StatusMessage")
    return True


def healthy_organization(servers, *, enabled: bool = True) -> str:
    """1111 (management) and 2222 in one organization, cross-account backup set as `enabled`."""
    control(servers, "organization", {"managementAccount": SOURCE, "members": [DR]})
    backup(servers, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true" if enabled else "false"})
    return control(servers, "paths")["organizationId"]


def allow_copies_from(servers, principal) -> None:
    backup(servers, DR, "us-west-2").put_backup_vault_access_policy(BackupVaultName="dr", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
                                                "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]}))


# ---------------------------------------------------------------------- defaults
def test_a_path_told_nothing_copies_as_before_and_strict_mode_enforces_awss_defaults(world):
    assert control(world, "paths") == {"strict": False, "organizationId": None, "kmsEndpoint": world["moto"],
                                       "iamEndpoint": world["proxy"]}
    assert completed(copy(world))  # cross-account, cross-Region, no organization, no policy: as before
    assert control(world, "paths", {"strict": True})["strict"] is True
    assert failed(copy(world), paths.NOT_SAME_ORGANIZATION)
    control(world, "reset")
    assert control(world, "paths")["strict"] is False  # reset: the server's default again


# ---------------------------------------------------------------------- 1. destination vault access policy
def test_the_vault_access_policy_is_read_back_and_deleted_as_aws_answers(world):
    dr = backup(world, DR, "us-west-2")
    assert error(lambda: dr.get_backup_vault_access_policy(BackupVaultName="dr")) == (
        "ResourceNotFoundException", f"Backup Vault {DR_VAULT} has no associated POLICY")
    allow_copies_from(world, {"AWS": f"arn:aws:iam::{SOURCE}:root"})
    got = dr.get_backup_vault_access_policy(BackupVaultName="dr")
    assert (got["BackupVaultName"], got["BackupVaultArn"]) == ("dr", DR_VAULT)
    assert json.loads(got["Policy"])["Statement"][0]["Action"] == "backup:CopyIntoBackupVault"
    dr.delete_backup_vault_access_policy(BackupVaultName="dr")
    assert error(lambda: dr.get_backup_vault_access_policy(BackupVaultName="dr"))[0] == "ResourceNotFoundException"
    assert error(lambda: dr.put_backup_vault_access_policy(BackupVaultName="dr", Policy="{}"))[0] == "InvalidParameterValueException"


def test_a_cross_account_copy_needs_the_destination_policy_to_allow_the_source(world):
    control(world, "paths", {"strict": True})
    org_id = healthy_organization(world)
    # The source vault under a customer managed key shared with the destination account (strict: no AWS managed key).
    shared_source(world)
    assert failed(copy(world, vault="cmk"), paths.ACCESS_DENIED)  # no policy at all
    allow_copies_from(world, {"AWS": f"arn:aws:iam::{SOURCE}:root"})
    assert completed(copy(world, vault="cmk"))
    allow_copies_from(world, {"AWS": SOURCE})  # the bare account id
    assert completed(copy(world, vault="cmk"))
    allow_copies_from(world, {"AWS": OUTSIDER})  # another account only
    assert failed(copy(world, vault="cmk"), paths.ACCESS_DENIED)
    # The whole organization: Principal "*" with aws:PrincipalOrgID.
    backup(world, DR, "us-west-2").put_backup_vault_access_policy(BackupVaultName="dr", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
                                                "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": [org_id]}}}]}))
    assert completed(copy(world, vault="cmk"))


def test_only_a_deny_of_copy_into_backup_vault_blocks_copies_wildcards_included(world):
    dst = backup(world, SOURCE, "us-west-2")
    guard = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": "*",
             "Action": ["backup:DeleteBackupVault", "backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"]}
    dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=json.dumps({"Version": "2012-10-17", "Statement": [guard]}))
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))  # the common "deny delete" policy
    for action in ("backup:CopyIntoBackupVault", "backup:Copy*", "backup:*", "BACKUP:copyintobackupvault"):
        deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": action, "Resource": "*"}
        dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=json.dumps({"Statement": [guard, deny]}))
        assert failed(copy(world, destination=SAME_ACCOUNT_VAULT), paths.ACCESS_DENIED), action
    # NotAction: everything but copies denied.
    dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=json.dumps({"Statement": [
        {"Effect": "Deny", "Principal": "*", "NotAction": "backup:CopyIntoBackupVault", "Resource": "*"}]}))
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))
    # A Deny on another vault's ARN does not touch this one.
    dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=json.dumps({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
         "Resource": "arn:aws:backup:*:*:backup-vault:other-*"}]}))
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))


# ---------------------------------------------------------------------- 2. Vault Lock
def test_vault_lock_is_reported_and_holds_copies_to_its_retention_range(world):
    dst = backup(world, SOURCE, "us-west-2")
    assert dst.describe_backup_vault(BackupVaultName="dst")["Locked"] is False
    dst.put_backup_vault_lock_configuration(BackupVaultName="dst", MinRetentionDays=7, MaxRetentionDays=30, ChangeableForDays=3)
    described = dst.describe_backup_vault(BackupVaultName="dst")
    assert (described["Locked"], described["MinRetentionDays"], described["MaxRetentionDays"]) == (True, 7, 30)
    created = described["CreationDate"].timestamp()
    assert abs(described["LockDate"].timestamp() - created - 3 * 86400) < 60
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT, lifecycle={"DeleteAfterDays": 14}))
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT, lifecycle={"DeleteAfterDays": 35}), paths.RETENTION)
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT, lifecycle={"DeleteAfterDays": 3}), paths.RETENTION)
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT), paths.RETENTION)  # kept indefinitely: over the maximum
    assert error(lambda: dst.put_backup_vault_lock_configuration(BackupVaultName="dst", ChangeableForDays=2))[0] == (
        "InvalidParameterValueException")
    dst.delete_backup_vault_lock_configuration(BackupVaultName="dst")  # before its lock date
    assert "MinRetentionDays" not in dst.describe_backup_vault(BackupVaultName="dst")
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))
    # A minimum alone (governance mode): an indefinitely kept copy is within it.
    dst.put_backup_vault_lock_configuration(BackupVaultName="dst", MinRetentionDays=7)
    assert "LockDate" not in dst.describe_backup_vault(BackupVaultName="dst")
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))


# ---------------------------------------------------------------------- 3. organization
def test_global_settings_belong_to_the_organizations_management_account(world):
    assert error(lambda: backup(world, SOURCE).describe_global_settings())[0] == "InvalidRequestException"  # no organization
    control(world, "organization", {"managementAccount": SOURCE, "members": [DR]})
    settings = backup(world, DR).describe_global_settings()
    assert settings["GlobalSettings"]["isCrossAccountBackupEnabled"] == "false" and "LastUpdateTime" not in settings
    assert error(lambda: backup(world, DR).update_global_settings(
        GlobalSettings={"isCrossAccountBackupEnabled": "true"}))[0] == "InvalidRequestException"
    backup(world, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true"})
    settings = backup(world, DR).describe_global_settings()
    assert settings["GlobalSettings"]["isCrossAccountBackupEnabled"] == "true" and "LastUpdateTime" in settings
    assert error(lambda: backup(world, OUTSIDER).describe_global_settings())[0] == "InvalidRequestException"


def test_a_cross_account_copy_needs_one_organization_with_cross_account_backup_on(world):
    healthy_organization(world, enabled=False)
    assert failed(copy(world), paths.CROSS_ACCOUNT_OFF)
    assert completed(copy(world, destination=SAME_ACCOUNT_VAULT))  # within the account: not a cross-account copy
    backup(world, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true"})
    assert completed(copy(world))
    backup(world, OUTSIDER).create_backup_vault(BackupVaultName="src")
    assert failed(copy(world, account=OUTSIDER), paths.NOT_SAME_ORGANIZATION)


# ---------------------------------------------------------------------- 4. KMS
def shared_source(servers) -> str:
    """Vault `cmk` of 1111 under a customer managed key whose policy lets 2222 use it."""
    arn = key(servers, SOURCE, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DR}:root"}, "Resource": "*",
         "Action": ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"]}]})
    backup(servers, SOURCE).create_backup_vault(BackupVaultName="cmk", EncryptionKeyArn=arn)
    return arn


def test_vault_keys_are_reported_and_an_unusable_key_fails_the_copy(world):
    src = backup(world, SOURCE)
    default = src.describe_backup_vault(BackupVaultName="src")["EncryptionKeyArn"]
    assert default == paths.default_key_arn(SOURCE, "us-east-1")
    arn = key(world, SOURCE)
    src.create_backup_vault(BackupVaultName="keyed", EncryptionKeyArn=arn)
    assert src.describe_backup_vault(BackupVaultName="keyed")["EncryptionKeyArn"] == arn
    assert completed(copy(world, vault="keyed", destination=SAME_ACCOUNT_VAULT))
    kms, key_id = aws(world, "kms", SOURCE), arn.split("/")[-1]
    kms.disable_key(KeyId=key_id)
    assert failed(copy(world, vault="keyed", destination=SAME_ACCOUNT_VAULT), paths.KEY_UNUSABLE)
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert failed(copy(world, vault="keyed", destination=SAME_ACCOUNT_VAULT), paths.KEY_UNUSABLE)
    # The destination's key counts too; a key KMS does not know is missing.
    missing = f"arn:aws:kms:us-west-2:{SOURCE}:key/00000000-0000-0000-0000-000000000000"
    backup(world, SOURCE, "us-west-2").create_backup_vault(BackupVaultName="lost", EncryptionKeyArn=missing)
    assert failed(copy(world, destination=f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:lost"), paths.KEY_MISSING)


def test_a_cross_account_copy_needs_a_shared_customer_managed_source_key(world):
    healthy_organization(world)
    allow_copies_from(world, {"AWS": SOURCE})
    backup(world, SOURCE).create_backup_vault(BackupVaultName="private", EncryptionKeyArn=key(world, SOURCE))
    assert failed(copy(world, vault="private"), paths.KEY_UNUSABLE)  # the key policy names only its own account
    # A grant of Decrypt to the destination account shares it where the key policy does not.
    private = backup(world, SOURCE).describe_backup_vault(BackupVaultName="private")["EncryptionKeyArn"]
    aws(world, "kms", SOURCE).create_grant(KeyId=private, GranteePrincipal=f"arn:aws:iam::{DR}:root",
                                           Operations=["Decrypt", "DescribeKey", "CreateGrant"])
    assert completed(copy(world, vault="private"))
    shared_source(world)
    assert completed(copy(world, vault="cmk"))
    control(world, "paths", {"strict": True})
    assert failed(copy(world), paths.MANAGED_KEY)  # the default AWS managed key cannot be shared
    assert completed(copy(world, resource_type="EFS"))  # a type AWS Backup fully manages: the vault's key suffices
    assert completed(copy(world, vault="cmk"))


# ---------------------------------------------------------------------- 5. the role
def simulate(world, role_arn: str, resource: str, **extra) -> str:
    iam = aws(world, "iam", role_arn.split(":")[4], endpoint=world["proxy"])
    result = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["backup:CopyIntoBackupVault"],
                                           ResourceArns=[resource], **extra)
    (evaluation,) = result["EvaluationResults"]
    assert (evaluation["EvalActionName"], evaluation["EvalResourceName"]) == ("backup:CopyIntoBackupVault", resource)
    return evaluation["EvalDecision"]


def test_the_role_must_exist_and_may_copy_into_the_vault_as_simulate_principal_policy_says(world):
    custom = role(world, SOURCE, "custom", managed=False, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["backup:StartCopyJob", "backup:DescribeBackupVault"], "Resource": "*"}]})
    denied = role(world, SOURCE, "denied", inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "backup:CopyIntoBackupVault", "Resource": "arn:aws:backup:*:*:backup-vault:dst"}]})
    managed = f"arn:aws:iam::{SOURCE}:role/copier"
    for role_arn, decision, outcome in ((managed, "allowed", None), (custom, "implicitDeny", paths.ACCESS_DENIED),
                                        (denied, "explicitDeny", paths.ACCESS_DENIED)):
        assert simulate(world, role_arn, SAME_ACCOUNT_VAULT) == decision
        job = copy(world, destination=SAME_ACCOUNT_VAULT, role_name=role_arn.split("/")[-1])
        assert failed(job, outcome) if outcome else completed(job)
    assert simulate(world, denied, DR_VAULT) == "allowed"  # its Deny names `dst` only
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT, role_name="nobody"),
                  paths.ROLE_NOT_ASSUMABLE.format(role=f"arn:aws:iam::{SOURCE}:role/nobody"))
    assert error(lambda: simulate(world, f"arn:aws:iam::{SOURCE}:role/nobody", SAME_ACCOUNT_VAULT)) == (
        "NoSuchEntity", "The role with name nobody cannot be found.")


def test_within_one_account_the_vault_policy_may_allow_what_the_role_does_not_as_the_simulation_says(world):
    """A role without backup:CopyIntoBackupVault copies into a vault of its own account whose access
    policy allows it (IAM: within one account an Allow in either policy suffices), as
    SimulatePrincipalPolicy with that policy says; across accounts the role must allow too."""
    custom = role(world, SOURCE, "custom", managed=False, inline={"Statement": [
        {"Effect": "Allow", "Action": "backup:StartCopyJob", "Resource": "*"}]})
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT, role_name="custom"), paths.ACCESS_DENIED)
    dst = backup(world, SOURCE, "us-west-2")
    for principal in ({"AWS": custom}, {"AWS": SOURCE}, "*"):
        policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "backup:CopyIntoBackupVault",
                                            "Resource": "*"}]})
        dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=policy)
        assert simulate(world, custom, SAME_ACCOUNT_VAULT, ResourcePolicy=policy) == "allowed"
        assert completed(copy(world, destination=SAME_ACCOUNT_VAULT, role_name="custom")), principal
    # A Deny in either still wins.
    deny = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]})
    dst.put_backup_vault_access_policy(BackupVaultName="dst", Policy=deny)
    assert failed(copy(world, destination=SAME_ACCOUNT_VAULT), paths.ACCESS_DENIED)
    # Across accounts the destination's Allow is not enough for a role that does not allow it.
    healthy_organization(world)
    allow_copies_from(world, {"AWS": SOURCE})
    shared_source(world)
    assert simulate(world, custom, DR_VAULT, ResourcePolicy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": SOURCE}, "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]})) == "implicitDeny"
    assert failed(copy(world, vault="cmk", role_name="custom"), paths.ACCESS_DENIED)
    assert completed(copy(world, vault="cmk"))


def test_simulate_principal_policy_honours_a_resource_policy_and_the_proxy_forwards_the_rest(world):
    custom = role(world, SOURCE, "custom", managed=False, inline={"Statement": [
        {"Effect": "Allow", "Action": "backup:StartCopyJob", "Resource": "*"}]})
    vault_policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": SOURCE},
                                              "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]})
    # Within the account the resource policy's Allow suffices; across accounts the role must allow too.
    assert simulate(world, custom, SAME_ACCOUNT_VAULT, ResourcePolicy=vault_policy) == "allowed"
    assert simulate(world, custom, DR_VAULT, ResourcePolicy=vault_policy) == "implicitDeny"
    managed = f"arn:aws:iam::{SOURCE}:role/copier"
    assert simulate(world, managed, DR_VAULT, ResourcePolicy=vault_policy) == "allowed"
    deny = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "backup:*", "Resource": "*"}]})
    assert simulate(world, managed, SAME_ACCOUNT_VAULT, ResourcePolicy=deny) == "explicitDeny"
    # Every other request goes to moto unchanged.
    proxied = aws(world, "iam", SOURCE, endpoint=world["proxy"])
    assert proxied.get_role(RoleName="copier")["Role"]["Arn"] == managed
    assert [p["PolicyArn"] for p in proxied.list_attached_role_policies(RoleName="copier")["AttachedPolicies"]] == [MANAGED_POLICY]


# ---------------------------------------------------------------------- 6. resource types
def test_a_resource_type_copies_only_along_the_paths_aws_supports_for_it(world):
    control(world, "paths", {"strict": True})
    healthy_organization(world)
    allow_copies_from(world, {"AWS": SOURCE})
    shared_source(world)
    unsupported = paths.UNSUPPORTED.format(source="us-east-1", destination="us-west-2", type="RDS")
    assert failed(copy(world, vault="cmk", resource_type="RDS"), unsupported)  # cross-Region and cross-account at once
    assert completed(copy(world, vault="cmk", resource_type="RDS", destination=SAME_ACCOUNT_VAULT))  # cross-Region only
    assert completed(copy(world, vault="cmk", resource_type="EBS"))
    backup(world, SOURCE, "us-west-2").create_logically_air_gapped_backup_vault(
        BackupVaultName="lag", MinRetentionDays=7, MaxRetentionDays=365)
    lag = f"arn:aws:backup:us-west-2:{SOURCE}:backup-vault:lag"
    assert failed(copy(world, vault="cmk", resource_type="Aurora", destination=lag, lifecycle={"DeleteAfterDays": 30}),
                  paths.UNSUPPORTED.format(source="us-east-1", destination="us-west-2", type="Aurora"))
    assert completed(copy(world, vault="cmk", resource_type="EBS", destination=lag, lifecycle={"DeleteAfterDays": 30}))


# ---------------------------------------------------------------------- the order
def test_the_first_failing_decider_wins_and_a_fault_rule_comes_first(world):
    healthy_organization(world, enabled=False)
    backup(world, DR, "us-west-2").put_backup_vault_lock_configuration(BackupVaultName="dr", MaxRetentionDays=30)
    assert failed(copy(world), paths.CROSS_ACCOUNT_OFF)  # organization (2) before retention (6)
    backup(world, SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": "true"})
    assert failed(copy(world), paths.RETENTION)
    point = control(world, "backup-jobs", {"vault": "src", "account": SOURCE, "resourceArn": VOLUME.format(account=SOURCE)})
    control(world, "faults", {"failCopies": [{"recoveryPointArn": point["RecoveryPointArn"], "statusMessage": "An internal error occurred."}]})
    client = backup(world, SOURCE)
    job_id = client.start_copy_job(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="src",
                                   DestinationBackupVaultArn=DR_VAULT, IamRoleArn=f"arn:aws:iam::{SOURCE}:role/copier")["CopyJobId"]
    control(world, "advance")
    assert client.describe_copy_job(CopyJobId=job_id)["CopyJob"]["StatusMessage"] == "An internal error occurred."
