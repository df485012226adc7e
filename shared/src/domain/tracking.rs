//! What the tracking table knows about copy jobs and recovery points.

use chrono::{DateTime, Utc};

use super::{
    BackupVaultArn, Composite, CopyJob, CopyJobId, CopyJobState, IdempotencyToken, Lifecycle, Lineage,
    RecoveryPointArn, ResourceArn,
};

/// Facts about a copy job that do not change over its life (but the destination recovery point,
/// known once the copy completes). Any of them may be unknown to an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyDetails {
    pub source_recovery_point: Option<RecoveryPointArn>,
    pub source_vault: Option<BackupVaultArn>,
    pub destination_vault: Option<BackupVaultArn>,
    pub destination_recovery_point: Option<RecoveryPointArn>,
    pub resource: Option<ResourceArn>,
    pub resource_type: Option<String>,
    /// A nested job's composite parent (`ParentJobId`).
    pub parent_job: Option<CopyJobId>,
    /// A composite parent's number of child jobs (`NumberOfChildJobs`).
    pub child_jobs: Option<u32>,
}

impl CopyDetails {
    /// The merge rule of the tracking table: keep what is recorded, fill in what is missing.
    /// (The DynamoDB adapter writes the same rule as `if_not_exists` per attribute.)
    pub fn fill_from(&mut self, known: &CopyDetails) {
        fn fill<T: Clone>(recorded: &mut Option<T>, known: &Option<T>) {
            if recorded.is_none() {
                recorded.clone_from(known);
            }
        }
        // Destructured so that a new field cannot be forgotten here.
        let CopyDetails {
            source_recovery_point,
            source_vault,
            destination_vault,
            destination_recovery_point,
            resource,
            resource_type,
            parent_job,
            child_jobs,
        } = known;
        fill(&mut self.source_recovery_point, source_recovery_point);
        fill(&mut self.source_vault, source_vault);
        fill(&mut self.destination_vault, destination_vault);
        fill(&mut self.destination_recovery_point, destination_recovery_point);
        fill(&mut self.resource, resource);
        fill(&mut self.resource_type, resource_type);
        fill(&mut self.parent_job, parent_job);
        fill(&mut self.child_jobs, child_jobs);
    }

    /// True when `self` knows something `recorded` does not (a write would add to the record).
    pub fn adds_to(&self, recorded: &CopyDetails) -> bool {
        let mut merged = recorded.clone();
        merged.fill_from(self);
        merged != *recorded
    }
}

