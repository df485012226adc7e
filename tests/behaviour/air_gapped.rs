//! Backups made straight to a logically air-gapped vault (docs/aws-facts.md#logically-air-gapped-vaults):
//! for a resource type AWS Backup does not fully manage, the backup lands in the standard vault as a
//! temporary recovery point (`DeleteAfterEvent` `DELETE_AFTER_COPY`), AWS Backup copies it into the
//! air-gapped vault itself (a copy job with `CreatedByBackupJobId`) and deletes it. None of that is a
//! fault: the copier does not route the temporary point, a failed AWS copy is told once and never
//! retried from a source AWS deletes, and coverage counts the air-gapped copy as the backup's copy.

use serde_json::json;
use vaultwatch::domain::AlertKind;
use vaultwatch::domain::{
    AlertReason, BackupJob, BackupJobId, Cause, CopyJob, CopyJobState, IamRoleArn, RouteTable, SourcePolicy,
    TransientCause, VaultType,
};
use vaultwatch::handlers::copier::{Copied, Copier};
use vaultwatch::handlers::RecordOutcome;
use vaultwatch::ports::memory::{transient_error, MemoryBackup};
use vaultwatch_tests::*;

const AIR_GAPPED_VAULT: &str = "arn:aws:backup:us-east-1:123456789012:backup-vault:air-gapped";

/// The backup job of the fixtures, made to a logically air-gapped vault: its recovery point in
/// `primary` is the temporary one.
fn temporary_backup() -> BackupJob {
    backup_job_from_wire(&fixture("backup-api/describe-backup-job-air-gapped-temporary.json"))
}

/// AWS Backup's own copy of the temporary recovery point into the air-gapped vault, failed.
fn failed_air_gapped_copy() -> CopyJob {
    let mut job = failed_copy_job();
    job.destination_vault = vault(AIR_GAPPED_VAULT);
    job.destination.vault_type = Some(VaultType::LogicallyAirGapped);
    job.initiated_by = Some(BackupJobId::parse(BACKUP_JOB).unwrap());
    job.status_message = Some(PASSING_FAILURE.into());
    job.message_category = None;
    job
}

fn routes() -> RouteTable {
    RouteTable::from_json(&json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string()).unwrap()
}

// ---------------------------------------------------------------- copier

fn copier(backup: BackupJob) -> Copier<MemoryBackup> {
    let memory = MemoryBackup::new();
    memory.add_backup_job(backup);
    Copier {
        backup: memory,
        routes: routes(),
        copy_role: IamRoleArn::parse("arn:aws:iam::123456789012:role/vaultwatch-copy").unwrap(),
        sources: SourcePolicy::default(),
    }
}

#[tokio::test]
async fn the_copier_does_not_route_a_temporary_recovery_point() {
    let copier = copier(temporary_backup());
    let outcomes = copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert!(copier.backup.started_copies().is_empty(), "AWS Backup copies it into the air-gapped vault itself");
    let outcome = serde_json::to_value(&outcomes).unwrap().to_string();
    assert!(outcome.contains("temporary recovery point of a backup to a logically air-gapped vault"), "{outcome}");
    assert_eq!(copier.backup.total_calls(), 1, "the DescribeBackupJob that says so, nothing more");

    // The same backup without DELETE_AFTER_COPY is an ordinary one: routed.
    let copier = copier_of_ordinary_backup();
    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert_eq!(copier.backup.started_copies().len(), 1);
}

fn copier_of_ordinary_backup() -> Copier<MemoryBackup> {
    copier(BackupJob { lifecycle: None, ..temporary_backup() })
}

