"""What an operator sees, through the real binaries: the functions' CloudWatch Embedded Metric
Format lines (structure per the EMF specification, counts per what the scenario did), every log line
of an invocation naming its request, and the `vaultwatch coverage` report."""

import json
import subprocess

from conftest import DR_VAULT, EU_VAULT

PERMANENT = "The resultant tag set must not have more than 50 user tags."  # the recovery point's, alerted per copy
# CloudWatch's units (PutMetricData's StandardUnit), as the EMF specification refers to them.
UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
         "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
         "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
         "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}


def check_emf(document: dict) -> None:
    """The EMF specification's structure: `_aws` with an integer Timestamp and CloudWatchMetrics;
    each directive a Namespace, Dimensions (arrays of at most 30 names, each a string member of the
    root) and Metrics (Name, optional Unit from CloudWatch's list), each metric a number at the root."""
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_700_000_000_000, meta
    assert isinstance(meta["CloudWatchMetrics"], list) and meta["CloudWatchMetrics"], meta
    for directive in meta["CloudWatchMetrics"]:
        assert directive["Namespace"] == "vaultwatch"
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(document[name], str) and document[name], (name, document)
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}, metric
            assert metric.get("Unit", "None") in UNITS, metric
            assert isinstance(document[metric["Name"]], (int, float)), (metric, document)
    # Bounded dimensions: never a job id or an ARN.
    assert set(document) - {"_aws"} - {m["Name"] for d in meta["CloudWatchMetrics"] for m in d["Metrics"]} <= {
        "Function", "DestinationRegion", "level"}, document
    # Kept by Lambda's log-level filter whatever LogLevel is (a line without a level counts as INFO).
    assert document["level"] == "INFO", document


def test_metrics_follow_the_emf_specification_and_count_what_happened(settled, resource):
    totals = {
        "dr": settled.queries.metric_totals("copier", "CopiesStarted", DestinationRegion="us-west-2"),
        "eu": settled.queries.metric_totals("copier", "CopiesStarted", DestinationRegion="eu-west-1"),
        "alerts": settled.queries.metric_totals("retrier", "AlertsSent"),
        "permanent": settled.queries.metric_totals("retrier", "PermanentFailures"),
    }
    backup = settled.backup.complete_backup("routed", resource)
    settled.backup.fail_next_copy(backup["RecoveryPointArn"], PERMANENT, destination=EU_VAULT)
    settled.delivery.settle()

    assert settled.queries.metric_totals("copier", "CopiesStarted", DestinationRegion="us-west-2") == totals["dr"] + 1
    assert settled.queries.metric_totals("copier", "CopiesStarted", DestinationRegion="eu-west-1") == totals["eu"] + 1
    assert settled.queries.metric_totals("retrier", "AlertsSent") == totals["alerts"] + 1
    # Its cause is MetricsDetail detailed's (tests/e2e/test_metrics_detail.py); the stack runs the default.
    assert settled.queries.metric_totals("retrier", "PermanentFailures") == totals["permanent"] == 0
    assert len(settled.queries.take_alerts()) == 1

    summary = settled.delivery.reconcile().payload
    documents = settled.queries.emf_documents()
    assert documents, "the functions wrote metric lines"
    for document in documents:
        check_emf(document)
    assert summary["coverage"]["byStatus"].get("failed", 0) >= 1, "the failed EU copy (its count: detailed)"
    lag = [d for d in documents if d["Function"] == "reconciler" and "OldestUncoveredAgeSeconds" in d]
    assert any(d["DestinationRegion"] == "eu-west-1" for d in lag), "the failed EU copy is uncovered"


def test_every_log_line_of_an_invocation_names_its_request(settled, resource):
    settled.backup.complete_backup("routed", resource)
    settled.delivery.settle()
    with open(settled.functions["copier"].log_path, encoding="utf-8") as log:
        lines = [json.loads(line) for line in log if line.startswith("{") and '"_aws"' not in line]
    during = [line for line in lines if "span" in line]
    assert during, "log lines written during invocations"
    assert all(line["span"].get("requestId") for line in during), during[:3]
    assert any(line.get("level") == "INFO" for line in during)


def coverage(stack, *args: str) -> subprocess.CompletedProcess:
    return stack.vaultwatch("coverage", *args)


def test_the_coverage_command_reports_each_required_copy(settled, resource):
    covered = settled.backup.complete_backup("routed", resource)
    failing = settled.backup.complete_backup("routed", resource.replace("vol-", "vol-f"))
    settled.backup.fail_next_copy(failing["RecoveryPointArn"], PERMANENT, destination=DR_VAULT)
    settled.delivery.settle()
    (alert,) = settled.queries.take_alerts()
    assert resource.replace("vol-", "vol-f") in alert["Email"], "the failing copy's alert"

    result = coverage(settled, "--since", "1h", "--vault", "routed", "--format", "json")
    report = json.loads(result.stdout)
    uncovered = sum(report["summary"]["byStatus"].get(s, 0) for s in ("copying", "retrying", "failed", "missing"))
    assert result.returncode == (1 if uncovered else 0), result.stderr
    rows = {(r["recoveryPoint"], r["destination"]): r for r in report["rows"]}
    for destination in (DR_VAULT, EU_VAULT):
        row = rows[(covered["RecoveryPointArn"], destination)]
        assert (row["status"], row["requiredBy"]) == ("covered", "route"), row
        assert row["destinationRecoveryPoint"].startswith("arn:aws:backup:")
    failed = rows[(failing["RecoveryPointArn"], DR_VAULT)]
    assert (failed["status"], failed["alerted"]) == ("failed", True), failed
    assert "50 user tags" in failed["reason"]
    assert rows[(failing["RecoveryPointArn"], EU_VAULT)]["status"] == "covered"
    assert result.returncode == 1 and report["summary"]["oldestUncoveredSeconds"]["us-west-2"] >= 0

    table = coverage(settled, "--since", "1h", "--vault", "routed")
    assert table.stdout.splitlines()[0].split()[:2] == ["recovery_point", "source_vault"]
    assert "required copies:" in table.stdout and "oldest uncovered in us-west-2" in table.stdout
    csv = coverage(settled, "--since", "1h", "--vault", "routed", "--format", "csv")
    assert csv.stdout.splitlines()[0] == "recovery_point,source_vault,resource_type,completed_at,destination,required_by,status,detail"
    assert coverage(settled, "--since", "soon").returncode == 2
