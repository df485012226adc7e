"""A small, faithful AWS Backup stand-in (restJson1), for local tests and the demo.

moto has no copy jobs or vault notifications, so this server implements the slice of the AWS Backup
API vaultwatch uses, with the wire format of the real service (see botocore's backup service-2.json):
routes, query parameters, epoch-second timestamps, error shapes (`x-amzn-ErrorType` header, body
with Code/Message/Type/Context), IdempotencyToken semantics and validation.

On every job transition it publishes the vault's notification to the vault's SNS topic exactly as
AWS Backup does (Subject, text, MessageAttributes EventType/State/AccountId/Id/StartTime), through a
real SNS endpoint (moto).

Test control lives under /_standin/ (never part of AWS): create backup jobs, advance copy jobs,
inject faults (throttling, 5xx, latency, "fail the next copy of X"), read call counts, reset.

Run: python backup_standin.py --port 0 --sns-endpoint http://127.0.0.1:5000
Prints "READY <port>" on stdout once listening.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
COPY_STATES = ["CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"]
TERMINAL = {"COMPLETED", "FAILED", "PARTIAL"}
VAULT_EVENTS = {
    "BACKUP_JOB_STARTED", "BACKUP_JOB_COMPLETED", "BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED", "RESTORE_JOB_STARTED", "RESTORE_JOB_COMPLETED", "RESTORE_JOB_SUCCESSFUL",
    "RESTORE_JOB_FAILED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED",
    "RECOVERY_POINT_MODIFIED", "BACKUP_PLAN_CREATED", "BACKUP_PLAN_MODIFIED", "S3_BACKUP_OBJECT_FAILED",
    "S3_RESTORE_OBJECT_FAILED", "CONTINUOUS_BACKUP_INTERRUPTED", "RECOVERY_POINT_INDEX_COMPLETED",
    "RECOVERY_POINT_INDEX_DELETED", "RECOVERY_POINT_INDEXING_FAILED",
}
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{2,50}$")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$")
VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:([a-z0-9-]+):([0-9]{12}):backup-vault:([a-zA-Z0-9\-_.]{2,50})$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")


class ApiError(Exception):
    """An AWS Backup error: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str, kind: str = "Client", context: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.context = status, code, message, kind, context


def not_found(message: str, context: str = "") -> ApiError:
    return ApiError(400, "ResourceNotFoundException", message, context=context)


def invalid(message: str, context: str = "") -> ApiError:
    return ApiError(400, "InvalidParameterValueException", message, context=context)


def missing(member: str, context: str = "") -> ApiError:
    return ApiError(400, "MissingParameterValueException", f"{member} is required", context=context)


def now() -> float:
    return round(time.time(), 3)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate_lifecycle(lifecycle, context: str) -> None:
    if lifecycle is None:
        return
    if not isinstance(lifecycle, dict):
        raise invalid("Lifecycle must be a structure", context)
    cold = lifecycle.get("MoveToColdStorageAfterDays")
    delete = lifecycle.get("DeleteAfterDays")
    for days in (cold, delete):
        if days is not None and (not isinstance(days, int) or days < 1):
            raise invalid("Lifecycle days must be positive integers", context)
    if cold is not None and delete is not None and delete < cold + 90:
        raise invalid(
            "Invalid lifecycle. DeleteAfterDays must be at least 90 days greater than MoveToColdStorageAfterDays",
            context,
        )


class Faults:
    """Run-time switchable fault injection, deterministic for a given seed."""

    def __init__(self):
        self.reset()

    def reset(self, seed: int = 0):
        self.throttle_rate = 0.0
        self.server_error_rate = 0.0
        self.latency_ms = 0
        self.operations: set[str] | None = None  # None: every operation
        self.throttle_next: Counter = Counter()
        self.fail_copies: list[dict] = []  # {"recoveryPointArn", "destinationVaultArn"?, "statusMessage", "count"}
        self.random = random.Random(seed)
        self.injected = Counter()

    def before(self, operation: str) -> None:
        """Raises the injected error for this call, if any; sleeps the injected latency."""
        if self.operations is not None and operation not in self.operations:
            return
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if self.throttle_next[operation] > 0:
            self.throttle_next[operation] -= 1
            self.injected["throttle"] += 1
            raise ApiError(400, "ThrottlingException", "Rate exceeded")
        roll = self.random.random()
        if roll < self.throttle_rate:
            self.injected["throttle"] += 1
            raise ApiError(400, "ThrottlingException", "Rate exceeded")
        if roll < self.throttle_rate + self.server_error_rate:
            self.injected["server_error"] += 1
            raise ApiError(500, "ServiceUnavailableException", "Service unavailable, try again later", "Server")

    def copy_failure(self, job: dict) -> str | None:
        """The status message a copy job must fail with, consuming one matching rule."""
        for rule in self.fail_copies:
            if rule.get("recoveryPointArn") not in (None, job["SourceRecoveryPointArn"]):
                continue
            if rule.get("destinationVaultArn") not in (None, job["DestinationBackupVaultArn"]):
                continue
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.fail_copies.remove(rule)
            self.injected["copy_failure"] += 1
            return rule["statusMessage"]
        return None


