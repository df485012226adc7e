//! Copy coverage: for each completed backup and each destination it requires, whether a copy is
//! there. This is what an operator is asked to prove ("does every recovery point have its copy in
//! the DR region?"), so every requirement gets exactly one status, and the status says why.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    classify_failure, AlertKind, BackupJobId, BackupVaultArn, Classification, CopyJob, CopyJobId, CopyJobRecord,
    CopyJobState, Destination, NotCopyable, RecoveryPointArn, Resolution, ResourceArn, ResourceType, RetryPolicy,
    VaultName, CONGESTION_LAST_ATTEMPT,
};

/// Why a destination is required for a backup.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequiredBy {
    /// A vaultwatch copy route (`COPY_ROUTES`).
    Route,
    /// The CopyAction of the backup plan rule that made the recovery point.
    PlanRule,
    /// A destination the organization view requires of every backup (`--require-copy-to`).
    Organization,
    /// A copy job to it exists: someone wanted the copy (the organization view cannot read member
    /// accounts' plans or routes).
    CopyJob,
    /// The backup was made to a logically air-gapped vault and left a temporary recovery point:
    /// AWS Backup's own copy of it into that vault is the backup's copy (the destinations of the
    /// temporary point's copy jobs).
    AirGapped,
}

impl RequiredBy {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::PlanRule => "plan rule",
            Self::Organization => "organization",
            Self::CopyJob => "copy job",
            Self::AirGapped => "air-gapped backup",
        }
    }
}

/// One recovery point that must have a copy in one destination vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub recovery_point: RecoveryPointArn,
    /// The backup job that made it, and what it backed up.
    pub backup_job: BackupJobId,
    pub resource: Option<ResourceArn>,
    pub source_vault: VaultName,
    /// The same vault's ARN: its account and region place the row in an organization report.
    pub source_vault_arn: BackupVaultArn,
    pub resource_type: Option<ResourceType>,
    /// When the backup completed: the copy is owed from then on.
    pub completed_at: DateTime<Utc>,
    pub destination: BackupVaultArn,
    pub required_by: RequiredBy,
}

/// A copy job of the requirement's recovery point to its destination, with vaultwatch's record of
/// it when there is one. Only what a status or a resolved message needs: a sweep may list 100,000
/// jobs and must stay within 64 MiB, so the ledger does not keep whole `CopyJob`s.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyAttempt {
    pub job: CopyJobId,
    pub state: CopyJobState,
    pub completed_at: Option<DateTime<Utc>>,
    /// A completed copy's recovery point in the destination vault.
    pub destination_recovery_point: Option<RecoveryPointArn>,
    /// What AWS reported of a completed copy's destination (type, lock, key), when it did; boxed,
    /// as most attempts have none.
    pub destination: Option<Box<Destination>>,
    /// A failed copy's status message and resource; boxed, as most attempts have none.
    pub failure: Option<Box<AttemptFailure>>,
    /// What vaultwatch's record says of it (never kept for a completed copy: nothing to add).
    pub record: Option<Box<AttemptRecord>>,
}

/// What statuses and resolved messages read of vaultwatch's record of an attempt: a few fields, not
/// the record (a sweep keeps one per listed job).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The attempt's place in its retry chain (0: the original job).
    pub attempt: u32,
    /// The chain's original job, when the record knows its lineage.
    pub root: Option<CopyJobId>,
    /// The retrier scheduled or started the next attempt.
    pub retried: bool,
    /// What was alerted about this failure, if it was.
    pub alerted: Option<AlertKind>,
    /// The path incident the failure was counted in (its thread), when it was.
    pub incident: Option<String>,
    pub resolution_published: bool,
}

impl From<&CopyJobRecord> for AttemptRecord {
    fn from(record: &CopyJobRecord) -> Self {
        let outcome = &record.outcome;
        Self {
            attempt: record.lineage.as_ref().map_or(0, |l| l.attempt),
            root: record.lineage.as_ref().map(|l| l.root.clone()),
            // A retry scheduled, alone or after an alert that did not end the chain.
            retried: record.retried_by.is_some() || outcome.retry_scheduled.is_some(),
            alerted: outcome.alerted.clone(),
            incident: outcome.incident.clone(),
            resolution_published: record.resolution_published,
        }
    }
}

/// What a failed attempt leaves for its report row and the resolved message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptFailure {
    pub status_message: Option<String>,
    pub resource: Option<ResourceArn>,
    /// The failure as the retrier classifies it (its `MessageCategory` and status message): how
    /// many retries its chain gets.
    pub classification: Classification,
}

