//! copy-job-reconciler: a sweep over thousands of jobs the event path never saw brings the tracking
//! table in line, retries each unhandled transient failure once, alerts each permanent one once,
//! starts the copies routes call for, continues where a bounded run stopped, and repeats as a no-op.

use chrono::Utc;
use serde_json::json;
use vaultwatch::domain::{AlertKind, ClaimOutcome};
use vaultwatch::domain::{
    BackupJob, BackupJobId, BackupJobState, ClaimOwner, CopyJob, CopyJobId, CopyJobState, CoverageSummary, IamRoleArn,
    IdempotencyToken, RecoveryPointArn, RouteTable, StateUpdate,
};
use vaultwatch::handlers::reconciler::{MissingCopyPass, Reconciler, Summary, SweepSettings};
use vaultwatch::handlers::retrier::{Retrier, RetrierSettings};
use vaultwatch::metrics::{Measured, Measurements, Metric};
use vaultwatch::ports::memory::{
    dynamodb_throttled, transient_error, MemoryAlerts, MemoryBackup, MemoryClock, MemoryQueue, MemoryStore,
};
use vaultwatch::ports::TrackingStore;
use vaultwatch_tests::*;

const JOBS: usize = 2500;

type TestReconciler =
    Reconciler<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue, vaultwatch::ports::memory::MemoryPathFacts>;

fn reconciler(routes: RouteTable) -> TestReconciler {
    Reconciler {
        backup: MemoryBackup::new(),
        store: MemoryStore::new(),
        alerts: MemoryAlerts::new(),
        queue: MemoryQueue::new(),
        retry: RetrierSettings::default(),
        sweep: SweepSettings::default(),
        routes,
        copy_role: Some(IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap()),
        organization: None,
        path_check: None,
        evidence: None,
        clock: std::sync::Arc::new(vaultwatch::ports::WallClock),
    }
}

/// Job `index` of a generated population: 1 in 10 fails transiently, 1 in 20 permanently, 1 in 20
/// is still running, the rest completed.
fn generated_job(index: usize) -> CopyJob {
    let mut job = failed_copy_job();
    job.id = CopyJobId::parse(&format!("BULK-{index:05}")).unwrap();
    job.source_recovery_point =
        RecoveryPointArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-{index:05}"))
            .unwrap();
    job.created_by = None;
    (job.state, job.status_message) = match index % 20 {
        0 | 1 => (CopyJobState::Failed, Some("Rate exceeded".to_owned())),
        2 => (CopyJobState::Failed, Some(POINT_FAILURE.to_owned())),
        3 => (CopyJobState::Running, None),
        _ => (CopyJobState::Completed, None),
    };
    if !job.state.is_terminal() {
        job.completed_at = None;
    }
    if job.state == CopyJobState::Completed {
        job.destination_recovery_point = Some(
            RecoveryPointArn::parse(&format!("arn:aws:backup:us-west-2:123456789012:recovery-point:DST-{index:05}"))
                .unwrap(),
        );
    }
    job
}

fn populated() -> TestReconciler {
    let reconciler = reconciler(RouteTable::default());
    for index in 0..JOBS {
        reconciler.backup.add_copy_job(generated_job(index));
    }
    reconciler
}

fn never_out_of_time() -> impl FnMut() -> bool {
    || false
}

/// A deadline that passes once `pages` pages were read.
fn out_of_time_after(pages: usize) -> impl FnMut() -> bool {
    let mut checks = 0;
    move || {
        checks += 1;
        checks > pages
    }
}

#[tokio::test]
async fn a_sweep_over_unseen_jobs_repairs_retries_and_alerts_once_each() {
    let reconciler = populated();
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    let (transient, permanent) = (JOBS / 10, JOBS / 20);
    assert_eq!(
        summary,
        Summary {
            pages: 3,
            scanned: JOBS,
            repaired: JOBS,
            details_filled: 0,
            already_verified: 0,
            retried: transient,
            alerted: permanent,
            path_failures: 0,
            incidents_opened: 0,
            incidents_healed: 0,
            copies_backfilled: 0,
            broken_paths: Some(0),
            resolved: 0,
            missing_copies_started: 0,
            refused: 0,
            unreadable: 0,
            errors: 0,
            missing_copy_pass: MissingCopyPass::NoRoutes,
            coverage: Some(CoverageSummary::default()),
            organization: None,
            path_check: None,
            evidence: Vec::new(),
            complete: true
        }
    );
    assert_eq!(reconciler.backup.calls(Call::ListCopyJobs), 3, "pages of 1000");
    assert_eq!(reconciler.backup.calls(Call::DescribeCopyJob), 0, "the listing already says everything");
    assert_eq!(reconciler.store.calls(Call::GetMany), 3, "one batch read per page");
    assert_eq!(reconciler.queue.scheduled().len(), transient);
    assert_eq!(reconciler.alerts.published().len(), permanent);
    for index in [0, 2, 3, 4, 2499] {
        let job = generated_job(index);
        assert_eq!(reconciler.store.record(&job.id).unwrap().state, Some(job.state), "job {index}");
    }

    // A second sweep finds everything handled: no new retry, alert or repair.
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((again.scanned, again.repaired, again.retried, again.alerted), (JOBS, 0, 0, 0));
    assert_eq!(reconciler.queue.scheduled().len(), transient);
    assert_eq!(reconciler.alerts.published().len(), permanent);
}

#[tokio::test]
async fn lost_failures_of_one_broken_path_open_one_incident_and_each_is_counted() {
    let reconciler = reconciler(RouteTable::default());
    for index in [2, 22, 42] {
        let mut job = generated_job(index);
        job.status_message = Some(PATH_FAILURE.to_owned());
        reconciler.backup.add_copy_job(job);
    }
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.path_failures, summary.incidents_opened), (3, 1), "{summary:?}");
    assert_eq!((summary.retried, summary.alerted), (0, 0), "{summary:?}");
    assert_eq!(reconciler.alerts.incident_messages().len(), 1, "told once, as the path's incident");
    assert!(reconciler.alerts.published().is_empty(), "no alert per copy");
}

#[tokio::test]
async fn failures_the_retrier_already_handled_are_left_alone() {
    let reconciler = populated();
    // The event path handled job 0's failure before the sweep.
    let event_path = Retrier::new(
        &reconciler.backup,
        &reconciler.store,
        &reconciler.alerts,
        &reconciler.queue,
        RetrierSettings::default(),
    );
    event_path.handle_failure(&generated_job(0).id, None, &ClaimOwner::unique()).await.unwrap();
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(summary.retried, JOBS / 10 - 1);
    assert_eq!(reconciler.queue.scheduled().len(), JOBS / 10, "job 0 was scheduled once, by the event path");
}

#[tokio::test]
async fn records_tracked_from_sns_get_their_details_from_the_listing() {
    use vaultwatch::domain::SourcePolicy;
    use vaultwatch::handlers::tracker::Tracker;

    let reconciler = populated();
    // The event path saw jobs 4..=9 complete over SNS: state only, no details.
    let tracker = Tracker { store: &reconciler.store, sources: SourcePolicy::default() };
    for index in 4..10 {
        tracker.handle(&copy_event("COMPLETED", &format!("BULK-{index:05}"))).await.unwrap();
    }
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.repaired, summary.details_filled), (JOBS - 6, 6));
    assert_eq!(reconciler.backup.calls(Call::DescribeCopyJob), 0);
    let record = reconciler.store.record(&generated_job(7).id).unwrap();
    assert_eq!(record.details, vaultwatch::domain::CopyDetails::from(&generated_job(7)));

    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((again.repaired, again.details_filled), (0, 0), "a second sweep writes nothing");
}

#[tokio::test]
async fn a_clean_sweep_spares_the_next_one_the_records_of_finished_jobs() {
    let reconciler = populated();
    let running = JOBS / 20;
    reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    let reads = reconciler.store.calls(Call::GetMany);

    // A job finishes after that sweep started; the running ones are still running.
    let mut late = generated_job(JOBS + 1);
    late.state = CopyJobState::Completed;
    late.completed_at = Some(Utc::now());
    reconciler.backup.add_copy_job(late.clone());
    let steady = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(steady.scanned, JOBS + 1, "every job is still listed");
    assert_eq!(steady.already_verified, JOBS - running, "finished and verified: records not read");
    assert_eq!((steady.repaired, steady.errors), (1, 0), "the late job is tracked");
    assert_eq!(reconciler.store.record(&late.id).unwrap().state, Some(CopyJobState::Completed));
    assert_eq!(reconciler.store.calls(Call::GetMany) - reads, 3, "one read per page, for the few left");

    // Other filters (or a longer lookback) reach jobs the verified sweep never listed.
    let mut filtered = reconciler;
    filtered.sweep.state = Some(CopyJobState::Completed);
    let other = filtered.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(other.already_verified, 0);
}

/// A sweep of the populated table in which `fail` makes one of its calls fail: the sweep's summary,
/// and the reconciler for the sweep after.
async fn swept_with_one_failure(fail: impl FnOnce(&mut TestReconciler)) -> (Summary, TestReconciler) {
    let mut reconciler = populated();
    fail(&mut reconciler);
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    (summary, reconciler)
}

fn backup_throttled(operation: &'static str) -> vaultwatch::ports::AwsError {
    transient_error("backup", operation, "ThrottlingException")
}

