"""What the real AWS Backup refuses or reports, end to end through the real binaries: continuous
backups, recovery points in cold storage, roles the functions may not pass, composite-free retries
with another role, deprecated vault events (docs/aws-facts.md)."""

from test_end_to_end import DR_VAULT, TRANSIENT, jobs_for, plan
from test_vault_notifications import notifications, run, vault

from stack import ROLE, ACCOUNT


def test_a_continuous_backup_is_not_copied_on_demand_by_a_route(settled, resource):
    backup = settled.complete_backup("routed", resource, continuous=True)
    assert ":recovery-point:continuous:" in backup["RecoveryPointArn"]
    settled.settle()
    assert jobs_for(settled, backup["RecoveryPointArn"]) == [], "StartCopyJob would refuse it"
    assert settled.alerts() == [] and settled.failures() == []


def test_a_failed_plan_copy_of_a_continuous_backup_alerts_once_and_is_not_retried(settled, resource):
    plan_id = plan(settled)
    settled.standin("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.complete_backup("planned", resource, planId=plan_id, continuous=True)
    settled.settle()
    jobs = jobs_for(settled, backup["RecoveryPointArn"])
    assert [j["State"] for j in jobs] == ["FAILED"], "no retry"
    (alert,) = settled.alerts()
    assert "cannot be copied" in alert["Subject"]
    assert "not copyable: continuous backup" in alert["Message"]
    assert settled.copy_record(jobs[0]["CopyJobId"])["outcome"] == "alerted: not copyable: continuous backup"


def test_a_source_in_cold_storage_alerts_instead_of_a_retry_that_cannot_work(settled, resource):
    plan_id = plan(settled)
    settled.standin("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.complete_backup("planned", resource, planId=plan_id)
    settled.standin("recovery-points/set", {"recoveryPointArn": backup["RecoveryPointArn"], "storageClass": "COLD"})
    settled.settle()
    assert [j["State"] for j in jobs_for(settled, backup["RecoveryPointArn"])] == ["FAILED"]
    (alert,) = settled.alerts()
    assert "not copyable: in cold storage" in alert["Message"]


def test_a_retry_passes_the_configured_role_when_the_jobs_own_is_not_passable(settled, resource):
    plan_role = f"arn:aws:iam::{ACCOUNT}:role/team-plan-role"
    plan_id = plan(settled)
    settled.standin("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.complete_backup("planned", resource, planId=plan_id, iamRoleArn=plan_role)
    settled.settle()
    failed, retry = jobs_for(settled, backup["RecoveryPointArn"])
    assert failed["IamRoleArn"] == plan_role and failed["State"] == "FAILED"
    assert retry["IamRoleArn"] == ROLE and retry["State"] == "COMPLETED"
    assert settled.alerts() == []


def test_a_role_iam_refuses_to_pass_is_alerted_with_the_role(settled, resource):
    plan_id = plan(settled)
    settled.standin("faults", {"failCopies": [{"statusMessage": TRANSIENT, "destinationVaultArn": DR_VAULT}]})
    backup = settled.complete_backup("planned", resource, planId=plan_id)
    settled.standin("passable-roles", {"roles": [f"arn:aws:iam::{ACCOUNT}:role/someone-else"]})
    try:
        settled.settle()
    finally:
        settled.standin("passable-roles", {"roles": None})
    assert [j["State"] for j in jobs_for(settled, backup["RecoveryPointArn"])] == ["FAILED"]
    (alert,) = settled.alerts()
    assert "iam:PassRole" in alert["Message"] and ROLE in alert["Message"]


def test_deprecated_vault_events_are_dropped_and_said(stack):
    name = vault(stack, events=["BACKUP_JOB_SUCCESSFUL", "RESTORE_JOB_COMPLETED"])
    result = run(stack, "--topic-arn", stack.vault_topic, name)
    assert result.returncode == 0, result.stderr
    assert "drops deprecated BACKUP_JOB_SUCCESSFUL" in result.stdout, result.stdout
    topic, events = notifications(stack, name)
    assert "BACKUP_JOB_SUCCESSFUL" not in events and "RESTORE_JOB_COMPLETED" in events


def test_an_alert_is_sent_once_though_the_write_that_records_it_fails_for_a_while(settled, resource):
    plan_id = plan(settled)
    settled.standin("faults", {"failCopies": [{"statusMessage": "Access Denied", "destinationVaultArn": DR_VAULT}]})
    # The UpdateItem that closes the claim (and records "alerted: ...") is refused five times: more
    # than the SDK's own three attempts, so the retrier's retry of that write is what saves it.
    settled.dynamodb_faults.fail("UpdateItem", "alerted: permanent failure", 5)
    backup = settled.complete_backup("planned", resource, planId=plan_id)
    settled.settle()
    assert settled.dynamodb_faults.injected >= 5
    (job,) = jobs_for(settled, backup["RecoveryPointArn"])
    assert len(settled.alerts()) == 1
    assert settled.copy_record(job["CopyJobId"])["outcome"] == "alerted: permanent failure"
    assert settled.failures() == []
