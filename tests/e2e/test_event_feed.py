"""The EventBridge feed end to end (template parameter EventSource; README, "Choosing the event
feed"): the stand-in puts AWS Backup's "Backup Job State Change" and "Copy Job State Change" events on
moto's default event bus, where the template's rules (their patterns read from template.yaml) match
them, moto's own matcher deciding; each matched event reaches its function as Lambda's asynchronous
invocation (two retries, then the failure destination), as the SNS notifications do.

- `eventbridge`: no vault is wired; a backup completing starts the routed copies, a failed copy is
  retried and tracked, a backup that did not complete reaches no function.
- `both`: both feeds deliver the same jobs, in any order (SNS first, EventBridge first, interleaved,
  shuffled), and each job is handled once: one copy per route, one retry per failure, one alert, the
  tracking records as with one feed."""

import pytest

from conftest import ACCOUNT, DR_VAULT, EU_VAULT, ROUTES
from harness.stack import LocalAws

TRANSIENT = "Copy job failed because the destination backup vault is being modified. Try again later."
PERMANENT = "The resultant tag set must not have more than 50 user tags."
LIFECYCLE = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}


def start(event_source: str) -> LocalAws:
    stack = LocalAws(max_attempts=3, routes=ROUTES, event_source=event_source).start()
    try:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("planned")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def eventbridge_stack():
    stack = start("eventbridge")
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def both_stack():
    stack = start("both")
    yield stack
    stack.stop()


def settled(stack):
    """As conftest's `settled`: nothing in flight, no earlier alert or failure record."""
    stack.delivery.settle()
    stack.queries.take_alerts()
    stack.queries.take_failures()
    stack.delivery.invocations.clear()
    return stack


@pytest.fixture
def eventbridge(eventbridge_stack):
    yield settled(eventbridge_stack)
    eventbridge_stack.delivery.settle()
    assert eventbridge_stack.queries.failures() == []


@pytest.fixture
def both(both_stack):
    yield settled(both_stack)
    both_stack.delivery.settle()
    assert both_stack.queries.failures() == []


def plan(stack) -> str:
    return stack.endpoints.client("backup").create_backup_plan(BackupPlan={
        "BackupPlanName": "daily-with-dr-copy",
        "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 3 * * ? *)",
                   "Lifecycle": {"DeleteAfterDays": 35},
                   "CopyActions": [{"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": LIFECYCLE}]}],
    })["BackupPlanId"]


def jobs_for(stack, recovery_point: str) -> list[dict]:
    return sorted(stack.queries.copy_jobs(BySourceRecoveryPointArn=recovery_point), key=lambda j: j["CreationDate"])


def feed_of(event: dict) -> str:
    """sns, eventbridge, or other (a due retry's SQS event, a scheduled sweep)."""
    if "Records" in event:
        return "sns" if all(r.get("EventSource") == "aws:sns" for r in event["Records"]) else "other"
    return "eventbridge" if event.get("source") == "aws.backup" else "other"


def job_ids(event: dict) -> set[str]:
    """The job ids a notification names, whichever its feed."""
    feed = feed_of(event)
    if feed == "sns":
        return {r["Sns"]["MessageAttributes"]["Id"]["Value"] for r in event["Records"]}
    if feed == "other":
        return set()
    detail = event["detail"]
    return {detail[k] for k in ("copyJobId", "backupJobId") if k in detail}


def deliveries(stack, function: str, job_id: str) -> list[str]:
    """The feeds, in order, of the invocations of `function` about job `job_id` (first attempts)."""
    return [feed_of(i.event) for i in stack.delivery.invocations
            if i.function == function and i.attempt == 1 and job_id in job_ids(i.event)]


# ---------------------------------------------------------------- EventSource eventbridge

def test_no_vault_is_wired_and_the_vault_topic_carries_nothing(eventbridge, resource):
    backup = eventbridge.endpoints.client("backup")
    for vault in ("routed", "planned"):
        with pytest.raises(backup.exceptions.ResourceNotFoundException):
            backup.get_backup_vault_notifications(BackupVaultName=vault)
    eventbridge.backup.complete_backup("routed", resource)
    eventbridge.delivery.settle()
    invoked = {(i.function, feed_of(i.event)) for i in eventbridge.delivery.invocations}
    assert invoked == {("copier", "eventbridge"), ("tracker", "eventbridge"), ("retrier", "eventbridge")}


