"""scripts/bench rewrites docs/performance.md's machine figures and keeps, as they were, the sections
and Targets rows the other benchmarks wrote (bench-sweep, bench-burst, bench-paths, --bin paths)."""

from __future__ import annotations

from harness.config import ROOT
from harness.markdown import sections
from lambda_bench import merged

PERFORMANCE = ROOT / "docs" / "performance.md"
OURS = ["init vs hello-world", "init vs Python boto3 peer", "peak RSS over 1000 invocations",
        "stripped release binary", "AWS calls per event: tracker / retrier / copier", "reconciler over 10,000 copy jobs"]


def test_a_bench_run_keeps_every_other_benchmarks_section_and_row():
    previous = PERFORMANCE.read_text()
    targets = ["| figure | target | measured (worst function) | status |", "|---|---|---|---|",
               *[f"| {figure} | t | NEW | met |" for figure in OURS]]
    owned = {"Reconciler sweep": "## Reconciler sweep\n\nNEW sweep\n",
             "AWS calls per event": "## AWS calls per event\n\nNEW calls\n"}
    document = merged(previous, "# Performance\n\nNEW preamble\n", targets, owned)

    before, after = dict(sections(previous)), dict(sections(document))
    assert set(after) == set(before), "no section lost or added"
    for heading, text in before.items():
        if heading not in (*owned, "Targets"):
            assert after[heading] == text, heading
    for heading, text in owned.items():
        assert after[heading] == text
    rows = [line for line in after["Targets"].splitlines() if line.startswith("| ") and "---" not in line][1:]
    previous_rows = [line for line in before["Targets"].splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(previous_rows) and len(set(rows)) == len(rows)
    first_cells = [row.strip("|").split("|")[0].strip() for row in rows]
    assert all(any(cell.startswith(figure.split(" over")[0]) for cell in first_cells) for figure in OURS)
    assert [row for row in rows if "NEW" in row] == [f"| {figure} | t | NEW | met |" for figure in OURS]
    assert document.startswith("# Performance\n\nNEW preamble\n") and merged(document, "# Performance\n\nNEW preamble\n", targets, owned) == document
