//! copy-job-reconciler: makes the system complete rather than best-effort.
//!
//! Events get lost (SNS gives up, a function was misconfigured, a vault was never wired to the
//! topic). On a schedule, the reconciler sweeps ListCopyJobs over a lookback window and, for every
//! job, brings the tracking table in line with the API (through the tracker's logic) and hands
//! unhandled failures to the retrier's logic (same claims, same tokens, same attempt cap). Then it
//! looks for completed backups in routed vaults that have no copy to a route's destination and
//! starts the missing copies (through the copier's logic, same tokens).
//!
//! Work is bounded by a deadline; an unfinished sweep leaves a cursor in the tracking table and the
//! next run continues from it. A finished sweep without errors is remembered as verified: the jobs
//! that had finished when it started are in line for good (a finished job never changes), so later
//! sweeps list them but skip reading their records. In steady state (an hourly sweep over 72 hours)
//! that leaves the new and unfinished jobs, a small share.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::copier::Copier;
use super::retrier::Retrier;
use super::tracker::Tracker;
use super::HandlerError;
use crate::domain::{
    BackupVaultArn, CopyDetails, CopyJob, CopyJobState, IamRoleArn, RecoveryPointArn, RouteTable, SourcePolicy,
    SweepCursor, SweepResume, VaultName, VerifiedSweep,
};
use crate::notification::{BackupJobEvent, CopyJobEvent};
use crate::ports::{AlertSink, BackupApi, CopyJobQuery, RetryQueue, TrackingStore};

/// Allowance for AWS's CompletionDate and the function's clock to disagree.
const CLOCK_SKEW_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// What a sweep looks at.
#[derive(Clone, Debug)]
pub struct SweepSettings {
    /// Copy jobs created this long ago or later are swept.
    pub lookback: Duration,
    pub destination_vault: Option<BackupVaultArn>,
    pub state: Option<CopyJobState>,
    /// ListCopyJobs page size (1..=1000).
    pub page_size: i32,
}

impl SweepSettings {
    /// The filters that decide which jobs a sweep lists (a verified sweep holds only for the same).
    fn fingerprint(&self) -> String {
        format!(
            "destination={};state={}",
            self.destination_vault.as_ref().map_or("", |vault| vault.as_str()),
            self.state.map_or("", |state| state.as_str())
        )
    }
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self { lookback: Duration::from_secs(72 * 3600), destination_vault: None, state: None, page_size: 1000 }
    }
}

/// What one run did; logged and returned as the invocation's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub pages: usize,
    pub scanned: usize,
    /// Tracking records created or moved forward to the API's state.
    pub repaired: usize,
    /// Records that had the job's state but not its details (tracked from SNS alone).
    pub details_filled: usize,
    /// Finished jobs an earlier finished sweep had already reconciled: listed, records not read.
    pub already_verified: usize,
    pub retried: usize,
    pub alerted: usize,
    pub missing_copies_started: usize,
    pub errors: usize,
    /// False when the deadline stopped the run; the next run continues from the saved cursor.
    pub complete: bool,
}

pub struct Reconciler<B, S, A, Q> {
    /// Failures are handed to the retrier's own logic, and its clients serve the whole sweep.
    pub retrier: Retrier<B, S, A, Q>,
    pub settings: SweepSettings,
    /// Routes whose missing copies are started; empty to only reconcile existing jobs.
    pub routes: RouteTable,
    pub copy_role: Option<IamRoleArn>,
}

impl<B: BackupApi, S: TrackingStore, A: AlertSink, Q: RetryQueue> Reconciler<B, S, A, Q> {
    fn tracker(&self) -> Tracker<&S> {
        // The reconciler reads the API, not notifications: no publisher to verify.
        Tracker { store: &self.retrier.store, sources: SourcePolicy::default() }
    }

