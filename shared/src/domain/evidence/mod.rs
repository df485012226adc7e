//! Copy-coverage evidence: one day's coverage rows, kept as files an auditor can read (CSV, JSON
//! Lines, one HTML page) and a manifest that holds each file's SHA-256 and the previous day's
//! manifest's, so the days form a hash chain. The reconciler writes a day once (its chain head lives
//! in the tracking table: the functions never read the bucket); `vaultwatch evidence verify` walks
//! the chain with every object version and names each gap, deletion, rewrite and alteration.

mod chain;
mod html;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Coverage, CoverageStatus, Incident};

pub use chain::{verify_chain, DayFinding, FileHistory, Finding, StoredVersion};

/// How many days of totals the page's chart shows (and the chain head keeps).
pub const CHART_DAYS: usize = 30;
/// The manifest's format, so a later format can be told apart.
pub const MANIFEST_FORMAT: &str = "vaultwatch-evidence/1";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const CSV_FILE: &str = "coverage.csv";
pub const JSONL_FILE: &str = "coverage.jsonl";
pub const HTML_FILE: &str = "index.html";

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One coverage row as evidence. Columns that AWS Backup Audit Manager's COPY_JOB_REPORT also has
/// carry its names (docs/aws-facts.md#audit-manager-copy-job-report); the others are vaultwatch's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRow {
    pub report_time_period_start: String,
    pub report_time_period_end: String,
    pub account_id: String,
    pub region: String,
    pub resource_type: String,
    pub resource_arn: String,
    /// The backup job that made the recovery point (vaultwatch).
    pub backup_job_id: String,
    pub source_recovery_point_arn: String,
    pub source_backup_vault_arn: String,
    /// When the backup completed: the copy is owed from then (vaultwatch).
    pub backup_completion_date: String,
    pub destination_backup_vault_arn: String,
    /// Why the destination is required: route, plan rule, organization, ... (vaultwatch).
    pub required_by: String,
    /// covered, copying, retrying, failed, missing, not copyable, expired (vaultwatch).
    pub coverage_status: String,
    pub copy_job_id: String,
    /// The copy job's state as AWS names it, where the status says it.
    pub job_status: String,
    pub destination_recovery_point_arn: String,
    pub completion_date: String,
    /// Why the copy is not there, in AWS's words where AWS gave them (vaultwatch).
    pub reason: String,
    /// The path incident the failure was counted in (vaultwatch).
    pub incident: String,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl EvidenceRow {
    pub fn of(row: &Coverage, day: NaiveDate) -> Self {
        let requirement = &row.requirement;
        let (start, end) = day_bounds(day);
        let text = |value: Option<String>| value.unwrap_or_default();
        let (copy_job_id, job_status, destination_recovery_point, completion_date, reason, incident) = match &row.status
        {
            CoverageStatus::Covered { copy_job, destination_recovery_point, at, .. } => (
                copy_job.to_string(),
                "COMPLETED",
                text(destination_recovery_point.as_ref().map(ToString::to_string)),
                text(at.map(instant)),
                String::new(),
                String::new(),
            ),
            CoverageStatus::Copying { copy_job } => {
                (copy_job.to_string(), "RUNNING", String::new(), String::new(), String::new(), String::new())
            }
            CoverageStatus::Retrying { attempt, of } => (
                String::new(),
                "",
                String::new(),
                String::new(),
                format!("retrying (attempt {attempt} of {of})"),
                String::new(),
            ),
            CoverageStatus::Failed { copy_job, reason, incident, .. } => (
                copy_job.to_string(),
                "FAILED",
                String::new(),
                String::new(),
                reason.clone(),
                incident.clone().unwrap_or_default(),
            ),
            CoverageStatus::NotCopyable { why, copy_job } => (
                text(copy_job.as_ref().map(ToString::to_string)),
                if copy_job.is_some() { "FAILED" } else { "" },
                String::new(),
                String::new(),
                why.clone(),
                String::new(),
            ),
            CoverageStatus::Missing => {
                (String::new(), "", String::new(), String::new(), "no copy job".into(), String::new())
            }
            CoverageStatus::Expired => (
                String::new(),
                "",
                String::new(),
                String::new(),
                "the source recovery point is gone".into(),
                String::new(),
            ),
        };
        Self {
            report_time_period_start: instant(start),
            report_time_period_end: instant(end),
            account_id: requirement.source_vault_arn.account().to_owned(),
            region: requirement.source_vault_arn.region().to_owned(),
            resource_type: text(requirement.resource_type.as_ref().map(ToString::to_string)),
            resource_arn: text(requirement.resource.as_ref().map(ToString::to_string)),
            backup_job_id: requirement.backup_job.to_string(),
            source_recovery_point_arn: requirement.recovery_point.to_string(),
            source_backup_vault_arn: requirement.source_vault_arn.to_string(),
            backup_completion_date: instant(requirement.completed_at),
            destination_backup_vault_arn: requirement.destination.to_string(),
            required_by: requirement.required_by.label().to_owned(),
            coverage_status: row.status.name().to_owned(),
            copy_job_id,
            job_status: job_status.to_owned(),
            destination_recovery_point_arn: destination_recovery_point,
            completion_date,
            reason,
            incident,
        }
    }

    pub fn is_uncovered(&self) -> bool {
        matches!(self.coverage_status.as_str(), "copying" | "retrying" | "failed" | "missing")
    }
}

