//! Copy coverage: every (recovery point, required destination) gets one status that says why —
//! covered, copying, retrying n of m, failed (alerted or not yet), missing, not copyable, expired —
//! and the copy lag per destination region comes from the oldest uncovered one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use vaultwatch::domain::{
    coverage_of, CopyJob, CopyJobRecord, CopyJobState, CopyLedger, Coverage, CoverageStatus, CoverageSummary, Lineage,
    NotCopyable, RequiredBy, Requirement, SourceState, VaultName,
};
use vaultwatch::domain::{AlertKind, ClaimOutcome};
use vaultwatch_tests::*;

const MAX: u32 = 3;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap()
}

fn requirement() -> Requirement {
    let job = failed_copy_job();
    Requirement {
        recovery_point: job.source_recovery_point,
        backup_job: vaultwatch::domain::BackupJobId::parse(BACKUP_JOB).unwrap(),
        resource: None,
        source_vault: VaultName::parse("primary").unwrap(),
        source_vault_arn: vault(SOURCE_VAULT),
        resource_type: Some("EBS".into()),
        completed_at: at(1),
        destination: job.destination_vault,
        required_by: RequiredBy::Route,
    }
}

/// A listed copy job and vaultwatch's record of it.
#[derive(Clone)]
struct Seen {
    job: CopyJob,
    record: Option<CopyJobRecord>,
}

/// A copy job of the requirement's recovery point, in `state`, optionally vaultwatch's retry `attempt`.
fn attempt(id: &str, state: CopyJobState, retry: Option<u32>) -> Seen {
    let mut job: CopyJob = failed_copy_job();
    job.id = copy_id(id);
    job.state = state;
    job.completed_at = state.is_terminal().then(|| at(2));
    if state != CopyJobState::Failed {
        job.status_message = None;
    }
    let record = retry.map(|attempt| CopyJobRecord {
        lineage: Some(Lineage { root: copy_id("ROOT"), attempt, retry_of: None }),
        ..CopyJobRecord::default()
    });
    Seen { job, record }
}

/// The requirement's status after a listing of these jobs (through the ledger, as sweeps and reports do).
fn status(seen: &[Seen], source: SourceState) -> CoverageStatus {
    status_under(seen, source, MAX)
}

fn status_under(seen: &[Seen], source: SourceState, max_attempts: u32) -> CoverageStatus {
    let mut ledger = CopyLedger::default();
    for Seen { job, record } in seen {
        ledger.observe(job, record.as_ref());
    }
    let r = requirement();
    coverage_of(ledger.attempts(&r.recovery_point, &r.destination), &source, max_attempts)
}

#[test]
fn a_completed_copy_covers_the_recovery_point_whatever_failed_before() {
    let mut done = attempt("DONE", CopyJobState::Completed, Some(1));
    let copy = vault(DR_VAULT).as_str().replace("backup-vault:dr-copy", "recovery-point:COPY-1");
    done.job.destination_recovery_point = Some(vaultwatch::domain::RecoveryPointArn::parse(&copy).unwrap());
    let covered = status(&[attempt("FIRST", CopyJobState::Failed, None), done], SourceState::Copyable);
    assert_eq!(
        covered,
        CoverageStatus::Covered {
            copy_job: copy_id("DONE"),
            destination_recovery_point: Some(vaultwatch::domain::RecoveryPointArn::parse(&copy).unwrap()),
            at: Some(at(2)),
            stored_in: None,
        }
    );
    assert!(!covered.is_uncovered());
    assert!(covered.to_string().starts_with("covered by arn:aws:backup:us-west-2"), "{covered}");
}

/// Issue 21 item 11: what AWS reports of the destination (listings carry it, notifications do not)
/// shows on the covered row, in words and in the JSON as AWS spells it.
#[test]
fn a_copy_into_a_locked_air_gapped_vault_says_so_on_its_covered_row() {
    use vaultwatch::domain::{Destination, KmsKeyArn, VaultLockState, VaultType};
    let mut done = attempt("DONE", CopyJobState::Completed, None);
    let key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    done.job.destination = Destination {
        vault_type: Some(VaultType::LogicallyAirGapped),
        lock_state: Some(VaultLockState::Locked),
        encryption_key: Some(KmsKeyArn::parse(key).unwrap()),
    };
    let covered = status(&[done], SourceState::Copyable);
    assert!(covered.to_string().ends_with("(logically air-gapped, locked)"), "{covered}");
    let json = serde_json::to_value(&covered).unwrap();
    assert_eq!(
        json["storedIn"],
        serde_json::json!({
            "vaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT", "lockState": "LOCKED", "encryptionKeyArn": key
        })
    );
    // A failed copy's destination is not a covered row's: nothing is kept for it.
    let mut failed = attempt("FAILED", CopyJobState::Failed, None);
    failed.job.destination.vault_type = Some(VaultType::LogicallyAirGapped);
    assert!(!status(&[failed], SourceState::Copyable).to_string().contains("air-gapped"));
}

