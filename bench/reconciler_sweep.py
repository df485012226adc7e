"""The reconciler's sweep through its release binary, shared by bench/lambda_bench.py (10,000 copy
jobs, scripts/bench) and bench/sweep_bench.py (100,000, scripts/bench-sweep).

A scenario seeds the AWS Backup stand-in with copy jobs in the reconciler's window (its `bulk`
control) and moto's tracking table with the records the event path would have written for most of
them, then invokes the binary twice under the local Lambda Runtime API: a first run that no verified
sweep precedes (it reads every record), and, after new jobs arrive, the steady state (the first run
verified the finished jobs). Per run: the summary the reconciler returns, AWS Backup calls by
operation (the stand-in's `calls` control), wall time, and, when instrumented, the process's peak
RSS and where the wall clock went (time spent in the stand-in, in moto, and in the function).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from harness import schema
from harness.config import ACCOUNT, RECONCILE_PAGE_SIZE, ROOT
from harness.events import scheduled_event
from harness.lambda_runtime import LocalLambda
from harness.loopback import Connections, LoopbackHandler, LoopbackServer
from harness.stack import LocalAws

RELEASE = ROOT / "target" / "release"
RECONCILER = RELEASE / "copy-job-reconciler"
DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
TRANSIENT = "Copy job failed because the destination backup vault is being modified. Try again later."
# The share of each state among the listed jobs.
STATES = {"COMPLETED": 0.9, "FAILED": 0.05, "RUNNING": 0.05}
# DynamoDB's limits: items per BatchWriteItem, keys per BatchGetItem (the reconciler reads records
# in batches of this size).
BATCH_WRITE_ITEMS = 25
BATCH_GET_KEYS = 100
# What the retrier records of a transient failure it scheduled the first retry of: the field, and
# the same in words.
RETRY_SCHEDULED = "retry 1 scheduled"
# A scenario's proportions (Scenario.scaled): of every this many jobs, one never reached the event
# path, one is a routed backup's missing copy, one arrives between the runs.
UNSEEN_EVERY, BACKUP_EVERY, NEW_EVERY = 100, 500, 125
# ListCopyJobs' page size as the stack gives it to the reconciler (RECONCILE_PAGE_SIZE).
PAGE_SIZE = RECONCILE_PAGE_SIZE
# docs/performance.md: the section and the Targets row scripts/bench-sweep writes (scripts/bench
# keeps them when it writes the rest of the file).
AT_SCALE_SECTION = "Reconciler at 100,000 copy jobs"
AT_SCALE_ROW = "reconciler over 100,000 copy jobs"
# Lambda's longest timeout (seconds): a deadline no sweep of this benchmark should reach.
LAMBDA_MAX_TIMEOUT = 900


@dataclass(frozen=True)
class Scenario:
    """`jobs` copy jobs listed by the second run: the first finds `jobs - backups - new` that
    finished `age_minutes` ago (`unseen` of them never reached the event path, the rest tracked)
    and `backups` routed backups without a copy, which it starts; then `new` jobs arrive unseen."""

    jobs: int
    unseen: int
    backups: int
    new: int
    # Seconds from an invocation's start to its deadline (Lambda-Runtime-Deadline-Ms).
    timeout: float = 300
    states: dict = field(default_factory=lambda: dict(STATES))
    age_minutes: int = 30
    labels: tuple = ("first run: table never verified", "steady state: the previous run verified the finished jobs")

    @classmethod
    def scaled(cls, jobs: int, **settings) -> "Scenario":
        """The benchmark's proportions at `jobs` jobs: 1 in UNSEEN_EVERY never seen, 1 in
        BACKUP_EVERY a routed backup without a copy, 1 in NEW_EVERY new before the second run."""
        return cls(jobs=jobs, unseen=jobs // UNSEEN_EVERY, backups=jobs // BACKUP_EVERY, new=jobs // NEW_EVERY, **settings)

    @property
    def old(self) -> int:
        """The first run's copy jobs that were there before it (its own copies of the backups count too)."""
        return self.jobs - self.backups - self.new