#[tokio::test]
async fn a_sweep_with_errors_vouches_for_nothing() {
    let (first, reconciler) =
        swept_with_one_failure(|r| r.store.fail_next(Call::ApplyState, 1, dynamodb_throttled("UpdateItem"))).await;
    assert_eq!(first.errors, 1);
    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(second.already_verified, 0, "every record is read again");
    assert_eq!((second.repaired, second.errors), (1, 0), "the job that failed is repaired now");
    let third = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(third.already_verified, JOBS - JOBS / 20);
}

#[tokio::test]
async fn a_coverage_that_cannot_be_assessed_is_an_error_of_the_sweep() {
    let (summary, reconciler) =
        swept_with_one_failure(|r| r.backup.fail_next(Call::ListBackupJobs, 1, backup_throttled("ListBackupJobs")))
            .await;
    assert_eq!((summary.errors, summary.coverage.as_ref()), (1, None), "{summary:?}");
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert!(again.errors == 0 && again.coverage.is_some(), "assessed on the next sweep: {again:?}");
}

#[tokio::test]
async fn an_organization_report_that_cannot_be_made_is_an_error_of_the_sweep_beside_its_own_coverage() {
    use vaultwatch::handlers::organization::OrganizationSettings;
    let (summary, reconciler) = swept_with_one_failure(|r| {
        r.organization = Some(OrganizationSettings { required_destinations: vec![vault(DR_VAULT)], max_attempts: 3 });
        // Both listings of the window's backups fail: the sweep's own coverage and the organization's.
        r.backup.fail_next(Call::ListBackupJobs, 2, backup_throttled("ListBackupJobs"));
    })
    .await;
    assert_eq!((summary.errors, summary.coverage.is_none(), summary.organization.is_none()), (2, true, true));
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert!(again.errors == 0 && again.organization.is_some(), "reported on the next sweep: {again:?}");
}

#[tokio::test]
async fn open_incidents_that_cannot_be_read_are_an_error_of_the_sweep() {
    let (summary, reconciler) =
        swept_with_one_failure(|r| r.store.fail_next(Call::OpenIncidents, 1, dynamodb_throttled("Query"))).await;
    assert_eq!((summary.errors, summary.broken_paths), (1, None), "{summary:?}");
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((again.errors, again.broken_paths), (0, Some(0)), "{again:?}");
}

#[tokio::test]
async fn backfills_that_cannot_be_read_are_an_error_of_the_sweep() {
    let (summary, _) =
        swept_with_one_failure(|r| r.store.fail_next(Call::ActiveBackfills, 1, dynamodb_throttled("Query"))).await;
    assert_eq!((summary.errors, summary.copies_backfilled), (1, 0), "{summary:?}");
}

#[tokio::test]
async fn a_bounded_run_saves_its_place_and_the_next_continues() {
    let reconciler = populated();
    let first = reconciler.run(Utc::now(), out_of_time_after(1)).await.unwrap();
    assert_eq!((first.pages, first.scanned, first.complete), (1, 1000, false));
    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    // Continued from page 2, then the whole window listed again for coverage and copies.
    assert_eq!((second.pages, second.scanned, second.complete), (2 + 3, 1500 + JOBS, true));
    assert_eq!((second.repaired, second.already_verified), (1500, 0), "the listing again reconciles nothing");
    assert_eq!(reconciler.queue.scheduled().len(), JOBS / 10, "every failure handled exactly once overall");
    let third = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(third.scanned, JOBS, "a finished sweep starts over");
}

#[tokio::test]
async fn missing_routed_copies_are_started_once() {
    let routes = RouteTable::from_json(
        &json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }, { "sourceVault": "primary", "destinationVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu", "resourceTypes": ["RDS"] }]).to_string(),
    )
    .unwrap();
    let reconciler = reconciler(routes);
    let backup = |index: usize, kind: &str| BackupJob { resource_type: Some(kind.into()), ..completed_backup(index) };
    // Backup 0 was copied to DR by someone (its copy job is listed); 1 and 2 never were.
    reconciler.backup.add_copy_job(generated_job(4));
    let mut copied = generated_job(0);
    copied.state = CopyJobState::Completed;
    reconciler.backup.add_copy_job(copied);
    reconciler.backup.add_backup_job(backup(0, "EBS"));
    reconciler.backup.add_backup_job(backup(1, "EBS"));
    reconciler.backup.add_backup_job(backup(2, "RDS"));

    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(summary.missing_copies_started, 3, "backup 1 to DR, backup 2 to DR and EU");
    // Coverage as the sweep found it, before starting them: one covered, three missing.
    let coverage = summary.coverage.as_ref().unwrap();
    assert_eq!((coverage.by_status.get("covered"), coverage.by_status.get("missing")), (Some(&1), Some(&3)));
    assert_eq!(coverage.oldest_uncovered_seconds.keys().collect::<Vec<_>>(), ["eu-west-1", "us-west-2"]);
    let mut measured = Measurements::default();
    summary.measure(&mut measured);
    assert_eq!(measured.get(Metric::UncoveredRecoveryPoints, None), Some(3.0));
    assert_eq!(measured.get(Metric::MissingCopiesStarted, None), Some(3.0));
    assert!(measured.get(Metric::OldestUncoveredAgeSeconds, Some("us-west-2")).is_some());
    let started = reconciler.backup.started_copies();
    assert_eq!(started.len(), 3);
    for copy in &started {
        assert_eq!(copy.token, IdempotencyToken::for_route(&copy.recovery_point, &copy.destination_vault));
    }
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(again.missing_copies_started, 0);
    let coverage = again.coverage.as_ref().unwrap();
    assert_eq!((coverage.by_status.get("covered"), coverage.by_status.get("copying")), (Some(&1), Some(&3)));
    assert_eq!(reconciler.backup.started_copies().len(), 3);
}

#[tokio::test]
async fn a_continued_sweep_lists_the_window_again_before_it_looks_for_missing_copies() {
    let routes =
        RouteTable::from_json(&json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string())
            .unwrap();
    let mut reconciler = reconciler(routes);
    reconciler.sweep.page_size = 1;
    // Backup 0's copy (by a plan: another token) is on the first page of the listing.
    let mut copied = generated_job(0);
    copied.state = CopyJobState::Completed;
    reconciler.backup.add_copy_job(copied);
    reconciler.backup.add_copy_job(generated_job(4));
    reconciler.backup.add_backup_job(BackupJob {
        recovery_point: Some(generated_job(0).source_recovery_point),
        ..completed_backup(0)
    });
    let first = reconciler.run(Utc::now(), out_of_time_after(1)).await.unwrap();
    assert_eq!((first.pages, first.complete), (1, false));
    let continued = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((continued.pages, continued.complete, continued.missing_copy_pass), (1 + 2, true, MissingCopyPass::Ran));
    assert!(reconciler.backup.started_copies().is_empty(), "backup 0 has its copy (page 1): none started");
    let whole = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((whole.pages, whole.missing_copies_started), (2, 0));
    assert!(reconciler.backup.started_copies().is_empty());
}

// ---------------------------------------------------------------- real AWS Backup semantics

fn dr_route() -> RouteTable {
    RouteTable::from_json(&json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string()).unwrap()
}

fn completed_backup(index: usize) -> BackupJob {
    BackupJob {
        id: BackupJobId::parse(&format!("BACKUP-{index}")).unwrap(),
        state: BackupJobState::Completed,
        recovery_point: Some(
            RecoveryPointArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-{index:05}"))
                .unwrap(),
        ),
        vault: vault(SOURCE_VAULT),
        resource: None,
        resource_type: Some("EBS".into()),
        parent_job: None,
        completed_at: Some(Utc::now()),
        created_by: None,
        lifecycle: None,
    }
}

#[tokio::test]
async fn a_filtered_sweep_never_starts_missing_copies() {
    for filter in ["state", "destination"] {
        let mut reconciler = reconciler(dr_route());
        match filter {
            "state" => reconciler.sweep.state = Some(CopyJobState::Failed),
            _ => {
                reconciler.sweep.destination_vault =
                    Some(vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:eu"))
            }
        }
        reconciler.backup.add_backup_job(completed_backup(1));
        // Its copy exists, but a filtered listing does not show it.
        let mut copied = generated_job(1);
        copied.state = CopyJobState::Completed;
        reconciler.backup.add_copy_job(copied);
        let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
        assert_eq!(summary.missing_copy_pass, MissingCopyPass::SweepFiltered, "{filter}");
        assert!(reconciler.backup.started_copies().is_empty(), "{filter}");
        assert_eq!(reconciler.backup.calls(Call::ListBackupJobs), 0);
    }
}

#[tokio::test]
async fn an_unreadable_copy_job_is_skipped_and_said_never_failing_the_sweep() {
    use vaultwatch::ports::Unreadable;
    let reconciler = reconciler(dr_route());
    for index in 0..3 {
        reconciler.backup.add_copy_job(generated_job(index * 20 + 4));
    }
    reconciler.backup.add_unreadable_copy_job(Unreadable {
        id: Some("ODD-1".into()),
        copy: None,
        problem: "response member State: copy job state is not CREATED, RUNNING, COMPLETED, FAILED or PARTIAL".into(),
    });
    reconciler.backup.add_backup_job(completed_backup(7));
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.scanned, summary.repaired, summary.unreadable), (3, 3, 1));
    // The unreadable job might be the copy of backup 7: no missing copy is presumed this time.
    assert_eq!(summary.missing_copy_pass, MissingCopyPass::UnreadableJobs);
    assert!(reconciler.backup.started_copies().is_empty());
    assert!(
        reconciler.store.load_cursor().await.unwrap().verified.is_none(),
        "an unreadable job leaves the sweep unverified"
    );
}