impl CopyAttempt {
    pub fn of(job: &CopyJob, record: Option<&CopyJobRecord>) -> Self {
        let failure = (Kind::of(job.state) == Kind::Failed).then(|| {
            Box::new(AttemptFailure {
                status_message: job.status_message.clone(),
                resource: job.resource.clone(),
                classification: classify_failure(job.message_category.as_deref(), job.status_message.as_deref()),
            })
        });
        Self {
            job: job.id.clone(),
            state: job.state,
            completed_at: job.completed_at,
            destination_recovery_point: job
                .destination_recovery_point
                .clone()
                .filter(|_| job.state == CopyJobState::Completed),
            destination: (job.state == CopyJobState::Completed && !job.destination.is_empty())
                .then(|| Box::new(job.destination.clone())),
            failure,
            record: record
                .filter(|_| job.state != CopyJobState::Completed)
                .map(|record| Box::new(AttemptRecord::from(record))),
        }
    }

    fn lineage_attempt(&self) -> u32 {
        self.record.as_ref().map_or(0, |r| r.attempt)
    }
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
    Covered {
        copy_job: CopyJobId,
        destination_recovery_point: Option<RecoveryPointArn>,
        at: Option<DateTime<Utc>>,
        /// What AWS reported of the vault the copy is stored in: e.g. logically air-gapped, locked.
        /// (Not `destination`: the requirement's destination vault sits beside it in a row.)
        #[serde(skip_serializing_if = "Option::is_none")]
        stored_in: Option<Box<Destination>>,
    },
    /// The first copy is under way.
    Copying { copy_job: CopyJobId },
    /// A retry is under way or scheduled: `attempt` of `of`, the last retry the failure before it
    /// allows (its class's: 1 for an unrecognised failure, up to 128 for congestion).
    Retrying { attempt: u32, of: u32 },
    /// The last copy failed and nothing more will be tried (an alert was sent, or will be by the
    /// retrier or the next sweep; or the failure was counted in its path's incident, which
    /// alerted, and whose backfill copies it again once the path heals).
    Failed {
        copy_job: CopyJobId,
        reason: String,
        alerted: bool,
        /// The path incident (its thread) the failure was counted in.
        #[serde(skip_serializing_if = "Option::is_none")]
        incident: Option<String>,
    },
    /// No copy job at all.
    Missing,
    /// AWS Backup cannot copy this recovery point: said of the source before any copy job, or, with
    /// the failed `copy_job`, what its alert said (the same reason).
    NotCopyable {
        why: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        copy_job: Option<CopyJobId>,
    },
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
            Self::Covered { destination_recovery_point: Some(copy), at: Some(at), stored_in, .. } => {
                write!(f, "covered by {copy} at {}{}", at.to_rfc3339(), Destination::aside(stored_in.as_deref()))
            }
            Self::Covered { copy_job, stored_in, .. } => {
                write!(f, "covered (copy job {copy_job}){}", Destination::aside(stored_in.as_deref()))
            }
            Self::Copying { copy_job } => write!(f, "copying (copy job {copy_job})"),
            Self::Retrying { attempt, of } => write!(f, "retrying (attempt {attempt} of {of})"),
            Self::Failed { reason, incident: Some(incident), .. } => {
                write!(f, "failed (path broken, {incident}): {reason}")
            }
            Self::Failed { reason, alerted: true, .. } => write!(f, "failed (alerted): {reason}"),
            Self::Failed { reason, alerted: false, .. } => write!(f, "failed (alert pending): {reason}"),
            Self::Missing => f.write_str("missing (no copy job)"),
            Self::NotCopyable { why, copy_job: None } => f.write_str(why),
            Self::NotCopyable { why, copy_job: Some(job) } => write!(f, "{why} (copy job {job} failed, alerted)"),
            Self::Expired => f.write_str("expired (the source recovery point is gone)"),
        }
    }
}

