"""Benchmark: a nightly burst under AWS Backup's quotas (issue 13), through the REAL function binaries
(release build by default) under the local Lambda Runtime API, against the AWS Backup stand-in and
moto (tests/harness's LocalStack).

The story, on a simulated clock of one-second steps:
  * N backups (default 10,000) complete in the vault `routed` at seeded random moments within the
    first five simulated minutes; the copier's routes (as tests/e2e/conftest.py's) ask for a copy
    of each to two destination vaults in two regions: 2N required (recovery point, destination)
    pairs;
  * every vault notification (backup and copy-job events alike) is delivered 1-3 times, the count
    drawn per notification from a seeded RNG (the harness delivers `duplicate_deliveries` times;
    this subclass draws it per message); a function error is retried as Lambda does (the harness's
    invoke_async: three attempts, then the failure destination);
  * the stand-in enforces AWS Backup's quotas (docs/aws-facts.md, Service quotas): a token bucket
    on StartCopyJob, DescribeCopyJob and ListCopyJobs (AWS publishes no figures: RATE/BURST here)
    on the stand-in's manual quota clock, which moves one second per simulated second, and a cap on
    concurrent copy jobs per destination vault (default max(5, N // 100): AWS's 5 per vault at
    small N, 100 (its per-Region figure) at 10,000) in `fail` mode (a job without a slot ends
    FAILED with AWS's "There are too many copy jobs running for resource.") or `wait` mode;
  * the stand-in's `advance` drives copy jobs one step every COPY_STEP simulated seconds;
  * the retrier's retries go to SQS with DelaySeconds: a small SQS proxy in this process holds
    each SendMessage to the retry queue for its DelaySeconds of *simulated* time, then puts it on
    the retry queue (without a delay) for the harness to deliver as it does; every other SQS call
    goes to moto unchanged;
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
import urllib.request
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.config import ACCOUNT, DR_VAULT, EU_VAULT, ROOT, ROUTES
from harness.events import sns_event
from harness.stack import LocalStack
from reconciler_sweep import performance_doc, replace_row, replace_section

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
        hold = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                if target == "AmazonSQS.SendMessage":
                    request = json.loads(body)
                    if request.get("QueueUrl", "").rstrip("/").endswith("/" + hold.queue_name):
                        answer = hold.hold(request)
                        data = json.dumps(answer).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "application/x-amz-json-1.0")
                        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                upstream = urllib.request.Request(hold.moto_url + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(upstream, timeout=60) as response:
                        status, reply, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, reply, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                for key, value in reply_headers.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

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
        for request in due:
            extra = {"MessageAttributes": request["MessageAttributes"]} if request.get("MessageAttributes") else {}
            sqs.send_message(QueueUrl=queue_url, MessageBody=request["MessageBody"], **extra)
        return len(due)

    def pending(self) -> int:
        with self.lock:
            return len(self.held)

    def stop(self) -> None:
        self.server.shutdown()


class BurstStack(LocalStack):
    """The harness's LocalStack with each vault notification delivered 1-3 times (seeded per
    notification) and the retry queue's delays in simulated time."""

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = random.Random(seed)
        self.deliveries: Counter = Counter()
        self.hold: RetryHold | None = None
        self.wall_ticks = 0.0

    def function_env(self, name: str) -> dict[str, str]:
        env = super().function_env(name)
        if self.hold is None:
            self.hold = RetryHold(self.moto_url, self.retry_queue.rstrip("/").rsplit("/", 1)[1])
        env["AWS_ENDPOINT_URL_SQS"] = self.hold.url
        if "RETRY_BASE_DELAY_SECONDS" in env:
            # The template's default (the harness's 0 is for tests): delays are simulated time here.
            env["RETRY_BASE_DELAY_SECONDS"] = str(RETRY_BASE_DELAY)
        return env

    def deliver(self) -> int:
        handled = 0
        sqs = self.client("sqs")
        for name, url in self.subscription_queues.items():
            for message in self._receive(url):
                times = self.rng.randint(1, 3)
                self.deliveries[times] += 1
                for _ in range(times):
                    self.invoke_async(name, sns_event(message))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled + self._deliver_retries()

    def drain(self) -> None:
        """Delivers until quiet, the quota clock also moving with wall time meanwhile (at most
        TICK_SCALE simulated per wall second): the SDK's retries of a throttled call sleep in wall
        time, and in AWS its bucket refills meanwhile; on a frozen clock every throttled call would
        exhaust its retries."""
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

    def stop(self) -> None:
        super().stop()
        if self.hold:
            self.hold.stop()


MEASURE_CALLS = Counter()


def all_copy_jobs(stack) -> list[dict]:
    """Every copy job, read through the stand-in's ListCopyJobs with the quotas lifted for the read
    (a measurement must not spend the functions' tokens); its calls are counted apart."""
    backup = stack.client("backup")
    jobs, token = [], None
    while True:
        page = backup.list_copy_jobs(MaxResults=1000, **({"NextToken": token} if token else {}))
        MEASURE_CALLS["ListCopyJobs"] += 1
        jobs += page["CopyJobs"]
        token = page.get("NextToken")
        if not token:
            return jobs


