//! copy-job-tracker: keeps one record per copy job in the tracking table, moving only forward.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{for_each_notification, skipped, HandlerError};
use crate::domain::{CopyDetails, CopyJobState, DestinationStatus, SourcePolicy, StateChange};
use crate::notification::{CopyJobEvent, JobEvent};
use crate::ports::{BackupApi, TrackingStore};

pub struct Tracker<B, S> {
    pub backup: B,
    pub store: S,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
}

impl<B: BackupApi, S: TrackingStore> Tracker<B, S> {
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandlerError> {
        for_each_notification(payload, &self.sources, |notification| async move {
            match &notification.event {
                JobEvent::Copy(copy) => self.on_copy_event(copy, notification.time).await,
                JobEvent::Backup(_) => Ok(skipped(&notification, "backup job events are the copier's")),
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await
    }

    /// Records one state change. One conditional write in the common case; DescribeCopyJob only
    /// when the record lacks the job's details.
    pub async fn on_copy_event(&self, event: &CopyJobEvent, at: DateTime<Utc>) -> Result<Value, HandlerError> {
        let update = event.state_update(at);
        let (mut details, stale) = match self.store.apply_state(&update).await? {
            StateChange::Applied(record) => (record.details, false),
            StateChange::Stale(record) => {
                // Already at this state or beyond. A redelivery of the same state still finishes
                // what an earlier, failed invocation may have left undone (details, destination).
                if record.state != Some(event.state) {
                    tracing::info!(copy_job = %event.id, state = %event.state, recorded = ?record.state, "stale event ignored");
                    return Ok(json!({ "copyJob": event.id, "stale": event.state }));
                }
                let needs_follow_up = !record.details.is_complete() || event.state == CopyJobState::Completed;
                if !needs_follow_up {
                    return Ok(json!({ "copyJob": event.id, "stale": event.state }));
                }
                (record.details, true)
            }
        };
        let wants_destination_point =
            event.state == CopyJobState::Completed && details.destination_recovery_point.is_none();
        if !details.is_complete() || wants_destination_point {
            let job = self.backup.describe_copy_job(&event.id).await?;
            let described = CopyDetails::from(&job);
            self.store.fill_details(&event.id, &described).await?;
            details = described;
        }
        if event.state == CopyJobState::Completed {
            if let (Some(recovery_point), Some(destination)) =
                (&details.source_recovery_point, &details.destination_vault)
            {
                self.store.mark_destination(recovery_point, destination, DestinationStatus::Copied).await?;
            }
        }
        if stale {
            tracing::info!(copy_job = %event.id, state = %event.state, "redelivered state; follow-ups completed");
            return Ok(json!({ "copyJob": event.id, "stale": event.state }));
        }
        tracing::info!(copy_job = %event.id, state = %event.state, "copy job state recorded");
        Ok(json!({ "copyJob": event.id, "state": event.state }))
    }
}
