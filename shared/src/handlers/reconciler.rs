//! copy-job-reconciler: makes the system complete rather than best-effort.
//!
//! Events get lost (SNS gives up, a function was misconfigured, a vault was never wired to the
//! topic). On a schedule, the reconciler sweeps ListCopyJobs over a lookback window and, for every
//! job, brings the tracking table in line with the API (through the tracker's logic) and hands
//! unhandled failures to the retrier's logic (same claims, same tokens, same attempt cap). Then it
//! looks for completed backups in routed vaults that have no copy to a route's destination and
//! starts the missing copies (through the copier's logic, same tokens).
//!
//! Work is bounded by a deadline, checked per job and bounding every call: an unfinished sweep
//! leaves a cursor in the tracking table and the next run continues from it — in the listing (the
//! page, and the last job reconciled in it), or, every job reconciled, in coverage and copies
//! (which list the window again: they need all of it at once). A finished sweep without errors is remembered as verified: the jobs
//! that had finished when it started are in line for good (a finished job never changes), so later
//! sweeps list them but skip reading their records. In steady state (an hourly sweep over 72 hours)
//! that leaves the new and unfinished jobs, a small share.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::copier::{CompletedBackup, Copier};
use super::coverage::{CoverageAssessor, CoverageQuery};
use super::deadline::{Deadline, Stopped};
use super::evidence::{EvidenceWriter, EvidenceWritten};
use super::healing::{CompletedCopy, Healer};
use super::organization::{AccountCoverage, OrganizationAssessor, OrganizationSettings};
use super::path_watch::{PathWatch, PathWatchSummary};
use super::paths::{PathChecker, PathsQuery};
use super::retrier::{ClaimedWork, FailureHandled, Once, Retrier, RetrierSettings};
use super::tracker::Tracker;
use super::HandlerError;
use crate::domain::{
    Alert, AlertReason, BackupVaultArn, ClaimKind, ClaimOwner, CopyDetails, CopyJob, CopyJobId, CopyJobState,
    CopyLedger, CopyPath, CopyRoute, Coverage, CoverageStatus, CoverageSummary, IamRoleArn, IdempotencyToken,
    ListingPlace, PathCauseKind, PathKey, PathSpec, RecoveryPointArn, Refusal, RequiredBy, Requirement, Resolution,
    RouteTable, SourcePolicy, SweepCursor, SweepPhase, SweepResume, VerifiedSweep,
};
use crate::notification::{scheduled_time, CopyJobEvent};
use crate::ports::{
    AlertSink, AwsError, BackupApi, Clock, CopyJobQuery, EvidenceSink, NoEvidence, PathFactsApi, RetryQueue,
    TrackingStore, OPERATION_TIMEOUT,
};

/// Listed jobs reconciled at once: their reads and writes of the tracking table overlap.
const CONCURRENT_JOBS: usize = 8;

/// Time kept back from the Lambda deadline. Every call of the run is cut off at the run's own
/// deadline, this much earlier; after it the run makes one call more, the cursor's save (which the
/// SDK gives up on after the operation timeout), and reports.
pub const SAFETY_MARGIN: Duration = OPERATION_TIMEOUT.saturating_add(Duration::from_secs(3));

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
    /// ListCopyJobs calls.
    pub pages: usize,
    /// Copy jobs listed. A run that continued a sweep lists the window twice: the rest of its jobs
    /// to reconcile, then all of them again for coverage and the missing copies.
    pub scanned: usize,
    /// Tracking records created or moved forward to the API's state.
    pub repaired: usize,
    /// Records that had the job's state but not its details (tracked from SNS alone).
    pub details_filled: usize,
    /// Finished jobs an earlier finished sweep had already reconciled: listed, records not read.
    pub already_verified: usize,
    pub retried: usize,
    pub alerted: usize,
    /// Failures counted in their path's incident, and incidents whose alert this run sent.
    pub path_failures: usize,
    pub incidents_opened: usize,
    /// Path incidents healed by a copy that completed on the path (their "healed" message sent).
    pub incidents_healed: usize,
    /// Backfill copies of healed paths' affected recovery points started.
    pub copies_backfilled: usize,
    /// Paths with an open incident (not counting congestion) when the sweep looked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_paths: Option<usize>,
    /// The day's path check, on the sweep that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_check: Option<PathWatchSummary>,
    /// Alerted copies found covered (a COMPLETED copy of the same recovery point to the same vault):
    /// one "resolved" message each, in the alert's thread.
    pub resolved: usize,
    pub missing_copies_started: usize,
    /// Routed copies AWS Backup refused for good in this run: alerted and recorded, never asked again.
    pub refused: usize,
    /// Listed copy jobs that could not be read (logged by id, skipped).
    pub unreadable: usize,
    /// Jobs that could not be reconciled, and copies that could not be started, this run.
    pub errors: usize,
    pub missing_copy_pass: MissingCopyPass,
    /// Copy coverage of the window's backups, counted on a whole, unfiltered sweep (none otherwise:
    /// a partial listing would show copies as missing that exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageSummary>,
    /// The organization's coverage per member account, when this stack has the organization view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationSummary>,
    /// The evidence snapshots this run wrote (the day before's, on the day's first whole sweep).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceWritten>,
    /// False when the deadline stopped the run; the next run continues from the saved cursor.
    pub complete: bool,
}

/// What the organization view found: per member account and region, and in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSummary {
    pub accounts: Vec<AccountCoverage>,
    pub summary: CoverageSummary,
    pub unreadable: usize,
}

/// What reconciling one listed job did.
#[derive(Default)]
struct Reconciled {
    repaired: bool,
    details_filled: bool,
    failure: Option<FailureHandled>,
}

impl Summary {
    /// Whether every job so far was reconciled and read: a sweep that met a problem vouches for nothing.
    fn met_no_problem(&self) -> bool {
        self.errors == 0 && self.unreadable == 0
    }