#[tokio::test]
async fn an_eventbridge_completion_of_a_temporary_point_is_not_routed_either() {
    let mut event = fixture("eventbridge/backup-job-completed.json");
    event["detail"]["recoveryPointLifecycle"] =
        json!({ "deleteAfterDays": 35, "deleteAfterEvent": "DELETE_AFTER_COPY" });
    let copier = copier_of_ordinary_backup();
    let outcomes = copier.handle(&event).await.unwrap();
    assert!(copier.backup.started_copies().is_empty());
    assert_eq!(copier.backup.total_calls(), 0, "the event says it all");
    match &outcomes.outcomes[..] {
        [RecordOutcome::Handled(Copied::Skipped { reason, .. })] => {
            assert!(reason.contains("air-gapped"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- retrier

#[tokio::test]
async fn a_failed_air_gapped_copy_is_told_once_and_never_retried() {
    let backup = MemoryBackup::new();
    backup.add_backup_job(temporary_backup());
    backup.add_copy_job(failed_air_gapped_copy());
    let retrier = memory_retrier(backup);
    // A passing failure that an ordinary copy would retry; delivered twice.
    for _ in 0..2 {
        retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    }
    assert!(retrier.queue.scheduled().is_empty(), "no retry of a source AWS Backup deletes");
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1, "told once");
    let alert = &alerts[0];
    assert_eq!(
        alert.reason,
        AlertReason::AirGappedCopyFailed {
            status_message: PASSING_FAILURE.into(),
            backup_job: BackupJobId::parse(BACKUP_JOB).unwrap(),
            cause: Cause::Transient(TransientCause::ServiceError),
        }
    );
    let body = alert.body();
    assert!(!body.contains("not copyable") && !body.contains("deleted or expired"), "{body}");
    assert!(!body.contains("start-copy-job"), "no copy by hand of a point AWS deletes: {body}");
    assert!(body.contains("back the resource up to") && body.contains(BACKUP_JOB), "{body}");
    let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.outcome, alerted(AlertKind::AirGappedCopyFailed));
    assert_eq!(retrier.backup.calls(Call::DescribeRecoveryPoint), 0, "the backup job said it all");

    // The temporary point already deleted changes nothing: the backup job still says what it was.
    let backup = MemoryBackup::new();
    backup.add_backup_job(temporary_backup());
    backup.add_copy_job(failed_air_gapped_copy());
    backup.set_recovery_point(&failed_copy_job().source_recovery_point, None);
    let retrier = memory_retrier(backup);
    retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert!(
        matches!(retrier.alerts.published()[..], [ref a] if matches!(a.reason, AlertReason::AirGappedCopyFailed { .. }))
    );
}

#[tokio::test]
async fn a_plan_copy_action_into_an_air_gapped_vault_is_retried_as_any_copy() {
    // Started by a backup job into an air-gapped vault too, but of an ordinary (kept) recovery point.
    let backup = MemoryBackup::new();
    backup.add_backup_job(BackupJob { lifecycle: None, ..temporary_backup() });
    backup.add_copy_job(failed_air_gapped_copy());
    let retrier = memory_retrier(backup);
    retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1);
    assert!(retrier.alerts.published().is_empty());
    assert_eq!(retrier.backup.calls(Call::DescribeBackupJob), 1);

    // An ordinary copy (no CreatedByBackupJobId, or not into an air-gapped vault) costs no lookup.
    let retrier = memory_retrier({
        let backup = MemoryBackup::new();
        backup.add_copy_job(failed_copy_job());
        backup
    });
    retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert_eq!(retrier.backup.calls(Call::DescribeBackupJob), 0);

    // A plan's scheduled copy carries CreatedByBackupJobId too; into a standard vault it is ordinary,
    // and so is a copy into an air-gapped vault that no backup job started: neither costs a lookup.
    for (initiated_by, vault_type) in [
        (Some(BackupJobId::parse(BACKUP_JOB).unwrap()), Some(VaultType::Standard)),
        (None, Some(VaultType::LogicallyAirGapped)),
    ] {
        let mut job = failed_copy_job();
        job.initiated_by = initiated_by;
        job.destination.vault_type = vault_type.clone();
        let backup = MemoryBackup::new();
        backup.add_backup_job(temporary_backup());
        backup.add_copy_job(job);
        let retrier = memory_retrier(backup);
        retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
        assert_eq!(retrier.backup.calls(Call::DescribeBackupJob), 0, "{vault_type:?}");
        assert_eq!(retrier.queue.scheduled().len(), 1, "retried as any copy");
    }
}

#[tokio::test]
async fn a_backup_job_aws_no_longer_reports_leaves_the_copy_ordinary_and_any_other_error_is_retried_by_lambda() {
    // DescribeBackupJob answers ResourceNotFoundException: the copy is retried as any copy.
    let backup = MemoryBackup::new();
    backup.add_copy_job(failed_air_gapped_copy());
    let retrier = memory_retrier(backup);
    retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert_eq!(retrier.backup.calls(Call::DescribeBackupJob), 1);
    assert_eq!(retrier.queue.scheduled().len(), 1, "an ordinary copy's retry");
    assert!(retrier.alerts.published().is_empty());

    // Throttled: no decision on a guess. The invocation fails (Lambda retries it), nothing is
    // queued or alerted, and the redelivery decides once the backup job can be read.
    let backup = MemoryBackup::new();
    backup.add_backup_job(temporary_backup());
    backup.add_copy_job(failed_air_gapped_copy());
    backup.fail_next(Call::DescribeBackupJob, 1, transient_error("backup", "DescribeBackupJob", "ThrottlingException"));
    let retrier = memory_retrier(backup);
    assert!(retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.is_err());
    assert!(retrier.queue.scheduled().is_empty() && retrier.alerts.published().is_empty());
    retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty(), "no retry of a source AWS Backup deletes");
    assert_eq!(retrier.alerts.published().len(), 1);
}

// ---------------------------------------------------------------- coverage

mod coverage {
    use super::*;
    use chrono::{Duration, Utc};
    use vaultwatch::domain::{ClaimKind, RequiredBy};
    use vaultwatch::handlers::coverage::{CoverageAssessor, CoverageQuery};
    use vaultwatch::ports::memory::MemoryStore;
    use vaultwatch::ports::TrackingStore;

    fn air_gapped_copy(state: CopyJobState) -> CopyJob {
        let mut job = failed_air_gapped_copy();
        job.state = state;
        job.completed_at = state.is_terminal().then(Utc::now);
        if state == CopyJobState::Completed {
            job.status_message = None;
            job.destination_recovery_point = Some(
                vaultwatch::domain::RecoveryPointArn::parse(
                    "arn:aws:backup:us-east-1:123456789012:recovery-point:AIRGAPPED-1",
                )
                .unwrap(),
            );
        }
        job
    }

    fn assessor(copy: CopyJob) -> CoverageAssessor<MemoryBackup, MemoryStore> {
        let backup = MemoryBackup::new();
        let mut job = temporary_backup();
        job.completed_at = Some(Utc::now() - Duration::hours(2));
        backup.add_backup_job(job);
        backup.add_copy_job(copy);
        // AWS Backup deleted the temporary point once copied.
        backup.set_recovery_point(&failed_copy_job().source_recovery_point, None);
        CoverageAssessor { backup, store: MemoryStore::new(), routes: routes(), max_attempts: 3 }
    }

    fn query() -> CoverageQuery {
        CoverageQuery { since: Utc::now() - Duration::days(1), vault: None }
    }

    #[tokio::test]
    async fn the_air_gapped_copy_is_the_backups_copy_not_an_expired_source() {
        let assessor = assessor(air_gapped_copy(CopyJobState::Completed));
        let report = assessor.report(&query(), Utc::now()).await.unwrap();
        let rows: Vec<_> = report
            .rows
            .iter()
            .map(|row| (row.requirement.destination.as_str(), row.status.name(), row.requirement.required_by.clone()))
            .collect();
        assert_eq!(rows, [(AIR_GAPPED_VAULT, "covered", RequiredBy::AirGapped)], "no route row, nothing expired");
        assert!(report.rows[0].status.to_string().contains("AIRGAPPED-1"), "{}", report.rows[0].status);
        assert_eq!(report.summary.uncovered(), 0);
        assert_eq!(serde_json::to_value(&report.rows[0]).unwrap()["requiredBy"], "airGapped");
    }

    #[tokio::test]
    async fn a_failed_air_gapped_copy_is_a_failed_row_with_its_alert() {
        let assessor = assessor(air_gapped_copy(CopyJobState::Failed));
        let (id, owner) = (copy_id(FAILED_COPY_JOB), vaultwatch::domain::ClaimOwner::unique());
        assessor
            .store
            .claim(&id, ClaimKind::FailureHandling, &owner, Utc::now(), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        assessor
            .store
            .finish_claim(&id, ClaimKind::FailureHandling, &owner, &alerted(AlertKind::AirGappedCopyFailed), None)
            .await
            .unwrap();
        let report = assessor.report(&query(), Utc::now()).await.unwrap();
        let statuses: Vec<_> = report.rows.iter().map(|row| row.status.to_string()).collect();
        assert_eq!(statuses, [format!("failed (alerted): {PASSING_FAILURE}")]);
        assert_eq!(report.rows[0].requirement.destination.as_str(), AIR_GAPPED_VAULT);
    }
}
