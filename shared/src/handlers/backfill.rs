//! Backfill: once a broken path heals, one copy of each recovery point its incident left without
//! one — those that can still be copied — at most `BackfillConcurrency` of vaultwatch's backfill
//! copies in flight per destination vault. The next ones start when one ends (the retrier, on its
//! COPY_JOB event) and on every sweep (the reconciler), so a backfill of thousands spans runs; each
//! slot is settled once (conditional writes), and each copy's token is derived from the episode and
//! the recovery point, so a start repeated after a crash returns AWS Backup's first job.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::HandlerError;
use crate::domain::{
    AffectedPoint, Backfill, BackupVaultArn, ClaimLease, ClaimOwner, CopyDetails, CopyJobId, IncidentMessage,
    Lifecycle, Lineage, NotBackfilled, NotCopyable, PassableRoles, SlotSettled, StartedCopy,
};
use crate::ports::{AlertSink, BackupApi, Clock, CopyJobQuery, StartCopyRequest, TrackingStore};

/// Whether and how fast healed paths are backfilled (`BACKFILL_AFTER_HEALING`,
/// `BACKFILL_CONCURRENCY`; the template's `BackfillAfterHealing` and `BackfillConcurrency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackfillSettings {
    pub enabled: bool,
    /// Backfill copies in flight per destination vault, at most.
    pub concurrency: u32,
}

/// The template's defaults: on, 5 per destination vault.
impl Default for BackfillSettings {
    fn default() -> Self {
        Self { enabled: true, concurrency: DEFAULT_BACKFILL_CONCURRENCY }
    }
}

pub const DEFAULT_BACKFILL_CONCURRENCY: u32 = 5;

/// What a backfill run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillRun {
    pub started: usize,
    pub not_copyable: usize,
    /// Backfills that settled every slot and saw every copy end (their message sent).
    pub finished: usize,
}

pub struct Backfiller<B, S, A> {
    pub backup: B,
    pub store: S,
    pub alerts: A,
    pub clock: Arc<dyn Clock>,
    pub settings: BackfillSettings,
    /// The roles a copy may pass: the path's, when passable, else the fallback.
    pub roles: PassableRoles,
    pub lease: ClaimLease,
}

impl<B: BackupApi, S: TrackingStore, A: AlertSink> Backfiller<B, S, A> {
    /// Advances every active backfill as far as its destination's concurrency allows: one vault at
    /// a time, under the vault's claim, so two runners (a sweep and a retrier, or two retriers) never
    /// start copies into one vault at once and `BackfillConcurrency` holds across them. A vault
    /// another runner holds is left to it.
    pub async fn run(&self, owner: &ClaimOwner) -> Result<BackfillRun, HandlerError> {
        let mut run = BackfillRun::default();
        let mut vaults: Vec<BackupVaultArn> =
            self.store.active_backfills().await?.into_iter().map(|backfill| backfill.path.destination_vault).collect();
        vaults.sort();
        vaults.dedup();
        for vault in vaults {
            let lease = self.lease.duration();
            if !self.store.claim_backfill_vault(&vault, owner, self.clock.now(), lease).await? {
                tracing::debug!(%vault, "another runner is starting this vault's backfill copies");
                continue;
            }
            let advanced = self.run_vault(&vault, owner, &mut run).await;
            if let Err(err) = self.store.release_backfill_vault(&vault, owner).await {
                tracing::warn!(%vault, error = %err, "could not give the vault's backfill claim back; it lapses with its lease");
            }
            advanced?;
        }
        Ok(run)
    }