def test_a_completed_backup_starts_one_copy_per_route_through_eventbridge(eventbridge, resource):
    describes = eventbridge.backup.calls().get("DescribeBackupJob", 0)
    backup = eventbridge.backup.complete_backup("routed", resource)
    eventbridge.delivery.settle()

    jobs = jobs_for(eventbridge, backup["RecoveryPointArn"])
    assert sorted(j["DestinationBackupVaultArn"] for j in jobs) == sorted([DR_VAULT, EU_VAULT])
    assert {j["State"] for j in jobs} == {"COMPLETED"}
    assert deliveries(eventbridge, "copier", backup["BackupJobId"]) == ["eventbridge"]
    # AWS's example event lacks isParent and recoveryPointLifecycle: one DescribeBackupJob says the
    # backup is neither nested nor temporary before it is routed.
    assert eventbridge.backup.calls().get("DescribeBackupJob", 0) == describes + 1
    for job in jobs:
        # Tracked from the events, details included without a sweep (SNS carries none).
        record = eventbridge.queries.copy_record(job["CopyJobId"])
        assert record["state"] == "COMPLETED"
        assert record["source_recovery_point_arn"] == backup["RecoveryPointArn"]
        assert record["destination_recovery_point_arn"] == job["DestinationRecoveryPointArn"]
        assert deliveries(eventbridge, "tracker", job["CopyJobId"]) == ["eventbridge"] * 2, "RUNNING and COMPLETED"
    assert eventbridge.queries.peek_alerts() == []


def test_a_failed_copy_is_retried_and_tracked_through_eventbridge(eventbridge, resource):
    plan_id = plan(eventbridge)
    eventbridge.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT, "count": 1}]})
    backup = eventbridge.backup.complete_backup("planned", resource, planId=plan_id)
    eventbridge.delivery.settle()

    failed, retry = jobs_for(eventbridge, backup["RecoveryPointArn"])
    assert (failed["State"], failed["StatusMessage"]) == ("FAILED", TRANSIENT)
    assert retry["State"] == "COMPLETED" and retry["DestinationRecoveryPointLifecycle"] == LIFECYCLE
    assert deliveries(eventbridge, "retrier", failed["CopyJobId"]) == ["eventbridge"] * 2, "RUNNING and FAILED"
    failed_record = eventbridge.queries.copy_record(failed["CopyJobId"])
    retry_record = eventbridge.queries.copy_record(retry["CopyJobId"])
    assert (failed_record["state"], failed_record["outcome"], failed_record["retried_by"]) == ("FAILED", "retry 1 scheduled", retry["CopyJobId"])
    assert (retry_record["state"], retry_record["root_job_id"], retry_record["attempt"]) == ("COMPLETED", failed["CopyJobId"], 1)
    assert eventbridge.queries.copies_of(backup["RecoveryPointArn"]) == [(DR_VAULT, "COMPLETED"), (DR_VAULT, "FAILED")]
    assert eventbridge.queries.peek_alerts() == []


def test_a_backup_that_did_not_complete_reaches_no_function(eventbridge, resource):
    job = eventbridge.backup.complete_backup("routed", resource, state="FAILED")
    eventbridge.delivery.settle()
    # The copier's rule matches COMPLETED only; the others take copy jobs.
    assert not [i for i in eventbridge.delivery.invocations if job["BackupJobId"] in job_ids(i.event)]


def test_a_copy_jobs_created_event_names_no_job_and_is_skipped(eventbridge, resource):
    # AWS's CREATED example has no copyJobId: the functions skip it; the job is tracked from RUNNING.
    backup = eventbridge.backup.complete_backup("routed", resource)
    eventbridge.delivery.settle()
    created = [i for i in eventbridge.delivery.invocations
               if i.function == "tracker" and i.event.get("detail", {}).get("state") == "CREATED"]
    assert len(created) == 2 and all(i.outcome.ok for i in created)
    assert all(i.outcome.payload["outcomes"][0]["outcome"] == "skipped" for i in created), created[0].outcome.payload
    assert {j["State"] for j in jobs_for(eventbridge, backup["RecoveryPointArn"])} == {"COMPLETED"}


