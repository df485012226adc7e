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
# may include AccessDenied, SUCCESS, AGGREGATE_ALL, and InvalidParameters"). The Monitoring page's
# full list could not be retrieved (docs/aws-facts.md, MessageCategory); a category is derived from
# the status message only for these unambiguous phrases, else MISCELLANEOUS ("All error messages
# not belonging to the message code categories below will fall under MISCELLANEOUS", Developer
# Guide, AWS Backup console dashboards). Completed jobs carry SUCCESS (same page: "COMPLETED jobs
# with a MessageCategory of SUCCESS").
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
