"""Backup jobs: the control that ends one (its recovery point, the plan rule's CopyActions, a
backup to a logically air-gapped vault), DescribeBackupJob, and the bulk seeding control."""

from __future__ import annotations

import copy as copying
import random
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from standin.accounts import arn_scope, caller_account, job_scope
from standin.common import (ACCOUNT, AIR_GAPPED, DEFAULT_REGION, TERMINAL, VAULT_ARN, derive_category, invalid, not_found,
                            now, project)
from standin import events
from standin.copy_jobs import new_copy_job, notify_copy, start_copy
from standin.recovery_points import new_point

if TYPE_CHECKING:
    from standin.state import BackupState


# Backups straight to a logically air-gapped vault (docs/aws-facts.md, Logically air-gapped vaults):
# "supported fully managed resources back up directly to logically air-gapped vault, while other
# supported resources create a temporary (billable) snapshot in backup vault, then copy it to
# logically air-gapped vault" (API model, StartBackupJob.LogicallyAirGappedBackupVaultArn). Which
# types AWS Backup fully manages is in the Developer Guide's feature table, not retrieved: this set is
# presumed (a backup-jobs control's "fullyManaged" overrides it).
FULLY_MANAGED_TYPES = {"EFS", "S3", "DynamoDB", "VirtualMachine", "Timestream"}


