"""A small, faithful AWS Backup stand-in (restJson1), for local tests and the demo.

moto has no copy jobs or vault notifications, so this server implements the slice of the AWS Backup
API vaultwatch uses, with the wire format of the real service (see botocore's backup service-2.json):
routes, query parameters, epoch-second timestamps, error shapes (`x-amzn-ErrorType` header, body
with Code/Message/Type/Context), IdempotencyToken semantics and validation.

The API model is enforced (backup_model.py): every request is rebuilt into the operation's input
parameters and validated against botocore's model (required, types, min/max, patterns, enums); a
violation is refused like AWS does, HTTP 400 `ValidationException` with Coral's wording
("1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: Member
must have value less than or equal to 1000"). Every response body is validated against the output
shape; a violation is a stand-in bug: HTTP 500 `StandInModelViolation`, logged to stderr.

AWS Backup's documented refusals and shapes (docs/aws-facts.md):
  * continuous backups (`arn:aws:backup:REGION:ACCOUNT:recovery-point:continuous:db-...`):
    StartCopyJob refuses them (InvalidRequestException); plan CopyActions still copy them and the
    copy is a snapshot (periodic) recovery point;
  * recovery points in cold storage (InvalidRequestException), deleted (ResourceNotFoundException)
    or EXPIRED/DELETING (InvalidRequestException) are not copied; lifecycle days decide the
    CalculatedLifecycle and, once reached, the storage class (COLD) and deletion (DELETED/EXPIRED);
  * composite backups: a parent recovery point with child recovery points; a copy of it is a parent
    copy job (IsParent, NumberOfChildJobs, ChildJobsInState) with one child copy job per child
    (ParentJobId, CompositeMemberIdentifier); the parent's state follows its children's;
  * failed copy jobs carry StatusMessage, MessageCategory and CompletionDate;
  * PutBackupVaultNotifications refuses the deprecated events of the BackupVaultEvent enum;
  * iam:PassRole is simulated: StartCopyJob with a role the caller may not pass is AccessDenied;
  * Lifecycle -1 ("keep indefinitely"), the 90-day rule only when both values are positive,
    DeleteAfterEvent refused as an input;
  * logically air-gapped vaults (CreateLogicallyAirGappedBackupVault) and backups straight to one:
    a fully managed resource type backs up into it, any other leaves a temporary recovery point
    (RecoveryPointLifecycle DeleteAfterEvent DELETE_AFTER_COPY) that AWS Backup's own copy job
    (CreatedByBackupJobId, DestinationVaultType LOGICALLY_AIR_GAPPED_BACKUP_VAULT) copies into the
    vault, and that is deleted when that copy completes (docs/aws-facts.md, Logically air-gapped
    vaults; the fully managed types and what a failed copy leaves are presumed);
  * accounts and regions: every vault, plan, recovery point and job belongs to one (account,
    region), named in its ARNs; a job's AccountId is its owner's (a copy job's, its source
    account's). A call acts as the account of its SigV4 access key id when that is 12 digits
    (AWS_ACCESS_KEY_ID=111111111111, moto's convention; else 123456789012) in its signing region,
    and sees only that account's resources in that region (Describe* of another's job: not found);
  * the organization view (docs/aws-facts.md, Organization view): ListBackupJobs `ByAccountId` `*`
    (every member's jobs) or a member's id, and ListCopyJobs `ByAccountId` a member's id, from the
    organization's management account or a delegated administrator; any other account's jobs, or
    `*` from anyone else, HTTP 400 AccessDeniedException "You do not have sufficient access to
    perform this action." (presumed); ListCopyJobs `*` fails the model's pattern (ValidationException:
    an ASSUMPTION, AWS documents `*` for ListBackupJobs only and says nothing of it for ListCopyJobs;
    see backup_model.DOCUMENTED_VALUES);
    ListCopyJobSummaries (GET /audit/copy-job-summaries) counts the copy jobs of the last 14 days
    (the model's window since botocore 1.43.78, 30 days before) per period, Region,
    AccountId, State, ResourceType and MessageCategory, honouring AccountId (ANY, AGGREGATE_ALL, an
    id; a member gets its own counts whatever it asks), the ANY/AGGREGATE_ALL of the other
    dimensions, AggregationPeriod, MaxResults (1..500; more is InvalidParameterValueException) and
    NextToken.

On every job transition it publishes the vault's notification to the vault's SNS topic exactly as
AWS Backup does (Subject, text, MessageAttributes EventType/State/AccountId/Id/StartTime), through a
real SNS endpoint (moto), for parent and child jobs alike.

Test control lives under /_standin/ (never part of AWS), every endpoint POST with a JSON body:
  reset                      {}                                  forget everything
  calls                      {}                                  -> {"calls": {op: n}, "injected": {...},
                                                                     "throttled": {op: n},
                                                                     "peakRunning": {"vaults": {arn: n},
                                                                                     "regions": {"ACCOUNT/region": n},
                                                                                     "resources": {arn: n},
                                                                                     "crossAccount": {"arn -> region": n}},
                                                                     "limited": {"refused": n, "waited": n,
                                                                                 "failed": n},
                                                                     "limitedBy": {"refused"|"waited"|"failed":
                                                                                   {"vault"|"region"|"resource"|
                                                                                    "crossAccount": n}}}
                             every API call is counted in "calls", throttled ones too; "throttled":
                             calls refused by a quota's rate; "peakRunning": the most jobs seen
                             RUNNING at once per destination vault, per (account, destination
                             region), per resource (its copy jobs within its account and its RUNNING
                             backup jobs) and per (resource, destination region) of cross-account
                             copies, measured after each capped `advance` step and each
                             `transition`; "limited": StartCopyJob calls refused, copy jobs that
                             waited in CREATED for a slot (each once), copy jobs failed for want of
                             one; "limitedBy": the same by the cap that held the job back (a waiting
                             job once per cap)
  quotas                     {"rates"?: {op: {"perSecond", "burst"}},
                              "copyJobs"?: {"perDestinationRegion"?: n, "perDestinationVault"?: n,
                                            "perResource"?: n|null (default 1),
                                            "crossAccountPerResourceAndRegion"?: n|null (default 30),
                                            "onLimit"?: "wait"|"refuse"|"fail",
                                            "statusMessage"?, "messageCategory"?},
                              "manualClock"?: bool}
                             AWS Backup's quotas (docs/aws-facts.md, Service quotas). The body
                             replaces the whole quota configuration; {} (and reset) removes every
                             quota, the default. Counters stay until reset.
                             rates: a token bucket per operation (any name; "*" gives every operation
                             without its own entry a bucket of that size), full at `burst` tokens,
                             refilled at `perSecond` on the monotonic clock (or the manual one). A call
                             finding no token is refused before anything else with AWS's throttling
                             error: HTTP 400, x-amzn-ErrorType ThrottlingException, body
                             {"Code": "ThrottlingException", "Message": "Rate exceeded", "Type":
                             "Client", "Context": ""}.
                             copyJobs: caps on RUNNING copy jobs (parents of composite copies excluded),
                             combined as docs/aws-facts.md (Quotas under a burst) presumes: a copy job
                             starts when (1) its resource (ResourceArn) has fewer than perResource
                             backup or copy jobs RUNNING, for a copy within the resource's account,
                             or, for a copy to another account's vault, fewer than
                             crossAccountPerResourceAndRegion cross-account copies of that resource
                             RUNNING to the destination region; and (2) its account has fewer than
                             perDestinationRegion copies RUNNING to the destination region OR, that
                             reached, its destination vault fewer than perDestinationVault (AWS: 100,
                             then 5 per vault). perDestinationVault without perDestinationRegion
                             limits alone (as if the region's cap were always reached), and the
                             region's without the vault's too. perResource and
                             crossAccountPerResourceAndRegion default to AWS's 1 and 30 whenever
                             copyJobs is given (null: no such cap). With copyJobs, `advance` is one
                             step of time: RUNNING jobs end, then CREATED jobs start, oldest first,
                             as the rule admits them. A job not admitted: "wait" stays CREATED (AWS's
                             documented queueing); "fail" ends FAILED with statusMessage (default
                             "There are too many copy jobs running for resource.", AWS's text) and
                             messageCategory (default derived as for fault rules: MISCELLANEOUS;
                             AWS's name for the category is not published); "refuse" waits too, and
                             StartCopyJob itself is refused (HTTP 400 LimitExceededException, the
                             stand-in's wording naming the cap) when a job it would create is not
                             admitted by the same rule, every unfinished (CREATED or RUNNING) job
                             counted as running. `transition` ignores caps. A backup job created
                             RUNNING (backup-jobs "state") holds its resource for good.
                             manualClock: the rate clock stands at 0 until quotas/clock moves it
  quotas/clock               {"advanceSeconds"}                  -> {"now": seconds}  (manualClock only)
  faults                     {"seed"?, "throttleRate"?, "serverErrorRate"?, "latencyMs"?,
                              "operations"?: [op]|null, "throttleNext"?: {op: n},
                              "failCopies"?: [{"recoveryPointArn"?, "destinationVaultArn"?,
                                               "compositeMemberIdentifier"?, "childIndex"?,
                                               "statusMessage", "messageCategory"?, "count"?}]}
                             a failCopies rule fails the next `count` (default 1) copy jobs it
                             matches when they run; recoveryPointArn matches a job's source point
                             or, for a child job, its parent's; compositeMemberIdentifier /
                             childIndex (0-based) match child jobs only; parent jobs are never
                             run, their state follows their children's
  backup-jobs                {"vault", "resourceArn", "resourceType"?, "region"?, "state"?,
                              "iamRoleArn"?, "planId"?, "ruleIndex"?, "continuous"?: bool,
                              "composite"?: {"children": N | [{"resourceArn"?, "resourceType"?,
                                             "compositeMemberIdentifier"?}]},
                              "creationDate"?: epoch, "account"?,
                              "logicallyAirGappedBackupVaultArn"?, "fullyManaged"?: bool}
                             a backup job ends (COMPLETED: a recovery point, and the plan rule's
                             CopyActions start); a rule with EnableContinuousBackup makes the
                             backup continuous. Composite: -> the parent job, with "ChildJobs".
                             To a logically air-gapped vault (the rule's
                             TargetLogicallyAirGappedBackupVaultArn, or logicallyAirGappedBackupVaultArn):
                             a fully managed type (FULLY_MANAGED_TYPES, presumed, or "fullyManaged")
                             backs up into it; another leaves a temporary point in `vault`
                             (DeleteAfterEvent DELETE_AFTER_COPY) and AWS Backup's own copy job into
                             the air-gapped vault (CreatedByBackupJobId, DestinationVaultType), which
                             deletes the point when it completes
  bulk                       {"vault", "count", "destinations"?, "states"?, "statusMessage"?,
                              "messageCategory"?, "ageMinutes"?, "seed"?, "resourceType"?, "region"?,
                              "account"?}
  advance                    {}                                  run every unfinished copy job (under a
                                                                 copyJobs cap: one step, see quotas)
  copy-jobs/<id>/transition  {"state", "statusMessage"?, "messageCategory"?}
  recovery-points/set        {"recoveryPointArn", "storageClass"?, "status"?, "lifecycle"?,
                              "creationDate"?: epoch, "calculatedLifecycle"?}
                             storageClass/status override what the lifecycle derives (null clears
                             the override); lifecycle {"MoveToColdStorageAfterDays"?,
                             "DeleteAfterDays"?} with creationDate decides CalculatedLifecycle;
                             calculatedLifecycle {"MoveToColdStorageAt"?, "DeleteAt"?} (epoch)
                             sets it directly
  recovery-points/get        {"recoveryPointArn"}                -> DescribeRecoveryPoint's body
  passable-roles             {"roles": [arn] | null}             null: every role may be passed
  vault-notifications/set-raw {"vault", "region"?, "account"?, "SNSTopicArn", "BackupVaultEvents"}
                             seeds a configuration as old vaults have it (deprecated events
                             included), bypassing PutBackupVaultNotifications' validation
  copy-jobs/raw              {"job": {...}}                      a finished copy job listed as given
                                                                 (every CopyJob member is optional in
                                                                 the model: e.g. one without a source);
                                                                 it belongs to its AccountId (default
                                                                 123456789012) and its source vault's
                                                                 region (default us-east-1)
  corrupt-response           {"operation", "merge": {...}, "count"?}   test-only: deep-merges
                             `merge` into the next `count` (default 1) responses of `operation`
                             before the response check (which must then refuse them)
  published                  {}                                  -> {"published": [...]}
  organization               {"managementAccount", "delegatedAdministrators"?: [id],
                              "members"?: [id]}                  -> the organization as stored
                             the AWS Organization of the accounts (12-digit ids); the management
                             account and the delegated administrators are members implicitly, and
                             they (only) see other members' jobs. {} (and reset): no organization,
                             every account sees only its own
A control that names a vault by name finds it in account 123456789012 and region us-east-1 unless
its body says "account" / "region" (ids and ARNs name their own); vaults of another account are
created through the API, signed with that account's id as access key id.

Every request is routed once, by ROUTES: one table from (method, path) to the AWS Backup operation
or the control that answers it.

Run from tests/: python -m standin.backup_standin --port 0 --sns-endpoint http://127.0.0.1:5000
Prints "READY <port>" on stdout once listening.
"""

