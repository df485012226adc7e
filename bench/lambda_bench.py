"""Benchmark: cold start, latency, memory, size, and AWS calls per event, for each function's
release binary against the local stand-ins, next to two baselines measured the same way in the same
run: a bare lambda_runtime hello-world (same profile) and a Python 3.11 boto3 peer of the retrier.

Run with scripts/bench: it builds the release binaries first and puts tests/ on the import path
for the harness (tests/harness). Prints a table and writes docs/performance.md. Figures are from
this machine and the local stand-ins (moto's DynamoDB answers in ~10 ms), so warm latency mostly
measures the stand-ins; init, memory and size are the functions'.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from harness.config import ACCOUNT, CREDENTIALS, ROOT
from harness.events import scheduled_event
from harness.lambda_runtime import LocalLambda, lambda_environment
from harness.stack import LocalStack

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))
# Init is the median of this many cold starts (one start is too noisy to compare 2 ms figures).
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "30"))
# The reconciler sweep: this many copy jobs, of which UNSEEN never reached the event path.
SWEEP_JOBS, SWEEP_UNSEEN, SWEEP_BACKUPS, SWEEP_NEW = 10_000, 100, 20, 80
SWEEP_OLD = SWEEP_JOBS - SWEEP_BACKUPS - SWEEP_NEW  # the first run's copies of the backups count too
RELEASE = ROOT / "target" / "release"
DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"


def sns(event_type: str, state: str, job_id: str) -> dict:
    attributes = {"EventType": event_type, "State": state, "AccountId": ACCOUNT, "Id": job_id, "StartTime": "2026-11-20T03:00:11.204Z"}
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:backup-vault-events:1",
        "Sns": {
            "Type": "Notification", "MessageId": job_id, "TopicArn": STACK.vault_topic,
            "Subject": "Notification from AWS Backup", "Message": "An AWS Backup job event.",
            "Timestamp": "2026-11-20T03:14:07.512Z", "SignatureVersion": "1", "Signature": "x",
            "SigningCertUrl": "https://example.invalid", "UnsubscribeUrl": "https://example.invalid",
            "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in attributes.items()},
        },
    }]}


def cold_starts(name: str, command, env: dict) -> list[float]:
    """Init times (ms) of COLD_STARTS fresh processes: spawn to first /next poll."""
    times = []
    for n in range(COLD_STARTS):
        function = LocalLambda(f"{name}-cold{n}", command, env, str(STACK.workdir / f"bench-{name}-cold.log"), timeout=60)
        function.start()
        try:
            function.wait_until_polling()
            times.append(function.init_seconds() * 1000)
        finally:
            function.stop()
    return sorted(times)


def socket_probe(binaries: dict[str, tuple[str, dict]], rounds: int = 100) -> dict[str, float]:
    """Median init (ms) of each binary by a bare socket: spawn to the arrival of its first request,
    without the harness's own HTTP handling; the binaries take turns, so drift hits all alike."""
    import socket
    times: dict[str, list[float]] = {name: [] for name in binaries}
    for _ in range(rounds):
        for name, (command, env) in binaries.items():
            with socket.socket() as server:
                server.bind(("127.0.0.1", 0))
                server.listen(1)
                server.settimeout(30)
                lambda_env = lambda_environment(name, server.getsockname()[1], env)
                started = time.perf_counter()
                process = subprocess.Popen([command], env=lambda_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                connection, _ = server.accept()
                with connection:
                    received = b""
                    while b"\r\n\r\n" not in received:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        received += chunk
                    times[name].append((time.perf_counter() - started) * 1000)
                process.kill()
                process.wait()
    return {name: statistics.median(values) for name, values in times.items()}


def measure(name: str, command, env: dict, events: list[dict]) -> dict:
    inits = cold_starts(name, command, env)
    function = LocalLambda(name, command, env, str(STACK.workdir / f"bench-{name}.log"), timeout=60)
    function.start()
    try:
        started = time.perf_counter()
        first = function.invoke(events[0])
        first_ms = (time.perf_counter() - started) * 1000
        assert first.ok, (name, first.payload)
        latencies = []
        for event in events[1:]:
            started = time.perf_counter()
            outcome = function.invoke(event)
            latencies.append((time.perf_counter() - started) * 1000)
            assert outcome.ok, (name, outcome.payload)
        latencies.sort()
        binary = Path(command if isinstance(command, str) else command[-1])
        return {
            "name": name,
            "init_ms": statistics.median(inits),
            "init_min_ms": inits[0],
            "first_ms": first_ms,
            "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "rss_mib": function.peak_rss_kib() / 1024,
            "size_mib": binary.stat().st_size / 2**20 if isinstance(command, str) else None,
            "invocations": len(events),
        }
    finally:
        function.stop()


def bulk_jobs(vault: str, states: dict, count: int) -> list[str]:
    STACK.create_vault(vault, notify=False)
    STACK.standin("bulk", {"vault": vault, "count": count, "destinations": [DR], "states": states,
                           "statusMessage": "Copy job failed because the destination backup vault is being modified. Try again later."})
    return [j["CopyJobId"] for j in STACK.copy_jobs() if j["SourceBackupVaultArn"].endswith(f":{vault}")]


def sweep() -> dict:
    """The reconciler's release binary, two scheduled runs against the stand-in. The first finds
    SWEEP_OLD copy jobs that finished half an hour ago (SWEEP_UNSEEN of them never reached the
    event path, the rest tracked) and SWEEP_BACKUPS routed backups without a copy, which it starts;
    nothing has verified the table yet. Then SWEEP_NEW jobs arrive unseen, and the second run is
    the steady state: SWEEP_JOBS listed, the finished ones verified by the first run."""
    transient = "Copy job failed because the destination backup vault is being modified. Try again later."
    states = {"COMPLETED": 0.9, "FAILED": 0.05, "RUNNING": 0.05}
    runs = []
    with LocalStack(routes=[{"sourceVault": "routed", "destinationVaultArn": DR}], start_functions=False) as stack:
        stack.create_vault("unwired", notify=False)
        stack.create_vault("routed", notify=False)
        stack.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.standin("bulk", {"vault": "unwired", "count": SWEEP_OLD, "destinations": [DR], "seed": 7,
                               "states": states, "statusMessage": transient, "ageMinutes": 30})
        stack.standin("bulk", {"vault": "routed", "count": SWEEP_BACKUPS})
        stack.track(stack.copy_jobs()[SWEEP_UNSEEN:])
        env = {**stack.function_env("reconciler"), "RUST_LOG": "warn"}
        function = LocalLambda("reconciler", str(RELEASE / "copy-job-reconciler"), env, str(stack.workdir / "bench-reconciler.log"), timeout=300)
        function.start()
        try:
            function.wait_until_polling()
            for label in ("first run: table never verified", "steady state: the previous run verified the finished jobs"):
                if runs:
                    stack.standin("bulk", {"vault": "unwired", "count": SWEEP_NEW, "destinations": [DR], "seed": 8,
                                           "states": states, "statusMessage": transient})
                before = stack.calls()
                started = time.perf_counter()
                outcome = function.invoke(scheduled_event())
                seconds = time.perf_counter() - started
                after = stack.calls()
                assert outcome.ok and outcome.payload["complete"], outcome.payload
                calls = {name: after.get(name, 0) - before.get(name, 0) for name in after}
                runs.append({"label": label, "seconds": seconds, "summary": outcome.payload, "calls": calls,
                             "list_calls": calls.get("ListCopyJobs", 0) + calls.get("ListBackupJobs", 0)})
        finally:
            function.stop()
    return runs


def sweep_row(run: dict) -> str:
    summary = run["summary"]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(run["calls"].items()) if count)
    return (f"| {run['label']} | {summary['scanned']:,} | {summary['alreadyVerified']:,} | {summary['repaired']} | "
            f"{summary['retried']} | {summary['missingCopiesStarted']} | {run['list_calls']} | {run['seconds']:.2f} | {calls} |")