    fn add(&mut self, reconciled: &Reconciled) {
        self.repaired += usize::from(reconciled.repaired);
        self.details_filled += usize::from(reconciled.details_filled);
        match reconciled.failure {
            Some(FailureHandled::RetryScheduled { .. }) => self.retried += 1,
            Some(FailureHandled::Alerted { .. }) => self.alerted += 1,
            Some(FailureHandled::Escalated { alerted, .. }) => {
                self.retried += 1;
                self.path_failures += 1;
                self.incidents_opened += usize::from(alerted);
            }
            Some(FailureHandled::Incident { alerted, .. }) => {
                self.path_failures += 1;
                self.incidents_opened += usize::from(alerted);
            }
            Some(FailureHandled::Duplicate { .. } | FailureHandled::Nested { .. }) | None => {}
        }
    }
}

/// Whether the run looked for routed copies nobody started, and if not, why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingCopyPass {
    /// Not reached (the deadline stopped the sweep first).
    #[default]
    NotReached,
    Ran,
    /// No routes (or no copy role) configured.
    NoRoutes,
    /// `RECONCILE_STATE` or `RECONCILE_DESTINATION_VAULT_ARN` hides copies from the listing, so a
    /// copy it does not show may well exist: starting one could duplicate it.
    SweepFiltered,
    /// A listed copy job could not be read well enough to know which copy it is.
    UnreadableJobs,
    /// The deadline stopped it; the next run looks again.
    Stopped,
    /// Coverage could not be assessed (an error is counted and logged); the next run looks again.
    Unassessed,
}

/// How much of the window's copy jobs a run's listing showed: whether a copy it does not show may
/// be presumed missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listing {
    /// Every job of the window, listed by this run, each readable: a copy not listed does not exist.
    Whole,
    /// `RECONCILE_STATE` or `RECONCILE_DESTINATION_VAULT_ARN` hid some jobs.
    Filtered,
    /// The rest of a sweep an earlier run began: the pages before its place were listed then.
    Continued,
    /// A listed job could not be read well enough to know which copy it is.
    CopiesUnknown,
    /// The deadline stopped it.
    Stopped,
}

/// What a run's pass over the listing does with each job.
#[derive(Clone, Copy)]
enum ListingPass<'a> {
    /// Brings its record in line, unless `verified` vouches for it.
    Reconcile { verified: Option<&'a VerifiedSweep> },
    /// Only notes it in the ledger: the copies phase's listing, of jobs already reconciled.
    Note,
}

/// What every step of one run needs to know.
#[derive(Clone, Copy)]
struct Run<'a> {
    /// The run's time: its window, coverage and records are reckoned from it.
    now: DateTime<Utc>,
    /// Holds the run's claims (the invocation's request id).
    owner: &'a ClaimOwner,
    /// When its work must stop (the Lambda deadline less [`SAFETY_MARGIN`]).
    deadline: Deadline,
}

/// How far a run got through one listed page.
enum PageEnd {
    Reconciled,
    /// The deadline cut the page off: its first `reconciled` jobs are done, the others are not.
    Stopped {
        reconciled: usize,
    },
}

/// Whether a step of the run after the listing finished, or the deadline stopped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    Finished,
    Stopped,
}

/// The window's coverage rows, as far as this run got them: also the missing-copy pass's work list.
enum CoverageRows {
    Assessed(Vec<Coverage>),
    /// Not assessed: an error (counted and logged), or a listing that was not whole.
    Unassessed,
    Stopped,
}

/// What a run's listing found, for what follows it.
struct Swept {
    listing: Listing,
    /// The copy attempts listed, per (recovery point, destination): for the resolved alerts, the
    /// missing-copy pass and (of a whole listing) coverage.
    ledger: CopyLedger,
    /// Pairs of listed copy jobs that could not be read as a whole: they have a copy all the same.
    unreadable_copies: HashSet<(RecoveryPointArn, BackupVaultArn)>,
    /// The last copy listed as completed on each path, per resource type: proof the path works
    /// (healing its incidents).
    completed_on: HashMap<PathKey, Vec<CompletedCopy>>,
}

/// A coverage status that says no copy job exists for the requirement.
fn no_copy_job(status: &CoverageStatus) -> bool {
    matches!(
        status,
        CoverageStatus::Missing | CoverageStatus::NotCopyable { copy_job: None, .. } | CoverageStatus::Expired
    )
}

/// The reconciler's daily path check: how it reads what it checks, and the region of the routes'
/// source vaults and of the plans (the function's).
pub struct DailyPathCheck<P> {
    pub facts: P,
    pub region: String,
}

/// Where the daily evidence snapshots go (`EvidenceBucketName`): the bucket, and the key prefixes
/// of this account's and (with the organization view) the organization's.
pub struct EvidenceSettings<E> {
    pub sink: E,
    pub prefix: String,
    pub organization_prefix: String,
}

/// Whose evidence a snapshot is: this account's and region's (with its open incidents), or the
/// organization's (the organization view's rows).
#[derive(Clone, Copy)]
enum EvidenceScope {
    Account,
    Organization,
}

pub struct Reconciler<B, S, A, Q, P, E = NoEvidence> {
    pub backup: B,
    pub store: S,
    pub alerts: A,
    pub queue: Q,
    /// Failures are handed to the retrier's own logic, with these settings.
    pub retry: RetrierSettings,
    pub sweep: SweepSettings,
    /// Routes whose missing copies are started; empty to only reconcile existing jobs.
    pub routes: RouteTable,
    pub copy_role: Option<IamRoleArn>,
    /// The organization view (the management account's stack): reported after the own sweep.
    pub organization: Option<OrganizationSettings>,
    /// The daily path check (`PathCheck`), on the first whole sweep of each day (UTC).
    pub path_check: Option<DailyPathCheck<P>>,
    /// The daily evidence snapshot of the day before, on the first whole sweep of each day (UTC).
    pub evidence: Option<EvidenceSettings<E>>,
    /// The time of a run whose event carries none (a manual invocation); a scheduled run's time is
    /// its event's.
    pub clock: Arc<dyn Clock>,
}