def iso(epoch_seconds: float) -> str:
    """A timestamp as the Rust store writes it (RFC 3339, milliseconds, Z)."""
    at = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def tracked_item(job: dict, recorded_at: float) -> dict:
    """The tracking record the event path leaves for a listed copy job (ListCopyJobs' JSON), in the
    shape shared/src/adapters/dynamodb/schema.rs gives it (harness.schema reads its names and the
    states' ranks from there): the tracker's writes (state, its rank, a timestamp per state seen,
    the status message, the details) and, for a failure, the retrier's finished claim with what it
    did."""
    copy = schema.copy_attributes()
    state = job["State"]
    item = {
        **schema.tracked_item(job), schema.attributes().UPDATED_AT: {"S": iso(recorded_at)},
        schema.state_at("CREATED"): {"S": iso(job["CreationDate"])},
    }
    if state != "CREATED":
        item[schema.state_at(state)] = {"S": iso(job.get("CompletionDate") or job["CreationDate"])}
    if job.get("StatusMessage"):
        item[copy.STATUS_MESSAGE] = {"S": job["StatusMessage"]}
    if schema.has_failed(state):
        item.update({copy.FAILURE_CLAIM_AT: {"N": str(int(recorded_at))}, copy.RETRY_SCHEDULED: {"N": "1"},
                     copy.OUTCOME: {"S": RETRY_SCHEDULED}})
    return item


def copy_job_pages(stack: LocalAws):
    """The stand-in's ListCopyJobs pages, as its JSON (without boto3's parsing, which takes about as
    long again)."""
    connections = Connections(stack.endpoints.backup_url)
    token = None
    while True:
        query = urllib.parse.urlencode({"maxResults": PAGE_SIZE, **({"nextToken": token} if token else {})})
        status, body, _ = connections.request("GET", f"/copy-jobs/?{query}", None, {})
        assert status == 200, body[:500]
        page = json.loads(body)
        yield page["CopyJobs"]
        token = page.get("NextToken")
        if not token:
            return


def track_listed(stack: LocalAws, unseen: int) -> int:
    """Writes the tracking records of every listed copy job but the first `unseen`: BatchWriteItem
    straight to moto, two requests at a time, while the listing goes on. Returns the records written."""
    from concurrent.futures import ThreadPoolExecutor

    connections = Connections(stack.endpoints.moto_url)
    recorded_at = time.time()
    headers = {"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem", "Content-Type": "application/x-amz-json-1.0",
               "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=0"}

    def write(jobs: list[dict]) -> None:
        puts = [{"PutRequest": {"Item": tracked_item(job, recorded_at)}} for job in jobs]
        status, body, _ = connections.request("POST", "/", json.dumps({"RequestItems": {stack.resources.table: puts}}).encode(), headers)
        assert status == 200 and not json.loads(body).get("UnprocessedItems"), body[:500]

    listed, written = 0, []
    with ThreadPoolExecutor(2) as pool:
        for page in copy_job_pages(stack):
            tracked = page[max(0, unseen - listed):]
            listed += len(page)
            written += [pool.submit(write, tracked[start:start + BATCH_WRITE_ITEMS])
                        for start in range(0, len(tracked), BATCH_WRITE_ITEMS)]
        for future in written:
            future.result()
    return max(0, listed - unseen)


