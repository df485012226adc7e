//! What the tracking table knows about copy jobs and recovery points.

use chrono::{DateTime, Utc};

use super::{
    BackupJobId, BackupVaultArn, Composite, CopyJob, CopyJobId, CopyJobState, Destination, IdempotencyToken, Lifecycle,
    Lineage, RecoveryPointArn, ResourceArn, ResourceType,
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
    pub resource_type: Option<ResourceType>,
    /// A nested job's composite parent (`ParentJobId`).
    pub parent_job: Option<CopyJobId>,
    /// A composite parent's number of child jobs (`NumberOfChildJobs`).
    pub child_jobs: Option<u32>,
    /// The destination's type, lock state and key (listings and describes report them).
    pub destination: Destination,
    /// The lifecycle AWS reports for the copy (`DestinationRecoveryPointLifecycle`).
    pub destination_lifecycle: Option<Lifecycle>,
    /// The backup job that started the copy (`CreatedByBackupJobId`).
    pub initiated_by: Option<BackupJobId>,
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
            destination: Destination { vault_type, lock_state, encryption_key },
            destination_lifecycle,
            initiated_by,
        } = known;
        fill(&mut self.source_recovery_point, source_recovery_point);
        fill(&mut self.source_vault, source_vault);
        fill(&mut self.destination_vault, destination_vault);
        fill(&mut self.destination_recovery_point, destination_recovery_point);
        fill(&mut self.resource, resource);
        fill(&mut self.resource_type, resource_type);
        fill(&mut self.parent_job, parent_job);
        fill(&mut self.child_jobs, child_jobs);
        fill(&mut self.destination.vault_type, vault_type);
        fill(&mut self.destination.lock_state, lock_state);
        fill(&mut self.destination.encryption_key, encryption_key);
        fill(&mut self.destination_lifecycle, destination_lifecycle);
        fill(&mut self.initiated_by, initiated_by);
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
            destination: job.destination.clone(),
            destination_lifecycle: job.destination_lifecycle,
            initiated_by: job.initiated_by.clone(),
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
    fn every_alert_kind_reads_back_from_its_label_and_its_json() {
        use super::super::NotCopyable;
        let at = "2026-12-07T01:02:03.250Z".parse().unwrap();
        let mut kinds = AlertKind::PLAIN.to_vec();
        kinds.extend(
            [
                NotCopyable::Continuous,
                NotCopyable::ColdStorage,
                NotCopyable::Deleted,
                NotCopyable::ColdBeforeRetry { at },
                NotCopyable::DeletedBeforeRetry { at },
            ]
            .map(|why| AlertKind::NotCopyable { why }),
        );
        for kind in kinds {
            assert_eq!(AlertKind::from_label(&kind.to_string()), kind, "{kind}");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<AlertKind>(&json).unwrap(), kind, "{json}");
        }
        // The stored shape: tagged by `kind`, snake_case, the reason inside.
        assert_eq!(serde_json::to_string(&AlertKind::CongestionPersists).unwrap(), r#"{"kind":"congestion_persists"}"#);
        assert_eq!(
            serde_json::to_string(&AlertKind::NotCopyable { why: NotCopyable::ColdBeforeRetry { at } }).unwrap(),
            r#"{"kind":"not_copyable","why":{"reason":"cold_before_retry","at":"2026-12-07T01:02:03.250Z"}}"#
        );
        let unknown = AlertKind::from_label("a label no version of this one wrote");
        assert_eq!(unknown.to_string(), "a label no version of this one wrote", "kept as it was");
    }

    /// Upgrade: the outcomes the previous version wrote only in words, as it wrote them.
    #[test]
    fn an_outcome_in_the_previous_versions_words_reads_as_its_fields() {
        use super::super::NotCopyable;
        let job = |id: &str| Some(CopyJobId::parse(id).unwrap());
        let cases = [
            ("retry 2 scheduled", ClaimOutcome { retry_scheduled: Some(2), ..ClaimOutcome::default() }),
            (
                "alerted: congestion persists; retry 9 scheduled",
                ClaimOutcome {
                    retry_scheduled: Some(9),
                    alerted: Some(AlertKind::CongestionPersists),
                    ..ClaimOutcome::default()
                },
            ),
            (
                "alerted: not copyable: moves to cold storage at 2026-12-07 01:02:03.250 UTC, before the retry is due",
                ClaimOutcome {
                    alerted: Some(AlertKind::NotCopyable {
                        why: NotCopyable::ColdBeforeRetry { at: "2026-12-07T01:02:03.250Z".parse().unwrap() },
                    }),
                    ..ClaimOutcome::default()
                },
            ),
            (
                "handled with composite parent PARENT-1",
                ClaimOutcome { handled_with_parent: job("PARENT-1"), ..ClaimOutcome::default() },
            ),
            (
                "alerted: role not passable; resolved by MANUAL-1",
                ClaimOutcome {
                    alerted: Some(AlertKind::RoleNotPassable),
                    resolved_by: job("MANUAL-1"),
                    ..ClaimOutcome::default()
                },
            ),
            ("", ClaimOutcome::default()),
        ];
        for (words, outcome) in cases {
            assert_eq!(ClaimOutcome::from_note(words), outcome, "{words}");
            assert_eq!(outcome.note(), words, "the words are derived from the fields as before");
        }
    }

    #[test]
    fn filling_keeps_what_is_recorded_and_adds_what_is_missing() {
        let vault = |name: &str| {
            BackupVaultArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:backup-vault:{name}")).unwrap()
        };
        let mut recorded = CopyDetails { source_vault: Some(vault("first")), ..CopyDetails::default() };
        let known = CopyDetails {
            source_vault: Some(vault("second")),
            resource_type: Some(ResourceType::Ebs),
            child_jobs: Some(2),
            ..CopyDetails::default()
        };
        assert!(known.adds_to(&recorded));
        recorded.fill_from(&known);
        assert_eq!(recorded.source_vault, Some(vault("first")), "recorded details are kept");
        assert_eq!((recorded.resource_type.clone(), recorded.child_jobs), (Some(ResourceType::Ebs), Some(2)));
        assert!(!known.adds_to(&recorded), "nothing left to add");
    }

    #[test]
    fn a_verified_sweep_covers_only_jobs_completed_before_its_margin() {
        let completed_before: DateTime<Utc> = "2026-12-07T02:00:00Z".parse().unwrap();
        let verified = VerifiedSweep {
            window_start: "2026-11-07T02:00:00Z".parse().unwrap(),
            completed_before,
            filters: String::new(),
        };
        assert!(verified.covers(Some(completed_before - chrono::Duration::milliseconds(1))));
        // A job completing at the very instant may have been listed before it completed: read again.
        assert!(!verified.covers(Some(completed_before)));
        assert!(!verified.covers(None), "a job not yet completed can still change");
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
    /// The incident episode (its digest) whose backfill started the job.
    pub backfill_of: Option<String>,
    /// What vaultwatch decided about this job under its claims (retry, alert, resolution).
    pub outcome: ClaimOutcome,
    /// The retrier has finished deciding about this job's failure (its claim is done).
    pub failure_handled: bool,
    /// The "resolved" message of this job's alert was published (its claim is done).
    pub resolution_published: bool,
}