from __future__ import annotations

import argparse
import base64
import copy as copying
import hashlib
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlparse

from harness.loopback import LoopbackHandler, LoopbackServer
from standin import backup_model

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DAY = 86400
COPY_STATES = ["CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"]
TERMINAL = {"COMPLETED", "FAILED", "PARTIAL"}
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
VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:([a-z0-9-]+):([0-9]{12}):backup-vault:([a-zA-Z0-9\-_.]{2,50})$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")
# The principal the functions run as (an assumed role session), as IAM names it in AccessDenied.
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/vaultwatch-function/session"
# MessageCategory strings documented by the API model (CopyJob.MessageCategory: "Example strings
# may include AccessDenied, SUCCESS, AGGREGATE_ALL, and InvalidParameters"). The Monitoring page's
# full list could not be retrieved (docs/aws-facts.md, MessageCategory); a category is derived from
# the status message only for these unambiguous phrases, else MISCELLANEOUS ("All error messages
# not belonging to the message code categories below will fall under MISCELLANEOUS", Developer
# Guide, AWS Backup console dashboards). Completed jobs carry SUCCESS (same page: "COMPLETED jobs
# with a MessageCategory of SUCCESS").
# Backups straight to a logically air-gapped vault (docs/aws-facts.md, Logically air-gapped vaults):
# "supported fully managed resources back up directly to logically air-gapped vault, while other
# supported resources create a temporary (billable) snapshot in backup vault, then copy it to
# logically air-gapped vault" (API model, StartBackupJob.LogicallyAirGappedBackupVaultArn). Which
# types AWS Backup fully manages is in the Developer Guide's feature table, not retrieved: this set is
# presumed (a backup-jobs control's "fullyManaged" overrides it).
FULLY_MANAGED_TYPES = {"EFS", "S3", "DynamoDB", "VirtualMachine", "Timestream"}
AIR_GAPPED = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
DERIVED_CATEGORIES = [
    (("access denied", "accessdenied", "not authorized", "unauthorized"), "AccessDenied"),
    (("invalid parameter", "invalidparameter", "not supported"), "InvalidParameters"),
]


