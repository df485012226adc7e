//! The organization view: copy coverage of every member account's backups in this region, for the
//! organization's management account (docs/aws-facts.md#organization-view). ListBackupJobs with
//! `ByAccountId` `*` lists the organization's completed backups; ListCopyJobs, which AWS documents
//! for one account at a time, lists each member account's copies in turn.
//!
//! Read-only: it starts no copy and writes nothing. Member stacks retry and alert in their own
//! accounts; their tracking tables, plans and routes are out of reach here, so a destination is
//! required when the operator names it (`--require-copy-to`, e.g. the central DR vault) or when a
//! copy job to it shows that one was wanted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{for_each_page, HandlerError};
use crate::domain::{
    coverage_of, AccountId, BackupJob, BackupVaultArn, CopyLedger, Coverage, CoverageStatus, CoverageSummary,
    RecoveryPointArn, RequiredBy, Requirement, SourceState,
};
use crate::ports::{copy_job_summaries_cover, AccountScope, BackupApi, BackupJobQuery, CopyJobQuery};

/// What the organization view requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrganizationSettings {
    /// Destination vaults every backup of the organization must have a copy in.
    pub required_destinations: Vec<BackupVaultArn>,
    /// The member stacks' MaxAttempts (for "retrying n of m").
    pub max_attempts: u32,
}

/// Coverage of one (account, region): what its rows add up to, and its failed copy chains (rows whose
/// last attempt failed with nothing completed or under way after it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCoverage {
    pub account: String,
    pub region: String,
    #[serde(flatten)]
    pub summary: CoverageSummary,
    pub failed_chains: usize,
    /// AWS's own count of the account's FAILED copy jobs in the window (ListCopyJobSummaries): a
    /// second opinion from AWS's aggregates; none when AWS would not give it, or when the window
    /// reaches further back than AWS's 14 days of summaries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_failed_copy_jobs: Option<u64>,
}

/// The organization's rows, each account's coverage, and the whole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationReport {
    pub rows: Vec<Coverage>,
    pub accounts: Vec<AccountCoverage>,
    pub summary: CoverageSummary,
    /// Listed backup or copy jobs that could not be read (their rows may be missing or wrong).
    pub unreadable: usize,
}

impl OrganizationReport {
    /// One report of several regions' reports.
    pub fn combine(reports: Vec<OrganizationReport>, now: DateTime<Utc>) -> Self {
        let mut combined = Self::default();
        for report in reports {
            combined.rows.extend(report.rows);
            combined.accounts.extend(report.accounts);
            combined.unreadable += report.unreadable;
        }
        combined.accounts.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        combined.summary = CoverageSummary::of(&combined.rows, now);
        combined
    }

    pub fn failed_chains(&self) -> usize {
        self.accounts.iter().map(|account| account.failed_chains).sum()
    }
}

pub struct OrganizationAssessor<B> {
    pub backup: B,
    pub settings: OrganizationSettings,
}