/// What vaultwatch decided about a copy job under its claims, one field per decision, kept in the
/// job's record (and read back by coverage and the "resolved" message). Each claim's finishing
/// write stores the whole outcome as its holder leaves it; [`Self::note`] is the line people
/// reading the table see beside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimOutcome {
    /// The retry scheduled after this failure: its attempt number.
    pub retry_scheduled: Option<u32>,
    /// What the operator was alerted about this failure.
    pub alerted: Option<AlertKind>,
    /// A nested job's failure, handled with its composite parent's.
    pub handled_with_parent: Option<CopyJobId>,
    /// The completed copy whose "resolved" message closed this job's alert.
    pub resolved_by: Option<CopyJobId>,
    /// The path incident the failure was counted in (its thread), instead of an alert of its own.
    pub incident: Option<String>,
}

impl ClaimOutcome {
    /// An alert about `reason` was published, and nothing else done.
    pub fn alerted(reason: &super::AlertReason) -> Self {
        Self { alerted: Some(reason.into()), ..Self::default() }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The outcome in words, e.g. "alerted: congestion persists; retry 9 scheduled; resolved by
    /// <job>" (the wording records written before outcomes had fields kept as their only outcome).
    pub fn note(&self) -> String {
        let Self { retry_scheduled, alerted, handled_with_parent, resolved_by, incident } = self;
        let parts = [
            handled_with_parent.as_ref().map(|parent| format!("handled with composite parent {parent}")),
            incident.as_ref().map(|thread| format!("in incident {thread}")),
            alerted.as_ref().map(|kind| format!("alerted: {kind}")),
            retry_scheduled.map(|attempt| format!("retry {attempt} scheduled")),
            resolved_by.as_ref().map(|job| format!("resolved by {job}")),
        ];
        parts.into_iter().flatten().collect::<Vec<_>>().join("; ")
    }

    /// Reads the outcome of a record written before outcomes had fields, from its words (the
    /// [`Self::note`] wording, which those versions wrote). Upgrade only: nothing else parses notes.
    pub fn from_note(note: &str) -> Self {
        let mut outcome = Self::default();
        for part in note.split("; ") {
            if let Some(parent) = part.strip_prefix("handled with composite parent ") {
                outcome.handled_with_parent = CopyJobId::parse(parent).ok();
            } else if let Some(label) = part.strip_prefix("alerted") {
                outcome.alerted = Some(AlertKind::from_label(label.strip_prefix(": ").unwrap_or(label)));
            } else if let Some(attempt) = part.strip_prefix("retry ").and_then(|rest| rest.strip_suffix(" scheduled")) {
                outcome.retry_scheduled = attempt.parse().ok();
            } else if let Some(thread) = part.strip_prefix("in incident ") {
                outcome.incident = Some(thread.to_owned());
            } else if let Some(job) = part.strip_prefix("resolved by ") {
                outcome.resolved_by = CopyJobId::parse(job).ok();
            }
        }
        outcome
    }
}

/// What an alert was about, as the alerted job's record keeps it: the kind of its
/// [`AlertReason`](super::AlertReason), without AWS's message (the alert carried that). Stored as
/// JSON tagged by `kind`, so a kind added later does not change how the others read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertKind {
    PermanentFailure,
    AttemptsExhausted,
    CongestionPersists,
    UnrecognisedFailure,
    RetryRejected,
    CopyRefused,
    NotCopyable {
        why: super::NotCopyable,
    },
    RoleNotPassable,
    DestinationNotAllowed,
    AirGappedCopyFailed,
    /// Alerted as something this version does not know (an earlier version's words, a later
    /// version's kind): kept, so the alert is not forgotten — coverage still says alerted, and its
    /// "resolved" message still goes out.
    Other {
        label: String,
    },
}

