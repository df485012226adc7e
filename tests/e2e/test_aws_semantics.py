"""What the real AWS Backup refuses or reports, end to end through the real binaries: continuous
backups, recovery points in cold storage, roles the functions may not pass, composite-free retries
with another role, deprecated vault events (docs/aws-facts.md)."""

from contextlib import contextmanager

from conftest import ROUTES
from harness.config import ACCOUNT, ROLE
from harness.stack import LocalAws
from test_end_to_end import DR_VAULT, TRANSIENT, jobs_for, plan
from test_vault_notifications import notifications, run, vault


def test_a_continuous_backup_is_not_copied_on_demand_by_a_route(settled, resource):
    backup = settled.backup.complete_backup("routed", resource, continuous=True)
    assert ":recovery-point:continuous:" in backup["RecoveryPointArn"]
    settled.delivery.settle()
    assert jobs_for(settled, backup["RecoveryPointArn"]) == [], "StartCopyJob would refuse it"
    assert settled.queries.peek_alerts() == [] and settled.queries.failures() == []


def test_a_failed_plan_copy_of_a_continuous_backup_alerts_once_and_is_not_retried(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id, continuous=True)
    settled.delivery.settle()
    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert [j["State"] for j in jobs] == ["FAILED"], "no retry"
    (alert,) = settled.queries.take_alerts()
    assert "cannot be copied" in alert["Subject"]
    assert "not copyable: continuous backup" in alert["Email"]
    assert settled.queries.copy_record(jobs[0]["CopyJobId"])["outcome"] == "alerted: not copyable: continuous backup"


def test_a_source_in_cold_storage_alerts_instead_of_a_retry_that_cannot_work(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.backup.control("recovery-points/set", {"recoveryPointArn": backup["RecoveryPointArn"], "storageClass": "COLD"})
    settled.delivery.settle()
    assert [j["State"] for j in jobs_for(settled, backup["RecoveryPointArn"])] == ["FAILED"]
    (alert,) = settled.queries.take_alerts()
    assert "not copyable: in cold storage" in alert["Email"]


def test_a_retry_passes_the_configured_role_when_the_jobs_own_is_not_passable(settled, resource):
    plan_role = f"arn:aws:iam::{ACCOUNT}:role/team-plan-role"
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id, iamRoleArn=plan_role)
    settled.delivery.settle()
    failed, retry = jobs_for(settled, backup["RecoveryPointArn"])
    assert failed["IamRoleArn"] == plan_role and failed["State"] == "FAILED"
    assert retry["IamRoleArn"] == ROLE and retry["State"] == "COMPLETED"
    assert settled.queries.peek_alerts() == []


