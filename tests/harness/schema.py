"""The tracking table as the Rust code defines it, read from its sources of truth instead of copied:

    shared/src/adapters/dynamodb/schema.rs   every attribute name (`pub const NAME: &str = "...";`,
                                             per `pub mod`), the copy key's prefix (`copy_key`) and
                                             `<state>_at` (`state_at`)
    shared/src/domain/job.rs                 the copy job states, their ranks (`CopyJobState::rank`)
                                             and which of them failed (`has_failed`)
    template.yaml                            the table's keys and its by-recovery-point index

A change there changes what the harness writes and reads; a change these readers cannot follow
(a state without a rank, a constant gone) raises here, so the tests that use them fail loudly
(tests/e2e/test_harness.py checks the readers themselves).
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import SimpleNamespace

import yaml

from harness.config import ROOT
from harness.template import CfnLoader

SCHEMA_RS = ROOT / "shared" / "src" / "adapters" / "dynamodb" / "schema.rs"
JOB_RS = ROOT / "shared" / "src" / "domain" / "job.rs"
# template.yaml's logical id of the tracking table.
TABLE_RESOURCE = "TrackingTable"


class SchemaDrift(RuntimeError):
    """The Rust source no longer reads as these readers expect: update them with it."""


def constants(source: str) -> dict[str, dict[str, str]]:
    """{module: {NAME: value}} of the string constants in a Rust source, "" for the top level (a
    `pub mod name {` opens a module, a `}` at the start of a line closes it)."""
    found: dict[str, dict[str, str]] = {"": {}}
    module = ""
    for line in source.splitlines():
        opened = re.match(r"pub mod (\w+) \{", line)
        if opened:
            module = opened.group(1)
            found.setdefault(module, {})
        elif line.startswith("}"):
            module = ""
        constant = re.match(r'\s*pub const (\w+): &str = "([^"]*)";', line)
        if constant:
            found[module][constant.group(1)] = constant.group(2)
    return found


def _impl_fn(source: str, name: str) -> str:
    """The body of `CopyJobState`'s `fn name` (up to the next `fn`)."""
    impl = source.partition("impl CopyJobState {")[2]
    body = re.search(rf"fn {name}\(self\)[^{{]*\{{(.*?)\n    }}\n", impl, re.S)
    if not body:
        raise SchemaDrift(f"CopyJobState::{name} not found in {JOB_RS}")
    return body.group(1)


def copy_job_states(source: str) -> dict[str, dict]:
    """{AWS state name: {"rank": n, "failed": bool}} of every CopyJobState variant, read from
    `as_str`, `rank` and `has_failed`. Raises SchemaDrift when a variant lacks a name or a rank."""
    enum = re.search(r"pub enum CopyJobState \{(.*?)\}", source, re.S)
    if not enum:
        raise SchemaDrift(f"enum CopyJobState not found in {JOB_RS}")
    variants = re.findall(r"^\s*(\w+),?\s*$", enum.group(1), re.M)
    names = dict(re.findall(r'Self::(\w+) => "(\w+)"', _impl_fn(source, "as_str")))
    ranks = {}
    for arm, rank in re.findall(r"((?:Self::\w+\s*\|?\s*)+)=>\s*(\d+)", _impl_fn(source, "rank")):
        for variant in re.findall(r"Self::(\w+)", arm):
            ranks[variant] = int(rank)
    failed = set(re.findall(r"Self::(\w+)", _impl_fn(source, "has_failed")))
    missing = [v for v in variants if v not in names or v not in ranks]
    if not variants or missing:
        raise SchemaDrift(f"CopyJobState variants without a name or a rank: {missing or 'no variants'}")
    return {names[v]: {"rank": ranks[v], "failed": v in failed} for v in variants}


def state_at_suffix(source: str) -> str:
    """What schema::state_at appends to a state's lower-cased name (`{}_at` -> "_at")."""
    found = re.search(r'fn state_at\(.*?format!\("\{\}(\w+)", state\.as_str\(\)\.to_ascii_lowercase\(\)\)', source, re.S)
    if not found:
        raise SchemaDrift(f"state_at not found in {SCHEMA_RS}")
    return found.group(1)


