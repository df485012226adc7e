"""Where the reconciler's heap goes in the sweep benchmark: the same scenario and runs as
scripts/bench-sweep (bench/reconciler_sweep.py), with the reconciler's profiling build (the release
profile with line tables) under heaptrack, and each run's heap at its peak attributed to the
deepest vaultwatch frame that allocated it, with that frame's caller and callee.

    cargo build --profile profiling -p copy-job-reconciler
    PYTHONPATH=tests .venv/bin/python bench/sweep_heap.py [JOBS]    # JOBS: default 20000

Needs heaptrack (and heaptrack_print) on the PATH. Slower than the benchmark (every allocation is
recorded), hence fewer jobs by default; the figures per job are what scale. Writes its recordings to
a temporary directory it names.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.config import ROOT
from reconciler_sweep import LAMBDA_MAX_TIMEOUT, Scenario, sweep

PROFILING = ROOT / "target" / "profiling" / "copy-job-reconciler"
# Source files of the shared crate whose names are not also the standard library's or a dependency's.
OURS = {path.name for path in (ROOT / "shared" / "src").rglob("*.rs")} - {"mod.rs", "lib.rs", "error.rs", "config.rs"}
FRAME_FILE = re.compile(r"\(([^()]+\.rs)\)$")
SHOWN = 12


def attribute(stacks: Path) -> tuple[int, collections.Counter]:
    """Bytes at the peak per (caller > deepest vaultwatch frame > callee), from heaptrack_print's
    flame-graph stacks (root first, the cost last)."""
    total, sites = 0, collections.Counter()
    for line in stacks.read_text().splitlines():
        stack, _, cost = line.rpartition(" ")
        if not cost.isdigit():
            continue
        total += int(cost)
        frames = [frame for frame in stack.split(";") if frame]
        ours = [i for i, frame in enumerate(frames) if (m := FRAME_FILE.search(frame)) and m.group(1) in OURS]
        if not ours:
            sites["(no vaultwatch frame) " + " > ".join(frames[-2:])] += int(cost)
            continue
        deepest = ours[-1]
        caller = frames[ours[-2]] if len(ours) > 1 else "-"
        callee = frames[deepest + 1] if deepest + 1 < len(frames) else "-"
        sites[f"{caller} > {frames[deepest]} > {callee}"] += int(cost)
    return total, sites


def main() -> int:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    if not PROFILING.exists():
        print(f"{PROFILING} not found: cargo build --profile profiling -p copy-job-reconciler", file=sys.stderr)
        return 1
    recordings = Path(tempfile.mkdtemp(prefix="vaultwatch-heaptrack-"))
    # One recording per process ($$: the shell's pid, which exec hands to heaptrack).
    command = ["sh", "-c", f"exec heaptrack -o {recordings}/reconciler.$$ {PROFILING}"]
    runs = sweep(Scenario.scaled(jobs, timeout=LAMBDA_MAX_TIMEOUT), fresh_process=True, command=command)
    files = sorted(recordings.glob("reconciler.*.zst"), key=lambda path: path.stat().st_mtime)
    for run, recording in zip(runs, files):
        stacks = recording.with_suffix(".stacks")
        subprocess.run(["heaptrack_print", "-f", str(recording), "-p", "0", "-a", "0", "-T", "0",
                        "--flamegraph-cost-type", "peak", "-F", str(stacks)], check=True, capture_output=True)
        total, sites = attribute(stacks)
        listed = run["summary"]["scanned"]
        print(f"\n{run['label']}: {listed:,} jobs listed, heap at its peak {total / 2**20:.2f} MiB "
              f"({total / listed:,.0f} bytes per listed job); recording {recording}")
        for site, cost in sites.most_common(SHOWN):
            print(f"  {cost / 2**20:7.2f} MiB {cost / total:6.1%} {cost / listed:6,.0f} B/job  {site[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
