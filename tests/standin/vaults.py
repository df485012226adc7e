"""Vaults and their configuration: CreateBackupVault (with its EncryptionKeyArn),
CreateLogicallyAirGappedBackupVault, DescribeBackupVault, Put/GetBackupVaultNotifications,
Put/Get/DeleteBackupVaultAccessPolicy, Put/DeleteBackupVaultLockConfiguration, and the control that
seeds an old vault's configuration. What the configuration does to copies: standin.paths."""

from __future__ import annotations

import copy as copying
import re
from typing import TYPE_CHECKING

from standin import backup_model, iam_policy
from standin.accounts import caller_account
from standin.common import ACCOUNT, AIR_GAPPED, DAY, DEFAULT_REGION, ApiError, invalid, invalid_request, not_found, now
from standin.paths import default_key_arn

if TYPE_CHECKING:
    from standin.state import BackupState


# The BackupVaultEvent enum still lists events AWS no longer uses: "This list includes both
# supported events and deprecated events that are no longer in use (for reference). Deprecated
# events do not return statuses or notifications." (API reference, PutBackupVaultNotifications;
# docs/aws-facts.md, Vault events).
DEPRECATED_EVENTS = [
    "BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED", "BACKUP_JOB_EXPIRED", "RESTORE_JOB_SUCCESSFUL",
    "RESTORE_JOB_FAILED", "BACKUP_PLAN_CREATED", "BACKUP_PLAN_MODIFIED",
]
SUPPORTED_EVENTS = [e for e in backup_model.enum_values("BackupVaultEvent") if e not in DEPRECATED_EVENTS]
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$")


def create_backup_vault(backup: BackupState, region: str, params: dict) -> dict:
    name = params["BackupVaultName"]
    if not VAULT_NAME.match(name):
        raise invalid("Invalid backup vault name", "CreateBackupVault")
    account = caller_account()
    with backup.lock:
        if (account, region, name) in backup.vaults:
            raise ApiError(400, "AlreadyExistsException", f"Backup vault {name} already exists", context="CreateBackupVault")
        arn = f"arn:aws:backup:{region}:{account}:backup-vault:{name}"
        key = params.get("EncryptionKeyArn")
        if key is not None and not KMS_KEY_ARN.match(key):
            raise invalid("EncryptionKeyArn is not a valid KMS key ARN", "CreateBackupVault")  # wording presumed
        # encryptionKeyArn: a key the creator named (None: the account's AWS managed key, aws/backup);
        # accessPolicy: the vault access policy (JSON text); lock: Vault Lock {"min", "max", "lockDate"}.
        vault = {"name": name, "arn": arn, "region": region, "account": account, "created": now(), "notifications": None,
                 "encryptionKeyArn": key, "accessPolicy": None, "lock": None}
        backup.vaults[(account, region, name)] = vault
        return {"BackupVaultName": name, "BackupVaultArn": arn, "CreationDate": vault["created"]}


def create_air_gapped_vault(backup: BackupState, region: str, params: dict) -> dict:
    """CreateLogicallyAirGappedBackupVault: a vault locked in compliance mode with its retention
    range (MinRetentionDays at least 7 by the model's documentation; min above max refused, the
    wording presumed). Its recovery points are stored in an AWS-owned account; here they are the
    vault's like any other."""
    ctx = "CreateLogicallyAirGappedBackupVault"
    name, low, high = params["BackupVaultName"], params["MinRetentionDays"], params["MaxRetentionDays"]
    if not VAULT_NAME.match(name):
        raise invalid("Invalid backup vault name", ctx)
    if low < 7 or low > high:
        raise invalid("MinRetentionDays must be at least 7 and not more than MaxRetentionDays", ctx)  # wording presumed
    result = create_backup_vault(backup, region, {"BackupVaultName": name, "EncryptionKeyArn": params.get("EncryptionKeyArn")})
    with backup.lock:
        vault = backup.vaults[(caller_account(), region, name)]
        # Vault Lock in compliance mode with the vault's retention range (its copies are held to it).
        vault.update({"type": AIR_GAPPED, "minRetentionDays": low, "maxRetentionDays": high,
                      "lock": {"min": low, "max": high, "lockDate": None}})
    return {**result, "VaultState": "AVAILABLE"}


