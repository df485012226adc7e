"""What AWS would bill for one request, as bench/cost_bench.py counts it: the pure rules (DynamoDB's
item sizes and request units, the 64 KB chunks of SQS and SNS, S3's request classes, a request's
service and operation, the metrics an EMF line makes) and the counting proxy that applies them to
every request a function makes.

Kept apart from the benchmark so that tests/e2e/test_cost_counting.py can check the rules on their
own. Sources of each rule: docs/cost.md, "Assumptions".
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from harness.loopback import Connections, LoopbackHandler, LoopbackServer
from harness.queries import emf_documents_in

KB = 1024
# SQS and SNS bill each 64 KB chunk of a request's payload as one request.
CHUNK = 64 * KB

# ---------------------------------------------------------------- DynamoDB item sizes and units


def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a number: 1 byte per two significant digits (leading and trailing
    zeros trimmed), plus 1, plus 1 for a negative number (DynamoDB Developer Guide, "Item sizes")."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return len(text)
    if value == 0:
        return 2
    digits = value.as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return 1 + math.ceil(len(significant) / 2) + (1 if value < 0 else 0)


def value_size(value: dict) -> int:
    """Bytes of one attribute value in DynamoDB's JSON form ({"S": ...}, {"N": ...}, ...)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        import base64

        return len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in raw)
    if kind == "NS":
        return sum(number_size(v) for v in raw)
    if kind == "BS":
        import base64

        return sum(len(base64.b64decode(v)) for v in raw)
    if kind == "L":
        # 3 bytes for the list, 1 per element, plus the elements.
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown attribute value type {kind!r}")


def item_size(item: dict | None) -> int:
    """An item's size as DynamoDB bills it: the sum of its attribute names' and values' bytes."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool = True) -> float:
    """Read request units of reading one item of `size` bytes (0: an item that does not exist, which
    still costs the minimum): 1 per started 4 KB, half that for an eventually consistent read."""
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


def write_units(size: int) -> int:
    """Write request units of writing an item of `size` bytes: 1 per started 1 KB, at least 1."""
    return max(1, math.ceil(size / KB))


def update_write_units(before: int, after: int) -> int:
    """An UpdateItem or a replacing PutItem: the larger of the item before and after."""
    return write_units(max(before, after))


def failed_condition_write_units(existing: int) -> int:
    """A conditional write whose condition failed: 1 if the item does not exist, else by the size of
    the item as it stands."""
    return write_units(existing)


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and the attributes its entries carry."""

    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...]  # keys of the index and of the table included

    @classmethod
    def of(cls, definition: dict, table_keys: list[str]) -> "Index":
        keys = tuple(k["AttributeName"] for k in definition["KeySchema"])
        projection = definition.get("Projection", {})
        extra = tuple(projection.get("NonKeyAttributes", [])) if projection.get("ProjectionType") == "INCLUDE" else ()
        return cls(definition["IndexName"], keys, tuple(dict.fromkeys([*keys, *table_keys, *extra])))

    def entry(self, item: dict | None) -> dict | None:
        """The item's entry in the index (None when the item lacks a key attribute: not indexed)."""
        if not item or any(key not in item for key in self.keys):
            return None
        return {name: item[name] for name in self.projected if name in item}


def index_write_units(index: Index, before: dict | None, after: dict | None) -> int:
    """Write units a base-table write costs in the index (DynamoDB Developer Guide, "Provisioned
    throughput considerations for global secondary indexes", writes): a new entry 1 write, a
    removed one 1, a changed key 2 (delete and put), a changed projected attribute 1, else none;
    each write per started 1 KB of the entry."""
    old, new = index.entry(before), index.entry(after)
    if old is None and new is None:
        return 0
    if old is None:
        return write_units(item_size(new))
    if new is None:
        return write_units(item_size(old))
    if any(old.get(key) != new.get(key) for key in index.keys):
        return write_units(item_size(old)) + write_units(item_size(new))
    if old != new:
        return write_units(item_size(new))
    return 0


def storage_bytes(items: list[dict], indexes: list[Index]) -> tuple[int, int]:
    """(table bytes, index bytes) as DynamoDB bills storage: each item's size plus 100 bytes of
    overhead, and each index entry's size plus 100 bytes."""
    table = sum(item_size(item) + 100 for item in items)
    index = sum(item_size(entry) + 100 for ix in indexes for entry in map(ix.entry, items) if entry is not None)
    return table, index


# ---------------------------------------------------------------- requests: service, operation, units

CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def signed_service(headers) -> str | None:
    """The service a request is signed for: the SigV4 credential scope of its Authorization header."""
    match = CREDENTIAL.search(headers.get("Authorization") or "")
    return match.group(2) if match else None


def s3_operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request (bucket, then key)."""
    parsed = urllib.parse.urlparse(path)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    parts = [p for p in parsed.path.split("/") if p]
    has_key = len(parts) > 1
    if method == "PUT":
        return "PutObject" if has_key else "PutBucket"
    if method == "GET":
        if has_key:
            return "GetObject"
        if "versions" in query:
            return "ListObjectVersions"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    if method == "POST":
        return "DeleteObjects" if "delete" in query else "PostObject"
    return method


# S3's request price classes: PUT, COPY, POST, LIST (and the others of the first tier) vs GET and
# every other request. DELETE is free.
S3_TIER1 = {"PutObject", "PutBucket", "PostObject", "ListObjects", "ListObjectsV2", "ListObjectVersions", "CopyObject"}
S3_FREE = {"DeleteObject", "DeleteObjects", "DeleteBucket"}


def s3_request_class(operation: str) -> str:
    if operation in S3_FREE:
        return "free"
    if operation in S3_TIER1:
        return "put_list"
    return "get"


def operation_of(service: str, method: str, path: str, headers, body: bytes) -> str:
    """The operation of a request: its X-Amz-Target (JSON protocols), its Action (query protocol),
    the S3 method and path, or AWS Backup's route (restJson1, by the stand-in's own routing table)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if service == "s3":
        return s3_operation(method, path)
    if service == "backup":
        from standin.common import ApiError
        from standin.server import find_route

        try:
            return find_route(method, urllib.parse.urlparse(path).path)[0].operation or "control"
        except ApiError:
            return "unknown"
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
    if "Action" in form:
        return form["Action"][0]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    return query.get("Action", [f"{method} {urllib.parse.urlparse(path).path}"])[0]


def chunks(payload_bytes: int) -> int:
    """Requests SQS or SNS bills for one API call carrying `payload_bytes`: one per started 64 KB."""
    return max(1, math.ceil(payload_bytes / CHUNK))


# ---------------------------------------------------------------- EMF metrics


def emf_metrics(document: dict) -> list[tuple[str, str, tuple]]:
    """The metrics one EMF document writes: (namespace, metric name, ((dimension, value), ...)) for
    each metric under each of its dimension sets (CloudWatch makes one metric per combination)."""
    metrics = []
    for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
        namespace = directive.get("Namespace", "")
        for dimension_set in directive.get("Dimensions", []) or [[]]:
            dims = tuple(sorted((name, str(document.get(name))) for name in dimension_set))
            for definition in directive.get("Metrics", []):
                metrics.append((namespace, definition["Name"], dims))
    return metrics


def emf_documents(lines) -> list[dict]:
    """The EMF documents among log lines, as the test harness reads them."""
    return emf_documents_in(lines)


def metric_hours(slots: list[set]) -> int:
    """Metric-hours of a day: in each hour, each distinct metric written in it (CloudWatch prorates a
    custom metric by the hours it receives data)."""
    return sum(len(metrics) for metrics in slots)


# ---------------------------------------------------------------- the counting proxy


