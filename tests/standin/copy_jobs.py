"""Copy jobs: StartCopyJob, DescribeCopyJob, their state machine (composite parents following
their children, vault notifications on every move) and `advance`, which runs them (one step of
time under a concurrent copy cap)."""

from __future__ import annotations

import copy as copying
import hashlib
import json
import re
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from standin import events, paths
from standin.accounts import caller_account, job_scope
from standin.common import (ACCOUNT, AIR_GAPPED, COPY_STATES, TERMINAL, VAULT_ARN, ApiError, derive_category, invalid,
                            invalid_request, not_found, now, validate_lifecycle)
from standin.recovery_points import new_point, point_state

if TYPE_CHECKING:
    from standin.state import BackupState


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
# The principal the functions run as (an assumed role session), as IAM names it in AccessDenied.
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/vaultwatch-function/session"


def new_copy_job(backup: BackupState, rp: str, source_vault: dict, destination: str, role: str, lifecycle, created_by,
                 backup_job_id, *, parent: dict | None = None) -> dict:
    job_id = str(uuid.uuid4()).upper()
    point = backup.recovery_points[rp]
    job = {
        # The source account's job, in the source region (docs/aws-facts.md, Organization view).
        "AccountId": source_vault.get("account", ACCOUNT), "CopyJobId": job_id, "SourceBackupVaultArn": source_vault["arn"],
        "SourceRecoveryPointArn": rp, "DestinationBackupVaultArn": destination,
        "ResourceArn": point["resourceArn"], "ResourceType": point["resourceType"], "CreationDate": now(),
        "State": "CREATED", "BackupSizeInBytes": 1073741824, "IamRoleArn": role, "IsParent": False,
    }
    if lifecycle:
        # OptInToArchiveForSupportedResources passes through with the days.
        job["DestinationRecoveryPointLifecycle"] = copying.deepcopy(lifecycle)
    if (backup.vault_by_arn(destination) or {}).get("type") == AIR_GAPPED:
        job.update({"DestinationVaultType": AIR_GAPPED, "DestinationVaultLockState": "LOCKED"})
    if created_by:
        job["CreatedBy"] = copying.deepcopy(created_by)
        job["CreatedByBackupJobId"] = backup_job_id
    if parent is not None:
        job["ParentJobId"] = parent["CopyJobId"]
        if point["member"]:
            job["CompositeMemberIdentifier"] = point["member"]
        backup.children[parent["CopyJobId"]].append(job_id)
    backup.copy_jobs[job_id] = job
    backup.copy_order.append(job_id)
    backup.quotas.track(job)
    backup.changed()
    return job


def start_copy(backup: BackupState, rp: str, source_vault: dict, destination: str, role: str, lifecycle, created_by, backup_job_id) -> list[dict]:
    """Creates the copy job of `rp` (with its child copy jobs when `rp` is a composite parent).
    Returns every job created, parent first."""
    point = backup.recovery_points[rp]
    job = new_copy_job(backup, rp, source_vault, destination, role, lifecycle, created_by, backup_job_id)
    if not point["children"]:
        return [job]
    job["IsParent"] = True
    job["NumberOfChildJobs"] = len(point["children"])
    backup.children[job["CopyJobId"]] = []
    jobs = [job]
    for child in point["children"]:
        jobs.append(new_copy_job(backup, child, source_vault, destination, role, lifecycle, created_by, backup_job_id, parent=job))
    job["ChildJobsInState"] = child_states(backup, job["CopyJobId"])
    return jobs


def child_states(backup: BackupState, parent_id: str) -> dict:
    return dict(Counter(backup.copy_jobs[c]["State"] for c in backup.children.get(parent_id, [])))


def notify_copy(backup: BackupState, job: dict) -> None:
    """The vault notification of the copy job's state, when its vault asks for it, and its EventBridge
    event (every state, every vault)."""
    events.emit(backup, job["SourceBackupVaultArn"], events.copy_job_event(job))
    vault = backup.vault_by_arn(job["SourceBackupVaultArn"])
    event, text = {
        "CREATED": ("COPY_JOB_STARTED", "An AWS Backup copy job has started."),
        "COMPLETED": ("COPY_JOB_SUCCESSFUL", "An AWS Backup copy job was completed successfully."),
        "FAILED": ("COPY_JOB_FAILED", "An AWS Backup copy job failed."),
        "PARTIAL": ("COPY_JOB_FAILED", "An AWS Backup copy job completed partially."),
    }.get(job["State"], (None, None))
    if vault and event:
        backup.notify(vault, event, "COPY_JOB", job["State"], job["CopyJobId"], job["CreationDate"],
                    f"{text} Copy job ID : {job['CopyJobId']}")