#[test]
fn a_first_copy_under_way_is_copying_a_retry_under_way_is_retrying_n_of_m() {
    assert_eq!(
        status(&[attempt("FIRST", CopyJobState::Running, None)], SourceState::Copyable),
        CoverageStatus::Copying { copy_job: copy_id("FIRST") }
    );
    let retrying = status(
        &[attempt("FIRST", CopyJobState::Failed, Some(0)), attempt("RETRY", CopyJobState::Created, Some(2))],
        SourceState::Copyable,
    );
    assert_eq!(retrying, CoverageStatus::Retrying { attempt: 2, of: MAX });
    assert_eq!(retrying.to_string(), "retrying (attempt 2 of 3)");
}

#[test]
fn a_failure_with_a_retry_scheduled_is_retrying_the_next_attempt() {
    let mut failed = attempt("FIRST", CopyJobState::Failed, Some(1));
    failed.record.as_mut().unwrap().outcome = retry_scheduled(2);
    assert_eq!(status(&[failed], SourceState::Copyable), CoverageStatus::Retrying { attempt: 2, of: MAX });
}

/// A failed attempt of the chain, with AWS's message and vaultwatch's record of it.
fn failed_with(id: &str, message: &str, attempt_number: u32, outcome: ClaimOutcome) -> Seen {
    let mut failed = attempt(id, CopyJobState::Failed, Some(attempt_number));
    failed.job.status_message = Some(message.to_owned());
    failed.job.message_category = None;
    failed.record.as_mut().unwrap().outcome = outcome;
    failed
}

#[test]
fn a_retry_counts_to_the_last_attempt_its_failures_class_allows() {
    use vaultwatch::domain::CONGESTION_LAST_ATTEMPT;
    let congested = "There are too many copy jobs running for resource.";
    // A congested chain at retry 9 (its budget runs to 128), under way or scheduled.
    let running = status(
        &[failed_with("R8", congested, 8, retry_scheduled(9)), attempt("R9", CopyJobState::Running, Some(9))],
        SourceState::Copyable,
    );
    assert_eq!(running, CoverageStatus::Retrying { attempt: 9, of: CONGESTION_LAST_ATTEMPT });
    assert_eq!(running.to_string(), "retrying (attempt 9 of 128)");
    let scheduled = status(&[failed_with("R8", congested, 8, retry_scheduled(9))], SourceState::Copyable);
    assert_eq!(scheduled, CoverageStatus::Retrying { attempt: 9, of: CONGESTION_LAST_ATTEMPT });
    // An unrecognised failure gets one retry; a passing one the policy's three.
    let unrecognised = "Something nobody has seen before";
    let once = status(
        &[failed_with("FIRST", unrecognised, 0, retry_scheduled(1)), attempt("R1", CopyJobState::Created, Some(1))],
        SourceState::Copyable,
    );
    assert_eq!(once.to_string(), "retrying (attempt 1 of 1)");
    let unrecognised_scheduled =
        status(&[failed_with("FIRST", unrecognised, 0, retry_scheduled(1))], SourceState::Copyable);
    assert_eq!(unrecognised_scheduled, CoverageStatus::Retrying { attempt: 1, of: 1 });
    let passing = "Copy job failed because the destination backup vault is being modified. Try again later.";
    let transient = status(&[failed_with("R1", passing, 1, retry_scheduled(2))], SourceState::Copyable);
    assert_eq!(transient, CoverageStatus::Retrying { attempt: 2, of: MAX });
    // The configured MaxAttempts, whatever it is, caps a passing failure's chain.
    let configured = status_under(&[failed_with("R1", passing, 1, retry_scheduled(2))], SourceState::Copyable, 7);
    assert_eq!(configured, CoverageStatus::Retrying { attempt: 2, of: 7 });
    // The failure before it not listed: only congestion carries a chain past max_attempts.
    let unknown = status(&[attempt("R9", CopyJobState::Running, Some(9))], SourceState::Copyable);
    assert_eq!(unknown, CoverageStatus::Retrying { attempt: 9, of: CONGESTION_LAST_ATTEMPT });
}