impl AlertKind {
    /// Every kind but [`Self::NotCopyable`] (which carries its reason), for tables and tests.
    pub const PLAIN: [AlertKind; 9] = [
        Self::PermanentFailure,
        Self::AttemptsExhausted,
        Self::CongestionPersists,
        Self::UnrecognisedFailure,
        Self::RetryRejected,
        Self::CopyRefused,
        Self::RoleNotPassable,
        Self::DestinationNotAllowed,
        Self::AirGappedCopyFailed,
    ];

    /// The kind whose label (its `Display`) is `label`; an unknown label is kept as
    /// [`Self::Other`].
    pub fn from_label(label: &str) -> Self {
        if let Some(kind) = Self::PLAIN.into_iter().find(|kind| kind.to_string() == label) {
            return kind;
        }
        match super::NotCopyable::from_label(label) {
            Some(why) => Self::NotCopyable { why },
            None => Self::Other { label: label.to_owned() },
        }
    }

    /// Why the recovery point cannot be copied, when that is what was alerted.
    pub fn not_copyable(&self) -> Option<&super::NotCopyable> {
        match self {
            Self::NotCopyable { why } => Some(why),
            _ => None,
        }
    }
}

impl From<&super::AlertReason> for AlertKind {
    fn from(reason: &super::AlertReason) -> Self {
        use super::AlertReason as R;
        match reason {
            R::PermanentFailure { .. } => Self::PermanentFailure,
            R::AttemptsExhausted { .. } => Self::AttemptsExhausted,
            R::CongestionPersists { .. } => Self::CongestionPersists,
            R::UnrecognisedFailure { .. } => Self::UnrecognisedFailure,
            R::RetryRejected { .. } => Self::RetryRejected,
            R::CopyRefused { .. } => Self::CopyRefused,
            R::NotCopyable(why) => Self::NotCopyable { why: why.clone() },
            R::RoleNotPassable { .. } | R::RoleRefused { .. } => Self::RoleNotPassable,
            R::DestinationNotAllowed => Self::DestinationNotAllowed,
            R::AirGappedCopyFailed { .. } => Self::AirGappedCopyFailed,
        }
    }
}

/// The short label alerts, records and coverage show, e.g. "permanent failure".
impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match self {
            Self::PermanentFailure => "permanent failure",
            Self::AttemptsExhausted => "attempts exhausted",
            Self::CongestionPersists => "congestion persists",
            Self::UnrecognisedFailure => "unrecognised failure",
            Self::RetryRejected => "retry rejected",
            Self::CopyRefused => "copy refused",
            Self::NotCopyable { why } => return why.fmt(f),
            Self::RoleNotPassable => "role not passable",
            Self::DestinationNotAllowed => "destination not allowed",
            Self::AirGappedCopyFailed => "air-gapped backup copy failed",
            Self::Other { label } => label.as_str(),
        };
        f.write_str(label)
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
    /// The incident episode (its digest) whose backfill started it.
    pub backfill_of: Option<String>,
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