def run(n: int, seed: int, binaries: Path, cap: int, on_limit: str) -> dict:
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, ARRIVAL_WINDOW) for _ in range(n))
    started_wall = time.monotonic()
    with BurstStack(max_attempts=3, routes=ROUTES, binaries=binaries, seed=seed + 1) as stack:
        stack.create_vault("routed")
        stack.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.create_vault("eu-archive", region="eu-west-1", notify=False)
        quotas = dict(rates={op: (RATE, BURST) for op in RATED}, per_vault=cap, on_limit=on_limit, manual_clock=True)
        stack.set_quotas(**quotas)
        sqs = stack.client("sqs")
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
                job = stack.complete_backup("routed", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{next_arrival:017x}")
                recovery_points.append(job["RecoveryPointArn"])
                next_arrival += 1
            # Nothing can happen between events once every backup has completed: jump to the
            # next copy step or held retry, whichever is sooner.
            step = 1
            if next_arrival >= n:
                step = COPY_STEP - now % COPY_STEP
                if stack.hold.held:
                    step = max(1, min(step, stack.hold.held[0][0] - now))
            now += step
            stack.tick_quota_clock(step)
            stack.hold.release(now, sqs, stack.retry_queue)
            stack.drain()
            if now % COPY_STEP == 0:
                stack.advance()
                stack.drain()
            quiet = next_arrival >= n and stack.hold.pending() == 0
            # Measured once a copy step: re-setting the quotas refills the buckets, which a step's
            # 30 s at RATE would have done anyway (BURST / RATE = 5 s).
            if now % COPY_STEP == 0:
                # Coverage, measured with the quotas lifted (the measurement is not the functions').
                stack.clear_quotas()
                jobs = all_copy_jobs(stack)
                stack.set_quotas(**quotas)
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
                    if stack.hold.pending() == 0:
                        break
                due = now - last_reconcile >= RECONCILE_EVERY
                stuck = quiet and unfinished == 0 and not required <= completed
                if due or stuck:
                    outcome = stack.reconcile()
                    stack.drain()
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
                          f"started, {len(completed & required):,} completed, {unfinished:,} unfinished, {stack.hold.pending()} retries held",
                          flush=True)
        wall = time.monotonic() - loop_start
        counters = stack.quota_counters()
        calls = Counter(stack.calls())
        calls.subtract(MEASURE_CALLS)
        calls = {k: v for k, v in calls.items() if v}
        stack.clear_quotas()
        jobs = all_copy_jobs(stack)
        alerts = stack.alerts()
        failures = sqs.get_queue_attributes(QueueUrl=stack.failure_queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
        return {
            "n": n, "seed": seed, "cap": cap, "on_limit": on_limit, "recovery_points": recovery_points, "jobs": jobs,
            "alerts": alerts, "counters": counters, "calls": calls, "reconciles": reconciles,
            "invocations": Counter(i.function for i in stack.invocations),
            "failed_invocations": Counter(i.function for i in stack.invocations if not i.outcome.ok),
            "deliveries": stack.deliveries, "wall_ticks": stack.wall_ticks, "retry_delays": stack.hold.delays, "failure_destination": int(failures),
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
    peaks = counters["peakRunning"]["vaults"]
    peak = max(peaks.values(), default=0)
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
        f"| quotas | {', '.join(RATED)}: {RATE:g}/s, burst {BURST:g}; {result['cap']} running copy jobs per destination vault, on limit `{result['on_limit']}` |",
        f"| quota clock: simulated steps + wall time during deliveries | {result['simulated_end']:,} s + {result['wall_ticks']:,.0f} s |",
        f"| every required copy started (a copy job that did not fail): simulated s / wall s | {fmt(result['started_at'])} / {secs(result['started_wall'])} |",
        f"| every required copy completed: simulated s / wall s | {fmt(result['completed_at'])} / {secs(result['completed_wall'])} |",
        f"| run: simulated s / wall s (plus {result['setup_wall']:.1f} s to start the stack) | {result['simulated_end']:,} / {result['wall']:.1f} |",
        f"| copy jobs (states) | {figures['jobs']:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(figures['states'].items()))}) |",
        f"| copy jobs per pair (jobs: pairs) | {', '.join(f'{k}: {v:,}' for k, v in figures['jobs_per_pair'].items())} |",
        f"| copy jobs failed with the limit message | {figures['limit_failures']:,} |",
        f"| throttled calls | {', '.join(f'{k} {v:,}' for k, v in sorted(throttled.items())) or '0'} |",
        f"| peak RUNNING per destination vault vs cap | {peak} vs {result['cap']} |",
        f"| limited (refused / waited / failed) | {counters['limited'].get('refused', 0):,} / {counters['limited'].get('waited', 0):,} / {counters['limited'].get('failed', 0):,} |",
        f"| invocations (failed) | {invocations} |",
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
(AWS publishes no figures for these) and {result['cap']} running copy jobs per destination vault
(AWS's 5 per vault at small N, its 100 per Region at 10,000), a job without a slot
{on_limit}.
Copy jobs move one `advance` step every {COPY_STEP} simulated seconds. Retries (RETRY_BASE_DELAY_SECONDS {RETRY_BASE_DELAY}, the template's default; MaxAttempts 3) are held for their
DelaySeconds in simulated time, then delivered as the harness does; the reconciler runs hourly
(simulated) and whenever the event path is quiet with copies missing. Simulated seconds are the
benchmark's clock; wall seconds are this machine's, for the whole event path through the binaries.

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
    parser.add_argument("--cap", type=int, default=None, help="running copy jobs per destination vault (default max(5, N // 100))")
    parser.add_argument("--on-limit", choices=["fail", "wait"], default="fail")
    parser.add_argument("--write", action="store_true", help="write docs/performance.md's section and Targets row")
    args = parser.parse_args()
    cap = args.cap or max(5, args.n // 100)
    print(f"burst: {args.n:,} backups, seed {args.seed}, binaries {args.binaries_dir}, cap {cap} per destination vault "
          f"({args.on_limit}), rates {RATE:g}/s burst {BURST:g} on {', '.join(RATED)}", flush=True)
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