#[test]
fn a_failure_alerted_as_not_copyable_is_not_copyable_with_the_alerts_reason() {
    use vaultwatch::domain::AlertReason;
    let reason = AlertReason::NotCopyable(NotCopyable::ColdStorage);
    let outcome = ClaimOutcome::alerted(&reason);
    let passing = "Copy job failed because the destination backup vault is being modified. Try again later.";
    let cold = status(&[failed_with("LAST", passing, 1, outcome)], SourceState::Copyable);
    assert_eq!(
        cold,
        CoverageStatus::NotCopyable { why: "not copyable: in cold storage".into(), copy_job: Some(copy_id("LAST")) }
    );
    assert_eq!(cold.name(), "not copyable");
    assert!(cold.to_string().starts_with(&reason.detail()), "{cold}");
    assert!(!cold.is_uncovered(), "nothing to wait for: the copy cannot be made");
    let json = serde_json::to_value(&cold).unwrap();
    assert_eq!((json["status"].as_str(), json["why"].as_str()), (Some("notCopyable"), Some(reason.detail().as_str())));
    assert_eq!(json["copyJob"], "LAST");
    // Without a copy job the row has no copyJob member.
    let never = serde_json::to_value(status(&[], SourceState::NotCopyable(NotCopyable::Continuous))).unwrap();
    assert!(never.get("copyJob").is_none(), "{never}");
}

#[test]
fn a_failure_nothing_will_retry_is_failed_with_aws_reason_and_whether_it_was_alerted() {
    let mut alerted = attempt("LAST", CopyJobState::Failed, Some(3));
    alerted.record.as_mut().unwrap().outcome = vaultwatch_tests::alerted(AlertKind::AttemptsExhausted);
    // The latest attempt decides, whatever order the listing gives them in.
    let reversed = status(&[alerted.clone(), attempt("FIRST", CopyJobState::Failed, Some(0))], SourceState::Copyable);
    assert!(
        matches!(&reversed, CoverageStatus::Failed { copy_job, .. } if copy_job == &copy_id("LAST")),
        "{reversed:?}"
    );
    let failed = status(&[attempt("FIRST", CopyJobState::Failed, Some(0)), alerted], SourceState::Copyable);
    let CoverageStatus::Failed { copy_job, reason, alerted, .. } = &failed else { panic!("{failed:?}") };
    assert_eq!((copy_job, *alerted), (&copy_id("LAST"), true));
    assert_eq!(reason, failed_copy_job().status_message.as_deref().unwrap());
    assert!(failed.is_uncovered() && failed.to_string().starts_with("failed (alerted): "), "{failed}");

    // Not handled yet (the retrier or the next sweep will): failed, alert pending.
    let pending = status(&[attempt("FIRST", CopyJobState::Failed, None)], SourceState::Copyable);
    assert!(matches!(pending, CoverageStatus::Failed { alerted: false, .. }), "{pending:?}");
    assert!(pending.to_string().starts_with("failed (alert pending)"));

    // Counted in its path's incident: alerted there, and named (as `vaultwatch paths` names the path broken).
    let mut counted = attempt("PATH", CopyJobState::Failed, Some(0));
    counted.record.as_mut().unwrap().outcome =
        ClaimOutcome { incident: Some("incident-0123456789ab".into()), ..ClaimOutcome::default() };
    let in_incident = status(&[counted], SourceState::Copyable);
    assert!(
        matches!(&in_incident, CoverageStatus::Failed { alerted: true, incident: Some(thread), .. } if thread == "incident-0123456789ab"),
        "{in_incident:?}"
    );
    assert!(in_incident.to_string().starts_with("failed (path broken, incident-0123456789ab): "), "{in_incident}");
}

