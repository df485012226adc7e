"""ListCopyJobs and ListBackupJobs: filters, time windows, paging, and the scope ByAccountId
gives them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

from standin.accounts import caller_account, jobs_in_scope
from standin.common import epoch, invalid, project, without_nulls

if TYPE_CHECKING:
    from standin.state import BackupState


# Listings whose selection is kept (a sweep pages through one or two at a time).
LISTINGS_KEPT = 8


def list_jobs(backup: BackupState, ctx: str, key: str, jobs: Callable[[], list], scope: set, params: dict,
              equal_filters: dict, shape=None) -> dict:
    """List semantics shared by ListCopyJobs and ListBackupJobs: equality filters, created/complete
    time windows, MaxResults 1..1000 (the model), opaque NextToken. `jobs` gives the jobs in
    scope, in order. `shape` (the output shape's projection) is applied to the returned page only:
    a listing of 100,000 jobs stays cheap per page."""
    limit = params.get("MaxResults") or 1000
    selected = selection(backup, ctx, jobs, scope, params, equal_filters)
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


def selection(backup: BackupState, ctx: str, jobs: Callable[[], list], scope: set, params: dict, equal_filters: dict) -> list[dict]:
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
    if backup.listed_version != backup.version:
        backup.listings.clear()
        backup.listed_version = backup.version
    selected = backup.listings.get(listing)
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
    if len(backup.listings) >= LISTINGS_KEPT:
        del backup.listings[next(iter(backup.listings))]  # the oldest
    backup.listings[listing] = selected
    return selected


def list_copy_jobs(backup: BackupState, region: str, params: dict) -> dict:
    with backup.lock:
        # ByAccountId says whose jobs, always of this region (see listing_scope).
        scope = listing_scope(backup, "ListCopyJobs", region, params)
        return list_jobs(backup, "ListCopyJobs", "CopyJobs", lambda: jobs_in_scope(
            map(backup.copy_jobs.__getitem__, backup.copy_order), "SourceBackupVaultArn", scope), scope, params, {
            "ByResourceArn": "ResourceArn", "ByState": "State", "ByResourceType": "ResourceType",
            "ByDestinationVaultArn": "DestinationBackupVaultArn",
            "ByParentJobId": "ParentJobId", "BySourceRecoveryPointArn": "SourceRecoveryPointArn",
            "ByMessageCategory": "MessageCategory",
        })


def list_backup_jobs(backup: BackupState, region: str, params: dict) -> dict:
    with backup.lock:
        scope = listing_scope(backup, "ListBackupJobs", region, params)
        return list_jobs(backup, "ListBackupJobs", "BackupJobs", lambda: jobs_in_scope(
            backup.backup_jobs.values(), "BackupVaultArn", scope), scope, params, {
            "ByResourceArn": "ResourceArn", "ByState": "State", "ByBackupVaultName": "BackupVaultName",
            "ByResourceType": "ResourceType", "ByParentJobId": "ParentJobId",
            "ByMessageCategory": "MessageCategory",
        }, shape=lambda job: project(job, "BackupJob"))


def listing_scope(backup: BackupState, context: str, region: str, params: dict) -> set[tuple[str, str]]:
    """The (account, region) pairs a job listing returns: the accounts `ByAccountId` names (the
    caller's own without it; others only from the organization's management account or a
    delegated administrator, else AccessDeniedException), in the request's region only
    (docs/aws-facts.md, Organization view)."""
    accounts = backup.organization.listing_accounts(caller_account(), params.get("ByAccountId"), context)
    return {(account, region) for account in accounts}
