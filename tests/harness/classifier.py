"""The Rust failure classifier as its sources define it, read instead of copied:

    shared/src/domain/failure.rs       the ordered phrase table (`PHRASES`: the first phrase a
                                       lower-cased message contains names its cause), what each rule
                                       names (`const NAME: Rule = Rule::Fixed(...)`, `fn cause`), and
                                       every cause (`enum Cause`, `PathCause`, `PointCause`,
                                       `TransientCause`)
    tests/behaviour/classification.rs  AWS's documented messages, each with the cause the
                                       classifier gives it (its rows `row(...)` / `labelled(...)`)

A cause is named as "Path(KmsKey)", "RecoveryPoint(Gone)", "Transient(Throttled)", "Quota". A source
these readers cannot follow (a rule without a cause, a row they cannot read) raises ClassifierDrift,
so the tests that use them fail loudly rather than check less (tests/e2e/test_standin_categories.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.config import ROOT

FAILURE_RS = ROOT / "shared" / "src" / "domain" / "failure.rs"
CLASSIFICATION_RS = ROOT / "tests" / "behaviour" / "classification.rs"

_STRING = r'"((?:[^"\\]|\\.)*)"'


class ClassifierDrift(RuntimeError):
    """The Rust source no longer reads as these readers expect: update them with it."""


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal)


def _enum_variants(source: str, name: str) -> list[tuple[str, str | None]]:
    """(variant, the enum it wraps or None) of `pub enum name`, doc comments left out."""
    enum = re.search(rf"pub enum {name} \{{\n(.*?)\n\}}", source, re.S)
    if not enum:
        raise ClassifierDrift(f"enum {name} not found in {FAILURE_RS}")
    variants = re.findall(r"^    (\w+)(?:\((\w+)\))?[ ,{]", enum.group(1) + "\n", re.M)
    if not variants:
        raise ClassifierDrift(f"enum {name} has no variants the reader can see")
    return [(variant, wrapped or None) for variant, wrapped in variants]


def causes(source: str) -> list[str]:
    """Every cause `enum Cause` can be, its grouped variants expanded ("Path(PassRole)", ...)."""
    found = []
    for variant, wrapped in _enum_variants(source, "Cause"):
        if wrapped:
            found += [f"{variant}({inner})" for inner, _ in _enum_variants(source, wrapped)]
        else:
            found.append(variant)
    return found


def _rule_causes(source: str) -> dict[str, str]:
    """What each rule of the phrase table names: the constants (`const GONE: Rule =
    Rule::Fixed(Cause::RecoveryPoint(PointCause::Gone));`) and the rules that carry names
    (`Rule::KmsKey => Cause::Path(PathCause::KmsKey { ... })` in `fn cause`)."""
    rules = {}
    for name, variant, inner in re.findall(r"const (\w+): Rule = Rule::Fixed\(Cause::(\w+)(?:\(\w+::(\w+)\))?\);", source):
        rules[name] = f"{variant}({inner})" if inner else variant
    body = re.search(r"\nfn cause\(rule: &Rule, message: &str\) -> Cause \{(.*?)\n\}", source, re.S)
    if not body:
        raise ClassifierDrift(f"fn cause not found in {FAILURE_RS}")
    for rule, variant, inner in re.findall(r"Rule::(\w+) => \{?\s*Cause::(\w+)\(\w+::(\w+)", body.group(1)):
        rules[f"Rule::{rule}"] = f"{variant}({inner})"
    return rules


def phrases(source: str) -> list[tuple[str, str]]:
    """(phrase, cause) of the `PHRASES` table, in its order."""
    table = re.search(r"const PHRASES: &\[\(&str, Rule\)\] = &\[\n(.*?)\n\];", source, re.S)
    if not table:
        raise ClassifierDrift(f"const PHRASES not found in {FAILURE_RS}")
    rules = _rule_causes(source)
    entries = [line.strip() for line in table.group(1).splitlines() if line.strip() and not line.strip().startswith("//")]
    found = []
    for entry in entries:
        parsed = re.fullmatch(rf"\({_STRING}, ([\w:]+)\),", entry)
        if not parsed or parsed.group(2) not in rules:
            raise ClassifierDrift(f"a PHRASES entry the reader cannot follow: {entry}")
        found.append((_unescape(parsed.group(1)), rules[parsed.group(2)]))
    return found


@dataclass(frozen=True)
class Row:
    """A row of classification.rs: AWS's message, its label ("Category(AccessDenied)",
    "Code(ThrottlingException)" or None) and the cause the classifier gives it."""

    message: str
    label: str | None
    cause: str


# A row's cause, as classification.rs writes it (its helpers path/access/kms/point/transient).
_CAUSE_FORMS = [
    (r"path\((\w+)", "Path({})"),
    (r"access\(\)", "Path(Access)"),
    (r"kms\(", "Path(KmsKey)"),
    (r"point\((\w+)\)", "RecoveryPoint({})"),
    (r"transient\((\w+)\)", "Transient({})"),
    (r"Cause::(\w+)", "{}"),
]


def _row_cause(expression: str) -> str:
    for pattern, form in _CAUSE_FORMS:
        found = re.match(pattern, expression)
        if found:
            return form.format(*found.groups())
    raise ClassifierDrift(f"a row's cause the reader cannot follow: {expression[:80]}")


def documented_rows(source: str) -> list[Row]:
    """The rows of classification.rs's `table()` whose message is a string literal, in order (a
    refusal's message held in a variable, the PassRole one's, is left out). Raises ClassifierDrift
    when a row cannot be read."""
    body = re.search(r"\nfn table\(\) -> Vec<Row> \{(.*?)\n\}", source, re.S)
    if not body:
        raise ClassifierDrift(f"fn table not found in {CLASSIFICATION_RS}")
    rows = []
    for line in body.group(1).splitlines():
        line = line.strip()
        if not line.startswith(("row(", "labelled(")):
            continue
        parsed = re.match(rf"(?:row\(|labelled\(Label::(\w+)\((?:{_STRING})?\), ){_STRING}, (Permanent|Transient|Unrecognised), (.*)", line)
        if not parsed:
            if re.match(r"labelled\(Label::\w+\(\"[^\"]*\"\), \w+, ", line):
                continue  # a message held in a variable (the PassRole refusal's): not a literal to read
            raise ClassifierDrift(f"a classification.rs row the reader cannot follow: {line[:100]}")
        kind, label, message, _, cause = parsed.groups()
        rows.append(Row(_unescape(message), f"{kind}({_unescape(label)})" if kind else None, _row_cause(cause)))
    if not rows:
        raise ClassifierDrift(f"no rows read from {CLASSIFICATION_RS}")
    return rows


def rust_phrases() -> list[tuple[str, str]]:
    return phrases(FAILURE_RS.read_text())


def rust_causes() -> list[str]:
    return causes(FAILURE_RS.read_text())


def rust_documented_rows() -> list[Row]:
    return documented_rows(CLASSIFICATION_RS.read_text())
