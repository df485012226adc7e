//! Healing: a path's incident ends when a copy on the path completes after it opened (or when the
//! path check finds its cause gone), with one "healed" message in the incident's thread.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::HandlerError;
use crate::domain::{
    Backfill, ClaimLease, ClaimOwner, CopyJobId, HealedBy, IncidentId, IncidentMessage, IncidentState, Ownership,
    PathCauseKind, PathKey, ResourceType,
};
use crate::ports::{AlertSink, AwsError, Clock, IncidentClaim, IncidentClaimKind, TrackingStore};

/// A copy that completed on a path: the proof that heals its incidents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedCopy {
    pub job: CopyJobId,
    pub at: DateTime<Utc>,
    pub resource_type: Option<ResourceType>,
}

pub struct Healer<S, A> {
    pub store: S,
    pub alerts: A,
    pub clock: Arc<dyn Clock>,
    pub lease: ClaimLease,
    /// Whether a healed incident's affected recovery points are copied again (`BackfillAfterHealing`).
    pub backfill: bool,
}

impl<S: TrackingStore, A: AlertSink> Healer<S, A> {
    /// Heals the path's open incidents that a copy in `completed` (the path's latest per resource
    /// type) proves gone — one that completed after the incident opened; for a resource type AWS
    /// Backup does not copy along the path, a copy of that type — and tells each healed incident once
    /// (one the last attempt could not tell included). The number told.
    pub async fn heal_path(
        &self,
        path: &PathKey,
        completed: &[CompletedCopy],
        owner: &ClaimOwner,
    ) -> Result<usize, HandlerError> {
        let mut told = 0;
        for incident in self.store.incidents_on(path).await? {
            match &incident.state {
                IncidentState::Open => {
                    let proof = completed
                        .iter()
                        // A copy that completed before the path broke proves nothing about it now.
                        .filter(|copy| copy.at > incident.id.opened_at)
                        .filter(|copy| {
                            incident.id.key.cause != PathCauseKind::Unsupported
                                || copy.resource_type
                                    == incident.first.as_ref().and_then(|first| first.resource_type.clone())
                        })
                        .max_by_key(|copy| copy.at);
                    let Some(proof) = proof else { continue };
                    let by = HealedBy::Copy(proof.job.clone());
                    if self.store.heal_incident(&incident.id, &by, self.clock.now()).await? {
                        tracing::info!(incident = %incident.id.thread_id(), copy_job = %proof.job, "incident healed: a copy completed on its path");
                    }
                }
                IncidentState::Healed { .. } if incident.healed_told => continue,
                IncidentState::Healed { .. } => {}
            }
            // The backfill is opened before the message (both are made good by the next sweep if
            // this one stops between them), so a path that breaks again after the message cannot
            // leave the healed episode's recovery points without their backfill.
            self.open_backfill(&incident.id).await?;
            told += usize::from(self.tell_healed(&incident.id, owner).await?);
        }
        Ok(told)
    }

    /// Opens the backfill of a healed episode, when backfills are on and it has something to copy
    /// (not for congestion: its retry chains copy them). Idempotent.
    async fn open_backfill(&self, id: &IncidentId) -> Result<(), HandlerError> {
        if !self.backfill || id.key.cause == PathCauseKind::Congestion {
            return Ok(());
        }
        // As it stands after healing: every recovery point counted in the episode.
        let Some(incident) = self.store.incident(&id.key).await?.filter(|incident| incident.id == *id) else {
            return Ok(());
        };
        if !incident.is_open() && incident.affected > 0 {
            self.store.open_backfill(&Backfill::of(&incident)).await?;
        }
        Ok(())
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
        let backfill = self.backfill && id.key.cause != PathCauseKind::Congestion && incident.affected > 0;
        if let Err(err) = self.alerts.incident(&IncidentMessage::Healed { incident, backfill }).await {
            if let Err(release) = self.store.release_incident_claim(id, kind, owner).await {
                tracing::warn!(incident = %id.thread_id(), error = %release, "could not release the healed message's claim; it expires with its lease");
            }
            return Err(err.into());
        }
        tracing::info!(incident = %id.thread_id(), "incident healed message published");
        finish_message_claim(&self.store, id, kind, owner).await?;
        Ok(true)
    }
}

/// Records an incident's message sent (its claim done), trying again on a passing store error.
pub(crate) async fn finish_message_claim<S: TrackingStore>(
    store: &S,
    id: &IncidentId,
    kind: IncidentClaimKind,
    owner: &ClaimOwner,
) -> Result<(), HandlerError> {
    let close = async || store.finish_incident_claim(id, kind, owner).await;
    let retrying = |attempt, err: &AwsError| {
        tracing::warn!(incident = %id.thread_id(), attempt, error = %err, "could not record the message sent; trying again");
    };
    match super::closing_claim(close, retrying).await {
        Ok(Ownership::Held) => Ok(()),
        Ok(Ownership::Lost) => {
            tracing::error!(incident = %id.thread_id(), ?kind, "message sent, but its claim was taken over before it was recorded");
            Ok(())
        }
        Err(err) => {
            tracing::error!(incident = %id.thread_id(), error = %err, "message sent but not recorded: it may be sent again after its claim's lease");
            Err(err.into())
        }
    }
}
