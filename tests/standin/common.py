"""What every part of the stand-in shares: the default account and region, AWS Backup's errors,
timestamps, message categories, lifecycle rules, and the model's shapes applied to records."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from functools import lru_cache

from standin import backup_model

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DAY = 86400
COPY_STATES = ["CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"]
TERMINAL = {"COMPLETED", "FAILED", "PARTIAL"}

VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:([a-z0-9-]+):([0-9]{12}):backup-vault:([a-zA-Z0-9\-_.]{2,50})$")

AIR_GAPPED = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
# MessageCategory strings documented by the API model (CopyJob.MessageCategory: "Example strings
# may include AccessDenied, SUCCESS, AGGREGATE_ALL, and InvalidParameters"). Completed jobs carry
# SUCCESS ("COMPLETED jobs with a MessageCategory of SUCCESS", Developer Guide, AWS Backup console
# dashboards). A failed job's category is derived from its status message when a test does not set
# one (docs/aws-facts.md#messagecategory, #failure-messages):
#
# * What AWS documents: its dashboards page groups the messages it lists into "message code
#   categories" and "All error messages not belonging to the message code categories below will fall
#   under MISCELLANEOUS"; but the category *names* of that page could not be retrieved, so AWS does
#   not say which message is AccessDenied, which InvalidParameters, and which another named
#   category. Every message -> category pairing below is the stand-in's PRESUMPTION, not AWS's.
# * The presumption: a message is read as vaultwatch's classifier reads it (the cause its ordered
#   phrase table names, shared/src/domain/failure.rs PHRASES, copied here in its order: the first
#   phrase a lower-cased message contains decides); a denial (the role may not be passed, access
#   denied, the vault access policy, a KMS key's failure: denied, disabled, missing, not given) is
#   AccessDenied; a request the message calls invalid is InvalidParameters; anything else
#   MISCELLANEOUS, including "not supported" texts, KMS *throttling* (transient, not a denial) and
#   messages AWS lists under a category whose name is not published (e.g. "There are too many copy
#   jobs running for resource."). MISCELLANEOUS is no label vaultwatch knows: it decides on the
#   text.
# * It cannot drift: tests/e2e/test_standin_categories.py reads the Rust table (and the documented
#   messages of tests/behaviour/classification.rs) and fails when this copy or these categories
#   disagree with it.
CAUSE_PHRASES: list[tuple[str, str]] = [
    ("iam:passrole", "Path(PassRole)"),
    ("same organization", "Path(Organization)"),
    ("cross-account copy feature is not enabled", "Path(Organization)"),
    ("too many copy jobs running", "Transient(Limit)"),
    ("running job for the same resource", "Transient(Limit)"),
    ("in-progress snapshots", "Transient(Limit)"),
    ("concurrent snapshots", "Transient(Limit)"),
    ("subscriber limit exceeded", "Transient(Limit)"),
    ("throttl", "Transient(Throttled)"),
    ("rate exceeded", "Transient(Throttled)"),
    ("reduce your request rate", "Transient(Throttled)"),
    ("too many requests", "Transient(Throttled)"),
    ("request limit exceeded", "Transient(Throttled)"),
    ("service managed key", "Path(ManagedKey)"),
    ("aws managed key", "Path(ManagedKey)"),
    ("ebs default key", "Path(ManagedKey)"),
    ("kms", "Path(KmsKey)"),
    ("key id", "Path(KmsKey)"),
    ("encryption key", "Path(KmsKey)"),
    ("key is disabled", "Path(KmsKey)"),
    ("pending deletion", "Path(KmsKey)"),
    ("trying to call aws backup", "Path(VaultAccessPolicy)"),
    ("copyintobackupvault", "Path(VaultAccessPolicy)"),
    ("vault access policy", "Path(VaultAccessPolicy)"),
    ("not within the range", "Path(Retention)"),
    ("retention", "Path(Retention)"),
    ("cold storage", "RecoveryPoint(ColdStorage)"),
    ("continuous backup", "RecoveryPoint(Continuous)"),
    ("not supported", "Path(Unsupported)"),
    ("unsupported", "Path(Unsupported)"),
    ("cannot be copied", "Path(Unsupported)"),
    ("access denied", "Path(Access)"),
    ("accessdenied", "Path(Access)"),
    ("not authorized", "Path(Access)"),
    ("unauthorized", "Path(Access)"),
    ("insufficient privileges", "Path(Access)"),
    ("cannot be assumed", "Path(Access)"),
    ("permission", "Path(Access)"),
    ("recovery point is unavailable", "RecoveryPoint(Gone)"),
    ("no longer available", "RecoveryPoint(Gone)"),
    ("not found", "RecoveryPoint(Gone)"),
    ("notfound", "RecoveryPoint(Gone)"),
    ("cannot find", "RecoveryPoint(Gone)"),
    ("could not find", "RecoveryPoint(Gone)"),
    ("does not exist", "RecoveryPoint(Gone)"),
    ("no longer exists", "RecoveryPoint(Gone)"),
    ("has been deleted", "RecoveryPoint(Gone)"),
    ("was deleted", "RecoveryPoint(Gone)"),
    ("is being deleted", "RecoveryPoint(Gone)"),
    ("tags specified", "RecoveryPoint(TooManyTags)"),
    ("user tags", "RecoveryPoint(TooManyTags)"),
    ("can have at most", "RecoveryPoint(TooManyTags)"),
    ("active snapshot limit", "Quota"),
    ("cannot create more than", "Quota"),
    ("reached your quota", "Quota"),
    ("invalid parameter", "Invalid"),
    ("invalidparameter", "Invalid"),
    ("is invalid", "Invalid"),
    ("validation", "Invalid"),
    ("limit", "Transient(Limit)"),
    ("too many", "Transient(Limit)"),
    ("maximum number", "Transient(Limit)"),
    ("being modified", "Transient(Busy)"),
    ("not in state", "Transient(Busy)"),
    ("not in the available state", "Transient(Busy)"),
    ("not in available state", "Transient(Busy)"),
    ("cannot snapshot volume", "Transient(Busy)"),
    ("maintenance window", "Transient(Busy)"),
    ("backup window", "Transient(Busy)"),
    ("token expired", "Transient(ServiceError)"),
    ("try again", "Transient(ServiceError)"),
    ("service unavailable", "Transient(ServiceError)"),
    ("unavailable", "Transient(ServiceError)"),
    ("internal error", "Transient(ServiceError)"),
    ("internal failure", "Transient(ServiceError)"),
    ("timeout", "Transient(ServiceError)"),
    ("timed out", "Transient(ServiceError)"),
]
# The category derived for each cause the Rust classifier names (every one of them, so that a new
# cause needs a decision here).
CAUSE_CATEGORIES = {
    "Path(PassRole)": "AccessDenied",
    "Path(Access)": "AccessDenied",
    "Path(VaultAccessPolicy)": "AccessDenied",
    "Path(KmsKey)": "AccessDenied",
    "Invalid": "InvalidParameters",
    **{cause: "MISCELLANEOUS" for cause in (
        "Path(ManagedKey)", "Path(Organization)", "Path(Retention)", "Path(Unsupported)",
        "RecoveryPoint(Gone)", "RecoveryPoint(ColdStorage)", "RecoveryPoint(Continuous)",
        "RecoveryPoint(CompositeChild)", "RecoveryPoint(TooManyTags)", "Quota",
        "Transient(Throttled)", "Transient(Limit)", "Transient(ServiceError)", "Transient(Busy)",
        "Unrecognised",
    )},
}


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


def now() -> float:
    return round(time.time(), 3)


def epoch(value) -> float:
    """A model timestamp parameter (datetime from backup_model) or an epoch number, as epoch seconds."""
    return round(value.timestamp(), 3) if isinstance(value, datetime) else float(value)


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_cause(message: str | None) -> str:
    """The cause vaultwatch's classifier reads in a status message: the first phrase of
    CAUSE_PHRASES it contains, lower-cased as Rust's to_ascii_lowercase does (ASCII letters only)."""
    lower = (message or "").encode().lower().decode()
    return next((cause for phrase, cause in CAUSE_PHRASES if phrase in lower), "Unrecognised")


def derive_category(message: str | None) -> str:
    """The MessageCategory the stand-in gives a failed job with this status message (see
    CAUSE_PHRASES: the stand-in's presumption, AWS does not publish the pairing)."""
    return CAUSE_CATEGORIES[message_cause(message)]


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
