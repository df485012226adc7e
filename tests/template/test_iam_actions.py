"""Each function's IAM actions in template.yaml are exactly the AWS operations its code can call.

Nothing here is a list of actions kept by hand; everything is derived from the sources:

1. Ports: the traits under shared/src/ports/ (searched recursively) and their methods.
2. Adapters: the port implementations under shared/src/adapters/ (recursively, matched by trait and
   type names, never by file names). An adapter method's AWS operations are the SDK fluent calls in
   its body (`.start_copy_job()`), and in the adapter helpers it calls, transitively. The operation
   names come from the botocore service models of the `aws_sdk_*` crates the adapter's module uses
   (snake_case, as the Rust SDK names its methods); the IAM action is `<service prefix>:<Operation>`.
3. Handlers (shared/src/handlers/**): the port methods called on fields and parameters whose type is
   bound by a port trait, and, transitively, the functions of other handlers they call.
4. Lambda functions: the binary template.yaml builds for each (BuildProperties.Binary), found by its
   Cargo manifest; its main.rs names the handler type it runs (directly, or through a type alias of
   the adapters' wiring) and the methods it calls on it.
5. What IAM needs besides the operations, each from a source rather than from memory: the dependent
   actions of the Service Authorization Reference (parliament's offline copy; StartCopyJob depends on
   iam:PassRole), KMS for a publisher to an encrypted topic or queue (ENCRYPTED_TARGETS), and what
   Lambda itself does with the execution role (the asynchronous failure destination, an encrypted
   SQS event source).

The scanner reads Rust lexically (comments, strings and `#[cfg(test)]` items removed; items found
by matching braces); it resolves calls by name and by the trait bounds in scope, erring towards
reachability: a call the code can make is counted even on a path that never takes it.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
import parliament
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared" / "src"
PORTS, ADAPTERS, HANDLERS = SHARED / "ports", SHARED / "adapters", SHARED / "handlers"

# What a caller needs, besides the call's own action, to write to an encrypted destination:
# - SNS, "Encryption at rest" / key management: publishers to a topic encrypted with a customer
#   managed key need kms:GenerateDataKey* and kms:Decrypt on the key
#   (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html);
# - SQS, "Key management": producers to an SSE-KMS queue need kms:GenerateDataKey and kms:Decrypt
#   (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
# The needs apply when the template encrypts every resource of the type (test_template asserts it).
KMS_TO_WRITE = {"kms:GenerateDataKey", "kms:Decrypt"}
ENCRYPTED_TARGETS = {
    "sns:Publish": ("AWS::SNS::Topic", "KmsMasterKeyId"),
    "sqs:SendMessage": ("AWS::SQS::Queue", "KmsMasterKeyId"),
}
# Lambda's poller reads an encrypted SQS event source with the function's role: kms:Decrypt
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, "Execution role permissions").
KMS_TO_READ = {"kms:Decrypt"}


# ---------------------------------------------------------------- reading Rust

SPECIAL = re.compile(r"""//|/\*|\bb?r#*"|\bb"|"|'""")
CHAR = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'")
STRING_END = re.compile(r'\\.|"', re.S)


@cache
def stripped(path: Path) -> str:
    return strip(path.read_text())


def strip(source: str) -> str:
    """The code without comments, string contents and character literals (newlines kept, so
    positions keep their lines)."""
    out, i = [], 0
    while (m := SPECIAL.search(source, i)) is not None:
        out.append(source[i : m.start()])
        token, i = m.group(), m.start()
        if token == "//":
            i = source.find("\n", i) if "\n" in source[i:] else len(source)
        elif token == "/*":
            depth, j = 0, i
            while True:
                nxt = re.compile(r"/\*|\*/").search(source, j)
                depth += 1 if nxt.group() == "/*" else -1
                j = nxt.end()
                if depth == 0:
                    break
            out.append("\n" * source.count("\n", i, j))
            i = j
        elif token == "'":
            char = CHAR.match(source, i)
            out.append("' '" if char else "'")
            i = char.end() if char else i + 1
        elif "r" in token:  # raw string: no escapes, ends at `"` and as many `#`
            hashes = token.count("#")
            j = source.index('"' + "#" * hashes, m.end()) + 1 + hashes
            out.append('""' + "\n" * source.count("\n", i, j))
            i = j
        else:
            j = m.end()
            while (e := STRING_END.search(source, j)).group() != '"':
                j = e.end()
            j = e.end()
            out.append('""' + "\n" * source.count("\n", i, j))
            i = j
    out.append(source[i:])
    return "".join(out)


