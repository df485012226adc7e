"""Accounts, regions and the organization: whose a call is (its SigV4 access key id), what an
ARN or a job belongs to, and which accounts' jobs a caller may list (docs/aws-facts.md,
Organization view)."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from standin.common import ACCOUNT, DEFAULT_REGION, ApiError, invalid

# Every vault, plan, recovery point and job belongs to one (account, region) and its ARNs say which.
# An API call acts as the account of its SigV4 access key id when that is 12 digits (moto's
# convention: AWS_ACCESS_KEY_ID=111111111111), else as ACCOUNT, in its signing region; without
# ByAccountId it sees that account's jobs in that region only. docs/aws-facts.md, Organization view.
SIGNING_ACCESS_KEY = re.compile(r"Credential=([^/]+)/\d{8}/")
TWELVE_DIGITS = re.compile(r"^[0-9]{12}$")
REQUEST = threading.local()  # .account: the account of the API call being answered


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
