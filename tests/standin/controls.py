"""The stand-in's test controls: how tests drive AWS Backup's side of a story. The controls of one
operation group live with it (backup-jobs and bulk in backup_jobs, recovery-points/* in
recovery_points, vault-notifications/set-raw in vaults); the rest are here. Every route is in
server.ROUTES.

Test control lives under /_standin/ (never part of AWS), every endpoint POST with a JSON body:
  reset                      {}                                  forget everything
  calls                      {}                                  -> {"calls": {op: n},
                                                                     "startCopyJobByRecoveryPoint": {arn: n},
                                                                     "injected": {...},
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
                             every API call is counted in "calls", throttled ones too;
                             "startCopyJobByRecoveryPoint": the StartCopyJob calls that reached the
                             service (not throttled), by RecoveryPointArn, a refused one or one
                             repeating an IdempotencyToken too; "throttled":
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
  paths                      {"strict"?: bool}                   -> {"strict", "organizationId",
                                                                     "kmsEndpoint", "iamEndpoint"}
                             copy paths (standin.paths, docs/aws-facts.md#copy-paths): strict
                             enforces AWS's defaults too (no organization, cross-account backup
                             off, no vault access policy, the default AWS managed key, the
                             resource-type table); without it (the default, and after reset unless
                             the server ran with --strict-paths) only configuration given through
                             AWS's APIs decides. {} changes nothing and reports; organizationId is
                             the organization's id for aws:PrincipalOrgID conditions
A control that names a vault by name finds it in account 123456789012 and region us-east-1 unless
its body says "account" / "region" (ids and ARNs name their own); vaults of another account are
created through the API, signed with that account's id as access key id.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from standin.accounts import Organization
from standin.common import now
from standin.copy_jobs import advance, transition

if TYPE_CHECKING:
    from standin.state import BackupState


def control_reset(backup: BackupState, body: dict) -> dict:
    backup.reset()
    return {}


def control_calls(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        return {"calls": dict(backup.calls), "startCopyJobByRecoveryPoint": dict(backup.copy_starts),
                "injected": backup.faults.counts(), **backup.quotas.report()}


def control_faults(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        backup.faults.configure(body)
    return {}


def control_quotas(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        backup.quotas.configure(body)
    return {}


def control_quota_clock(backup: BackupState, body: dict) -> dict:
    return backup.quotas.tick(float(body.get("advanceSeconds", 0)))


def control_advance(backup: BackupState, body: dict) -> dict:
    return {"moved": advance(backup)}


def control_transition(backup: BackupState, body: dict, copy_job_id: str) -> dict:
    """The job's snapshot after the move (its parent, if it moved too, follows it). An explicit
    move ignores the quotas' caps, but a job it starts is counted in the peaks."""
    moved = transition(backup, copy_job_id, body["state"], body.get("statusMessage"), body.get("messageCategory"))
    with backup.lock:
        backup.quotas.observe()
    return moved[0]


def set_passable_roles(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        roles = body.get("roles")
        backup.passable_roles = set(roles) if roles is not None else None
    return {}


def add_raw_copy_job(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        job = {"CopyJobId": str(uuid.uuid4()).upper(), "State": "COMPLETED", "IsParent": False,
               "CreationDate": now(), **body["job"]}
        backup.copy_jobs[job["CopyJobId"]] = job
        backup.copy_order.append(job["CopyJobId"])
        backup.changed()
    return job


def corrupt_response(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        backup.corruptions.append({"operation": body["operation"], "merge": body["merge"], "count": body.get("count", 1)})
    return {}


def control_published(backup: BackupState, body: dict) -> dict:
    with backup.lock:
        return {"published": list(backup.published)}


def control_organization(backup: BackupState, body: dict) -> dict:
    """Control: /_standin/organization. Returns the organization as it now is."""
    organization = Organization.from_spec(body)
    with backup.lock:
        backup.organization = organization
    return organization.describe()


def control_paths(backup: BackupState, body: dict) -> dict:
    """Control: /_standin/paths."""
    with backup.lock:
        if body.get("strict") is not None:
            backup.strict_paths = bool(body["strict"])
        return {"strict": backup.strict_paths, "organizationId": backup.organization.org_id,
                "kmsEndpoint": backup.endpoints["kms"], "iamEndpoint": backup.endpoints["iam"]}