def describe_backup_vault(backup: BackupState, region: str, params: dict) -> dict:
    name = params["BackupVaultName"]
    with backup.lock:
        vault = backup.vault(region, name, "DescribeBackupVault")
        points = sum(1 for p in backup.recovery_points.values() if p["vault"] == vault["arn"])
        result = {
            "BackupVaultName": name, "BackupVaultArn": vault["arn"], "VaultType": vault.get("type", "BACKUP_VAULT"),
            "CreationDate": vault["created"], "NumberOfRecoveryPoints": points, "Locked": False,
        }
        key = vault.get("encryptionKeyArn")
        if vault.get("type") == AIR_GAPPED:
            result.update({"Locked": True, "VaultState": "AVAILABLE", "MinRetentionDays": vault["minRetentionDays"],
                           "MaxRetentionDays": vault["maxRetentionDays"]})
            # "If not specified, the vault will be encrypted with an AWS-owned key" (API model).
            result["EncryptionKeyType"] = "CUSTOMER_MANAGED_KMS_KEY" if key else "AWS_OWNED_KMS_KEY"
            if key:
                result["EncryptionKeyArn"] = key
            return result
        result["EncryptionKeyArn"] = key or default_key_arn(vault.get("account", ACCOUNT), vault["region"])
        lock = vault.get("lock")
        if lock:
            # Locked: "whether Backup Vault Lock is currently protecting the backup vault": presumed
            # true from PutBackupVaultLockConfiguration on, in governance mode and before the lock date too.
            result["Locked"] = True
            if lock["min"] is not None:
                result["MinRetentionDays"] = lock["min"]
            if lock["max"] is not None:
                result["MaxRetentionDays"] = lock["max"]
            if lock["lockDate"] is not None:
                result["LockDate"] = lock["lockDate"]
        return result


# ---------------------------------------------------------------------- vault access policies
def put_access_policy(backup: BackupState, region: str, params: dict) -> dict:
    """PutBackupVaultAccessPolicy: the document must be a policy (the stand-in's check: JSON with
    statements of Effect and Action; refused as InvalidParameterValueException, wording presumed)."""
    ctx = "PutBackupVaultAccessPolicy"
    policy = params.get("Policy")
    try:
        iam_policy.parse(policy or "")
    except (ValueError, TypeError) as err:
        raise invalid(f"Invalid policy document: {err}", ctx) from None
    with backup.lock:
        backup.vault(region, params["BackupVaultName"], ctx)["accessPolicy"] = policy
    return {}


def get_access_policy(backup: BackupState, region: str, params: dict) -> dict:
    ctx = "GetBackupVaultAccessPolicy"
    with backup.lock:
        vault = backup.vault(region, params["BackupVaultName"], ctx)
        if vault.get("accessPolicy") is None:
            # AWS's answer for a vault without a policy (turbot/steampipe-plugin-aws#2032).
            raise not_found(f"Backup Vault {vault['arn']} has no associated POLICY", ctx)
        return {"BackupVaultName": vault["name"], "BackupVaultArn": vault["arn"], "Policy": vault["accessPolicy"]}


def delete_access_policy(backup: BackupState, region: str, params: dict) -> dict:
    with backup.lock:
        backup.vault(region, params["BackupVaultName"], "DeleteBackupVaultAccessPolicy")["accessPolicy"] = None
    return {}


