"""AWS Backup's EventBridge events: "Backup Job State Change" and "Copy Job State Change", built as the
Developer Guide's examples show them (docs/aws-facts.md#eventbridge-feed) and put on the default event
bus of the job's account and region (moto's EventBridge: `--events-endpoint`), where the rules that
match them deliver them. Every state change of a job is sent, the vault's notifications
notwithstanding: AWS Backup sends these for every vault of the account.

Only the fields the examples document are sent: no `parentJobId`, `recoveryPointLifecycle` or
`messageCategory` (undocumented), and a copy job's CREATED event carries no `copyJobId`, as AWS's
example shows it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from standin.common import ACCOUNT, VAULT_ARN, iso, now

if TYPE_CHECKING:
    from standin.state import BackupState


def created_by(job: dict) -> dict | None:
    creator = job.get("CreatedBy")
    if not creator:
        return None
    return {"backupPlanId": creator["BackupPlanId"], "backupPlanArn": creator["BackupPlanArn"],
            "backupPlanVersion": creator["BackupPlanVersion"], "backupPlanRuleId": creator["BackupRuleId"]}


def copy_job_event(job: dict) -> tuple[str, dict, list[str]]:
    """(detail-type, detail, resources) of a copy job's state (a CopyJob as the stand-in holds it)."""
    state = job["State"]
    resources = [job["SourceRecoveryPointArn"]]
    if state == "CREATED":
        # The DG's CREATED example: no copyJobId, no resource, no role.
        return "Copy Job State Change", {
            "creationDate": iso(job["CreationDate"]), "state": state,
            "sourceBackupVaultArn": job["SourceBackupVaultArn"], "destinationBackupVaultArn": job["DestinationBackupVaultArn"],
        }, resources
    detail = {
        "copyJobId": job["CopyJobId"], "backupSizeInBytes": job["BackupSizeInBytes"], "creationDate": iso(job["CreationDate"]),
        "iamRoleArn": job["IamRoleArn"], "resourceArn": job["ResourceArn"], "resourceType": job["ResourceType"],
        "sourceBackupVaultArn": job["SourceBackupVaultArn"], "state": state,
    }
    if job.get("StatusMessage") and state in ("FAILED", "PARTIAL"):
        detail["statusMessage"] = job["StatusMessage"]
    if job.get("CompletionDate") is not None:
        detail["completionDate"] = iso(job["CompletionDate"])
    # A string once completed, an empty object before (and on FAILED), as the examples have it.
    detail["destinationBackupVaultArn"] = job["DestinationBackupVaultArn"]
    detail["destinationRecoveryPointArn"] = job.get("DestinationRecoveryPointArn") or {}
    if (creator := created_by(job)) is not None:
        detail["createdBy"] = creator
    return "Copy Job State Change", detail, resources


def backup_job_event(job: dict) -> tuple[str, dict, list[str]]:
    """(detail-type, detail, resources) of a backup job's state (DescribeBackupJob's members)."""
    state = job["State"]
    completed = state == "COMPLETED"
    detail = {
        "backupJobId": job["BackupJobId"], "backupSizeInBytes": str(job.get("BackupSizeInBytes", 0)),
        "backupVaultArn": job["BackupVaultArn"], "backupVaultName": job["BackupVaultName"],
        "bytesTransferred": str(job.get("BackupSizeInBytes", 0)), "creationDate": iso(job["CreationDate"]),
        "iamRoleArn": job["IamRoleArn"], "resourceArn": job["ResourceArn"], "resourceType": job["ResourceType"],
        "state": state, "percentDone": 100 if completed else 0,
    }
    if job.get("StatusMessage"):
        detail["statusMessage"] = job["StatusMessage"]
    if job.get("CompletionDate") is not None:
        detail["completionDate"] = iso(job["CompletionDate"])
    if (creator := created_by(job)) is not None:
        detail["createdBy"] = creator
    # The recovery point only once there is one (the COMPLETED example; the others have none).
    return "Backup Job State Change", detail, [job["RecoveryPointArn"]] if completed and job.get("RecoveryPointArn") else []


def emit(backup: BackupState, vault_arn: str, event: tuple[str, dict, list[str]]) -> None:
    """Puts `event` on the default bus of the vault's account and region (nothing without an endpoint,
    or while the stand-in is muted: jobs the event path never saw)."""
    if not backup.events_endpoint or backup.events_muted:
        return
    match = VAULT_ARN.match(vault_arn)
    region, account = (match.group(1), match.group(2)) if match else (None, ACCOUNT)
    detail_type, detail, resources = event
    answer = backup.aws_client("events", region, account, endpoint=backup.events_endpoint).put_events(Entries=[{
        "Source": "aws.backup", "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": resources,
        "Time": now(),
    }])
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents refused {detail_type}: {answer['Entries']}")