class Backup:
    """The service state. All access under one lock; SNS publishing happens outside it."""

    def __init__(self, sns_endpoint: str | None):
        self.lock = threading.RLock()
        self.sns_endpoint = sns_endpoint
        self._sns = {}
        self.faults = Faults()
        self.reset()

    def reset(self):
        with self.lock:
            self.vaults: dict[tuple[str, str], dict] = {}  # (region, name) -> vault
            self.recovery_points: dict[str, dict] = {}
            self.backup_jobs: dict[str, dict] = {}
            self.copy_jobs: dict[str, dict] = {}
            self.copy_order: list[str] = []
            self.tokens: dict[str, tuple[str, str]] = {}
            self.plans: dict[str, dict] = {}  # plan id -> {"versions": {version: plan}, "latest": version}
            self.calls = Counter()
            self.published: list[dict] = []
            self.passable_roles: set[str] | None = None  # None: every role may be passed
            self.faults.reset()

    # ------------------------------------------------------------------ notifications
    def sns(self, region: str):
        if region not in self._sns:
            import boto3  # only needed when publishing

            self._sns[region] = boto3.client(
                "sns", region_name=region, endpoint_url=self.sns_endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
        return self._sns[region]

    def notify(self, vault: dict, vault_event: str, event_type: str, state: str, job_id: str, start: float, text: str):
        """Publishes a vault notification if the vault is configured for `vault_event`."""
        config = vault.get("notifications")
        if not config or vault_event not in config["BackupVaultEvents"]:
            return
        topic = config["SNSTopicArn"]
        attributes = {
            "EventType": event_type, "State": state, "AccountId": ACCOUNT, "Id": job_id, "StartTime": iso(start),
        }
        record = {"topic": topic, "subject": "Notification from AWS Backup", "message": text, "attributes": attributes}
        self.published.append(record)
        if self.sns_endpoint:
            self.sns(topic.split(":")[3]).publish(
                TopicArn=topic, Subject=record["subject"], Message=text,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )

    # ------------------------------------------------------------------ helpers
    def vault(self, region: str, name: str, context: str) -> dict:
        vault = self.vaults.get((region, name))
        if vault is None:
            raise not_found(f"Backup vault {name} does not exist in {region}", context)
        return vault

    def vault_by_arn(self, arn: str) -> dict | None:
        match = VAULT_ARN.match(arn or "")
        return match and self.vaults.get((match.group(1), match.group(3)))

    # ------------------------------------------------------------------ vaults
    def create_backup_vault(self, region: str, name: str, body: dict) -> dict:
        if not VAULT_NAME.match(name):
            raise invalid("Invalid backup vault name", "CreateBackupVault")
        with self.lock:
            if (region, name) in self.vaults:
                raise ApiError(400, "AlreadyExistsException", f"Backup vault {name} already exists", context="CreateBackupVault")
            arn = f"arn:aws:backup:{region}:{ACCOUNT}:backup-vault:{name}"
            self.vaults[(region, name)] = {"name": name, "arn": arn, "region": region, "created": now(), "notifications": None}
            return {"BackupVaultName": name, "BackupVaultArn": arn, "CreationDate": self.vaults[(region, name)]["created"]}

    def describe_backup_vault(self, region: str, name: str) -> dict:
        with self.lock:
            vault = self.vault(region, name, "DescribeBackupVault")
            points = sum(1 for p in self.recovery_points.values() if p["vault"] == vault["arn"])
            return {
                "BackupVaultName": name, "BackupVaultArn": vault["arn"], "VaultType": "BACKUP_VAULT",
                "CreationDate": vault["created"], "NumberOfRecoveryPoints": points, "Locked": False,
            }

    def put_notifications(self, region: str, name: str, body: dict) -> dict:
        topic, events = body.get("SNSTopicArn"), body.get("BackupVaultEvents")
        if not topic:
            raise missing("SNSTopicArn", "PutBackupVaultNotifications")
        if events is None:
            raise missing("BackupVaultEvents", "PutBackupVaultNotifications")
        if not ARN.match(topic) or ":sns:" not in topic:
            raise invalid("SNSTopicArn is not a valid SNS topic ARN", "PutBackupVaultNotifications")
        unknown = [e for e in events if e not in VAULT_EVENTS]
        if unknown:
            raise invalid(f"Invalid BackupVaultEvents: {', '.join(unknown)}", "PutBackupVaultNotifications")
        with self.lock:
            vault = self.vault(region, name, "PutBackupVaultNotifications")
            vault["notifications"] = {"SNSTopicArn": topic, "BackupVaultEvents": list(events)}  # replaces the list
        return {}

    def get_notifications(self, region: str, name: str) -> dict:
        with self.lock:
            vault = self.vault(region, name, "GetBackupVaultNotifications")
            if not vault["notifications"]:
                raise not_found(f"Backup vault {name} has no notification configuration", "GetBackupVaultNotifications")
            return {"BackupVaultName": name, "BackupVaultArn": vault["arn"], **vault["notifications"]}

    # ------------------------------------------------------------------ plans
    def create_backup_plan(self, region: str, body: dict) -> dict:
        plan = body.get("BackupPlan")
        if not plan:
            raise missing("BackupPlan", "CreateBackupPlan")
        if not plan.get("BackupPlanName"):
            raise missing("BackupPlan.BackupPlanName", "CreateBackupPlan")
        rules = plan.get("Rules")
        if not rules:
            raise missing("BackupPlan.Rules", "CreateBackupPlan")
        stored_rules = []
        for rule in rules:
            for member in ("RuleName", "TargetBackupVaultName"):
                if not rule.get(member):
                    raise missing(f"BackupPlan.Rules.{member}", "CreateBackupPlan")
            validate_lifecycle(rule.get("Lifecycle"), "CreateBackupPlan")
            for action in rule.get("CopyActions", []):
                if not action.get("DestinationBackupVaultArn"):
                    raise missing("CopyActions.DestinationBackupVaultArn", "CreateBackupPlan")
                validate_lifecycle(action.get("Lifecycle"), "CreateBackupPlan")
            stored_rules.append({**rule, "RuleId": str(uuid.uuid4())})
        plan_id = str(uuid.uuid4())
        version = base64.b64encode(str(uuid.uuid4()).encode()).decode()
        arn = f"arn:aws:backup:{region}:{ACCOUNT}:backup-plan:{plan_id}"
        created = now()
        with self.lock:
            self.plans[plan_id] = {
                "latest": version,
                "versions": {version: {"BackupPlanName": plan["BackupPlanName"], "Rules": stored_rules}},
                "arn": arn,
                "created": created,
            }
        return {"BackupPlanId": plan_id, "BackupPlanArn": arn, "CreationDate": created, "VersionId": version}

    def get_backup_plan(self, plan_id: str, version: str | None) -> dict:
        with self.lock:
            plan = self.plans.get(plan_id)
            version = version or (plan and plan["latest"])
            if plan is None or version not in plan["versions"]:
                raise not_found(f"Failed reading Backup plan with provided version", "GetBackupPlan")
            return {
                "BackupPlan": plan["versions"][version], "BackupPlanId": plan_id, "BackupPlanArn": plan["arn"],
                "VersionId": version, "CreationDate": plan["created"],
            }

    # ------------------------------------------------------------------ backup jobs
    def complete_backup(self, spec: dict) -> dict:
        """Control: a backup job ends (COMPLETED creates a recovery point and starts plan CopyActions)."""
        region = spec.get("region", DEFAULT_REGION)
        state = spec.get("state", "COMPLETED")
        pending = []
        with self.lock:
            vault = self.vault(region, spec["vault"], "complete_backup")
            job_id = str(uuid.uuid4()).upper()
            created = now()
            job = {
                "AccountId": ACCOUNT, "BackupJobId": job_id, "BackupVaultName": vault["name"],
                "BackupVaultArn": vault["arn"], "ResourceArn": spec["resourceArn"],
                "ResourceType": spec.get("resourceType", "EBS"), "CreationDate": created, "State": state,
                "PercentDone": "100.0" if state == "COMPLETED" else "0.0",
                "IamRoleArn": spec.get("iamRoleArn", f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
                "IsParent": False,
            }
            rule = None
            if spec.get("planId"):
                plan = self.plans[spec["planId"]]
                version = plan["latest"]
                rule = plan["versions"][version]["Rules"][spec.get("ruleIndex", 0)]
                job["CreatedBy"] = {
                    "BackupPlanId": spec["planId"], "BackupPlanArn": plan["arn"], "BackupPlanVersion": version,
                    "BackupRuleId": rule["RuleId"],
                }
            if state == "COMPLETED":
                rp = f"arn:aws:backup:{region}:{ACCOUNT}:recovery-point:{str(uuid.uuid4()).upper()}"
                if spec.get("continuous"):
                    # AWS's form for continuous (point-in-time) recovery points (docs/aws-facts.md).
                    rp = f"arn:aws:backup:{region}:{ACCOUNT}:recovery-point:continuous:db-{uuid.uuid4().hex[:10].upper()}-{uuid.uuid4().hex[:8]}"
                job.update({"RecoveryPointArn": rp, "CompletionDate": now(), "BackupSizeInBytes": 1073741824})
                self.recovery_points[rp] = {"vault": vault["arn"], "resourceArn": spec["resourceArn"], "resourceType": job["ResourceType"], "backupJobId": job_id}
            self.backup_jobs[job_id] = job
            text = (
                f"An AWS Backup job was completed successfully. Recovery point ARN: {job['RecoveryPointArn']}. "
                f"Resource ARN : {job['ResourceArn']}. BackupJob ID : {job_id}"
                if state == "COMPLETED"
                else f"An AWS Backup job failed. Resource ARN : {job['ResourceArn']}. BackupJob ID : {job_id}"
            )
            pending.append((vault, "BACKUP_JOB_COMPLETED", "BACKUP_JOB", state, job_id, created, text))
            copies = []
            if state == "COMPLETED" and rule:
                for action in rule.get("CopyActions", []):
                    copies.append(self._new_copy_job(job["RecoveryPointArn"], vault, action["DestinationBackupVaultArn"], job["IamRoleArn"], None, job["CreatedBy"], job_id))
        for args in pending:
            self.notify(*args)
        for copy in copies:
            self._notify_copy(copy)
        return job

    def describe_backup_job(self, job_id: str) -> dict:
        with self.lock:
            job = self.backup_jobs.get(job_id)
            if job is None:
                raise not_found(f"Backup job {job_id} not found", "DescribeBackupJob")
            return dict(job)

    # ------------------------------------------------------------------ copy jobs
    def _new_copy_job(self, rp: str, source_vault: dict, destination: str, role: str, lifecycle, created_by, backup_job_id):
        job_id = str(uuid.uuid4()).upper()
        point = self.recovery_points[rp]
        job = {
            "AccountId": ACCOUNT, "CopyJobId": job_id, "SourceBackupVaultArn": source_vault["arn"],
            "SourceRecoveryPointArn": rp, "DestinationBackupVaultArn": destination,
            "ResourceArn": point["resourceArn"], "ResourceType": point["resourceType"], "CreationDate": now(),
            "State": "CREATED", "BackupSizeInBytes": 1073741824, "IamRoleArn": role, "IsParent": False,
        }
        if lifecycle:
            job["DestinationRecoveryPointLifecycle"] = lifecycle
        if created_by:
            job["CreatedBy"] = created_by
            job["CreatedByBackupJobId"] = backup_job_id
        self.copy_jobs[job_id] = job
        self.copy_order.append(job_id)
        return job

    def _notify_copy(self, job: dict) -> None:
        vault = self.vault_by_arn(job["SourceBackupVaultArn"])
        event, text = {
            "CREATED": ("COPY_JOB_STARTED", "An AWS Backup copy job has started."),
            "COMPLETED": ("COPY_JOB_SUCCESSFUL", "An AWS Backup copy job was completed successfully."),
            "FAILED": ("COPY_JOB_FAILED", "An AWS Backup copy job failed."),
            "PARTIAL": ("COPY_JOB_FAILED", "An AWS Backup copy job completed partially."),
        }.get(job["State"], (None, None))
        if vault and event:
            self.notify(vault, event, "COPY_JOB", job["State"], job["CopyJobId"], job["CreationDate"],
                        f"{text} Copy job ID : {job['CopyJobId']}")

    def start_copy_job(self, region: str, body: dict) -> dict:
        ctx = "StartCopyJob"
        for member in ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn"):
            if not body.get(member):
                raise missing(member, ctx)
        if not ROLE_ARN.match(body["IamRoleArn"]):
            raise invalid("IamRoleArn is not a valid IAM role ARN", ctx)
        if not VAULT_ARN.match(body["DestinationBackupVaultArn"]):
            raise invalid("DestinationBackupVaultArn is not a valid backup vault ARN", ctx)
        validate_lifecycle(body.get("Lifecycle"), ctx)
        token = body.get("IdempotencyToken")
        request = {k: body.get(k) for k in ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn", "Lifecycle")}
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        with self.lock:
            if token and token in self.tokens:
                earlier, job_id = self.tokens[token]
                if earlier != fingerprint:
                    raise ApiError(400, "InvalidRequestException", "IdempotencyToken was already used with different parameters", context=ctx)
                job = self.copy_jobs[job_id]
                return {"CopyJobId": job_id, "CreationDate": job["CreationDate"], "IsParent": False}
            source = self.vault(region, body["SourceBackupVaultName"], ctx)
            point = self.recovery_points.get(body["RecoveryPointArn"])
            if point is None or point["vault"] != source["arn"] or point.get("storageClass") == "DELETED":
                raise not_found(f"Recovery point {body['RecoveryPointArn']} not found in vault {source['name']}", ctx)
            # StartCopyJob "Does not support continuous backups" (API model); cold storage cannot be
            # copied (Developer Guide). AWS's exact wording is undocumented.
            if ":recovery-point:continuous:" in body["RecoveryPointArn"]:
                raise ApiError(400, "InvalidRequestException", "Copy of continuous backups is not supported", context=ctx)
            if point.get("storageClass") == "COLD":
                raise ApiError(400, "InvalidRequestException", "Recovery points in cold storage cannot be copied", context=ctx)
            if self.passable_roles is not None and body["IamRoleArn"] not in self.passable_roles:
                raise ApiError(
                    403, "AccessDeniedException",
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/vaultwatch/function is not authorized to perform: "
                    f"iam:PassRole on resource: {body['IamRoleArn']}", context=ctx,
                )
            if self.vault_by_arn(body["DestinationBackupVaultArn"]) is None:
                raise not_found("Destination backup vault does not exist", ctx)
            job = self._new_copy_job(body["RecoveryPointArn"], source, body["DestinationBackupVaultArn"], body["IamRoleArn"], body.get("Lifecycle"), None, None)
            if token:
                self.tokens[token] = (fingerprint, job["CopyJobId"])
        self._notify_copy(job)
        return {"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": False}

    def describe_recovery_point(self, region: str, vault_name: str, arn: str) -> dict:
        """DescribeRecoveryPoint: StorageClass, Status and CalculatedLifecycle decide whether a copy can work."""
        with self.lock:
            vault = self.vault(region, vault_name, "DescribeRecoveryPoint")
            point = self.recovery_points.get(arn)
            if point is None or point["vault"] != vault["arn"]:
                raise not_found(f"Recovery point {arn} not found in vault {vault_name}", "DescribeRecoveryPoint")
            result = {
                "RecoveryPointArn": arn, "BackupVaultName": vault_name, "BackupVaultArn": vault["arn"],
                "ResourceArn": point["resourceArn"], "ResourceType": point["resourceType"],
                "Status": point.get("status", "COMPLETED"), "StorageClass": point.get("storageClass", "WARM"),
                "IsParent": False,
            }
            if point.get("calculatedLifecycle"):
                result["CalculatedLifecycle"] = point["calculatedLifecycle"]
            return result

    def describe_copy_job(self, job_id: str) -> dict:
        with self.lock:
            job = self.copy_jobs.get(job_id)
            if job is None:
                raise not_found(f"Copy job {job_id} not found", "DescribeCopyJob")
            return {"CopyJob": dict(job)}

    def transition(self, job_id: str, state: str, message: str | None) -> dict:
        """Control: moves a copy job forward (never back) and publishes the vault notification."""
        with self.lock:
            job = self.copy_jobs[job_id]
            if COPY_STATES.index(state) <= COPY_STATES.index(job["State"]) or job["State"] in TERMINAL:
                raise invalid(f"cannot move copy job from {job['State']} to {state}", "transition")
            job["State"] = state
            if state in TERMINAL:
                job["CompletionDate"] = now()
            if message:
                job["StatusMessage"] = message
            if state == "COMPLETED":
                destination = VAULT_ARN.match(job["DestinationBackupVaultArn"])
                point = f"arn:aws:backup:{destination.group(1)}:{ACCOUNT}:recovery-point:{uuid.uuid4()}"
                job["DestinationRecoveryPointArn"] = point
                source = self.recovery_points[job["SourceRecoveryPointArn"]]
                self.recovery_points[point] = {**source, "vault": job["DestinationBackupVaultArn"]}
            snapshot = dict(job)
        self._notify_copy(snapshot)
        return snapshot

    def advance(self) -> list[dict]:
        """Control: every unfinished copy job runs to its end: FAILED when a fault rule matches it,
        else COMPLETED. Returns the jobs that moved."""
        with self.lock:
            pending = [self.copy_jobs[i] for i in self.copy_order if self.copy_jobs[i]["State"] not in TERMINAL]
            plans = [(job["CopyJobId"], self.faults.copy_failure(job)) for job in pending]
        moved = []
        for job_id, failure in plans:
            if self.copy_jobs[job_id]["State"] == "CREATED":
                self.transition(job_id, "RUNNING", None)
            moved.append(self.transition(job_id, "FAILED" if failure else "COMPLETED", failure))
        return moved

    def _list(self, ctx: str, key: str, jobs: list[dict], query: dict, equal_filters: dict) -> dict:
        """List semantics shared by ListCopyJobs and ListBackupJobs: equality filters, created/complete
        time windows, MaxResults 1..1000, opaque NextToken."""
        q = {k: v[-1] for k, v in query.items()}
        max_results = q.get("maxResults")
        if max_results is not None:
            if not max_results.isdigit() or not 1 <= int(max_results) <= 1000:
                raise invalid("MaxResults must be between 1 and 1000", ctx)
        limit = int(max_results or 1000)

        def stamp(name):
            if name not in q:
                return None
            try:
                return datetime.fromisoformat(q[name].replace("Z", "+00:00")).timestamp()
            except ValueError:
                try:
                    return float(q[name])
                except ValueError:
                    raise invalid(f"Invalid timestamp for {name}", ctx) from None

        created_before, created_after = stamp("createdBefore"), stamp("createdAfter")
        complete_before, complete_after = stamp("completeBefore"), stamp("completeAfter")
        selected = []
        for job in jobs:
            if any(param in q and job.get(member) != q[param] for param, member in equal_filters.items()):
                continue
            if created_before is not None and not job["CreationDate"] < created_before:
                continue
            if created_after is not None and not job["CreationDate"] > created_after:
                continue
            done = job.get("CompletionDate")
            if complete_before is not None and not (done and done < complete_before):
                continue
            if complete_after is not None and not (done and done > complete_after):
                continue
            selected.append(dict(job))
        start = 0
        if q.get("nextToken"):
            try:
                prefix, offset = base64.b64decode(q["nextToken"]).decode().split(":")
                start = int(offset)
                assert prefix == key
            except (ValueError, IndexError, UnicodeDecodeError, AssertionError):
                raise invalid("Invalid NextToken", ctx) from None
        result = {key: selected[start:start + limit]}
        if start + limit < len(selected):
            result["NextToken"] = base64.b64encode(f"{key}:{start + limit}".encode()).decode()
        return result

    def list_copy_jobs(self, query: dict) -> dict:
        state = query.get("state", [None])[-1]
        if state is not None and state not in COPY_STATES:
            raise invalid(f"Invalid state {state}", "ListCopyJobs")
        with self.lock:
            jobs = [self.copy_jobs[i] for i in self.copy_order]
            return self._list("ListCopyJobs", "CopyJobs", jobs, query, {
                "resourceArn": "ResourceArn", "state": "State", "resourceType": "ResourceType",
                "destinationVaultArn": "DestinationBackupVaultArn", "accountId": "AccountId",
                "parentJobId": "ParentJobId", "sourceRecoveryPointArn": "SourceRecoveryPointArn",
                "messageCategory": "MessageCategory",
            })

    def list_backup_jobs(self, query: dict) -> dict:
        with self.lock:
            jobs = list(self.backup_jobs.values())
            return self._list("ListBackupJobs", "BackupJobs", jobs, query, {
                "resourceArn": "ResourceArn", "state": "State", "backupVaultName": "BackupVaultName",
                "resourceType": "ResourceType", "accountId": "AccountId", "parentJobId": "ParentJobId",
                "messageCategory": "MessageCategory",
            })

    def bulk(self, spec: dict) -> dict:
        """Control: `count` completed backups in `vault`, each with a copy job to one of
        `destinations` (round robin) in a state drawn from `states` (weights), published to
        nobody: jobs the event path never saw. With no destinations, backups without copies.
        `ageMinutes` dates the copy jobs that long ago."""
        rng = random.Random(spec.get("seed", 0))
        states = spec.get("states", {"COMPLETED": 1.0})
        names, weights = list(states), list(states.values())
        destinations = spec.get("destinations", [])
        message = spec.get("statusMessage", "Copy job failed. Try again later.")
        region = spec.get("region", DEFAULT_REGION)
        created = {"backups": 0, "copies": 0}
        with self.lock:
            vault = self.vault(region, spec["vault"], "bulk")
            notifications, vault["notifications"] = vault["notifications"], None
            try:
                for index in range(spec["count"]):
                    job = self.complete_backup({
                        "vault": vault["name"], "region": region, "resourceType": spec.get("resourceType", "EBS"),
                        "resourceArn": f"arn:aws:ec2:{region}:{ACCOUNT}:volume/vol-bulk{index:06d}",
                    })
                    created["backups"] += 1
                    if destinations:
                        copy = self._new_copy_job(job["RecoveryPointArn"], vault, destinations[index % len(destinations)], job["IamRoleArn"], None, None, None)
                        state = rng.choices(names, weights)[0]
                        copy["State"] = state
                        # ageMinutes: created (and, if finished, completed) that long ago.
                        copy["CreationDate"] = now() - 60 * spec.get("ageMinutes", 0)
                        if state in TERMINAL:
                            copy["CompletionDate"] = copy["CreationDate"]
                        if state == "FAILED":
                            copy["StatusMessage"] = message
                        created["copies"] += 1
            finally:
                vault["notifications"] = notifications
        return created


ROUTES = [
    ("PUT", re.compile(r"^/copy-jobs$"), "StartCopyJob"),
    ("GET", re.compile(r"^/copy-jobs/?$"), "ListCopyJobs"),
    ("GET", re.compile(r"^/copy-jobs/(?P<id>[^/]+)$"), "DescribeCopyJob"),
    ("GET", re.compile(r"^/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$"), "DescribeRecoveryPoint"),
    ("GET", re.compile(r"^/backup-jobs/?$"), "ListBackupJobs"),
    ("GET", re.compile(r"^/backup-jobs/(?P<id>[^/]+)$"), "DescribeBackupJob"),
    ("PUT", re.compile(r"^/backup-vaults/(?P<name>[^/]+)$"), "CreateBackupVault"),
    ("GET", re.compile(r"^/backup-vaults/(?P<name>[^/]+)$"), "DescribeBackupVault"),
    ("PUT", re.compile(r"^/backup-vaults/(?P<name>[^/]+)/notification-configuration$"), "PutBackupVaultNotifications"),
    ("GET", re.compile(r"^/backup-vaults/(?P<name>[^/]+)/notification-configuration$"), "GetBackupVaultNotifications"),
    ("PUT", re.compile(r"^/backup/plans/?$"), "CreateBackupPlan"),
    ("GET", re.compile(r"^/backup/plans/(?P<id>[^/]+)/?$"), "GetBackupPlan"),
]
SIGNING_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/backup/aws4_request")


def make_handler(backup: Backup):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):  # quiet; calls are counted instead
            pass

        def reply(self, status: int, body: dict, headers: dict | None = None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            if not length:
                return {}
            try:
                parsed = json.loads(self.rfile.read(length))
            except json.JSONDecodeError:
                raise ApiError(400, "SerializationException", "Request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "SerializationException", "Request body must be a JSON object")
            return parsed

        def handle_any(self, method: str):
            url = urlparse(self.path)
            path = unquote(url.path)
            try:
                if path.startswith("/_standin/"):
                    return self.reply(200, self.control(method, path, self.body()))
                for route_method, pattern, operation in ROUTES:
                    match = pattern.match(path)
                    if route_method == method and match:
                        return self.reply(200, self.operation(operation, match.groupdict(), url))
                raise ApiError(404, "UnknownOperationException", f"No operation for {method} {path}")
            except ApiError as err:
                body = {"Code": err.code, "Message": err.message, "Type": err.kind, "Context": err.context}
                self.reply(err.status, body, {"x-amzn-ErrorType": err.code})

        def operation(self, operation: str, params: dict, url):
            backup.calls[operation] += 1
            backup.faults.before(operation)
            match = SIGNING_REGION.search(self.headers.get("Authorization", ""))
            region = match.group(1) if match else DEFAULT_REGION
            body = self.body()
            query = parse_qs(url.query)
            if operation == "StartCopyJob":
                return backup.start_copy_job(region, body)
            if operation == "ListCopyJobs":
                return backup.list_copy_jobs(query)
            if operation == "DescribeCopyJob":
                return backup.describe_copy_job(params["id"])
            if operation == "DescribeRecoveryPoint":
                return backup.describe_recovery_point(region, params["name"], params["arn"])
            if operation == "ListBackupJobs":
                return backup.list_backup_jobs(query)
            if operation == "DescribeBackupJob":
                return backup.describe_backup_job(params["id"])
            if operation == "CreateBackupVault":
                return backup.create_backup_vault(region, params["name"], body)
            if operation == "DescribeBackupVault":
                return backup.describe_backup_vault(region, params["name"])
            if operation == "PutBackupVaultNotifications":
                return backup.put_notifications(region, params["name"], body)
            if operation == "GetBackupVaultNotifications":
                return backup.get_notifications(region, params["name"])
            if operation == "CreateBackupPlan":
                return backup.create_backup_plan(region, body)
            if operation == "GetBackupPlan":
                return backup.get_backup_plan(params["id"], query.get("versionId", [None])[-1])
            raise AssertionError(operation)

        def control(self, method: str, path: str, body: dict):
            faults = backup.faults
            if path == "/_standin/reset":
                backup.reset()
                return {}
            if path == "/_standin/calls":
                return {"calls": dict(backup.calls), "injected": dict(faults.injected)}
            if path == "/_standin/faults":
                with backup.lock:
                    if "seed" in body:
                        faults.random = random.Random(body["seed"])
                    faults.throttle_rate = body.get("throttleRate", faults.throttle_rate)
                    faults.server_error_rate = body.get("serverErrorRate", faults.server_error_rate)
                    faults.latency_ms = body.get("latencyMs", faults.latency_ms)
                    if "operations" in body:
                        faults.operations = set(body["operations"]) if body["operations"] is not None else None
                    for operation, count in body.get("throttleNext", {}).items():
                        faults.throttle_next[operation] += count
                    for rule in body.get("failCopies", []):
                        faults.fail_copies.append({"count": 1, **rule})
                return {}
            if path == "/_standin/backup-jobs":
                return backup.complete_backup(body)
            if path == "/_standin/bulk":
                return backup.bulk(body)
            if path == "/_standin/advance":
                return {"moved": backup.advance()}
            match = re.match(r"^/_standin/copy-jobs/([^/]+)/transition$", path)
            if match:
                return backup.transition(match.group(1), body["state"], body.get("statusMessage"))
            if path == "/_standin/recovery-points/set":
                # {"recoveryPointArn", "storageClass"?, "status"?, "calculatedLifecycle"?}
                with backup.lock:
                    point = backup.recovery_points[body["recoveryPointArn"]]
                    for key in ("storageClass", "status", "calculatedLifecycle"):
                        if key in body:
                            point[key] = body[key]
                return {}
            if path == "/_standin/passable-roles":
                with backup.lock:
                    roles = body.get("roles")
                    backup.passable_roles = set(roles) if roles is not None else None
                return {}
            if path == "/_standin/published":
                return {"published": backup.published}
            raise ApiError(404, "UnknownOperationException", f"No control endpoint {path}")

        def do_GET(self):
            self.handle_any("GET")

        def do_PUT(self):
            self.handle_any("PUT")

        def do_POST(self):
            self.handle_any("POST")

        def do_DELETE(self):
            self.handle_any("DELETE")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sns-endpoint", default=None, help="SNS endpoint to publish vault notifications to")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Backup(args.sns_endpoint)))
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