    /// The backfills into `vault`, read under its claim (what another runner started before it gave
    /// the vault back counts), advanced in the order their episodes opened.
    async fn run_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        run: &mut BackfillRun,
    ) -> Result<(), HandlerError> {
        let mut active: Vec<Backfill> = self
            .store
            .active_backfills()
            .await?
            .into_iter()
            .filter(|backfill| backfill.path.destination_vault == *vault)
            .collect();
        for backfill in &mut active {
            self.forget_ended(backfill).await?;
        }
        active.sort_by_key(|backfill| backfill.episode.opened_at);
        let mut busy: usize = active.iter().map(|backfill| backfill.in_flight.len()).sum();
        for backfill in &active {
            self.advance(backfill, owner, &mut busy, run).await?;
        }
        Ok(())
    }

    /// A backfill copy ended (its COPY_JOB event): no longer in flight, and the next may start.
    pub async fn copy_ended(
        &self,
        episode_digest: &str,
        job: &CopyJobId,
        owner: &ClaimOwner,
    ) -> Result<BackfillRun, HandlerError> {
        self.store.backfill_copy_ended(episode_digest, job).await?;
        self.run(owner).await
    }

    /// Copies whose records say they ended are no longer in flight (their events may have been
    /// lost, or handled before the copy was recorded as the backfill's).
    async fn forget_ended(&self, backfill: &mut Backfill) -> Result<(), HandlerError> {
        if backfill.in_flight.is_empty() {
            return Ok(());
        }
        let ids: Vec<CopyJobId> = backfill.in_flight.iter().cloned().collect();
        let records = self.store.get_many(&ids).await?;
        let digest = backfill.episode.digest();
        for id in ids {
            if records.get(&id).and_then(|record| record.state).is_some_and(|state| state.is_terminal()) {
                self.store.backfill_copy_ended(&digest, &id).await?;
                backfill.in_flight.remove(&id);
            }
        }
        Ok(())
    }

    async fn advance(
        &self,
        seen: &Backfill,
        owner: &ClaimOwner,
        busy: &mut usize,
        run: &mut BackfillRun,
    ) -> Result<(), HandlerError> {
        let episode = &seen.episode;
        let lease = self.lease.duration();
        let Some(mut backfill) = self.store.claim_backfill(episode, owner, self.clock.now(), lease).await? else {
            return Ok(());
        };
        // In flight as the claimed state says (another runner may have started copies since the
        // listing this run began with).
        *busy = busy.saturating_sub(seen.in_flight.len()) + backfill.in_flight.len();
        let advanced = self.settle_slots(&mut backfill, owner, busy, run).await;
        let told = match &advanced {
            Ok(()) if backfill.finished() && !backfill.told => self.tell(&backfill, owner).await,
            _ => Ok(false),
        };
        if let Err(err) = self.store.release_backfill(episode, owner).await {
            tracing::warn!(incident = %episode.thread_id(), error = %err, "could not give the backfill back; it is taken over when its lease lapses");
        }
        advanced?;
        run.finished += usize::from(told?);
        Ok(())
    }

    /// Settles the backfill's next slots while its destination has room.
    async fn settle_slots(
        &self,
        backfill: &mut Backfill,
        owner: &ClaimOwner,
        busy: &mut usize,
        run: &mut BackfillRun,
    ) -> Result<(), HandlerError> {
        let limit = usize::try_from(self.settings.concurrency).unwrap_or(usize::MAX);
        while !backfill.settled() {
            let room = limit.saturating_sub(*busy) as u64;
            if room == 0 {
                return Ok(());
            }
            let (from, to) = (backfill.next_slot, backfill.slots.min(backfill.next_slot + room - 1));
            let points: HashMap<u64, AffectedPoint> =
                self.store.affected_slots(&backfill.episode, from, to).await?.into_iter().collect();
            for slot in from..=to {
                let settled = match points.get(&slot) {
                    None => SlotSettled::Empty,
                    Some(point) => match self.copy(backfill, point).await? {
                        Some(settled) => settled,
                        // AWS Backup's limits: the next run (or the next copy's end) tries again.
                        None => return Ok(()),
                    },
                };
                if self.store.settle_backfill_slot(&backfill.episode, owner, slot, &settled).await?
                    == crate::domain::Ownership::Lost
                {
                    tracing::warn!(incident = %backfill.episode.thread_id(), slot, "backfill taken over by another runner");
                    return Ok(());
                }
                match &settled {
                    SlotSettled::Started(_) => {
                        run.started += 1;
                        *busy += 1;
                    }
                    SlotSettled::NotCopyable(_) => run.not_copyable += 1,
                    SlotSettled::Covered(_) | SlotSettled::Empty => {}
                }
                *backfill = backfill.after(&settled);
            }
        }
        Ok(())
    }

    /// Starts the copy of one affected recovery point, or says why it cannot be copied any more;
    /// `None` when AWS Backup asks to try later (throttling, its concurrent-copy limit).
    async fn copy(&self, backfill: &Backfill, point: &AffectedPoint) -> Result<Option<SlotSettled>, HandlerError> {
        let now = self.clock.now();
        let path = &backfill.path;
        let not_copyable = |why: String| {
            Ok(Some(SlotSettled::NotCopyable(NotBackfilled { recovery_point: point.recovery_point.clone(), why })))
        };
        let source = path.source_vault.vault_name();
        let Some(recovery_point) = self.backup.describe_recovery_point(&source, &point.recovery_point).await? else {
            return not_copyable(NotCopyable::Deleted.to_string());
        };
        if let Some(why) = recovery_point.not_copyable_at(now) {
            return not_copyable(why.to_string());
        }
        // A copy made by hand since, or a plan's: copying again would be a second copy.
        if let Some(existing) = self.existing_copy(point, &path.destination_vault).await? {
            return Ok(Some(SlotSettled::Covered(existing)));
        }
        let lifecycle = match (point.lifecycle, &point.plan_rule) {
            (Some(lifecycle), _) => Some(lifecycle),
            (None, Some(rule)) => self.backup.copy_action_lifecycle(rule, &path.destination_vault).await?,
            (None, None) => None,
        };
        if let Some(why) =
            lifecycle.zip(recovery_point.created_at).and_then(|(l, created)| lifecycle_passed(l, created, now))
        {
            return not_copyable(why);
        }
        let Some(role) = self.roles.for_retry(path.role.as_ref()) else {
            return not_copyable(
                "the path's role may not be passed (PassableRoleArns) and no BackupRoleArn is set".into(),
            );
        };
        let request = StartCopyRequest {
            recovery_point: point.recovery_point.clone(),
            source_vault: source,
            destination_vault: path.destination_vault.clone(),
            iam_role: role,
            lifecycle,
            token: backfill.episode.backfill_token(&point.recovery_point),
        };
        let job = match self.backup.start_copy_job(&request).await {
            Ok(job) => job,
            Err(err) if err.is_transient() => {
                tracing::warn!(incident = %backfill.episode.thread_id(), error = %err, "backfill copy not started; tried again later");
                return Ok(None);
            }
            Err(err) => return not_copyable(err.to_string()),
        };
        let details = CopyDetails {
            source_recovery_point: Some(point.recovery_point.clone()),
            source_vault: Some(path.source_vault.clone()),
            destination_vault: Some(path.destination_vault.clone()),
            resource: point.resource.clone(),
            resource_type: point.resource_type.clone(),
            ..CopyDetails::default()
        };
        let started = StartedCopy {
            id: job.clone(),
            details,
            lineage: Lineage::original(&job),
            lifecycle,
            at: now,
            backfill_of: Some(backfill.episode.digest()),
        };
        self.store.record_started(&started).await?;
        tracing::info!(incident = %backfill.episode.thread_id(), copy_job = %job, recovery_point = %point.recovery_point, "backfill copy started");
        Ok(Some(SlotSettled::Started(job)))
    }

    /// A copy of the recovery point to the destination that completed or is under way.
    async fn existing_copy(
        &self,
        point: &AffectedPoint,
        destination: &BackupVaultArn,
    ) -> Result<Option<CopyJobId>, HandlerError> {
        let query = CopyJobQuery {
            source_recovery_point: Some(point.recovery_point.clone()),
            destination_vault: Some(destination.clone()),
            ..CopyJobQuery::default()
        };
        let mut token = None;
        loop {
            let page = self.backup.list_copy_jobs(&query, token.as_deref()).await?;
            if let Some(job) = page.items.iter().find(|job| !job.state.has_failed()) {
                return Ok(Some(job.id.clone()));
            }
            match page.next_token {
                Some(next) => token = Some(next),
                None => return Ok(None),
            }
        }
    }

    /// The one "backfilled" message, in the incident's thread: true if this runner sent it.
    async fn tell(&self, backfill: &Backfill, owner: &ClaimOwner) -> Result<bool, HandlerError> {
        let Some(incident) = self.store.incident(&backfill.episode.key).await? else { return Ok(false) };
        if !self.store.finish_backfill(&backfill.episode, owner).await? {
            return Ok(false);
        }
        // Recorded first: a message lost to a failed publish is logged, never sent twice.
        let message = IncidentMessage::Backfilled { incident, backfill: Box::new(backfill.clone()) };
        match self.alerts.incident(&message).await {
            Ok(()) => {
                tracing::info!(incident = %backfill.episode.thread_id(), started = backfill.started, not_copyable = backfill.not_copyable, "backfill finished")
            }
            Err(err) => {
                tracing::error!(incident = %backfill.episode.thread_id(), error = %err, "backfill finished; its message could not be published")
            }
        }
        Ok(true)
    }
}