impl From<&CopyJob> for CopyDetails {
    fn from(job: &CopyJob) -> Self {
        Self {
            source_recovery_point: Some(job.source_recovery_point.clone()),
            source_vault: Some(job.source_vault.clone()),
            destination_vault: Some(job.destination_vault.clone()),
            destination_recovery_point: job.destination_recovery_point.clone(),
            resource: job.resource.clone(),
            resource_type: job.resource_type.clone(),
            parent_job: match &job.composite {
                Composite::Child { parent } => Some(parent.clone()),
                _ => None,
            },
            child_jobs: match &job.composite {
                Composite::Parent { children } => *children,
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_owner_is_a_request_id_and_never_empty() {
        let owner = ClaimOwner::parse(" 8476a536-e9f4-11e8-9739-2dfe598c3fcd ").unwrap();
        assert_eq!(owner.as_str(), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        // Logs name the owner as the request id, which Lambda's own log lines carry too.
        assert_eq!(owner.to_string(), owner.as_str());
        assert_eq!(ClaimOwner::parse("  "), Err(EmptyClaimOwner));
        assert_ne!(ClaimOwner::unique(), ClaimOwner::unique());
    }

    #[test]
    fn a_claim_lease_is_longer_than_the_longest_holder_timeout_by_construction() {
        use std::time::Duration;
        let lease = |lease, longest| ClaimLease::new(Duration::from_secs(lease), Duration::from_secs(longest));
        assert_eq!(lease(331, 330).unwrap().duration(), Duration::from_secs(331));
        assert!(lease(330, 330).is_err() && lease(90, 300).is_err());
        assert!(ClaimLease::default().duration() > Duration::from_secs(300), "the reconciler's timeout");
    }

    #[test]
    fn filling_keeps_what_is_recorded_and_adds_what_is_missing() {
        let vault = |name: &str| {
            BackupVaultArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:backup-vault:{name}")).unwrap()
        };
        let mut recorded = CopyDetails { source_vault: Some(vault("first")), ..CopyDetails::default() };
        let known = CopyDetails {
            source_vault: Some(vault("second")),
            resource_type: Some("EBS".into()),
            child_jobs: Some(2),
            ..CopyDetails::default()
        };
        assert!(known.adds_to(&recorded));
        recorded.fill_from(&known);
        assert_eq!(recorded.source_vault, Some(vault("first")), "recorded details are kept");
        assert_eq!((recorded.resource_type.as_deref(), recorded.child_jobs), (Some("EBS"), Some(2)));
        assert!(!known.adds_to(&recorded), "nothing left to add");
    }
}

/// A state change reported by an event.
#[derive(Clone, Debug, PartialEq)]
pub struct StateUpdate {
    pub id: CopyJobId,
    pub state: CopyJobState,
    /// When AWS reported the change (the notification's timestamp).
    pub at: DateTime<Utc>,
    pub status_message: Option<String>,
    pub details: CopyDetails,
}

/// The tracking record of one copy job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CopyJobRecord {
    pub id: Option<CopyJobId>,
    pub state: Option<CopyJobState>,
    pub status_message: Option<String>,
    pub details: CopyDetails,
    /// Present when vaultwatch started the job (a retry or a routed copy).
    pub lineage: Option<Lineage>,
    /// The lifecycle vaultwatch asked for when it started the job; a later retry reuses it.
    pub lifecycle: Option<Lifecycle>,
    /// The retry that replaced this job after it failed.
    pub retried_by: Option<CopyJobId>,
    /// What the retrier decided about this job's failure (e.g. "retry 2 scheduled", "alerted: permanent").
    pub outcome: Option<String>,
    /// The retrier has finished deciding about this job's failure (its claim is done).
    pub failure_handled: bool,
    /// The "resolved" message of this job's alert was published (its claim is done).
    pub resolution_published: bool,
}

impl CopyJobRecord {
    /// What was alerted about this job's failure, if it was: the label after "alerted: " in its
    /// outcome (the outcome may go on after a "; ", e.g. "; resolved by <job>").
    pub fn alerted(&self) -> Option<&str> {
        let alerted = self.outcome.as_deref()?.strip_prefix("alerted")?;
        let label = alerted.strip_prefix(": ").unwrap_or(alerted);
        Some(label.split("; ").next().unwrap_or(label))
    }
}

/// Result of recording a state change.
#[derive(Clone, Debug, PartialEq)]
pub enum StateChange {
    /// The record moved forward; this is the record as it now stands.
    Applied(CopyJobRecord),
    /// The record was already at this state or beyond it; nothing changed. This is the record as
    /// it stands.
    Stale(CopyJobRecord),
}

/// A copy vaultwatch has just started (or found already started through its idempotency token).
#[derive(Clone, Debug, PartialEq)]
pub struct StartedCopy {
    pub id: CopyJobId,
    pub details: CopyDetails,
    pub lineage: Lineage,
    pub lifecycle: Option<Lifecycle>,
    pub at: DateTime<Utc>,
}

/// Side effects guarded by a claim in the tracking table, so duplicate deliveries do them once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// Deciding what to do about a copy job's failure (retry or alert).
    FailureHandling,
    /// Publishing the one alert a failed chain gets.
    Alert,
    /// Publishing the one "resolved" message of an alerted job, once a copy of its recovery point to
    /// its destination has completed (claimed on the alerted job's record).
    Resolution,
}

/// Who holds a claim: the Lambda invocation's request id, written with the claim. Finishing,
/// giving back and renewing a claim are conditional on it, so an invocation that outlived its lease
/// cannot close, release or act on the claim of the invocation that took it over.
///
/// A request id names one invocation; Lambda reuses it for an asynchronous retry of the same event,
/// but only after the earlier attempt has ended, so two live holders never share one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimOwner(String);

impl ClaimOwner {
    /// The invocation's request id (lambda_runtime's `Context::request_id`); never empty.
    pub fn parse(request_id: &str) -> Result<Self, EmptyClaimOwner> {
        let request_id = request_id.trim();
        if request_id.is_empty() {
            return Err(EmptyClaimOwner);
        }
        Ok(Self(request_id.to_owned()))
    }

    /// An owner no other in this process has, for a caller without a Lambda context (tests,
    /// tools): `local-<process id>-<n>`.
    pub fn unique() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(format!("local-{}-{n}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClaimOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a claim's owner (the invocation's request id) must not be empty")]
pub struct EmptyClaimOwner;

/// Whether a claim was still this invocation's when a write conditional on its owner ran. `Lost`
/// is not an error: another invocation took the claim over (this one outlived its lease) and does
/// the side effect; this one must not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    Held,
    Lost,
}

/// How long a claim protects work in progress before another invocation may take it over. Longer,
/// by construction, than the longest timeout of a function that takes claims: a holder is dead
/// (Lambda ended it) before its lease can lapse, so a live holder's claim is never taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimLease(std::time::Duration);

impl ClaimLease {
    /// A lease of `lease`, given that no function that takes claims runs longer than
    /// `longest_holder_timeout`.
    pub fn new(lease: std::time::Duration, longest_holder_timeout: std::time::Duration) -> Result<Self, LeaseTooShort> {
        if lease <= longest_holder_timeout {
            return Err(LeaseTooShort { lease, longest_holder_timeout });
        }
        Ok(Self(lease))
    }

    pub fn duration(self) -> std::time::Duration {
        self.0
    }
}

/// The template's: 330 s, over the reconciler's 300 s timeout.
impl Default for ClaimLease {
    fn default() -> Self {
        Self(std::time::Duration::from_secs(330))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a claim lease of {} s must be longer than the longest timeout of a function that takes claims ({} s): \
     a live holder's claim could be taken over",
    lease.as_secs_f64(),
    longest_holder_timeout.as_secs_f64()
)]
pub struct LeaseTooShort {
    pub lease: std::time::Duration,
    pub longest_holder_timeout: std::time::Duration,
}

/// Outcome of trying to claim a side effect.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// This invocation owns the side effect; here is the job's record as it stands.
    Acquired(Box<CopyJobRecord>),
    /// Another delivery already did it.
    AlreadyDone,
    /// Another delivery is doing it right now (its lease has not expired).
    InProgress,
}

/// What the reconciler remembers between runs (one item in the tracking table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepCursor {
    /// Where an unfinished sweep stopped, so the next run continues from there.
    pub resume: Option<SweepResume>,
    /// What the last finished, error-free sweep vouches for.
    pub verified: Option<VerifiedSweep>,
}