class TimingProxy:
    """A pass-through proxy that times each request to its upstream, by operation: what a function
    waits on the stand-in (or moto) for. `operation(method, path, headers, body)` names a request;
    `on_request(operation)` is called as one arrives (the benchmark samples the function's memory
    there)."""

    def __init__(self, upstream: str, operation, on_request=None):
        self.connections = Connections(upstream)
        self.operation, self.on_request = operation, on_request
        self.lock = threading.Lock()
        self.reset()
        proxy = self

        class Handler(LoopbackHandler):
            def forward(self):
                arrived = time.perf_counter()
                body = self.read_body()
                operation = proxy.operation(self.command, self.path, self.headers, body)
                if proxy.on_request:
                    proxy.on_request(operation)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                started = time.perf_counter()
                status, data, response_headers = proxy.connections.request(self.command, self.path, body or None, headers)
                ended = time.perf_counter()
                upstream = ended - started
                self.send_response(status)
                for name, value in response_headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                proxy.record(operation, (started, ended), time.perf_counter() - arrived - upstream)

            do_GET = do_PUT = do_POST = do_DELETE = forward

        self.server = LoopbackServer(Handler).serve_in_background()
        self.url = self.server.url

    def reset(self) -> None:
        with self.lock:
            self.calls: dict[str, int] = defaultdict(int)
            self.seconds: dict[str, float] = defaultdict(float)
            self.intervals: list[tuple[float, float]] = []
            self.overhead = 0.0

    def record(self, operation: str, upstream: tuple[float, float], overhead: float) -> None:
        with self.lock:
            self.calls[operation] += 1
            self.seconds[operation] += upstream[1] - upstream[0]
            self.intervals.append(upstream)
            self.overhead += overhead

    def stop(self) -> None:
        self.server.stop()


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of the requests was in flight: the union of their intervals (the
    reconciler's requests overlap, so their durations summed can exceed the wall time)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def backup_operation(method: str, path: str, headers, body: bytes) -> str:
    """The AWS Backup operation of a request, by the stand-in's own routing table."""
    from standin.common import ApiError
    from standin.server import find_route

    try:
        return find_route(method, urllib.parse.urlparse(path).path)[0].operation or "control"
    except ApiError:
        return "unknown"


def json_operation(method: str, path: str, headers, body: bytes) -> str:
    """The operation of a JSON-protocol request (X-Amz-Target), or of a query-protocol one (Action)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    return urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["unknown"])[0]


def status_kib(pid: int, field_name: str) -> int | None:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field_name}:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux: 5 to /proc/<pid>/clear_refs), so the
    next run's peak is its own, not the previous run's."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class Instruments:
    """Timing proxies between the function and the stand-ins (AWS Backup; DynamoDB; SQS and SNS),
    and the function's RSS as it asks for each page."""

    def __init__(self, stack: LocalAws):
        self.function: LocalLambda | None = None
        self.pages: list[tuple[str, int, int | None]] = []  # (operation, pages so far, VmRSS KiB)
        self.backup = TimingProxy(stack.endpoints.backup_url, backup_operation, self.sample)
        self.dynamodb = TimingProxy(stack.endpoints.dynamodb_url, json_operation)
        self.other = TimingProxy(stack.endpoints.moto_url, json_operation)

    def env(self) -> dict:
        return {"AWS_ENDPOINT_URL_BACKUP": self.backup.url, "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.url,
                "AWS_ENDPOINT_URL": self.other.url}

    def sample(self, operation: str) -> None:
        """On each List request: the RSS the function has after the pages before it."""
        if operation in ("ListCopyJobs", "ListBackupJobs") and self.function and self.function.process:
            done = sum(1 for sampled, *_ in self.pages if sampled == operation)
            self.pages.append((operation, done, status_kib(self.function.process.pid, "VmRSS")))

    def reset(self) -> None:
        self.pages = []
        for proxy in (self.backup, self.dynamodb, self.other):
            proxy.reset()

    def breakdown(self) -> dict:
        proxies = {"AWS Backup stand-in": self.backup, "moto DynamoDB": self.dynamodb, "moto SQS/SNS": self.other}
        return {
            "upstream": {name: {op: (proxy.calls[op], proxy.seconds[op]) for op in sorted(proxy.calls)}
                         for name, proxy in proxies.items()},
            "busy": {name: busy_seconds(proxy.intervals) for name, proxy in proxies.items()},
            "busy_any": busy_seconds([span for proxy in proxies.values() for span in proxy.intervals]),
            "proxy_overhead": sum(proxy.overhead for proxy in proxies.values()),
            "pages": list(self.pages),
        }

    def stop(self) -> None:
        for proxy in (self.backup, self.dynamodb, self.other):
            proxy.stop()


def restart(function: LocalLambda) -> None:
    """A new execution environment: the function's process ends (if running) and a new one starts
    and finishes its init."""
    if function.process and function.process.poll() is None:
        function.process.terminate()
        function.process.wait()
    function.start()
    function.wait_until_polling()


def sweep(scenario: Scenario, *, instrument: bool = False, fresh_process: bool = False,
          command: list[str] | None = None, progress=print) -> list[dict]:
    """Seeds the scenario and runs the reconciler's release binary twice (see the module's
    docstring). Returns one dict per run: label, seconds, summary, calls (AWS Backup, by
    operation), list_calls, and with `instrument` also peak_rss_kib (the run's own: VmHWM reset
    before it), rss_before_kib and breakdown. `fresh_process`: each run in a new process (a cold
    start, as an hourly schedule mostly meets), else both in one warm one. `command` replaces the
    binary (e.g. under a heap profiler)."""
    runs = []
    # moto without its per-request costs (harness.lean_moto): the figures are the function's, not moto's routing.
    with LocalAws(routes=[{"sourceVault": "routed", "destinationVaultArn": DR}], start_functions=False,
                  lean_moto=True) as stack:
        stack.backup.create_vault("unwired", notify=False)
        stack.backup.create_vault("routed", notify=False)
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        started = time.perf_counter()
        stack.backup.control("bulk", {"vault": "unwired", "count": scenario.old, "destinations": [DR], "seed": 7,
                                      "states": scenario.states, "statusMessage": TRANSIENT, "ageMinutes": scenario.age_minutes})
        stack.backup.control("bulk", {"vault": "routed", "count": scenario.backups})
        progress(f"  stand-in: {scenario.old:,} copy jobs and {scenario.old + scenario.backups:,} backups in "
                 f"{time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        tracked = track_listed(stack, scenario.unseen)
        progress(f"  moto: {tracked:,} tracking records in {time.perf_counter() - started:.1f} s", flush=True)
        instruments = Instruments(stack) if instrument else None
        env = {**stack.function_env("reconciler"), **(instruments.env() if instruments else {}), "RUST_LOG": "warn"}
        function = LocalLambda("reconciler", command or str(RECONCILER), env, str(stack.workdir / "bench-reconciler.log"),
                               timeout=scenario.timeout)
        if instruments:
            instruments.function = function
        try:
            for label in scenario.labels:
                if runs:
                    stack.backup.control("bulk", {"vault": "unwired", "count": scenario.new, "destinations": [DR], "seed": 8,
                                                  "states": scenario.states, "statusMessage": TRANSIENT})
                if fresh_process or not runs:
                    restart(function)
                run = {"label": label}
                if instruments:
                    instruments.reset()
                    run["peak_reset"] = reset_peak_rss(function.process.pid)
                    run["rss_before_kib"] = status_kib(function.process.pid, "VmRSS")
                before = stack.backup.calls()
                started = time.perf_counter()
                outcome = function.invoke(scheduled_event())
                run["seconds"] = time.perf_counter() - started
                after = stack.backup.calls()
                assert outcome.ok, outcome.payload
                calls = {name: after.get(name, 0) - before.get(name, 0) for name in after}
                run.update(summary=outcome.payload, calls={name: count for name, count in calls.items() if count},
                           list_calls=calls.get("ListCopyJobs", 0) + calls.get("ListBackupJobs", 0))
                if instruments:
                    run["peak_rss_kib"] = function.peak_rss_kib()
                    run["breakdown"] = instruments.breakdown()
                progress(f"  {label}: {run['seconds']:.1f} s, {run['list_calls']} List calls, "
                         f"complete: {outcome.payload.get('complete')}", flush=True)
                runs.append(run)
        finally:
            function.stop()
            if instruments:
                instruments.stop()
    return runs


def sweep_row(run: dict) -> str:
    """A run as a row of `SWEEP_HEADER`."""
    summary = run["summary"]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(run["calls"].items()))
    return (f"| {run['label']} | {summary['scanned']:,} | {summary['alreadyVerified']:,} | {summary['repaired']:,} | "
            f"{summary['retried']:,} | {summary['missingCopiesStarted']:,} | {run['list_calls']} | {run['seconds']:.2f} | {calls} |")


SWEEP_HEADER = ("| run | jobs listed | already verified | repaired | retried | missing copies started | List calls | seconds | AWS Backup calls |\n"
                "|---|---|---|---|---|---|---|---|---|")


def performance_doc() -> Path:
    return ROOT / "docs" / "performance.md"


def template_timeout() -> int:
    """The reconciler's Lambda timeout (seconds) as template.yaml declares it."""
    import yaml

    from harness.config import SCHEDULED
    from harness.template import CfnLoader

    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    properties = template["Resources"][SCHEDULED["reconciler"][1]]["Properties"]
    return int(properties.get("Timeout") or template["Globals"]["Function"]["Timeout"])


def safety_margin() -> int:
    """Seconds the reconciler keeps back from its deadline to save its cursor and report
    (SAFETY_MARGIN in shared/src/handlers/reconciler.rs: the operation timeout of
    shared/src/ports/mod.rs and an allowance)."""
    import re

    shared = ROOT / "shared" / "src"
    ports = (shared / "ports" / "mod.rs").read_text()
    reconciler = (shared / "handlers" / "reconciler.rs").read_text()
    operation = re.search(r"const OPERATION_TIMEOUT: Duration = Duration::from_secs\((\d+)\);", ports).group(1)
    allowance = re.search(r"SAFETY_MARGIN: Duration = OPERATION_TIMEOUT\.saturating_add\(Duration::from_secs\((\d+)\)\);",
                          reconciler).group(1)
    return int(operation) + int(allowance)