#[tokio::test]
async fn a_refused_routed_copy_is_alerted_once_and_not_asked_again() {
    use vaultwatch::domain::{RecoveryPoint, StorageClass};
    let reconciler = reconciler(dr_route());
    let backup = completed_backup(3);
    let point = backup.recovery_point.clone().unwrap();
    reconciler.backup.add_backup_job(backup);
    reconciler.backup.set_recovery_point(
        &point,
        Some(RecoveryPoint {
            arn: point.clone(),
            storage_class: Some(StorageClass::Cold),
            status: None,
            moves_to_cold_at: None,
            deleted_at: None,
            created_at: None,
        }),
    );
    let first = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((first.refused, first.missing_copies_started, first.errors), (1, 0, 0));
    let alerts = reconciler.alerts.published();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].recovery_point.as_ref(), Some(&point));
    assert_eq!(reconciler.store.refusals().len(), 1);

    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((second.refused, second.missing_copies_started), (0, 0));
    assert_eq!(reconciler.backup.calls(Call::StartCopyJob), 1, "a refusal is not asked again");
    assert_eq!(reconciler.alerts.published().len(), 1);
}

#[tokio::test]
async fn composite_jobs_are_handled_through_the_parent_and_nested_backups_are_not_copied_alone() {
    use vaultwatch::domain::Composite;
    let reconciler = reconciler(dr_route());
    let mut parent = generated_job(0);
    parent.state = CopyJobState::Partial;
    parent.composite = Composite::Parent { children: Some(2) };
    let mut child = generated_job(1);
    child.composite = Composite::Child { parent: parent.id.clone() };
    reconciler.backup.add_copy_job(parent.clone());
    reconciler.backup.add_copy_job(child.clone());
    let mut nested = completed_backup(9);
    nested.parent_job = Some(BackupJobId::parse("BACKUP-PARENT").unwrap());
    reconciler.backup.add_backup_job(nested);

    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    let scheduled = reconciler.queue.scheduled();
    assert_eq!(scheduled.len(), 1, "one retry, of the PARTIAL parent");
    assert_eq!(scheduled[0].0.failed_job, parent.id);
    assert_eq!(summary.retried, 1);
    assert!(reconciler.alerts.published().is_empty());
    assert_eq!(reconciler.store.record(&child.id).unwrap().details.parent_job, Some(parent.id));
    assert!(reconciler.backup.started_copies().is_empty(), "the nested backup is not copied alone");
    // Children are known from the sweep's own listing (their ParentJobId): nothing looked up per
    // child or per parent (no DescribeCopyJob, no ListCopyJobs ByParentJobId).
    assert_eq!(reconciler.backup.calls(Call::DescribeCopyJob), 0);
    assert_eq!(reconciler.backup.copy_job_queries().len(), 1, "one listing: the sweep's");
}

/// Milliseconds since the epoch, as Lambda gives a deadline.
fn epoch_ms_in(from_now: std::time::Duration) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::try_from((now + from_now).as_millis()).unwrap()
}

#[tokio::test]
async fn the_lambda_entry_sweeps_until_its_safety_margin_before_its_deadline() {
    // A minute left: the whole sweep runs.
    let reconciler = populated();
    let summary = reconciler
        .handle(&json!({}), epoch_ms_in(std::time::Duration::from_secs(60)), &ClaimOwner::unique())
        .await
        .unwrap();
    assert!(summary.complete && summary.scanned == JOBS, "{summary:?}");
    assert_eq!(reconciler.queue.scheduled().len(), JOBS / 10);

    // Less than the margin kept back to save the cursor: nothing is read or written, and the
    // cursor stays as it was, so the next run does the whole sweep.
    let reconciler = populated();
    let within_margin = SAFETY_MARGIN - std::time::Duration::from_secs(1);
    let summary = reconciler.handle(&json!({}), epoch_ms_in(within_margin), &ClaimOwner::unique()).await.unwrap();
    assert!(!summary.complete && summary.pages == 0 && summary.scanned == 0, "{summary:?}");
    assert_eq!((reconciler.backup.total_calls(), reconciler.store.total_calls()), (0, 0));
    // A deadline already past behaves the same, without underflow.
    let summary = reconciler.handle(&json!({}), 0, &ClaimOwner::unique()).await.unwrap();
    assert!(!summary.complete && summary.pages == 0, "{summary:?}");
    let next = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert!(next.complete && next.scanned == JOBS && next.repaired == JOBS, "{next:?}");
}

#[tokio::test]
async fn a_sweep_lists_its_lookback_window_and_a_continued_one_keeps_the_first_runs_window() {
    let reconciler = populated();
    let start = Utc::now();
    reconciler.run(start, out_of_time_after(1)).await.unwrap();
    let window = start - chrono::Duration::hours(72);
    assert_eq!(reconciler.backup.copy_job_queries()[0].created_after, Some(window), "RECONCILE_LOOKBACK_HOURS back");
    reconciler.run(start + chrono::Duration::hours(1), never_out_of_time()).await.unwrap();
    let queries = reconciler.backup.copy_job_queries();
    assert!(queries.len() > 1 && queries.iter().all(|q| q.created_after == Some(window)), "the same window, continued");
}

/// A bounded run that met a problem, continued by a clean one: the sweep as a whole met it, so it
/// vouches for nothing, and the sweep after reads every record again.
async fn continued_after(problem: impl FnOnce(&TestReconciler)) {
    let reconciler = populated();
    problem(&reconciler);
    let first = reconciler.run(Utc::now(), out_of_time_after(1)).await.unwrap();
    assert!(first.errors + first.unreadable > 0 && !first.complete, "{first:?}");
    let resume = reconciler.store.load_cursor().await.unwrap().resume.unwrap();
    assert!(!resume.clean, "the saved place remembers the problem");
    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert!(second.complete && second.errors == 0, "{second:?}");
    assert_eq!(reconciler.store.load_cursor().await.unwrap().verified, None, "vouches for nothing");
    let third = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(third.already_verified, 0, "every record is read again");
}

#[tokio::test]
async fn a_continued_sweep_that_met_errors_or_unreadable_jobs_vouches_for_nothing() {
    continued_after(|reconciler| {
        reconciler.store.fail_next(Call::ApplyState, 1, dynamodb_throttled("UpdateItem"));
    })
    .await;
    continued_after(|reconciler| {
        reconciler.backup.add_unreadable_copy_job(vaultwatch::ports::Unreadable {
            id: Some("BROKEN".into()),
            copy: None,
            problem: "response lacks State".into(),
        });
    })
    .await;
}

#[tokio::test]
async fn a_record_ahead_of_the_listing_is_left_alone_one_behind_is_repaired() {
    let reconciler = reconciler(RouteTable::default());
    let mut ahead = generated_job(4);
    ahead.state = CopyJobState::Running;
    ahead.completed_at = None;
    let mut behind = generated_job(5);
    behind.state = CopyJobState::Completed;
    let mut level = generated_job(6);
    level.state = CopyJobState::Running;
    level.completed_at = None;
    for (job, recorded) in
        [(&ahead, CopyJobState::Completed), (&behind, CopyJobState::Created), (&level, CopyJobState::Running)]
    {
        reconciler.backup.add_copy_job(job.clone());
        let update = StateUpdate {
            id: job.id.clone(),
            state: recorded,
            status_message: None,
            details: vaultwatch::domain::CopyDetails::from(job),
            at: Utc::now(),
        };
        reconciler.store.apply_state(&update).await.unwrap();
    }
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(summary.repaired, 1, "only the record behind: {summary:?}");
    assert_eq!(reconciler.store.record(&ahead.id).unwrap().state, Some(CopyJobState::Completed), "never moved back");
    assert_eq!(reconciler.store.record(&behind.id).unwrap().state, Some(CopyJobState::Completed));
}

#[tokio::test]
async fn unreadable_backup_jobs_of_the_missing_copy_pass_are_counted() {
    let reconciler = reconciler(dr_route());
    reconciler.backup.add_backup_job(completed_backup(1));
    reconciler.backup.add_unreadable_backup_job(vaultwatch::ports::Unreadable {
        id: Some("BACKUP-BROKEN".into()),
        copy: None,
        problem: "response lacks BackupVaultArn".into(),
    });
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(summary.missing_copies_started, 1);
    assert!(summary.unreadable >= 1, "{summary:?}");
}

/// A copy job of the same recovery point to the same vault as `job`, COMPLETED now: a manual
/// StartCopyJob, or a plan's copy.
fn completed_copy_of(job: &CopyJob, id: &str) -> CopyJob {
    CopyJob {
        id: CopyJobId::parse(id).unwrap(),
        state: CopyJobState::Completed,
        status_message: None,
        completed_at: Some(Utc::now()),
        destination_recovery_point: Some(
            RecoveryPointArn::parse(&format!("arn:aws:backup:us-west-2:123456789012:recovery-point:{id}")).unwrap(),
        ),
        iam_role: None,
        created_by: None,
        ..job.clone()
    }
}

/// The event path's retrier over the reconciler's clients.
fn event_path(reconciler: &TestReconciler) -> Retrier<&MemoryBackup, &MemoryStore, &MemoryAlerts, &MemoryQueue> {
    Retrier::new(
        &reconciler.backup,
        &reconciler.store,
        &reconciler.alerts,
        &reconciler.queue,
        RetrierSettings::default(),
    )
}