def test_a_role_iam_refuses_to_pass_is_alerted_with_the_role(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.backup.control("passable-roles", {"roles": [f"arn:aws:iam::{ACCOUNT}:role/someone-else"]})
    try:
        settled.delivery.settle()
    finally:
        settled.backup.control("passable-roles", {"roles": None})
    assert [j["State"] for j in jobs_for(settled, backup["RecoveryPointArn"])] == ["FAILED"]
    (alert,) = settled.queries.take_alerts()
    assert "iam:PassRole" in alert["Email"] and ROLE in alert["Email"]


def test_deprecated_vault_events_are_dropped_and_said(stack):
    # An old vault still holds a deprecated event (PutBackupVaultNotifications refuses it today).
    name = vault(stack)
    stack.backup.seed_vault_notifications(name, ["BACKUP_JOB_SUCCESSFUL", "RESTORE_JOB_COMPLETED"])
    result = run(stack, "--topic-arn", stack.resources.vault_topic, name)
    assert result.returncode == 0, result.stderr
    assert "drops deprecated BACKUP_JOB_SUCCESSFUL" in result.stdout, result.stdout
    topic, events = notifications(stack, name)
    assert "BACKUP_JOB_SUCCESSFUL" not in events and "RESTORE_JOB_COMPLETED" in events


def test_an_alert_is_sent_once_though_the_write_that_records_it_fails_for_a_while(settled, resource):
    plan_id = plan(settled)
    settled.backup.control("faults", {"failCopies": [{"statusMessage": "The resultant tag set must not have more than 50 user tags.", "destinationVaultArn": DR_VAULT}]})
    # The UpdateItem that closes the claim (and records "alerted: ...") is refused five times: more
    # than the SDK's own three attempts, so the retrier's retry of that write is what saves it.
    settled.endpoints.dynamodb_faults.fail("UpdateItem", "alerted: permanent failure", 5)
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()
    assert settled.endpoints.dynamodb_faults.injected >= 5
    (job,) = jobs_for(settled, backup["RecoveryPointArn"])
    assert len(settled.queries.take_alerts()) == 1
    assert settled.queries.copy_record(job["CopyJobId"])["outcome"] == "alerted: permanent failure"
    assert settled.queries.failures() == []


@contextmanager
def routed_stack(**options):
    """A stack of its own, for a sweep whose counts must be exact: the routed vault and the two
    destinations of ROUTES, nothing else in the window."""
    with LocalAws(max_attempts=3, routes=ROUTES, **options) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        yield stack


def backups_in(stack, vault: str) -> list[dict]:
    return stack.endpoints.client("backup").list_backup_jobs(ByBackupVaultName=vault)["BackupJobs"]


def test_a_filtered_sweep_never_starts_missing_copies():
    with routed_stack(reconciler_env={"RECONCILE_STATE": "FAILED"}) as stack:
        stack.backup.control("bulk", {"vault": "routed", "count": 3, "resourceType": "EBS"})
        outcome = stack.delivery.reconcile()
        assert outcome.ok, outcome.payload
        assert outcome.payload["missingCopyPass"] == "sweepFiltered"
        assert outcome.payload["missingCopiesStarted"] == 0
        assert stack.queries.copy_jobs() == [] and stack.backup.calls().get("StartCopyJob", 0) == 0


def test_a_routed_copy_aws_refuses_is_alerted_once_and_not_asked_again_every_sweep():
    with routed_stack() as stack:
        stack.backup.control("bulk", {"vault": "routed", "count": 1, "resourceType": "EBS"})
        (backup,) = backups_in(stack, "routed")
        stack.backup.control("recovery-points/set", {"recoveryPointArn": backup["RecoveryPointArn"], "storageClass": "COLD"})

        first = stack.delivery.reconcile()
        assert first.ok, first.payload
        assert (first.payload["refused"], first.payload["missingCopiesStarted"], first.payload["errors"]) == (2, 0, 0)
        alerts = stack.queries.take_alerts()
        assert len(alerts) == 2, "one per route (DR and EU)"
        assert all("could not be started" in a["Subject"] and backup["RecoveryPointArn"] in a["Email"] for a in alerts)
        starts = stack.backup.calls()["StartCopyJob"]

        second = stack.delivery.reconcile()
        assert (second.payload["refused"], second.payload["missingCopiesStarted"]) == (0, 0)
        assert stack.backup.calls()["StartCopyJob"] == starts, "refusals are remembered"
        assert stack.queries.peek_alerts() == []


def test_a_partial_composite_copy_is_retried_whole_through_its_parent_once(settled, resource):
    plan_id = plan(settled)
    # One of the two nested copies fails: the parent ends PARTIAL.
    settled.backup.fail_copies(TRANSIENT, childIndex=0, destinationVaultArn=DR_VAULT)
    backup = settled.backup.complete_composite_backup("planned", resource, children=2, planId=plan_id)
    settled.delivery.settle()

    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    parents = [j for j in jobs if j.get("IsParent")]
    assert [p["State"] for p in parents] == ["PARTIAL", "COMPLETED"], "the parent, then its one retry"
    retry = parents[1]
    assert retry["SourceRecoveryPointArn"] == backup["RecoveryPointArn"], "the composite point, copied whole"
    children = settled.queries.copy_jobs(ByParentJobId=parents[0]["CopyJobId"])
    failed_child = next(c for c in children if c["State"] == "FAILED")
    # The child's failure was left to its parent: recorded with its link, never retried on its own.
    record = settled.queries.copy_record(failed_child["CopyJobId"])
    assert record["parent_job_id"] == parents[0]["CopyJobId"]
    assert record["outcome"] == f"handled with composite parent {parents[0]['CopyJobId']}"
    assert "retried_by" not in record
    assert settled.queries.copy_record(parents[0]["CopyJobId"])["outcome"] == "retry 1 scheduled"
    assert settled.queries.peek_alerts() == []


def test_a_routed_composite_backup_is_copied_whole_never_its_nested_points(settled, resource):
    backup = settled.backup.complete_composite_backup("routed", resource, children=2, resource_type="EBS")
    settled.delivery.settle()
    parents = [j for j in settled.queries.copy_jobs() if j.get("IsParent") and j["SourceRecoveryPointArn"] == backup["RecoveryPointArn"]]
    assert sorted(p["DestinationBackupVaultArn"] for p in parents) == sorted(r["destinationVaultArn"] for r in ROUTES)
    for child in backup["ChildJobs"]:
        own = [j for j in settled.queries.copy_jobs() if j["SourceRecoveryPointArn"] == child["RecoveryPointArn"] and not j.get("ParentJobId")]
        assert own == [], "a nested recovery point is never copied alone"
    assert settled.queries.failures() == []


def test_an_unrecognised_failure_gets_one_retry_then_an_alert_quoting_aws(settled, resource):
    odd = "Copy job encountered a fatal error. Please contact AWS Support for further assistance."
    plan_id = plan(settled)
    settled.backup.fail_copies(odd, count=2, category="MISCELLANEOUS", destinationVaultArn=DR_VAULT)
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()
    assert [j["State"] for j in jobs_for(settled, backup["RecoveryPointArn"])] == ["FAILED", "FAILED"], "one retry only"
    (alert,) = settled.queries.take_alerts()
    assert "unrecognised" in alert["Email"] and odd in alert["Email"]


def test_a_keep_indefinitely_lifecycle_passes_through_a_retry(settled, resource):
    keep = {"MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1, "OptInToArchiveForSupportedResources": True}
    plan_id = settled.endpoints.client("backup").create_backup_plan(BackupPlan={
        "BackupPlanName": "keep-forever",
        "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 3 * * ? *)",
                   "CopyActions": [{"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": keep}]}],
    })["BackupPlanId"]
    settled.backup.fail_copies(TRANSIENT, destinationVaultArn=DR_VAULT)
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()
    failed, retry = jobs_for(settled, backup["RecoveryPointArn"])
    assert (failed["State"], retry["State"]) == ("FAILED", "COMPLETED")
    assert retry["DestinationRecoveryPointLifecycle"] == keep, "the plan's lifecycle, -1 and archive opt-in included"


def test_a_copy_job_the_adapter_cannot_read_is_skipped_and_said_never_failing_the_sweep():
    with routed_stack() as stack:
        stack.backup.control("bulk", {"vault": "routed", "count": 2, "resourceType": "EBS"})
        # Valid for the API model (every CopyJob member is optional), but no source: which copy is it?
        odd = stack.backup.control("copy-jobs/raw", {"job": {"DestinationBackupVaultArn": ROUTES[0]["destinationVaultArn"]}})
        outcome = stack.delivery.reconcile()
        assert outcome.ok, outcome.payload
        summary = outcome.payload
        assert (summary["unreadable"], summary["errors"], summary["complete"]) == (1, 0, True)
        # It might be the copy of either backup: no copy is presumed missing this time.
        assert summary["missingCopyPass"] == "unreadableJobs" and summary["missingCopiesStarted"] == 0
        log = (stack.workdir / "reconciler.log").read_text()
        assert odd["CopyJobId"] in log, "logged by id"