@dataclass
class Usage:
    """What the requests of one invocation (or anything else) cost, counted by the proxy."""

    calls: Counter = field(default_factory=Counter)          # "service:Operation" -> requests
    billed: Counter = field(default_factory=Counter)         # "service:Operation" -> 64 KB chunks (SQS, SNS)
    rru: Counter = field(default_factory=Counter)            # "Operation" -> read request units
    wru: Counter = field(default_factory=Counter)            # "Operation" -> write request units (table)
    gsi_wru: Counter = field(default_factory=Counter)        # "Operation" -> write request units (indexes)
    failed_conditions: int = 0
    writes_by_kind: Counter = field(default_factory=Counter)  # "Operation kind" -> writes (kind: the key's prefix)
    s3_put_bytes: int = 0
    s3_class: Counter = field(default_factory=Counter)       # put_list / get / free -> requests
    sqs_sends: Counter = field(default_factory=Counter)      # queue name -> messages sent
    sqs_receives: Counter = field(default_factory=Counter)   # queue name -> ReceiveMessage calls
    sns_publishes: Counter = field(default_factory=Counter)  # topic name -> publishes
    intervals: list = field(default_factory=list)            # (start, end) of every request, perf_counter
    peak_in_flight: Counter = field(default_factory=Counter)  # service -> most requests at once

    def add(self, other: "Usage") -> None:
        for name in ("calls", "billed", "rru", "wru", "gsi_wru", "s3_class", "sqs_sends", "sqs_receives", "sns_publishes",
                     "writes_by_kind"):
            getattr(self, name).update(getattr(other, name))
        self.failed_conditions += other.failed_conditions
        self.s3_put_bytes += other.s3_put_bytes
        self.intervals += other.intervals
        for service, peak in other.peak_in_flight.items():
            self.peak_in_flight[service] = max(self.peak_in_flight[service], peak)

    def by_service(self) -> Counter:
        services = Counter()
        for name, count in self.calls.items():
            services[name.split(":", 1)[0]] += count
        return services

    def busy_seconds(self) -> float:
        """How long at least one request was in flight (the union of their intervals)."""
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total

    def as_dict(self) -> dict:
        return {
            "calls": dict(sorted(self.calls.items())), "billed_requests": dict(sorted(self.billed.items())),
            "rru": dict(self.rru), "wru": dict(self.wru), "gsi_wru": dict(self.gsi_wru),
            "failed_conditions": self.failed_conditions, "writes_by_kind": dict(sorted(self.writes_by_kind.items())),
            "s3_put_bytes": self.s3_put_bytes,
            "s3_request_classes": dict(self.s3_class), "sqs_sends": dict(self.sqs_sends),
            "sqs_receives": dict(self.sqs_receives), "sns_publishes": dict(self.sns_publishes),
            "peak_in_flight": dict(self.peak_in_flight),
        }


def read_request_body(handler) -> bytes:
    """The request's body: Content-Length bytes, or a chunked transfer's chunks joined."""
    if (handler.headers.get("Transfer-Encoding") or "").lower() == "chunked":
        data = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(data)
            data += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.read_body()


DROPPED_REPLY_HEADERS = ("content-length", "connection", "transfer-encoding", "date", "server")


