"""Vaults and their notifications: CreateBackupVault, CreateLogicallyAirGappedBackupVault,
DescribeBackupVault, Put/GetBackupVaultNotifications, and the control that seeds an old vault's
configuration."""

from __future__ import annotations

import copy as copying
import re
from typing import TYPE_CHECKING

from standin import backup_model
from standin.accounts import caller_account
from standin.common import ACCOUNT, AIR_GAPPED, DEFAULT_REGION, ApiError, invalid, not_found, now

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


def create_backup_vault(backup: BackupState, region: str, params: dict) -> dict:
    name = params["BackupVaultName"]
    if not VAULT_NAME.match(name):
        raise invalid("Invalid backup vault name", "CreateBackupVault")
    account = caller_account()
    with backup.lock:
        if (account, region, name) in backup.vaults:
            raise ApiError(400, "AlreadyExistsException", f"Backup vault {name} already exists", context="CreateBackupVault")
        arn = f"arn:aws:backup:{region}:{account}:backup-vault:{name}"
        vault = {"name": name, "arn": arn, "region": region, "account": account, "created": now(), "notifications": None}
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
    result = create_backup_vault(backup, region, {"BackupVaultName": name})
    with backup.lock:
        vault = backup.vaults[(caller_account(), region, name)]
        vault.update({"type": AIR_GAPPED, "minRetentionDays": low, "maxRetentionDays": high})
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
        if vault.get("type") == AIR_GAPPED:
            result.update({"Locked": True, "VaultState": "AVAILABLE", "MinRetentionDays": vault["minRetentionDays"],
                           "MaxRetentionDays": vault["maxRetentionDays"]})
        return result


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