/// The status of one requirement, from the copy jobs of its recovery point to its destination:
/// the ledger's attempts of that pair ([`CopyLedger::attempts`]), the latest of each kind.
/// `max_attempts` is the retry policy's (retries after the original job); a retry counts to the last
/// its failure's class allows ([`RetryPolicy::last_attempt`]).
pub fn coverage_of(attempts: &[CopyAttempt], source: &SourceState, max_attempts: u32) -> CoverageStatus {
    let policy = RetryPolicy { max_attempts, ..RetryPolicy::default() };
    let of_kind = |kind| attempts.iter().find(|attempt| Kind::of(attempt.state) == kind);
    let (completed, running, failed) = (of_kind(Kind::Completed), of_kind(Kind::UnderWay), of_kind(Kind::Failed));
    if let Some(done) = completed {
        return CoverageStatus::Covered {
            copy_job: done.job.clone(),
            destination_recovery_point: done.destination_recovery_point.clone(),
            at: done.completed_at,
            stored_in: done.destination.clone(),
        };
    }
    if let Some(under_way) = running {
        let attempt = under_way.lineage_attempt();
        return if attempt > 0 {
            // The failure it retries, when the listing kept it.
            let retried = failed.filter(|f| f.lineage_attempt() + 1 == attempt);
            CoverageStatus::Retrying { attempt, of: last_attempt(&policy, attempt, retried) }
        } else {
            CoverageStatus::Copying { copy_job: under_way.job.clone() }
        };
    }
    if let Some(last) = failed {
        let record = last.record.as_ref();
        let attempt = last.lineage_attempt();
        // The retrier scheduled the next attempt (its retry job not listed yet) or already started it.
        if record.is_some_and(|r| r.retried) {
            // A failed attempt's failure is always known: its class sets the cap.
            let of = last.failure.as_ref().map_or(policy.max_attempts, |f| policy.last_attempt(&f.classification));
            return CoverageStatus::Retrying { attempt: attempt + 1, of };
        }
        // Alerted as not copyable (the source went to cold storage, or is gone): the alert's reason.
        if let Some(why) = record.and_then(|r| r.alerted.as_ref()).and_then(AlertKind::not_copyable) {
            return CoverageStatus::NotCopyable { why: why.to_string(), copy_job: Some(last.job.clone()) };
        }
        let reason = last
            .failure
            .as_ref()
            .and_then(|failure| failure.status_message.clone())
            .unwrap_or_else(|| "no status message".to_owned());
        let incident = record.and_then(|r| r.incident.clone());
        let alerted = record.is_some_and(|r| r.alerted.is_some()) || incident.is_some();
        return CoverageStatus::Failed { copy_job: last.job.clone(), reason, alerted, incident };
    }
    match source {
        SourceState::Copyable => CoverageStatus::Missing,
        SourceState::NotCopyable(why) => CoverageStatus::NotCopyable { why: why.to_string(), copy_job: None },
        SourceState::Gone => CoverageStatus::Expired,
    }
}

/// The last retry of the chain that makes retry `attempt` after the failed attempt `retried`: as
/// the failure's class allows. A failure not listed leaves the class unknown: the policy's
/// `max_attempts`, unless the chain is past it, which only congestion carries it.
fn last_attempt(policy: &RetryPolicy, attempt: u32, retried: Option<&CopyAttempt>) -> u32 {
    match retried.and_then(|attempt| attempt.failure.as_ref()) {
        Some(failure) => policy.last_attempt(&failure.classification),
        None if attempt <= policy.max_attempts => policy.max_attempts,
        None => policy.max_attempts.max(CONGESTION_LAST_ATTEMPT),
    }
}

/// Which of two attempts of a kind is the later: the higher retry attempt, then the later completion
/// (the listing's order is not specified).
fn order(attempt: &CopyAttempt) -> (u32, Option<DateTime<Utc>>) {
    (attempt.lineage_attempt(), attempt.completed_at)
}

/// The copy attempts seen in a listing, reduced as they come to those that can decide a status: per
/// (recovery point, destination) the latest completed, under way and failed one. A sweep over
/// 100,000 copy jobs keeps a few compact attempts per pair, not every job; vault ARNs, shared by
/// thousands of pairs, are kept once and referred to by index.
#[derive(Debug, Default)]
pub struct CopyLedger {
    vaults: Vec<BackupVaultArn>,
    vault_index: HashMap<BackupVaultArn, u32>,
    pairs: HashMap<(RecoveryPointArn, u32), Pair>,
}

#[derive(Debug)]
struct Pair {
    source_vault: u32,
    attempts: Vec<CopyAttempt>,
}

