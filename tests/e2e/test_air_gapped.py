"""Backups straight to a logically air-gapped vault, through the real binaries and the stand-in
(docs/aws-facts.md, Logically air-gapped vaults): AWS Backup's own copy of the temporary recovery
point and that point's deletion are no fault; a failed AWS copy is told once and never retried."""

import json

import pytest

from conftest import ACCOUNT, DR_VAULT

AIR_GAPPED = "air-gapped"
FAILURE = "Copy job failed due to an internal failure. Try again later."


@pytest.fixture(scope="module")
def air_gapped_vault(stack):
    backup = stack.endpoints.client("backup")
    try:
        return backup.create_logically_air_gapped_backup_vault(
            BackupVaultName=AIR_GAPPED, MinRetentionDays=7, MaxRetentionDays=365)["BackupVaultArn"]
    except backup.exceptions.AlreadyExistsException:
        return backup.describe_backup_vault(BackupVaultName=AIR_GAPPED)["BackupVaultArn"]


def plan(stack, air_gapped_vault: str) -> str:
    return stack.endpoints.client("backup").create_backup_plan(BackupPlan={
        "BackupPlanName": "daily-to-air-gapped",
        "Rules": [{
            "RuleName": "daily", "TargetBackupVaultName": "routed", "ScheduleExpression": "cron(0 3 * * ? *)",
            "TargetLogicallyAirGappedBackupVaultArn": air_gapped_vault, "Lifecycle": {"DeleteAfterDays": 35},
        }],
    })["BackupPlanId"]


def test_a_backup_to_an_air_gapped_vault_is_copied_by_aws_alone_and_covered(settled, resource, air_gapped_vault):
    backup = settled.backup.complete_backup("routed", resource, planId=plan(settled, air_gapped_vault))
    temporary = backup["RecoveryPointArn"]
    assert backup["RecoveryPointLifecycle"] == {"DeleteAfterDays": 35, "DeleteAfterEvent": "DELETE_AFTER_COPY"}
    settled.delivery.settle()

    # One copy: AWS Backup's own, into the air-gapped vault; the copier routed nothing ("routed"
    # has routes to two regions).
    jobs = settled.queries.copy_jobs(BySourceRecoveryPointArn=temporary)
    assert [(j["DestinationBackupVaultArn"], j["State"]) for j in jobs] == [(air_gapped_vault, "COMPLETED")]
    assert jobs[0]["CreatedByBackupJobId"] == backup["BackupJobId"]
    assert jobs[0]["DestinationVaultType"] == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    # AWS Backup deleted the temporary point once copied.
    with pytest.raises(Exception, match="not found"):
        settled.endpoints.client("backup").describe_recovery_point(BackupVaultName="routed", RecoveryPointArn=temporary)

    result = settled.vaultwatch("coverage", "--since", "1h", "--vault", "routed", "--format", "json")
    report = json.loads(result.stdout)
    # The exit status says whether anything in the vault is uncovered: other tests share the vault
    # (test_operator_view leaves a backup uncovered on purpose), so it is judged by every row.
    uncovered = [r for r in report["rows"] if r["status"] in ("copying", "retrying", "failed", "missing")]
    assert result.returncode == (1 if uncovered else 0), (result.stderr, uncovered)
    rows = [r for r in report["rows"] if r["recoveryPoint"] == temporary]
    assert [(r["destination"], r["status"], r["requiredBy"]) for r in rows] == [(air_gapped_vault, "covered", "airGapped")]
    # What the listing said of the vault the copy is stored in (issue 21 item 11).
    assert rows[0]["storedIn"] == {"vaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT", "lockState": "LOCKED"}
    assert settled.queries.peek_alerts() == []


def test_a_failed_air_gapped_copy_alerts_once_and_is_not_retried(settled, resource, air_gapped_vault):
    settled.backup.control("faults", {"failCopies": [{"statusMessage": FAILURE, "destinationVaultArn": air_gapped_vault}]})
    backup = settled.backup.complete_backup("routed", resource, planId=plan(settled, air_gapped_vault))
    settled.delivery.settle()
    settled.delivery.settle()

    jobs = settled.queries.copy_jobs(BySourceRecoveryPointArn=backup["RecoveryPointArn"])
    assert [(j["DestinationBackupVaultArn"], j["State"]) for j in jobs] == [(air_gapped_vault, "FAILED")], "no retry"
    alerts = settled.queries.take_alerts()
    assert len(alerts) == 1
    assert "AWS Backup's own copy of an air-gapped backup" in alerts[0]["Subject"]
    assert backup["BackupJobId"] in alerts[0]["Email"] and "start-copy-job" not in alerts[0]["Email"]
    assert settled.queries.copy_record(jobs[0]["CopyJobId"])["outcome"] == "alerted: air-gapped backup copy failed"
    assert DR_VAULT not in {j["DestinationBackupVaultArn"] for j in settled.queries.copy_jobs(ByResourceArn=resource)}
    assert ACCOUNT in backup["BackupVaultArn"]
