"""The AWS Backup API model (botocore's backup/2018-11-15/service-2.json) as the stand-in enforces it.

Requests: the HTTP request is turned back into the operation's input parameters the way restJson1
maps them (`location: uri` members from the path labels, `querystring` members from the query with
their `locationName`, `header` members from headers, every other member from the JSON body;
timestamps are ISO-8601 in query strings and epoch seconds in bodies), then validated with
botocore's own `ParamValidator` (required members, types, `min` lengths and values) plus what it
does not check: `max` lengths and values, `pattern` and `enum` membership. A violation is refused
the way AWS's request validation (Coral) refuses it: HTTP 400, `ValidationException`,
"1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: Member must
have value less than or equal to 1000". Unknown members in a request body are ignored, as AWS's
restJson1 services do (clients built from newer models may send them).

Responses: every body the stand-in returns is checked against the operation's output shape (types,
required, min/max, enums, patterns, and no member the model does not define). A violation is a bug
of the stand-in: `ModelViolation`, which the server turns into HTTP 500 `StandInModelViolation`.
One cheap pass (`conforms`) accepts the bodies it is sure of; every other one gets the full check.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from functools import lru_cache

from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    loader = Loader()
    return ServiceModel(loader.load_service_model("backup", "service-2"), service_name="backup")


def operation_model(name: str):
    return service_model().operation_model(name)


class RequestInvalid(Exception):
    """The request does not satisfy the model: `code` is ValidationException (constraints) or
    SerializationException (a value of the wrong wire type)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class ModelViolation(Exception):
    """A response the model does not allow: a stand-in bug."""


# ---------------------------------------------------------------------- Coral wording
def coral_path(botocore_name: str, member: str | None = None) -> str:
    """botocore's parameter path (".BackupPlan.Rules[0].Lifecycle") in Coral's form
    ("backupPlan.rules.1.member.lifecycle"): member names with a lower-case first letter, list
    items 1-based as `N.member`. Wording not documented for nested paths; this is the form other
    Coral services use (e.g. "tags.1.member.value")."""
    parts = []
    for segment in [s for s in botocore_name.split(".") if s] + ([member] if member else []):
        match = re.match(r"^([^\[]*)((?:\[\d+\])*)$", segment)
        head, indices = (match.group(1), match.group(2)) if match else (segment, "")
        if head:
            parts.append(head[:1].lower() + head[1:])
        for index in re.findall(r"\[(\d+)\]", indices):
            parts.append(f"{int(index) + 1}.member")
    return ".".join(parts)


