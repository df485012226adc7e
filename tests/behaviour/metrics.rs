//! The metrics each function writes count what its outcome reports: copies started per destination
//! region, retries scheduled and started, alerts and their causes, rejected and malformed
//! notifications, and the reconciler's repairs and coverage. Measured from real handler outcomes.

use serde_json::json;
use vaultwatch::domain::{CopyJobState, IamRoleArn, RouteTable, SourcePolicy};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::retrier::Retrier;
use vaultwatch::metrics::{Measured, Measurements, Metric};
use vaultwatch::ports::memory::{MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch_tests::*;

type TestRetrier = Retrier<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue>;

fn measured(outcome: &impl Measured) -> Measurements {
    let mut measurements = Measurements::default();
    outcome.measure(&mut measurements);
    measurements
}

fn retrier() -> TestRetrier {
    let backup = MemoryBackup::new();
    backup.add_copy_job(failed_copy_job());
    memory_retrier(backup)
}

#[tokio::test]
async fn the_copier_counts_copies_started_per_destination_region() {
    let routes = json!([
        { "sourceVault": "primary", "destinationVaultArn": DR_VAULT },
        { "sourceVault": "primary", "destinationVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu" },
    ]);
    let backup = MemoryBackup::new();
    backup.add_backup_job(backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json")));
    let copier = Copier {
        backup,
        routes: RouteTable::from_json(&routes.to_string()).unwrap(),
        copy_role: IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap(),
        sources: SourcePolicy::default(),
    };
    let m = measured(&copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap());
    assert_eq!(m.get(Metric::CopiesStarted, Some("us-west-2")), Some(1.0));
    assert_eq!(m.get(Metric::CopiesStarted, Some("eu-west-1")), Some(1.0));
    assert_eq!(m.get(Metric::CopiesStarted, None), None, "per region only");
}

#[tokio::test]
async fn the_retrier_counts_retries_scheduled_and_started_and_alerts_by_cause() {
    let retrier = retrier();
    let failed = retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert_eq!(measured(&failed).get(Metric::RetriesScheduled, None), Some(1.0));
    let started = retrier.handle(&due_retries(&retrier.queue)).await.unwrap();
    let m = measured(&started);
    assert_eq!(m.get(Metric::RetriesStarted, None), Some(1.0));
    assert_eq!(m.get(Metric::AlertsSent, None), None);

    // A duplicate delivery does nothing, and measures nothing.
    let again = retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap();
    assert!(measured(&again).is_empty());

    let retrier = self::retrier();
    retrier.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some(POINT_FAILURE));
    let m = measured(&retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap());
    assert_eq!((m.get(Metric::AlertsSent, None), m.get(Metric::PermanentFailures, None)), (Some(1.0), Some(1.0)));
    assert_eq!((m.get(Metric::ChainsExhausted, None), m.get(Metric::NotCopyable, None)), (None, None));

    // A failure of the path: counted in its incident; the alert that opens it is an alert too.
    let retrier = self::retrier();
    retrier.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some(PATH_FAILURE));
    let m = measured(&retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap());
    assert_eq!((m.get(Metric::PathFailures, None), m.get(Metric::IncidentsOpened, None)), (Some(1.0), Some(1.0)));
    assert_eq!((m.get(Metric::AlertsSent, None), m.get(Metric::PermanentFailures, None)), (Some(1.0), None));

    // A source AWS Backup cannot copy: counted as that, as coverage lists it (`notCopyable`).
    let retrier = self::retrier();
    let point = vaultwatch::domain::RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    retrier.backup.set_recovery_point(&point, None);
    let m = measured(&retrier.handle(&copy_event("FAILED", FAILED_COPY_JOB)).await.unwrap());
    assert_eq!((m.get(Metric::AlertsSent, None), m.get(Metric::NotCopyable, None)), (Some(1.0), Some(1.0)));
    assert_eq!(m.get(Metric::PermanentFailures, None), None);
}

#[tokio::test]
async fn an_exhausted_chain_counts_as_such_not_as_a_permanent_failure() {
    let retrier = retrier();
    let mut failing = copy_id(FAILED_COPY_JOB);
    for _ in 1..=3 {
        retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap();
        retrier.handle(&due_retries(&retrier.queue)).await.unwrap();
        let next = retrier.store.record(&failing).unwrap().retried_by.unwrap();
        retrier.backup.set_copy_state(&next, CopyJobState::Failed, Some(PASSING_FAILURE));
        failing = next;
    }
    let m = measured(&retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap());
    assert_eq!((m.get(Metric::AlertsSent, None), m.get(Metric::ChainsExhausted, None)), (Some(1.0), Some(1.0)));
    assert_eq!(m.get(Metric::PermanentFailures, None), None);
}

