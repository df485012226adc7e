"""MetricsDetail through the real binaries: at the default, essential, the functions write only the
metrics the alarms and the dashboard's main rows read, and the alarms fire on them (evaluated as
CloudWatch would, from template.yaml's own queries); detailed adds the alerts' causes and the
count of uncovered recovery points."""

from conftest import EU_VAULT, ROUTES

from harness import alarms
from harness.stack import LocalAws

PERMANENT = "The resultant tag set must not have more than 50 user tags."  # alerted, no retry


def metric_names(documents: list[dict]) -> set[str]:
    return {m["Name"] for d in documents for directive in d["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"]}


def test_essential_metrics_fire_the_alarms_and_nothing_detailed_is_written(settled, resource):
    """An alert and an uncovered copy: the alerts alarm fires on the retrier's AlertsSent, the copy
    lag alarm on the reconciler's OldestUncoveredAgeSeconds (given a threshold below zero, any lag
    at all: the copy failed seconds ago); no metric outside the essential set, no zero but a copy lag's (a copy has
    waited under a second)."""
    backup = settled.backup.complete_backup("routed", resource)
    settled.backup.fail_next_copy(backup["RecoveryPointArn"], PERMANENT, destination=EU_VAULT)
    settled.delivery.settle()
    assert len(settled.queries.take_alerts()) == 1
    settled.delivery.reconcile()
    documents = settled.queries.emf_documents()

    assert alarms.fires(alarms.template_alarm("AlertsSentAlarm"), documents)
    assert alarms.fires(alarms.template_alarm("CopyLagAlarm"), documents, threshold=-1)
    assert not alarms.fires(alarms.template_alarm("CopyLagAlarm"), documents), "not 24 hours yet"
    assert not alarms.fires(alarms.template_alarm("BrokenPathsAlarm"), documents), "no path broken"
    written = metric_names(documents)
    assert written <= alarms.essential_metrics(), written - alarms.essential_metrics()
    assert {"AlertsSent", "CopiesStarted", "OldestUncoveredAgeSeconds"} <= written
    zeros = [(d["Function"], m["Name"]) for d in documents for directive in d["_aws"]["CloudWatchMetrics"]
             for m in directive["Metrics"] if d[m["Name"]] == 0]
    assert {name for _, name in zeros} <= {"OldestUncoveredAgeSeconds"}, zeros


def test_detailed_metrics_add_the_alerts_cause_and_the_uncovered_count():
    with LocalAws(routes=ROUTES, metrics_detail="detailed") as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        backup = stack.backup.complete_backup("routed", "arn:aws:ec2:us-east-1:123456789012:volume/vol-0detailed")
        stack.backup.fail_next_copy(backup["RecoveryPointArn"], PERMANENT, destination=EU_VAULT)
        stack.delivery.settle()
        assert len(stack.queries.take_alerts()) == 1
        assert stack.queries.metric_totals("retrier", "AlertsSent") == 1
        assert stack.queries.metric_totals("retrier", "PermanentFailures") == 1
        summary = stack.delivery.reconcile().payload
        uncovered = sum(summary["coverage"]["byStatus"].get(s, 0) for s in ("copying", "retrying", "failed", "missing"))
        assert uncovered == 1 and stack.queries.metric_totals("reconciler", "UncoveredRecoveryPoints") == uncovered
        assert not metric_names(stack.queries.emf_documents()) <= alarms.essential_metrics()