def closing(code: str, i: int) -> int:
    """Index of the bracket closing the one at `i`."""
    pairs = {"{": "}", "(": ")", "[": "]", "<": ">"}
    opening, close, depth = code[i], pairs[code[i]], 0
    for j in range(i, len(code)):
        if code[j] == opening:
            depth += 1
        elif code[j] == close and not (close == ">" and code[j - 1] == "-"):
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"unbalanced {opening} at {i}")


def split_top(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "([{<":
            depth += 1
        elif c in ")]}" or (c == ">" and text[i - 1] != "-"):
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def drop_test_items(code: str) -> str:
    """Removes `#[cfg(test)]` items: tests are not what a deployed function can call."""
    while (m := re.search(r"#\[cfg\(test\)\]", code)) is not None:
        end = re.compile(r"[{;]").search(code, m.end())
        stop = end.end() if end.group() == ";" else closing(code, end.start()) + 1
        code = code[: m.start()] + "\n" * code.count("\n", m.start(), stop) + code[stop:]
    return code


def base_name(type_text: str) -> str:
    """`&'a mut crate::x::Retrier<B, S>` -> `Retrier`."""
    text = re.sub(r"^(?:&\s*(?:'\w+\s+)?(?:mut\s+)?|dyn\s+|impl\s+)+", "", type_text.strip())
    text = text.split("<", 1)[0]
    return text.rsplit("::", 1)[-1].strip()


def type_args(type_text: str) -> list[str]:
    text = type_text.strip()
    if "<" not in text:
        return []
    start = text.index("<")
    return split_top(text[start + 1 : closing(text, start)])


def bounds_of(generics: str) -> dict[str, set[str]]:
    """`B: BackupApi + Send, S: TrackingStore` -> {B: {BackupApi, Send}, S: {TrackingStore}}."""
    bounds: dict[str, set[str]] = defaultdict(set)
    for part in split_top(generics):
        if ":" not in part or part.startswith("'"):
            continue
        name, _, traits = part.partition(":")
        bounds[name.strip()] |= {base_name(t) for t in split_top(traits, "+") if not t.startswith("'")}
    return bounds


@dataclass
class Fn:
    name: str
    owner: str | None  # the impl's type (None for a free function or a macro)
    trait: str | None  # the trait implemented, or the trait declaring it
    file: Path
    params: dict[str, str]  # name -> type text
    bounds: dict[str, set[str]]  # generic parameter -> traits (the impl's and the function's)
    fields: dict[str, set[str]]  # for methods: field name -> traits bounding its type
    body: str


@dataclass
class Crate:
    """What one set of files defines."""

    fns: list[Fn] = field(default_factory=list)
    traits: dict[str, set[str]] = field(default_factory=dict)  # trait -> method names
    structs: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)  # generics, fields
    aliases: dict[str, str] = field(default_factory=dict)  # type alias -> base type
    impls: list[tuple[str, str, dict, list[Fn]]] = field(default_factory=list)  # type, as written, bounds, fns

    def methods(self, owner: str, name: str) -> list[Fn]:
        return [f for f in self.fns if f.owner == owner and f.name == name]


ITEM = re.compile(r"\b(impl|trait|fn|mod|struct|enum|union|type|macro_rules)\b")


def parse_files(paths: list[Path]) -> Crate:
    crate = Crate()
    for path in paths:
        code = drop_test_items(stripped(path))
        parse_block(code, 0, len(code), None, None, {}, path, crate)
    # Fields' trait bounds, now that every struct and impl is known.
    # A field's type is a generic parameter of the struct; the impl names it by position
    # (`struct Retrier<B, ..>`, `impl<B: BackupApi, ..> Retrier<B, ..>`) and bounds it.
    for owner, self_type, bounds, fns in crate.impls:
        generics, fields = crate.structs.get(owner, ([], {}))
        mapping = dict(zip(generics, type_args(self_type)))
        typed = {name: bounds.get(base_name(mapping.get(base_name(t), t)), set()) for name, t in fields.items()}
        for fn in fns:
            fn.fields = typed
    return crate


