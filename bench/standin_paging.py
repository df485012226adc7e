"""Benchmark (not a test): what a 1,000-item page of ListCopyJobs and ListBackupJobs costs the AWS
Backup stand-in (tests/standin) when it holds as many jobs as scripts/bench-sweep's scenario:
100,000 copy jobs and their 100,000 completed backups, paged through the way the reconciler asks
(ListCopyJobs by creation time; ListBackupJobs COMPLETED by creation time; 1,000 per page).

The stand-in runs in its own process; each page is timed from request to the last byte of the reply
over a kept-alive connection. Prints the first page (the listing's selection is made there) and the
others per operation.

Run from the repository: PYTHONPATH=tests .venv/bin/python bench/standin_paging.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import urllib.parse
from datetime import datetime, timezone

from harness.config import ACCOUNT
from harness.loopback import Connections
from harness.processes import start_standin

DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
STATES = {"COMPLETED": 0.9, "FAILED": 0.05, "RUNNING": 0.05}  # as bench/reconciler_sweep.py's
PAGE = 1000


def call(connections: Connections, method: str, path: str, body: dict | None = None) -> tuple[dict, float]:
    """The reply's body and the request's seconds (to its last byte)."""
    data = json.dumps(body).encode() if body is not None else None
    started = time.perf_counter()
    status, raw, _ = connections.request(method, path, data, {"Content-Type": "application/json"})
    seconds = time.perf_counter() - started
    reply = json.loads(raw) if raw else {}
    if status != 200:
        raise RuntimeError(f"{method} {path}: HTTP {status} {reply}")
    return reply, seconds


def page_through(connections: Connections, path: str, key: str, query: dict) -> tuple[int, list[float]]:
    """(items, seconds per page) of one whole listing."""
    items, times, token = 0, [], None
    while True:
        reply, seconds = call(connections, "GET", f"{path}?{urllib.parse.urlencode({**query, **({'nextToken': token} if token else {})})}")
        items += len(reply[key])
        times.append(seconds)
        token = reply.get("NextToken")
        if not token:
            return items, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="copy jobs (and backups) to seed")
    args = parser.parse_args()
    process, url = start_standin([], stderr=subprocess.DEVNULL)
    try:
        connections = Connections(url)
        call(connections, "PUT", "/backup-vaults/unwired", {})
        started = time.perf_counter()
        call(connections, "POST", "/_standin/bulk", {"vault": "unwired", "count": args.jobs, "destinations": [DR],
                                                     "seed": 7, "states": STATES, "ageMinutes": 30})
        print(f"stand-in: {args.jobs:,} copy jobs and {args.jobs:,} backups seeded in {time.perf_counter() - started:.1f} s")
        since = datetime.fromtimestamp(time.time() - 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        listings = [
            ("ListCopyJobs", "/copy-jobs/", "CopyJobs", {"maxResults": PAGE, "createdAfter": since}),
            ("ListBackupJobs", "/backup-jobs/", "BackupJobs", {"maxResults": PAGE, "state": "COMPLETED", "createdAfter": since}),
        ]
        for operation, path, key, query in listings:
            items, times = page_through(connections, path, key, query)
            rest = [seconds * 1000 for seconds in times[1:]] or [times[0] * 1000]
            print(f"{operation}: {items:,} items in {len(times)} pages, {sum(times):.1f} s; first page {times[0] * 1000:.1f} ms, "
                  f"the others {statistics.mean(rest):.1f} ms per page (median {statistics.median(rest):.1f}, "
                  f"max {max(rest):.1f})")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
