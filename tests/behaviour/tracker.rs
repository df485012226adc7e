//! copy-job-tracker: one record per copy job, states only move forward, details are looked up once,
//! and each recovery point shows which destinations hold a copy.

use chrono::Utc;
use vaultwatch::domain::{CopyJobState, DestinationStatus, RecoveryPointArn, SourcePolicy};
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::ports::memory::{MemoryBackup, MemoryStore};
use vaultwatch_tests::*;

fn tracker() -> Tracker<MemoryBackup, MemoryStore> {
    let backup = MemoryBackup::new();
    let mut job = failed_copy_job();
    job.state = CopyJobState::Running;
    job.status_message = None;
    backup.add_copy_job(job);
    Tracker { backup, store: MemoryStore::new(), sources: SourcePolicy::default() }
}

fn state_of(tracker: &Tracker<MemoryBackup, MemoryStore>) -> Option<CopyJobState> {
    tracker.store.record(&copy_id(FAILED_COPY_JOB)).and_then(|r| r.state)
}

#[tokio::test]
async fn states_move_forward_and_a_late_start_changes_nothing() {
    let tracker = tracker();
    tracker.handle(&fixture("sns/copy-job-started.json")).await.unwrap();
    assert_eq!(state_of(&tracker), Some(CopyJobState::Created));
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    assert_eq!(state_of(&tracker), Some(CopyJobState::Completed));

    let late = tracker.handle(&fixture("sns/copy-job-started.json")).await.unwrap();
    assert_eq!(late["outcomes"][0]["stale"], "CREATED");
    assert_eq!(state_of(&tracker), Some(CopyJobState::Completed));
    // A terminal state is final: a FAILED after COMPLETED does not flip it.
    tracker.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(state_of(&tracker), Some(CopyJobState::Completed));
}

#[tokio::test]
async fn out_of_order_delivery_ends_in_the_right_state() {
    let tracker = tracker();
    for file in ["sns/copy-job-successful.json", "sns/copy-job-started.json", "sns/copy-job-successful.json"] {
        tracker.handle(&fixture(file)).await.unwrap();
    }
    assert_eq!(state_of(&tracker), Some(CopyJobState::Completed));
}

#[tokio::test]
async fn details_are_described_once_and_completion_marks_the_destination() {
    let tracker = tracker();
    tracker.handle(&fixture("sns/copy-job-started.json")).await.unwrap();
    assert_eq!(tracker.backup.calls("DescribeCopyJob"), 1, "SNS carries no details: looked up once");
    tracker.handle(&copy_event("RUNNING", FAILED_COPY_JOB)).await.unwrap();
    assert_eq!(tracker.backup.calls("DescribeCopyJob"), 1, "the record has them now");

    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.details.source_vault.unwrap().as_str(), SOURCE_VAULT);
    assert_eq!(record.details.destination_vault.unwrap().as_str(), DR_VAULT);
    assert_eq!(record.details.resource_type.as_deref(), Some("EBS"));

    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    let rp = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    assert_eq!(tracker.store.destinations(&rp).get(&vault(DR_VAULT)), Some(&DestinationStatus::Copied));
}

#[tokio::test]
async fn eventbridge_events_bring_their_own_details() {
    let tracker = tracker();
    tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
    assert_eq!(tracker.backup.calls("DescribeCopyJob"), 0);
    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.state, Some(CopyJobState::Completed));
    assert!(record.details.destination_recovery_point.unwrap().as_str().contains("us-west-2"));

    let failed = tracker.handle(&fixture("eventbridge/copy-job-failed.json")).await.unwrap();
    assert_eq!(failed["outcomes"][0]["stale"], "FAILED");
}

#[tokio::test]
async fn failed_state_keeps_the_status_message() {
    let tracker = tracker();
    tracker.handle(&fixture("eventbridge/copy-job-failed.json")).await.unwrap();
    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.state, Some(CopyJobState::Failed));
    assert!(record.status_message.unwrap().contains("being modified"));
}

#[tokio::test]
async fn a_failed_follow_up_is_finished_by_the_redelivery() {
    let tracker = tracker();
    tracker.store.fail_next("mark_destination", 1);
    assert!(tracker.handle(&fixture("sns/copy-job-successful.json")).await.is_err());
    // Lambda redelivers: the state is already COMPLETED, but the destination is still marked.
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    let rp = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    assert_eq!(tracker.store.destinations(&rp).get(&vault(DR_VAULT)), Some(&DestinationStatus::Copied));
}

#[tokio::test]
async fn lineage_written_by_the_retrier_survives_state_changes() {
    use vaultwatch::domain::{CopyDetails, Lineage, StartedCopy};
    use vaultwatch::ports::TrackingStore;

    let tracker = tracker();
    let id = copy_id(FAILED_COPY_JOB);
    let lineage = Lineage::original(&copy_id("ROOT")).next_attempt(&copy_id("ROOT"));
    let started = StartedCopy {
        id: id.clone(),
        details: CopyDetails::from(&failed_copy_job()),
        lineage: lineage.clone(),
        lifecycle: None,
        at: Utc::now(),
    };
    tracker.store.record_started(&started).await.unwrap();
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    let record = tracker.store.record(&id).unwrap();
    assert_eq!(record.lineage, Some(lineage));
    assert_eq!(record.state, Some(CopyJobState::Completed));
}