/// The day's first instant and the next day's (UTC).
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    (start, start + Duration::days(1))
}

/// A day's counts, for the chart and the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayTotals {
    pub day: NaiveDate,
    pub covered: usize,
    /// Owed and not there: copying, retrying, failed, missing.
    pub uncovered: usize,
    /// Not owed any more: not copyable, expired.
    pub other: usize,
}

impl DayTotals {
    /// Every required copy of the day's backups.
    pub fn total(&self) -> usize {
        self.covered + self.uncovered + self.other
    }

    pub fn of(day: NaiveDate, rows: &[EvidenceRow]) -> Self {
        let mut totals = Self { day, ..Self::default() };
        rows.iter().for_each(|row| totals.count(row));
        totals
    }

    /// Counts `row` as covered, uncovered or no longer owed.
    pub fn count(&mut self, row: &EvidenceRow) {
        match row.coverage_status.as_str() {
            "covered" => self.covered += 1,
            _ if row.is_uncovered() => self.uncovered += 1,
            _ => self.other += 1,
        }
    }
}

/// Where a scope's chain stands: its last day, that day's manifest hash, and the totals of its last
/// [`CHART_DAYS`] days (kept in the tracking table, so the writer never reads the bucket).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceHead {
    pub day: NaiveDate,
    pub sha256: String,
    pub history: Vec<DayTotals>,
}

/// A file of a day's snapshot, named by its last key segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    pub name: String,
    pub sha256: String,
    pub bytes: usize,
}

/// An open path incident, as the page and the manifest list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenIncident {
    pub incident: String,
    pub path: String,
    pub cause: String,
    pub opened_at: String,
    pub affected: u64,
    pub found: String,
}

impl OpenIncident {
    pub fn of(incident: &Incident) -> Self {
        Self {
            incident: incident.id.thread_id(),
            path: incident.path.to_string(),
            cause: incident.id.key.cause.as_str().to_owned(),
            opened_at: instant(incident.id.opened_at),
            affected: incident.affected,
            found: incident.status_message.clone(),
        }
    }
}

/// A day's manifest: what the day's files hold and hash to, and the link to the day before. Its own
/// SHA-256 is the day's link in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    /// The key prefix of the scope: `<account>/<region>`, or `organization/<region>`.
    pub scope: String,
    pub day: NaiveDate,
    pub generated_at: String,
    /// The sweep's window began then: a day that began earlier was only partly seen.
    pub window_start: String,
    pub complete: bool,
    /// The previous snapshot of the scope: its day and its manifest's SHA-256 (none for the first).
    pub previous_day: Option<NaiveDate>,
    pub previous_sha256: Option<String>,
    pub totals: DayTotals,
    pub open_incidents: Vec<OpenIncident>,
    pub files: Vec<ManifestFile>,
}

