//! Copy coverage: for each completed backup and each destination it requires, whether a copy is
//! there. This is what an operator is asked to prove ("does every recovery point have its copy in
//! the DR region?"), so every requirement gets exactly one status, and the status says why.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    BackupVaultArn, CopyJob, CopyJobId, CopyJobRecord, CopyJobState, NotCopyable, RecoveryPointArn, Resolution,
    VaultName,
};

/// Why a destination is required for a backup.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequiredBy {
    /// A vaultwatch copy route (`COPY_ROUTES`).
    Route,
    /// The CopyAction of the backup plan rule that made the recovery point.
    PlanRule,
}

/// One recovery point that must have a copy in one destination vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub recovery_point: RecoveryPointArn,
    pub source_vault: VaultName,
    pub resource_type: Option<String>,
    /// When the backup completed: the copy is owed from then on.
    pub completed_at: DateTime<Utc>,
    pub destination: BackupVaultArn,
    pub required_by: RequiredBy,
}

/// A copy job of the requirement's recovery point to its destination, with vaultwatch's record of
/// it when there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyAttempt {
    pub job: CopyJob,
    pub record: Option<CopyJobRecord>,
}

/// What is known about the source recovery point, besides its copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    Copyable,
    NotCopyable(NotCopyable),
    /// Deleted or expired: there is nothing left to copy.
    Gone,
}

/// Whether a requirement is met, and if not, why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum CoverageStatus {
    /// A copy COMPLETED.
    Covered { copy_job: CopyJobId, destination_recovery_point: Option<RecoveryPointArn>, at: Option<DateTime<Utc>> },
    /// The first copy is under way.
    Copying { copy_job: CopyJobId },
    /// A retry is under way or scheduled: `attempt` of `of`.
    Retrying { attempt: u32, of: u32 },
    /// The last copy failed and nothing more will be tried (an alert was sent, or will be by the
    /// retrier or the next sweep).
    Failed { copy_job: CopyJobId, reason: String, alerted: bool },
    /// No copy job at all.
    Missing,
    /// AWS Backup cannot copy this recovery point.
    NotCopyable { why: String },
    /// The source recovery point is gone.
    Expired,
}

impl CoverageStatus {
    /// Counted against the copy lag: the copy is owed and not there.
    pub fn is_uncovered(&self) -> bool {
        matches!(self, Self::Copying { .. } | Self::Retrying { .. } | Self::Failed { .. } | Self::Missing)
    }

    /// The status's name, as reports and metrics spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Covered { .. } => "covered",
            Self::Copying { .. } => "copying",
            Self::Retrying { .. } => "retrying",
            Self::Failed { .. } => "failed",
            Self::Missing => "missing",
            Self::NotCopyable { .. } => "not copyable",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for CoverageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Covered { destination_recovery_point: Some(copy), at: Some(at), .. } => {
                write!(f, "covered by {copy} at {}", at.to_rfc3339())
            }
            Self::Covered { copy_job, .. } => write!(f, "covered (copy job {copy_job})"),
            Self::Copying { copy_job } => write!(f, "copying (copy job {copy_job})"),
            Self::Retrying { attempt, of } => write!(f, "retrying (attempt {attempt} of {of})"),
            Self::Failed { reason, alerted: true, .. } => write!(f, "failed (alerted): {reason}"),
            Self::Failed { reason, alerted: false, .. } => write!(f, "failed (alert pending): {reason}"),
            Self::Missing => f.write_str("missing (no copy job)"),
            Self::NotCopyable { why } => f.write_str(why),
            Self::Expired => f.write_str("expired (the source recovery point is gone)"),
        }
    }
}

