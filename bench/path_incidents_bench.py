"""Benchmark: copy path incidents through the REAL function binaries (debug build, the test harness's
LocalAws; the stand-in reads the vaults' keys from moto), not a test: N copy failures on 3 broken paths, then the
backfill after the fix.

  * three destination vaults in us-west-2, each on its own customer managed key of moto's, all three
    keys disabled: the stand-in's KMS decider fails every copy into them with AWS's words;
  * a nightly plan whose rule copies to the three vaults; ceil(N / 3) backups complete in `planned`,
    BATCH at a time, each batch delivered to its end (sequential delivery, every notification once):
    N copy failures, 3 paths broken by the same kind of cause;
  * checks: 3 incident alerts (one per path), no per-copy alert, every failure counted in its path's
    incident, each recovery point once;
  * the keys are enabled; one backup more completes (its copies heal the paths), the reconciler
    sweeps, and the backfill's copies run to their end (each COPY_JOB event starts the next);
  * checks: 3 "healed" and 3 "backfilled" messages, one StartCopyJob per (recovery point, vault),
    never more than BACKFILL_CONCURRENCY (5) copies unfinished in one vault (counted before every
    `advance` of the stand-in: jobs end only there);
  * prints the figures, and with --write the section "Copy path incidents through the binaries" of
    docs/performance.md.

Run with `scripts/bench-paths --binaries [N]` (default 1,000)."""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from harness.config import ACCOUNT
from harness.stack import LocalAws