def shown(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        value = str(value).lower()
    if isinstance(value, datetime):
        value = value.isoformat()
    return f"'{value}'"


def coral_error(value, path: str, constraint: str) -> str:
    return f"Value {shown(value)} at '{path}' failed to satisfy constraint: {constraint}"


def coral_message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


# ---------------------------------------------------------------------- extra checks (max, pattern, enum)
@lru_cache(maxsize=None)
def _pattern(pattern: str):
    return re.compile(pattern)


def extra_checks(value, shape, path: str, errors: list[str]) -> None:
    """What ParamValidator does not check: max lengths/values, patterns, enum membership."""
    if value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                extra_checks(value[name], member, f"{path}.{name}" if path else name, errors)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(coral_error(value, coral_path(path), f"Member must have length less than or equal to {meta['max']}"))
        for index, item in enumerate(value):
            extra_checks(item, shape.member, f"{path}[{index}]", errors)
    elif kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(coral_error(value, coral_path(path), f"Member must have length less than or equal to {meta['max']}"))
        for key, item in value.items():
            extra_checks(key, shape.key, path, errors)
            extra_checks(item, shape.value, f"{path}.{key}", errors)
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(coral_error(value, coral_path(path), f"Member must have length less than or equal to {meta['max']}"))
        if "pattern" in meta and not _pattern(meta["pattern"]).search(value):
            errors.append(coral_error(value, coral_path(path), f"Member must satisfy regular expression pattern: {meta['pattern']}"))
        enum = shape.enum
        if enum and value not in enum:
            errors.append(coral_error(value, coral_path(path), f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    elif kind in ("integer", "long", "double", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if "max" in meta and value > meta["max"]:
            errors.append(coral_error(value, coral_path(path), f"Member must have value less than or equal to {meta['max']}"))


def botocore_errors(params: dict, shape, *, unknown_is_error: bool) -> tuple[list[str], list[str]]:
    """ParamValidator's findings in Coral wording: (constraint errors, wire-type errors)."""
    report = ParamValidator().validate(params, shape)
    constraints, types = [], []
    for reason, name, extra in report._errors:  # (reason, botocore path, details)
        if reason == "missing required field":
            constraints.append(coral_error(None, coral_path(name, extra["required_name"]), "Member must not be null"))
        elif reason == "invalid length":
            constraints.append(coral_error(extra["param"], coral_path(name), f"Member must have length greater than or equal to {extra['min_allowed']}"))
        elif reason == "invalid range":
            constraints.append(coral_error(extra["param"], coral_path(name), f"Member must have value greater than or equal to {extra['min_allowed']}"))
        elif reason == "unknown field":
            if unknown_is_error:
                constraints.append(f"unknown member {extra['unknown_param']!r} at '{coral_path(name) or '<root>'}'")
        else:  # invalid type and the like
            types.append(f"Value {shown(extra.get('param'))} at '{coral_path(name)}' is not of the type the model declares ({reason})")
    return constraints, types


# ---------------------------------------------------------------------- requests
def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _from_wire(value, shape, where: str, path: str, problems: list[str]):
    """A value from a query string / header (text) or a JSON body, as a botocore parameter value:
    timestamps become datetimes (ISO-8601 text in query strings and headers, epoch seconds in
    bodies), numbers and booleans in query strings are parsed; nulls in bodies are absent."""
    kind = shape.type_name
    if where in ("querystring", "header", "uri"):
        if kind == "list":
            return [_from_wire(v, shape.member, where, path, problems) for v in value]
        if kind in ("integer", "long"):
            try:
                return int(value)
            except ValueError:
                problems.append(f"Value '{value}' at '{coral_path(path)}' could not be parsed as an integer")
                return value
        if kind in ("double", "float"):
            try:
                return float(value)
            except ValueError:
                problems.append(f"Value '{value}' at '{coral_path(path)}' could not be parsed as a number")
                return value
        if kind == "boolean":
            if value not in ("true", "false"):
                problems.append(f"Value '{value}' at '{coral_path(path)}' could not be parsed as a boolean")
                return value
            return value == "true"
        if kind == "timestamp":
            try:
                return _parse_iso(value)
            except ValueError:
                try:
                    return datetime.fromtimestamp(float(value), timezone.utc)
                except ValueError:
                    problems.append(f"Value '{value}' at '{coral_path(path)}' could not be parsed as a timestamp")
                    return value
        return value
    # JSON body
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            member = shape.members.get(key)
            out[key] = _from_wire(item, member, where, f"{path}.{key}", problems) if member is not None else item
        return out
    if kind == "list" and isinstance(value, list):
        return [_from_wire(v, shape.member, where, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_wire(v, shape.value, where, f"{path}.{k}", problems) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, timezone.utc)
        problems.append(f"Value {shown(value)} at '{coral_path(path)}' is not an epoch-seconds timestamp")
        return value
    return value


def request_params(operation: str, labels: dict[str, str], query: dict[str, list[str]], headers, body: dict) -> dict:
    """The operation's input parameters, rebuilt from the HTTP request as restJson1 maps them.
    Raises RequestInvalid (SerializationException) for a value of the wrong wire type."""
    shape = operation_model(operation).input_shape
    params, problems = {}, []
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = _from_wire(labels[wire_name], member, "uri", name, problems)
        elif location == "querystring":
            if wire_name in query:
                raw = query[wire_name] if member.type_name == "list" else query[wire_name][-1]
                params[name] = _from_wire(raw, member, "querystring", name, problems)
        elif location == "header":
            if headers.get(wire_name) is not None:
                params[name] = _from_wire(headers.get(wire_name), member, "header", name, problems)
        elif name in body and body[name] is not None:
            params[name] = _from_wire(body[name], member, "body", name, problems)
    if problems:
        raise RequestInvalid("SerializationException", "; ".join(problems))
    return params


# Values AWS documents for a member whose shape's pattern refuses them (shape AccountId,
# `^[0-9]{12}$`): AWS accepts them, so the pattern is not applied to them (docs/aws-facts.md,
# Organization view). Every other value of these members is still checked against the pattern.
# ASSUMPTION: ListCopyJobs `ByAccountId` `*` is left out, so the stand-in refuses it
# (ValidationException, the pattern's message). Its model text (botocore 1.43.127 and 1.44.18: "The
# account ID to list the jobs from. Returns only copy jobs associated with the specified account
# ID.") documents no `*`, unlike ListBackupJobs'; but nothing documents a refusal either, and the
# console's cross-account Copy jobs tab lists every account's copies through some call, so AWS may
# well accept it. vaultwatch never sends it (it lists one member account at a time), so the
# refusal only keeps it from coming to rely on an undocumented value.
DOCUMENTED_VALUES = {
    ("ListBackupJobs", "ByAccountId"): {"*"},
    ("ListCopyJobSummaries", "AccountId"): {"ANY", "AGGREGATE_ALL"},
    ("ListBackupJobSummaries", "AccountId"): {"ANY", "AGGREGATE_ALL"},
}


def validate_request(operation: str, params: dict) -> None:
    """Raises RequestInvalid (ValidationException, Coral wording) when the model rejects `params`."""
    shape = operation_model(operation).input_shape
    if shape is None:
        return
    constraints, types = botocore_errors(params, shape, unknown_is_error=False)
    if types:
        raise RequestInvalid("SerializationException", "; ".join(types))
    checked = {name: value for name, value in params.items()
               if value not in DOCUMENTED_VALUES.get((operation, name), ())}
    extra_checks(checked, shape, "", constraints)
    if constraints:
        raise RequestInvalid("ValidationException", coral_message(constraints))


# ---------------------------------------------------------------------- responses
def validate_response(operation: str, body: dict) -> None:
    """Raises ModelViolation when `body` (as the stand-in is about to send it: epoch-second
    timestamps) does not satisfy the operation's output shape. Every value is checked: first by
    `conforms` (one cheap pass, a 1,000-item page in milliseconds), then, only when that is not sure,
    by the full check below, whose findings (in Coral's wording) the violation reports."""
    shape = operation_model(operation).output_shape
    if shape is None:
        if body:
            raise ModelViolation(f"{operation} has no output shape but the stand-in returned {sorted(body)}")
        return
    if conforms(shape)(body):
        return
    constraints, types = botocore_errors(body, shape, unknown_is_error=True)
    extra_checks(body, shape, "", constraints)
    _check_timestamps(body, shape, "", types)
    problems = types + constraints
    if problems:
        raise ModelViolation(f"{operation} response violates the model: " + "; ".join(problems))


def _check_timestamps(value, shape, path: str, problems: list[str]) -> None:
    """restJson1 bodies carry timestamps as epoch seconds (numbers), never as text."""
    kind = shape.type_name
    if kind == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: timestamp {value!r} is not epoch seconds")
    elif kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members and item is not None:
                _check_timestamps(item, shape.members[key], f"{path}.{key}", problems)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _check_timestamps(item, shape.member, f"{path}[{index}]", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check_timestamps(item, shape.value, f"{path}.{key}", problems)


# ---------------------------------------------------------------------- the cheap pass
# `conforms(shape)` compiles a shape into a predicate that is True only for a value every check of
# validate_response passes (ParamValidator's, extra_checks', _check_timestamps'); it may say False
# for a valid value (anything unusual: a str subclass, a tuple, a timestamp outside 1970..2100, a
# shape kind it does not compile), which then gets the full check. So it never lets a violation
# through and never decides a message.
_TIMESTAMP_RANGE = (0, 4102444800)  # 1970..2100: fromtimestamp works for every such number
_conforming: dict[tuple, object] = {}  # compiled predicates, by conforms' key
_pending: dict[tuple, object] = {}  # predicates being compiled (under _compiling only)
_compiling = threading.RLock()


def _never(value) -> bool:
    return False


def _later(key: tuple):
    """A recursive shape's reference to itself while it compiles (none in the Backup model today)."""
    def check(value) -> bool:
        with _compiling:  # free once the shape is compiled
            return _conforming[key](value)
    return check


def conforms(shape):
    """The predicate of `shape` (compiled once per shape and the member traits that change validation)."""
    serialization = shape.serialization
    key = (shape.name, shape.type_name, bool(serialization.get("hostLabel")),
           bool(serialization.get("jsonvalue")) and serialization.get("location") == "header")
    check = _conforming.get(key)
    if check is not None:
        return check
    with _compiling:
        check = _conforming.get(key) or _pending.get(key)
        if check is None:
            _pending[key] = _later(key)
            try:
                check = _conforming[key] = _compile(shape, key[2], key[3])
            finally:
                del _pending[key]
    return check


def _compile(shape, host_label: bool, json_header: bool):
    meta, kind = shape.metadata, shape.type_name
    if json_header:
        return _never
    # ParamValidator's range_check: `min` of the metadata, else 1 for a host label.
    low = meta["min"] if "min" in meta else (1 if host_label else None)
    high = meta.get("max")
    if kind == "structure":
        if shape.is_tagged_union or shape.is_document_type:
            return _never
        required = tuple(meta.get("required", ()))
        members = {name: conforms(member) for name, member in shape.members.items()}

        def structure(value):
            if type(value) is not dict:
                return False
            for name in required:
                if name not in value:
                    return False
            for name, item in value.items():
                check = members.get(name)
                if check is None or not check(item):
                    return False
            return True
        return structure
    if kind == "list":
        item_check = conforms(shape.member)

        def listing(value):
            if type(value) is not list or (low is not None and len(value) < low) or (high is not None and len(value) > high):
                return False
            for item in value:
                if not item_check(item):
                    return False
            return True
        return listing
    if kind == "map":
        key_check, value_check = conforms(shape.key), conforms(shape.value)

        def mapping(value):
            if type(value) is not dict or (high is not None and len(value) > high):
                return False
            for key, item in value.items():
                if not key_check(key) or not value_check(item):
                    return False
            return True
        return mapping
    if kind == "string":
        search = _pattern(meta["pattern"]).search if "pattern" in meta else None
        enum = frozenset(shape.enum or ())

        def string(value):
            if type(value) is not str or (low is not None and len(value) < low) or (high is not None and len(value) > high):
                return False
            if search is not None and search(value) is None:
                return False
            return not enum or value in enum
        return string
    if kind in ("integer", "long", "double", "float"):
        numbers = (int,) if kind in ("integer", "long") else (int, float)

        def number(value):
            return type(value) in numbers and (low is None or value >= low) and (high is None or value <= high)
        return number
    if kind == "boolean":
        return lambda value: type(value) is bool
    if kind == "timestamp":
        first, last = _TIMESTAMP_RANGE
        return lambda value: type(value) in (int, float) and first <= value <= last
    return _never  # blob and the rest: the full check decides


def enum_values(shape_name: str) -> list[str]:
    return list(service_model().shape_for(shape_name).enum)