# ---------------------------------------------------------------- EventSource both: each job once

ORDERS = ["sns-first", "eventbridge-first", "interleaved", "shuffled:7", "shuffled:23"]


@pytest.mark.parametrize("order", ORDERS)
def test_both_feeds_deliver_the_same_jobs_in_any_order_and_each_is_handled_once(both, order):
    resources = [f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{order.replace(':', '')}-{n}" for n in (1, 2)]
    plan_id = plan(both)
    both.delivery.feed_order = order
    try:
        # A routed backup whose DR copy fails once (transient: one retry), and a planned one whose
        # copy fails for good (one alert).
        routed = both.backup.complete_backup("routed", resources[0])
        both.backup.fail_copies(TRANSIENT, recoveryPointArn=routed["RecoveryPointArn"], destinationVaultArn=DR_VAULT)
        planned = both.backup.complete_backup("planned", resources[1], planId=plan_id)
        both.backup.fail_copies(PERMANENT, recoveryPointArn=planned["RecoveryPointArn"])
        both.delivery.settle()
    finally:
        both.delivery.feed_order = "sns-first"

    # Both feeds delivered the backup to the copier: one copy per route all the same.
    assert sorted(deliveries(both, "copier", routed["BackupJobId"])) == ["eventbridge", "sns"]
    routed_jobs = jobs_for(both, routed["RecoveryPointArn"])
    by_route = {}
    for job in routed_jobs:
        by_route.setdefault(job["DestinationBackupVaultArn"], []).append(job)
    assert {vault: [j["State"] for j in jobs] for vault, jobs in by_route.items()} == {
        DR_VAULT: ["FAILED", "COMPLETED"], EU_VAULT: ["COMPLETED"]}, "one copy per route, one retry of the failure"
    failed, retry = by_route[DR_VAULT]
    # The failure reached the retrier by both feeds, and one retry came of it.
    assert sorted(set(deliveries(both, "retrier", failed["CopyJobId"]))) == ["eventbridge", "sns"]
    failed_record = both.queries.copy_record(failed["CopyJobId"])
    assert (failed_record["state"], failed_record["outcome"], failed_record["retried_by"]) == ("FAILED", "retry 1 scheduled", retry["CopyJobId"])
    retry_record = both.queries.copy_record(retry["CopyJobId"])
    assert (retry_record["state"], retry_record["root_job_id"], retry_record["attempt"], retry_record["retry_of"]) == (
        "COMPLETED", failed["CopyJobId"], 1, failed["CopyJobId"])
    # Every copy's record: its final state, whichever feed's event came last, and its details.
    for job in routed_jobs:
        record = both.queries.copy_record(job["CopyJobId"])
        assert record["state"] == job["State"], job["CopyJobId"]
        assert record["source_recovery_point_arn"] == routed["RecoveryPointArn"]
        assert record["destination_vault_arn"] == job["DestinationBackupVaultArn"]
    assert both.queries.copies_of(routed["RecoveryPointArn"]) == sorted(
        [(DR_VAULT, "COMPLETED"), (DR_VAULT, "FAILED"), (EU_VAULT, "COMPLETED")])

    # The permanent failure: both feeds, one alert, not retried.
    (lost,) = jobs_for(both, planned["RecoveryPointArn"])
    assert lost["State"] == "FAILED"
    assert sorted(set(deliveries(both, "retrier", lost["CopyJobId"]))) == ["eventbridge", "sns"]
    alerts = both.queries.take_alerts()
    assert len(alerts) == 1 and lost["CopyJobId"] in alerts[0]["Email"], [a["Subject"] for a in alerts]
    assert both.queries.copy_record(lost["CopyJobId"])["outcome"] == "alerted: permanent failure"