    fn copier(&self) -> Option<Copier<&B>> {
        let copy_role = self.copy_role.clone()?;
        (!self.routes.is_empty()).then(|| Copier {
            backup: &self.retrier.backup,
            routes: self.routes.clone(),
            copy_role,
            sources: SourcePolicy::default(),
        })
    }

    /// One scheduled run. `out_of_time` is asked before each page; when it says so, the run saves
    /// its cursor and stops (production passes a deadline check, tests a page count).
    pub async fn run(
        &self,
        now: DateTime<Utc>,
        mut out_of_time: impl FnMut() -> bool,
    ) -> Result<Summary, HandlerError> {
        let mut summary = Summary::default();
        let cursor = self.retrier.store.load_cursor().await?;
        let resumed = cursor.resume.is_some();
        let lookback = chrono::Duration::from_std(self.settings.lookback).unwrap_or(chrono::Duration::days(3));
        let filters = self.settings.fingerprint();
        let SweepResume { window_start, mut next_token, started_at, clean } = cursor
            .resume
            .clone()
            .unwrap_or(SweepResume { window_start: now - lookback, next_token: None, started_at: now, clean: true });
        let verified = cursor.verified.as_ref().filter(|verified| verified.applies_to(window_start, &filters));
        let query = CopyJobQuery {
            created_after: Some(window_start),
            destination_vault: self.settings.destination_vault.clone(),
            state: self.settings.state,
            source_recovery_point: None,
            max_results: Some(self.settings.page_size),
        };
        // (recovery point, destination) pairs that already have a copy, for the missing-copy pass.
        let mut copied: HashSet<(RecoveryPointArn, BackupVaultArn)> = HashSet::new();
        let tracker = self.tracker();
        loop {
            if out_of_time() {
                let clean = clean && summary.errors == 0;
                let resume = SweepResume { window_start, next_token, started_at, clean };
                let saved = SweepCursor { resume: Some(resume), verified: cursor.verified.clone() };
                self.retrier.store.save_cursor(&saved).await?;
                tracing::warn!(?summary, "deadline reached; the next run continues from the saved cursor");
                return Ok(summary);
            }
            let page = self.retrier.backup.list_copy_jobs(&query, next_token.as_deref()).await?;
            summary.pages += 1;
            // Jobs a verified sweep already reconciled are listed (for the missing-copy pass) but
            // their records are not read again.
            let needs_check = |job: &CopyJob| !verified.is_some_and(|verified| verified.covers(job.completed_at));
            let ids: Vec<_> = page.items.iter().filter(|job| needs_check(job)).map(|job| job.id.clone()).collect();
            let records = if ids.is_empty() { HashMap::new() } else { self.retrier.store.get_many(&ids).await? };
            for job in &page.items {
                summary.scanned += 1;
                copied.insert((job.source_recovery_point.clone(), job.destination_vault.clone()));
                if !needs_check(job) {
                    summary.already_verified += 1;
                    continue;
                }
                let record = records.get(&job.id);
                if let Err(err) = self.reconcile_job(&tracker, job, record, now, &mut summary).await {
                    summary.errors += 1;
                    tracing::error!(copy_job = %job.id, error = %err, "could not reconcile copy job");
                }
            }
            next_token = page.next_token;
            if next_token.is_none() {
                break;
            }
        }
        // A sweep that reconciled every job vouches for those that had finished when it started.
        let verified = if clean && summary.errors == 0 {
            Some(VerifiedSweep { window_start, completed_before: started_at - CLOCK_SKEW_MARGIN, filters })
        } else {
            cursor.verified
        };
        self.retrier.store.save_cursor(&SweepCursor { resume: None, verified }).await?;
        summary.complete = if resumed {
            // This run saw only the pages after the cursor, so copies listed on earlier pages are
            // not in `copied`: looking for missing ones now could start a second copy of a backup
            // that a plan's CopyAction already copied. The next sweep, listed whole, looks.
            tracing::info!("continued sweep finished; the missing-copy pass waits for the next full sweep");
            true
        } else {
            self.start_missing_copies(window_start, &mut out_of_time, &copied, &mut summary).await?
        };
        tracing::info!(?summary, "reconciliation finished");
        Ok(summary)
    }

