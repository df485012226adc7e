//! Healing: a path's incident ends when a copy on the path completes after it opened (or when the
//! path check finds its cause gone), with one "healed" message in the incident's thread.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::HandlerError;
use crate::domain::{
    Backfill, ClaimLease, ClaimOwner, CopyJobId, HealedBy, IncidentId, IncidentMessage, IncidentState, Ownership,
    PathCauseKind, PathKey,
};
use crate::ports::{AlertSink, Clock, IncidentClaim, IncidentClaimKind, TrackingStore};

pub struct Healer<S, A> {
    pub store: S,
    pub alerts: A,
    pub clock: Arc<dyn Clock>,
    pub lease: ClaimLease,
    /// Whether a healed incident's affected recovery points are copied again (`BackfillAfterHealing`).
    pub backfill: bool,
}

impl<S: TrackingStore, A: AlertSink> Healer<S, A> {
    /// Heals the path's open incidents that opened before `completed` completed (at `at`), and tells
    /// each healed incident once (one the last attempt could not tell included). The number told.
    pub async fn heal_path(
        &self,
        path: &PathKey,
        completed: &CopyJobId,
        at: DateTime<Utc>,
        owner: &ClaimOwner,
    ) -> Result<usize, HandlerError> {
        let mut told = 0;
        for incident in self.store.incidents_on(path).await? {
            match &incident.state {
                // A copy that completed before the path broke proves nothing about it now.
                IncidentState::Open if at <= incident.id.opened_at => continue,
                IncidentState::Open => {
                    let by = HealedBy::Copy(completed.clone());
                    if self.store.heal_incident(&incident.id, &by, self.clock.now()).await? {
                        tracing::info!(incident = %incident.id.thread_id(), copy_job = %completed, "incident healed: a copy completed on its path");
                    }
                }
                IncidentState::Healed { .. } if incident.healed_told => continue,
                IncidentState::Healed { .. } => {}
            }
            told += usize::from(self.tell_healed(&incident.id, owner).await?);
        }
        Ok(told)
    }

    /// The one "healed" message of a healed episode: false when it went out already (or the episode
    /// is no longer the path's current one).
    async fn tell_healed(&self, id: &IncidentId, owner: &ClaimOwner) -> Result<bool, HandlerError> {
        let kind = IncidentClaimKind::Healed;
        let incident = match self.store.claim_incident(id, kind, owner, self.clock.now(), self.lease.duration()).await?
        {
            IncidentClaim::Acquired(incident) => *incident,
            IncidentClaim::AlreadyDone | IncidentClaim::InProgress | IncidentClaim::Gone => return Ok(false),
        };
        if incident.is_open() {
            // Broken again since (a new failure reopened nothing: the episode is the same): not healed.
            self.store.release_incident_claim(id, kind, owner).await?;
            return Ok(false);
        }
        // A congested path's copies are its retry chains': nothing to copy again.
        let backfill = self.backfill && id.key.cause != PathCauseKind::Congestion && incident.affected > 0;
        if backfill {
            self.store.open_backfill(&Backfill::of(&incident)).await?;
        }
        if let Err(err) = self.alerts.incident(&IncidentMessage::Healed { incident, backfill }).await {
            if let Err(release) = self.store.release_incident_claim(id, kind, owner).await {
                tracing::warn!(incident = %id.thread_id(), error = %release, "could not release the healed message's claim; it expires with its lease");
            }
            return Err(err.into());
        }
        tracing::info!(incident = %id.thread_id(), "incident healed message published");
        if self.store.finish_incident_claim(id, kind, owner).await? == Ownership::Lost {
            tracing::error!(incident = %id.thread_id(), "healed message sent, but its claim was taken over before it was recorded");
        }
        Ok(true)
    }
}