impl<B: BackupApi, S: TrackingStore, A: AlertSink, Q: RetryQueue, P: PathFactsApi, E: EvidenceSink>
    Reconciler<B, S, A, Q, P, E>
{
    fn tracker(&self) -> Tracker<&S> {
        // The reconciler reads the API, not notifications: no publisher to verify.
        Tracker { store: &self.store, sources: SourcePolicy::default() }
    }

    fn healer(&self) -> Healer<&S, &A> {
        Healer {
            store: &self.store,
            alerts: &self.alerts,
            clock: self.clock.clone(),
            lease: self.retry.claim_lease,
            backfill: self.retry.backfill.enabled,
        }
    }

    fn retrier(&self) -> Retrier<&B, &S, &A, &Q> {
        Retrier::new(&self.backup, &self.store, &self.alerts, &self.queue, self.retry.clone())
            .with_clock(self.clock.clone())
    }

    fn coverage(&self) -> CoverageAssessor<&B, &S> {
        CoverageAssessor {
            backup: &self.backup,
            store: &self.store,
            routes: self.routes.clone(),
            max_attempts: self.retry.policy.max_attempts,
        }
    }

    fn copier(&self) -> Option<Copier<&B>> {
        let copy_role = self.copy_role.clone()?;
        (!self.routes.is_empty()).then(|| Copier {
            backup: &self.backup,
            routes: self.routes.clone(),
            copy_role,
            sources: SourcePolicy::default(),
        })
    }

    /// [`Self::run_as`] for a caller without a Lambda invocation (tests, tools), without a deadline:
    /// its claims are held by an owner unique in this process.
    pub async fn run(&self, now: DateTime<Utc>, out_of_time: impl FnMut() -> bool) -> Result<Summary, HandlerError> {
        self.run_as(&ClaimOwner::unique(), now, Deadline::NEVER, out_of_time).await
    }

    /// One scheduled run as of `now` (its window, coverage and records are reckoned from it), its
    /// claims held by `owner` (the invocation's request id). A sweep has two phases: reconciling
    /// the listed jobs, then coverage, resolved alerts and the missing-copy pass over a whole
    /// listing. No job starts, and every call is cut off, at `deadline`; the run then saves where it
    /// stopped in its cursor and ends. A job cut off is not yet reconciled: the next run takes it up
    /// (every side effect is idempotent, through claims and deterministic tokens). `out_of_time` is
    /// also asked before each page (tests stop a run after a number of pages with it).
    pub async fn run_as(
        &self,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        deadline: Deadline,
        mut out_of_time: impl FnMut() -> bool,
    ) -> Result<Summary, HandlerError> {
        let mut summary = Summary::default();
        let run = Run { now, owner, deadline };
        // Nothing is done before the cursor is read: a run stopped here leaves it as it was.
        let Ok(cursor) = deadline.bound(self.store.load_cursor()).await else {
            tracing::warn!("deadline reached before the sweep began; the cursor stays as it was");
            return Ok(summary);
        };
        let cursor = cursor?;
        let lookback = chrono::Duration::from_std(self.sweep.lookback).unwrap_or(chrono::Duration::days(3));
        let mut sweep = cursor.resume.clone().unwrap_or(SweepResume {
            window_start: now - lookback,
            phase: SweepPhase::Listing(ListingPlace::default()),
            started_at: now,
            clean: true,
        });
        let mut verified = cursor.verified.clone();
        let mut swept = match sweep.phase.clone() {
            SweepPhase::Listing(place) => {
                let reconciled =
                    self.reconciling_phase(&mut sweep, place, &mut verified, run, &mut out_of_time, &mut summary);
                match reconciled.await? {
                    Some(swept) => swept,
                    None => return Ok(summary),
                }
            }
            SweepPhase::Copies => {
                let mut start = ListingPlace::default();
                self.list(sweep.window_start, &mut start, ListingPass::Note, run, &mut out_of_time, &mut summary)
                    .await?
            }
        };
        summary.complete =
            self.copies_phase(sweep.window_start, &mut swept, run, &mut out_of_time, &mut summary).await?;
        if !summary.complete {
            tracing::warn!(?summary, "deadline reached; the next run looks at coverage and copies again");
            return Ok(summary);
        }
        if sweep.phase == SweepPhase::Copies {
            self.store.save_cursor(&SweepCursor { resume: None, verified }).await?;
        }
        if let Some(settings) = &self.organization {
            if !out_of_time() {
                let report = self.report_organization(settings, sweep.window_start, run, &mut summary);
                summary.complete = deadline.bound(report).await.is_ok();
            }
        }
        tracing::info!(?summary, "reconciliation finished");
        Ok(summary)
    }

    /// The sweep's first phase, from its place: brings each listed job's record in line. None if
    /// the deadline stopped it (its place is saved). Else the cursor names the next phase (`sweep`
    /// moves to it), or, for a filtered sweep, which never looks for missing copies, the sweep's
    /// end; and this is the listing that phase looks at: this run's, if it listed every page.
    async fn reconciling_phase(
        &self,
        sweep: &mut SweepResume,
        mut place: ListingPlace,
        verified: &mut Option<VerifiedSweep>,
        run: Run<'_>,
        out_of_time: &mut impl FnMut() -> bool,
        summary: &mut Summary,
    ) -> Result<Option<Swept>, HandlerError> {
        let filters = self.sweep.fingerprint();
        let applies = verified.as_ref().filter(|v| v.applies_to(sweep.window_start, &filters));
        let pass = ListingPass::Reconcile { verified: applies };
        let swept = self.list(sweep.window_start, &mut place, pass, run, out_of_time, summary).await?;
        if swept.listing == Listing::Stopped {
            sweep.phase = SweepPhase::Listing(place);
            sweep.clean &= summary.met_no_problem();
            // Saved past the deadline, within the safety margin kept for it.
            let saved = SweepCursor { resume: Some(sweep.clone()), verified: verified.clone() };
            self.store.save_cursor(&saved).await?;
            tracing::warn!(?summary, "deadline reached; the next run continues from the saved cursor");
            return Ok(None);
        }
        *verified = self.verified_after(sweep, summary, verified.take());
        if swept.listing != Listing::Filtered {
            sweep.phase = SweepPhase::Copies;
        }
        let next = (sweep.phase == SweepPhase::Copies).then(|| sweep.clone());
        self.store.save_cursor(&SweepCursor { resume: next, verified: verified.clone() }).await?;
        if swept.listing != Listing::Continued {
            return Ok(Some(swept));
        }
        // This run listed only the pages after an earlier run's place: the next phase lists them all.
        let mut start = ListingPlace::default();
        Ok(Some(self.list(sweep.window_start, &mut start, ListingPass::Note, run, out_of_time, summary).await?))
    }

    /// The sweep's second phase, over the listing of the whole window: coverage, resolved alerts
    /// and the missing-copy pass. False if the deadline stopped it.
    async fn copies_phase(
        &self,
        window_start: DateTime<Utc>,
        swept: &mut Swept,
        run: Run<'_>,
        out_of_time: &mut impl FnMut() -> bool,
        summary: &mut Summary,
    ) -> Result<bool, HandlerError> {
        if swept.listing == Listing::Stopped {
            return Ok(false);
        }
        // Coverage as the sweep found it (before any missing copy is started below), on a whole
        // listing only: a partial one would show copies as missing that exist. Its rows are also
        // the missing-copy pass's work list: one listing of the window's backups serves both.
        let rows = match swept.listing {
            Listing::Whole => self.assess_coverage(window_start, &mut swept.ledger, run, summary).await,
            _ => CoverageRows::Unassessed,
        };
        let evidence = match &rows {
            CoverageRows::Assessed(rows) => {
                self.write_evidence(EvidenceScope::Account, rows, window_start, run, summary).await
            }
            _ => Progress::Finished,
        };
        // Alerted copies that a completed copy now covers: told once each, in the alert's thread.
        let resolutions = match self.publish_resolutions(&mut swept.ledger, summary, run).await {
            Ok(progress) => progress,
            Err(err) => {
                summary.errors += 1;
                tracing::error!(error = %err, "could not read the records of alerted copies");
                Progress::Finished
            }
        };
        let (checking, cleared_on) = self.daily_path_check(&swept.completed_on, summary, run).await;
        let mut heal_on = swept.completed_on.clone();
        for path in cleared_on {
            heal_on.entry(path).or_default();
        }
        let healing = self.heal_paths(&heal_on, summary, run).await;
        let backfilling = self.backfill(summary, run).await;
        let (watching, broken) = self.watch_incidents(summary, run).await;
        summary.missing_copy_pass = self.missing_copy_pass(swept, &rows, &broken, run, out_of_time, summary).await?;
        Ok(checking == Progress::Finished
            && evidence == Progress::Finished
            && healing == Progress::Finished
            && backfilling == Progress::Finished
            && watching == Progress::Finished
            && summary.missing_copy_pass != MissingCopyPass::Stopped
            && !matches!(rows, CoverageRows::Stopped)
            && resolutions == Progress::Finished)
    }

    /// Lists the window's copy jobs page by page from `place`, which it moves along, and does
    /// `pass` to each job. When the deadline comes (or `out_of_time` says so before a page), the
    /// listing is [`Listing::Stopped`], `place` where the next run takes up.
    async fn list(
        &self,
        window_start: DateTime<Utc>,
        place: &mut ListingPlace,
        pass: ListingPass<'_>,
        run: Run<'_>,
        out_of_time: &mut impl FnMut() -> bool,
        summary: &mut Summary,
    ) -> Result<Swept, HandlerError> {
        let from_start = place.is_start();
        let query = CopyJobQuery {
            created_after: Some(window_start),
            destination_vault: self.sweep.destination_vault.clone(),
            state: self.sweep.state,
            source_recovery_point: None,
            account: None,
            max_results: Some(self.sweep.page_size),
        };
        let mut ledger = CopyLedger::default();
        let mut unreadable_copies = HashSet::new();
        let mut completed_on: HashMap<PathKey, Vec<CompletedCopy>> = HashMap::new();
        // Some listed job could not be read well enough to know even its pair.
        let mut copies_unknown = false;
        let listing = loop {
            let page = match out_of_time() {
                true => Err(Stopped),
                false => run.deadline.bound(self.backup.list_copy_jobs(&query, place.next_token.as_deref())).await,
            };
            let Ok(page) = page else { break Listing::Stopped };
            let page = page?;
            summary.pages += 1;
            for unreadable in &page.unreadable {
                summary.unreadable += 1;
                tracing::error!(copy_job = unreadable.id.as_deref(), problem = %unreadable.problem, "listed copy job could not be read; skipped");
                match &unreadable.copy {
                    Some(pair) => {
                        unreadable_copies.insert(pair.clone());
                    }
                    None => copies_unknown = true,
                }
            }
            // A run stopped inside this page reconciled its jobs up to this one. (Not listed again,
            // the page changed: all of it is reconciled again, harmlessly.)
            for job in page.items.iter().filter(|job| job.state == CopyJobState::Completed) {
                let Some(at) = job.completed_at else { continue };
                let copy = CompletedCopy { job: job.id.clone(), at, resource_type: job.resource_type.clone() };
                let latest = completed_on.entry(CopyPath::of(job).key()).or_default();
                match latest.iter_mut().find(|other| other.resource_type == copy.resource_type) {
                    Some(other) if other.at < at => *other = copy,
                    Some(_) => {}
                    None => latest.push(copy),
                }
            }
            let done =
                place.last_reconciled.as_ref().and_then(|last| page.items.iter().position(|job| job.id == *last));
            let jobs = &page.items[done.map_or(0, |at| at + 1)..];
            match pass {
                ListingPass::Reconcile { verified } => {
                    if let PageEnd::Stopped { reconciled } =
                        self.reconcile_page(jobs, verified, &mut ledger, run, summary).await?
                    {
                        if let Some(last) = reconciled.checked_sub(1).map(|at| &jobs[at]) {
                            place.last_reconciled = Some(last.id.clone());
                        }
                        break Listing::Stopped;
                    }
                }
                ListingPass::Note => {
                    summary.scanned += jobs.len();
                    // Records are not read; coverage and resolutions read those they need.
                    jobs.iter().for_each(|job| ledger.observe(job, None));
                }
            }
            (place.next_token, place.last_reconciled) = (page.next_token, None);
            if place.next_token.is_none() {
                // A copy missing from a partial listing may exist: the order is the missing-copy pass's.
                break if self.sweep.destination_vault.is_some() || self.sweep.state.is_some() {
                    Listing::Filtered
                } else if !from_start {
                    Listing::Continued
                } else if copies_unknown {
                    Listing::CopiesUnknown
                } else {
                    Listing::Whole
                };
            }
        };
        Ok(Swept { listing, ledger, unreadable_copies, completed_on })
    }

    /// Reconciles one listed page's jobs, a few at a time (their table writes overlap), and notes
    /// each in the ledger. Jobs a verified sweep already reconciled are listed (for the missing-copy
    /// pass) but their records are not read again. No job starts after the deadline, and one it
    /// cuts off is not counted as reconciled (nor as an error: it is simply not done yet).
    async fn reconcile_page(
        &self,
        jobs: &[CopyJob],
        verified: Option<&VerifiedSweep>,
        ledger: &mut CopyLedger,
        run: Run<'_>,
        summary: &mut Summary,
    ) -> Result<PageEnd, HandlerError> {
        let needs_check = |job: &CopyJob| !verified.is_some_and(|verified| verified.covers(job.completed_at));
        let ids: Vec<_> = jobs.iter().filter(|job| needs_check(job)).map(|job| job.id.clone()).collect();
        let records = match ids.is_empty() {
            true => HashMap::new(),
            false => match run.deadline.bound(self.store.get_many(&ids)).await {
                Ok(records) => records?,
                Err(Stopped) => return Ok(PageEnd::Stopped { reconciled: 0 }),
            },
        };
        for job in jobs {
            summary.scanned += 1;
            // Records of verified jobs are not read; coverage and resolutions read those they need.
            ledger.observe(job, records.get(&job.id));
        }
        summary.already_verified += jobs.len() - ids.len();
        let tracker = self.tracker();
        let checks = jobs.iter().filter(|job| needs_check(job)).map(|job| {
            let (tracker, records) = (&tracker, &records);
            let reconcile = self.reconcile_job(tracker, job, records.get(&job.id), run.now, run.owner);
            async move { (job, run.deadline.bound(reconcile).await) }
        });
        let results: Vec<_> = stream::iter(checks).buffered(CONCURRENT_JOBS).collect().await;
        let mut first_cut_off: Option<&CopyJobId> = None;
        for (job, result) in results {
            match result {
                Ok(Ok(reconciled)) => summary.add(&reconciled),
                Ok(Err(err)) => {
                    summary.errors += 1;
                    tracing::error!(copy_job = %job.id, error = %err, "could not reconcile copy job");
                }
                Err(Stopped) => {
                    first_cut_off.get_or_insert(&job.id);
                }
            }
        }
        Ok(match first_cut_off {
            None => PageEnd::Reconciled,
            Some(cut_off) => {
                PageEnd::Stopped { reconciled: jobs.iter().position(|job| job.id == *cut_off).unwrap_or(0) }
            }
        })
    }

    /// What a sweep whose jobs are all reconciled vouches for: the jobs that had finished when it
    /// started, unless it met a problem (then the last verified sweep stands).
    fn verified_after(
        &self,
        sweep: &SweepResume,
        summary: &Summary,
        verified: Option<VerifiedSweep>,
    ) -> Option<VerifiedSweep> {
        if !(sweep.clean && summary.met_no_problem()) {
            return verified;
        }
        Some(VerifiedSweep {
            window_start: sweep.window_start,
            completed_before: sweep.started_at - CLOCK_SKEW_MARGIN,
            filters: self.sweep.fingerprint(),
        })
    }

    /// The window's coverage, and its rows.
    async fn assess_coverage(
        &self,
        since: DateTime<Utc>,
        ledger: &mut CopyLedger,
        run: Run<'_>,
        summary: &mut Summary,
    ) -> CoverageRows {
        let query = CoverageQuery { since, vault: None };
        let coverage = self.coverage();
        match run.deadline.bound(coverage.assess(&query, ledger, run.now)).await {
            Ok(Ok(report)) => {
                // At INFO the run's one line, "reconciliation finished", carries it in its summary.
                tracing::debug!(coverage = ?report.summary, "copy coverage");
                summary.coverage = Some(report.summary);
                summary.unreadable += report.unreadable;
                CoverageRows::Assessed(report.rows)
            }
            Ok(Err(err)) => {
                summary.errors += 1;
                tracing::error!(error = %err, "could not assess copy coverage");
                CoverageRows::Unassessed
            }
            Err(Stopped) => CoverageRows::Stopped,
        }
    }

    /// The day before's evidence snapshot of `scope`, unless written or no bucket is configured (a
    /// failure is counted and logged; the chain stays where it was, so the next whole sweep writes
    /// the day).
    async fn write_evidence(
        &self,
        scope: EvidenceScope,
        rows: &[Coverage],
        window_start: DateTime<Utc>,
        run: Run<'_>,
        summary: &mut Summary,
    ) -> Progress {
        let Some(settings) = &self.evidence else { return Progress::Finished };
        let prefix = match scope {
            EvidenceScope::Account => &settings.prefix,
            EvidenceScope::Organization => &settings.organization_prefix,
        };
        let write = async {
            // The organization's scope has no incidents of its own: member stacks keep theirs.
            let incidents = match scope {
                EvidenceScope::Account => self.store.open_incidents().await?,
                EvidenceScope::Organization => Vec::new(),
            };
            let writer = EvidenceWriter { sink: &settings.sink, store: &self.store, prefix: prefix.clone() };
            writer.write_daily(rows, &incidents, window_start, run.now).await
        };
        match run.deadline.bound(write).await {
            Ok(Ok(written)) => {
                summary.evidence.extend(written);
                Progress::Finished
            }
            Ok(Err(err)) => {
                summary.errors += 1;
                tracing::error!(error = %err, prefix = %prefix, "could not write the evidence snapshot");
                Progress::Finished
            }
            Err(Stopped) => Progress::Stopped,
        }
    }

    /// Whether to look for routed copies nobody started, and the look. It may run only on a whole
    /// listing: a copy missing from a partial one may exist, and starting another could duplicate a
    /// plan's CopyAction.
    async fn missing_copy_pass(
        &self,
        swept: &Swept,
        rows: &CoverageRows,
        broken: &HashSet<(BackupVaultArn, BackupVaultArn)>,
        run: Run<'_>,
        out_of_time: &mut impl FnMut() -> bool,
        summary: &mut Summary,
    ) -> Result<MissingCopyPass, HandlerError> {
        if self.copier().is_none() {
            return Ok(MissingCopyPass::NoRoutes);
        }
        match swept.listing {
            Listing::Whole => {}
            Listing::Filtered => return Ok(MissingCopyPass::SweepFiltered),
            Listing::CopiesUnknown => return Ok(MissingCopyPass::UnreadableJobs),
            // Never so after a whole listing: a run lists the window again before it gets here.
            Listing::Continued | Listing::Stopped => return Ok(MissingCopyPass::NotReached),
        }
        let rows = match rows {
            CoverageRows::Assessed(rows) => rows,
            CoverageRows::Unassessed => return Ok(MissingCopyPass::Unassessed),
            CoverageRows::Stopped => return Ok(MissingCopyPass::Stopped),
        };
        Ok(match self.start_missing_copies(rows, &swept.unreadable_copies, broken, run, out_of_time, summary).await? {
            Progress::Finished => MissingCopyPass::Ran,
            Progress::Stopped => MissingCopyPass::Stopped,
        })
    }

    /// The organization's coverage over the same window, read-only (no copy, no write, no alert:
    /// member stacks act in their own accounts).
    async fn report_organization(
        &self,
        settings: &OrganizationSettings,
        since: DateTime<Utc>,
        run: Run<'_>,
        summary: &mut Summary,
    ) {
        let assessor = OrganizationAssessor { backup: &self.backup, settings: settings.clone() };
        match assessor.report(since, run.now).await {
            Ok(report) => {
                self.write_evidence(EvidenceScope::Organization, &report.rows, since, run, summary).await;
                tracing::debug!(
                    accounts = report.accounts.len(),
                    uncovered = report.summary.uncovered(),
                    failed_chains = report.failed_chains(),
                    "organization coverage"
                );
                summary.organization = Some(OrganizationSummary {
                    accounts: report.accounts,
                    summary: report.summary,
                    unreadable: report.unreadable,
                });
            }
            Err(err) => {
                summary.errors += 1;
                tracing::error!(error = %err, "could not report the organization's coverage");
            }
        }
    }

    async fn reconcile_job(
        &self,
        tracker: &Tracker<&S>,
        job: &CopyJob,
        record: Option<&crate::domain::CopyJobRecord>,
        now: DateTime<Utc>,
        owner: &ClaimOwner,
    ) -> Result<Reconciled, HandlerError> {
        let mut reconciled = Reconciled::default();
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
            reconciled.repaired = true;
        } else if let Some(record) = record {
            // Tracked from SNS notifications, which carry no details: the listing has them.
            reconciled.details_filled = tracker.fill_missing_details(&job.id, &details, &record.details).await?;
        }
        if job.has_failed() && !record.is_some_and(|r| r.failure_handled) {
            reconciled.failure = Some(self.retrier().handle_failure(&job.id, Some(job), owner).await?);
        }
        Ok(reconciled)
    }

    /// Publishes one "resolved" message per alerted copy that a listed COMPLETED copy covers: the
    /// same recovery point to the same vault, whoever started it. Each is claimed on the alerted
    /// job's record, so it goes out once however many sweeps see it (one the deadline cuts off
    /// goes out on a later sweep, once its claim's lease has lapsed).
    async fn publish_resolutions(
        &self,
        ledger: &mut CopyLedger,
        summary: &mut Summary,
        run: Run<'_>,
    ) -> Result<Progress, HandlerError> {
        let wanted = ledger.resolution_records_wanted();
        if !wanted.is_empty() {
            let Ok(records) = run.deadline.bound(self.store.get_many(&wanted)).await else {
                return Ok(Progress::Stopped);
            };
            ledger.add_records(&records?);
        }
        for resolution in ledger.resolutions() {
            let Ok(resolved) = run.deadline.bound(self.resolve(&resolution, run.owner)).await else {
                return Ok(Progress::Stopped);
            };
            match resolved {
                Ok(true) => summary.resolved += 1,
                Ok(false) => {}
                Err(err) => {
                    summary.errors += 1;
                    tracing::error!(copy_job = %resolution.alerted_job, error = %err, "could not publish the resolved message");
                }
            }
        }
        Ok(Progress::Finished)
    }

    /// The day's path check, once a day: incidents opened for the paths it finds broken (their alerts
    /// go out with the open incidents, below), and healed where it finds the cause gone (the paths
    /// returned, for their "healed" messages). An error leaves the day's check to the next sweep.
    async fn daily_path_check(
        &self,
        seen: &HashMap<PathKey, Vec<CompletedCopy>>,
        summary: &mut Summary,
        run: Run<'_>,
    ) -> (Progress, Vec<PathKey>) {
        // The paths the sweep saw copies complete on are known paths too (with their role).
        let seen: Vec<PathSpec> = seen
            .iter()
            .filter_map(|(key, copies)| {
                let path = key.path().filter(|path| path.role.is_some())?;
                let types: Vec<_> = copies.iter().map(|copy| copy.resource_type.clone()).collect();
                Some(PathSpec::of_copies(path, &types))
            })
            .collect();
        self.path_check(summary, run, true, seen).await
    }

    /// The path check now, whatever the day (the template's custom resource at deploy, after its
    /// reads of the routes and plans): incidents opened for the paths it finds broken and their one
    /// alert sent, incidents whose cause it finds gone healed and told, as a sweep would. Errors
    /// are counted in the summary (`path_check` none when the check could not finish).
    pub async fn check_paths_now(&self, owner: &ClaimOwner, now: DateTime<Utc>, deadline: Deadline) -> Summary {
        let mut summary = Summary::default();
        let run = Run { now, owner, deadline };
        let (checking, cleared_on) = self.path_check(&mut summary, run, false, Vec::new()).await;
        let heal_on: HashMap<PathKey, Vec<CompletedCopy>> =
            cleared_on.into_iter().map(|path| (path, Vec::new())).collect();
        let healing = self.heal_paths(&heal_on, &mut summary, run).await;
        let (watching, _) = self.watch_incidents(&mut summary, run).await;
        summary.complete = [checking, healing, watching].iter().all(|progress| *progress == Progress::Finished);
        summary
    }

    /// The path check, once a day (`daily`) or now.
    async fn path_check(
        &self,
        summary: &mut Summary,
        run: Run<'_>,
        daily: bool,
        seen: Vec<PathSpec>,
    ) -> (Progress, Vec<PathKey>) {
        let Some(check) = &self.path_check else { return (Progress::Finished, Vec::new()) };
        let watch = PathWatch { checker: PathChecker { facts: &check.facts }, store: &self.store };
        let query = PathsQuery {
            region: check.region.clone(),
            routes: self.routes.clone(),
            route_role: self.copy_role.clone(),
            plans: true,
            extra: seen,
        };
        let checked = async {
            match daily {
                true => watch.run_daily(&query, run.now).await,
                false => watch.run(&query, run.now).await.map(Some),
            }
        };
        match run.deadline.bound(checked).await {
            Ok(Ok(Some(checked))) => {
                tracing::info!(?checked, "path check done");
                let healed_on = checked.healed_on.clone();
                summary.path_check = Some(checked);
                (Progress::Finished, healed_on)
            }
            Ok(Ok(None)) => (Progress::Finished, Vec::new()),
            Ok(Err(err)) => {
                summary.errors += 1;
                tracing::error!(error = %err, "the path check could not finish; the next sweep tries again");
                (Progress::Finished, Vec::new())
            }
            Err(Stopped) => (Progress::Stopped, Vec::new()),
        }
    }

    /// Heals each open incident of a path on which a copy completed after the incident opened, and
    /// sends its one "healed" message (again on a later sweep if this one could not).
    async fn heal_paths(
        &self,
        completed_on: &HashMap<PathKey, Vec<CompletedCopy>>,
        summary: &mut Summary,
        run: Run<'_>,
    ) -> Progress {
        let healer = self.healer();
        for (path, completed) in completed_on {
            // The path's record: its latest completed copy (its health reads "healthy" from it).
            if let Some(latest) = completed.iter().max_by_key(|copy| copy.at) {
                let noted = run.deadline.bound(self.store.note_path_copy(path, &latest.job, latest.at)).await;
                match noted {
                    Err(Stopped) => return Progress::Stopped,
                    Ok(Err(err)) => {
                        summary.errors += 1;
                        tracing::error!(path = path.as_str(), error = %err, "could not note the path's completed copy");
                    }
                    Ok(Ok(())) => {}
                }
            }
            let Ok(healed) = run.deadline.bound(healer.heal_path(path, completed, run.owner)).await else {
                return Progress::Stopped;
            };
            match healed {
                Ok(told) => summary.incidents_healed += told,
                Err(err) => {
                    summary.errors += 1;
                    tracing::error!(path = path.as_str(), error = %err, "could not heal the path's incidents");
                }
            }
        }
        Progress::Finished
    }

    /// The open incidents: `BrokenPaths` (paths with an incident other than congestion), an opening
    /// alert its opener could not send, and the "still broken" digests due (with no new failure to
    /// bring them). The (source vault, destination vault) pairs broken, for the missing-copy pass.
    async fn watch_incidents(
        &self,
        summary: &mut Summary,
        run: Run<'_>,
    ) -> (Progress, HashSet<(BackupVaultArn, BackupVaultArn)>) {
        let mut broken = HashSet::new();
        let open = match run.deadline.bound(self.store.open_incidents()).await {
            Ok(Ok(open)) => open,
            Ok(Err(err)) => {
                summary.errors += 1;
                tracing::error!(error = %err, "could not read the open incidents");
                return (Progress::Finished, broken);
            }
            Err(Stopped) => return (Progress::Stopped, broken),
        };
        let paths: HashSet<&PathKey> =
            open.iter().filter(|i| i.id.key.cause != PathCauseKind::Congestion).map(|i| &i.id.key.path).collect();
        summary.broken_paths = Some(paths.len());
        let retrier = self.retrier();
        for incident in &open {
            if incident.id.key.cause != PathCauseKind::Congestion {
                broken.insert((incident.path.source_vault.clone(), incident.path.destination_vault.clone()));
            }
            let told = async {
                if !incident.alerted && retrier.send_opened(&incident.id, run.owner).await? {
                    summary.incidents_opened += 1;
                }
                retrier.send_digest_if_due(incident, run.now).await
            };
            match run.deadline.bound(told).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    summary.errors += 1;
                    tracing::error!(incident = %incident.id.thread_id(), error = %err, "could not tell an open incident");
                }
                Err(Stopped) => return (Progress::Stopped, broken),
            }
        }
        (Progress::Finished, broken)
    }

    /// Advances the healed paths' backfills (copies whose events were lost are found ended here).
    async fn backfill(&self, summary: &mut Summary, run: Run<'_>) -> Progress {
        let retrier = self.retrier();
        let backfiller = retrier.backfiller();
        match run.deadline.bound(backfiller.run(run.owner)).await {
            Ok(Ok(backfilled)) => {
                summary.copies_backfilled += backfilled.started;
                Progress::Finished
            }
            Ok(Err(err)) => {
                summary.errors += 1;
                tracing::error!(error = %err, "could not advance the backfills");
                Progress::Finished
            }
            Err(Stopped) => Progress::Stopped,
        }
    }

    /// The "resolved" message of one alerted job, once: false when another run already sent it.
    async fn resolve(&self, resolution: &Resolution, owner: &ClaimOwner) -> Result<bool, HandlerError> {
        let retrier = self.retrier();
        let published = retrier
            .exactly_once(&resolution.alerted_job, ClaimKind::Resolution, owner, async |record, held| {
                // The record as it stands now says what was alerted; its outcome keeps that.
                let mut recorded = record.outcome;
                if recorded.alerted.is_none() {
                    return Ok(ClaimedWork { recorded, details: None, outcome: false });
                }
                retrier.confirm(&held).await?;
                self.alerts.resolve(resolution).await?;
                tracing::info!(copy_job = %resolution.alerted_job, completed = %resolution.completed_job, thread = %resolution.original_job, "resolved message published");
                recorded.resolved_by = Some(resolution.completed_job.clone());
                Ok(ClaimedWork { recorded, details: None, outcome: true })
            })
            .await?;
        Ok(matches!(published, Once::Done(true)))
    }

    /// Starts the copies that routes call for and nobody started — the coverage rows a route
    /// requires that have no copy job — except those AWS Backup already refused for good and those
    /// an unreadable listed job shows to exist. A recovery point coverage found in cold storage or
    /// gone is asked for all the same: AWS Backup's refusal is what the operator is alerted with,
    /// once. A continuous backup is never asked for: it can only be copied by a plan.
    /// Stopped by the deadline, the next sweep looks again: the copies started by then are in its
    /// listing, and one cut off is asked for again with the same token (it starts once).
    async fn start_missing_copies(
        &self,
        rows: &[Coverage],
        unreadable_copies: &HashSet<(RecoveryPointArn, BackupVaultArn)>,
        broken: &HashSet<(BackupVaultArn, BackupVaultArn)>,
        run: Run<'_>,
        out_of_time: &mut impl FnMut() -> bool,
        summary: &mut Summary,
    ) -> Result<Progress, HandlerError> {
        let Some(copier) = self.copier() else { return Ok(Progress::Finished) };
        let missing: Vec<&Requirement> = rows
            .iter()
            .filter(|row| row.requirement.required_by == RequiredBy::Route && no_copy_job(&row.status))
            .map(|row| &row.requirement)
            .filter(|r| r.recovery_point.never_copyable().is_none())
            .filter(|r| !unreadable_copies.contains(&(r.recovery_point.clone(), r.destination.clone())))
            // A path with an open incident fails every copy: they are started once it heals.
            .filter(|r| !broken.contains(&(r.source_vault_arn.clone(), r.destination.clone())))
            .collect();
        // Refusals are read in batches as large as the store's.
        for batch in missing.chunks(100) {
            if out_of_time() {
                return Ok(Progress::Stopped);
            }
            let tokens: Vec<IdempotencyToken> =
                batch.iter().map(|r| IdempotencyToken::for_route(&r.recovery_point, &r.destination)).collect();
            let Ok(refused) = run.deadline.bound(self.store.refused(&tokens)).await else {
                return Ok(Progress::Stopped);
            };
            let refused = refused?;
            for (requirement, token) in batch.iter().zip(&tokens) {
                if refused.contains(token) {
                    continue;
                }
                let Some(route) = self
                    .routes
                    .routes_for(&requirement.source_vault, requirement.resource_type.as_ref())
                    .find(|route| route.destination_vault == requirement.destination)
                else {
                    continue;
                };
                let completed = CompletedBackup {
                    recovery_point: requirement.recovery_point.clone(),
                    vault: requirement.source_vault_arn.clone(),
                    resource_type: requirement.resource_type.clone(),
                };
                let Ok(started) = run.deadline.bound(copier.start_copies(&completed, &[route])).await else {
                    return Ok(Progress::Stopped);
                };
                for (route, result) in started {
                    match result {
                        Ok(_) => summary.missing_copies_started += 1,
                        Err(err) if err.is_transient() => {
                            summary.errors += 1;
                            tracing::error!(backup_job = %requirement.backup_job, destination = %route.destination_vault, error = %err, "could not start missing copy");
                        }
                        // Cut off, it is asked (and alerted) again next time, as when recording fails.
                        Err(err) => match run.deadline.bound(self.refuse(requirement, route, &err, run.now)).await {
                            Ok(Ok(())) => summary.refused += 1,
                            Ok(Err(failed)) => {
                                summary.errors += 1;
                                tracing::error!(backup_job = %requirement.backup_job, error = %failed, "could not alert or record a refused copy");
                            }
                            Err(Stopped) => return Ok(Progress::Stopped),
                        },
                    }
                }
            }
        }
        Ok(Progress::Finished)
    }

    /// A routed copy AWS Backup refused for good: the operator is told, then the refusal is
    /// recorded so later sweeps do not ask again every hour. If the record cannot be written the
    /// next sweep asks (and alerts) again: a duplicate alert rather than a lost one.
    async fn refuse(
        &self,
        backup: &Requirement,
        route: &CopyRoute,
        err: &AwsError,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        tracing::warn!(backup_job = %backup.backup_job, destination = %route.destination_vault, error = %err, "AWS Backup refused the routed copy");
        let reason = match &self.copy_role {
            Some(role) if err.is_pass_role_denial() => {
                AlertReason::RoleRefused { role: role.clone(), refusal: err.into() }
            }
            _ => AlertReason::CopyRefused { refusal: err.into() },
        };
        let alert = Alert {
            copy_job: None,
            original_job: None,
            recovery_point: Some(backup.recovery_point.clone()),
            resource: backup.resource.clone(),
            source_vault: backup.source_vault_arn.clone(),
            destination_vault: route.destination_vault.clone(),
            // No copy job exists to report it.
            destination: Default::default(),
            role: self.copy_role.clone(),
            lifecycle: route.lifecycle,
            reason,
            attempts: 1,
        };
        self.alerts.publish(&alert).await?;
        tracing::warn!(backup_job = %backup.backup_job, reason = alert.reason.summary(), attempts = alert.attempts, destination = %route.destination_vault, error = %err, "alert published");
        let refusal = Refusal {
            token: IdempotencyToken::for_route(&backup.recovery_point, &route.destination_vault),
            recovery_point: backup.recovery_point.clone(),
            destination_vault: route.destination_vault.clone(),
            error: err.to_string(),
            at: now,
        };
        self.store.record_refusal(&refusal).await?;
        Ok(())
    }

    /// Lambda entry point. The run is as of the scheduled event's `time` (the clock's time when the
    /// payload has none: a manual invocation). `deadline_ms` is the invocation's deadline
    /// (milliseconds since the epoch); the run's work stops [`SAFETY_MARGIN`] before it, on the
    /// monotonic clock, to save its cursor and report. `owner` (the invocation's request id) holds
    /// its claims.
    pub async fn handle(&self, payload: &Value, deadline_ms: u64, owner: &ClaimOwner) -> Result<Summary, HandlerError> {
        let deadline = Deadline::before_lambda_deadline(deadline_ms, SAFETY_MARGIN);
        let now = scheduled_time(payload)?.unwrap_or_else(|| self.clock.now());
        self.run_as(owner, now, deadline, || false).await
    }
}
