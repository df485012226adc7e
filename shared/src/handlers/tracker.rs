//! copy-job-tracker: keeps one record per copy job in the tracking table, moving only forward.
//!
//! One conditional write per event (two when a stale event brings details the record lacks) and no
//! AWS Backup call: the record takes the state, and the job's details when the event carries them
//! (EventBridge does; SNS carries only the id and state).
//! Details an SNS-only record lacks are filled by the retrier (it describes failed jobs anyway) and
//! by the reconciler's sweep, which reads them 1,000 jobs per ListCopyJobs call instead of one
//! DescribeCopyJob per event (AWS Backup's API limits are low, and copy events come in bursts).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{for_each_notification, skipped, HandlerError, Outcomes, RecordOutcome};
use crate::domain::{CopyDetails, CopyJobId, CopyJobState, SourcePolicy, StateChange};
use crate::notification::{CopyJobEvent, JobEvent};
use crate::ports::TrackingStore;

/// What the tracker did with one copy job event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Tracked {
    /// The record moved forward to `state`.
    Recorded { copy_job: CopyJobId, state: CopyJobState },
    /// The record was already at this state or beyond (details it lacked were kept).
    Stale { copy_job: CopyJobId, state: CopyJobState },
}

pub struct Tracker<S> {
    pub store: S,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
}

impl<S: TrackingStore> Tracker<S> {
    pub async fn handle(&self, payload: &Value) -> Result<Outcomes<Tracked>, HandlerError> {
        for_each_notification(payload, &self.sources, |notification| async move {
            match &notification.event {
                JobEvent::Copy(copy) => self.on_copy_event(copy, notification.time).await.map(RecordOutcome::Handled),
                // The tracker calls no AWS Backup API; the reconciler's next sweep records the job.
                JobEvent::CopyStateUnknown { .. } => {
                    Ok(skipped(&notification, "copy job state not understood; the reconciler's sweep records it"))
                }
                JobEvent::Backup(_) => Ok(skipped(&notification, "backup job events are the copier's")),
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await
    }

    /// Records one state change with a single conditional write. A stale event (the record is
    /// already at this state or beyond) changes nothing, except that details it brings and the
    /// record lacks are kept (an EventBridge event overtaken by an SNS one).
    pub async fn on_copy_event(&self, event: &CopyJobEvent, at: DateTime<Utc>) -> Result<Tracked, HandlerError> {
        match self.store.apply_state(&event.state_update(at)).await? {
            StateChange::Applied(_) => {
                tracing::info!(copy_job = %event.id, state = %event.state, "copy job state recorded");
                Ok(Tracked::Recorded { copy_job: event.id.clone(), state: event.state })
            }
            StateChange::Stale(record) => {
                self.fill_missing_details(&event.id, &event.details, &record.details).await?;
                tracing::info!(copy_job = %event.id, state = %event.state, recorded = ?record.state, "stale event ignored");
                Ok(Tracked::Stale { copy_job: event.id.clone(), state: event.state })
            }
        }
    }

    /// Writes `known` when it has details `recorded` lacks (a record tracked from SNS alone has
    /// none). True when it wrote.
    pub async fn fill_missing_details(
        &self,
        id: &CopyJobId,
        known: &CopyDetails,
        recorded: &CopyDetails,
    ) -> Result<bool, HandlerError> {
        if !known.adds_to(recorded) {
            return Ok(false);
        }
        self.store.fill_details(id, known).await?;
        Ok(true)
    }
}
