//! copy-job-tracker: one record per copy job, one conditional write per event, states only move
//! forward, and details come from the events that carry them (never from an AWS Backup call).

use chrono::Utc;
use vaultwatch::domain::{CopyJobState, SourcePolicy};
use vaultwatch::handlers::tracker::Tracked;
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::handlers::RecordOutcome;
use vaultwatch::ports::memory::{dynamodb_throttled, MemoryStore};
use vaultwatch_tests::*;

fn tracker() -> Tracker<MemoryStore> {
    Tracker { store: MemoryStore::new(), sources: SourcePolicy::default() }
}

fn state_of(tracker: &Tracker<MemoryStore>) -> Option<CopyJobState> {
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
    assert!(
        matches!(&late.outcomes[0], RecordOutcome::Handled(Tracked::Stale { state: CopyJobState::Created, .. })),
        "{late:?}"
    );
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
async fn every_sns_event_is_one_write_and_no_lookup() {
    let tracker = tracker();
    for file in ["sns/copy-job-started.json", "sns/copy-job-successful.json", "sns/copy-job-started.json"] {
        let before = tracker.store.total_calls();
        tracker.handle(&fixture(file)).await.unwrap();
        assert_eq!(tracker.store.total_calls() - before, 1, "{file}: one conditional write");
    }
    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.state, Some(CopyJobState::Completed));
    assert_eq!(record.details.source_vault, None, "SNS carries no details; the reconciler fills them");
}

#[tokio::test]
async fn eventbridge_events_bring_their_own_details() {
    let tracker = tracker();
    tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
    assert_eq!(tracker.store.total_calls(), 1);
    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.state, Some(CopyJobState::Completed));
    assert_eq!(record.details.source_vault.unwrap().as_str(), SOURCE_VAULT);
    assert_eq!(record.details.destination_vault.unwrap().as_str(), DR_VAULT);
    assert!(record.details.destination_recovery_point.unwrap().as_str().contains("us-west-2"));

    let failed = tracker.handle(&fixture("eventbridge/copy-job-failed.json")).await.unwrap();
    assert!(
        matches!(&failed.outcomes[0], RecordOutcome::Handled(Tracked::Stale { state: CopyJobState::Failed, .. })),
        "{failed:?}"
    );
    assert_eq!(tracker.store.total_calls(), 2, "a stale event with nothing new is one write too");
}

#[tokio::test]
async fn details_of_an_overtaken_eventbridge_event_are_kept() {
    let tracker = tracker();
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    // The EventBridge event of the same state arrives second: stale, but it knows the details.
    let late = tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
    assert!(
        matches!(&late.outcomes[0], RecordOutcome::Handled(Tracked::Stale { state: CopyJobState::Completed, .. })),
        "{late:?}"
    );
    assert_eq!(tracker.store.calls(Call::FillDetails), 1);
    let record = tracker.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.details.destination_vault.unwrap().as_str(), DR_VAULT);
    // Once they are recorded, a repeat costs the one write again.
    tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
    assert_eq!(tracker.store.calls(Call::FillDetails), 1);
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
async fn a_failed_write_fails_the_event_and_the_redelivery_records_it() {
    let tracker = tracker();
    tracker.store.fail_next(Call::ApplyState, 1, dynamodb_throttled("UpdateItem"));
    assert!(tracker.handle(&fixture("sns/copy-job-successful.json")).await.is_err());
    assert_eq!(state_of(&tracker), None);
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    assert_eq!(state_of(&tracker), Some(CopyJobState::Completed));
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
        backfill_of: None,
    };
    tracker.store.record_started(&started).await.unwrap();
    tracker.handle(&fixture("sns/copy-job-successful.json")).await.unwrap();
    let record = tracker.store.record(&id).unwrap();
    assert_eq!(record.lineage, Some(lineage));
    assert_eq!(record.state, Some(CopyJobState::Completed));
}

#[tokio::test]
async fn a_copy_state_spelled_unknown_is_left_to_the_reconciler_not_failed() {
    let tracker = Tracker { store: MemoryStore::new(), sources: SourcePolicy::default() };
    let outcome = tracker.handle(&fixture("sns/copy-job-unknown-state.json")).await.unwrap();
    assert!(
        matches!(&outcome.outcomes[0], RecordOutcome::Skipped { reason } if reason.contains("reconciler")),
        "{outcome:?}"
    );
    assert!(!format!("{outcome:?}").contains("SECRET-CANARY"));
    assert_eq!(tracker.store.total_calls(), 0);
}
