"""Benchmark: a nightly burst under AWS Backup's quotas (issue 13), through the REAL function binaries
(release build by default) under the local Lambda Runtime API, against the AWS Backup stand-in and
moto (tests/harness's LocalAws).

The story, on a simulated clock of one-second steps:
  * N backups (default 10,000) complete in the vault `routed` at seeded random moments within the
    first five simulated minutes; the copier's routes (as tests/e2e/conftest.py's) ask for a copy
    of each to two destination vaults in two regions: 2N required (recovery point, destination)
    pairs;
  * Lambda runs the burst concurrently (the harness's concurrent delivery): each function has as
    many execution environments as template.yaml reserves for it (copier 5, retrier 10, of which
    the retry queue's event source may use 5; the unreserved tracker TRACKER_CONCURRENCY), each
    environment its own process of the binary handling one invocation at a time, fed by a worker
    pool; the stand-in's notifications go straight to the subscriptions, matched against their
    filter policies by moto's matcher (harness.sns_direct); DynamoDB is moto's, each request
    answered atomically (harness.lean_moto: moto's conditional writes are not, across threads);
  * every vault notification (backup and copy-job events alike) is delivered 1-3 times, the count
    drawn per notification from a seeded RNG, the copies concurrently like any other invocations;
    a function error is retried as Lambda does: up to three attempts, the second one simulated
    minute after the first and the third two after the second (held like the retry queue's
    messages), then the failure destination;
  * the stand-in enforces AWS Backup's quotas (docs/aws-facts.md, Service quotas): a token bucket
    on StartCopyJob, DescribeCopyJob and ListCopyJobs (AWS publishes no figures: RATE/BURST here)
    on the stand-in's manual quota clock, which moves one second per simulated second, and the
    concurrent copy quotas as docs/aws-facts.md presumes they combine: a copy starts when its
    resource runs no other backup or copy job (AWS's 1 per resource: each backup's two copies run
    one after the other) and its account runs fewer than the region cap to the destination region
    or, that reached, its destination vault fewer than 5 (AWS's "after the limit (entry above) has
    been reached"). The region cap is AWS's 100 scaled to the burst, max(5, N // 100) by default
    (10,000 backups meet AWS's 100, smaller bursts the same pressure); with one destination vault
    per region, the vault's 5 adds no slot (the vault holds the region's copies). A copy not
    admitted ends FAILED with AWS's "There are too many copy jobs running for resource." (`fail`,
    the default) or waits in CREATED (`wait`, AWS's documented queueing);
  * the stand-in's `advance` drives copy jobs one step every COPY_STEP simulated seconds;
  * the retrier's retries go to SQS with DelaySeconds: a small SQS proxy in this process holds
    each SendMessage to the retry queue for its DelaySeconds of *simulated* time, then puts it on
    the retry queue (without a delay) for the harness's pollers (batches of 10,
    ReportBatchItemFailures); every other SQS call goes to moto unchanged;
  * the reconciler runs on its schedule (hourly, simulated) and, "as often as needed", whenever the
    event path is quiet (nothing queued, held or unfinished) while a required copy is missing.

Checks (exit status 1 when one fails): every required pair has exactly one successful (or still
unfinished) copy job at the end, none is lost, and no alert names a copy job whose pair a copy later
covered. Prints the figures; with --write, writes the section "Burst under AWS's quotas" of
docs/performance.md and its row of the Targets table (the other sections stay as they are).

Run with scripts/bench-burst --binaries [N] [SEED] (it builds the release binaries and puts tests/
on the import path).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from harness.config import ACCOUNT, DR_VAULT, EU_VAULT, ROOT, ROUTES
from harness.loopback import Connections, LoopbackHandler, LoopbackServer
from harness.delivery import Delivery
from harness.stack import LocalAws
from harness.template import template_parameter_default
from harness.markdown import replace_row, replace_section
from reconciler_sweep import performance_doc

DESTINATIONS = [DR_VAULT, EU_VAULT]
ARRIVAL_WINDOW = 300        # simulated seconds: every backup completes within five minutes
COPY_STEP = 30              # simulated seconds per `advance` step (a copy job runs one step)
RECONCILE_EVERY = 3600      # the template's ReconcileSchedule, rate(1 hour)
GIVE_UP_AFTER = 6 * 3600    # simulated seconds: a run that has not converged by then reports what is lost
# AWS publishes no request rates for these operations (docs/aws-facts.md, Service quotas): a bucket
# of BURST tokens refilled at RATE per (simulated) second each.
RATE, BURST = 10.0, 50.0
RATED = ("StartCopyJob", "DescribeCopyJob", "ListCopyJobs")
RETRY_BASE_DELAY = 60      # template.yaml's RetryBaseDelaySeconds default
SECTION = "Burst under AWS's quotas"
ROW = "burst under AWS's quotas"
LIMIT_MESSAGE = "There are too many copy jobs running for resource."
# Lambda runs a burst concurrently: each function up to its reserved concurrency (template.yaml's
# defaults), the retry queue's event source up to its MaximumConcurrency (sharing the retrier's
# environments), and the tracker, unreserved in the template, on TRACKER_CONCURRENCY environments.
TRACKER_CONCURRENCY = 10


def lambda_concurrency() -> tuple[dict[str, int], int]:
    """(function -> execution environments, retry queue pollers), as the template deploys them."""
    functions = {
        "copier": int(template_parameter_default("CopierReservedConcurrency")),
        "retrier": int(template_parameter_default("RetrierReservedConcurrency")),
        "tracker": TRACKER_CONCURRENCY,
        "reconciler": 1,
    }
    return functions, int(template_parameter_default("RetryQueueMaximumConcurrency"))


class RetryHold:
    """An SQS endpoint in front of moto: SendMessage to the retry queue is held for its DelaySeconds
    of simulated time (moto would hold it in wall-clock time); everything else passes through."""

    def __init__(self, moto_url: str, retry_queue_name: str):
        self.moto_url = moto_url
        self.queue_name = retry_queue_name
        self.now = 0
        self.held: list[tuple[int, int, dict]] = []
        self.sequence = 0
        self.delays: Counter = Counter()
        self.lock = threading.Lock()
        self.connections = Connections(moto_url, timeout=60)
        hold = self

        class Handler(LoopbackHandler):
            def do_POST(self):
                body = self.read_body()
                target = self.headers.get("X-Amz-Target", "")
                if target == "AmazonSQS.SendMessage":
                    request = json.loads(body)
                    if request.get("QueueUrl", "").rstrip("/").endswith("/" + hold.queue_name):
                        answer = hold.hold(request)
                        return self.send(200, json.dumps(answer).encode(), "application/x-amz-json-1.0",
                                         headers={"x-amzn-RequestId": str(uuid.uuid4())})
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                status, reply, reply_headers = hold.connections.request("POST", self.path, body, headers)
                passed = {k: v for k, v in reply_headers
                          if k.lower() not in ("content-length", "content-type", "connection", "transfer-encoding", "server", "date")}
                content_type = next((v for k, v in reply_headers if k.lower() == "content-type"), "application/x-amz-json-1.0")
                self.send(status, reply, content_type, headers=passed)

        self.server = LoopbackServer(Handler).serve_in_background()
        self.url = self.server.url

    def hold(self, request: dict) -> dict:
        delay = int(request.pop("DelaySeconds", 0) or 0)
        with self.lock:
            self.sequence += 1
            self.delays[delay] += 1
            heapq.heappush(self.held, (self.now + delay, self.sequence, request))
        answer = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(request["MessageBody"].encode()).hexdigest()}
        return answer

    def release(self, now: int, sqs, queue_url: str) -> int:
        """Puts every held message due by `now` on the retry queue; returns how many."""
        self.now = now
        due = []
        with self.lock:
            while self.held and self.held[0][0] <= now:
                due.append(heapq.heappop(self.held)[2])
        for start in range(0, len(due), 10):
            entries = [{"Id": str(i), "MessageBody": request["MessageBody"],
                        **({"MessageAttributes": request["MessageAttributes"]} if request.get("MessageAttributes") else {})}
                       for i, request in enumerate(due[start:start + 10])]
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"the retry queue refused held retries: {answer['Failed']}")
        return len(due)

    def pending(self) -> int:
        with self.lock:
            return len(self.held)

    def stop(self) -> None:
        self.server.stop()


class BurstDelivery(Delivery):
    """The harness's concurrent delivery, with each vault notification delivered 1-3 times (seeded
    per notification), Lambda's retries of failed asynchronous invocations held for their delay in
    simulated time, invocations counted rather than kept, and the quota clock moving with wall time
    while it drains."""

    def __init__(self, *parts, seed: int, tick_quota_clock, **options):
        super().__init__(*parts, **options)
        self.rng = random.Random(seed)
        self.tick_quota_clock = tick_quota_clock
        self.deliveries: Counter = Counter()
        self.wall_ticks = 0.0
        # Invocations counted, not kept: a burst makes hundreds of thousands.
        self.invoked: Counter = Counter()
        self.failed_invocations: Counter = Counter()
        self.count_lock = threading.Lock()
        # Lambda's retries of failed asynchronous invocations, held for their delay (1 min, then 2)
        # in simulated time: (due, sequence, function, event, attempt).
        self.now = 0
        self.async_held: list[tuple] = []
        self.async_sequence = 0
        self.async_retries = 0

    def deliveries_of(self) -> int:
        # Drawn by the one thread that hands notifications out, in the order they were published.
        times = self.rng.randint(1, 3)
        self.deliveries[times] += 1
        return times

    def retry_async_later(self, name: str, event: dict, attempt: int, delay: int) -> None:
        with self.count_lock:
            self.async_sequence += 1
            self.async_retries += 1
            heapq.heappush(self.async_held, (self.now + delay, self.async_sequence, name, event, attempt))

    def release_async(self, now: int) -> int:
        """Simulated time is `now`: the held asynchronous retries due by then are let go. Returns how many."""
        self.now = now
        with self.count_lock:
            due = []
            while self.async_held and self.async_held[0][0] <= now:
                due.append(heapq.heappop(self.async_held))
        for _, _, name, event, attempt in due:
            self.due_async_retry(name, event, attempt)
        return len(due)

    def next_async_due(self) -> int | None:
        with self.count_lock:
            return self.async_held[0][0] if self.async_held else None

    def async_pending(self) -> int:
        with self.count_lock:
            return len(self.async_held)

    def _record(self, invocation) -> None:
        with self.count_lock:
            self.invoked[invocation.function] += 1
            if not invocation.outcome.ok:
                self.failed_invocations[invocation.function] += 1

    def drain(self) -> None:
        """Delivers until quiet, the quota clock also moving with wall time meanwhile (one simulated
        second per wall second): the SDK's retries of a throttled call sleep in wall time, and in AWS
        its bucket refills meanwhile; on a frozen clock every throttled call would exhaust its
        retries."""
        stop = threading.Event()
        def tick():
            while not stop.wait(0.1):
                self.tick_quota_clock(0.1)
                self.wall_ticks += 0.1

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            super().drain()
        finally:
            stop.set()
            ticker.join()


class BurstStack(LocalAws):
    """The harness's LocalAws delivering concurrently, as Lambda does (lambda_concurrency(); see
    BurstDelivery), the notifications handed straight to the subscriptions (harness.sns_direct:
    moto's filter-policy matcher, without its topic and queues), the retry queue's delays in
    simulated time (RetryHold), and moto run lean."""

    def __init__(self, *, seed: int = 0, **settings):
        functions, retry_pollers = lambda_concurrency()
        super().__init__(concurrency=functions, retry_queue_concurrency=retry_pollers,
                         direct_notifications=True, lean_moto=True, **settings)
        self.seed = seed
        self.hold: RetryHold | None = None

    def new_delivery(self) -> BurstDelivery:
        return BurstDelivery(self.endpoints, self.resources, self.functions, self.settings, advance=self.backup.advance,
                             seed=self.seed, tick_quota_clock=self.backup.tick_quota_clock)

    def function_env(self, name: str) -> dict[str, str]:
        env = super().function_env(name)
        if self.hold is None:
            self.hold = RetryHold(self.endpoints.moto_url, self.resources.retry_queue.rstrip("/").rsplit("/", 1)[1])
        env["AWS_ENDPOINT_URL_SQS"] = self.hold.url
        # Straight to moto: the fault proxy fails nothing here, and each request through it costs.
        env["AWS_ENDPOINT_URL_DYNAMODB"] = self.endpoints.dynamodb_url
        if "RETRY_BASE_DELAY_SECONDS" in env:
            # The template's default (the harness's 0 is for tests): delays are simulated time here.
            env["RETRY_BASE_DELAY_SECONDS"] = str(RETRY_BASE_DELAY)
        return env

    def release(self, now: int) -> int:
        """Simulated time is `now`: the held retries due by then (the retry queue's and Lambda's
        asynchronous ones) are let go. Returns how many."""
        released = self.hold.release(now, self.endpoints.client("sqs"), self.resources.retry_queue)
        return released + self.delivery.release_async(now)

    def next_due(self) -> int | None:
        """When the next held retry is due (simulated), if any is held."""
        with self.hold.lock:
            dues = [self.hold.held[0][0]] if self.hold.held else []
        due = self.delivery.next_async_due()
        dues += [due] if due is not None else []
        return min(dues, default=None)

    def held(self) -> int:
        return self.hold.pending() + self.delivery.async_pending()

    def stop(self) -> None:
        super().stop()
        if self.hold:
            self.hold.stop()


MEASURE_CALLS = Counter()


def all_copy_jobs(stack) -> list[dict]:
    """Every copy job, read through the stand-in's ListCopyJobs with the quotas lifted for the read
    (a measurement must not spend the functions' tokens); its calls are counted apart. Read as the
    stack's account in its region (what an unsigned request is to the stand-in), as JSON: tens of
    thousands of jobs a copy step are too many for botocore's parser."""
    connection = getattr(stack, "listing", None)
    if connection is None:
        connection = stack.listing = Connections(stack.endpoints.backup_url, timeout=120)
    jobs, token = [], None
    while True:
        query = urlencode({"maxResults": 1000, **({"nextToken": token} if token else {})})
        status, body, _ = connection.request("GET", f"/copy-jobs/?{query}", None, {})
        if status != 200:
            raise RuntimeError(f"ListCopyJobs answered {status}: {body[:300]!r}")
        page = json.loads(body)
        MEASURE_CALLS["ListCopyJobs"] += 1
        jobs += page["CopyJobs"]
        token = page.get("NextToken")
        if not token:
            return jobs


# AWS's figures (docs/aws-facts.md, Service quotas): copies per destination vault once the
# account's region limit is reached, and backup or copy jobs per resource.
VAULT_CAP, RESOURCE_CAP = 5, 1
# The stand-in's names of the caps (its limitedBy), as the report says them: "vault" holds a copy back
# only once its region's cap is reached too.
CAP_NAMES = {"resource": "its resource busy", "vault": "the region's cap reached, then the vault's",
             "region": "the region's cap", "crossAccount": "cross-account copies of its resource"}


def run(n: int, seed: int, binaries: Path, cap: int, on_limit: str) -> dict:
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, ARRIVAL_WINDOW) for _ in range(n))
    started_wall = time.monotonic()
    with BurstStack(max_attempts=3, routes=ROUTES, binaries=binaries, seed=seed + 1) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        quotas = dict(rates={op: (RATE, BURST) for op in RATED}, per_region=cap, per_vault=VAULT_CAP,
                      per_resource=RESOURCE_CAP, on_limit=on_limit, manual_clock=True)
        stack.backup.set_quotas(**quotas)
        sqs = stack.endpoints.client("sqs")
        recovery_points: list[str] = []
        reconciles = []
        pairs_started_at = pairs_completed_at = None
        all_started_wall = all_completed_wall = None
        next_arrival = 0
        now = 0
        last_reconcile = 0
        setup_wall = time.monotonic() - started_wall
        loop_start = time.monotonic()
        while True:
            while next_arrival < n and arrivals[next_arrival] <= now:
                job = stack.backup.complete_backup("routed", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{next_arrival:017x}")
                recovery_points.append(job["RecoveryPointArn"])
                next_arrival += 1
            # Nothing can happen between events once every backup has completed: jump to the
            # next copy step or held retry, whichever is sooner.
            step = 1
            if next_arrival >= n:
                step = COPY_STEP - now % COPY_STEP
                due = stack.next_due()
                if due is not None:
                    step = max(1, min(step, due - now))
            now += step
            stack.backup.tick_quota_clock(step)
            stack.release(now)
            stack.delivery.drain()
            if now % COPY_STEP == 0:
                stack.backup.advance()
                stack.delivery.drain()
            quiet = next_arrival >= n and stack.held() == 0
            # Measured once a copy step: re-setting the quotas refills the buckets, which a step's
            # 30 s at RATE would have done anyway (BURST / RATE = 5 s).
            if now % COPY_STEP == 0:
                # Coverage, measured with the quotas lifted (the measurement is not the functions').
                stack.backup.clear_quotas()
                jobs = all_copy_jobs(stack)
                stack.backup.set_quotas(**quotas)
                started = {(j["SourceRecoveryPointArn"], j["DestinationBackupVaultArn"]) for j in jobs if j["State"] != "FAILED"}
                completed = {(j["SourceRecoveryPointArn"], j["DestinationBackupVaultArn"]) for j in jobs if j["State"] == "COMPLETED"}
                required = {(rp, d) for rp in recovery_points for d in DESTINATIONS}
                unfinished = sum(1 for j in jobs if j["State"] in ("CREATED", "RUNNING"))
                if next_arrival >= n and pairs_started_at is None and required <= started:
                    pairs_started_at, all_started_wall = now, time.monotonic() - loop_start
                if next_arrival >= n and required <= completed:
                    pairs_completed_at, all_completed_wall = now, time.monotonic() - loop_start
                    if pairs_started_at is None:
                        pairs_started_at, all_started_wall = now, all_completed_wall
                    if stack.held() == 0:
                        break
                due = now - last_reconcile >= RECONCILE_EVERY
                stuck = quiet and unfinished == 0 and not required <= completed
                if due or stuck:
                    outcome = stack.delivery.reconcile()
                    stack.delivery.drain()
                    last_reconcile = now
                    reconciles.append({"at": now, "ok": outcome.ok, "why": "schedule" if due else "event path quiet, copies missing",
                                       "summary": {k: outcome.payload.get(k) for k in ("missingCopiesStarted", "retried", "errors", "complete")}
                                       if outcome.ok else outcome.payload})
                    if stuck and not due and sum(1 for r in reconciles if r["why"] != "schedule") > 20:
                        break
                if now > GIVE_UP_AFTER:
                    break
                if now % 300 == 0:
                    print(f"  t={now}s simulated, {time.monotonic() - loop_start:.0f}s wall: {len(started & required):,}/{len(required):,} "
                          f"started, {len(completed & required):,} completed, {unfinished:,} unfinished, {stack.held()} retries held",
                          flush=True)
        wall = time.monotonic() - loop_start
        counters = stack.backup.quota_counters()
        calls = Counter(stack.backup.calls())
        calls.subtract(MEASURE_CALLS)
        calls = {k: v for k, v in calls.items() if v}
        stack.backup.clear_quotas()
        jobs = all_copy_jobs(stack)
        alerts = stack.queries.take_alerts()
        failures = sqs.get_queue_attributes(QueueUrl=stack.resources.failure_queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
        return {
            "n": n, "seed": seed, "cap": cap, "on_limit": on_limit, "recovery_points": recovery_points, "jobs": jobs,
            "alerts": alerts, "counters": counters, "calls": calls, "reconciles": reconciles,
            "invocations": stack.delivery.invoked, "failed_invocations": stack.delivery.failed_invocations, "async_retries": stack.delivery.async_retries,
            "concurrency": stack.settings.concurrency, "retry_pollers": stack.settings.retry_queue_concurrency,
            "deliveries": stack.delivery.deliveries, "wall_ticks": stack.delivery.wall_ticks, "retry_delays": stack.hold.delays, "failure_destination": int(failures),
            "started_at": pairs_started_at, "completed_at": pairs_completed_at, "simulated_end": now,
            "started_wall": all_started_wall, "completed_wall": all_completed_wall, "wall": wall, "setup_wall": setup_wall,
        }


def check(result: dict) -> tuple[list[str], dict]:
    """The invariants: (violations, figures)."""
    jobs, violations = result["jobs"], []
    by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for job in jobs:
        by_pair[(job["SourceRecoveryPointArn"], job["DestinationBackupVaultArn"])].append(job)
    required = [(rp, d) for rp in result["recovery_points"] for d in DESTINATIONS]
    duplicated = {pair: js for pair, js in by_pair.items() if sum(j["State"] != "FAILED" for j in js) > 1}
    lost = [pair for pair in required if not any(j["State"] == "COMPLETED" for j in by_pair.get(pair, []))]
    unrequired = [pair for pair in by_pair if pair not in set(required)]
    if duplicated:
        example = next(iter(duplicated.items()))
        violations.append(f"{len(duplicated)} pairs copied more than once, e.g. {example[0]}: "
                          f"{[(j['CopyJobId'], j['State']) for j in example[1]]}")
    if lost:
        states = Counter(tuple(sorted(j["State"] for j in by_pair.get(p, []))) for p in lost)
        violations.append(f"{len(lost)} of {len(required)} required copies lost (no COMPLETED copy job); "
                          f"their copy jobs' states: {dict(states.most_common(5))}")
    if unrequired:
        violations.append(f"{len(unrequired)} copies of pairs no route requires, e.g. {unrequired[0]}")
    job_pair = {j["CopyJobId"]: (j["SourceRecoveryPointArn"], j["DestinationBackupVaultArn"]) for j in jobs}
    job_by_id = {j["CopyJobId"]: j for j in jobs}
    covered = {pair for pair, js in by_pair.items() if any(j["State"] == "COMPLETED" for j in js)}
    wrong_alerts, reasons = [], Counter()
    for alert in result["alerts"]:
        attributes = alert.get("MessageAttributes", {})
        reason = attributes.get("Reason", {}).get("Value", "?")
        reasons[reason] += 1
        job_id = attributes.get("CopyJobId", {}).get("Value")
        subject = alert.get("Subject") or ""
        if "resolved" in subject.lower() or "resolved" in reason.lower():
            continue
        if job_id and job_pair.get(job_id) in covered:
            wrong_alerts.append((job_id, reason, job_by_id[job_id].get("StatusMessage"), subject))
    if wrong_alerts:
        violations.append(f"{len(wrong_alerts)} alerts for failures whose copy later succeeded, e.g. {wrong_alerts[:3]}")
    attempts = Counter(len(js) for pair, js in by_pair.items())
    limit_failures = sum(1 for j in jobs if j["State"] == "FAILED" and j.get("StatusMessage") == LIMIT_MESSAGE)
    figures = {"required": len(required), "jobs": len(jobs), "duplicated": len(duplicated), "lost": len(lost),
               "wrong_alerts": len(wrong_alerts), "alerts": len(result["alerts"]), "alert_reasons": dict(reasons),
               "limit_failures": limit_failures, "jobs_per_pair": dict(sorted(attempts.items())),
               "states": dict(Counter(j["State"] for j in jobs))}
    return violations, figures


def delay_summary(delays: Counter) -> str:
    values = sorted(delays.elements())
    if not values:
        return "0"
    return f"{len(values):,} ({values[0]} / {values[len(values) // 2]} / {values[-1]})"


def report(result: dict, violations: list[str], figures: dict) -> tuple[str, str]:
    counters = result["counters"]
    peak = {kind: max(counters["peakRunning"][kind].values(), default=0) for kind in ("regions", "vaults", "resources")}
    limited_by = counters.get("limitedBy", {}).get("failed" if result["on_limit"] == "fail" else "waited", {})
    throttled = counters["throttled"]
    reconciles = result["reconciles"]
    inv = result["invocations"]
    deliveries = result["deliveries"]
    failed = result["failed_invocations"]
    invocations = ", ".join(f"{k} {v:,} ({failed.get(k, 0):,})" for k, v in sorted(inv.items()))
    runs = ", ".join(f"t={r['at']} {r['why']}: " + json.dumps(r["summary"]) for r in reconciles) or "none"
    fmt = lambda x: "-" if x is None else f"{x:,}"
    secs = lambda x: "-" if x is None else f"{x:.1f}"
    lines = [
        "| figure | value |", "|---|---|",
        f"| backups (within {ARRIVAL_WINDOW} simulated s) / required copies (2 routes) | {result['n']:,} / {figures['required']:,} |",
        f"| notifications delivered once / twice / three times | {deliveries[1]:,} / {deliveries[2]:,} / {deliveries[3]:,} |",
        f"| quotas | {', '.join(RATED)}: {RATE:g}/s, burst {BURST:g}; running copy jobs: {result['cap']} per account and destination region, "
        f"then {VAULT_CAP} per destination vault; {RESOURCE_CAP} backup or copy job per resource; on limit `{result['on_limit']}` |",
        f"| quota clock: simulated steps + wall time during deliveries | {result['simulated_end']:,} s + {result['wall_ticks']:,.0f} s |",
        f"| every required copy started (a copy job that did not fail): simulated s / wall s | {fmt(result['started_at'])} / {secs(result['started_wall'])} |",
        f"| every required copy completed: simulated s / wall s | {fmt(result['completed_at'])} / {secs(result['completed_wall'])} |",
        f"| run: simulated s / wall s (plus {result['setup_wall']:.1f} s to start the stack) | {result['simulated_end']:,} / {result['wall']:.1f} |",
        f"| copy jobs (states) | {figures['jobs']:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(figures['states'].items()))}) |",
        f"| copy jobs per pair (jobs: pairs) | {', '.join(f'{k}: {v:,}' for k, v in figures['jobs_per_pair'].items())} |",
        f"| copy jobs failed with the limit message | {figures['limit_failures']:,} |",
        f"| throttled calls | {', '.join(f'{k} {v:,}' for k, v in sorted(throttled.items())) or '0'} |",
        f"| peak RUNNING per account and destination region / per destination vault / per resource (caps) | "
        f"{peak['regions']} / {peak['vaults']} / {peak['resources']} ({result['cap']}, then {VAULT_CAP} per vault / {RESOURCE_CAP}) |",
        f"| limited (refused / waited / failed) | {counters['limited'].get('refused', 0):,} / {counters['limited'].get('waited', 0):,} / {counters['limited'].get('failed', 0):,} |",
        f"| limited by (the cap that held the copy back) | {', '.join(f'{CAP_NAMES.get(k, k)} {v:,}' for k, v in sorted(limited_by.items())) or '0'} |",
        f"| Lambda concurrency: execution environments per function (retry queue pollers) | "
        f"{', '.join(f'{k} {v}' for k, v in sorted(result['concurrency'].items()))} ({result['retry_pollers']}) |",
        f"| invocations (failed; Lambda's asynchronous retries, 1 then 2 simulated min later) | {invocations}; {result['async_retries']:,} retries |",
        f"| failure destination records | {result['failure_destination']:,} |",
        f"| retries scheduled: count (delay s min / median / max) | {delay_summary(result['retry_delays'])} |",
        f"| reconciler runs | {len(reconciles)} ({runs}) |",
        f"| AWS Backup calls | {', '.join(f'{k} {v:,}' for k, v in sorted(result['calls'].items()))} |",
        f"| alerts (reason: count) | {figures['alerts']:,} ({', '.join(f'{k}: {v}' for k, v in figures['alert_reasons'].items()) or 'none'}) |",
        f"| duplicated / lost / alerts for copies that later succeeded | {figures['duplicated']:,} / {figures['lost']:,} / {figures['wrong_alerts']:,} |",
    ]
    table = "\n".join(lines)
    verdict = "met" if not violations else "**not met**: " + "; ".join(violations)
    return table, verdict


def write_doc(result: dict, table: str, verdict: str, violations: list[str], figures: dict) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    on_limit = (f'failing with AWS\'s message "{LIMIT_MESSAGE}"' if result["on_limit"] == "fail" else "waiting in CREATED")
    section = f"""## {SECTION}

Measured by `scripts/bench-burst --binaries {result['n']} {result['seed']}` (`bench/burst_bench.py`) on
{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, commit `{commit}`{' with uncommitted changes' if dirty else ''},
{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.machine()}; the four functions' release
binaries under the local Lambda Runtime API, the AWS Backup stand-in and moto. Issue 13: a burst of
backups completing within five simulated minutes, each notification delivered 1-3 times, AWS
Backup's quotas enforced: every required copy started exactly once, none lost, no alert for a quota
failure that later succeeded, and the time until every copy is started.

The scenario: {result['n']:,} backups complete in the routed vault at seeded random moments of the
first {ARRIVAL_WINDOW} simulated seconds; two routes (us-west-2 and eu-west-1) require
{figures['required']:,} copies. The stand-in's quotas run on its manual clock, one second per
simulated second and with wall time during deliveries (the SDK's retries of a throttled call
sleep in wall time, and AWS's bucket refills meanwhile): a token bucket of {BURST:g} refilled at {RATE:g}/s on each of {', '.join(RATED)}
(AWS publishes no figures for these), and AWS's concurrent copy quotas as
[docs/aws-facts.md](aws-facts.md#service-quotas) presumes they combine: a copy starts when its
resource runs no other backup or copy job ({RESOURCE_CAP} per resource: each backup's two copies run one after
the other) and its account runs fewer than {result['cap']} copies to the destination region or, that
reached, its destination vault fewer than {VAULT_CAP}. The region cap is AWS's 100 scaled to the burst
(max(5, N / 100): 10,000 backups meet AWS's 100, a smaller burst the same pressure); with one destination
vault per region the vault's {VAULT_CAP} adds no slot. A copy not admitted
{on_limit}.
Copy jobs move one `advance` step every {COPY_STEP} simulated seconds. Retries (RETRY_BASE_DELAY_SECONDS {RETRY_BASE_DELAY}, the template's default; MaxAttempts 3) are held for their
DelaySeconds in simulated time, then polled as Lambda's event source does; the reconciler runs hourly
(simulated) and whenever the event path is quiet with copies missing. Deliveries run concurrently,
as Lambda runs them: each function on as many execution environments (processes of its binary, one
invocation at a time each) as the template reserves for it (the table's concurrency row), Lambda's
retries of a failed asynchronous invocation held one and then two simulated minutes, DynamoDB
(moto) answering each request atomically. Simulated seconds are the benchmark's clock; wall seconds
are this machine's, for the whole event path through the binaries.

{table}

Invariants: {verdict}
"""
    document = performance_doc().read_text()
    document = replace_section(document, SECTION, section, before="AWS calls per event")
    started = "-" if result["started_at"] is None else f"{result['started_at']:,} simulated s ({result['started_wall']:.0f} s wall)"
    row = (f"| {ROW} (`scripts/bench-burst --binaries`) | {result['n']:,} backups, notifications 1-3 times, quotas enforced: "
           f"every copy started once, none lost, no alert for a quota failure that later succeeded | "
           f"{figures['duplicated']} duplicated, {figures['lost']} lost, {figures['wrong_alerts']} such alerts; all started at {started} | "
           f"{'met' if not violations else '**not met**'} |")
    document = replace_row(document, ROW, row)
    performance_doc().write_text(document)
    print(f"\nwritten to docs/performance.md (section \"{SECTION}\" and its Targets row)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("seed", nargs="?", type=int, default=13)
    parser.add_argument("--binaries-dir", type=Path, default=ROOT / "target" / "release")
    parser.add_argument("--region-cap", type=int, default=None,
                        help="running copy jobs per account and destination region (default max(5, N // 100); AWS's is 100)")
    parser.add_argument("--on-limit", choices=["fail", "wait"], default="fail")
    parser.add_argument("--write", action="store_true", help="write docs/performance.md's section and Targets row")
    args = parser.parse_args()
    cap = args.region_cap or max(5, args.n // 100)
    print(f"burst: {args.n:,} backups, seed {args.seed}, binaries {args.binaries_dir}, running copies: {cap} per destination "
          f"region, then {VAULT_CAP} per vault, {RESOURCE_CAP} per resource ({args.on_limit}), rates {RATE:g}/s burst {BURST:g} "
          f"on {', '.join(RATED)}", flush=True)
    result = run(args.n, args.seed, args.binaries_dir, cap, args.on_limit)
    violations, figures = check(result)
    table, verdict = report(result, violations, figures)
    print(table)
    print(f"\ninvariants: {verdict}")
    if args.write:
        write_doc(result, table, verdict, violations, figures)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