/// The status of one requirement, from the copy jobs of its recovery point to its destination.
/// `max_attempts` is the retry policy's (retries after the original job).
pub fn coverage_of(
    requirement: &Requirement,
    attempts: &[CopyAttempt],
    source: &SourceState,
    max_attempts: u32,
) -> CoverageStatus {
    let relevant = attempts.iter().filter(|a| {
        a.job.source_recovery_point == requirement.recovery_point && a.job.destination_vault == requirement.destination
    });
    let (mut completed, mut running, mut failed) = (None, None, None::<&CopyAttempt>);
    for attempt in relevant {
        match Kind::of(attempt.job.state) {
            Kind::Completed => completed = latest(completed, attempt),
            Kind::UnderWay => running = latest(running, attempt),
            Kind::Failed => failed = latest(failed, attempt),
        }
    }
    if let Some(done) = completed {
        return CoverageStatus::Covered {
            copy_job: done.job.id.clone(),
            destination_recovery_point: done.job.destination_recovery_point.clone(),
            at: done.job.completed_at,
        };
    }
    if let Some(under_way) = running {
        let attempt = under_way.record.as_ref().and_then(|r| r.lineage.as_ref()).map_or(0, |l| l.attempt);
        return if attempt > 0 {
            CoverageStatus::Retrying { attempt, of: max_attempts }
        } else {
            CoverageStatus::Copying { copy_job: under_way.job.id.clone() }
        };
    }
    if let Some(last) = failed {
        let record = last.record.as_ref();
        let attempt = record.and_then(|r| r.lineage.as_ref()).map_or(0, |l| l.attempt);
        let outcome = record.and_then(|r| r.outcome.as_deref()).unwrap_or_default();
        // The retrier scheduled the next attempt (its retry job not listed yet) or already started it.
        if record.is_some_and(|r| r.retried_by.is_some()) || outcome.starts_with("retry ") {
            return CoverageStatus::Retrying { attempt: attempt + 1, of: max_attempts };
        }
        let reason = last.job.status_message.clone().unwrap_or_else(|| "no status message".to_owned());
        return CoverageStatus::Failed {
            copy_job: last.job.id.clone(),
            reason,
            alerted: outcome.starts_with("alerted"),
        };
    }
    match source {
        SourceState::Copyable => CoverageStatus::Missing,
        SourceState::NotCopyable(why) => CoverageStatus::NotCopyable { why: why.to_string() },
        SourceState::Gone => CoverageStatus::Expired,
    }
}

/// The later of two attempts: the higher retry attempt, then the later completion (the listing's
/// order is not specified); on a tie the one already kept stays.
fn latest<'a>(current: Option<&'a CopyAttempt>, candidate: &'a CopyAttempt) -> Option<&'a CopyAttempt> {
    match current {
        Some(current) if order(current) >= order(candidate) => Some(current),
        _ => Some(candidate),
    }
}

fn order(attempt: &CopyAttempt) -> (u32, Option<DateTime<Utc>>) {
    (attempt.record.as_ref().and_then(|r| r.lineage.as_ref()).map_or(0, |l| l.attempt), attempt.job.completed_at)
}

/// The copy attempts seen in a listing, reduced as they come to those that can decide a status: per
/// (recovery point, destination) the latest completed, under way and failed one. A sweep over
/// 100,000 copy jobs keeps a few per pair, not every job.
#[derive(Debug, Default)]
pub struct CopyLedger {
    pairs: HashMap<(RecoveryPointArn, BackupVaultArn), Vec<CopyAttempt>>,
}

impl CopyLedger {
    pub fn observe(&mut self, attempt: CopyAttempt) {
        let key = (attempt.job.source_recovery_point.clone(), attempt.job.destination_vault.clone());
        let kept = self.pairs.entry(key).or_default();
        let kind = |a: &CopyAttempt| Kind::of(a.job.state);
        match kept.iter().position(|other| kind(other) == kind(&attempt)) {
            Some(index) if order(&attempt) > order(&kept[index]) => kept[index] = attempt,
            Some(_) => {}
            None => kept.push(attempt),
        }
    }

    /// The attempts kept for one recovery point and destination.
    pub fn attempts(&self, recovery_point: &RecoveryPointArn, destination: &BackupVaultArn) -> &[CopyAttempt] {
        self.pairs.get(&(recovery_point.clone(), destination.clone())).map_or(&[], Vec::as_slice)
    }

