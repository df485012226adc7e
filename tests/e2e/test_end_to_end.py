"""End to end: real function binaries, real SDK clients, local AWS (moto + the Backup stand-in).

Each scenario asserts on the stand-in's copy jobs, the tracking table and the alert topic.
"""

import json

from conftest import DR_VAULT, EU_VAULT
from harness.events import sns_event

LIFECYCLE = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}
TRANSIENT = "Copy job failed because the destination backup vault is being modified. Try again later."
# A failure that belongs to the recovery point (alerted per copy), and one that belongs to the copy
# path (counted in the path's incident): AWS's words (docs/aws-facts.md#failure-messages).
PERMANENT = "The resultant tag set must not have more than 50 user tags."
PATH_FAILURE = "Access denied: the IAM role cannot use KMS key arn:aws:kms:us-west-2:123456789012:key/abc"


def plan(stack) -> str:
    backup = stack.endpoints.client("backup")
    return backup.create_backup_plan(BackupPlan={
        "BackupPlanName": "daily-with-dr-copy",
        "Rules": [{
            "RuleName": "daily", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 3 * * ? *)",
            "Lifecycle": {"DeleteAfterDays": 35},
            "CopyActions": [{"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": LIFECYCLE}],
        }],
    })["BackupPlanId"]


def jobs_for(stack, recovery_point: str) -> list[dict]:
    return sorted(stack.queries.copy_jobs(BySourceRecoveryPointArn=recovery_point), key=lambda j: j["CreationDate"])


def test_backup_completion_starts_one_copy_per_route(settled, resource):
    backup = settled.backup.complete_backup("routed", resource)
    settled.delivery.settle()

    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert sorted(j["DestinationBackupVaultArn"] for j in jobs) == sorted([DR_VAULT, EU_VAULT])
    assert all(j["State"] == "COMPLETED" for j in jobs)
    dr = next(j for j in jobs if j["DestinationBackupVaultArn"] == DR_VAULT)
    assert dr["DestinationRecoveryPointLifecycle"] == LIFECYCLE
    for job in jobs:
        record = settled.queries.copy_record(job["CopyJobId"])
        assert record["state"] == "COMPLETED"
        assert "source_recovery_point_arn" not in record, "SNS carries no details and the tracker looks none up"

    # The next sweep fills the details from ListCopyJobs (no DescribeCopyJob per event).
    describes = settled.backup.calls().get("DescribeCopyJob", 0)
    assert settled.delivery.reconcile().payload["detailsFilled"] >= 2
    assert settled.backup.calls().get("DescribeCopyJob", 0) == describes
    for job in jobs:
        record = settled.queries.copy_record(job["CopyJobId"])
        assert record["source_recovery_point_arn"] == backup["RecoveryPointArn"]
        assert record["destination_recovery_point_arn"] == job["DestinationRecoveryPointArn"]
    assert settled.queries.copies_of(backup["RecoveryPointArn"]) == sorted([(DR_VAULT, "COMPLETED"), (EU_VAULT, "COMPLETED")])
    assert settled.queries.peek_alerts() == []


def test_transient_failure_is_retried_with_the_plan_lifecycle_and_tracked_to_completion(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT, "count": 1}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()

    failed, retry = jobs_for(settled, backup["RecoveryPointArn"])
    assert (failed["State"], failed["StatusMessage"]) == ("FAILED", TRANSIENT)
    assert failed["CreatedBy"]["BackupPlanId"] == plan_id and "DestinationRecoveryPointLifecycle" not in failed
    assert retry["State"] == "COMPLETED"
    assert retry["DestinationRecoveryPointLifecycle"] == LIFECYCLE, "the plan rule's CopyAction lifecycle"
    assert (retry["SourceBackupVaultArn"], retry["DestinationBackupVaultArn"]) == (failed["SourceBackupVaultArn"], DR_VAULT)
    assert retry["IamRoleArn"] == failed["IamRoleArn"]

    failed_record = settled.queries.copy_record(failed["CopyJobId"])
    retry_record = settled.queries.copy_record(retry["CopyJobId"])
    assert failed_record["state"] == "FAILED" and failed_record["outcome"] == "retry 1 scheduled"
    assert failed_record["retried_by"] == retry["CopyJobId"]
    assert retry_record["state"] == "COMPLETED"
    assert (retry_record["root_job_id"], retry_record["attempt"], retry_record["retry_of"]) == (failed["CopyJobId"], 1, failed["CopyJobId"])
    # Both know their details without a sweep: the failed job's came with the retrier's
    # DescribeCopyJob (in the write that closed its claim), the retry's with its start.
    assert settled.queries.copies_of(backup["RecoveryPointArn"]) == [(DR_VAULT, "COMPLETED"), (DR_VAULT, "FAILED")]
    assert settled.queries.peek_alerts() == []