# ---------------------------------------------------------------------- Vault Lock
def put_lock(backup: BackupState, region: str, params: dict) -> dict:
    """PutBackupVaultLockConfiguration: MinRetentionDays at least 1, MaxRetentionDays at most 36500,
    ChangeableForDays 3..36500 (API model); the lock date is ChangeableForDays from now, after which
    the lock can be neither changed nor deleted (InvalidRequestException). Min above max refused
    (presumed). Wordings presumed."""
    ctx = "PutBackupVaultLockConfiguration"
    low, high, changeable = params.get("MinRetentionDays"), params.get("MaxRetentionDays"), params.get("ChangeableForDays")
    if low is not None and low < 1:
        raise invalid("MinRetentionDays must be at least 1", ctx)
    if high is not None and high > 36500:
        raise invalid("MaxRetentionDays must be at most 36500", ctx)
    if low is not None and high is not None and low > high:
        raise invalid("MinRetentionDays must not be greater than MaxRetentionDays", ctx)
    if changeable is not None and not 3 <= changeable <= 36500:
        raise invalid("ChangeableForDays must be between 3 and 36500", ctx)
    with backup.lock:
        vault = backup.vault(region, params["BackupVaultName"], ctx)
        immutable(vault, ctx)
        vault["lock"] = {"min": low, "max": high, "lockDate": round(now() + changeable * DAY, 3) if changeable is not None else None}
    return {}


def delete_lock(backup: BackupState, region: str, params: dict) -> dict:
    ctx = "DeleteBackupVaultLockConfiguration"
    with backup.lock:
        vault = backup.vault(region, params["BackupVaultName"], ctx)
        immutable(vault, ctx)
        vault["lock"] = None
    return {}


def immutable(vault: dict, ctx: str) -> None:
    """"If the Vault Lock configuration is immutable, then you cannot delete Vault Lock using API
    operations, and you will receive an InvalidRequestException" (API model); an air-gapped vault's
    lock (compliance mode from its creation) is immutable too."""
    lock = vault.get("lock")
    if lock and (vault.get("type") == AIR_GAPPED or (lock["lockDate"] is not None and lock["lockDate"] <= now())):
        raise invalid_request(f"Vault Lock of backup vault {vault['name']} is immutable", ctx)  # wording presumed


def put_notifications(backup: BackupState, region: str, params: dict) -> dict:
    ctx = "PutBackupVaultNotifications"
    name, topic, events = params["BackupVaultName"], params["SNSTopicArn"], params["BackupVaultEvents"]
    if not ARN.match(topic) or ":sns:" not in topic:
        raise invalid("SNSTopicArn is not a valid SNS topic ARN", ctx)
    if any(e in DEPRECATED_EVENTS for e in events):
        # AWS's wording, HTTP 400 (aws-cloudformation/cloudformation-coverage-roadmap#1188: "Please
        # select from the following list of notifications BACKUP_JOB_STARTED, BACKUP_JOB_COMPLETED,
        # ..."); the error code is not shown there: InvalidParameterValueException.
        raise invalid(f"Please select from the following list of notifications {', '.join(SUPPORTED_EVENTS)}", ctx)
    with backup.lock:
        vault = backup.vault(region, name, ctx)
        vault["notifications"] = {"SNSTopicArn": topic, "BackupVaultEvents": list(events)}  # replaces the list
    return {}


def get_notifications(backup: BackupState, region: str, params: dict) -> dict:
    name = params["BackupVaultName"]
    with backup.lock:
        vault = backup.vault(region, name, "GetBackupVaultNotifications")
        if not vault["notifications"]:
            raise not_found(f"Backup vault {name} has no notification configuration", "GetBackupVaultNotifications")
        return {"BackupVaultName": name, "BackupVaultArn": vault["arn"], **copying.deepcopy(vault["notifications"])}


def set_raw_notifications(backup: BackupState, spec: dict) -> dict:
    """Control: a configuration as an old vault has it, deprecated events included."""
    with backup.lock:
        vault = backup.vault(spec.get("region", DEFAULT_REGION), spec["vault"], "set-raw", spec.get("account") or ACCOUNT)
        vault["notifications"] = {"SNSTopicArn": spec["SNSTopicArn"], "BackupVaultEvents": list(spec["BackupVaultEvents"])}
    return {}