class ApiError(Exception):
    """An AWS Backup error: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str, kind: str = "Client", context: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.context = status, code, message, kind, context


def not_found(message: str, context: str = "") -> ApiError:
    return ApiError(400, "ResourceNotFoundException", message, context=context)


def invalid(message: str, context: str = "") -> ApiError:
    return ApiError(400, "InvalidParameterValueException", message, context=context)


def invalid_request(message: str, context: str = "") -> ApiError:
    return ApiError(400, "InvalidRequestException", message, context=context)


def missing(member: str, context: str = "") -> ApiError:
    return ApiError(400, "MissingParameterValueException", f"{member} is required", context=context)


def now() -> float:
    return round(time.time(), 3)


def epoch(value) -> float:
    """A model timestamp parameter (datetime from backup_model) or an epoch number, as epoch seconds."""
    return round(value.timestamp(), 3) if isinstance(value, datetime) else float(value)


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def derive_category(message: str | None) -> str | None:
    lower = (message or "").lower()
    for phrases, category in DERIVED_CATEGORIES:
        if any(p in lower for p in phrases):
            return category
    return "MISCELLANEOUS"


def validate_lifecycle(lifecycle, context: str, as_input: bool = True) -> None:
    """Lifecycle: days are positive, or -1 for "keep indefinitely" ("To remove the existing
    lifecycle and retention periods and keep your recovery points indefinitely, specify -1 for
    MoveToColdStorageAfterDays and DeleteAfterDays", API model, shape Lifecycle); DeleteAfterDays
    at least 90 days after MoveToColdStorageAfterDays, when both are positive; DeleteAfterEvent
    "Not valid as an input". Wording of the refusals not documented."""
    if lifecycle is None:
        return
    if not isinstance(lifecycle, dict):
        raise invalid("Lifecycle must be a structure", context)
    cold = lifecycle.get("MoveToColdStorageAfterDays")
    delete = lifecycle.get("DeleteAfterDays")
    for days in (cold, delete):
        if days is not None and (not isinstance(days, int) or (days < 1 and days != -1)):
            raise invalid("Lifecycle days must be positive integers, or -1 to keep recovery points indefinitely", context)
    if cold is not None and delete is not None and cold > 0 and delete > 0 and delete < cold + 90:
        raise invalid(
            "Invalid lifecycle. DeleteAfterDays must be at least 90 days greater than MoveToColdStorageAfterDays",
            context,
        )
    if as_input and lifecycle.get("DeleteAfterEvent") is not None:
        raise invalid("Invalid lifecycle. DeleteAfterEvent is not valid as an input", context)


def deep_merge(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        elif isinstance(value, dict) and isinstance(target.get(key), list):
            for item in target[key]:
                if isinstance(item, dict):
                    deep_merge(item, value)
        else:
            target[key] = value
    return target


def without_nulls(value):
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@lru_cache(maxsize=None)
def shape_members(shape_name: str) -> frozenset:
    return frozenset(backup_model.service_model().shape_for(shape_name).members)


def project(record: dict, shape_name: str) -> dict:
    """Only the members the model's `shape_name` defines."""
    members = shape_members(shape_name)
    return {k: v for k, v in record.items() if k in members and v is not None}


# ---------------------------------------------------------------------- accounts, regions, the organization
# Every vault, plan, recovery point and job belongs to one (account, region) and its ARNs say which.
# An API call acts as the account of its SigV4 access key id when that is 12 digits (moto's
# convention: AWS_ACCESS_KEY_ID=111111111111), else as ACCOUNT, in its signing region; without
# ByAccountId it sees that account's jobs in that region only. docs/aws-facts.md, Organization view.
SIGNING_ACCESS_KEY = re.compile(r"Credential=([^/]+)/\d{8}/")
TWELVE_DIGITS = re.compile(r"^[0-9]{12}$")
REQUEST = threading.local()  # .account: the account of the API call being answered
# ListCopyJobSummaries' MaxResults: "Range of accepted values is from 1 to 500" (its shape allows 1000).
SUMMARY_MAX_RESULTS = 500


def signing_account(authorization: str | None) -> str:
    """The caller's account: the access key id of a SigV4 Authorization header when it is 12 digits."""
    match = SIGNING_ACCESS_KEY.search(authorization or "")
    key = match.group(1) if match else ""
    return key if TWELVE_DIGITS.match(key) else ACCOUNT


def caller_account() -> str:
    """The account of the API call being answered (ACCOUNT while a test control is answered)."""
    return getattr(REQUEST, "account", ACCOUNT)


@lru_cache(maxsize=4096)
def arn_scope(arn: str | None) -> tuple[str | None, str | None]:
    """(account, region) an ARN names; None for a part it leaves empty or an ARN it is not."""
    parts = (arn or "").split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None, None
    return parts[4] or None, parts[3] or None


def job_scope(job: dict, vault_member: str) -> tuple[str, str]:
    """The (account, region) a job belongs to: its AccountId (a copy job's is its source account)
    and the region of its vault (`vault_member`: BackupVaultArn, or SourceBackupVaultArn for a copy
    job). A job seeded raw without them belongs to the default account and region."""
    return job.get("AccountId") or ACCOUNT, arn_scope(job.get(vault_member))[1] or DEFAULT_REGION


def jobs_in_scope(jobs, vault_member: str, scope: set[tuple[str, str]]) -> list[dict]:
    """The jobs whose job_scope is in `scope`, in order (one verdict per account and vault: cheap
    enough for a listing of 100,000 jobs)."""
    verdicts: dict[tuple, bool] = {}
    kept = []
    for job in jobs:
        key = (job.get("AccountId"), job.get(vault_member))
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = job_scope(job, vault_member) in scope
        if verdict:
            kept.append(job)
    return kept


def access_denied(context: str) -> ApiError:
    """Another account's jobs asked for by an account that may not see them. Not documented: AWS
    Backup's Common Errors wording and HTTP status for AccessDeniedException (presumed;
    docs/aws-facts.md, Organization view)."""
    return ApiError(400, "AccessDeniedException", "You do not have sufficient access to perform this action.",
                    context=context)


class Organization:
    """The AWS Organization of the stand-in's accounts (/_standin/organization): its management
    account, its delegated administrators for AWS Backup and its members (the management account
    and the delegated administrators are members too). Only the management account and delegated
    administrators monitor other accounts' jobs ("Monitor cross-account jobs", Developer Guide); with
    no organization every account sees only its own."""

    def __init__(self, management: str | None = None, delegated=(), members=()):
        self.management = management
        self.delegated = frozenset(delegated)
        self.members = frozenset(members) | self.delegated | frozenset([management] if management else [])

    @classmethod
    def from_spec(cls, spec: dict) -> Organization:
        """Control: {"managementAccount", "delegatedAdministrators"?, "members"?}; {} removes it."""
        management = spec.get("managementAccount")
        delegated, members = spec.get("delegatedAdministrators") or [], spec.get("members") or []
        if management is None:
            if delegated or members:
                raise invalid("An organization needs its managementAccount", "organization")
            return cls()
        for account in [management, *delegated, *members]:
            if not isinstance(account, str) or not TWELVE_DIGITS.match(account):
                raise invalid(f"{account!r} is not a 12-digit account id", "organization")
        if management in delegated:
            raise invalid("The management account cannot be a delegated administrator", "organization")
        return cls(management, delegated, members)

    def describe(self) -> dict:
        return {"managementAccount": self.management, "delegatedAdministrators": sorted(self.delegated),
                "members": sorted(self.members)}

    def monitors(self, account: str) -> bool:
        return self.management is not None and (account == self.management or account in self.delegated)

    def listing_accounts(self, caller: str, requested: str | None, context: str) -> frozenset:
        """The accounts whose jobs ListBackupJobs/ListCopyJobs with `ByAccountId` `requested` returns:
        the caller's own (none given, or its own id); from the management account or a delegated
        administrator, one member's or (`*`, ListBackupJobs only) every member's. Anything else is
        refused. ListCopyJobs' `*` never gets here: the model's pattern refuses it before (an
        assumption, not AWS's documented behaviour: backup_model.DOCUMENTED_VALUES)."""
        if requested is None or requested == caller:
            return frozenset([caller])
        if self.monitors(caller):
            if requested == "*":
                return self.members
            if requested in self.members:
                return frozenset([requested])
        raise access_denied(context)

    def summary_accounts(self, caller: str, requested: str | None) -> tuple[frozenset, bool]:
        """(accounts, summed) a job summary's `AccountId` covers: a member account (or one outside any
        organization) gets its own jobs whatever it asks ("jobs within requestor's account will be
        returned"); the management account and delegated administrators get one member's, or every
        member's per account (ANY) or summed (AGGREGATE_ALL)."""
        if not self.monitors(caller) or requested is None or requested == caller:
            return frozenset([caller]), False
        if requested in ("ANY", "AGGREGATE_ALL"):
            return self.members, requested == "AGGREGATE_ALL"
        if requested in self.members:
            return frozenset([requested]), False
        raise access_denied("ListCopyJobSummaries")


def summary_windows(period: str, at: float) -> list[tuple[float, float]]:
    """The periods of a job summary: ONE_DAY, the 14 UTC days ending today; SEVEN_DAYS and
    FOURTEEN_DAYS, one window ending now (docs/aws-facts.md, Organization view: presumed). Nothing
    older is counted: the model counts "copy jobs created or running within the the most recent 14
    days" (botocore 1.43.78 on; "30 days" from 1.31.85 to 1.43.77), ONE_DAY "The daily job count for
    the prior 14 days". A job created earlier and still running is not counted (presumed: which
    period AWS would count it in is not documented)."""
    if period == "ONE_DAY":
        today = at - at % DAY
        return [(today - back * DAY, today - (back - 1) * DAY) for back in range(13, -1, -1)]
    return [(round(at - (7 if period == "SEVEN_DAYS" else 14) * DAY, 3), at)]


def summary_dimension(value: str | None, wanted: str | None, *, any_case: bool = False) -> tuple[bool, str | None]:
    """(counted, value reported) of one dimension of a job for a summary asking `wanted`: ANY (and
    nothing asked) groups by the job's value, AGGREGATE_ALL sums every value, another value keeps only
    the jobs that have it."""
    if wanted is None or wanted == "ANY":
        return True, value
    if wanted == "AGGREGATE_ALL":
        return True, "AGGREGATE_ALL"
    same = (value or "").lower() == wanted.lower() if any_case else value == wanted
    return same, value


def summarize_copy_jobs(jobs: list[dict], region: str, params: dict, summed_accounts: bool, at: float) -> list[dict]:
    """ListCopyJobSummaries' rows of `jobs` (already those of the accounts and region asked): a
    count per period, account (left out when summed: the AccountId pattern forbids AGGREGATE_ALL),
    State, ResourceType and MessageCategory (case-insensitive); no row for a count of 0."""
    windows = summary_windows(params.get("AggregationPeriod") or "FOURTEEN_DAYS", at)
    counts = Counter()
    for job in jobs:
        created = job["CreationDate"]
        window = next((w for w in windows if w[0] <= created < w[1] or created == w[1] == at), None)
        if window is None:
            continue
        state = summary_dimension(job.get("State"), params.get("State"))
        resource = summary_dimension(job.get("ResourceType"), params.get("ResourceType"))
        category = summary_dimension(job.get("MessageCategory"), params.get("MessageCategory"), any_case=True)
        if state[0] and resource[0] and category[0]:
            account = None if summed_accounts else job.get("AccountId") or ACCOUNT
            counts[(window, account, state[1], resource[1], category[1])] += 1
    rows = []
    for (window, account, state, resource, category), count in sorted(
            counts.items(), key=lambda item: (item[0][0], *(part or "" for part in item[0][1:]))):
        row = {"Region": region, "AccountId": account, "State": state, "ResourceType": resource,
               "MessageCategory": category, "Count": count, "StartTime": window[0], "EndTime": window[1]}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def offset_page(items: list, key: str, limit: int, token: str | None, context: str) -> dict:
    """One page of `items` under `key` with an opaque offset NextToken (as _list's)."""
    start = 0
    if token:
        try:
            prefix, offset = base64.b64decode(token).decode().split(":")
            start = int(offset)
            assert prefix == key
        except (ValueError, IndexError, UnicodeDecodeError, AssertionError):
            raise invalid("Invalid NextToken", context) from None
    result = {key: items[start:start + limit]}
    if start + limit < len(items):
        result["NextToken"] = base64.b64encode(f"{key}:{start + limit}".encode()).decode()
    return result


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
        # {"recoveryPointArn"?, "destinationVaultArn"?, "compositeMemberIdentifier"?, "childIndex"?,
        #  "statusMessage", "messageCategory"?, "count"}
        self.fail_copies: list[dict] = []
        self.random = random.Random(seed)
        self.injected = Counter()

    def configure(self, spec: dict) -> None:
        """Control: /_standin/faults (what `spec` leaves out stays as it was)."""
        if "seed" in spec:
            self.random = random.Random(spec["seed"])
        self.throttle_rate = spec.get("throttleRate", self.throttle_rate)
        self.server_error_rate = spec.get("serverErrorRate", self.server_error_rate)
        self.latency_ms = spec.get("latencyMs", self.latency_ms)
        if "operations" in spec:
            self.operations = set(spec["operations"]) if spec["operations"] is not None else None
        for operation, count in spec.get("throttleNext", {}).items():
            self.throttle_next[operation] += count
        for rule in spec.get("failCopies", []):
            self.fail_copies.append({"count": 1, **rule})

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

    def copy_failure(self, job: dict, parent: dict | None, child_index: int | None) -> tuple[str, str | None] | None:
        """(status message, message category) a copy job must fail with, consuming one matching rule."""
        sources = {job["SourceRecoveryPointArn"]} | ({parent["SourceRecoveryPointArn"]} if parent else set())
        for rule in self.fail_copies:
            if rule.get("recoveryPointArn") is not None and rule["recoveryPointArn"] not in sources:
                continue
            if rule.get("destinationVaultArn") not in (None, job["DestinationBackupVaultArn"]):
                continue
            if rule.get("compositeMemberIdentifier") is not None and rule["compositeMemberIdentifier"] != job.get("CompositeMemberIdentifier"):
                continue
            if rule.get("childIndex") is not None and (child_index is None or rule["childIndex"] != child_index):
                continue
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.fail_copies.remove(rule)
            self.injected["copy_failure"] += 1
            message = rule["statusMessage"]
            return message, rule.get("messageCategory") or derive_category(message)
        return None


class Quotas:
    """AWS Backup's quotas, switched on through /_standin/quotas (docs/aws-facts.md, Service quotas
    and Quotas under a burst): request rates per operation (token buckets; beyond them
    ThrottlingException "Rate exceeded", HTTP 400) and the concurrent copy quotas, combined as
    docs/aws-facts.md presumes (AWS does not say how its entries combine). A copy job starts when
      * its resource (ResourceArn) has fewer than `perResource` backup or copy jobs running (AWS: 1),
        for a copy within the resource's account; a cross-account copy has instead at most
        `crossAccountPerResourceAndRegion` cross-account copies of its resource running to its
        destination region (AWS: 30), and
      * its account has fewer than `perDestinationRegion` copies running to the destination region
        (AWS: 100), OR, once that is reached, its destination vault fewer than `perDestinationVault`
        (AWS: 5, "after the limit (entry above) has been reached"). A vault cap without a region cap
        limits alone (as if the region's were always reached), a region cap without a vault cap too.
    Only RUNNING copy jobs (and RUNNING backup jobs, for the per-resource cap) occupy a slot (AWS
    limits running copies; a copy job that waits stays CREATED); parent jobs of composite copies do
    no copying of their own and take none. Without a configuration nothing is limited and the
    stand-in behaves as it always did."""

    LIMIT_MESSAGE = "There are too many copy jobs running for resource."  # [DASH], docs/aws-facts.md
    MODES = ("wait", "refuse", "fail")
    # The copyJobs keys and, for the per-resource ones, their defaults (AWS's figures) whenever a
    # copyJobs configuration is given; an explicit null switches one off.
    CAP_KEYS = {"vault": "perDestinationVault", "region": "perDestinationRegion", "resource": "perResource",
                "crossAccount": "crossAccountPerResourceAndRegion"}
    DEFAULTS = {"resource": 1, "crossAccount": 30}
    PEAKS = {"vault": "vaults", "region": "regions", "resource": "resources", "crossAccount": "crossAccount"}

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.configure({})
        self.throttled: Counter = Counter()
        self.peaks: dict[str, dict[str, int]] = {name: {} for name in self.PEAKS.values()}
        self.refused = 0
        self.waited: set[str] = set()  # ids of copy jobs that waited for a slot at least once
        self.failed = 0
        # By the cap that held a job back: {"refused"|"waited"|"failed": {kind: n}} (a waiting job
        # counted once per kind).
        self.limited_by: dict[str, Counter] = {"refused": Counter(), "waited": Counter(), "failed": Counter()}
        self.waited_by: set[tuple[str, str]] = set()
        # Unfinished, non-parent copy jobs by limited key (job id -> job). Entries are added when a
        # job is created or moves, and dropped when read once the job has ended (or turned parent),
        # so a path that sets a state without telling (bulk seeding) cannot leave a stale slot.
        self.active: dict[tuple, dict[str, dict]] = {}
        # RUNNING backup jobs by resource ARN (a backup job's state never moves in the stand-in).
        self.running_backups: Counter = Counter()

    def configure(self, spec: dict) -> None:
        """Control: /_standin/quotas. The body replaces the whole configuration; {} removes every
        quota. Buckets start full; the manual clock starts at 0."""
        rates = {}
        for operation, rate in (spec.get("rates") or {}).items():
            try:
                rates[operation] = (float(rate["perSecond"]), float(rate["burst"]))
            except (TypeError, KeyError, ValueError):
                rates[operation] = (-1.0, -1.0)
            if min(rates[operation]) < 0:
                raise invalid(f"rates.{operation} needs numbers perSecond >= 0 and burst >= 0", "quotas")
        copies = spec.get("copyJobs")
        configured = isinstance(copies, dict)
        copies = copies if configured else {}
        mode = copies.get("onLimit", "wait")
        if mode not in self.MODES:
            raise invalid(f"copyJobs.onLimit must be one of {', '.join(self.MODES)}", "quotas")
        caps = {kind: copies.get(key, self.DEFAULTS.get(kind)) if configured else None
                for kind, key in self.CAP_KEYS.items()}
        if any(cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1) for cap in caps.values()):
            raise invalid("copyJobs caps must be positive integers (or null: none)", "quotas")
        with self.lock:
            self.rates = rates
            self.manual = bool(spec.get("manualClock"))
            self.manual_now = 0.0
            self.buckets: dict[str, list[float]] = {}  # operation -> [tokens, at]
            self.caps = {kind: cap for kind, cap in caps.items() if cap is not None}
            self.mode = mode
            self.message = copies.get("statusMessage") or self.LIMIT_MESSAGE
            self.category = copies.get("messageCategory") or derive_category(self.message)

    def clock(self) -> float:
        return self.manual_now if self.manual else time.monotonic()

    def tick(self, seconds: float) -> dict:
        """Control: /_standin/quotas/clock, moves the manual clock forward."""
        with self.lock:
            if not self.manual:
                raise invalid("the quota clock is real time; configure manualClock to move it", "quotas/clock")
            if seconds < 0:
                raise invalid("the clock never goes back", "quotas/clock")
            self.manual_now += seconds
            return {"now": self.manual_now}

    # ------------------------------------------------------------------ request rates
    def admit(self, operation: str) -> None:
        """Takes a token of `operation`'s bucket ("*": every operation without its own), or raises
        AWS's throttling error. Each operation has a bucket of its own."""
        with self.lock:
            rate = self.rates.get(operation, self.rates.get("*"))
            if rate is None:
                return
            per_second, burst = rate
            now = self.clock()
            tokens, at = self.buckets.get(operation, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_second)
            if tokens >= 1:
                self.buckets[operation] = [tokens - 1, now]
                return
            self.buckets[operation] = [tokens, now]
            self.throttled[operation] += 1
        # The generic AWS throttling error (not in the Backup model): HTTP 400, ThrottlingException,
        # "Rate exceeded" (docs/aws-facts.md, Service quotas).
        raise ApiError(400, "ThrottlingException", "Rate exceeded")

    # ------------------------------------------------------------------ concurrent copy jobs
    @staticmethod
    def keys(job: dict) -> dict[str, tuple]:
        """The limited keys a copy job counts against, by kind: its destination vault; its account
        with the destination region (the quota is per account outbound to a destination region);
        and its resource: within its account ("resource": backup and copy jobs of that resource),
        or, copied to another account, with the destination region ("crossAccount")."""
        destination = job.get("DestinationBackupVaultArn") or ""
        match = VAULT_ARN.match(destination)
        region, owner = (match.group(1), match.group(2)) if match else ("?", "?")
        account = job.get("AccountId") or ACCOUNT
        keys = {"vault": ("vault", destination), "region": ("region", f"{account}/{region}")}
        resource = job.get("ResourceArn")
        if resource:
            keys["resource" if owner == account else "crossAccount"] = (
                ("resource", resource) if owner == account else ("crossAccount", f"{resource} -> {region}"))
        return keys

    def capped(self) -> bool:
        return bool(self.caps)

    def track(self, job: dict) -> None:
        """Called whenever a copy job is created or moves."""
        if job.get("IsParent") or job.get("State") in TERMINAL:
            for key in self.keys(job).values():
                self.active.get(key, {}).pop(job.get("CopyJobId"), None)
            return
        for key in self.keys(job).values():
            self.active.setdefault(key, {})[job["CopyJobId"]] = job

    def track_backup(self, job: dict) -> None:
        """Called when a backup job is created: a RUNNING one occupies its resource."""
        if job.get("State") == "RUNNING" and not job.get("IsParent"):
            self.running_backups[job["ResourceArn"]] += 1

    def counts(self, states: tuple[str, ...] = ("RUNNING",)) -> Counter:
        """Unfinished non-parent copy jobs in `states`, by key (ended ones are dropped here), and
        the RUNNING backup jobs under their resource's key."""
        result = Counter()
        for key, jobs in self.active.items():
            for job_id, job in list(jobs.items()):
                if job.get("IsParent") or job.get("State") in TERMINAL:
                    del jobs[job_id]
                elif job.get("State") in states:
                    result[key] += 1
        for resource, n in self.running_backups.items():
            result[("resource", resource)] += n
        return result

    def blocked_by(self, keys: dict[str, tuple], counts: Counter) -> str | None:
        """The kind of cap that keeps a job with `keys` from starting ("resource", "crossAccount",
        "region", "vault"), or None when it may start: its resource's cap first, then the region's
        OR, once that is reached, the vault's."""
        for kind in ("resource", "crossAccount"):
            if kind in keys and kind in self.caps and counts[keys[kind]] >= self.caps[kind]:
                return kind
        region_cap, vault_cap = self.caps.get("region"), self.caps.get("vault")
        if region_cap is None and vault_cap is None:
            return None
        if region_cap is not None and counts[keys["region"]] < region_cap:
            return None
        if vault_cap is not None and counts[keys["vault"]] < vault_cap:
            return None
        return "vault" if vault_cap is not None else "region"

    def observe(self) -> None:
        """Records the running jobs now as a peak, where higher."""
        for (kind, name), count in self.counts().items():
            peaks = self.peaks[self.PEAKS[kind]]
            peaks[name] = max(peaks.get(name, 0), count)

    def refusal(self, jobs: list[dict]) -> ApiError | None:
        """In "refuse" mode, StartCopyJob's answer when a copy job it would create (`jobs`, the
        non-parent ones) finds no free slot by the same rule as `advance`, counting every unfinished
        (CREATED or RUNNING) job as running, since a job the stand-in accepts runs at the next
        advance. AWS's wording is not documented."""
        if self.mode != "refuse" or not self.caps:
            return None
        counts = self.counts(("CREATED", "RUNNING"))
        for job in jobs:
            keys = self.keys(job)
            kind = self.blocked_by(keys, counts)
            if kind is None:
                continue
            self.refused += 1
            self.limited_by["refused"][kind] += 1
            name = keys[kind][1]
            what = {"vault": f"copy jobs to destination backup vault {name}",
                    "region": f"copy jobs to destination Region for account {name}",
                    "resource": f"backup and copy jobs for resource {name}",
                    "crossAccount": f"cross-account copy jobs of resource {name}"}[kind]
            return ApiError(400, "LimitExceededException", f"Too many concurrent {what}. Try again later.", context="StartCopyJob")
        return None

    def held_back(self, job_id: str, kind: str) -> None:
        """A job found no slot in an `advance` step, for want of `kind`'s."""
        if self.mode == "fail":
            self.failed += 1
            self.limited_by["failed"][kind] += 1
            return
        self.waited.add(job_id)
        if (job_id, kind) not in self.waited_by:
            self.waited_by.add((job_id, kind))
            self.limited_by["waited"][kind] += 1

    def report(self) -> dict:
        """What the `calls` control adds: throttled calls, peak concurrency, limited copy jobs."""
        with self.lock:
            throttled = dict(self.throttled)
        return {
            "throttled": throttled,
            "peakRunning": {kind: dict(peaks) for kind, peaks in self.peaks.items()},
            "limited": {"refused": self.refused, "waited": len(self.waited), "failed": self.failed},
            "limitedBy": {outcome: dict(kinds) for outcome, kinds in self.limited_by.items()},
        }