ROOT = Path(__file__).resolve().parents[1]
VAULTS = ("dr-a", "dr-b", "dr-c")
BACKFILL_CONCURRENCY = 5  # the template's default
BATCH = 25
SECTION = "## Copy path incidents through the binaries"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("failures", nargs="?", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    backups = math.ceil(args.failures / len(VAULTS))
    problems: list[str] = []
    with LocalAws(max_attempts=3) as stack:
        kms = stack.endpoints.client("kms", "us-west-2")
        west = stack.backup.backup_client("us-west-2")
        stack.backup.create_vault("planned")
        keys, destinations = [], []
        for name in VAULTS:
            key = kms.create_key()["KeyMetadata"]
            west.create_backup_vault(BackupVaultName=name, EncryptionKeyArn=key["Arn"])
            keys.append(key["KeyId"])
            destinations.append(f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:{name}")
        plan_id = stack.endpoints.client("backup").create_backup_plan(BackupPlan={
            "BackupPlanName": "nightly", "Rules": [{
                "RuleName": "nightly", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 3 * * ? *)",
                "Lifecycle": {"DeleteAfterDays": 35},
                "CopyActions": [{"DestinationBackupVaultArn": d, "Lifecycle": {"DeleteAfterDays": 35}}
                                for d in destinations]}]})["BackupPlanId"]
        for key in keys:
            kms.disable_key(KeyId=key)

        started = time.monotonic()
        points = []
        for first in range(0, backups, BATCH):
            for n in range(first, min(first + BATCH, backups)):
                resource = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{n:05d}{uuid.uuid4().hex[:6]}"
                points.append(stack.backup.complete_backup("planned", resource, planId=plan_id)["RecoveryPointArn"])
            stack.delivery.settle()
        failing_wall = time.monotonic() - started
        failures = sum(len(stack.queries.copy_jobs(ByDestinationVaultArn=d, ByState="FAILED")) for d in destinations)
        alerts = stack.queries.take_alerts()
        reasons = Counter(a["MessageAttributes"]["Reason"]["Value"] for a in alerts)
        incidents = [i for i in stack.queries.table_items() if i.get("item_type") == "path_incident"]
        affected = sum(int(i["affected"]) for i in incidents)
        if failures != len(points) * len(VAULTS):
            problems.append(f"{failures} copies failed, not {len(points) * len(VAULTS)}")
        if reasons.get("path broken") != len(VAULTS) or len(alerts) - reasons.get("path still broken", 0) != len(VAULTS):
            problems.append(f"alerts while broken: {dict(reasons)} (expected {len(VAULTS)} 'path broken')")
        if len(incidents) != len(VAULTS) or affected != failures:
            problems.append(f"{len(incidents)} incidents counting {affected} recovery points, for {failures} failures")

        for key in keys:
            kms.enable_key(KeyId=key)
        started = time.monotonic()
        resource = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-healing{uuid.uuid4().hex[:6]}"
        stack.backup.complete_backup("planned", resource, planId=plan_id)
        stack.delivery.settle()
        in_flight: list[int] = []
        advance = stack.delivery.advance

        def counted_advance():
            in_flight.append(max(sum(len(stack.queries.copy_jobs(ByDestinationVaultArn=d, ByState=state))
                                     for state in ("CREATED", "RUNNING")) for d in destinations))
            return advance()

        stack.delivery.advance = counted_advance
        sweep = stack.delivery.reconcile()
        stack.delivery.settle()
        stack.delivery.advance = advance
        backfill_wall = time.monotonic() - started
        messages = Counter(a["MessageAttributes"]["Reason"]["Value"] for a in stack.queries.take_alerts())
        starts = stack.backup.copy_starts()
        once = sum(1 for point in points if starts.get(point) == len(VAULTS))
        if not sweep.ok or sweep.payload.get("errors"):
            problems.append(f"the healing sweep: {sweep.payload}")
        if messages != Counter({"path healed": len(VAULTS), "path backfilled": len(VAULTS)}):
            problems.append(f"messages after the fix: {dict(messages)}")
        if once != len(points):
            problems.append(f"{len(points) - once} recovery points not copied again exactly once per vault")
        if max(in_flight, default=0) > BACKFILL_CONCURRENCY:
            problems.append(f"{max(in_flight)} backfill copies in flight in one vault (at most {BACKFILL_CONCURRENCY})")
        invocations = Counter(invocation.function for invocation in stack.delivery.invocations)

    figures = "\n".join([
        f"{failures} copy failures on {len(VAULTS)} broken paths ({len(points)} backups x {len(VAULTS)} CopyActions), "
        "through the debug binaries",
        f"  alerts while broken          {reasons.get('path broken', 0)} incident alerts, "
        f"{reasons.get('path still broken', 0)} digests, {len(alerts) - sum(reasons[r] for r in ('path broken', 'path still broken'))} other",
        f"  recovery points counted      {affected} in {len(incidents)} incidents",
        f"  wall time                    {failing_wall:.0f} s ({failing_wall / max(failures, 1) * 1000:.0f} ms a failure)",
        f"after the fix: heal and backfill, BackfillConcurrency {BACKFILL_CONCURRENCY} per vault",
        f"  messages                     {messages.get('path healed', 0)} healed, {messages.get('path backfilled', 0)} backfilled",
        f"  copied again once per vault  {once} of {len(points)} recovery points",
        f"  most in flight in one vault  {max(in_flight, default=0)}",
        f"  wall time                    {backfill_wall:.0f} s",
        f"  invocations in all           {sum(invocations.values())} ({', '.join(f'{k} {v}' for k, v in sorted(invocations.items()))})",
    ])
    print(figures)
    for problem in problems:
        print(f"VIOLATED: {problem}", file=sys.stderr)
    if args.write and not problems:
        write(figures, args.failures)
    return 1 if problems else 0


def write(figures: str, failures: int) -> None:
    path = ROOT / "docs" / "performance.md"
    text = path.read_text()
    section = (f"{SECTION}\n\n`scripts/bench-paths --binaries {failures}` ({time.strftime('%Y-%m-%d')}, debug build, "
               "2 cores; the functions under the local Lambda Runtime API, one delivery at a time):\n\n"
               f"```\n{figures}\n```\n")
    pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section.rstrip("\n") + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