    /// Jobs kept for these requirements without vaultwatch's record, where the record would tell
    /// more (a retry's attempt, a failure's handling); a completed copy needs none.
    pub fn records_wanted<'a>(&self, requirements: impl IntoIterator<Item = &'a Requirement>) -> Vec<CopyJobId> {
        let mut wanted: Vec<CopyJobId> = requirements
            .into_iter()
            .flat_map(|r| self.attempts(&r.recovery_point, &r.destination))
            .filter(|a| a.record.is_none() && Kind::of(a.job.state) != Kind::Completed)
            .map(|a| a.job.id.clone())
            .collect();
        wanted.sort();
        wanted.dedup();
        wanted
    }

    /// Failed jobs kept without vaultwatch's record in pairs where a copy completed: their records say
    /// whether an alert went out that the completed copy resolves.
    pub fn resolution_records_wanted(&self) -> Vec<CopyJobId> {
        let mut wanted: Vec<CopyJobId> = self
            .pairs
            .values()
            .filter(|kept| kept.iter().any(|a| Kind::of(a.job.state) == Kind::Completed))
            .flatten()
            .filter(|a| a.record.is_none() && Kind::of(a.job.state) == Kind::Failed)
            .map(|a| a.job.id.clone())
            .collect();
        wanted.sort();
        wanted
    }

    /// The alerts a completed copy resolves: per (recovery point, destination) with a COMPLETED copy,
    /// whoever started it, the latest failed job if its record says it was alerted and its
    /// "resolved" message is not published yet. Sorted by the alerted job.
    pub fn resolutions(&self) -> Vec<Resolution> {
        let mut resolutions: Vec<Resolution> = self
            .pairs
            .values()
            .filter_map(|kept| {
                let completed = kept.iter().find(|a| Kind::of(a.job.state) == Kind::Completed)?;
                let failed = kept.iter().find(|a| Kind::of(a.job.state) == Kind::Failed)?;
                let record = failed.record.as_ref().filter(|record| !record.resolution_published)?;
                let alerted = record.alerted()?;
                Some(Resolution {
                    alerted_job: failed.job.id.clone(),
                    original_job: record.lineage.as_ref().map_or_else(|| failed.job.id.clone(), |l| l.root.clone()),
                    alerted: alerted.to_owned(),
                    completed_job: completed.job.id.clone(),
                    completed_at: completed.job.completed_at,
                    recovery_point: completed.job.source_recovery_point.clone(),
                    source_vault: completed.job.source_vault.clone(),
                    destination_vault: completed.job.destination_vault.clone(),
                    destination_recovery_point: completed.job.destination_recovery_point.clone(),
                    resource: completed.job.resource.clone().or_else(|| failed.job.resource.clone()),
                })
            })
            .collect();
        resolutions.sort_by(|a, b| a.alerted_job.cmp(&b.alerted_job));
        resolutions
    }

    /// Adds vaultwatch's records of kept jobs.
    pub fn add_records(&mut self, records: &HashMap<CopyJobId, CopyJobRecord>) {
        for attempt in self.pairs.values_mut().flatten() {
            if attempt.record.is_none() {
                attempt.record = records.get(&attempt.job.id).cloned();
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Completed,
    UnderWay,
    Failed,
}

impl Kind {
    fn of(state: CopyJobState) -> Self {
        match state {
            CopyJobState::Completed => Self::Completed,
            CopyJobState::Created | CopyJobState::Running => Self::UnderWay,
            CopyJobState::Failed | CopyJobState::Partial => Self::Failed,
        }
    }
}

/// One row of a coverage report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    #[serde(flatten)]
    pub requirement: Requirement,
    #[serde(flatten)]
    pub status: CoverageStatus,
}

/// What a set of coverage rows adds up to: recovery points per status, and per destination region
/// the age of the oldest uncovered one (the copy lag).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverageSummary {
    pub by_status: BTreeMap<&'static str, usize>,
    /// Destination region -> age in seconds of its oldest uncovered requirement.
    pub oldest_uncovered_seconds: BTreeMap<String, i64>,
}

impl CoverageSummary {
    pub fn of(rows: &[Coverage], now: DateTime<Utc>) -> Self {
        let mut summary = Self::default();
        for row in rows {
            *summary.by_status.entry(row.status.name()).or_default() += 1;
            if row.status.is_uncovered() {
                let age = (now - row.requirement.completed_at).num_seconds().max(0);
                let oldest = summary
                    .oldest_uncovered_seconds
                    .entry(row.requirement.destination.region().to_owned())
                    .or_default();
                *oldest = (*oldest).max(age);
            }
        }
        summary
    }

    pub fn uncovered(&self) -> usize {
        ["copying", "retrying", "failed", "missing"].iter().map(|s| self.by_status.get(s).copied().unwrap_or(0)).sum()
    }
}