#[tokio::test]
async fn a_manual_fix_of_an_alerted_copy_gets_one_resolved_message_in_the_alerts_thread() {
    use vaultwatch::domain::SourcePolicy;
    use vaultwatch::handlers::tracker::Tracker;

    let reconciler = reconciler(RouteTable::default());
    // A copy fails for good (a KMS key policy) and the event path alerts it.
    let failed = generated_job(2);
    reconciler.backup.add_copy_job(failed.clone());
    event_path(&reconciler).handle_failure(&failed.id, None, &ClaimOwner::unique()).await.unwrap();
    let alerts = reconciler.alerts.published();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    // The first sweep: nothing completed yet, nothing resolved.
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().resolved, 0);

    // The operator fixes the key policy and copies by hand; the tracker records the copy completing.
    let manual = completed_copy_of(&failed, "MANUAL-1");
    reconciler.backup.add_copy_job(manual.clone());
    let tracker = Tracker { store: &reconciler.store, sources: SourcePolicy::default() };
    tracker.handle(&copy_event("COMPLETED", "MANUAL-1")).await.unwrap();

    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.resolved, summary.errors), (1, 0), "{summary:?}");
    let mut measured = Measurements::default();
    summary.measure(&mut measured);
    assert_eq!(measured.get(Metric::AlertsResolved, None), Some(1.0));
    assert_eq!(measured.get(Metric::AlertsSent, None), None, "a resolution is not an alert");
    let resolutions = reconciler.alerts.resolutions();
    assert_eq!(resolutions.len(), 1);
    let resolved = &resolutions[0];
    assert_eq!((resolved.alerted_job.as_str(), resolved.completed_job.as_str()), (failed.id.as_str(), "MANUAL-1"));
    assert_eq!(resolved.alerted, AlertKind::PermanentFailure);
    assert_eq!(resolved.destination_recovery_point, manual.destination_recovery_point);
    assert_eq!(resolved.thread_id(), alert.thread_id(), "the alert's thread");
    assert_eq!(resolved.notification().thread_id(), alert.notification().thread_id());
    let record = reconciler.store.record(&failed.id).unwrap();
    assert!(record.resolution_published);
    let resolved_by = Some(copy_id("MANUAL-1"));
    assert_eq!(
        record.outcome,
        ClaimOutcome { resolved_by, ..alerted(AlertKind::PermanentFailure) },
        "the alert is kept"
    );
    assert_eq!(summary.coverage.unwrap().by_status.get("failed"), None, "covered now");

    // The next sweep sends none.
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((again.resolved, again.errors), (0, 0));
    assert_eq!(reconciler.alerts.resolutions().len(), 1);
    assert_eq!(reconciler.alerts.published().len(), 1, "and no second alert");
}

/// An alerted copy fixed by hand after a sweep that verified it: the next sweep reads its record
/// only to resolve it (the page skips verified jobs). Returns the reconciler, ready for that sweep.
async fn fixed_after_a_verified_sweep(now: chrono::DateTime<Utc>) -> TestReconciler {
    let reconciler = reconciler(RouteTable::default());
    let mut failed = generated_job(2); // fails for good: alerted by the event path
    failed.completed_at = Some(now - chrono::Duration::hours(2));
    reconciler.backup.add_copy_job(failed.clone());
    event_path(&reconciler).handle_failure(&failed.id, None, &ClaimOwner::unique()).await.unwrap();
    let verified = reconciler.run(now - chrono::Duration::hours(1), never_out_of_time()).await.unwrap();
    assert!(verified.complete && verified.errors == 0, "{verified:?}");
    reconciler.backup.add_copy_job(completed_copy_of(&failed, "MANUAL-1"));
    reconciler
}

/// When the records of alerted copies cannot be read, the run counts an error (and resolves
/// nothing); a later run resolves. (Mutation run 8's survivor: the count was never checked.)
#[tokio::test]
async fn a_sweep_that_cannot_read_the_alerted_copies_records_counts_an_error_and_resolves_later() {
    let now = Utc::now();
    // How many record reads a sweep makes before the one for the resolution (the last).
    let twin = fixed_after_a_verified_sweep(now).await;
    let before = twin.store.calls(Call::GetMany);
    assert_eq!(twin.run(now, never_out_of_time()).await.unwrap().resolved, 1);
    let reads = twin.store.calls(Call::GetMany) - before;
    assert!(reads >= 1, "the resolution reads the alerted copy's record");

    let reconciler = fixed_after_a_verified_sweep(now).await;
    reconciler.store.fail_after(Call::GetMany, reads - 1, 1, transient_error("dynamodb", "BatchGetItem", "Throttled"));
    let summary = reconciler.run(now, never_out_of_time()).await.unwrap();
    assert_eq!((summary.errors, summary.resolved), (1, 0), "{summary:?}");
    assert!(reconciler.alerts.resolutions().is_empty());
    let later = reconciler.run(now + chrono::Duration::minutes(1), never_out_of_time()).await.unwrap();
    assert_eq!((later.errors, later.resolved), (0, 1), "{later:?}");
}

#[tokio::test]
async fn an_exhausted_chain_is_resolved_in_its_original_jobs_thread() {
    let reconciler = reconciler(RouteTable::default());
    let original = generated_job(0); // fails transiently ("Rate exceeded")
    reconciler.backup.add_copy_job(original.clone());
    let retrier = event_path(&reconciler);
    let mut failing = original.id.clone();
    loop {
        retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap();
        if reconciler.queue.scheduled().is_empty() {
            break;
        }
        retrier.handle(&due_retries(&reconciler.queue)).await.unwrap();
        failing = reconciler.store.record(&failing).unwrap().retried_by.unwrap();
        reconciler.backup.set_copy_state(&failing, CopyJobState::Failed, Some(PASSING_FAILURE));
    }
    let alert = reconciler.alerts.published().pop().unwrap();
    assert_eq!((alert.copy_job.as_ref(), alert.attempts), (Some(&failing), 4));
    assert_eq!(alert.thread_id(), original.id.as_str());

    // The plan's next copy of the same recovery point completes.
    reconciler.backup.add_copy_job(completed_copy_of(&original, "PLAN-COPY-1"));
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(summary.resolved, 1, "{summary:?}");
    let resolved = reconciler.alerts.resolutions().pop().unwrap();
    assert_eq!(resolved.alerted_job, failing, "the alerted (last) job of the chain");
    assert_eq!(resolved.original_job, original.id);
    assert_eq!(resolved.notification().thread_id(), alert.notification().thread_id());
    assert_eq!(resolved.alerted, AlertKind::AttemptsExhausted);
}

#[tokio::test]
async fn a_congested_chain_told_and_still_retrying_is_resolved_when_a_later_retry_completes() {
    use vaultwatch::domain::{IncidentMessage, PathCauseKind, CONGESTION_ATTEMPTS};
    let reconciler = reconciler(RouteTable::default());
    let mut original = generated_job(0);
    original.status_message = Some(LIMIT_FAILURE.into());
    reconciler.backup.add_copy_job(original.clone());
    let retrier = event_path(&reconciler);
    let mut failing = original.id.clone();
    // Past the escalation, two more congested failures: the chain goes on after telling. The
    // failure that escalates lost its event: the sweep handles it, and counts both.
    for attempt in 0..CONGESTION_ATTEMPTS + 3 {
        if attempt == CONGESTION_ATTEMPTS {
            let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
            assert_eq!((summary.retried, summary.alerted), (1, 0), "{summary:?}");
            assert_eq!((summary.path_failures, summary.incidents_opened), (1, 1), "{summary:?}");
        } else {
            retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap();
        }
        retrier.handle(&due_retries(&reconciler.queue)).await.unwrap();
        failing = reconciler.store.record(&failing).unwrap().retried_by.unwrap();
        reconciler.backup.set_copy_state(&failing, CopyJobState::Failed, Some(LIMIT_FAILURE));
    }
    // Told once, as the path's congestion incident.
    assert!(reconciler.alerts.published().is_empty(), "no alert of the chain's own");
    let told = reconciler.alerts.incident_messages();
    assert_eq!(told.len(), 1, "told once: {told:?}");
    let IncidentMessage::Opened(incident) = &told[0] else { panic!("{told:?}") };
    assert_eq!(incident.id.key.cause, PathCauseKind::Congestion);
    // The chain's latest retry completes on the path: the incident heals, told in its thread.
    reconciler.backup.set_copy_state(&failing, CopyJobState::Completed, None);
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.incidents_healed, summary.resolved), (1, 0), "{summary:?}");
    let messages = reconciler.alerts.incident_messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let IncidentMessage::Healed { incident: healed, .. } = &messages[1] else { panic!("{messages:?}") };
    assert_eq!(messages[1].notification().thread_id(), told[0].notification().thread_id(), "the incident's thread");
    assert!(
        matches!(&healed.state, vaultwatch::domain::IncidentState::Healed { by: vaultwatch::domain::HealedBy::Copy(job), .. } if *job == failing)
    );
    // A later sweep sends nothing more.
    let again = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!(again.incidents_healed, 0);
    assert_eq!(reconciler.alerts.incident_messages().len(), 2);
    assert!(reconciler.alerts.published().is_empty(), "and no alert");
}