    async fn reconcile_job(
        &self,
        tracker: &Tracker<&S>,
        job: &CopyJob,
        record: Option<&crate::domain::CopyJobRecord>,
        now: DateTime<Utc>,
        summary: &mut Summary,
    ) -> Result<(), HandlerError> {
        let recorded_rank = record.and_then(|r| r.state).map(CopyJobState::rank);
        let details = CopyDetails::from(job);
        if recorded_rank.is_none_or(|rank| rank < job.state.rank()) {
            let event = CopyJobEvent {
                id: job.id.clone(),
                state: job.state,
                status_message: job.status_message.clone(),
                details,
            };
            tracker.on_copy_event(&event, now).await?;
            summary.repaired += 1;
        } else if let Some(record) = record {
            // Tracked from SNS notifications, which carry no details: the listing has them.
            if tracker.fill_missing_details(&job.id, &details, &record.details).await? {
                summary.details_filled += 1;
            }
        }
        if job.state == CopyJobState::Failed && !record.is_some_and(|r| r.failure_handled) {
            let outcome = self.retrier.handle_failure(&job.id, Some(job)).await?;
            if outcome.get("retryScheduled").is_some() {
                summary.retried += 1;
            } else if outcome.get("alerted").is_some() {
                summary.alerted += 1;
            }
        }
        Ok(())
    }

    /// Starts the copies that routes call for and nobody started. Returns false if the deadline
    /// stopped it (the next run looks again; tokens make repeats harmless).
    async fn start_missing_copies(
        &self,
        since: DateTime<Utc>,
        out_of_time: &mut impl FnMut() -> bool,
        copied: &HashSet<(RecoveryPointArn, BackupVaultArn)>,
        summary: &mut Summary,
    ) -> Result<bool, HandlerError> {
        let Some(copier) = self.copier() else { return Ok(true) };
        let vaults: HashSet<VaultName> = self.routes.source_vaults().cloned().collect();
        for vault in vaults {
            let mut next_token: Option<String> = None;
            loop {
                if out_of_time() {
                    return Ok(false);
                }
                let page = self.retrier.backup.list_completed_backups(&vault, since, next_token.as_deref()).await?;
                for backup in page.items {
                    let Some(recovery_point) = backup.recovery_point.clone() else { continue };
                    let missing = self
                        .routes
                        .routes_for(&vault, backup.resource_type.as_deref())
                        .filter(|route| !copied.contains(&(recovery_point.clone(), route.destination_vault.clone())))
                        .count();
                    if missing == 0 {
                        continue;
                    }
                    let event = BackupJobEvent {
                        id: backup.id.clone(),
                        state: backup.state.clone(),
                        recovery_point: Some(recovery_point),
                        vault: Some(backup.vault.clone()),
                        resource: backup.resource.clone(),
                        resource_type: backup.resource_type.clone(),
                        iam_role: None,
                    };
                    match copier.on_backup_completed(&event).await {
                        Ok(_) => summary.missing_copies_started += missing,
                        Err(err) => {
                            summary.errors += 1;
                            tracing::error!(backup_job = %backup.id, error = %err, "could not start missing copies");
                        }
                    }
                }
                next_token = page.next_token;
                if next_token.is_none() {
                    break;
                }
            }
        }
        Ok(true)
    }

    /// Lambda entry point: the scheduled event carries nothing we need.
    pub async fn handle(&self, _payload: &Value, deadline: Instant) -> Result<Value, HandlerError> {
        let summary = self.run(Utc::now(), || Instant::now() >= deadline).await?;
        Ok(serde_json::to_value(summary).expect("summaries serialise"))
    }
}