/// What a day's snapshot is made of.
pub struct SnapshotInput<'a> {
    pub scope: &'a str,
    pub day: NaiveDate,
    pub rows: &'a [Coverage],
    pub open_incidents: Vec<OpenIncident>,
    pub previous: Option<&'a EvidenceHead>,
    pub window_start: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// A day's files, the manifest last, and the head the chain moves to once they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// (file name, content type, body), in the order they are written: the manifest last, so a
    /// day with a manifest has its files.
    pub files: Vec<(&'static str, &'static str, Vec<u8>)>,
    pub manifest: Manifest,
    pub head: EvidenceHead,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("could not write the snapshot's CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("could not write the snapshot's JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Snapshot {
    pub fn build(input: SnapshotInput<'_>) -> Result<Self, SnapshotError> {
        let (day_start, day_end) = day_bounds(input.day);
        let mut rows: Vec<EvidenceRow> = input
            .rows
            .iter()
            .filter(|row| (day_start..day_end).contains(&row.requirement.completed_at))
            .map(|row| EvidenceRow::of(row, input.day))
            .collect();
        rows.sort_by(|a, b| {
            (&a.backup_completion_date, &a.source_recovery_point_arn, &a.destination_backup_vault_arn).cmp(&(
                &b.backup_completion_date,
                &b.source_recovery_point_arn,
                &b.destination_backup_vault_arn,
            ))
        });
        let totals = DayTotals::of(input.day, &rows);
        let mut history: Vec<DayTotals> = input
            .previous
            .map(|head| head.history.iter().filter(|t| t.day < input.day).cloned().collect())
            .unwrap_or_default();
        history.push(totals.clone());
        let keep_from = history.len().saturating_sub(CHART_DAYS);
        history.drain(..keep_from);

        let mut csv = csv::Writer::from_writer(Vec::new());
        if rows.is_empty() {
            csv.write_record(EVIDENCE_COLUMNS)?;
        }
        for row in &rows {
            csv.serialize(row)?;
        }
        let csv = csv.into_inner().map_err(|err| csv::Error::from(err.into_error()))?;
        let mut jsonl = Vec::new();
        for row in &rows {
            serde_json::to_writer(&mut jsonl, row)?;
            jsonl.push(b'\n');
        }
        let mut manifest = Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            scope: input.scope.to_owned(),
            day: input.day,
            generated_at: instant(input.now),
            window_start: instant(input.window_start),
            complete: input.window_start <= day_start,
            previous_day: input.previous.map(|head| head.day),
            previous_sha256: input.previous.map(|head| head.sha256.clone()),
            totals,
            open_incidents: input.open_incidents,
            files: Vec::new(),
        };
        let page = html::page(&manifest, &rows, &history).into_bytes();
        let files = vec![
            (CSV_FILE, "text/csv; charset=utf-8", csv),
            (JSONL_FILE, "application/x-ndjson", jsonl),
            (HTML_FILE, "text/html; charset=utf-8", page),
        ];
        manifest.files = files
            .iter()
            .map(|(name, _, body)| ManifestFile {
                name: (*name).to_owned(),
                sha256: sha256_hex(body),
                bytes: body.len(),
            })
            .collect();
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
        let head = EvidenceHead { day: input.day, sha256: sha256_hex(&manifest_bytes), history };
        let mut files = files;
        files.push((MANIFEST_FILE, "application/json", manifest_bytes));
        Ok(Self { files, manifest, head })
    }
}

/// The CSV's header, as [`EvidenceRow`] serialises (written by hand only for a day without rows).
pub const EVIDENCE_COLUMNS: [&str; 19] = [
    "reportTimePeriodStart",
    "reportTimePeriodEnd",
    "accountId",
    "region",
    "resourceType",
    "resourceArn",
    "backupJobId",
    "sourceRecoveryPointArn",
    "sourceBackupVaultArn",
    "backupCompletionDate",
    "destinationBackupVaultArn",
    "requiredBy",
    "coverageStatus",
    "copyJobId",
    "jobStatus",
    "destinationRecoveryPointArn",
    "completionDate",
    "reason",
    "incident",
];

/// The key of a day's file: `<prefix>/<YYYY-MM-DD>/<file>`.
pub fn day_key(prefix: &str, day: NaiveDate, file: &str) -> String {
    format!("{}/{}/{file}", prefix.trim_end_matches('/'), day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests;
