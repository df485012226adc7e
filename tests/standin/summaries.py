"""ListCopyJobSummaries (GET /audit/copy-job-summaries): counts of the copy jobs of the last 14
days per period, Region, AccountId, State, ResourceType and MessageCategory."""

from __future__ import annotations

import base64
from collections import Counter
from typing import TYPE_CHECKING

from standin.accounts import caller_account, jobs_in_scope
from standin.common import ACCOUNT, DAY, invalid, now

if TYPE_CHECKING:
    from standin.state import BackupState


# ListCopyJobSummaries' MaxResults: "Range of accepted values is from 1 to 500" (its shape allows 1000).
SUMMARY_MAX_RESULTS = 500


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
    """One page of `items` under `key` with an opaque offset NextToken (as listings.list_jobs')."""
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


def list_copy_job_summaries(backup: BackupState, region: str, params: dict) -> dict:
    """ListCopyJobSummaries: counts of the copy jobs created in the aggregation period, per
    period, account, State, ResourceType and MessageCategory (see summarize_copy_jobs), of the
    accounts `AccountId` covers (Organization.summary_accounts), in the request's region."""
    ctx = "ListCopyJobSummaries"
    limit = params.get("MaxResults") or SUMMARY_MAX_RESULTS
    if limit > SUMMARY_MAX_RESULTS:
        # "Range of accepted values is from 1 to 500" although the shape allows 1000: refused
        # (presumed; wording not documented).
        raise invalid(f"MaxResults must be between 1 and {SUMMARY_MAX_RESULTS}", ctx)
    with backup.lock:
        accounts, summed = backup.organization.summary_accounts(caller_account(), params.get("AccountId"))
        scope = {(account, region) for account in accounts}
        jobs = jobs_in_scope(map(backup.copy_jobs.__getitem__, backup.copy_order), "SourceBackupVaultArn", scope)
        rows = summarize_copy_jobs(jobs, region, params, summed, now())
    page = offset_page(rows, "CopyJobSummaries", limit, params.get("NextToken"), ctx)
    return {**page, "AggregationPeriod": params.get("AggregationPeriod") or "FOURTEEN_DAYS"}