impl<B: BackupApi> OrganizationAssessor<B> {
    /// The coverage of the organization's backups completed since `since`, in this client's region.
    pub async fn report(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<OrganizationReport, HandlerError> {
        let mut report = OrganizationReport::default();
        let backups = self.organization_backups(since, &mut report).await?;
        let accounts: BTreeSet<&str> = backups.iter().map(|backup| backup.vault.account()).collect();
        let mut ledger = CopyLedger::default();
        for account in accounts {
            let Ok(account) = AccountId::parse(account) else { continue };
            self.observe_copies(&account, since, &mut ledger, &mut report).await?;
        }
        for backup in &backups {
            report.rows.extend(self.rows(backup, &ledger));
        }
        report.rows.sort_by(|a, b| row_order(a).cmp(&row_order(b)));
        report.summary = CoverageSummary::of(&report.rows, now);
        report.accounts = per_account(&report.rows, now);
        // AWS's counts are a cross-check, not the report: without them the report stands. They go
        // back 14 days: a longer window would be undercounted, so they are not asked for.
        if !copy_job_summaries_cover(since, now) {
            tracing::info!(%since, "the window is longer than AWS's copy job summaries keep; reported without them");
            return Ok(report);
        }
        match self.backup.count_failed_copy_jobs(since).await {
            Ok(counts) => {
                for account in &mut report.accounts {
                    account.aws_failed_copy_jobs = Some(counts.get(&account.account).copied().unwrap_or(0));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "AWS's copy job summaries are not available; reported without them")
            }
        }
        Ok(report)
    }

    /// Every completed backup of the organization in the window (`ByAccountId` `*`), nested jobs
    /// left out: their recovery points are copied with their composite parent's.
    async fn organization_backups(
        &self,
        since: DateTime<Utc>,
        report: &mut OrganizationReport,
    ) -> Result<Vec<BackupJob>, HandlerError> {
        let query = BackupJobQuery { since, vault: None, accounts: AccountScope::Organization };
        let mut backups = Vec::new();
        for_each_page(
            async |token| self.backup.list_completed_backups(&query, token).await,
            async |page| {
                report.unreadable += page.unreadable.len();
                let copyable = |backup: &BackupJob| backup.recovery_point.is_some() && backup.parent_job.is_none();
                backups.extend(page.items.into_iter().filter(copyable));
                Ok(())
            },
        )
        .await?;
        Ok(backups)
    }

    /// One account's copy jobs of the window, into the ledger.
    async fn observe_copies(
        &self,
        account: &AccountId,
        since: DateTime<Utc>,
        ledger: &mut CopyLedger,
        report: &mut OrganizationReport,
    ) -> Result<(), HandlerError> {
        let query = CopyJobQuery {
            account: Some(account.clone()),
            created_after: Some(since),
            max_results: Some(1000),
            ..CopyJobQuery::default()
        };
        for_each_page(
            async |token| self.backup.list_copy_jobs(&query, token).await,
            async |page| {
                report.unreadable += page.unreadable.len();
                page.items.iter().for_each(|job| ledger.observe(job, None));
                Ok(())
            },
        )
        .await
    }

    /// A backup's rows: the required destinations, then those its copy jobs went to.
    fn rows(&self, backup: &BackupJob, ledger: &CopyLedger) -> Vec<Coverage> {
        let Some(recovery_point) = &backup.recovery_point else { return Vec::new() };
        let mut destinations: BTreeMap<BackupVaultArn, RequiredBy> = self
            .settings
            .required_destinations
            .iter()
            // A copy into the vault the backup is in is no copy.
            .filter(|destination| **destination != backup.vault)
            .map(|destination| (destination.clone(), RequiredBy::Organization))
            .collect();
        for destination in ledger.destinations_of(recovery_point) {
            destinations.entry(destination).or_insert(RequiredBy::CopyJob);
        }
        // Other accounts' recovery points cannot be described from here: only what the ARN says.
        let source = match recovery_point.never_copyable() {
            Some(why) => SourceState::NotCopyable(why),
            None => SourceState::Copyable,
        };
        destinations
            .into_iter()
            .map(|(destination, required_by)| {
                let status =
                    coverage_of(ledger.attempts(recovery_point, &destination), &source, self.settings.max_attempts);
                let requirement = Requirement {
                    recovery_point: recovery_point.clone(),
                    backup_job: backup.id.clone(),
                    resource: backup.resource.clone(),
                    source_vault: backup.vault.vault_name(),
                    source_vault_arn: backup.vault.clone(),
                    resource_type: backup.resource_type.clone(),
                    completed_at: backup.completed_at.unwrap_or_default(),
                    destination,
                    required_by,
                };
                Coverage { requirement, status }
            })
            .collect()
    }
}

/// Rows by account, then as a single account's report orders them (borrowed: no copy per comparison).
fn row_order(row: &Coverage) -> (&str, DateTime<Utc>, &RecoveryPointArn, &BackupVaultArn) {
    let r = &row.requirement;
    (r.source_vault_arn.account(), r.completed_at, &r.recovery_point, &r.destination)
}

/// The rows' coverage per (account, region) of their source vault.
fn per_account(rows: &[Coverage], now: DateTime<Utc>) -> Vec<AccountCoverage> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Coverage>> = BTreeMap::new();
    for row in rows {
        let vault = &row.requirement.source_vault_arn;
        groups.entry((vault.account(), vault.region())).or_default().push(row);
    }
    groups
        .into_iter()
        .map(|((account, region), rows)| AccountCoverage {
            account: account.to_owned(),
            region: region.to_owned(),
            summary: CoverageSummary::of(rows.iter().copied(), now),
            failed_chains: rows.iter().filter(|row| matches!(row.status, CoverageStatus::Failed { .. })).count(),
            aws_failed_copy_jobs: None,
        })
        .collect()
}
