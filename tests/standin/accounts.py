"""Accounts, regions and the organization: whose a call is (its SigV4 access key id), what an
ARN or a job belongs to, and which accounts' jobs a caller may list (docs/aws-facts.md,
Organization view)."""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache

from standin.common import ACCOUNT, DEFAULT_REGION, ApiError, invalid, invalid_request, now

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
        # AWS Backup's global settings (UpdateGlobalSettings from the management account): None
        # until set; AWS's default is off ("false"). docs/aws-facts.md#copy-paths, Organization.
        self.cross_account_backup: bool | None = None
        self.settings: dict[str, str] = {}
        self.settings_updated: float | None = None

    @property
    def org_id(self) -> str | None:
        """The organization's id (pattern o-[a-z0-9]{10,32}), fixed by its management account (the
        stand-in's: AWS's are random)."""
        if self.management is None:
            return None
        return "o-" + hashlib.sha256(self.management.encode()).hexdigest()[:10]

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


# ---------------------------------------------------------------------- global settings
# UpdateGlobalSettings / DescribeGlobalSettings (API model): "Returns an error if the account is not
# an Organizations management account" / "... not a member of an Organizations organization"; the
# error's code and wording are not documented: InvalidRequestException with the stand-in's words.
# Which flags AWS reports by default is not documented either: the three the model names, each
# "false" until set (AWS's default for cross-account backup: off).
GLOBAL_SETTINGS = ("isCrossAccountBackupEnabled", "isMpaEnabled", "isDelegatedAdministratorEnabled")


def describe_global_settings(backup, region: str, params: dict) -> dict:
    with backup.lock:
        org = backup.organization
        if caller_account() not in org.members:
            raise invalid_request("The account is not a member of an organization", "DescribeGlobalSettings")  # wording presumed
        settings = {name: org.settings.get(name, "false") for name in GLOBAL_SETTINGS}
        result = {"GlobalSettings": settings}
        if org.settings_updated is not None:
            result["LastUpdateTime"] = org.settings_updated
        return result


def update_global_settings(backup, region: str, params: dict) -> dict:
    ctx = "UpdateGlobalSettings"
    settings = params.get("GlobalSettings") or {}
    for name, value in settings.items():
        if name not in GLOBAL_SETTINGS or value not in ("true", "false"):
            raise invalid(f"Invalid global setting {name}={value}", ctx)  # wording presumed
    with backup.lock:
        org = backup.organization
        if org.management is None or caller_account() != org.management:
            raise invalid_request("Only the management account of an organization can update global settings", ctx)  # wording presumed
        org.settings.update(settings)
        if "isCrossAccountBackupEnabled" in settings:
            org.cross_account_backup = settings["isCrossAccountBackupEnabled"] == "true"
        org.settings_updated = now()
    return {}