def parse_block(code, start, end, owner, trait, bounds, path, crate):
    i = start
    while (m := ITEM.search(code, i, end)) is not None:
        keyword = m.group(1)
        header_end = re.compile(r"[{;]").search(code, m.end(), end)
        if header_end is None:
            return
        if keyword == "fn":
            i = parse_fn(code, m.start(), owner, trait, bounds, path, crate)
            continue
        if keyword == "macro_rules":
            name = re.match(r"macro_rules\s*!\s*(\w+)\s*", code[m.start() :]).group(1)
            open_at = re.compile(r"[{(\[]").search(code, m.end())
            close = closing(code, open_at.start())
            crate.fns.append(Fn(name + "!", None, None, path, {}, {}, {}, code[open_at.start() : close + 1]))
            i = close + 1
            continue
        if keyword == "type":
            statement_end = code.index(";", m.end())
            alias = re.match(r"type\s+(\w+)\s*(?:<[^=]*>)?\s*=\s*(.+)", code[m.start() : statement_end], re.S)
            if alias:
                crate.aliases[alias.group(1)] = base_name(alias.group(2))
            i = statement_end + 1
            continue
        if header_end.group() == ";" or keyword in ("enum", "union"):
            i = header_end.end() if header_end.group() == ";" else closing(code, header_end.start()) + 1
            continue
        header = code[m.start() : header_end.start()]
        close = closing(code, header_end.start())
        body_start, body_end = header_end.start() + 1, close
        if keyword == "impl":
            generics = ""
            rest = header[len("impl") :].strip()
            if rest.startswith("<"):
                generics, rest = rest[1 : closing(rest, 0)], rest[closing(rest, 0) + 1 :].strip()
            rest, _, where = rest.partition(" where ")
            parts = re.split(r"\s+for\s+", rest, maxsplit=1)
            impl_trait, self_type = (base_name(parts[0]), parts[1]) if len(parts) == 2 else (None, parts[0])
            impl_bounds = bounds_of(generics)
            for name, traits in bounds_of(where).items():
                impl_bounds[name] |= traits
            owner_name, before = base_name(self_type), len(crate.fns)
            parse_block(code, body_start, body_end, owner_name, impl_trait, impl_bounds, path, crate)
            crate.impls.append((owner_name, self_type, impl_bounds, crate.fns[before:]))
        elif keyword == "trait":
            name = re.match(r"trait\s+(\w+)", header).group(1)
            before = len(crate.fns)
            parse_block(code, body_start, body_end, None, name, {}, path, crate)
            crate.traits[name] = {f.name for f in crate.fns[before:]}
            del crate.fns[before:]  # declarations (and default bodies) are not implementations
        elif keyword == "struct":
            struct = re.match(r"struct\s+(\w+)\s*(?:<(.*)>)?", header, re.S)
            generics = [base_name(g.split(":")[0]) for g in split_top(struct.group(2) or "")]
            fields = {}
            for part in split_top(re.sub(r"#\[[^\]]*\]", "", code[body_start:body_end])):
                name, _, type_text = part.partition(":")
                fields[name.split()[-1]] = type_text.strip()
            crate.structs[struct.group(1)] = (generics, fields)
        elif keyword == "mod":
            parse_block(code, body_start, body_end, owner, trait, bounds, path, crate)
        i = close + 1


def parse_fn(code, start, owner, trait, outer_bounds, path, crate) -> int:
    name_match = re.compile(r"fn\s+(\w+)\s*").match(code, start)
    i, generics = name_match.end(), ""
    if code[i] == "<":
        generics, i = code[i + 1 : closing(code, i)], closing(code, i) + 1
    params_open = code.index("(", i)
    params_close = closing(code, params_open)
    depth, j = 0, params_close + 1
    while code[j] not in "{;" or depth:
        depth += code[j] in "([" and 1 or code[j] in ")]" and -1 or 0
        j += 1
    bounds = defaultdict(set, {k: set(v) for k, v in outer_bounds.items()})
    for name, traits in bounds_of(generics).items():
        bounds[name] |= traits
    where = code[params_close + 1 : j].partition(" where ")[2]
    for name, traits in bounds_of(where).items():
        bounds[name] |= traits
    params = {}
    for part in split_top(code[params_open + 1 : params_close]):
        pattern, _, type_text = part.partition(":")
        if type_text:
            params[pattern.split()[-1]] = type_text.strip()
    body_end = closing(code, j) + 1 if code[j] == "{" else j + 1
    if code[j] == "{" or trait is not None:
        crate.fns.append(Fn(name_match.group(1), owner, trait, path, params, dict(bounds), {}, code[j:body_end]))
    return body_end