/// An unfinished sweep: its window, where the next run takes it up, and what the runs so far need
/// to leave behind when the sweep finishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepResume {
    /// The sweep covers copy jobs created after this instant.
    pub window_start: DateTime<Utc>,
    pub phase: SweepPhase,
    /// When the sweep's first run started.
    pub started_at: DateTime<Utc>,
    /// No copy job failed to reconcile so far.
    pub clean: bool,
}

/// Where an unfinished sweep stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepPhase {
    /// Reconciling the listed jobs, from this place on.
    Listing(ListingPlace),
    /// Every listed job is reconciled; coverage, the resolved alerts and the missing-copy pass
    /// remain. They need the whole listing at once, so they have no place to keep: a run takes them
    /// up by listing the window again, without reconciling, and looking again (the copies started
    /// before are in that listing, refusals are recorded, resolutions claimed: none is done twice).
    Copies,
}

/// A place in the listing of the sweep's copy jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListingPlace {
    /// ListCopyJobs NextToken of the page to read next (none: the first page).
    pub next_token: Option<String>,
    /// The last job of that page a run reconciled, every job before it too, when the deadline
    /// stopped the run inside the page: the next run reconciles the jobs listed after it. None:
    /// from the page's first job (so reads a cursor written before runs stopped inside a page).
    pub last_reconciled: Option<CopyJobId>,
}

impl ListingPlace {
    /// The listing's first page, from its first job.
    pub fn is_start(&self) -> bool {
        self.next_token.is_none() && self.last_reconciled.is_none()
    }
}

/// Every copy job a finished sweep listed (created after `window_start`, matching `filters`) that
/// had completed before `completed_before` was brought in line by that sweep without an error, and
/// a finished job never changes again. Later sweeps still list such jobs (the missing-copy pass
/// needs them) but need not read their tracking records again: in steady state that is almost
/// every job of the lookback window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSweep {
    pub window_start: DateTime<Utc>,
    /// The sweep's start, less a margin for clock skew between AWS and the function.
    pub completed_before: DateTime<Utc>,
    /// The sweep's filters; a sweep with other filters cannot rely on this one.
    pub filters: String,
}

impl VerifiedSweep {
    /// Whether a sweep over jobs created after `window_start`, with `filters`, lists only jobs this
    /// verified sweep listed too (a longer lookback or other filters reach jobs it never saw).
    pub fn applies_to(&self, window_start: DateTime<Utc>, filters: &str) -> bool {
        window_start >= self.window_start && filters == self.filters
    }

    /// Whether a job that completed at `completed_at` was already reconciled by this sweep.
    pub fn covers(&self, completed_at: Option<DateTime<Utc>>) -> bool {
        completed_at.is_some_and(|at| at < self.completed_before)
    }
}

/// A routed copy AWS Backup refused for good (a permanent StartCopyJob error), kept so that later
/// sweeps do not ask again every hour. Keyed by the copy's idempotency token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub token: IdempotencyToken,
    pub recovery_point: RecoveryPointArn,
    pub destination_vault: BackupVaultArn,
    /// AWS's error (code and message).
    pub error: String,
    pub at: DateTime<Utc>,
}