#[test]
fn without_any_copy_job_the_source_decides_missing_not_copyable_or_expired() {
    assert_eq!(status(&[], SourceState::Copyable), CoverageStatus::Missing);
    assert!(CoverageStatus::Missing.is_uncovered());
    let continuous = status(&[], SourceState::NotCopyable(NotCopyable::Continuous));
    assert_eq!(
        continuous,
        CoverageStatus::NotCopyable { why: "not copyable: continuous backup".into(), copy_job: None }
    );
    assert!(!continuous.is_uncovered());
    assert_eq!(status(&[], SourceState::NotCopyable(NotCopyable::ColdStorage)).name(), "not copyable");
    assert_eq!(status(&[], SourceState::Gone), CoverageStatus::Expired);
    assert!(!CoverageStatus::Expired.is_uncovered());
}

#[test]
fn copies_of_other_recovery_points_or_destinations_do_not_count() {
    let mut elsewhere = attempt("OTHER", CopyJobState::Completed, None);
    elsewhere.job.destination_vault = vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:eu");
    let mut other_point = attempt("OTHER2", CopyJobState::Completed, None);
    other_point.job.source_recovery_point =
        vaultwatch::domain::RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:ELSE")
            .unwrap();
    assert_eq!(status(&[elsewhere, other_point], SourceState::Copyable), CoverageStatus::Missing);
}

#[test]
fn the_lag_is_the_age_of_the_oldest_uncovered_requirement_per_destination_region() {
    let now = at(13);
    let row = |hour: u32, destination: &str, status: CoverageStatus| Coverage {
        requirement: Requirement { completed_at: at(hour), destination: vault(destination), ..requirement() },
        status,
    };
    let eu = "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu";
    let rows = [
        row(1, DR_VAULT, CoverageStatus::Expired),
        row(2, DR_VAULT, CoverageStatus::NotCopyable { why: "not copyable: continuous backup".into(), copy_job: None }),
        row(
            3,
            DR_VAULT,
            CoverageStatus::Covered {
                copy_job: copy_id("C"),
                destination_recovery_point: None,
                at: None,
                stored_in: None,
            },
        ),
        row(4, DR_VAULT, CoverageStatus::Missing),
        row(9, DR_VAULT, CoverageStatus::Copying { copy_job: copy_id("R") }),
        row(10, eu, CoverageStatus::Retrying { attempt: 1, of: MAX }),
        row(
            12,
            eu,
            CoverageStatus::Failed { copy_job: copy_id("F"), reason: "x".into(), alerted: true, incident: None },
        ),
    ];
    let summary = CoverageSummary::of(&rows, now);
    assert_eq!(summary.uncovered(), 4);
    assert_eq!(summary.by_status["covered"], 1);
    assert_eq!(summary.by_status["not copyable"], 1);
    assert_eq!(summary.by_status["expired"], 1);
    let hours = |h: i64| Duration::hours(h).num_seconds();
    assert_eq!(summary.oldest_uncovered_seconds["us-west-2"], hours(9), "the missing one of 04:00");
    assert_eq!(summary.oldest_uncovered_seconds["eu-west-1"], hours(3));
    // Nothing uncovered: no lag for the region at all (not a zero that hides it).
    let covered = CoverageSummary::of(&rows[..3], now);
    assert!(covered.oldest_uncovered_seconds.is_empty() && covered.uncovered() == 0);
}

#[test]
fn a_coverage_row_serialises_flat_for_json_and_csv_reports() {
    let row = Coverage { requirement: requirement(), status: CoverageStatus::Retrying { attempt: 1, of: MAX } };
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["status"], "retrying");
    assert_eq!(json["attempt"], 1);
    assert_eq!(json["requiredBy"], "route");
    assert_eq!(json["destination"], DR_VAULT);
}

// ---------------------------------------------------------------- the report over the ports

mod report {
    use chrono::{Duration, Utc};
    use serde_json::json;
    use vaultwatch::domain::{
        BackupJob, BackupJobId, BackupJobState, ClaimKind, CopyDetails, CopyJobState, CoverageStatus, Lineage,
        PlanRuleRef, RecoveryPointArn, RequiredBy, RouteTable, StartedCopy,
    };
    use vaultwatch::handlers::coverage::{CoverageAssessor, CoverageQuery};
    use vaultwatch::ports::memory::{MemoryBackup, MemoryStore};
    use vaultwatch::ports::TrackingStore;
    use vaultwatch_tests::*;

    const EU: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu-archive";

    fn point(name: &str) -> RecoveryPointArn {
        RecoveryPointArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:recovery-point:{name}")).unwrap()
    }