class CountingProxy:
    """A pass-through proxy in front of moto and the AWS Backup stand-in for one function: every
    request goes to the upstream of the service it is signed for (`upstreams`: service -> URL,
    `default` for the rest) and is counted in the current Usage (`begin()` / `end()` frame an
    invocation; requests outside one go to `stray`).

    DynamoDB writes are bracketed by reads of the whole item straight from moto (`dynamodb_url`,
    not counted), so that a write's units come from the item's size before and after it, as AWS
    bills them; reads are billed from the items they return (the functions read whole items)."""

    def __init__(self, name: str, upstreams: dict[str, str], default: str, dynamodb_url: str, table: str,
                 indexes: list[Index], table_keys: list[str]):
        self.name = name
        self.connections = {url: Connections(url, timeout=600) for url in {*upstreams.values(), default}}
        self.upstreams, self.default = upstreams, default
        self.dynamodb = Connections(dynamodb_url, timeout=60)
        self.table, self.indexes, self.table_keys = table, indexes, table_keys
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.current: Usage | None = None
        self.stray = Usage()
        self.in_flight: Counter = Counter()
        proxy = self

        class Handler(LoopbackHandler):
            def forward(self):
                arrived = time.perf_counter()
                body = read_request_body(self)
                proxy.handle(self, body, arrived)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        self.server = LoopbackServer(Handler).serve_in_background()
        self.url = self.server.url

    # -- framing
    def begin(self) -> Usage:
        with self.lock:
            self.current = Usage()
            return self.current

    def end(self) -> Usage:
        with self.lock:
            usage, self.current = self.current, None
            return usage or Usage()

    def _usage(self) -> Usage:
        return self.current if self.current is not None else self.stray

    # -- a request
    def handle(self, handler, body: bytes, arrived: float) -> None:
        service = signed_service(handler.headers) or "unknown"
        operation = operation_of(service, handler.command, handler.path, handler.headers, body)
        # The invocation this request belongs to is the one running when it arrives; everything it
        # costs is counted before the reply goes out, since the reply may end the invocation.
        with self.lock:
            self.in_flight[service] += 1
            usage = self._usage()
            usage.peak_in_flight[service] = max(usage.peak_in_flight[service], self.in_flight[service])
        try:
            if service == "dynamodb":
                status, data, headers = self._dynamodb(handler, body, operation)
            else:
                status, data, headers = self._upstream(service, handler, body)
                self._count_other(service, operation, handler, body, status)
        finally:
            with self.lock:
                self.in_flight[service] -= 1
                usage.calls[f"{service}:{operation}"] += 1
                usage.intervals.append((arrived, time.perf_counter()))
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in DROPPED_REPLY_HEADERS:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _upstream(self, service: str, handler, body: bytes):
        url = self.upstreams.get(service, self.default)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "transfer-encoding", "content-length")}
        return self.connections[url].request(handler.command, handler.path, body if body or handler.command in ("PUT", "POST") else None, headers)

    def _count_other(self, service: str, operation: str, handler, body: bytes, status: int) -> None:
        usage_key = f"{service}:{operation}"
        with self.lock:
            usage = self._usage()
            if service in ("sqs", "sns"):
                usage.billed[usage_key] += chunks(len(body))
            if service == "sqs":
                request = _json(body)
                queue = (request.get("QueueUrl") or "").rstrip("/").rsplit("/", 1)[-1]
                if operation == "SendMessage":
                    usage.sqs_sends[queue] += 1
                elif operation == "SendMessageBatch":
                    usage.sqs_sends[queue] += len(request.get("Entries", []))
                elif operation == "ReceiveMessage":
                    usage.sqs_receives[queue] += 1
            elif service == "sns" and operation == "Publish":
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                arn = (form.get("TopicArn") or [None])[0] or _json(body).get("TopicArn") or "?"
                usage.sns_publishes[arn.rsplit(":", 1)[-1]] += 1
            elif service == "s3":
                usage.s3_class[s3_request_class(operation)] += 1
                if operation == "PutObject" and status < 300:
                    decoded = handler.headers.get("x-amz-decoded-content-length")
                    usage.s3_put_bytes += int(decoded) if decoded else len(body)

    # -- DynamoDB
    def _get(self, key: dict) -> dict | None:
        request = {"TableName": self.table, "Key": key, "ConsistentRead": True}
        status, data, _ = self.dynamodb.request("POST", "/", json.dumps(request).encode(), {
            "X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
        if status != 200:
            raise RuntimeError(f"shadow GetItem failed: {status} {data[:300]!r}")
        return json.loads(data).get("Item")

    def _key_of(self, item: dict) -> dict:
        return {name: item[name] for name in self.table_keys}

    def _dynamodb(self, handler, body: bytes, operation: str):
        request = _json(body)
        if operation in ("UpdateItem", "PutItem", "DeleteItem"):
            key = request.get("Key") or self._key_of(request.get("Item", {}))
            # A write and the reads around it at once: another thread's write to the same item in
            # between would be billed to the wrong one.
            with self.write_lock:
                before = self._get(key)
                status, data, headers = self._upstream("dynamodb", handler, body)
                after = self._get(key) if status == 200 else before
            kind = next(iter(key.values()), {}).get("S", "?").split("#", 1)[0]
            with self.lock:
                usage = self._usage()
                outcome = "ok" if status == 200 else "condition failed" if b"ConditionalCheckFailed" in data else "error"
                usage.writes_by_kind[f"{operation} {kind}: {outcome}"] += 1
                if status == 200:
                    usage.wru[operation] += update_write_units(item_size(before), item_size(after))
                    usage.gsi_wru[operation] += sum(index_write_units(ix, before, after) for ix in self.indexes)
                elif b"ConditionalCheckFailed" in data:
                    usage.failed_conditions += 1
                    usage.wru[operation] += failed_condition_write_units(item_size(before))
            return status, data, headers
        status, data, headers = self._upstream("dynamodb", handler, body)
        if status == 200:
            answer = _json(data)
            with self.lock:
                usage = self._usage()
                if operation == "GetItem":
                    usage.rru[operation] += read_units(item_size(answer.get("Item")), request.get("ConsistentRead", False))
                elif operation == "BatchGetItem":
                    for table, wanted in request.get("RequestItems", {}).items():
                        consistent = wanted.get("ConsistentRead", False)
                        returned = answer.get("Responses", {}).get(table, [])
                        unprocessed = len(answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
                        missing = len(wanted.get("Keys", [])) - len(returned) - unprocessed
                        usage.rru[operation] += sum(read_units(item_size(item), consistent) for item in returned)
                        # A key that has no item still costs a read.
                        usage.rru[operation] += max(0, missing) * read_units(0, consistent)
                elif operation in ("Query", "Scan"):
                    size = sum(item_size(item) for item in answer.get("Items", []))
                    usage.rru[operation] += read_units(size, request.get("ConsistentRead", False))
        return status, data, headers

    def stop(self) -> None:
        self.server.stop()


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
        return value if isinstance(value, dict) else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def usage_total(usages) -> Usage:
    total = Usage()
    for usage in usages:
        total.add(usage)
    return total