#[tokio::test]
async fn only_alerted_copies_that_a_completed_copy_covers_are_resolved() {
    let reconciler = reconciler(RouteTable::default());
    // Alerted, and nothing completed since: no resolution.
    let alerted = generated_job(2);
    reconciler.backup.add_copy_job(alerted.clone());
    event_path(&reconciler).handle_failure(&alerted.id, None, &ClaimOwner::unique()).await.unwrap();
    // Failed and retried (no alert), the retry completed: covered, but nothing was alerted.
    let retried = generated_job(20);
    reconciler.backup.add_copy_job(retried.clone());
    event_path(&reconciler).handle_failure(&retried.id, None, &ClaimOwner::unique()).await.unwrap();
    reconciler.backup.add_copy_job(completed_copy_of(&retried, "RETRY-DONE"));
    // A completed copy to another vault does not cover the alerted one.
    let mut elsewhere = completed_copy_of(&alerted, "ELSEWHERE");
    elsewhere.destination_vault = vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:eu");
    reconciler.backup.add_copy_job(elsewhere);

    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.resolved, summary.errors), (0, 0), "{summary:?}");
    assert!(reconciler.alerts.resolutions().is_empty());
}

#[tokio::test]
async fn a_resolved_message_sns_refused_goes_out_on_the_next_sweep() {
    let reconciler = reconciler(RouteTable::default());
    let failed = generated_job(2);
    reconciler.backup.add_copy_job(failed.clone());
    event_path(&reconciler).handle_failure(&failed.id, None, &ClaimOwner::unique()).await.unwrap();
    reconciler.backup.add_copy_job(completed_copy_of(&failed, "MANUAL-1"));
    reconciler.alerts.fail_next(Call::Resolve, 1, transient_error("sns", "Publish", "Throttling"));

    let first = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((first.resolved, first.errors), (0, 1), "{first:?}");
    assert!(!reconciler.store.record(&failed.id).unwrap().resolution_published, "the claim was given back");
    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((second.resolved, second.errors), (1, 0));
    assert_eq!(reconciler.alerts.resolutions().len(), 1);
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().resolved, 0);
}

/// The EventBridge schedule's event (AWS's documented shape), for `time`.
fn scheduled_event(time: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": time, "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/vaultwatch-sweep"], "detail": {}
    })
}

/// A reconciler with a route to the DR vault and one backup, completed at `completed_at`, not copied.
fn one_uncopied_backup(completed_at: chrono::DateTime<Utc>) -> TestReconciler {
    let reconciler = reconciler(dr_route());
    reconciler.backup.add_backup_job(BackupJob { completed_at: Some(completed_at), ..completed_backup(1) });
    reconciler
}

fn at(time: &str) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(time).unwrap().with_timezone(&Utc)
}

/// What a run asked for and found as of `now`: the window of its ListCopyJobs and ListBackupJobs,
/// and how long the uncopied backup has waited.
fn assert_swept_as_of(reconciler: &TestReconciler, run: usize, summary: &Summary, now: chrono::DateTime<Utc>) {
    let window_start = now - chrono::Duration::hours(72);
    assert_eq!(
        reconciler.backup.copy_job_queries()[run].created_after,
        Some(window_start),
        "ListCopyJobs ByCreatedAfter"
    );
    assert_eq!(reconciler.backup.backup_job_queries()[run].since, window_start, "ListBackupJobs ByCreatedAfter");
    let coverage = summary.coverage.as_ref().expect("a whole sweep assesses coverage");
    assert_eq!(coverage.by_status.get("missing"), Some(&1), "{coverage:?}");
    let lag = now - at("2024-02-28T12:00:00Z");
    assert_eq!(coverage.oldest_uncovered_seconds.get("us-west-2"), Some(&lag.num_seconds()), "{coverage:?}");
}

#[tokio::test]
async fn a_scheduled_sweep_is_as_of_its_events_time_not_the_wall_clock() {
    // Scheduled for a day after the backup completed, long before the wall clock's today.
    let reconciler = one_uncopied_backup(at("2024-02-28T12:00:00Z"));
    let deadline = epoch_ms_in(std::time::Duration::from_secs(60));
    let summary =
        reconciler.handle(&scheduled_event("2024-02-29T12:00:00Z"), deadline, &ClaimOwner::unique()).await.unwrap();
    assert!(summary.complete, "{summary:?}");
    assert_swept_as_of(&reconciler, 0, &summary, at("2024-02-29T12:00:00Z"));
    assert_eq!(summary.missing_copies_started, 1, "{summary:?}");

    // A time that cannot be read fails the invocation before anything is listed.
    let reconciler = one_uncopied_backup(at("2024-02-28T12:00:00Z"));
    let result = reconciler.handle(&json!({"time": "yesterday"}), deadline, &ClaimOwner::unique()).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(reconciler.backup.calls(Call::ListCopyJobs), 0);
}

#[tokio::test]
async fn a_manual_invocation_sweeps_as_of_the_reconcilers_clock_and_moves_with_it() {
    let mut reconciler = one_uncopied_backup(at("2024-02-28T12:00:00Z"));
    let clock = MemoryClock::at(at("2024-03-01T12:00:00Z"));
    reconciler.clock = std::sync::Arc::new(clock.clone());
    let deadline = epoch_ms_in(std::time::Duration::from_secs(60));
    let summary = reconciler.handle(&json!({}), deadline, &ClaimOwner::unique()).await.unwrap();
    assert_swept_as_of(&reconciler, 0, &summary, at("2024-03-01T12:00:00Z"));

    // Two days later: the window moved with the clock, and the backup has waited two days more.
    clock.advance(chrono::Duration::days(2));
    let summary = reconciler.handle(&json!({}), deadline, &ClaimOwner::unique()).await.unwrap();
    let window_start = at("2024-03-03T12:00:00Z") - chrono::Duration::hours(72);
    assert_eq!(reconciler.backup.copy_job_queries()[1].created_after, Some(window_start));
    assert_eq!(reconciler.backup.backup_job_queries()[1].since, window_start);
    // The copy the first run started is still running: uncovered for four days now.
    let coverage = summary.coverage.as_ref().expect("a whole sweep assesses coverage");
    assert_eq!(coverage.by_status.get("copying"), Some(&1), "{coverage:?}");
    assert_eq!(coverage.oldest_uncovered_seconds.get("us-west-2"), Some(&(4 * 24 * 3600)), "{coverage:?}");
}

// ---------------------------------------------------------------- the deadline, with slow ports

use std::time::Duration;

use vaultwatch::domain::SweepPhase;
use vaultwatch::handlers::reconciler::SAFETY_MARGIN;
use vaultwatch_tests::hooked::{Hooked, Latency};

type SlowReconciler<'a> = Reconciler<
    Hooked<&'a MemoryBackup, Latency>,
    Hooked<&'a MemoryStore, Latency>,
    &'a MemoryAlerts,
    &'a MemoryQueue,
    vaultwatch::ports::memory::MemoryPathFacts,
>;

/// `memory`'s reconciler over its own ports, where each call of `operations` takes `latency`.
fn slowed<'a>(memory: &'a TestReconciler, operations: &'static [Call], latency: Duration) -> SlowReconciler<'a> {
    Reconciler {
        backup: Hooked { inner: &memory.backup, hook: Latency { latency, operations } },
        store: Hooked { inner: &memory.store, hook: Latency { latency, operations } },
        alerts: &memory.alerts,
        queue: &memory.queue,
        retry: memory.retry.clone(),
        sweep: memory.sweep.clone(),
        routes: memory.routes.clone(),
        copy_role: memory.copy_role.clone(),
        organization: None,
        path_check: None,
        evidence: None,
        clock: memory.clock.clone(),
    }
}