    fn completed(name: &str, hours_ago: i64, rule: Option<PlanRuleRef>) -> BackupJob {
        BackupJob {
            id: BackupJobId::parse(&format!("BACKUP-{name}")).unwrap(),
            state: BackupJobState::Completed,
            recovery_point: Some(point(name)),
            vault: vault(SOURCE_VAULT),
            resource: None,
            resource_type: Some("EBS".into()),
            parent_job: None,
            completed_at: Some(Utc::now() - Duration::hours(hours_ago)),
            created_by: rule,
            lifecycle: None,
        }
    }

    fn copy(id: &str, of: &str, to: &str, state: CopyJobState) -> vaultwatch::domain::CopyJob {
        let mut job = failed_copy_job();
        job.id = copy_id(id);
        job.source_recovery_point = point(of);
        job.destination_vault = vault(to);
        job.state = state;
        job.completed_at = state.is_terminal().then(Utc::now);
        job
    }

    /// Six backups of `primary` (routed to the DR vault), one of them made by a plan rule that also
    /// copies to the EU vault, and the copies each one has.
    async fn assessor() -> CoverageAssessor<MemoryBackup, MemoryStore> {
        let backup = MemoryBackup::new();
        let store = MemoryStore::new();
        let rule = failed_copy_job().created_by.unwrap();
        backup.add_copy_action(&rule, &vault(EU), None);
        backup.add_backup_job(completed("COVERED", 30, Some(rule.clone())));
        backup.add_copy_job(copy("C-DONE", "COVERED", DR_VAULT, CopyJobState::Completed));
        backup.add_backup_job(completed("ALERTED", 20, None));
        backup.add_copy_job(copy("C-FAILED", "ALERTED", DR_VAULT, CopyJobState::Failed));
        let (id, owner) = (copy_id("C-FAILED"), vaultwatch::domain::ClaimOwner::unique());
        store
            .claim(&id, ClaimKind::FailureHandling, &owner, Utc::now(), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        store
            .finish_claim(
                &id,
                ClaimKind::FailureHandling,
                &owner,
                &alerted(vaultwatch::domain::AlertKind::PermanentFailure),
                None,
            )
            .await
            .unwrap();
        backup.add_backup_job(completed("RETRYING", 10, None));
        backup.add_copy_job(copy("C-FIRST", "RETRYING", DR_VAULT, CopyJobState::Failed));
        backup.add_copy_job(copy("C-RETRY", "RETRYING", DR_VAULT, CopyJobState::Running));
        let lineage = Lineage { root: copy_id("C-FIRST"), attempt: 2, retry_of: Some(copy_id("C-FIRST")) };
        let started = StartedCopy {
            id: copy_id("C-RETRY"),
            details: CopyDetails::default(),
            lineage,
            lifecycle: None,
            at: Utc::now(),
            backfill_of: None,
        };
        store.record_started(&started).await.unwrap();
        backup.add_backup_job(completed("GONE", 5, None));
        backup.set_recovery_point(&point("GONE"), None);
        backup.add_backup_job(completed("MISSING", 3, None));
        let mut continuous = completed("CONT", 2, None);
        continuous.recovery_point = Some(point("continuous:EBS-1"));
        backup.add_backup_job(continuous);
        let mut nested = completed("NESTED", 1, None);
        nested.parent_job = Some(BackupJobId::parse("BACKUP-COVERED").unwrap());
        backup.add_backup_job(nested);
        let routes = json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string();
        CoverageAssessor { backup, store, routes: RouteTable::from_json(&routes).unwrap(), max_attempts: 3 }
    }

    #[tokio::test]
    async fn every_required_destination_of_every_backup_gets_its_status() {
        let assessor = assessor().await;
        let query = CoverageQuery { since: Utc::now() - Duration::days(7), vault: None };
        let report = assessor.report(&query, Utc::now()).await.unwrap();
        let rows: Vec<(String, &str, &str, RequiredBy)> = report
            .rows
            .iter()
            .map(|row| {
                let name = row.requirement.recovery_point.as_str().rsplit("recovery-point:").next().unwrap().to_owned();
                (name, row.requirement.destination.region(), row.status.name(), row.requirement.required_by.clone())
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("COVERED".into(), "eu-west-1", "missing", RequiredBy::PlanRule),
                ("COVERED".into(), "us-west-2", "covered", RequiredBy::Route),
                ("ALERTED".into(), "us-west-2", "failed", RequiredBy::Route),
                ("RETRYING".into(), "us-west-2", "retrying", RequiredBy::Route),
                ("GONE".into(), "us-west-2", "expired", RequiredBy::Route),
                ("MISSING".into(), "us-west-2", "missing", RequiredBy::Route),
                ("continuous:EBS-1".into(), "us-west-2", "not copyable", RequiredBy::Route),
            ],
            "the nested job has no row of its own"
        );
        assert!(matches!(report.rows[2].status, CoverageStatus::Failed { alerted: true, .. }), "{:?}", report.rows[2]);
        assert_eq!(report.rows[3].status, CoverageStatus::Retrying { attempt: 2, of: 3 });
        assert_eq!(report.summary.uncovered(), 4);
        let oldest = report.summary.oldest_uncovered_seconds["us-west-2"];
        assert!((20 * 3600..21 * 3600).contains(&oldest), "the alerted failure of 20 hours ago: {oldest}");
        assert!(report.summary.oldest_uncovered_seconds["eu-west-1"] >= 30 * 3600);
        // Read-only, and DescribeRecoveryPoint only for the rows that had no copy at all.
        assert!(assessor.backup.started_copies().is_empty());
        assert_eq!(assessor.backup.calls(Call::DescribeRecoveryPoint), 3);
        assert_eq!(assessor.store.calls(Call::GetMany), 1, "one batch read of the records that matter");
    }

    #[tokio::test]
    async fn alert_coverage_and_metrics_agree_on_a_copy_whose_source_went_cold() {
        use vaultwatch::domain::{AlertReason, NotCopyable, RecoveryPoint, StorageClass};
        use vaultwatch::metrics::{Measured, Measurements, Metric};
        let backup = MemoryBackup::new();
        let job = failed_copy_job();
        backup.add_copy_job(job.clone());
        let cold = RecoveryPoint {
            arn: job.source_recovery_point.clone(),
            storage_class: Some(StorageClass::Cold),
            status: Some("COMPLETED".into()),
            moves_to_cold_at: None,
            deleted_at: None,
            created_at: None,
        };
        backup.set_recovery_point(&job.source_recovery_point, Some(cold));
        let retrier = memory_retrier(backup);
        let handled = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
        let alerts = retrier.alerts.published();
        let [alert] = alerts.as_slice() else { panic!("{alerts:?}") };
        assert_eq!(alert.reason, AlertReason::NotCopyable(NotCopyable::ColdStorage));
        let mut measured = Measurements::default();
        handled.measure(&mut measured);
        assert_eq!(measured.get(Metric::NotCopyable, None), Some(1.0), "the alert's cause");
        assert_eq!(measured.get(Metric::PermanentFailures, None), None);

        // The report over the same AWS Backup and tracking table says what the alert said.
        let mut made = completed("COLD", 2, None);
        made.recovery_point = Some(job.source_recovery_point.clone());
        made.vault = job.source_vault.clone();
        retrier.backup.add_backup_job(made);
        let route = json!([{
            "sourceVault": job.source_vault.vault_name().to_string(),
            "destinationVaultArn": job.destination_vault.as_str(),
        }]);
        let assessor = CoverageAssessor {
            backup: &retrier.backup,
            store: &retrier.store,
            routes: RouteTable::from_json(&route.to_string()).unwrap(),
            max_attempts: 3,
        };
        let query = CoverageQuery { since: Utc::now() - Duration::days(7), vault: None };
        let report = assessor.report(&query, Utc::now()).await.unwrap();
        let [row] = report.rows.as_slice() else { panic!("{:?}", report.rows) };
        let expected = CoverageStatus::NotCopyable { why: alert.reason.detail(), copy_job: Some(job.id.clone()) };
        assert_eq!(row.status, expected);
        assert_eq!(serde_json::to_value(row).unwrap()["status"], "notCopyable");
        assert_eq!(report.summary.uncovered(), 0, "not counted as a copy still owed");
    }

    #[tokio::test]
    async fn the_report_lists_the_windows_copies_in_full_pages_and_counts_what_it_could_not_read() {
        let assessor = assessor().await;
        let unreadable =
            |id: &str| vaultwatch::ports::Unreadable { id: Some(id.into()), copy: None, problem: "lacks State".into() };
        assessor.backup.add_unreadable_copy_job(unreadable("COPY-BROKEN"));
        assessor.backup.add_unreadable_backup_job(unreadable("BACKUP-BROKEN"));
        let since = Utc::now() - Duration::days(7);
        let report = assessor.report(&CoverageQuery { since, vault: None }, Utc::now()).await.unwrap();
        assert_eq!(report.unreadable, 2);
        let queries = assessor.backup.copy_job_queries();
        assert_eq!((queries[0].created_after, queries[0].max_results), (Some(since), Some(1000)));
    }

    #[tokio::test]
    async fn a_report_for_one_vault_lists_only_its_backups() {
        let assessor = assessor().await;
        let query = CoverageQuery {
            since: Utc::now() - Duration::days(7),
            vault: Some(vaultwatch::domain::VaultName::parse("other").unwrap()),
        };
        let report = assessor.report(&query, Utc::now()).await.unwrap();
        assert!(report.rows.is_empty() && report.summary.uncovered() == 0);
    }
}

mod ledger {
    use chrono::{Duration, Utc};
    use vaultwatch::domain::{CopyJobRecord, CopyJobState, CopyLedger};
    use vaultwatch_tests::*;