impl CopyLedger {
    /// Keeps what of this listed job can decide its pair's status.
    pub fn observe(&mut self, job: &CopyJob, record: Option<&CopyJobRecord>) {
        let destination = self.intern(&job.destination_vault);
        let source_vault = self.intern(&job.source_vault);
        let attempt = CopyAttempt::of(job, record);
        let pair = self
            .pairs
            .entry((job.source_recovery_point.clone(), destination))
            .or_insert_with(|| Pair { source_vault, attempts: Vec::with_capacity(1) });
        let kind = |a: &CopyAttempt| Kind::of(a.state);
        match pair.attempts.iter().position(|other| kind(other) == kind(&attempt)) {
            Some(index) if order(&attempt) > order(&pair.attempts[index]) => pair.attempts[index] = attempt,
            Some(_) => {}
            None => pair.attempts.push(attempt),
        }
    }

    fn intern(&mut self, vault: &BackupVaultArn) -> u32 {
        if let Some(index) = self.vault_index.get(vault) {
            return *index;
        }
        let index = self.vaults.len() as u32;
        self.vaults.push(vault.clone());
        self.vault_index.insert(vault.clone(), index);
        index
    }

    /// The destinations this recovery point has copy attempts to.
    pub fn destinations_of(&self, recovery_point: &RecoveryPointArn) -> Vec<BackupVaultArn> {
        (0..self.vaults.len() as u32)
            .filter(|index| self.pairs.contains_key(&(recovery_point.clone(), *index)))
            .map(|index| self.vaults[index as usize].clone())
            .collect()
    }

    /// The attempts kept for one recovery point and destination.
    pub fn attempts(&self, recovery_point: &RecoveryPointArn, destination: &BackupVaultArn) -> &[CopyAttempt] {
        let Some(destination) = self.vault_index.get(destination) else { return &[] };
        self.pairs.get(&(recovery_point.clone(), *destination)).map_or(&[], |pair| pair.attempts.as_slice())
    }

    fn attempts_mut(&mut self) -> impl Iterator<Item = &mut CopyAttempt> {
        self.pairs.values_mut().flat_map(|pair| pair.attempts.iter_mut())
    }

    /// Jobs kept for these requirements without vaultwatch's record, where the record would tell
    /// more (a retry's attempt, a failure's handling); a completed copy needs none.
    pub fn records_wanted<'a>(&self, requirements: impl IntoIterator<Item = &'a Requirement>) -> Vec<CopyJobId> {
        let mut wanted: Vec<CopyJobId> = requirements
            .into_iter()
            .flat_map(|r| self.attempts(&r.recovery_point, &r.destination))
            .filter(|a| a.record.is_none() && Kind::of(a.state) != Kind::Completed)
            .map(|a| a.job.clone())
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
            .filter(|pair| pair.attempts.iter().any(|a| Kind::of(a.state) == Kind::Completed))
            .flat_map(|pair| pair.attempts.iter())
            .filter(|a| a.record.is_none() && Kind::of(a.state) == Kind::Failed)
            .map(|a| a.job.clone())
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
            .iter()
            .filter_map(|((recovery_point, destination), pair)| {
                let kept = &pair.attempts;
                let completed = kept.iter().find(|a| Kind::of(a.state) == Kind::Completed)?;
                let failed = kept.iter().find(|a| Kind::of(a.state) == Kind::Failed)?;
                let record = failed.record.as_ref().filter(|record| !record.resolution_published)?;
                let alerted = record.alerted.clone()?;
                Some(Resolution {
                    alerted_job: failed.job.clone(),
                    original_job: record.root.clone().unwrap_or_else(|| failed.job.clone()),
                    alerted,
                    completed_job: completed.job.clone(),
                    completed_at: completed.completed_at,
                    recovery_point: recovery_point.clone(),
                    source_vault: self.vaults[pair.source_vault as usize].clone(),
                    destination_vault: self.vaults[*destination as usize].clone(),
                    destination_recovery_point: completed.destination_recovery_point.clone(),
                    // The same recovery point, so the same resource.
                    resource: failed.failure.as_ref().and_then(|failure| failure.resource.clone()),
                })
            })
            .collect();
        resolutions.sort_by(|a, b| a.alerted_job.cmp(&b.alerted_job));
        resolutions
    }

    /// Adds vaultwatch's records of kept jobs.
    pub fn add_records(&mut self, records: &HashMap<CopyJobId, CopyJobRecord>) {
        for attempt in self.attempts_mut() {
            if attempt.record.is_none() && attempt.state != CopyJobState::Completed {
                attempt.record = records.get(&attempt.job).map(|record| Box::new(AttemptRecord::from(record)));
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
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Coverage>, now: DateTime<Utc>) -> Self {
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