/// One Lambda invocation of `reconciler` with `timeout` left: its summary and how long it took on
/// tokio's (paused) clock.
async fn invoke(reconciler: &SlowReconciler<'_>, timeout: Duration) -> (Summary, Duration) {
    let started = tokio::time::Instant::now();
    let summary = reconciler.handle(&json!({}), epoch_ms_in(timeout), &ClaimOwner::unique()).await.unwrap();
    (summary, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_run_the_deadline_stops_inside_a_page_saves_its_place_there_and_the_next_repeats_nothing() {
    // Each tracking write takes 200 ms: a page of 1,000 new jobs, 8 at a time, takes 25 s. With
    // 45 s left, the run works 30 s (page 1 and a fifth of page 2) and saves its place; checking
    // only before each page, it would start page 2 at 25 s and end at 50 s, killed by Lambda.
    let memory = populated();
    let reconciler = slowed(&memory, &[Call::ApplyState], Duration::from_millis(200));
    let timeout = Duration::from_secs(45);
    let (first, took) = invoke(&reconciler, timeout).await;
    assert!(took <= timeout - SAFETY_MARGIN, "ended {took:?} into a {timeout:?} invocation");
    assert_eq!((first.complete, first.pages, first.errors), (false, 2, 0), "{first:?}");
    let reconciled = first.repaired;
    assert!((1000 + 100..2000).contains(&reconciled), "{first:?}");
    // Saved: page 2, after its last job reconciled (jobs are listed in creation order).
    let resume = memory.store.load_cursor().await.unwrap().resume.expect("the sweep is unfinished");
    let SweepPhase::Listing(place) = &resume.phase else { panic!("{resume:?}") };
    assert!(place.next_token.is_some() && resume.clean, "{resume:?}");
    assert_eq!(place.last_reconciled, Some(generated_job(reconciled - 1).id));
    assert_eq!(memory.store.calls(Call::ApplyState), reconciled, "a job cut off wrote nothing");

    // The next run takes up after that job: each job reconciled once, each failure handled once.
    let (second, _) = invoke(&reconciler, Duration::from_secs(600)).await;
    // Pages 2 and 3, then the whole window again (coverage needs it), reconciling nothing more.
    assert_eq!((second.complete, second.pages, second.errors), (true, 2 + 3, 0), "{second:?}");
    assert_eq!((second.scanned, second.repaired), (JOBS - reconciled + JOBS, JOBS - reconciled));
    assert_eq!(memory.store.calls(Call::ApplyState), JOBS, "no job's record written twice");
    assert_eq!(memory.store.records().len(), JOBS);
    assert_eq!(memory.queue.scheduled().len(), JOBS / 10, "every transient failure retried once");
    assert_eq!(memory.alerts.published().len(), JOBS / 20, "every permanent one alerted once");
    assert_eq!(first.retried + second.retried, JOBS / 10);
    let verified = memory.store.load_cursor().await.unwrap();
    assert!(verified.resume.is_none() && verified.verified.is_some(), "{verified:?}");
}

#[tokio::test(start_paused = true)]
async fn a_missing_copy_pass_the_deadline_stops_ends_in_time_and_the_next_starts_the_rest_once_each() {
    const BACKUPS: usize = 20;
    let memory = reconciler(dr_route());
    for index in 0..BACKUPS {
        memory.backup.add_backup_job(completed_backup(index));
    }
    // StartCopyJob takes 2 s. With 24 s left the run works 9 s: four copies started, the fifth cut
    // off. Checking only per batch of 100, it would start all twenty (40 s), killed by Lambda.
    let reconciler = slowed(&memory, &[Call::StartCopyJob], Duration::from_secs(2));
    let timeout = SAFETY_MARGIN + Duration::from_secs(9);
    let (first, took) = invoke(&reconciler, timeout).await;
    assert!(took <= timeout - SAFETY_MARGIN, "ended {took:?} into a {timeout:?} invocation");
    assert_eq!((first.complete, first.missing_copy_pass, first.errors), (false, MissingCopyPass::Stopped, 0));
    assert_eq!(first.missing_copies_started, 4, "{first:?}");
    assert_eq!(memory.backup.calls(Call::StartCopyJob), 4, "the cut-off one never reached AWS Backup");
    let resume = memory.store.load_cursor().await.unwrap().resume.expect("the sweep is unfinished");
    assert_eq!(resume.phase, SweepPhase::Copies, "every job reconciled; coverage and copies remain");

    // The next run lists the window again without reconciling: the four are in it (copying), and
    // it starts the other sixteen.
    let (second, _) = invoke(&reconciler, Duration::from_secs(600)).await;
    assert_eq!((second.complete, second.missing_copy_pass), (true, MissingCopyPass::Ran), "{second:?}");
    assert_eq!((second.scanned, second.repaired), (4, 0), "listed, not reconciled");
    assert_eq!(memory.store.load_cursor().await.unwrap().resume, None, "the sweep is finished");
    assert_eq!(second.missing_copies_started, BACKUPS - 4);
    assert_eq!(memory.backup.calls(Call::StartCopyJob), BACKUPS, "no copy asked for twice");
    let started: std::collections::HashSet<_> =
        memory.backup.started_copies().into_iter().map(|copy| copy.recovery_point).collect();
    assert_eq!(started.len(), BACKUPS, "one copy of each backup");
}

/// A plan's nightly copies fail on a path whose key is disabled: one incident. The key is fixed and
/// the next night's copy on the path completes: the sweep heals the incident, told once in its
/// thread; a completion on another path heals nothing.
#[tokio::test]
async fn a_copy_completing_on_a_broken_path_heals_its_incident_once() {
    use vaultwatch::domain::{IncidentMessage, IncidentState, RecoveryPointArn};
    let reconciler = reconciler(RouteTable::default());
    let retrier = event_path(&reconciler);
    let mut night = Vec::new();
    for n in 0..5 {
        let mut job = generated_job(2);
        job.id = copy_id(&format!("NIGHT1-{n}"));
        job.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        job.completed_at = Some(Utc::now() - chrono::Duration::hours(20));
        reconciler.backup.add_copy_job(job.clone());
        retrier.handle_failure(&job.id, None, &ClaimOwner::unique()).await.unwrap();
        night.push(job);
    }
    assert_eq!(reconciler.alerts.incident_messages().len(), 1);
    assert_eq!(reconciler.store.incidents()[0].affected, 5);
    // A copy on the path that completed before it broke proves nothing about it now.
    let mut before = completed_copy_of(&night[0], "BEFORE-BREAK");
    before.iam_role = night[0].iam_role.clone();
    before.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-before")).unwrap();
    before.completed_at = Some(reconciler.store.incidents()[0].id.opened_at - chrono::Duration::minutes(1));
    reconciler.backup.add_copy_job(before.clone());
    // Nor does one that completed at the instant it broke.
    let mut at_break = completed_copy_of(&night[0], "AT-BREAK");
    at_break.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-at-break")).unwrap();
    at_break.completed_at = Some(reconciler.store.incidents()[0].id.opened_at);
    at_break.iam_role = before.iam_role;
    reconciler.backup.add_copy_job(at_break);
    // Another path's completion proves nothing about this one.
    let mut elsewhere = completed_copy_of(&night[0], "ELSEWHERE");
    elsewhere.destination_vault = vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:eu");
    elsewhere.iam_role = night[0].iam_role.clone();
    reconciler.backup.add_copy_job(elsewhere);
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().incidents_healed, 0);
    assert!(reconciler.store.incidents()[0].is_open());

    // The next night's copy on the path completes.
    let mut next = completed_copy_of(&night[0], "NIGHT2-0");
    next.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-night2")).unwrap();
    next.completed_at = Some(Utc::now());
    next.iam_role = night[0].iam_role.clone();
    reconciler.backup.add_copy_job(next);
    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.incidents_healed, summary.errors), (1, 0), "{summary:?}");
    assert!(matches!(reconciler.store.incidents()[0].state, IncidentState::Healed { .. }));
    let messages = reconciler.alerts.incident_messages();
    assert_eq!(messages.len(), 2);
    assert!(matches!(&messages[1], IncidentMessage::Healed { incident, .. } if incident.affected == 5));
    assert!(messages[1].body().contains("5 recovery points were affected"), "{}", messages[1].body());
    let claims = reconciler.store.calls(Call::ClaimIncident);
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().incidents_healed, 0, "told once");
    assert_eq!(reconciler.store.calls(Call::ClaimIncident), claims, "a told incident is not asked about again");
    assert!(reconciler.alerts.published().is_empty());
}

/// After healing, the backfill copies each affected recovery point that can still be copied, at
/// most `BackfillConcurrency` in flight to the vault: the next starts when one ends (its event, to
/// the retrier), one deleted since is named as not copied, a second sweep starts nothing twice,
/// and one "backfilled" message closes the thread.
#[tokio::test]
async fn a_healed_path_is_backfilled_paced_by_its_vaults_concurrency_and_told_once() {
    use vaultwatch::domain::{IncidentMessage, RecoveryPointArn};
    let mut reconciler = reconciler(RouteTable::default());
    reconciler.retry.backfill.concurrency = 2;
    let settings = reconciler.retry.clone();
    let retrier =
        || Retrier::new(&reconciler.backup, &reconciler.store, &reconciler.alerts, &reconciler.queue, settings.clone());
    let mut night = Vec::new();
    for n in 0..5 {
        let mut job = generated_job(2);
        job.id = copy_id(&format!("NIGHT1-{n}"));
        job.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        job.completed_at = Some(Utc::now() - chrono::Duration::hours(20));
        reconciler.backup.add_copy_job(job.clone());
        retrier().handle_failure(&job.id, None, &ClaimOwner::unique()).await.unwrap();
        night.push(job);
    }
    // One of them is deleted before the path heals, another copied by hand meanwhile.
    reconciler.backup.set_recovery_point(&night[3].source_recovery_point, None);
    let mut by_hand = completed_copy_of(&night[4], "BY-HAND");
    by_hand.completed_at = Some(Utc::now() - chrono::Duration::hours(19));
    reconciler.backup.add_copy_job(by_hand);
    let mut next = completed_copy_of(&night[0], "NIGHT2-0");
    next.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-night2")).unwrap();
    next.iam_role = night[0].iam_role.clone();
    reconciler.backup.add_copy_job(next);

    let summary = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.incidents_healed, summary.copies_backfilled), (1, 2), "{summary:?}");
    let started = |reconciler: &TestReconciler| -> Vec<_> {
        reconciler.backup.started_copies().into_iter().filter(|c| c.token.as_str().starts_with("backfill-")).collect()
    };
    assert_eq!(started(&reconciler).len(), 2, "two in flight to the vault, no more");
    let healed = reconciler.alerts.incident_messages();
    assert!(
        matches!(&healed[1], IncidentMessage::Healed { backfill: true, .. }),
        "says a backfill follows: {healed:?}"
    );
    // A sweep while they run starts nothing more.
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().copies_backfilled, 0);

    // Each backfill copy that completes makes room for the next, on its event.
    let mut done = std::collections::HashSet::new();
    for _ in 0..4 {
        let running: Vec<_> = reconciler
            .backup
            .copy_jobs()
            .into_iter()
            .filter(|job| job.state == CopyJobState::Created && !done.contains(&job.id))
            .collect();
        for job in running {
            reconciler.backup.set_copy_state(&job.id, CopyJobState::Completed, None);
            retrier().handle(&copy_event("COMPLETED", job.id.as_str())).await.unwrap();
            done.insert(job.id);
        }
    }
    let copies = started(&reconciler);
    assert_eq!(copies.len(), 3, "every affected point but the deleted and the copied one, once each: {copies:?}");
    let points: std::collections::HashSet<_> = copies.iter().map(|c| c.recovery_point.clone()).collect();
    assert_eq!(points.len(), 3);
    assert!(!points.contains(&night[3].source_recovery_point) && !points.contains(&night[4].source_recovery_point));
    assert!(copies.iter().all(|c| c.lifecycle == night[0].destination_lifecycle), "the failed copy's lifecycle");
    let messages = reconciler.alerts.incident_messages();
    let backfilled: Vec<_> = messages.iter().filter(|m| matches!(m, IncidentMessage::Backfilled { .. })).collect();
    assert_eq!(backfilled.len(), 1, "{messages:?}");
    let body = backfilled[0].body();
    assert!(
        body.contains("3 copies made again, 1 already had a copy, 1 recovery points could not be copied"),
        "{body}"
    );
    assert!(body.contains(night[3].source_recovery_point.as_str()), "{body}");
    assert_eq!(backfilled[0].notification().thread_id(), messages[0].notification().thread_id());
    // Nothing more on later sweeps.
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().copies_backfilled, 0);
    assert_eq!(started(&reconciler).len(), 3);
    assert_eq!(reconciler.alerts.incident_messages().len(), messages.len());
}

