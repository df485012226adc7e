"""What decides a copy's fate on its path (source vault -> destination vault, with the role passed):
the deciders `advance` asks when a copy job runs, in order, the first failing one winning
(docs/aws-facts.md#copy-paths). Each returns AWS's StatusMessage for the failure, or None.

    1. resource type   the type's copy features (COPY_FEATURES): RDS, Aurora, DocumentDB and Neptune
                       copy cross-Region or cross-account, not both in one copy; Aurora, DocumentDB
                       and Neptune not cross-Region to or from a logically air-gapped vault
    2. organization    a cross-account copy: both accounts in the organization, and its cross-account
                       backup setting on (UpdateGlobalSettings isCrossAccountBackupEnabled)
    3. role            the role passed exists and its policies allow backup:CopyIntoBackupVault on
                       the destination vault (read from IAM: --iam-endpoint); within one account
                       the destination vault's access policy allowing it suffices too
    4. vault policy    the destination vault's access policy: no explicit Deny of
                       backup:CopyIntoBackupVault for the source; across accounts, an Allow
    5. KMS keys        cross-account: not the source vault's AWS managed key (a type not fully
                       managed by AWS Backup); each vault's key usable (DescribeKey: enabled, not
                       pending deletion) and, cross-account, the source key's policy letting the
                       destination account use it (GetKeyPolicy; both from KMS: --kms-endpoint)
    6. retention       the copy's retention inside the destination's Vault Lock range

The order is the stand-in's: AWS does not document in which order it checks (an assumption).

Every default is permissive, so a stand-in told nothing of paths copies as before. What AWS does
with no configuration at all (no organization, cross-account backup off, no vault access policy,
the default AWS managed key, the resource-type table) is enforced only in strict mode (the `paths`
control `{"strict": true}`, or the server's --strict-paths); configuration a test gives through
AWS's own APIs is always enforced: a vault access policy, a Vault Lock (and an air-gapped vault's
retention range), the organization's cross-account setting once UpdateGlobalSettings set it, a
role read from IAM, keys read from KMS.

Seeding a misconfigured path (a recipe; tests/e2e/test_standin_paths.py does each):

    vault access policy   PutBackupVaultAccessPolicy on the destination (a Deny of
                          backup:CopyIntoBackupVault; or, cross-account, no Allow for the source;
                          strict mode: no policy at all)
    Vault Lock            PutBackupVaultLockConfiguration Min/MaxRetentionDays, then a copy whose
                          Lifecycle.DeleteAfterDays (or none: kept indefinitely) falls outside
    organization          the `organization` control, then UpdateGlobalSettings
                          {"isCrossAccountBackupEnabled": "false"} signed as the management account (or
                          a source account outside the organization); strict mode: no organization
    KMS                   CreateBackupVault EncryptionKeyArn of a moto key, then DisableKey or
                          ScheduleKeyDeletion in moto; cross-account: a source key policy that does
                          not name the destination account; strict mode: a source vault without a key
    role                  a role missing from moto's IAM, or one whose policies lack
                          backup:CopyIntoBackupVault on the destination vault
    resource type         strict mode, then an RDS/Aurora/DocumentDB/Neptune copy cross-Region and
                          cross-account, or Aurora/DocumentDB/Neptune cross-Region into an air-gapped vault

The stand-in needs --kms-endpoint / --iam-endpoint (moto, or the IAM proxy) for the KMS and role
deciders; moto loads AWS's managed policies with MOTO_IAM_LOAD_MANAGED_POLICIES=true, and acts in
the account named by the x-moto-account-id header (state.moto_account).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standin import iam_policy
from standin.common import AIR_GAPPED, VAULT_ARN

if TYPE_CHECKING:
    from standin.state import BackupState

# AWS's texts (docs/aws-facts.md#failure-messages and #copy-paths).
NOT_SAME_ORGANIZATION = "Copy job failed. Both source and destination account must be a member of the same organization."
CROSS_ACCOUNT_OFF = "Copy job failed. Cross-account copy feature is not enabled for the current organization."
ACCESS_DENIED = "Access Denied trying to call AWS Backup service"
ROLE_NOT_ASSUMABLE = "IAM Role {role} cannot be assumed by AWS Backup"
MANAGED_KEY = ("Copy job failed because the destination Backup vault is encrypted with the default Backup service managed "
               "key. The contents of this vault cannot be copied. Only the contents of a Backup vault encrypted by an AWS "
               "KMS key may be copied.")
KEY_UNUSABLE = "KMS key is either disabled or pending deletion or access to KMS key is denied"
KEY_MISSING = "Given key ID does not exist"
RETENTION = "Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault."
UNSUPPORTED = ("Copy job from {source} to {destination} cannot be initiated for {type} resources. "
               "Feature is not supported for provided resource type.")

COPY_INTO = "backup:CopyIntoBackupVault"

# Copy features by resource type, as far as AWS documents them (docs/aws-facts.md#resource-types):
# a type not listed, or a feature not named, is supported.
#   crossRegionAndAccount: one copy both cross-Region and cross-account ("RDS, Aurora, DocumentDB,
#     and Neptune do not support a single copy action that performs both cross-Region AND
#     cross-account backup", DG Feature availability by resource)
#   crossRegionAirGapped: a cross-Region copy to or from a logically air-gapped vault (currently
#     unavailable for backups containing Aurora, DocumentDB and Neptune: DG Logically air-gapped
#     vault, Considerations and limitations, read in its ja_jp copy)
COPY_FEATURES: dict[str, dict[str, bool]] = {
    "RDS": {"crossRegionAndAccount": False},
    "Aurora": {"crossRegionAndAccount": False, "crossRegionAirGapped": False},
    "DocumentDB": {"crossRegionAndAccount": False, "crossRegionAirGapped": False},
    "Neptune": {"crossRegionAndAccount": False, "crossRegionAirGapped": False},
}
# Resource types AWS Backup fully manages (their backups take the vault's key), as the stand-in
# presumes them (standin.backup_jobs.FULLY_MANAGED_TYPES, docs/aws-facts.md#logically-air-gapped-vaults).
FULLY_MANAGED = {"EFS", "S3", "DynamoDB", "VirtualMachine", "Timestream"}


def default_key_arn(account: str, region: str) -> str:
    """The account's AWS managed key for AWS Backup (alias aws/backup) in `region`: AWS gives it a
    random id; the stand-in a fixed one per account and region."""
    return f"arn:aws:kms:{region}:{account}:key/{uuid.uuid5(uuid.NAMESPACE_URL, f'aws/backup/{account}/{region}')}"


@dataclass
class Path:
    """What the deciders read of a copy job, gathered under the state's lock (the KMS and IAM
    questions are asked after it is released)."""

    source_arn: str
    destination_arn: str
    role: str
    resource_type: str
    retention: float | None  # days the copy is kept, None: indefinitely
    source_vault: dict | None
    destination_vault: dict | None
    organization: object
    strict: bool

    @property
    def source_account(self) -> str:
        return VAULT_ARN.match(self.source_arn).group(2)

    @property
    def destination_account(self) -> str:
        return VAULT_ARN.match(self.destination_arn).group(2)

    @property
    def cross_account(self) -> bool:
        return self.source_account != self.destination_account

    @property
    def cross_region(self) -> bool:
        return VAULT_ARN.match(self.source_arn).group(1) != VAULT_ARN.match(self.destination_arn).group(1)


def retention_days(job: dict, source_point: dict | None) -> float | None:
    """How long the copy is kept: the job's DeleteAfterDays; with none (or -1) its source's ("a copy
    with a retention setting set to never expire will retain its source recovery point's expiration
    date", DG Backup and tag copy); with neither, indefinitely (None)."""
    for lifecycle in (job.get("DestinationRecoveryPointLifecycle"), (source_point or {}).get("lifecycle")):
        days = (lifecycle or {}).get("DeleteAfterDays")
        if isinstance(days, int) and days > 0:
            return days
    return None


def path_of(backup: BackupState, job: dict) -> Path:
    """Called under the state's lock."""
    return Path(
        source_arn=job["SourceBackupVaultArn"], destination_arn=job["DestinationBackupVaultArn"], role=job["IamRoleArn"],
        resource_type=job.get("ResourceType") or "",
        retention=retention_days(job, backup.recovery_points.get(job["SourceRecoveryPointArn"])),
        source_vault=dict(backup.vault_by_arn(job["SourceBackupVaultArn"]) or {}) or None,
        destination_vault=dict(backup.vault_by_arn(job["DestinationBackupVaultArn"]) or {}) or None,
        organization=backup.organization, strict=backup.strict_paths,
    )


# ---------------------------------------------------------------------- the deciders
def resource_type(backup: BackupState, path: Path) -> str | None:
    if not path.strict or not path.cross_region:
        return None
    features = COPY_FEATURES.get(path.resource_type, {})
    air_gapped = AIR_GAPPED in ((path.source_vault or {}).get("type"), (path.destination_vault or {}).get("type"))
    if (path.cross_account and not features.get("crossRegionAndAccount", True)) or (
            air_gapped and not features.get("crossRegionAirGapped", True)):
        return UNSUPPORTED.format(source=VAULT_ARN.match(path.source_arn).group(1),
                                  destination=VAULT_ARN.match(path.destination_arn).group(1), type=path.resource_type)
    return None


def organization(backup: BackupState, path: Path) -> str | None:
    org = path.organization
    if not path.cross_account or not (path.strict or org.cross_account_backup is not None):
        return None
    if org.management is None or path.source_account not in org.members or path.destination_account not in org.members:
        return NOT_SAME_ORGANIZATION
    if not org.cross_account_backup:
        return CROSS_ACCOUNT_OFF
    return None


def role(backup: BackupState, path: Path) -> str | None:
    iam = backup.aws_client("iam", "us-east-1", iam_policy.principal_account(path.role))
    if iam is None:
        return None
    policies = role_policies(iam, path.role)
    if policies is None:
        return ROLE_NOT_ASSUMABLE.format(role=path.role)
    decision = iam_policy.evaluate([(name, doc) for name, _, doc in policies],
                                   iam_policy.Request(COPY_INTO, path.destination_arn, path.role))
    if not path.cross_account:
        # Within one account an Allow in either the role's policies or the vault's access policy
        # suffices (IAM's same-account evaluation, as the SimulatePrincipalPolicy proxy combines them);
        # across accounts both must allow, the vault's side decided by vault_access_policy.
        decision = iam_policy.combine(decision, vault_policy_decision(path), same_account=True)
    return None if decision.allowed else ACCESS_DENIED


def vault_policy_decision(path: Path) -> iam_policy.Decision | None:
    """The destination vault's access policy on the copy (None: the vault has none)."""
    policy = (path.destination_vault or {}).get("accessPolicy")
    if policy is None:
        return None
    context = {}
    org = path.organization
    if org.management is not None and path.source_account in org.members:
        context["aws:PrincipalOrgID"] = org.org_id
    return iam_policy.evaluate([("vault-access-policy", policy)],
                               iam_policy.Request(COPY_INTO, path.destination_arn, path.role, context), resource_based=True)


def vault_access_policy(backup: BackupState, path: Path) -> str | None:
    decision = vault_policy_decision(path)
    if decision is None:
        return ACCESS_DENIED if path.cross_account and path.strict else None
    if decision.decision == iam_policy.EXPLICIT_DENY or (path.cross_account and not decision.allowed):
        return ACCESS_DENIED
    return None


def kms_keys(backup: BackupState, path: Path) -> str | None:
    source_key = (path.source_vault or {}).get("encryptionKeyArn")
    if path.strict and path.cross_account and source_key is None and path.resource_type not in FULLY_MANAGED:
        return MANAGED_KEY
    for vault in (path.source_vault, path.destination_vault):
        key = (vault or {}).get("encryptionKeyArn")
        if key is None:
            continue  # the AWS managed (or AWS owned) key: always usable
        kms = backup.aws_client("kms", key.split(":")[3], iam_policy.principal_account(key))
        if kms is None:
            return None
        state = key_state(kms, key)
        if state is None:
            return KEY_MISSING
        if state != "Enabled":
            return KEY_UNUSABLE
    if path.cross_account and source_key is not None:
        kms = backup.aws_client("kms", source_key.split(":")[3], iam_policy.principal_account(source_key))
        policy = kms.get_key_policy(KeyId=source_key, PolicyName="default")["Policy"]
        decision = iam_policy.evaluate([("key-policy", policy)], iam_policy.Request(
            "kms:Decrypt", source_key, f"arn:aws:iam::{path.destination_account}:root",
            {"kms:CallerAccount": path.destination_account}), resource_based=True)
        if decision.decision == iam_policy.EXPLICIT_DENY:
            return KEY_UNUSABLE
        # KMS allows by key policy or by grant: a grant of Decrypt to the destination account does.
        granted = any(iam_policy.principal_account(grant.get("GranteePrincipal")) == path.destination_account
                      and "Decrypt" in grant.get("Operations", [])
                      for grant in kms.list_grants(KeyId=source_key).get("Grants", []))
        if not (decision.allowed or granted):
            return KEY_UNUSABLE
    return None


def retention(backup: BackupState, path: Path) -> str | None:
    lock = (path.destination_vault or {}).get("lock")
    if not lock:
        return None
    low, high = lock.get("min"), lock.get("max")
    if low is not None and path.retention is not None and path.retention < low:
        return RETENTION
    if high is not None and (path.retention is None or path.retention > high):
        return RETENTION
    return None


DECIDERS = [resource_type, organization, role, vault_access_policy, kms_keys, retention]


def decide(backup: BackupState, path: Path) -> str | None:
    """The first failing decider's message, or None: the path lets the copy through. Called
    without the state's lock (the KMS and IAM deciders ask moto)."""
    for decider in DECIDERS:
        message = decider(backup, path)
        if message:
            return message
    return None


# ---------------------------------------------------------------------- reading IAM and KMS
def role_policies(iam, role_arn: str) -> list[tuple[str, str, object]] | None:
    """Every policy of the role [(policy id, source type, document)]: its attached managed policies'
    default versions ("aws-managed" or "user-managed") and its inline policies ("role"); None when
    the role does not exist."""
    name = role_arn.split("/")[-1]
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return None
    found = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            found.append((arn, "aws-managed" if ":iam::aws:policy/" in arn else "user-managed", document))
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy in page["PolicyNames"]:
            found.append((policy, "role", iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]))
    return found


def key_state(kms, key_arn: str) -> str | None:
    """The key's KeyState (Enabled, Disabled, PendingDeletion, ...), None when KMS does not know it."""
    try:
        return kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    except kms.exceptions.NotFoundException:
        return None