class Backup:
    """The service state. All access under one lock; SNS publishing happens outside it."""

    def __init__(self, sns_endpoint: str | None):
        self.lock = threading.RLock()
        self.sns_endpoint = sns_endpoint
        self._sns = {}
        self.faults = Faults()
        self.quotas = Quotas()
        self.version = 0  # bumped by changed()
        self.reset()

    def reset(self):
        with self.lock:
            self.vaults: dict[tuple[str, str, str], dict] = {}  # (account, region, name) -> vault
            self.recovery_points: dict[str, dict] = {}  # arn -> point (see _new_point)
            self.backup_jobs: dict[str, dict] = {}  # id -> DescribeBackupJobOutput members
            self.copy_jobs: dict[str, dict] = {}  # id -> CopyJob members
            self.copy_order: list[str] = []
            self.children: dict[str, list[str]] = {}  # parent copy job id -> child ids, in order
            # AWS Backup's own copies of temporary recovery points into logically air-gapped vaults:
            # their source is deleted once they complete (DELETE_AFTER_COPY).
            self.system_copies: set[str] = set()
            self.tokens: dict[str, tuple[str, str]] = {}
            self.plans: dict[str, dict] = {}  # plan id -> {"versions": {version: plan}, "latest": version}
            self.calls = Counter()
            self.published: list[dict] = []
            self.passable_roles: set[str] | None = None  # None: every role may be passed
            self.corruptions: list[dict] = []  # test-only response corruption {"operation", "merge", "count"}
            self.organization = Organization()  # none: every account sees only its own jobs
            self.faults.reset()
            self.quotas.reset()
            # The jobs a listing selects (see _selected), reused by its next pages until changed().
            self.listings: dict[tuple, list[dict]] = {}
            self.listed_version = self.version
            self.changed()

    def changed(self) -> None:
        """Called under the lock by whatever adds a job or changes one (once per hold of the lock
        is enough: a listing takes it too): the selections of listings made before are stale."""
        self.version += 1

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
            "EventType": event_type, "State": state, "AccountId": vault.get("account", ACCOUNT), "Id": job_id,
            "StartTime": iso(start),
        }
        record = {"topic": topic, "subject": "Notification from AWS Backup", "message": text, "attributes": attributes}
        self.published.append(record)
        if self.sns_endpoint:
            self.sns(topic.split(":")[3]).publish(
                TopicArn=topic, Subject=record["subject"], Message=text,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )

    # ------------------------------------------------------------------ helpers
    def vault(self, region: str, name: str, context: str, account: str | None = None) -> dict:
        """A vault of `account` (the caller's when None) in `region`, by name."""
        vault = self.vaults.get((account or caller_account(), region, name))
        if vault is None:
            raise not_found(f"Backup vault {name} does not exist in {region}", context)
        return vault

    def vault_by_arn(self, arn: str) -> dict | None:
        match = VAULT_ARN.match(arn or "")
        return match and self.vaults.get((match.group(2), match.group(1), match.group(3)))

    # ------------------------------------------------------------------ vaults
    def create_backup_vault(self, region: str, params: dict) -> dict:
        name = params["BackupVaultName"]
        if not VAULT_NAME.match(name):
            raise invalid("Invalid backup vault name", "CreateBackupVault")
        account = caller_account()
        with self.lock:
            if (account, region, name) in self.vaults:
                raise ApiError(400, "AlreadyExistsException", f"Backup vault {name} already exists", context="CreateBackupVault")
            arn = f"arn:aws:backup:{region}:{account}:backup-vault:{name}"
            vault = {"name": name, "arn": arn, "region": region, "account": account, "created": now(), "notifications": None}
            self.vaults[(account, region, name)] = vault
            return {"BackupVaultName": name, "BackupVaultArn": arn, "CreationDate": vault["created"]}

    def create_air_gapped_vault(self, region: str, params: dict) -> dict:
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
        result = self.create_backup_vault(region, {"BackupVaultName": name})
        with self.lock:
            vault = self.vaults[(caller_account(), region, name)]
            vault.update({"type": AIR_GAPPED, "minRetentionDays": low, "maxRetentionDays": high})
        return {**result, "VaultState": "AVAILABLE"}

    def describe_backup_vault(self, region: str, params: dict) -> dict:
        name = params["BackupVaultName"]
        with self.lock:
            vault = self.vault(region, name, "DescribeBackupVault")
            points = sum(1 for p in self.recovery_points.values() if p["vault"] == vault["arn"])
            result = {
                "BackupVaultName": name, "BackupVaultArn": vault["arn"], "VaultType": vault.get("type", "BACKUP_VAULT"),
                "CreationDate": vault["created"], "NumberOfRecoveryPoints": points, "Locked": False,
            }
            if vault.get("type") == AIR_GAPPED:
                result.update({"Locked": True, "VaultState": "AVAILABLE", "MinRetentionDays": vault["minRetentionDays"],
                               "MaxRetentionDays": vault["maxRetentionDays"]})
            return result

    def put_notifications(self, region: str, params: dict) -> dict:
        ctx = "PutBackupVaultNotifications"
        name, topic, events = params["BackupVaultName"], params["SNSTopicArn"], params["BackupVaultEvents"]
        if not ARN.match(topic) or ":sns:" not in topic:
            raise invalid("SNSTopicArn is not a valid SNS topic ARN", ctx)
        if any(e in DEPRECATED_EVENTS for e in events):
            # AWS's wording, HTTP 400 (aws-cloudformation/cloudformation-coverage-roadmap#1188: "Please
            # select from the following list of notifications BACKUP_JOB_STARTED, BACKUP_JOB_COMPLETED,
            # ..."); the error code is not shown there: InvalidParameterValueException.
            raise invalid(f"Please select from the following list of notifications {', '.join(SUPPORTED_EVENTS)}", ctx)
        with self.lock:
            vault = self.vault(region, name, ctx)
            vault["notifications"] = {"SNSTopicArn": topic, "BackupVaultEvents": list(events)}  # replaces the list
        return {}

    def set_raw_notifications(self, spec: dict) -> dict:
        """Control: a configuration as an old vault has it, deprecated events included."""
        with self.lock:
            vault = self.vault(spec.get("region", DEFAULT_REGION), spec["vault"], "set-raw", spec.get("account") or ACCOUNT)
            vault["notifications"] = {"SNSTopicArn": spec["SNSTopicArn"], "BackupVaultEvents": list(spec["BackupVaultEvents"])}
        return {}

    def get_notifications(self, region: str, params: dict) -> dict:
        name = params["BackupVaultName"]
        with self.lock:
            vault = self.vault(region, name, "GetBackupVaultNotifications")
            if not vault["notifications"]:
                raise not_found(f"Backup vault {name} has no notification configuration", "GetBackupVaultNotifications")
            return {"BackupVaultName": name, "BackupVaultArn": vault["arn"], **copying.deepcopy(vault["notifications"])}

    # ------------------------------------------------------------------ plans
    def create_backup_plan(self, region: str, params: dict) -> dict:
        plan = params["BackupPlan"]  # required members checked against the model
        stored_rules = []
        for rule in plan["Rules"]:
            validate_lifecycle(rule.get("Lifecycle"), "CreateBackupPlan")
            for action in rule.get("CopyActions", []):
                validate_lifecycle(action.get("Lifecycle"), "CreateBackupPlan")
            stored_rules.append({**copying.deepcopy(rule), "RuleId": str(uuid.uuid4())})
        plan_id = str(uuid.uuid4())
        version = base64.b64encode(str(uuid.uuid4()).encode()).decode()
        arn = f"arn:aws:backup:{region}:{caller_account()}:backup-plan:{plan_id}"
        created = now()
        with self.lock:
            self.plans[plan_id] = {
                "latest": version,
                "versions": {version: {"BackupPlanName": plan["BackupPlanName"], "Rules": stored_rules}},
                "arn": arn,
                "created": created,
            }
        return {"BackupPlanId": plan_id, "BackupPlanArn": arn, "CreationDate": created, "VersionId": version}

    def get_backup_plan(self, region: str, params: dict) -> dict:
        plan_id, version = params["BackupPlanId"], params.get("VersionId")
        with self.lock:
            plan = self.plans.get(plan_id)
            version = version or (plan and plan["latest"])
            # A plan is the caller's own in this region (its ARN says whose and where).
            if plan is None or version not in plan["versions"] or arn_scope(plan["arn"]) != (caller_account(), region):
                raise not_found("Failed reading Backup plan with provided version", "GetBackupPlan")
            return {
                "BackupPlan": copying.deepcopy(plan["versions"][version]), "BackupPlanId": plan_id,
                "BackupPlanArn": plan["arn"], "VersionId": version, "CreationDate": plan["created"],
            }

    # ------------------------------------------------------------------ recovery points
    def _new_point(self, arn: str, vault: dict, resource_arn: str, resource_type: str, backup_job_id: str | None,
                   role: str, lifecycle: dict | None, created_by: dict | None, *, continuous: bool = False,
                   parent: str | None = None, member: str | None = None, source_vault: str | None = None,
                   created: float | None = None) -> dict:
        point = {
            "arn": arn, "vault": vault["arn"], "vaultName": vault["name"], "resourceArn": resource_arn,
            "resourceType": resource_type, "backupJobId": backup_job_id, "iamRoleArn": role,
            "created": created if created is not None else now(), "lifecycle": copying.deepcopy(lifecycle) if lifecycle else None,
            "createdBy": created_by, "continuous": continuous, "parent": parent, "member": member,
            "children": [], "sourceVault": source_vault,
            # Overrides set through /_standin/recovery-points/set (None: derived from the lifecycle).
            "storageClass": None, "status": None, "calculatedLifecycle": None,
        }
        self.recovery_points[arn] = point
        if parent:
            self.recovery_points[parent]["children"].append(arn)
        return point

    @staticmethod
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

    def point_state(self, point: dict) -> tuple[str, str]:
        """(Status, StorageClass) now: the overrides, else what the lifecycle reached."""
        calculated = self.calculated_lifecycle(point) or {}
        status, storage = "COMPLETED", "WARM"
        t = time.time()
        if calculated.get("MoveToColdStorageAt") is not None and t >= calculated["MoveToColdStorageAt"]:
            storage = "COLD"
        if calculated.get("DeleteAt") is not None and t >= calculated["DeleteAt"]:
            status, storage = "EXPIRED", "DELETED"
        return point.get("status") or status, point.get("storageClass") or storage

    def describe_recovery_point(self, region: str, params: dict) -> dict:
        """DescribeRecoveryPoint: StorageClass, Status and CalculatedLifecycle decide whether a copy can work."""
        vault_name, arn = params["BackupVaultName"], params["RecoveryPointArn"]
        with self.lock:
            vault = self.vault(region, vault_name, "DescribeRecoveryPoint")
            point = self.recovery_points.get(arn)
            if point is None or point["vault"] != vault["arn"]:
                raise not_found(f"Recovery point {arn} not found in vault {vault_name}", "DescribeRecoveryPoint")
            return self.point_description(point)

    def point_description(self, point: dict) -> dict:
        status, storage = self.point_state(point)
        result = {
            "RecoveryPointArn": point["arn"], "BackupVaultName": point["vaultName"], "BackupVaultArn": point["vault"],
            "SourceBackupVaultArn": point["sourceVault"], "ResourceArn": point["resourceArn"],
            "ResourceType": point["resourceType"], "CreatedBy": copying.deepcopy(point["createdBy"]),
            "IamRoleArn": point["iamRoleArn"], "Status": status, "CreationDate": point["created"],
            "InitiationDate": point["created"], "CompletionDate": point["created"], "BackupSizeInBytes": 1073741824,
            "CalculatedLifecycle": self.calculated_lifecycle(point), "Lifecycle": copying.deepcopy(point["lifecycle"]),
            "IsEncrypted": False, "StorageClass": storage, "ParentRecoveryPointArn": point["parent"],
            "CompositeMemberIdentifier": point["member"], "IsParent": bool(point["children"]),
            "VaultType": (self.vault_by_arn(point["vault"]) or {}).get("type", "BACKUP_VAULT"),
        }
        if status == "EXPIRED":
            result["StatusMessage"] = "The recovery point has exceeded its retention period."  # wording not documented
        return {k: v for k, v in result.items() if v is not None}

    def set_point(self, spec: dict) -> dict:
        """Control: /_standin/recovery-points/set."""
        with self.lock:
            point = self.recovery_points.get(spec["recoveryPointArn"])
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
            return self.point_description(point)

    # ------------------------------------------------------------------ backup jobs
    def complete_backup(self, spec: dict) -> dict:
        """Control: a backup job ends (COMPLETED creates a recovery point and starts plan CopyActions)."""
        region = spec.get("region", DEFAULT_REGION)
        account = spec.get("account") or ACCOUNT
        state = spec.get("state", "COMPLETED")
        pending = []
        with self.lock:
            vault = self.vault(region, spec["vault"], "complete_backup", account)
            created = float(spec["creationDate"]) if spec.get("creationDate") is not None else now()
            role = spec.get("iamRoleArn", f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole")
            rule, created_by = None, None
            if spec.get("planId"):
                plan = self.plans[spec["planId"]]
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
                air_gapped = self.vault_by_arn(air_gapped_arn)
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
            job = self._backup_job(vault, spec["resourceArn"], spec.get("resourceType", "EBS"), state, role, created,
                                   created_by, lifecycle, continuous, is_parent=bool(composite))
            pending.append(job)
            child_jobs = []
            for index, child in enumerate(children_specs):
                child_job = self._backup_job(
                    vault, child.get("resourceArn", f"arn:aws:ec2:{region}:{account}:volume/vol-{uuid.uuid4().hex[:17]}"),
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
                copies += self._start_copy(job["RecoveryPointArn"], vault, air_gapped["arn"], role, kept, created_by,
                                           job["BackupJobId"])
                for copy_job in copies:
                    copy_job.update({"CreatedByBackupJobId": job["BackupJobId"], "DestinationVaultType": AIR_GAPPED,
                                     "DestinationVaultLockState": "LOCKED"})
                    self.system_copies.add(copy_job["CopyJobId"])
            elif state == "COMPLETED" and rule:
                for action in rule.get("CopyActions", []):
                    # The job does not report the CopyAction's lifecycle (DestinationRecoveryPointLifecycle
                    # absent): the plan rule holds it, as the e2e tests expect of AWS.
                    copies += self._start_copy(job["RecoveryPointArn"], vault, action["DestinationBackupVaultArn"], role,
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
            self.notify(vault, "BACKUP_JOB_COMPLETED", "BACKUP_JOB", state, backup_job["BackupJobId"], created, text)
        for copy_job in copies:
            self._notify_copy(copy_job)
        return result

    def _backup_job(self, vault, resource_arn, resource_type, state, role, created, created_by, lifecycle, continuous,
                    *, is_parent=False, parent_job=None, member=None) -> dict:
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
            self._new_point(rp, vault, resource_arn, resource_type, job_id, role, lifecycle, created_by,
                            continuous=continuous, parent=parent_job and parent_job.get("RecoveryPointArn"),
                            member=member, created=created)
        else:
            job["CompletionDate"] = now()
        job = {k: v for k, v in job.items() if v is not None}
        self.backup_jobs[job_id] = job
        self.quotas.track_backup(job)
        self.changed()
        return job

    def describe_backup_job(self, region: str, params: dict) -> dict:
        job_id = params["BackupJobId"]
        with self.lock:
            job = self.backup_jobs.get(job_id)
            # Only the caller's own jobs in this region (a member's job is not found from elsewhere).
            if job is None or job_scope(job, "BackupVaultArn") != (caller_account(), region):
                raise not_found(f"Backup job {job_id} not found", "DescribeBackupJob")
            return project(copying.deepcopy(job), "DescribeBackupJobOutput")

    # ------------------------------------------------------------------ copy jobs
    def _new_copy_job(self, rp: str, source_vault: dict, destination: str, role: str, lifecycle, created_by, backup_job_id,
                      *, parent: dict | None = None) -> dict:
        job_id = str(uuid.uuid4()).upper()
        point = self.recovery_points[rp]
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
        if (self.vault_by_arn(destination) or {}).get("type") == AIR_GAPPED:
            job.update({"DestinationVaultType": AIR_GAPPED, "DestinationVaultLockState": "LOCKED"})
        if created_by:
            job["CreatedBy"] = copying.deepcopy(created_by)
            job["CreatedByBackupJobId"] = backup_job_id
        if parent is not None:
            job["ParentJobId"] = parent["CopyJobId"]
            if point["member"]:
                job["CompositeMemberIdentifier"] = point["member"]
            self.children[parent["CopyJobId"]].append(job_id)
        self.copy_jobs[job_id] = job
        self.copy_order.append(job_id)
        self.quotas.track(job)
        self.changed()
        return job

    def _start_copy(self, rp: str, source_vault: dict, destination: str, role: str, lifecycle, created_by, backup_job_id) -> list[dict]:
        """Creates the copy job of `rp` (with its child copy jobs when `rp` is a composite parent).
        Returns every job created, parent first."""
        point = self.recovery_points[rp]
        job = self._new_copy_job(rp, source_vault, destination, role, lifecycle, created_by, backup_job_id)
        if not point["children"]:
            return [job]
        job["IsParent"] = True
        job["NumberOfChildJobs"] = len(point["children"])
        self.children[job["CopyJobId"]] = []
        jobs = [job]
        for child in point["children"]:
            jobs.append(self._new_copy_job(child, source_vault, destination, role, lifecycle, created_by, backup_job_id, parent=job))
        job["ChildJobsInState"] = self._child_states(job["CopyJobId"])
        return jobs

    def _child_states(self, parent_id: str) -> dict:
        return dict(Counter(self.copy_jobs[c]["State"] for c in self.children.get(parent_id, [])))

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

    def start_copy_job(self, region: str, params: dict) -> dict:
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
        with self.lock:
            if token and token in self.tokens:
                earlier, job_id = self.tokens[token]
                if earlier != fingerprint:
                    raise invalid_request("IdempotencyToken was already used with different parameters", ctx)
                job = self.copy_jobs[job_id]
                return {"CopyJobId": job_id, "CreationDate": job["CreationDate"], "IsParent": job["IsParent"]}
            source = self.vault(region, params["SourceBackupVaultName"], ctx)
            point = self.recovery_points.get(rp)
            status, storage = self.point_state(point) if point else (None, None)
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
            if self.passable_roles is not None and role not in self.passable_roles:
                # IAM's standard AccessDenied wording; AccessDeniedException is not in the backup
                # model (it comes from IAM's authorization of iam:PassRole).
                raise ApiError(
                    403, "AccessDeniedException",
                    f"User: {CALLER.replace(ACCOUNT, caller_account(), 1)} is not authorized to perform: iam:PassRole on resource: {role}", context=ctx,
                )
            if self.vault_by_arn(destination) is None:
                raise not_found("Destination backup vault does not exist", ctx)
            # Quotas "refuse" mode: no free slot for a job this start would create (the point's, or
            # each child's of a composite point) is LimitExceededException.
            account = VAULT_ARN.match(source["arn"]).group(2)
            members = [self.recovery_points[c] for c in point["children"]] if point["children"] else [point]
            refusal = self.quotas.refusal([{"DestinationBackupVaultArn": destination, "AccountId": account,
                                            "ResourceArn": member["resourceArn"]} for member in members])
            if refusal:
                raise refusal
            jobs = self._start_copy(rp, source, destination, role, params.get("Lifecycle"), None, None)
            job = jobs[0]
            if token:
                self.tokens[token] = (fingerprint, job["CopyJobId"])
            snapshots = [dict(j) for j in jobs]
        for snapshot in snapshots:
            self._notify_copy(snapshot)
        return {"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": job["IsParent"]}

    def describe_copy_job(self, region: str, params: dict) -> dict:
        job_id = params["CopyJobId"]
        with self.lock:
            job = self.copy_jobs.get(job_id)
            # Only the caller's own jobs in this region (a member's job is not found from elsewhere).
            if job is None or job_scope(job, "SourceBackupVaultArn") != (caller_account(), region):
                raise not_found(f"Copy job {job_id} not found", "DescribeCopyJob")
            return {"CopyJob": copying.deepcopy(job)}

    def transition(self, job_id: str, state: str, message: str | None, category: str | None = None) -> list[dict]:
        """Moves a copy job forward (never back) and publishes the vault notification; a child's
        parent follows. Returns the snapshots of every job that moved (the job, then its parent)."""
        with self.lock:
            job = self.copy_jobs.get(job_id)
            if job is None:
                raise not_found(f"Copy job {job_id} not found", "transition")
            if state not in COPY_STATES or COPY_STATES.index(state) <= COPY_STATES.index(job["State"]) or job["State"] in TERMINAL:
                raise invalid(f"cannot move copy job from {job['State']} to {state}", "transition")
            self._set_state(job, state, message, category)
            moved = [dict(job)]
            parent = self.copy_jobs.get(job.get("ParentJobId") or "")
            if parent is not None:
                moved += self._derive_parent(parent)
        for snapshot in moved:
            self._notify_copy(snapshot)
        return moved

    def _set_state(self, job: dict, state: str, message: str | None, category: str | None) -> None:
        job["State"] = state
        self.changed()
        self.quotas.track(job)
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
            source = self.recovery_points[job["SourceRecoveryPointArn"]]
            # A copy is a snapshot (periodic) recovery point even of a continuous backup ("When a
            # cross-Region or cross-account copy of a continuous backup is made, the copied recovery
            # point (backup) becomes a snapshot (periodic) backup", Developer Guide).
            arn = f"arn:aws:backup:{destination.group(1)}:{destination.group(2)}:recovery-point:{str(uuid.uuid4()).upper()}"
            job["DestinationRecoveryPointArn"] = arn
            target = self.vault_by_arn(job["DestinationBackupVaultArn"]) or {
                "arn": job["DestinationBackupVaultArn"], "name": destination.group(3)}
            parent_job = self.copy_jobs.get(job.get("ParentJobId") or "")
            parent_point = parent_job and parent_job.get("DestinationRecoveryPointArn")
            self._new_point(arn, target, source["resourceArn"], source["resourceType"], None, job["IamRoleArn"],
                            job.get("DestinationRecoveryPointLifecycle"), job.get("CreatedBy"),
                            parent=parent_point if parent_point in self.recovery_points else None,
                            member=source["member"], source_vault=job["SourceBackupVaultArn"])
        if state == "COMPLETED" and job["CopyJobId"] in self.system_copies:
            # DELETE_AFTER_COPY: AWS Backup deletes the temporary recovery point once copied.
            self.recovery_points.pop(job["SourceRecoveryPointArn"], None)
        if job["IsParent"]:
            job["ChildJobsInState"] = self._child_states(job["CopyJobId"])
            if job.get("DestinationRecoveryPointArn"):
                # The children finished first: their copies become this copy's children.
                for child_id in self.children.get(job["CopyJobId"], []):
                    child_point = self.recovery_points.get(self.copy_jobs[child_id].get("DestinationRecoveryPointArn") or "")
                    if child_point is not None and child_point["parent"] is None:
                        child_point["parent"] = job["DestinationRecoveryPointArn"]
                        self.recovery_points[job["DestinationRecoveryPointArn"]]["children"].append(child_point["arn"])

    def _derive_parent(self, parent: dict) -> list[dict]:
        """The parent's state from its children's: RUNNING once a child moved; when every child
        ended, COMPLETED if all completed, FAILED if all failed, else PARTIAL. How AWS derives it is
        not documented in detail (docs/aws-facts.md, Composite jobs)."""
        children = [self.copy_jobs[c] for c in self.children.get(parent["CopyJobId"], [])]
        parent["ChildJobsInState"] = self._child_states(parent["CopyJobId"])
        self.changed()
        if parent["State"] in TERMINAL:
            return []
        states = [c["State"] for c in children]
        moved = []
        if parent["State"] == "CREATED" and any(s != "CREATED" for s in states):
            self._set_state(parent, "RUNNING", None, None)
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
                self._set_state(parent, "RUNNING", None, None)
            self._set_state(parent, final, message, category)
            moved.append(dict(parent))
        return moved

    def advance(self) -> list[dict]:
        """Control: every unfinished copy job runs to its end: FAILED when a fault rule matches it,
        else COMPLETED. Parent jobs are not run: they follow their children. Returns the jobs
        that moved (their last snapshot each). Under a concurrent copy job cap it is one step of
        time instead (see advance_step)."""
        if self.quotas.capped():
            return self.advance_step()
        with self.lock:
            pending = [self.copy_jobs[i] for i in self.copy_order
                       if self.copy_jobs[i]["State"] not in TERMINAL and not self.copy_jobs[i]["IsParent"]]
            plans = []
            for job in pending:
                parent = self.copy_jobs.get(job.get("ParentJobId") or "")
                index = self.children[parent["CopyJobId"]].index(job["CopyJobId"]) if parent else None
                plans.append((job["CopyJobId"], self.faults.copy_failure(job, parent, index)))
        moved = {}
        for job_id, failure in plans:
            if self.copy_jobs[job_id]["State"] == "CREATED":
                for snapshot in self.transition(job_id, "RUNNING", None):
                    moved[snapshot["CopyJobId"]] = snapshot
            message, category = failure or (None, None)
            for snapshot in self.transition(job_id, "FAILED" if failure else "COMPLETED", message, category):
                moved[snapshot["CopyJobId"]] = snapshot
        return list(moved.values())

    def advance_step(self) -> list[dict]:
        """Control `advance` under a concurrent copy job cap: one step of time. First every copy
        job RUNNING at the start ends (FAILED when a fault rule matches it, else COMPLETED),
        freeing its slot; then CREATED jobs start RUNNING, oldest first, each when the quotas'
        rule admits it (see Quotas: its resource free, and its account's destination region or,
        that reached, its destination vault with a free slot). A job that is not admitted stays
        CREATED ("wait", "refuse") or FAILS with AWS's limit message ("fail"). Jobs
        started in a step end in the next one, so RUNNING is observable and a burst is driven
        forward step by step until `advance` moves nothing."""
        quotas = self.quotas
        with self.lock:
            unfinished = [self.copy_jobs[i] for i in self.copy_order
                          if self.copy_jobs[i]["State"] not in TERMINAL and not self.copy_jobs[i]["IsParent"]]
            ending = []
            for job in unfinished:
                if job["State"] == "RUNNING":
                    parent = self.copy_jobs.get(job.get("ParentJobId") or "")
                    index = self.children[parent["CopyJobId"]].index(job["CopyJobId"]) if parent else None
                    ending.append((job["CopyJobId"], self.faults.copy_failure(job, parent, index)))
            waiting = [job["CopyJobId"] for job in unfinished if job["State"] == "CREATED"]
        moved = {}

        def move(job_id: str, state: str, message: str | None = None, category: str | None = None):
            for snapshot in self.transition(job_id, state, message, category):
                moved[snapshot["CopyJobId"]] = snapshot

        for job_id, failure in ending:
            message, category = failure or (None, None)
            move(job_id, "FAILED" if failure else "COMPLETED", message, category)
        with self.lock:
            running = quotas.counts()
            starting, limited = [], []
            for job_id in waiting:
                keys = quotas.keys(self.copy_jobs[job_id])
                kind = quotas.blocked_by(keys, running)
                if kind is None:
                    running.update(keys.values())
                    starting.append(job_id)
                else:
                    limited.append((job_id, kind))
        for job_id in starting:
            move(job_id, "RUNNING")
        for job_id, kind in limited:
            quotas.held_back(job_id, kind)
            if quotas.mode == "fail":
                move(job_id, "FAILED", quotas.message, quotas.category)
        with self.lock:
            quotas.observe()
        return list(moved.values())

    # Listings whose selection is kept (a sweep pages through one or two at a time).
    LISTINGS_KEPT = 8

    def _list(self, ctx: str, key: str, jobs: Callable[[], list], scope: set, params: dict, equal_filters: dict,
              shape=None) -> dict:
        """List semantics shared by ListCopyJobs and ListBackupJobs: equality filters, created/complete
        time windows, MaxResults 1..1000 (the model), opaque NextToken. `jobs` gives the jobs in
        scope, in order. `shape` (the output shape's projection) is applied to the returned page only:
        a listing of 100,000 jobs stays cheap per page."""
        limit = params.get("MaxResults") or 1000
        selected = self._selected(ctx, jobs, scope, params, equal_filters)
        start = 0
        if params.get("NextToken"):
            try:
                prefix, offset = base64.b64decode(params["NextToken"]).decode().split(":")
                start = int(offset)
                assert prefix == key
            except (ValueError, IndexError, UnicodeDecodeError, AssertionError):
                raise invalid("Invalid NextToken", ctx) from None
        page = selected[start:start + limit]
        # A copy of each job (nulls left out, as the reply leaves them), taken under the lock.
        result = {key: [without_nulls(shape(job) if shape else job) for job in page]}
        if start + limit < len(selected):
            result["NextToken"] = base64.b64encode(f"{key}:{start + limit}".encode()).decode()
        return result

    def _selected(self, ctx: str, jobs: Callable[[], list], scope: set, params: dict, equal_filters: dict) -> list[dict]:
        """The jobs a listing returns, in order: computed once per listing (its scope and filters)
        and reused by its next pages while no job changed (see changed()), so that paging through
        100,000 jobs does not filter them all again for every page."""

        def stamp(name):
            return epoch(params[name]) if params.get(name) is not None else None

        equal = tuple((member, params[param]) for param, member in equal_filters.items() if param in params)
        members, wanted = tuple(member for member, _ in equal), tuple(value for _, value in equal)
        created_before, created_after = stamp("ByCreatedBefore"), stamp("ByCreatedAfter")
        complete_before, complete_after = stamp("ByCompleteBefore"), stamp("ByCompleteAfter")
        listing = (ctx, frozenset(scope), equal, created_before, created_after, complete_before, complete_after)
        if self.listed_version != self.version:
            self.listings.clear()
            self.listed_version = self.version
        selected = self.listings.get(listing)
        if selected is not None:
            return selected
        selected = []
        for job in jobs():
            if members and tuple(map(job.get, members)) != wanted:  # a filter's member differs
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
            selected.append(job)
        if len(self.listings) >= self.LISTINGS_KEPT:
            del self.listings[next(iter(self.listings))]  # the oldest
        self.listings[listing] = selected
        return selected

    def list_copy_jobs(self, region: str, params: dict) -> dict:
        with self.lock:
            # ByAccountId says whose jobs, always of this region (see listing_scope).
            scope = self.listing_scope("ListCopyJobs", region, params)
            return self._list("ListCopyJobs", "CopyJobs", lambda: jobs_in_scope(
                map(self.copy_jobs.__getitem__, self.copy_order), "SourceBackupVaultArn", scope), scope, params, {
                "ByResourceArn": "ResourceArn", "ByState": "State", "ByResourceType": "ResourceType",
                "ByDestinationVaultArn": "DestinationBackupVaultArn",
                "ByParentJobId": "ParentJobId", "BySourceRecoveryPointArn": "SourceRecoveryPointArn",
                "ByMessageCategory": "MessageCategory",
            })

    def list_backup_jobs(self, region: str, params: dict) -> dict:
        with self.lock:
            scope = self.listing_scope("ListBackupJobs", region, params)
            return self._list("ListBackupJobs", "BackupJobs", lambda: jobs_in_scope(
                self.backup_jobs.values(), "BackupVaultArn", scope), scope, params, {
                "ByResourceArn": "ResourceArn", "ByState": "State", "ByBackupVaultName": "BackupVaultName",
                "ByResourceType": "ResourceType", "ByParentJobId": "ParentJobId",
                "ByMessageCategory": "MessageCategory",
            }, shape=lambda job: project(job, "BackupJob"))

    # ------------------------------------------------------------------ the organization view
    def listing_scope(self, context: str, region: str, params: dict) -> set[tuple[str, str]]:
        """The (account, region) pairs a job listing returns: the accounts `ByAccountId` names (the
        caller's own without it; others only from the organization's management account or a
        delegated administrator, else AccessDeniedException), in the request's region only
        (docs/aws-facts.md, Organization view)."""
        accounts = self.organization.listing_accounts(caller_account(), params.get("ByAccountId"), context)
        return {(account, region) for account in accounts}

    def list_copy_job_summaries(self, region: str, params: dict) -> dict:
        """ListCopyJobSummaries: counts of the copy jobs created in the aggregation period, per
        period, account, State, ResourceType and MessageCategory (see summarize_copy_jobs), of the
        accounts `AccountId` covers (Organization.summary_accounts), in the request's region."""
        ctx = "ListCopyJobSummaries"
        limit = params.get("MaxResults") or SUMMARY_MAX_RESULTS
        if limit > SUMMARY_MAX_RESULTS:
            # "Range of accepted values is from 1 to 500" although the shape allows 1000: refused
            # (presumed; wording not documented).
            raise invalid(f"MaxResults must be between 1 and {SUMMARY_MAX_RESULTS}", ctx)
        with self.lock:
            accounts, summed = self.organization.summary_accounts(caller_account(), params.get("AccountId"))
            scope = {(account, region) for account in accounts}
            jobs = jobs_in_scope(map(self.copy_jobs.__getitem__, self.copy_order), "SourceBackupVaultArn", scope)
            rows = summarize_copy_jobs(jobs, region, params, summed, now())
        page = offset_page(rows, "CopyJobSummaries", limit, params.get("NextToken"), ctx)
        return {**page, "AggregationPeriod": params.get("AggregationPeriod") or "FOURTEEN_DAYS"}

    def control_organization(self, body: dict) -> dict:
        """Control: /_standin/organization. Returns the organization as it now is."""
        organization = Organization.from_spec(body)
        with self.lock:
            self.organization = organization
        return organization.describe()

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
        category = spec.get("messageCategory") or derive_category(message)
        region = spec.get("region", DEFAULT_REGION)
        account = spec.get("account") or ACCOUNT
        created = {"backups": 0, "copies": 0}
        with self.lock:
            vault = self.vault(region, spec["vault"], "bulk", account)
            notifications, vault["notifications"] = vault["notifications"], None
            try:
                for index in range(spec["count"]):
                    job = self.complete_backup({
                        "vault": vault["name"], "region": region, "account": account, "resourceType": spec.get("resourceType", "EBS"),
                        "resourceArn": f"arn:aws:ec2:{region}:{account}:volume/vol-bulk{index:06d}",
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
                            copy["MessageCategory"] = category
                        elif state == "COMPLETED":
                            copy["MessageCategory"] = "SUCCESS"
                            # Named as a completed copy's is (the point itself is not modelled).
                            to = VAULT_ARN.match(copy["DestinationBackupVaultArn"])
                            copy["DestinationRecoveryPointArn"] = f"arn:aws:backup:{to.group(1)}:{to.group(2)}:recovery-point:{str(uuid.uuid4()).upper()}"
                        created["copies"] += 1
            finally:
                vault["notifications"] = notifications
                self.changed()  # the copies' states and dates were set after they were created
        return created

    # ------------------------------------------------------------------ the other test controls
    def control_reset(self, body: dict) -> dict:
        self.reset()
        return {}

    def control_calls(self, body: dict) -> dict:
        with self.lock:
            return {"calls": dict(self.calls), "injected": dict(self.faults.injected), **self.quotas.report()}

    def control_faults(self, body: dict) -> dict:
        with self.lock:
            self.faults.configure(body)
        return {}

    def control_quotas(self, body: dict) -> dict:
        with self.lock:
            self.quotas.configure(body)
        return {}

    def control_quota_clock(self, body: dict) -> dict:
        return self.quotas.tick(float(body.get("advanceSeconds", 0)))

    def control_advance(self, body: dict) -> dict:
        return {"moved": self.advance()}

    def control_transition(self, body: dict, copy_job_id: str) -> dict:
        """The job's snapshot after the move (its parent, if it moved too, follows it). An explicit
        move ignores the quotas' caps, but a job it starts is counted in the peaks."""
        moved = self.transition(copy_job_id, body["state"], body.get("statusMessage"), body.get("messageCategory"))
        with self.lock:
            self.quotas.observe()
        return moved[0]

    def get_point(self, body: dict) -> dict:
        with self.lock:
            point = self.recovery_points.get(body["recoveryPointArn"])
            if point is None:
                raise not_found(f"Recovery point {body['recoveryPointArn']} not found", "recovery-points/get")
            return self.point_description(point)

    def set_passable_roles(self, body: dict) -> dict:
        with self.lock:
            roles = body.get("roles")
            self.passable_roles = set(roles) if roles is not None else None
        return {}

    def add_raw_copy_job(self, body: dict) -> dict:
        with self.lock:
            job = {"CopyJobId": str(uuid.uuid4()).upper(), "State": "COMPLETED", "IsParent": False,
                   "CreationDate": now(), **body["job"]}
            self.copy_jobs[job["CopyJobId"]] = job
            self.copy_order.append(job["CopyJobId"])
            self.changed()
        return job

    def corrupt_response(self, body: dict) -> dict:
        with self.lock:
            self.corruptions.append({"operation": body["operation"], "merge": body["merge"], "count": body.get("count", 1)})
        return {}

    def control_published(self, body: dict) -> dict:
        return {"published": self.published}


@dataclass(frozen=True)
class Route:
    """One kind of request and what answers it: an AWS Backup `operation`, whose handler takes
    (backup, region, params), or a test control (operation None), whose handler takes
    (backup, body, **labels)."""

    method: str
    pattern: re.Pattern
    operation: str | None
    handler: Callable[..., dict]


def api(method: str, path: str, operation: str, handler: Callable[..., dict]) -> Route:
    """`path` is matched against the raw (still percent-encoded) path; its groups are the model's
    URI labels, percent-decoded after matching (a recovery point ARN is one label)."""
    return Route(method, re.compile(f"^{path}$"), operation, handler)


def control(path: str, handler: Callable[..., dict]) -> Route:
    return Route("POST", re.compile(f"^/_standin/{path}$"), None, handler)


# Every request the stand-in answers: AWS Backup's operations at their restJson1 routes (the model's
# requestUri), then the test controls.
ROUTES = [
    api("PUT", r"/copy-jobs", "StartCopyJob", Backup.start_copy_job),
    api("GET", r"/copy-jobs/?", "ListCopyJobs", Backup.list_copy_jobs),
    api("GET", r"/copy-jobs/(?P<copyJobId>[^/]+)", "DescribeCopyJob", Backup.describe_copy_job),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)/recovery-points/(?P<recoveryPointArn>[^/]+)",
        "DescribeRecoveryPoint", Backup.describe_recovery_point),
    api("GET", r"/backup-jobs/?", "ListBackupJobs", Backup.list_backup_jobs),
    api("GET", r"/backup-jobs/(?P<backupJobId>[^/]+)", "DescribeBackupJob", Backup.describe_backup_job),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)", "CreateBackupVault", Backup.create_backup_vault),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)", "DescribeBackupVault", Backup.describe_backup_vault),
    api("PUT", r"/logically-air-gapped-backup-vaults/(?P<backupVaultName>[^/]+)", "CreateLogicallyAirGappedBackupVault",
        Backup.create_air_gapped_vault),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)/notification-configuration",
        "PutBackupVaultNotifications", Backup.put_notifications),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)/notification-configuration",
        "GetBackupVaultNotifications", Backup.get_notifications),
    api("PUT", r"/backup/plans/?", "CreateBackupPlan", Backup.create_backup_plan),
    api("GET", r"/backup/plans/(?P<backupPlanId>[^/]+)/?", "GetBackupPlan", Backup.get_backup_plan),
    api("GET", r"/audit/copy-job-summaries/?", "ListCopyJobSummaries", Backup.list_copy_job_summaries),
    control("reset", Backup.control_reset),
    control("calls", Backup.control_calls),
    control("faults", Backup.control_faults),
    control("quotas", Backup.control_quotas),
    control("quotas/clock", Backup.control_quota_clock),
    control("backup-jobs", Backup.complete_backup),
    control("bulk", Backup.bulk),
    control("advance", Backup.control_advance),
    control("copy-jobs/(?P<copy_job_id>[^/]+)/transition", Backup.control_transition),
    control("recovery-points/set", Backup.set_point),
    control("recovery-points/get", Backup.get_point),
    control("passable-roles", Backup.set_passable_roles),
    control("vault-notifications/set-raw", Backup.set_raw_notifications),
    control("copy-jobs/raw", Backup.add_raw_copy_job),
    control("corrupt-response", Backup.corrupt_response),
    control("published", Backup.control_published),
    control("organization", Backup.control_organization),
]
SIGNING_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/backup/aws4_request")