# ---------------------------------------------------------------- calls in a body

KEYWORDS = {"if", "while", "match", "for", "loop", "return", "fn", "let", "in", "as", "move", "async", "await",
            "Some", "Ok", "Err", "None", "Box", "Vec", "self", "Self", "where", "impl", "dyn", "mut", "ref"}


@dataclass(frozen=True)
class Call:
    kind: str  # "method", "path", "bare", "macro"
    name: str
    receiver: str | None = None  # for "method": `self.store`, `api`, ... (None when not a plain path)
    path: str | None = None  # for "path": the type


def receiver_before(code: str, dot: int) -> str | None:
    """The plain path a method is called on (`self.store` in `self.store.claim(`), or None when the
    receiver is an expression (`self.retrier().handle_failure(`, `x?.y(`)."""
    parts, j = [], dot
    while True:
        k = j
        while k > 0 and code[k - 1].isspace():
            k -= 1
        start = k
        while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):
            start -= 1
        if start == k:
            return ".".join(reversed(parts)) or None
        parts.append(code[start:k])
        while start > 0 and code[start - 1].isspace():
            start -= 1
        if start > 1 and code[start - 1] == "." and code[start - 2] != ".":
            j = start - 1
            continue
        if code[max(start - 2, 0) : start] == "::":
            return None  # `Type::value.method(`: a path, not a binding
        return ".".join(reversed(parts))


GENERIC_ARGS = r"(?:\s*::\s*<[^(){};]*>)?"
METHOD_CALL = re.compile(r"\.\s*(\w+)" + GENERIC_ARGS + r"\s*\(")
PATH_CALL = re.compile(r"\b(\w+)\s*(?:<[^(){};]*>)?\s*::\s*(\w+)" + GENERIC_ARGS + r"\s*\(")
BARE_CALL = re.compile(r"(?<![\w.:])\s*\b([a-z_]\w*)" + GENERIC_ARGS + r"\s*\(")
MACRO_CALL = re.compile(r"\b(\w+)\s*!\s*[(\[{]")


def calls_in(body: str) -> list[Call]:
    calls = []
    for m in METHOD_CALL.finditer(body):
        calls.append(Call("method", m.group(1), receiver=receiver_before(body, m.start())))
    for m in PATH_CALL.finditer(body):
        calls.append(Call("path", m.group(2), path=m.group(1)))
    for m in BARE_CALL.finditer(body):
        before = body[: m.start(1)].rstrip()
        if m.group(1) not in KEYWORDS and not before.endswith((".", "::", "fn")):
            calls.append(Call("bare", m.group(1)))
    for m in MACRO_CALL.finditer(body):
        calls.append(Call("macro", m.group(1) + "!"))
    return calls


def sdk_calls_in(body: str) -> list[str]:
    """SDK fluent operation calls take no arguments: `client.describe_copy_job()`."""
    return re.findall(r"\.\s*(\w+)\s*\(\s*\)", body)


# ---------------------------------------------------------------- AWS models

@cache
def botocore_session():
    return botocore.session.get_session()


def snake(operation: str) -> str:
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", operation)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower()


@cache
def service_model(crate_suffix: str):
    """The botocore model of the service an `aws_sdk_<suffix>` crate calls."""
    session = botocore_session()
    if crate_suffix in session.get_available_services():
        return session.get_service_model(crate_suffix)
    for name in session.get_available_services():
        model = session.get_service_model(name)
        if model.metadata.get("serviceId", "").replace(" ", "").lower() == crate_suffix:
            return model
    raise LookupError(f"no botocore model for aws_sdk_{crate_suffix}")


@cache
def operations(crate_suffix: str) -> dict[str, str]:
    """snake_case method name -> IAM action, for one SDK crate."""
    model = service_model(crate_suffix)
    prefix = model.metadata.get("signingName") or model.metadata["endpointPrefix"]
    return {snake(op): f"{prefix}:{op}" for op in model.operation_names}