    use super::{attempt, requirement};

    #[test]
    fn the_ledger_keeps_the_latest_attempt_of_each_kind_and_the_first_on_a_tie() {
        let mut ledger = CopyLedger::default();
        let mut later = attempt("LATER", CopyJobState::Failed, None);
        later.job.completed_at = Some(Utc::now());
        let mut earlier = attempt("EARLIER", CopyJobState::Failed, None);
        earlier.job.completed_at = Some(Utc::now() - Duration::hours(1));
        let mut tie = attempt("TIE", CopyJobState::Failed, None);
        tie.job.completed_at = later.job.completed_at;
        for seen in [later, earlier, tie] {
            ledger.observe(&seen.job, seen.record.as_ref());
        }
        let r = requirement();
        let kept: Vec<&str> =
            ledger.attempts(&r.recovery_point, &r.destination).iter().map(|a| a.job.as_str()).collect();
        assert_eq!(kept, ["LATER"]);
    }

    #[test]
    fn records_are_wanted_only_for_unfinished_or_failed_attempts_without_one() {
        let r = requirement();
        let mut ledger = CopyLedger::default();
        let done = attempt("DONE", CopyJobState::Completed, None);
        ledger.observe(&done.job, None);
        let recorded = attempt("RECORDED", CopyJobState::Failed, None);
        ledger.observe(&recorded.job, Some(&CopyJobRecord::default()));
        assert!(ledger.records_wanted([&r]).is_empty(), "a completed copy needs none; a recorded one has it");
        let mut ledger = CopyLedger::default();
        let running = attempt("RUNNING", CopyJobState::Running, None);
        ledger.observe(&running.job, None);
        assert_eq!(ledger.records_wanted([&r]), [copy_id("RUNNING")]);
    }