def find_route(method: str, path: str) -> tuple[Route, dict]:
    """The route of a request (`path` still percent-encoded) and its labels, percent-decoded."""
    for route in ROUTES:
        match = route.pattern.match(path)
        if match and route.method == method:
            return route, {k: unquote(v) for k, v in match.groupdict().items()}
    if path.startswith("/_standin/"):
        raise ApiError(404, "UnknownOperationException", f"No control endpoint {unquote(path)}")
    raise ApiError(404, "UnknownOperationException", f"No operation for {method} {unquote(path)}")


def make_handler(backup: Backup):
    class Handler(LoopbackHandler):
        def reply(self, status: int, body: dict, headers: dict | None = None):
            # Compact: a 1,000-item page is encoded faster and is smaller on the wire.
            encoded = json.dumps(body, separators=(",", ":")).encode()
            self.send(status, encoded, headers={"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})

        def body(self, raw: bytes | None = None) -> dict:
            raw = self.read_body() if raw is None else raw
            if not raw:
                return {}
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                raise ApiError(400, "SerializationException", "Request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "SerializationException", "Request body must be a JSON object")
            return parsed

        def handle_any(self, method: str):
            url = urlparse(self.path)
            REQUEST.account = ACCOUNT  # a control acts for the accounts its body names
            try:
                route, labels = find_route(method, url.path)
                if route.operation is None:
                    return self.reply(200, route.handler(backup, self.body(), **labels))
                return self.reply(200, self.operation(route, labels, url))
            except ApiError as err:
                body = {"Code": err.code, "Message": err.message, "Type": err.kind, "Context": err.context}
                self.reply(err.status, body, {"x-amzn-ErrorType": err.code})

        def operation(self, route: Route, labels: dict, url) -> dict:
            operation = route.operation
            # Read before any refusal: a reply must not leave the request's body unread on the
            # kept-alive connection (the next request would start inside it).
            raw = self.read_body()
            backup.calls[operation] += 1
            backup.quotas.admit(operation)  # a request rate beyond its quota: ThrottlingException
            backup.faults.before(operation)
            match = SIGNING_REGION.search(self.headers.get("Authorization", ""))
            region = match.group(1) if match else DEFAULT_REGION
            REQUEST.account = signing_account(self.headers.get("Authorization"))  # the caller's account
            body = self.body(raw)
            try:
                params = backup_model.request_params(operation, labels, parse_qs(url.query, keep_blank_values=True), self.headers, body)
                backup_model.validate_request(operation, params)
            except backup_model.RequestInvalid as err:
                raise ApiError(400, err.code, err.message, context=operation) from None
            return self.checked(operation, route.handler(backup, region, params))

        def checked(self, operation: str, result: dict) -> dict:
            """The response body, after the model check (a violation is a stand-in bug)."""
            result = without_nulls(result)
            with backup.lock:
                for corruption in list(backup.corruptions):
                    if corruption["operation"] == operation:
                        result = deep_merge(copying.deepcopy(result), copying.deepcopy(corruption["merge"]))
                        corruption["count"] -= 1
                        if corruption["count"] <= 0:
                            backup.corruptions.remove(corruption)
                        break
            try:
                backup_model.validate_response(operation, result)
            except backup_model.ModelViolation as err:
                print(f"STAND-IN MODEL VIOLATION: {err}", file=sys.stderr, flush=True)
                backup.calls["StandInModelViolation"] += 1
                raise ApiError(500, "StandInModelViolation", str(err), "Server", operation) from None
            return result

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
    backup_model.service_model()  # load the model before accepting requests
    server = LoopbackServer(make_handler(Backup(args.sns_endpoint)), args.host, args.port)
    print(f"READY {server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