@cache
def iam_database() -> dict[str, dict]:
    """Action (lower case) -> its Service Authorization Reference entry (parliament's copy)."""
    path = Path(parliament.__file__).parent / "iam_definition.json"
    entries = {}
    for service in json.loads(path.read_text()):
        for privilege in service["privileges"]:
            entries[f"{service['prefix']}:{privilege['privilege']}".lower()] = privilege
    return entries


def dependent_actions(action: str) -> set[str]:
    entry = iam_database().get(action.lower())
    assert entry is not None, f"{action} is not in the Service Authorization Reference: map the SDK operation to its IAM action"
    return {d for resource in entry["resource_types"] for d in resource.get("dependent_actions", [])}


# ---------------------------------------------------------------- the derivation

def rust_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.rs"))


@cache
def ports() -> dict[str, set[str]]:
    traits = parse_files(rust_files(PORTS)).traits
    return {name: methods for name, methods in traits.items() if methods}


@cache
def adapters() -> Crate:
    return parse_files(rust_files(ADAPTERS))


@cache
def handlers() -> Crate:
    return parse_files(rust_files(HANDLERS))


@cache
def sdk_crates(path: Path) -> set[str]:
    """The `aws_sdk_*` crates of the adapter module a file belongs to (a folder module's files share
    their clients)."""
    module = path.parent if path.parent != ADAPTERS else path
    files = rust_files(module) if module.is_dir() else [module]
    return {m for f in files for m in re.findall(r"\baws_sdk_(\w+)", stripped(f))}


def adapter_actions(fn: Fn, seen: set | None = None) -> dict[str, str]:
    """AWS actions an adapter function calls, directly or through adapter helpers: action -> where."""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return {}
    seen.add(id(fn))
    crate = adapters()
    found = {}
    known = {}
    for suffix in sdk_crates(fn.file):
        for method, action in operations(suffix).items():
            known.setdefault(method, set()).add(action)
    for method in sdk_calls_in(fn.body):
        actions = known.get(method, set())
        assert len(actions) <= 1, f"{fn.file}: `.{method}()` is an operation of several services: {actions}"
        for action in actions:
            found[action] = f"{fn.owner}::{fn.name}"
    for callee in resolve_in(crate, fn, calls_in(fn.body), adapter=True):
        for action, where in adapter_actions(callee, seen).items():
            found.setdefault(action, f"{fn.owner or ''}::{fn.name} -> {where}")
    return found


def resolve_in(crate: Crate, fn: Fn, calls: list[Call], adapter: bool) -> list[Fn]:
    """The functions of `crate` these calls may reach (by name; receivers typed where possible)."""
    callees = []
    types = {f.owner for f in crate.fns if f.owner}
    for call in calls:
        if call.kind == "method":
            typed = receiver_type(crate, fn, call.receiver)
            if call.receiver == "self" and fn.owner:
                callees += crate.methods(fn.owner, call.name)
            elif port_of(fn, call.receiver):
                continue  # a port: the caller collects it
            elif typed in types:
                callees += crate.methods(typed, call.name)
            elif typed is None:
                # Untyped (a local, an expression): by name. In adapters only inherent methods: a
                # value's `.get(..)` is not TrackingStore::get.
                callees += [f for f in crate.fns if f.owner and f.name == call.name and not (adapter and f.trait)]
        elif call.kind == "path":
            owner = fn.owner if call.path == "Self" else crate.aliases.get(call.path, call.path)
            if owner in types:
                callees += crate.methods(owner, call.name)
        elif call.kind in ("bare", "macro"):
            callees += [f for f in crate.fns if f.owner is None and f.name == call.name]
    return callees


def receiver_type(crate: Crate, fn: Fn, receiver: str | None) -> str | None:
    """The type a `self.<field>` or parameter receiver is declared with (its base name), if known."""
    if receiver is None:
        return None
    if receiver.startswith("self.") and receiver.count(".") == 1 and fn.owner in crate.structs:
        type_text = crate.structs[fn.owner][1].get(receiver[5:])
    else:
        type_text = fn.params.get(receiver)
    return crate.aliases.get(base_name(type_text), base_name(type_text)) if type_text else None