def start_copy_job(backup: BackupState, region: str, params: dict) -> dict:
    ctx = "StartCopyJob"
    rp, role, destination = params["RecoveryPointArn"], params["IamRoleArn"], params["DestinationBackupVaultArn"]
    if not ROLE_ARN.match(role):
        raise invalid("IamRoleArn is not a valid IAM role ARN", ctx)
    if not VAULT_ARN.match(destination):
        raise invalid("DestinationBackupVaultArn is not a valid backup vault ARN", ctx)
    validate_lifecycle(params.get("Lifecycle"), ctx)
    token = params.get("IdempotencyToken")
    request = {k: params.get(k) for k in ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn", "Lifecycle")}
    fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    with backup.lock:
        backup.copy_starts[rp] += 1  # every call that reached the service, a repeated token's too
        if token and token in backup.tokens:
            earlier, job_id = backup.tokens[token]
            if earlier != fingerprint:
                raise invalid_request("IdempotencyToken was already used with different parameters", ctx)
            job = backup.copy_jobs[job_id]
            return {"CopyJobId": job_id, "CreationDate": job["CreationDate"], "IsParent": job["IsParent"]}
        source = backup.vault(region, params["SourceBackupVaultName"], ctx)
        point = backup.recovery_points.get(rp)
        status, storage = point_state(point) if point else (None, None)
        if point is None or point["vault"] != source["arn"] or storage == "DELETED":
            raise not_found(f"Recovery point {rp} not found in vault {source['name']}", ctx)
        # "Does not support continuous backups" (API model, StartCopyJob); "backups in cold storage
        # or archive tiers cannot be copied" (Developer Guide, Backup and tag copy). AWS's exact
        # wording of these refusals is not documented.
        if point["continuous"] or ":recovery-point:continuous:" in rp:
            raise invalid_request("Copy of continuous backups is not supported", ctx)
        if storage == "COLD":
            raise invalid_request("Recovery points in cold storage cannot be copied", ctx)
        if status in ("EXPIRED", "DELETING"):
            raise invalid_request(f"Recovery point {rp} is {status} and cannot be copied", ctx)  # wording not documented
        if backup.passable_roles is not None and role not in backup.passable_roles:
            # IAM's standard AccessDenied wording; AccessDeniedException is not in the backup
            # model (it comes from IAM's authorization of iam:PassRole).
            raise ApiError(
                403, "AccessDeniedException",
                f"User: {CALLER.replace(ACCOUNT, caller_account(), 1)} is not authorized to perform: iam:PassRole on resource: {role}", context=ctx,
            )
        if backup.vault_by_arn(destination) is None:
            raise not_found("Destination backup vault does not exist", ctx)
        # Quotas "refuse" mode: no free slot for a job this start would create (the point's, or
        # each child's of a composite point) is LimitExceededException.
        account = VAULT_ARN.match(source["arn"]).group(2)
        members = [backup.recovery_points[c] for c in point["children"]] if point["children"] else [point]
        refusal = backup.quotas.refusal([{"DestinationBackupVaultArn": destination, "AccountId": account,
                                        "ResourceArn": member["resourceArn"]} for member in members])
        if refusal:
            raise refusal
        jobs = start_copy(backup, rp, source, destination, role, params.get("Lifecycle"), None, None)
        job = jobs[0]
        if token:
            backup.tokens[token] = (fingerprint, job["CopyJobId"])
        snapshots = [dict(j) for j in jobs]
    for snapshot in snapshots:
        notify_copy(backup, snapshot)
    return {"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": job["IsParent"]}


def describe_copy_job(backup: BackupState, region: str, params: dict) -> dict:
    job_id = params["CopyJobId"]
    with backup.lock:
        job = backup.copy_jobs.get(job_id)
        # Only the caller's own jobs in this region (a member's job is not found from elsewhere).
        if job is None or job_scope(job, "SourceBackupVaultArn") != (caller_account(), region):
            raise not_found(f"Copy job {job_id} not found", "DescribeCopyJob")
        return {"CopyJob": copying.deepcopy(job)}


def transition(backup: BackupState, job_id: str, state: str, message: str | None, category: str | None = None) -> list[dict]:
    """Moves a copy job forward (never back) and publishes the vault notification; a child's
    parent follows. Returns the snapshots of every job that moved (the job, then its parent)."""
    with backup.lock:
        job = backup.copy_jobs.get(job_id)
        if job is None:
            raise not_found(f"Copy job {job_id} not found", "transition")
        if state not in COPY_STATES or COPY_STATES.index(state) <= COPY_STATES.index(job["State"]) or job["State"] in TERMINAL:
            raise invalid(f"cannot move copy job from {job['State']} to {state}", "transition")
        set_state(backup, job, state, message, category)
        moved = [dict(job)]
        parent = backup.copy_jobs.get(job.get("ParentJobId") or "")
        if parent is not None:
            moved += derive_parent(backup, parent)
    for snapshot in moved:
        notify_copy(backup, snapshot)
    return moved


def set_state(backup: BackupState, job: dict, state: str, message: str | None, category: str | None) -> None:
    job["State"] = state
    backup.changed()
    backup.quotas.track(job)
    if state in TERMINAL:
        job["CompletionDate"] = now()
    if message:
        job["StatusMessage"] = message
    if state in ("FAILED", "PARTIAL"):
        job["MessageCategory"] = category or derive_category(message)
    elif state == "COMPLETED":
        job["MessageCategory"] = "SUCCESS"
    if state in ("COMPLETED", "PARTIAL"):
        destination = VAULT_ARN.match(job["DestinationBackupVaultArn"])
        source = backup.recovery_points[job["SourceRecoveryPointArn"]]
        # A copy is a snapshot (periodic) recovery point even of a continuous backup ("When a
        # cross-Region or cross-account copy of a continuous backup is made, the copied recovery
        # point (backup) becomes a snapshot (periodic) backup", Developer Guide).
        arn = f"arn:aws:backup:{destination.group(1)}:{destination.group(2)}:recovery-point:{str(uuid.uuid4()).upper()}"
        job["DestinationRecoveryPointArn"] = arn
        target = backup.vault_by_arn(job["DestinationBackupVaultArn"]) or {
            "arn": job["DestinationBackupVaultArn"], "name": destination.group(3)}
        parent_job = backup.copy_jobs.get(job.get("ParentJobId") or "")
        parent_point = parent_job and parent_job.get("DestinationRecoveryPointArn")
        new_point(backup, arn, target, source["resourceArn"], source["resourceType"], None, job["IamRoleArn"],
                        job.get("DestinationRecoveryPointLifecycle"), job.get("CreatedBy"),
                        parent=parent_point if parent_point in backup.recovery_points else None,
                        member=source["member"], source_vault=job["SourceBackupVaultArn"])
    if state == "COMPLETED" and job["CopyJobId"] in backup.system_copies:
        # DELETE_AFTER_COPY: AWS Backup deletes the temporary recovery point once copied.
        backup.recovery_points.pop(job["SourceRecoveryPointArn"], None)
    if job["IsParent"]:
        job["ChildJobsInState"] = child_states(backup, job["CopyJobId"])
        if job.get("DestinationRecoveryPointArn"):
            # The children finished first: their copies become this copy's children.
            for child_id in backup.children.get(job["CopyJobId"], []):
                child_point = backup.recovery_points.get(backup.copy_jobs[child_id].get("DestinationRecoveryPointArn") or "")
                if child_point is not None and child_point["parent"] is None:
                    child_point["parent"] = job["DestinationRecoveryPointArn"]
                    backup.recovery_points[job["DestinationRecoveryPointArn"]]["children"].append(child_point["arn"])


def derive_parent(backup: BackupState, parent: dict) -> list[dict]:
    """The parent's state from its children's: RUNNING once a child moved; when every child
    ended, COMPLETED if all completed, FAILED if all failed, else PARTIAL. How AWS derives it is
    not documented in detail (docs/aws-facts.md, Composite jobs)."""
    children = [backup.copy_jobs[c] for c in backup.children.get(parent["CopyJobId"], [])]
    parent["ChildJobsInState"] = child_states(backup, parent["CopyJobId"])
    backup.changed()
    if parent["State"] in TERMINAL:
        return []
    states = [c["State"] for c in children]
    moved = []
    if parent["State"] == "CREATED" and any(s != "CREATED" for s in states):
        set_state(backup, parent, "RUNNING", None, None)
        moved.append(dict(parent))
    if states and all(s in TERMINAL for s in states):
        if all(s == "COMPLETED" for s in states):
            final, message, category = "COMPLETED", None, None
        else:
            failed = [c for c in children if c["State"] != "COMPLETED"]
            final = "FAILED" if all(s == "FAILED" for s in states) else "PARTIAL"
            # Wording not documented.
            message = f"{len(failed)} of {len(children)} child copy jobs did not complete. {failed[0].get('StatusMessage', '')}".strip()
            category = next((c["MessageCategory"] for c in failed if c.get("MessageCategory")), None)  # first failed child's
        if parent["State"] == "CREATED":
            set_state(backup, parent, "RUNNING", None, None)
        set_state(backup, parent, final, message, category)
        moved.append(dict(parent))
    return moved


def path_failure(backup: BackupState, path: paths.Path) -> tuple[str, str] | None:
    """(StatusMessage, MessageCategory) of a copy its path fails (standin.paths), or None."""
    message = paths.decide(backup, path)
    return (message, derive_category(message)) if message else None


def advance(backup: BackupState) -> list[dict]:
    """Control: every unfinished copy job runs to its end: FAILED when a fault rule matches it or,
    that failing to, its path fails it (standin.paths: the first failing decider's AWS message),
    else COMPLETED. Parent jobs are not run: they follow their children. Returns the jobs
    that moved (their last snapshot each). Under a concurrent copy job cap it is one step of
    time instead (see advance_step)."""
    if backup.quotas.capped():
        return advance_step(backup)
    with backup.lock:
        pending = [backup.copy_jobs[i] for i in backup.copy_order
                   if backup.copy_jobs[i]["State"] not in TERMINAL and not backup.copy_jobs[i]["IsParent"]]
        plans = []
        for job in pending:
            parent = backup.copy_jobs.get(job.get("ParentJobId") or "")
            index = backup.children[parent["CopyJobId"]].index(job["CopyJobId"]) if parent else None
            plans.append((job["CopyJobId"], backup.faults.copy_failure(job, parent, index), paths.path_of(backup, job)))
    plans = [(job_id, failure or path_failure(backup, path)) for job_id, failure, path in plans]
    moved = {}
    for job_id, failure in plans:
        if backup.copy_jobs[job_id]["State"] == "CREATED":
            for snapshot in transition(backup, job_id, "RUNNING", None):
                moved[snapshot["CopyJobId"]] = snapshot
        message, category = failure or (None, None)
        for snapshot in transition(backup, job_id, "FAILED" if failure else "COMPLETED", message, category):
            moved[snapshot["CopyJobId"]] = snapshot
    return list(moved.values())


def advance_step(backup: BackupState) -> list[dict]:
    """Control `advance` under a concurrent copy job cap: one step of time. First every copy
    job RUNNING at the start ends (FAILED when a fault rule matches it or its path fails it, else
    COMPLETED),
    freeing its slot; then CREATED jobs start RUNNING, oldest first, each when the quotas'
    rule admits it (see Quotas: its resource free, and its account's destination region or,
    that reached, its destination vault with a free slot). A job that is not admitted stays
    CREATED ("wait", "refuse") or FAILS with AWS's limit message ("fail"). Jobs
    started in a step end in the next one, so RUNNING is observable and a burst is driven
    forward step by step until `advance` moves nothing."""
    quotas = backup.quotas
    with backup.lock:
        unfinished = [backup.copy_jobs[i] for i in backup.copy_order
                      if backup.copy_jobs[i]["State"] not in TERMINAL and not backup.copy_jobs[i]["IsParent"]]
        ending = []
        for job in unfinished:
            if job["State"] == "RUNNING":
                parent = backup.copy_jobs.get(job.get("ParentJobId") or "")
                index = backup.children[parent["CopyJobId"]].index(job["CopyJobId"]) if parent else None
                ending.append((job["CopyJobId"], backup.faults.copy_failure(job, parent, index), paths.path_of(backup, job)))
        waiting = [job["CopyJobId"] for job in unfinished if job["State"] == "CREATED"]
    ending = [(job_id, failure or path_failure(backup, path)) for job_id, failure, path in ending]
    moved = {}

    def move(job_id: str, state: str, message: str | None = None, category: str | None = None):
        for snapshot in transition(backup, job_id, state, message, category):
            moved[snapshot["CopyJobId"]] = snapshot

    for job_id, failure in ending:
        message, category = failure or (None, None)
        move(job_id, "FAILED" if failure else "COMPLETED", message, category)
    with backup.lock:
        running = quotas.counts()
        starting, limited = [], []
        for job_id in waiting:
            keys = quotas.keys(backup.copy_jobs[job_id])
            kind = quotas.blocked_by(keys, running)
            if kind is None:
                running.update(keys.values())
                starting.append(job_id)
            else:
                limited.append((job_id, kind))
    for job_id in starting:
        move(job_id, "RUNNING")
    for job_id, kind in limited:
        with backup.lock:
            quotas.held_back(job_id, kind)
        if quotas.mode == "fail":
            move(job_id, "FAILED", quotas.message, quotas.category)
    with backup.lock:
        quotas.observe()
    return list(moved.values())