/// An open incident seen by the sweeps: the BrokenPaths gauge, one "still broken" digest a day
/// though no failure comes, and no routed copy started into the broken path (it is once it heals).
#[tokio::test]
async fn sweeps_count_broken_paths_send_due_digests_and_start_no_copy_into_a_broken_path() {
    use std::sync::Arc;
    use vaultwatch::domain::{IncidentMessage, RecoveryPointArn};
    use vaultwatch::ports::memory::MemoryClock;
    use vaultwatch::ports::Clock;
    let clock = MemoryClock::at(Utc::now());
    let mut reconciler = reconciler(RouteTable::default());
    reconciler.clock = Arc::new(clock.clone());
    let mut failed = generated_job(2);
    failed.status_message = Some(PATH_FAILURE.into());
    failed.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-broken")).unwrap();
    reconciler.backup.add_copy_job(failed.clone());
    event_path(&reconciler)
        .with_clock(Arc::new(clock.clone()))
        .handle_failure(&failed.id, None, &ClaimOwner::unique())
        .await
        .unwrap();

    let summary = reconciler.run(clock.now(), never_out_of_time()).await.unwrap();
    assert_eq!((summary.broken_paths, summary.errors), (Some(1), 0), "{summary:?}");
    let mut measured = Measurements::default();
    summary.measure(&mut measured);
    assert_eq!(measured.get(Metric::BrokenPaths, None), Some(1.0));
    assert_eq!(reconciler.alerts.incident_messages().len(), 1, "the opening alert only");

    clock.advance(chrono::Duration::hours(25));
    reconciler.run(clock.now(), never_out_of_time()).await.unwrap();
    reconciler.run(clock.now(), never_out_of_time()).await.unwrap();
    let messages = reconciler.alerts.incident_messages();
    let digests = messages.iter().filter(|m| matches!(m, IncidentMessage::Digest(_))).count();
    assert_eq!(digests, 1, "one digest per day, however many sweeps: {messages:?}");
}

/// An RDS copy failed on the path as a type AWS Backup does not copy there: the path's incident of
/// it is open. The failed job.
async fn unsupported_rds_incident(reconciler: &TestReconciler) -> CopyJob {
    use vaultwatch::domain::PathCauseKind;
    let mut rds = generated_job(2);
    rds.id = copy_id("RDS-FAILED");
    rds.resource_type = Some("RDS".into());
    rds.status_message = Some("Copy job from primary to dr-copy cannot be initiated for RDS resources. Feature is not supported for provided resource type.".into());
    rds.completed_at = Some(Utc::now() - chrono::Duration::hours(20));
    reconciler.backup.add_copy_job(rds.clone());
    event_path(reconciler).handle_failure(&rds.id, None, &ClaimOwner::unique()).await.unwrap();
    assert_eq!(reconciler.store.incidents()[0].id.key.cause, PathCauseKind::Unsupported);
    rds
}

/// An incident of a resource type AWS Backup does not copy along the path heals only on a copy of
/// that type: the path's other copies completing every night prove nothing about it.
#[tokio::test]
async fn an_unsupported_resource_types_incident_heals_only_on_a_copy_of_that_type() {
    use vaultwatch::domain::{IncidentState, RecoveryPointArn};
    let reconciler = reconciler(RouteTable::default());
    let rds = unsupported_rds_incident(&reconciler).await;

    let mut ebs = completed_copy_of(&rds, "EBS-DONE");
    ebs.resource_type = Some("EBS".into());
    ebs.iam_role = rds.iam_role.clone();
    ebs.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-ebs")).unwrap();
    reconciler.backup.add_copy_job(ebs);
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().incidents_healed, 0);
    assert!(reconciler.store.incidents()[0].is_open(), "an EBS copy says nothing about RDS on the path");

    let mut rds_done = completed_copy_of(&rds, "RDS-DONE");
    rds_done.iam_role = rds.iam_role.clone();
    reconciler.backup.add_copy_job(rds_done);
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().incidents_healed, 1);
    assert!(matches!(reconciler.store.incidents()[0].state, IncidentState::Healed { .. }));
}

/// The sweep keeps each resource type's latest completed copy on a path whatever order the listing
/// gives them in: an older copy of the type listed after it, or a later copy of another type, does
/// not hide the one that heals.
#[tokio::test]
async fn the_copy_that_heals_is_found_whatever_order_the_listing_gives() {
    use vaultwatch::domain::{IncidentState, RecoveryPointArn};
    let reconciler = reconciler(RouteTable::default());
    let rds = unsupported_rds_incident(&reconciler).await;
    let opened = reconciler.store.incidents()[0].id.opened_at;
    let now = Utc::now();
    let copy = |id: &str, kind: &str, at| {
        let mut copy = completed_copy_of(&rds, id);
        copy.resource_type = Some(kind.into());
        copy.iam_role = rds.iam_role.clone();
        copy.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{id}")).unwrap();
        copy.completed_at = Some(at);
        copy
    };
    reconciler.backup.add_copy_job(copy("RDS-DONE", "RDS", now));
    reconciler.backup.add_copy_job(copy("RDS-BEFORE", "RDS", opened - chrono::Duration::hours(1)));
    reconciler.backup.add_copy_job(copy("EBS-LATER", "EBS", now + chrono::Duration::seconds(1)));
    let summary = reconciler.run(now + chrono::Duration::minutes(1), never_out_of_time()).await.unwrap();
    assert_eq!(summary.incidents_healed, 1, "{summary:?}");
    let IncidentState::Healed { by, .. } = &reconciler.store.incidents()[0].state else { panic!() };
    assert_eq!(by, &vaultwatch::domain::HealedBy::Copy(copy_id("RDS-DONE")));
}

/// The backfill is opened before the "healed" message: a message SNS refuses is sent on the next
/// sweep, and the healed episode's recovery points are copied meanwhile.
#[tokio::test]
async fn a_healed_message_sns_refuses_does_not_hold_the_backfill_back() {
    use vaultwatch::domain::{IncidentMessage, RecoveryPointArn};
    let reconciler = reconciler(RouteTable::default());
    let mut failed = generated_job(2);
    failed.status_message = Some(PATH_FAILURE.into());
    failed.completed_at = Some(Utc::now() - chrono::Duration::hours(20));
    reconciler.backup.add_copy_job(failed.clone());
    event_path(&reconciler).handle_failure(&failed.id, None, &ClaimOwner::unique()).await.unwrap();
    let mut next = completed_copy_of(&failed, "NEXT-NIGHT");
    next.iam_role = failed.iam_role.clone();
    next.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-next")).unwrap();
    reconciler.backup.add_copy_job(next);

    reconciler.alerts.fail_next(Call::PublishIncident, 1, transient_error("sns", "Publish", "Throttling"));
    let first = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((first.incidents_healed, first.errors, first.copies_backfilled), (0, 1, 1), "{first:?}");
    let second = reconciler.run(Utc::now(), never_out_of_time()).await.unwrap();
    assert_eq!((second.incidents_healed, second.copies_backfilled), (1, 0), "{second:?}");
    let healed =
        reconciler.alerts.incident_messages().iter().filter(|m| matches!(m, IncidentMessage::Healed { .. })).count();
    assert_eq!(healed, 1);
}