def port_of(fn: Fn, receiver: str | None) -> set[str]:
    """The port traits bounding a receiver: `self.<field>` or a parameter (or a `let` alias of one)."""
    if receiver is None:
        return set()
    aliases = dict(re.findall(r"\blet\s+(?:mut\s+)?(\w+)\s*(?::[^=;]+)?=\s*&?\s*(self\.\w+)\s*;", fn.body))
    receiver = aliases.get(receiver, receiver)
    if receiver.startswith("self.") and receiver.count(".") == 1:
        traits = fn.fields.get(receiver.split(".")[1], set())
    elif receiver in fn.params:
        type_text = fn.params[receiver]
        plain = re.sub(r"^(?:&\s*(?:'\w+\s+)?(?:mut\s+)?)", "", type_text.strip())
        if plain.startswith(("impl ", "dyn ")):
            traits = {base_name(t) for t in split_top(plain.split(" ", 1)[1], "+")}
        else:
            traits = fn.bounds.get(base_name(plain), set())
    else:
        return set()
    return traits & set(ports())


@dataclass
class Reached:
    """A function's code: the port methods it can call, each with the first path found to it."""

    port_calls: dict[tuple[str, str], str] = field(default_factory=dict)
    adapter_fns: dict[int, tuple[Fn, str]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)


def reach(entries: list[Fn], adapter_entries: list[Fn]) -> Reached:
    crate = handlers()
    reached = Reached()
    queue = [(fn, f"{fn.owner or ''}::{fn.name}".lstrip(":")) for fn in entries]
    seen = set()
    port_fields = {name for fn in crate.fns for name, traits in fn.fields.items() if traits & set(ports())}
    while queue:
        fn, path = queue.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        calls = calls_in(fn.body)
        for call in calls:
            if call.kind != "method":
                continue
            traits = {t for t in port_of(fn, call.receiver) if call.name in ports()[t]}
            for trait in traits:
                reached.port_calls.setdefault((trait, call.name), path)
            # A port reached through another value's field (`self.retrier.store.claim(...)`) is not
            # typed here: say so rather than miss the call.
            if call.receiver and call.receiver.count(".") >= 2 and call.receiver.rsplit(".", 1)[1] in port_fields:
                reached.unresolved.append(f"{path}: {call.receiver}.{call.name}(...)")
        for callee in resolve_in(crate, fn, calls, adapter=False):
            queue.append((callee, f"{path} -> {callee.owner or ''}::{callee.name}".replace(" -> ::", " -> ")))
    for fn in adapter_entries:
        reached.adapter_fns[id(fn)] = (fn, f"{fn.owner or ''}::{fn.name}".lstrip(":"))
    return reached


@cache
def port_actions() -> dict[tuple[str, str], dict[str, str]]:
    """(port trait, method) -> the AWS actions of every adapter implementing it."""
    actions: dict[tuple[str, str], dict[str, str]] = {}
    for fn in adapters().fns:
        if fn.trait in ports() and fn.owner:
            actions.setdefault((fn.trait, fn.name), {}).update(adapter_actions(fn))
    return actions


def binary_sources(binary: str) -> list[Path]:
    """The source files of the crate that builds `binary` (by its Cargo manifest, wherever it is)."""
    for manifest in sorted(ROOT.rglob("Cargo.toml")):
        if any(part in {"target", ".venv", ".venv-checkov", ".git"} for part in manifest.parts):
            continue
        data = tomllib.loads(manifest.read_text())
        bins = [b for b in data.get("bin", []) if b.get("name") == binary]
        if bins or (data.get("package", {}).get("name") == binary and (manifest.parent / "src/main.rs").exists()):
            return rust_files(manifest.parent / "src")
    raise LookupError(f"no crate builds the binary {binary}")


def function_entries(binary: str) -> tuple[list[Fn], list[Fn]]:
    """The handler functions a binary's main calls, and the adapter functions it calls directly."""
    main = parse_files(binary_sources(binary))
    code = "\n".join(fn.body for fn in main.fns)
    aliases = {**adapters().aliases, **main.aliases}
    words = set(re.findall(r"\b\w+\b", code))
    handler_types = {f.owner for f in handlers().fns if f.owner}
    used = {aliases.get(w, w) for w in words} & handler_types
    calls = calls_in(code)
    entries, adapter_entries = [], []
    for call in calls:
        if call.kind == "method":
            entries += [f for f in handlers().fns if f.owner in used and f.name == call.name]
        elif call.kind == "path":
            owner = aliases.get(call.path, call.path)
            entries += [f for f in handlers().fns if f.owner == owner and f.name == call.name]
            adapter_entries += [f for f in adapters().fns if f.owner == owner and f.name == call.name]
        elif call.kind == "bare":
            entries += [f for f in handlers().fns if f.owner is None and f.name == call.name]
            adapter_entries += [f for f in adapters().fns if f.owner is None and f.name == call.name]
    return entries, adapter_entries