#[tokio::test]
async fn a_congested_chain_told_counts_an_alert_and_a_retry_not_an_end() {
    use vaultwatch::domain::CONGESTION_ATTEMPTS;
    let retrier = retrier();
    let mut failing = copy_id(FAILED_COPY_JOB);
    retrier.backup.set_copy_state(&failing, CopyJobState::Failed, Some(LIMIT_FAILURE));
    for _ in 1..=CONGESTION_ATTEMPTS {
        retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap();
        retrier.handle(&due_retries(&retrier.queue)).await.unwrap();
        failing = retrier.store.record(&failing).unwrap().retried_by.unwrap();
        retrier.backup.set_copy_state(&failing, CopyJobState::Failed, Some(LIMIT_FAILURE));
    }
    let m = measured(&retrier.handle(&copy_event("FAILED", failing.as_str())).await.unwrap());
    assert_eq!((m.get(Metric::AlertsSent, None), m.get(Metric::RetriesScheduled, None)), (Some(1.0), Some(1.0)));
    assert_eq!((m.get(Metric::ChainsExhausted, None), m.get(Metric::PermanentFailures, None)), (None, None));
}

#[tokio::test]
async fn rejected_and_malformed_notifications_are_counted() {
    let retrier = retrier();
    let mut spoofed = copy_event("FAILED", FAILED_COPY_JOB);
    spoofed["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:us-east-1:999999999999:not-ours");
    let trusted = Retrier {
        settings: vaultwatch::handlers::retrier::RetrierSettings {
            sources: SourcePolicy::parse("arn:aws:sns:us-east-1:123456789012:backup-vault-events", "").unwrap(),
            ..retrier.settings.clone()
        },
        ..retrier
    };
    let m = measured(&trusted.handle(&spoofed).await.unwrap());
    assert_eq!(m.get(Metric::NotificationsRejected, None), Some(1.0));

    let err = trusted.handle(&json!({ "Records": "not a list" })).await.unwrap_err();
    assert_eq!(measured(&err).get(Metric::MalformedNotifications, None), Some(1.0));
}

#[test]
fn a_batch_counts_its_malformed_records_and_only_those() {
    use vaultwatch::handlers::HandlerError;
    use vaultwatch::notification::ParseError;
    let malformed = || Box::new(HandlerError::Parse(ParseError::TooLarge { at: "Records[0]".into() }));
    let batch = HandlerError::Records { failed: 2, total: 3, first: malformed() };
    assert_eq!(measured(&batch).get(Metric::MalformedNotifications, None), Some(2.0));
    let aws = vaultwatch::ports::memory::transient_error("dynamodb", "UpdateItem", "ThrottlingException");
    let other = HandlerError::Records { failed: 2, total: 3, first: Box::new(HandlerError::Aws(aws)) };
    assert!(measured(&other).is_empty(), "not malformed: nothing counted");
}

#[test]
fn the_reconciler_counts_refused_routed_copies_among_the_alerts_it_sent() {
    let summary = vaultwatch::handlers::reconciler::Summary { alerted: 2, refused: 1, ..Default::default() };
    assert_eq!(measured(&summary).get(Metric::AlertsSent, None), Some(3.0));
    // An opened incident's alert is one too.
    let with_incident =
        vaultwatch::handlers::reconciler::Summary { alerted: 2, refused: 1, incidents_opened: 1, ..Default::default() };
    assert_eq!(measured(&with_incident).get(Metric::AlertsSent, None), Some(4.0));
}

/// A sweep measures its gauges only when they have something to say: broken paths and uncovered
/// recovery points when there are some, a lag per region where a copy waits (even under a second).
#[test]
fn a_sweep_measures_its_gauges_only_when_they_have_something_to_say() {
    use vaultwatch::domain::CoverageSummary;
    use vaultwatch::handlers::organization::AccountCoverage;
    use vaultwatch::handlers::reconciler::{OrganizationSummary, Summary};

    let covered = CoverageSummary { by_status: [("covered", 5)].into(), ..Default::default() };
    let quiet = Summary {
        broken_paths: Some(0),
        coverage: Some(covered.clone()),
        organization: Some(OrganizationSummary {
            accounts: vec![AccountCoverage {
                account: "111122223333".into(),
                region: "us-east-1".into(),
                summary: covered.clone(),
                failed_chains: 0,
                aws_failed_copy_jobs: None,
            }],
            summary: covered,
            unreadable: 0,
        }),
        ..Default::default()
    };
    let m = measured(&quiet);
    let gauges = [
        Metric::BrokenPaths,
        Metric::UncoveredRecoveryPoints,
        Metric::OldestUncoveredAgeSeconds,
        Metric::FailedCopyChains,
        Metric::OrganizationUncoveredRecoveryPoints,
        Metric::OrganizationFailedCopyChains,
        Metric::OrganizationOldestUncoveredAgeSeconds,
    ];
    assert!(gauges.iter().all(|gauge| m.get(*gauge, None).is_none()), "{m:?}");
    assert!(gauges.iter().all(|gauge| m.get_for_account(*gauge, "111122223333").is_none()), "{m:?}");

    let troubled = Summary {
        broken_paths: Some(1),
        coverage: Some(CoverageSummary {
            by_status: [("covered", 5), ("failed", 2)].into(),
            oldest_uncovered_seconds: [("us-west-2".to_owned(), 0)].into(),
        }),
        ..Default::default()
    };
    let m = measured(&troubled);
    assert_eq!(m.get(Metric::BrokenPaths, None), Some(1.0));
    assert_eq!(m.get(Metric::UncoveredRecoveryPoints, None), Some(2.0));
    assert_eq!(m.get(Metric::OldestUncoveredAgeSeconds, Some("us-west-2")), Some(0.0), "a copy waits");
}