def key_prefix(source: str, function: str) -> str:
    """The constant prefix of the key `function` formats (e.g. copy_key's `copy#{id}` -> "copy#")."""
    found = re.search(rf'fn {function}\(.*?format!\("([^"{{]*)\{{', source, re.S)
    if not found:
        raise SchemaDrift(f"{function} not found in {SCHEMA_RS}")
    return found.group(1)


@lru_cache(maxsize=None)
def _rust() -> SimpleNamespace:
    schema, job = SCHEMA_RS.read_text(), JOB_RS.read_text()
    found = constants(schema)
    try:
        return SimpleNamespace(top=SimpleNamespace(**found[""]), copy=SimpleNamespace(**found["copy"]),
                               states=copy_job_states(job), copy_prefix=key_prefix(schema, "copy_key"),
                               state_at_suffix=state_at_suffix(schema))
    except KeyError as missing:
        raise SchemaDrift(f"no module {missing} in {SCHEMA_RS}") from None


def attributes() -> SimpleNamespace:
    """The top-level attribute names (PK, ITEM_TYPE, UPDATED_AT)."""
    return _rust().top


def copy_attributes() -> SimpleNamespace:
    """`mod copy`'s names: a copy job item's attributes (STATE, STATE_RANK, ...), its KIND and the
    claim values (CLAIM_DONE, ...)."""
    return _rust().copy


def state_rank(state: str) -> int:
    """CopyJobState::rank of an AWS copy job state: a record's state only moves to a higher rank."""
    return _rust().states[state]["rank"]


def has_failed(state: str) -> bool:
    """CopyJobState::has_failed: the copy did not (wholly) happen (FAILED, PARTIAL)."""
    return _rust().states[state]["failed"]


def states() -> list[str]:
    return list(_rust().states)


def copy_key(copy_job_id: str) -> dict:
    """The key of a copy job's item."""
    return {attributes().PK: {"S": f"{_rust().copy_prefix}{copy_job_id}"}}


def state_at(state: str) -> str:
    """`<state>_at` (schema::state_at): when the job was seen in that state."""
    return f"{state.lower()}{_rust().state_at_suffix}"


@lru_cache(maxsize=None)
def table_definition() -> dict:
    """template.yaml's TrackingTable properties that CreateTable takes (keys, attribute
    definitions, indexes, billing)."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    properties = template["Resources"][TABLE_RESOURCE]["Properties"]
    return {name: properties[name] for name in
            ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}


def recovery_point_index() -> tuple[str, str]:
    """(index name, its hash key) of the index that lists a recovery point's copies."""
    (index,) = table_definition()["GlobalSecondaryIndexes"]
    (key,) = [k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"]
    return index["IndexName"], key


def tracked_item(job: dict) -> dict:
    """The item the event path leaves for a copy job it tracked (a ListCopyJobs item): the tracker's
    state and rank, the details, and for a failure the retrier's finished claim."""
    top, copy = attributes(), copy_attributes()
    item = {
        **copy_key(job["CopyJobId"]), top.ITEM_TYPE: {"S": copy.KIND},
        copy.COPY_JOB_ID: {"S": job["CopyJobId"]}, copy.STATE: {"S": job["State"]},
        copy.STATE_RANK: {"N": str(state_rank(job["State"]))},
    }
    details = {
        copy.SOURCE_RECOVERY_POINT_ARN: "SourceRecoveryPointArn", copy.SOURCE_VAULT_ARN: "SourceBackupVaultArn",
        copy.DESTINATION_VAULT_ARN: "DestinationBackupVaultArn",
        copy.DESTINATION_RECOVERY_POINT_ARN: "DestinationRecoveryPointArn",
        copy.RESOURCE_ARN: "ResourceArn", copy.RESOURCE_TYPE: "ResourceType",
    }
    item.update({name: {"S": job[member]} for name, member in details.items() if job.get(member)})
    if has_failed(job["State"]):
        item[copy.FAILURE_CLAIM] = {"S": copy.CLAIM_DONE}
    return item