/// Why a copy made now would be born past its lifecycle: AWS counts a copy's lifecycle from the
/// source recovery point's creation (docs/aws-facts.md#lifecycle).
fn lifecycle_passed(lifecycle: Lifecycle, created: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let passed = |days: Option<i64>| days.filter(|days| *days >= 0 && created + chrono::Duration::days(*days) <= now);
    if let Some(days) = passed(lifecycle.delete_after_days) {
        return Some(format!("its copy would be deleted on arrival (DeleteAfterDays {days} from the recovery point's creation has passed)"));
    }
    passed(lifecycle.move_to_cold_storage_after_days).map(|days| {
        format!("its copy would be cold on arrival (MoveToColdStorageAfterDays {days} from the recovery point's creation has passed)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_born_past_its_lifecycle_is_not_made() {
        let created = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let lifecycle = |cold, delete| Lifecycle {
            move_to_cold_storage_after_days: cold,
            delete_after_days: delete,
            ..Lifecycle::default()
        };
        let at = |days| created + chrono::Duration::days(days);
        assert_eq!(lifecycle_passed(lifecycle(None, Some(35)), created, at(34)), None);
        assert!(lifecycle_passed(lifecycle(None, Some(35)), created, at(35)).unwrap().contains("DeleteAfterDays 35"));
        assert!(lifecycle_passed(lifecycle(Some(30), Some(365)), created, at(31)).unwrap().contains("cold on arrival"));
        assert_eq!(lifecycle_passed(lifecycle(Some(30), Some(365)), created, at(29)), None);
        assert_eq!(lifecycle_passed(lifecycle(None, Some(-1)), created, at(9999)), None, "-1 keeps it forever");
    }
}