def complete_backup(backup: BackupState, spec: dict) -> dict:
    """Control: a backup job ends (COMPLETED creates a recovery point and starts plan CopyActions)."""
    region = spec.get("region", DEFAULT_REGION)
    account = spec.get("account") or ACCOUNT
    state = spec.get("state", "COMPLETED")
    pending = []
    with backup.lock:
        vault = backup.vault(region, spec["vault"], "complete_backup", account)
        created = float(spec["creationDate"]) if spec.get("creationDate") is not None else now()
        role = spec.get("iamRoleArn", f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole")
        rule, created_by = None, None
        if spec.get("planId"):
            plan = backup.plans[spec["planId"]]
            version = plan["latest"]
            rule = plan["versions"][version]["Rules"][spec.get("ruleIndex", 0)]
            created_by = {
                "BackupPlanId": spec["planId"], "BackupPlanArn": plan["arn"], "BackupPlanVersion": version,
                "BackupRuleId": rule["RuleId"],
            }
        # A rule with EnableContinuousBackup makes continuous backups (point-in-time recovery).
        continuous = spec.get("continuous", bool(rule and rule.get("EnableContinuousBackup")))
        lifecycle = rule.get("Lifecycle") if rule else spec.get("lifecycle")
        # A backup to a logically air-gapped vault (the rule's TargetLogicallyAirGappedBackupVaultArn,
        # or StartBackupJob's LogicallyAirGappedBackupVaultArn for an on-demand one): a fully managed
        # resource type backs up into it; any other leaves a temporary recovery point in `vault`
        # (Lifecycle DeleteAfterEvent DELETE_AFTER_COPY beside the rule's days: "whichever
        # condition is satisfied first"), which AWS Backup copies into the air-gapped vault (a copy
        # job with CreatedByBackupJobId) and deletes once that copy completes. A failed copy leaves
        # it to its days (presumed: AWS does not say). The rule's CopyActions are not started from
        # a temporary point (where AWS copies them from is not documented).
        air_gapped_arn = (rule or {}).get("TargetLogicallyAirGappedBackupVaultArn") or spec.get("logicallyAirGappedBackupVaultArn")
        air_gapped, temporary = None, False
        if air_gapped_arn:
            air_gapped = backup.vault_by_arn(air_gapped_arn)
            if air_gapped is None or air_gapped.get("type") != AIR_GAPPED or arn_scope(air_gapped_arn) != (account, region):
                raise invalid("The logically air-gapped vault must be one of this account and Region", "complete_backup")
            if spec.get("composite"):
                raise invalid("composite backups to a logically air-gapped vault are not modelled", "complete_backup")
            if spec.get("fullyManaged", spec.get("resourceType", "EBS") in FULLY_MANAGED_TYPES):
                vault = air_gapped
            else:
                temporary = True
                lifecycle = {**(lifecycle or {}), "DeleteAfterEvent": "DELETE_AFTER_COPY"}
        composite = spec.get("composite")
        children_specs = []
        if composite:
            children = composite.get("children", 2)
            children_specs = children if isinstance(children, list) else [{} for _ in range(children)]
        job = new_backup_job(backup, vault, spec["resourceArn"], spec.get("resourceType", "EBS"), state, role, created,
                               created_by, lifecycle, continuous, is_parent=bool(composite))
        pending.append(job)
        child_jobs = []
        for index, child in enumerate(children_specs):
            child_job = new_backup_job(
                backup, vault, child.get("resourceArn", f"arn:aws:ec2:{region}:{account}:volume/vol-{uuid.uuid4().hex[:17]}"),
                child.get("resourceType", "EBS"), state, role, created, created_by, lifecycle, False,
                parent_job=job, member=child.get("compositeMemberIdentifier", f"Member{index + 1}"),
            )
            child_jobs.append(child_job)
            pending.append(child_job)
        if composite:
            job["NumberOfChildJobs"] = len(child_jobs)
            job["ChildJobsInState"] = dict(Counter(c["State"] for c in child_jobs))
        copies = []
        if state == "COMPLETED" and temporary:
            kept = {k: v for k, v in lifecycle.items() if k != "DeleteAfterEvent"} or None
            copies += start_copy(backup, job["RecoveryPointArn"], vault, air_gapped["arn"], role, kept, created_by,
                                       job["BackupJobId"])
            for copy_job in copies:
                copy_job.update({"CreatedByBackupJobId": job["BackupJobId"], "DestinationVaultType": AIR_GAPPED,
                                 "DestinationVaultLockState": "LOCKED"})
                backup.system_copies.add(copy_job["CopyJobId"])
        elif state == "COMPLETED" and rule:
            for action in rule.get("CopyActions", []):
                # The job does not report the CopyAction's lifecycle (DestinationRecoveryPointLifecycle
                # absent): the plan rule holds it, as the e2e tests expect of AWS.
                copies += start_copy(backup, job["RecoveryPointArn"], vault, action["DestinationBackupVaultArn"], role,
                                           None, created_by, job["BackupJobId"])
        result = copying.deepcopy(job)
        if composite:
            result["ChildJobs"] = copying.deepcopy(child_jobs)
    for backup_job in pending:
        text = (
            f"An AWS Backup job was completed successfully. Recovery point ARN: {backup_job['RecoveryPointArn']}. "
            f"Resource ARN : {backup_job['ResourceArn']}. BackupJob ID : {backup_job['BackupJobId']}"
            if state == "COMPLETED"
            else f"An AWS Backup job failed. Resource ARN : {backup_job['ResourceArn']}. BackupJob ID : {backup_job['BackupJobId']}"
        )
        backup.notify(vault, "BACKUP_JOB_COMPLETED", "BACKUP_JOB", state, backup_job["BackupJobId"], created, text)
        events.emit(backup, backup_job["BackupVaultArn"], events.backup_job_event(backup_job))
    for copy_job in copies:
        notify_copy(backup, copy_job)
    return result


def new_backup_job(backup: BackupState, vault, resource_arn, resource_type, state, role, created, created_by, lifecycle,
                   continuous, *, is_parent=False, parent_job=None, member=None) -> dict:
    region, account = vault["region"], vault.get("account", ACCOUNT)
    job_id = str(uuid.uuid4()).upper()
    job = {
        "AccountId": account, "BackupJobId": job_id, "BackupVaultName": vault["name"],
        "BackupVaultArn": vault["arn"], "ResourceArn": resource_arn, "ResourceType": resource_type,
        "CreationDate": created, "State": state, "PercentDone": "100.0" if state == "COMPLETED" else "0.0",
        "IamRoleArn": role, "IsParent": is_parent, "CreatedBy": copying.deepcopy(created_by),
        "ParentJobId": parent_job["BackupJobId"] if parent_job else None,
        "RecoveryPointLifecycle": copying.deepcopy(lifecycle) if lifecycle else None,
        "VaultType": vault.get("type", "BACKUP_VAULT"),
    }
    if state == "COMPLETED":
        if continuous:
            # AWS's form for continuous (point-in-time) recovery points (docs/aws-facts.md).
            rp = f"arn:aws:backup:{region}:{account}:recovery-point:continuous:db-{uuid.uuid4().hex[:10].upper()}-{uuid.uuid4().hex[:8]}"
        else:
            rp = f"arn:aws:backup:{region}:{account}:recovery-point:{str(uuid.uuid4()).upper()}"
        job.update({"RecoveryPointArn": rp, "CompletionDate": now(), "BackupSizeInBytes": 1073741824})
        new_point(backup, rp, vault, resource_arn, resource_type, job_id, role, lifecycle, created_by,
                        continuous=continuous, parent=parent_job and parent_job.get("RecoveryPointArn"),
                        member=member, created=created)
    else:
        job["CompletionDate"] = now()
    job = {k: v for k, v in job.items() if v is not None}
    backup.backup_jobs[job_id] = job
    backup.quotas.track_backup(job)
    backup.changed()
    return job


def describe_backup_job(backup: BackupState, region: str, params: dict) -> dict:
    job_id = params["BackupJobId"]
    with backup.lock:
        job = backup.backup_jobs.get(job_id)
        # Only the caller's own jobs in this region (a member's job is not found from elsewhere).
        if job is None or job_scope(job, "BackupVaultArn") != (caller_account(), region):
            raise not_found(f"Backup job {job_id} not found", "DescribeBackupJob")
        return project(copying.deepcopy(job), "DescribeBackupJobOutput")


def bulk(backup: BackupState, spec: dict) -> dict:
    """Control: `count` completed backups in `vault`, each with a copy job to one of
    `destinations` (round robin) in a state drawn from `states` (weights), published to
    nobody: jobs the event path never saw. With no destinations, backups without copies.
    `ageMinutes` dates the copy jobs that long ago."""
    rng = random.Random(spec.get("seed", 0))
    states = spec.get("states", {"COMPLETED": 1.0})
    names, weights = list(states), list(states.values())
    destinations = spec.get("destinations", [])
    message = spec.get("statusMessage", "Copy job failed. Try again later.")
    category = spec.get("messageCategory") or derive_category(message)
    region = spec.get("region", DEFAULT_REGION)
    account = spec.get("account") or ACCOUNT
    created = {"backups": 0, "copies": 0}
    with backup.lock:
        vault = backup.vault(region, spec["vault"], "bulk", account)
        notifications, vault["notifications"] = vault["notifications"], None
        backup.events_muted += 1
        try:
            for index in range(spec["count"]):
                job = complete_backup(backup, {
                    "vault": vault["name"], "region": region, "account": account, "resourceType": spec.get("resourceType", "EBS"),
                    "resourceArn": f"arn:aws:ec2:{region}:{account}:volume/vol-bulk{index:06d}",
                })
                created["backups"] += 1
                if destinations:
                    copy = new_copy_job(backup, job["RecoveryPointArn"], vault, destinations[index % len(destinations)], job["IamRoleArn"], None, None, None)
                    state = rng.choices(names, weights)[0]
                    copy["State"] = state
                    # ageMinutes: created (and, if finished, completed) that long ago.
                    copy["CreationDate"] = now() - 60 * spec.get("ageMinutes", 0)
                    if state in TERMINAL:
                        copy["CompletionDate"] = copy["CreationDate"]
                    if state == "FAILED":
                        copy["StatusMessage"] = message
                        copy["MessageCategory"] = category
                    elif state == "COMPLETED":
                        copy["MessageCategory"] = "SUCCESS"
                        # Named as a completed copy's is (the point itself is not modelled).
                        to = VAULT_ARN.match(copy["DestinationBackupVaultArn"])
                        copy["DestinationRecoveryPointArn"] = f"arn:aws:backup:{to.group(1)}:{to.group(2)}:recovery-point:{str(uuid.uuid4()).upper()}"
                    created["copies"] += 1
        finally:
            vault["notifications"] = notifications
            backup.events_muted -= 1
            backup.changed()  # the copies' states and dates were set after they were created
    return created