/// An incident's opening alert that neither its opener nor the sweep could send is an error of the
/// sweep, and goes out once on the next.
#[tokio::test]
async fn an_opening_alert_the_sweep_cannot_send_either_is_an_error_and_goes_out_on_the_next() {
    let reconciler = reconciler(RouteTable::default());
    let mut failed = generated_job(2);
    failed.status_message = Some(PATH_FAILURE.into());
    reconciler.backup.add_copy_job(failed.clone());
    // SNS refuses the opener, then the sweep twice: as it handles the failure again (its record
    // says not handled) and as it tells the open incidents.
    reconciler.alerts.fail_next(Call::PublishIncident, 3, transient_error("sns", "Publish", "Throttling"));
    let opener = event_path(&reconciler).handle_failure(&failed.id, None, &ClaimOwner::unique()).await;
    assert!(opener.is_err(), "{opener:?}");
    let later = Utc::now() + chrono::Duration::minutes(10);
    let first = reconciler.run(later, never_out_of_time()).await.unwrap();
    assert_eq!((first.incidents_opened, first.errors), (0, 2), "{first:?}");
    let second = reconciler.run(later, never_out_of_time()).await.unwrap();
    assert_eq!((second.incidents_opened, second.errors), (1, 0), "{second:?}");
    assert_eq!(reconciler.alerts.incident_messages().len(), 1);
}

/// Backfill copies whose COPY_JOB events were lost still make room: the sweep finds them ended in
/// their records and starts the next; the run that settles the last says the backfill finished.
#[tokio::test]
async fn a_backfill_goes_on_when_its_copies_events_are_lost_and_says_when_it_finished() {
    use vaultwatch::domain::RecoveryPointArn;
    let mut reconciler = reconciler(RouteTable::default());
    reconciler.retry.backfill.concurrency = 2;
    let settings = reconciler.retry.clone();
    let retrier =
        || Retrier::new(&reconciler.backup, &reconciler.store, &reconciler.alerts, &reconciler.queue, settings.clone());
    for n in 0..3 {
        let mut job = generated_job(2);
        job.id = copy_id(&format!("LOST-{n}"));
        job.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-lost{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        job.completed_at = Some(Utc::now() - chrono::Duration::hours(20));
        reconciler.backup.add_copy_job(job.clone());
        retrier().handle_failure(&job.id, None, &ClaimOwner::unique()).await.unwrap();
        if n == 0 {
            let mut next = completed_copy_of(&job, "LOST-NEXT");
            next.iam_role = job.iam_role.clone();
            next.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-lostnext")).unwrap();
            reconciler.backup.add_copy_job(next);
        }
    }
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().copies_backfilled, 2);
    // Both complete; their events never arrive. The next sweep records them and starts the third.
    let started: Vec<CopyJobId> =
        reconciler.backup.copy_jobs().into_iter().filter(|j| j.state == CopyJobState::Created).map(|j| j.id).collect();
    assert_eq!(started.len(), 2);
    for id in &started {
        reconciler.backup.set_copy_state(id, CopyJobState::Completed, None);
    }
    assert_eq!(reconciler.run(Utc::now(), never_out_of_time()).await.unwrap().copies_backfilled, 1);
    // The third ends (its event arrives): the backfill is finished, told once.
    let last = reconciler.backup.copy_jobs().into_iter().find(|j| j.state == CopyJobState::Created).unwrap();
    reconciler.backup.set_copy_state(&last.id, CopyJobState::Completed, None);
    let episode = reconciler.store.incidents()[0].id.digest();
    let run = retrier().backfiller().copy_ended(&episode, &last.id, &ClaimOwner::unique()).await.unwrap();
    assert_eq!((run.started, run.finished), (0, 1));
}

/// One backfill run over four affected recovery points: one deleted and one AWS Backup refuses for
/// good are named as not copied; one with a copy in another vault is still copied (only a copy in
/// this destination covers it); a passing refusal leaves its slot for the next run. Each started
/// copy's record carries what coverage reads of it.
#[tokio::test]
async fn a_backfill_run_names_what_it_cannot_copy_and_records_what_it_started() {
    use vaultwatch::domain::{Backfill, HealedBy, RecoveryPointArn};
    use vaultwatch::ports::memory::backup_error;
    use vaultwatch::ports::{ErrorClass, TrackingStore};
    let reconciler = reconciler(RouteTable::default());
    let retrier = event_path(&reconciler);
    let mut jobs = Vec::new();
    for n in 0..4 {
        let mut job = generated_job(2);
        job.id = copy_id(&format!("RUN-{n}"));
        job.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-run{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        reconciler.backup.add_copy_job(job.clone());
        retrier.handle_failure(&job.id, None, &ClaimOwner::unique()).await.unwrap();
        jobs.push(job);
    }
    reconciler.backup.set_recovery_point(&jobs[0].source_recovery_point, None);
    let mut elsewhere = completed_copy_of(&jobs[1], "ELSEWHERE-1");
    elsewhere.destination_vault = vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:eu");
    reconciler.backup.add_copy_job(elsewhere);
    let incident = reconciler.store.incidents().pop().unwrap();
    assert!(reconciler.store.heal_incident(&incident.id, &HealedBy::PathCheck, Utc::now()).await.unwrap());
    reconciler.store.open_backfill(&Backfill::of(&reconciler.store.incidents().pop().unwrap())).await.unwrap();

    // Slot 1 deleted; slot 2 started; slot 3 refused for good; slot 4: AWS Backup's limits, later.
    let refused = backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException");
    let throttled = backup_error("StartCopyJob", ErrorClass::Transient, "ThrottlingException");
    reconciler.backup.fail_after(Call::StartCopyJob, 1, 1, refused);
    reconciler.backup.fail_after(Call::StartCopyJob, 0, 1, throttled);
    let owner = ClaimOwner::unique();
    let run = retrier.backfiller().run(&owner).await.unwrap();
    assert_eq!((run.started, run.not_copyable, run.finished), (1, 2, 0), "{run:?}");
    let started =
        reconciler.backup.started_copies().into_iter().find(|c| c.token.as_str().starts_with("backfill-")).unwrap();
    assert_eq!(started.recovery_point, jobs[1].source_recovery_point, "a copy in another vault does not cover it");
    let job = reconciler
        .backup
        .copy_jobs()
        .into_iter()
        .find(|j| j.source_recovery_point == started.recovery_point && j.state == CopyJobState::Created)
        .unwrap();
    let record = record_of(&reconciler.store, &job.id).await;
    assert_eq!(record.details.source_recovery_point.as_ref(), Some(&jobs[1].source_recovery_point));
    assert_eq!(record.details.source_vault.as_ref(), Some(&jobs[1].source_vault));
    assert_eq!(record.details.destination_vault.as_ref(), Some(&jobs[1].destination_vault));
    assert_eq!((&record.details.resource, &record.details.resource_type), (&jobs[1].resource, &jobs[1].resource_type));
    assert_eq!(record.backfill_of, Some(incident.id.digest()));

    // The next run starts the slot the limits held back.
    let run = retrier.backfiller().run(&owner).await.unwrap();
    assert_eq!((run.started, run.not_copyable), (1, 0), "{run:?}");
}

/// Two healed incidents whose backfills copy into one vault, advanced by two runners at once (a
/// sweep and a retrier, say), each call to AWS Backup taking its time: the vault's claim lets one
/// runner start copies into it at a time, so no more than `BackfillConcurrency` are ever in flight
/// there, however the runners interleave; the other runner leaves the vault to it.
#[tokio::test(start_paused = true)]
async fn two_runners_backfilling_one_vault_keep_to_its_concurrency_together() {
    use vaultwatch::domain::{Backfill, HealedBy, IamRoleArn, RecoveryPointArn};
    let mut reconciler = reconciler(RouteTable::default());
    reconciler.retry.backfill.concurrency = 2;
    let retrier = event_path(&reconciler);
    for (path, role) in [("a", "arn:aws:iam::123456789012:role/copy"), ("b", "arn:aws:iam::123456789012:role/other")] {
        for n in 0..4 {
            let mut job = generated_job(2);
            job.id = copy_id(&format!("TWO-{path}{n}"));
            job.iam_role = Some(IamRoleArn::parse(role).unwrap());
            job.source_recovery_point = RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-two{path}{n}")).unwrap();
            job.status_message = Some(PATH_FAILURE.into());
            reconciler.backup.add_copy_job(job.clone());
            retrier.handle_failure(&job.id, None, &ClaimOwner::unique()).await.unwrap();
        }
    }
    let incidents = reconciler.store.incidents();
    assert_eq!(incidents.len(), 2, "two paths (two roles) into one vault");
    for incident in &incidents {
        assert!(reconciler.store.heal_incident(&incident.id, &HealedBy::PathCheck, Utc::now()).await.unwrap());
    }
    for incident in reconciler.store.incidents() {
        reconciler.store.open_backfill(&Backfill::of(&incident)).await.unwrap();
    }
    let slow = Hooked {
        inner: &reconciler.backup,
        hook: Latency {
            latency: Duration::from_millis(50),
            operations: &[Call::StartCopyJob, Call::DescribeRecoveryPoint, Call::ListCopyJobs],
        },
    };
    let settings = reconciler.retry.clone();
    let runner = || Retrier::new(&slow, &reconciler.store, &reconciler.alerts, &reconciler.queue, settings.clone());
    let (one, other) = (runner(), runner());
    let (first, second) = tokio::join!(async { one.backfiller().run(&ClaimOwner::unique()).await.unwrap() }, async {
        other.backfiller().run(&ClaimOwner::unique()).await.unwrap()
    });
    let in_flight = reconciler.backup.copy_jobs().into_iter().filter(|j| j.state == CopyJobState::Created).count();
    assert_eq!(in_flight, 2, "{first:?} {second:?}");
    assert_eq!(first.started + second.started, 2);
}