@dataclass
class CodeActions:
    actions: dict[str, str]  # action -> why (the call path)
    unresolved: list[str]


@cache
def code_actions(binary: str) -> CodeActions:
    entries, adapter_entries = function_entries(binary)
    assert entries, f"{binary}: its main calls no handler (shared/src/handlers)"
    reached = reach(entries, adapter_entries)
    by_port = port_actions()
    actions: dict[str, str] = {}
    for (trait, method), path in sorted(reached.port_calls.items()):
        assert (trait, method) in by_port, f"no adapter in shared/src/adapters implements {trait}::{method}"
        for action, where in by_port[(trait, method)].items():
            actions.setdefault(action, f"{path} -> {trait}::{method} -> {where}")
    for fn, path in reached.adapter_fns.values():
        for action, where in adapter_actions(fn).items():
            actions.setdefault(action, f"{path} -> {where}")
    for action, why in list(actions.items()):
        for dependent in sorted(dependent_actions(action)):
            actions.setdefault(dependent, f"dependent action of {action} (Service Authorization Reference) <- {why}")
    return CodeActions(actions, reached.unresolved)


# ---------------------------------------------------------------- the template

class CfnLoader(yaml.SafeLoader):
    """template.yaml with short-form tags kept as plain values (`!GetAtt Queue.Arn` -> "Queue.Arn")."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)
))


def load_template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def flat_strings(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {s for item in value for s in flat_strings(item)}
    return set()


def functions(template: dict) -> dict[str, dict]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def statements(function: dict) -> list[dict]:
    found = []
    for policy in function["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"only inline statements can be audited, not {policy!r}")
        found += policy["Statement"]
    return found


def lambda_needs(template: dict, name: str) -> set[tuple[str, str]]:
    """(action, resource) pairs Lambda itself uses the function's role for."""
    resources = template["Resources"]
    function = resources[name]["Properties"]
    invoke = function.get("EventInvokeConfig") or template.get("Globals", {}).get("Function", {}).get("EventInvokeConfig", {})
    needs = set()
    destination = invoke.get("DestinationConfig", {}).get("OnFailure", {})
    if destination.get("Type") == "SQS":
        queue = destination["Destination"].removesuffix(".Arn")
        needs.add(("sqs:SendMessage", destination["Destination"]))
        key = resources[queue]["Properties"].get("KmsMasterKeyId")
        needs |= {(action, f"{key}.Arn") for action in KMS_TO_WRITE} if key else set()
    for event in function.get("Events", {}).values():
        if event["Type"] == "SQS":
            key = resources[event["Properties"]["Queue"].removesuffix(".Arn")]["Properties"].get("KmsMasterKeyId")
            needs |= {(action, f"{key}.Arn") for action in KMS_TO_READ} if key else set()
    return needs


def encryption_needs(template: dict, actions: set[str]) -> set[str]:
    needs = set()
    for action, (kind, key) in ENCRYPTED_TARGETS.items():
        targets = [r for r in template["Resources"].values() if r["Type"] == kind]
        if action in actions and targets and all(r["Properties"].get(key) for r in targets):
            needs |= KMS_TO_WRITE
    return needs