def test_permanent_failure_alerts_once_and_is_not_retried(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": PERMANENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()

    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert [j["State"] for j in jobs] == ["FAILED"]
    alerts = settled.queries.take_alerts()
    assert len(alerts) == 1
    assert "failed permanently" in alerts[0]["Subject"]
    for part in (jobs[0]["CopyJobId"], resource, "dr-copy", "50 user tags", "Attempts:          1"):
        assert part in alerts[0]["Email"]
    assert settled.queries.copy_record(jobs[0]["CopyJobId"])["outcome"] == "alerted: permanent failure"


def test_exhausted_attempts_alert_once(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT, "count": 4}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()

    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert [j["State"] for j in jobs] == ["FAILED"] * 4, "the original and MAX_ATTEMPTS=3 retries"
    root = jobs[0]["CopyJobId"]
    attempts = [settled.queries.copy_record(j["CopyJobId"]).get("attempt", 0) for j in jobs]
    assert attempts == [0, 1, 2, 3]
    assert all(settled.queries.copy_record(j["CopyJobId"]).get("root_job_id", root) == root for j in jobs)
    alerts = settled.queries.take_alerts()
    assert len(alerts) == 1 and "failed after all retries" in alerts[0]["Subject"]
    assert "Attempts:          4" in alerts[0]["Email"]


def test_the_same_notification_delivered_twice_starts_one_copy(settled, resource):
    settled.delivery.duplicate_deliveries = 2
    try:
        backup = settled.backup.complete_backup("routed", resource)
        settled.delivery.settle()
    finally:
        settled.delivery.duplicate_deliveries = 1
    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert len(jobs) == 2, "one copy per route, not per delivery"
    assert {j["State"] for j in jobs} == {"COMPLETED"}


def test_throttling_and_server_errors_lose_and_duplicate_nothing(settled, resource):
    # More throttles than the SDK's 3 attempts absorb: the invocation fails and Lambda retries it.
    # The two routes' StartCopyJob calls run at once and share the throttles: with 5, one of them
    # meets 3 whatever the interleaving (with 4, each may meet 2 and succeed on its third attempt).
    settled.backup.control("faults", {"throttleNext": {"StartCopyJob": 5, "DescribeBackupJob": 1}})
    backup = settled.backup.complete_backup("routed", resource)
    settled.delivery.settle()
    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert sorted(j["DestinationBackupVaultArn"] for j in jobs) == sorted([DR_VAULT, EU_VAULT])
    assert any(not i.outcome.ok for i in settled.delivery.invocations if i.function == "copier")
    assert settled.queries.failures() == [], "Lambda's own retries absorbed the faults"
    assert settled.queries.peek_alerts() == []


def test_out_of_order_events_end_in_the_right_state(settled, resource):
    plan_id = plan(settled)
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.backup.control("advance")  # the copy runs to COMPLETED before the tracker sees anything
    sqs = settled.endpoints.client("sqs")
    messages = []
    while batch := sqs.receive_message(QueueUrl=settled.resources.subscription_queues["tracker"], MaxNumberOfMessages=10).get("Messages"):
        messages += batch
        for m in batch:
            sqs.delete_message(QueueUrl=settled.resources.subscription_queues["tracker"], ReceiptHandle=m["ReceiptHandle"])
    states = [json.loads(m["Body"])["MessageAttributes"]["State"]["Value"] for m in messages]
    assert sorted(states) == ["COMPLETED", "CREATED"]
    # Deliver SUCCESSFUL first, then the stale STARTED, then SUCCESSFUL again.
    ordered = sorted(messages, key=lambda m: json.loads(m["Body"])["MessageAttributes"]["State"]["Value"] != "COMPLETED")
    describes = settled.backup.calls().get("DescribeCopyJob", 0)
    for message in ordered + ordered[:1]:
        assert settled.delivery.invoke_async("tracker", sns_event(message)).ok
    (job,) = jobs_for(settled, backup["RecoveryPointArn"])
    record = settled.queries.copy_record(job["CopyJobId"])
    assert record["state"] == "COMPLETED"
    assert "created_at" not in record, "the late STARTED changed nothing"
    assert settled.backup.calls().get("DescribeCopyJob", 0) == describes, "the tracker looks nothing up"


def test_malformed_notification_is_retried_then_kept_in_the_failure_destination(settled):
    settled.endpoints.client("sns").publish(
        TopicArn=settled.resources.vault_topic, Subject="Notification from AWS Backup", Message="An AWS Backup copy job failed.",
        MessageAttributes={
            "EventType": {"DataType": "String", "StringValue": "COPY_JOB"},
            "State": {"DataType": "String", "StringValue": "FAILED"},
        },
    )
    settled.delivery.settle()
    failures = settled.queries.take_failures()  # this test's: none is left for a later one
    by_function = {f["requestContext"]["functionArn"].split(":")[6]: f for f in failures}
    assert set(by_function) == {"tracker", "retrier"}, "both subscribers got it; the copier's filter kept it out"
    assert len(failures) == 2, "one record each"
    for failure in by_function.values():
        assert failure["requestContext"]["condition"] == "RetriesExhausted"
        assert failure["requestContext"]["approximateInvokeCount"] == 3
        assert failure["responsePayload"]["errorType"] == "MalformedNotification"
        assert failure["responsePayload"]["errorMessage"] == "malformed notification: Records[0]: missing MessageAttributes.Id"
        assert failure["requestPayload"]["Records"][0]["Sns"]["Message"] == "An AWS Backup copy job failed."


def test_a_spoofed_notification_is_rejected_and_starts_nothing(settled, resource):
    # A real backup, announced by an impostor: another topic, then another account.
    # The backup is in a routed vault, so an accepted notification would start two copies.
    job = settled.backup.complete_backup("routed", resource)
    event = {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:x:1",
        "Sns": {
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:attacker",
            "Subject": "Notification from AWS Backup", "Message": "An AWS Backup job was completed successfully.",
            "Timestamp": "2026-11-20T03:14:07.512Z", "SignatureVersion": "1", "Signature": "x",
            "SigningCertUrl": "https://example.invalid", "UnsubscribeUrl": "https://example.invalid",
            "MessageAttributes": {
                "EventType": {"Type": "String", "Value": "BACKUP_JOB"},
                "State": {"Type": "String", "Value": "COMPLETED"},
                "AccountId": {"Type": "String", "Value": "123456789012"},
                "Id": {"Type": "String", "Value": job["BackupJobId"]},
            },
        },
    }]}
    other_account = json.loads(json.dumps(event))
    other_account["Records"][0]["Sns"]["TopicArn"] = settled.resources.vault_topic
    other_account["Records"][0]["Sns"]["MessageAttributes"]["AccountId"]["Value"] = "999999999999"
    for spoofed in (event, other_account):
        outcome = settled.delivery.invoke_async("copier", spoofed)
        assert outcome.ok and outcome.payload["outcomes"][0]["outcome"] == "rejected", outcome.payload
    assert jobs_for(settled, job["RecoveryPointArn"]) == []
    settled.delivery.settle()  # the genuine notification, still queued, does start them
    assert len(jobs_for(settled, job["RecoveryPointArn"])) == 2