def api_calls_table() -> str:
    run = subprocess.run(["cargo", "run", "--quiet", "-p", "vaultwatch-tests", "--bin", "api-calls"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def main() -> int:
    global STACK
    results = []
    with LocalStack(routes=[{"sourceVault": "routed", "destinationVaultArn": DR}], start_functions=False) as STACK:
        STACK.create_vault("dr-copy", region="us-west-2", notify=False)
        half = EVENTS // 2
        tracked = bulk_jobs("tracked", {"COMPLETED": 1.0}, half)
        tracker_events = [sns("COPY_JOB", state, job) for job in tracked for state in ("CREATED", "COMPLETED")]
        failed = bulk_jobs("failing", {"FAILED": 1.0}, EVENTS)
        retrier_events = [sns("COPY_JOB", "FAILED", job) for job in failed]
        STACK.create_vault("routed", notify=False)
        STACK.standin("bulk", {"vault": "routed", "count": EVENTS})
        backups = [j for j in STACK.client("backup").list_backup_jobs(ByBackupVaultName="routed", MaxResults=1000)["BackupJobs"]]
        copier_events = [sns("BACKUP_JOB", "COMPLETED", b["BackupJobId"]) for b in backups]

        python = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "bench" / "python_peer.py")]
        peer_env = {**CREDENTIALS, "AWS_ENDPOINT_URL_BACKUP": STACK.backup_url, "AWS_DEFAULT_REGION": "us-east-1"}
        hello_events = [{"n": i} for i in range(EVENTS)]
        runs = [
            ("hello-world (baseline)", str(RELEASE / "hello-lambda"), {}, hello_events),
            ("python boto3 peer (baseline)", python, peer_env, retrier_events),
            ("copy-job-tracker", str(RELEASE / "copy-job-tracker"), STACK.function_env("tracker"), tracker_events),
            ("copy-job-retrier", str(RELEASE / "copy-job-retrier"), STACK.function_env("retrier"), retrier_events),
            ("cross-region-copier", str(RELEASE / "cross-region-copier"), STACK.function_env("copier"), copier_events),
        ]
        for name, command, env, events in runs:
            print(f"measuring {name} over {len(events)} events...", flush=True)
            results.append(measure(name, command, {**env, "RUST_LOG": "warn"}, events))
        print("socket probe of init, 100 cold starts each...", flush=True)
        probed = socket_probe({name: (command, {**env, "RUST_LOG": "warn"}) for name, command, env, _ in runs
                               if isinstance(command, str)})
    for result in results:
        result["probe_ms"] = probed.get(result["name"])
    print(f"sweeping up to {SWEEP_JOBS} copy jobs with the reconciler, twice...", flush=True)
    first_sweep, steady_sweep = sweep()

    hello = results[0]
    peer = results[1]
    calls = api_calls_table()
    call_rows = [line.split("|")[1:-1] for line in calls.splitlines()[2:]]
    by_function: dict[str, int] = {}
    for function, _, _, all_calls, _ in call_rows:
        by_function[function.strip()] = max(by_function.get(function.strip(), 0), int(all_calls))
    calls_worst = " / ".join(f"{name} {count}" for name, count in by_function.items()) + " (worst path; copier with 2 routes)"
    calls_ok = all(int(all_calls) <= int(target.strip().removeprefix("<= ")) for _, _, _, all_calls, target in call_rows)
    rows = ["| function | init ms (median) | init ms (min) | vs hello | vs python | init ms, socket probe | vs hello, socket probe | first invocation ms | warm p50 ms | warm p99 ms | peak RSS MiB | binary MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        size = f"{r['size_mib']:.2f}" if r["size_mib"] is not None else "-"
        probe = (f"{r['probe_ms']:.2f} | {r['probe_ms'] / hello['probe_ms']:.2f}x" if r.get("probe_ms") else "- | -")
        rows.append(f"| {r['name']} | {r['init_ms']:.2f} | {r['init_min_ms']:.2f} | {r['init_ms'] / hello['init_ms']:.2f}x | {r['init_ms'] / peer['init_ms']:.3f}x | {probe} | "
                    f"{r['first_ms']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['rss_mib']:.1f} | {size} |")
    table = "\n".join(rows)
    ours = results[2:]
    worst = lambda key: max(r[key] for r in ours)  # noqa: E731
    def status(ok):
        return "met" if ok else "not met"
    targets = "\n".join([
        "| figure | target | measured (worst function) | status |",
        "|---|---|---|---|",
        f"| init vs hello-world | <= 1.5x | harness {worst('init_ms') / hello['init_ms']:.2f}x; socket probe {worst('probe_ms') / hello['probe_ms']:.2f}x | "
        f"{status(worst('probe_ms') <= 1.5 * hello['probe_ms'])} by the socket probe (the stricter measure; {status(worst('init_ms') <= 1.5 * hello['init_ms'])} by the harness) |",
        f"| init vs Python boto3 peer | <= 0.1x | {worst('init_ms') / peer['init_ms']:.3f}x | {status(worst('init_ms') <= 0.1 * peer['init_ms'])} |",
        f"| peak RSS over {EVENTS} invocations | <= 30 MiB | {worst('rss_mib'):.1f} MiB | {status(worst('rss_mib') <= 30)} |",
        f"| stripped release binary | <= 8 MiB | {worst('size_mib'):.2f} MiB | {status(worst('size_mib') <= 8)} |",
        f"| AWS calls per event: tracker / retrier / copier | 1 / <= 4 / routes + 1 | {calls_worst} | {status(calls_ok)} |",
        f"| reconciler over {SWEEP_JOBS:,} copy jobs | <= 11 List calls, < 10 s | steady state: {steady_sweep['list_calls']} List calls, "
        f"{steady_sweep['seconds']:.1f} s; first run ({first_sweep['summary']['scanned']:,} jobs, no verified sweep yet): "
        f"{first_sweep['list_calls']} List calls, {first_sweep['seconds']:.1f} s | "
        f"{status(all(run['list_calls'] <= 11 and run['seconds'] < 10 for run in (first_sweep, steady_sweep)))} "
        f"(both runs) |",
    ])
    sweep_table = "\n".join([
        "| run | jobs listed | already verified | repaired | retried | missing copies started | List calls | seconds | AWS Backup calls |",
        "|---|---|---|---|---|---|---|---|---|",
        sweep_row(first_sweep), sweep_row(steady_sweep)])
    print(sweep_table)
    print(table)
    print()
    print(calls)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    document = f"""# Performance

Measured by `scripts/bench` on {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, commit `{commit}`,
{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.machine()}. Release profile: fat LTO,
one codegen unit, `opt-level = 3`, `panic = "abort"`, symbols stripped; x86_64 here (the deployed
arm64 binaries come from the same profile through `sam build`).

Each function's release binary runs under the project's local Lambda Runtime API, as Lambda runs
it, calling the local stand-ins (the AWS Backup stand-in; moto for DynamoDB, SNS, SQS). Init is
spawn to first `/next` poll, the median (and minimum) of {COLD_STARTS} cold starts under that harness,
and again, without the harness's own HTTP handling (~1.3 ms a process), by a bare socket probe
(median of 100, the binaries taking turns); warm latency is over
{EVENTS - 1} invocations after the first. The Python peer does the retrier's core (DescribeCopyJob +
StartCopyJob with boto3) under a minimal Runtime API loop; the hello-world is a bare `lambda_runtime`
echo built with the same profile.

Warm latency is dominated by the stand-ins (moto answers a DynamoDB write in ~10 ms); init, peak
memory and size are the functions' own. What each tuning step changed, with before/after figures,
is in [tuning.md](tuning.md).

{table}

## Targets

{targets}

## Reconciler sweep

The reconciler's release binary, two scheduled invocations against the stand-in (`sweep()` in
`bench/lambda_bench.py`): the first finds {SWEEP_OLD:,} copy jobs that finished half an hour ago
({SWEEP_UNSEEN} never seen by the event path, the rest tracked) and {SWEEP_BACKUPS} routed backups without
a copy; then {SWEEP_NEW} new jobs arrive unseen and the second run lists {SWEEP_JOBS:,}.

{sweep_table}

A run lists every job of its window (1,000 per ListCopyJobs call) and reads, 100 keys per
BatchGetItem, the tracking records of the jobs it must check. A finished run without errors
vouches for the jobs that had finished when it started, so the next run reads only the records of
new and unfinished jobs. The first run has no such run before it and reads every record (99
BatchGetItem calls). moto is pinned to 5.1: 5.2 serialises DynamoDB responses 5-8x slower
(~0.15 s per 100 items instead of ~0.025 s), which made this first run take ~21 s.

## AWS calls per event

Counted by `cargo run -p vaultwatch-tests --bin api-calls` (the handlers over counting in-memory
ports; one port call is one AWS request). The `call_budget` behaviour test holds every row to its
target. GetBackupPlan is cached per plan version in a warm environment, so the retry row's lookup
happens once per plan version.

{calls}
"""
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "performance.md").write_text(document)
    print("\nwritten to docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
