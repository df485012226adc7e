"""Recovery points: their lifecycle (CalculatedLifecycle, storage class and status it reaches),
DescribeRecoveryPoint, and the controls that set or read one."""

from __future__ import annotations

import copy as copying
import time
from typing import TYPE_CHECKING

from standin.common import DAY, not_found, now, validate_lifecycle

if TYPE_CHECKING:
    from standin.state import BackupState


def new_point(backup: BackupState, arn: str, vault: dict, resource_arn: str, resource_type: str,
              backup_job_id: str | None, role: str, lifecycle: dict | None, created_by: dict | None, *,
              continuous: bool = False, parent: str | None = None, member: str | None = None,
              source_vault: str | None = None, created: float | None = None) -> dict:
    point = {
        "arn": arn, "vault": vault["arn"], "vaultName": vault["name"], "resourceArn": resource_arn,
        "resourceType": resource_type, "backupJobId": backup_job_id, "iamRoleArn": role,
        "created": created if created is not None else now(), "lifecycle": copying.deepcopy(lifecycle) if lifecycle else None,
        "createdBy": created_by, "continuous": continuous, "parent": parent, "member": member,
        "children": [], "sourceVault": source_vault,
        # Overrides set through /_standin/recovery-points/set (None: derived from the lifecycle).
        "storageClass": None, "status": None, "calculatedLifecycle": None,
    }
    backup.recovery_points[arn] = point
    if parent:
        backup.recovery_points[parent]["children"].append(arn)
    return point


def calculated_lifecycle(point: dict) -> dict | None:
    if point.get("calculatedLifecycle"):
        return dict(point["calculatedLifecycle"])
    lifecycle = point.get("lifecycle") or {}
    result = {}
    cold, delete = lifecycle.get("MoveToColdStorageAfterDays"), lifecycle.get("DeleteAfterDays")
    if cold is not None and cold > 0:
        result["MoveToColdStorageAt"] = round(point["created"] + cold * DAY, 3)
    if delete is not None and delete > 0:
        result["DeleteAt"] = round(point["created"] + delete * DAY, 3)
    return result or None


def point_state(point: dict) -> tuple[str, str]:
    """(Status, StorageClass) now: the overrides, else what the lifecycle reached."""
    calculated = calculated_lifecycle(point) or {}
    status, storage = "COMPLETED", "WARM"
    t = time.time()
    if calculated.get("MoveToColdStorageAt") is not None and t >= calculated["MoveToColdStorageAt"]:
        storage = "COLD"
    if calculated.get("DeleteAt") is not None and t >= calculated["DeleteAt"]:
        status, storage = "EXPIRED", "DELETED"
    return point.get("status") or status, point.get("storageClass") or storage


def describe_recovery_point(backup: BackupState, region: str, params: dict) -> dict:
    """DescribeRecoveryPoint: StorageClass, Status and CalculatedLifecycle decide whether a copy can work."""
    vault_name, arn = params["BackupVaultName"], params["RecoveryPointArn"]
    with backup.lock:
        vault = backup.vault(region, vault_name, "DescribeRecoveryPoint")
        point = backup.recovery_points.get(arn)
        if point is None or point["vault"] != vault["arn"]:
            raise not_found(f"Recovery point {arn} not found in vault {vault_name}", "DescribeRecoveryPoint")
        return point_description(backup, point)


def point_description(backup: BackupState, point: dict) -> dict:
    status, storage = point_state(point)
    result = {
        "RecoveryPointArn": point["arn"], "BackupVaultName": point["vaultName"], "BackupVaultArn": point["vault"],
        "SourceBackupVaultArn": point["sourceVault"], "ResourceArn": point["resourceArn"],
        "ResourceType": point["resourceType"], "CreatedBy": copying.deepcopy(point["createdBy"]),
        "IamRoleArn": point["iamRoleArn"], "Status": status, "CreationDate": point["created"],
        "InitiationDate": point["created"], "CompletionDate": point["created"], "BackupSizeInBytes": 1073741824,
        "CalculatedLifecycle": calculated_lifecycle(point), "Lifecycle": copying.deepcopy(point["lifecycle"]),
        "IsEncrypted": False, "StorageClass": storage, "ParentRecoveryPointArn": point["parent"],
        "CompositeMemberIdentifier": point["member"], "IsParent": bool(point["children"]),
        "VaultType": (backup.vault_by_arn(point["vault"]) or {}).get("type", "BACKUP_VAULT"),
    }
    if status == "EXPIRED":
        result["StatusMessage"] = "The recovery point has exceeded its retention period."  # wording not documented
    return {k: v for k, v in result.items() if v is not None}


def set_point(backup: BackupState, spec: dict) -> dict:
    """Control: /_standin/recovery-points/set."""
    with backup.lock:
        point = backup.recovery_points.get(spec["recoveryPointArn"])
        if point is None:
            raise not_found(f"Recovery point {spec['recoveryPointArn']} not found", "recovery-points/set")
        if "storageClass" in spec:
            point["storageClass"] = spec["storageClass"]
        if "status" in spec:
            point["status"] = spec["status"]
        if "lifecycle" in spec:
            validate_lifecycle(spec["lifecycle"], "recovery-points/set", as_input=False)
            point["lifecycle"] = spec["lifecycle"]
        if "creationDate" in spec:
            point["created"] = float(spec["creationDate"])
        if "calculatedLifecycle" in spec:
            point["calculatedLifecycle"] = spec["calculatedLifecycle"]
        return point_description(backup, point)


def get_point(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        point = backup.recovery_points.get(body["recoveryPointArn"])
        if point is None:
            raise not_found(f"Recovery point {body['recoveryPointArn']} not found", "recovery-points/get")
        return point_description(backup, point)