    #[test]
    fn records_are_added_only_where_a_status_reads_them_and_none_is_kept() {
        use std::collections::HashMap;
        use vaultwatch::domain::Lineage;
        let at_attempt = |attempt| CopyJobRecord {
            lineage: Some(Lineage { root: copy_id("ROOT"), attempt, retry_of: None }),
            ..CopyJobRecord::default()
        };
        let r = requirement();
        let mut ledger = CopyLedger::default();
        let (done, running) =
            (attempt("DONE", CopyJobState::Completed, None), attempt("RUNNING", CopyJobState::Running, None));
        let failed = attempt("FAILED", CopyJobState::Failed, None);
        ledger.observe(&done.job, None);
        ledger.observe(&running.job, Some(&at_attempt(3)));
        ledger.observe(&failed.job, None);
        let records = HashMap::from([
            (copy_id("DONE"), at_attempt(1)),
            (copy_id("RUNNING"), at_attempt(9)),
            (copy_id("FAILED"), at_attempt(2)),
        ]);
        ledger.add_records(&records);
        let kept: Vec<(&str, Option<u32>)> = ledger
            .attempts(&r.recovery_point, &r.destination)
            .iter()
            .map(|a| (a.job.as_str(), a.record.as_ref().map(|record| record.attempt)))
            .collect();
        // A completed copy's record would add nothing; the one an attempt was listed with stays.
        assert_eq!(kept, [("DONE", None), ("RUNNING", Some(3)), ("FAILED", Some(2))]);
    }
}