def grant_problems(template: dict) -> dict[str, list[str]]:
    """For each function, how its grants differ from what its code can call (empty: they match)."""
    problems = {}
    for name, function in functions(template).items():
        binary = function["Metadata"]["BuildProperties"]["Binary"]
        code = code_actions(binary)
        platform = lambda_needs(template, name)
        needed = set(code.actions) | encryption_needs(template, set(code.actions)) | {a for a, _ in platform}
        allows = [s for s in statements(function) if s["Effect"] == "Allow"]
        granted = {a for s in allows for a in as_list(s["Action"])}
        # Actions granted for the code, not only on what Lambda itself uses (the failure queue).
        for_code = {a for s in allows for a in as_list(s["Action"])
                    if not a.startswith("kms:") and flat_strings(s["Resource"]) - {r for p, r in platform if p == a}}
        found = [f"the code cannot reach `{u}`'s port: tell the scanner its type" for u in code.unresolved]
        found += [f"granted, but nothing in {binary} calls it: {a}" for a in sorted(granted - needed)]
        found += [f"called but not granted: {a} ({code.actions.get(a, 'Lambda or KMS needs it')})" for a in sorted(needed - granted)]
        found += [f"called but granted only on what Lambda itself uses ({', '.join(r for p, r in platform if p == a)}): {a} ({code.actions[a]})"
                  for a in sorted({a for a in code.actions if not a.startswith("kms:")} - for_code) if a in granted]
        found += [f"granted on more than Lambda's own use, but the code does not call it: {a}"
                  for a in sorted(for_code - set(code.actions)) if a in needed]
        for deny in (s for s in statements(function) if s["Effect"] == "Deny"):
            found += [f"denies an action the code never calls: {a}" for a in as_list(deny["Action"]) if a not in code.actions]
        problems[name] = found
    return problems


# ---------------------------------------------------------------- tests

TEMPLATE = load_template()


@pytest.mark.parametrize("function", sorted(functions(TEMPLATE)))
def test_each_functions_iam_actions_are_the_aws_operations_its_code_can_call(function):
    problems = grant_problems(TEMPLATE)[function]
    binary = functions(TEMPLATE)[function]["Metadata"]["BuildProperties"]["Binary"]
    called = "\n".join(f"  {a}: {why}" for a, why in sorted(code_actions(binary).actions.items()))
    assert not problems, f"{function}:\n" + "\n".join(problems) + f"\nwhat its code calls:\n{called}"


def test_the_derivation_sees_every_adapter_and_no_layer_bypasses_the_ports():
    # Every port an adapter implements with an SDK client resolves to operations, method by method:
    # if files move or helpers are renamed and the scanner loses track, this fails before the
    # comparison above could pass by accident.
    by_port = port_actions()
    assert {trait for trait, _ in by_port} >= {"BackupApi", "TrackingStore", "AlertSink", "RetryQueue", "VaultNotificationsApi"}
    for (trait, method), actions in by_port.items():
        implementors = [f for f in adapters().fns if f.trait == trait and f.name == method]
        if any(sdk_crates(f.file) for f in implementors):
            assert actions, f"{trait}::{method}: its adapter calls no AWS operation the scanner can see"
    for path in rust_files(HANDLERS):
        assert "aws_sdk_" not in strip(path.read_text()), f"{path}: handlers reach AWS through the ports only"
    for function in functions(TEMPLATE).values():
        for path in binary_sources(function["Metadata"]["BuildProperties"]["Binary"]):
            assert "aws_sdk_" not in strip(path.read_text()), f"{path}: mains reach AWS through the handlers only"


def test_the_comparison_fails_on_a_missing_or_an_unused_grant():
    mutated = copy.deepcopy(TEMPLATE)
    tracker = mutated["Resources"]["CopyJobTrackerFunction"]["Properties"]["Policies"][0]["Statement"]
    tracker[0]["Action"] = [a for a in as_list(tracker[0]["Action"]) if a != "dynamodb:UpdateItem"] or ["dynamodb:GetItem"]
    retrier = mutated["Resources"]["CopyJobRetrierFunction"]["Properties"]["Policies"][0]["Statement"]
    retrier.append({"Effect": "Allow", "Action": ["dynamodb:DeleteItem"], "Resource": "TrackingTable.Arn"})
    copier = mutated["Resources"]["CrossRegionCopierFunction"]["Properties"]["Policies"][0]["Statement"]
    copier[:] = [s for s in copier if "iam:PassRole" not in as_list(s["Action"])]
    problems = grant_problems(mutated)
    assert any("called but not granted: dynamodb:UpdateItem" in p for p in problems["CopyJobTrackerFunction"])
    assert any("nothing in copy-job-tracker calls it: dynamodb:GetItem" in p for p in problems["CopyJobTrackerFunction"])
    assert any("nothing in copy-job-retrier calls it: dynamodb:DeleteItem" in p for p in problems["CopyJobRetrierFunction"])
    assert any("called but not granted: iam:PassRole" in p for p in problems["CrossRegionCopierFunction"])
