//! Copy coverage of completed backups: for each one in a window and each destination it requires
//! (the matching copy routes, plus its plan rule's CopyActions), the copy's status. Read-only: it
//! starts nothing. The `vaultwatch coverage` command prints it; the reconciler counts it on every
//! whole sweep.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{for_each_page, HandlerError};
use crate::domain::{
    coverage_of, BackupJob, BackupVaultArn, CopyLedger, Coverage, CoverageStatus, CoverageSummary, NotCopyable,
    RequiredBy, Requirement, RouteTable, SourceState, VaultName,
};
use crate::ports::{AccountScope, BackupApi, BackupJobQuery, CopyJobQuery, TrackingStore};

/// Which backups a report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverageQuery {
    /// Backups created after this instant (ListBackupJobs' ByCreatedAfter), and their copies.
    pub since: DateTime<Utc>,
    /// One vault's backups; all vaults when none.
    pub vault: Option<VaultName>,
}

/// One row per (recovery point, required destination), and what they add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverageReport {
    pub rows: Vec<Coverage>,
    pub summary: CoverageSummary,
    /// Listed backup or copy jobs that could not be read (their rows may be missing or wrong).
    pub unreadable: usize,
}

pub struct CoverageAssessor<B, S> {
    pub backup: B,
    pub store: S,
    pub routes: RouteTable,
    /// The retry policy's attempts, for "retrying n of m".
    pub max_attempts: u32,
}

impl<B: BackupApi, S: TrackingStore> CoverageAssessor<B, S> {
    /// Lists the copy jobs of the window, then assesses the backups against them.
    pub async fn report(&self, query: &CoverageQuery, now: DateTime<Utc>) -> Result<CoverageReport, HandlerError> {
        let mut ledger = CopyLedger::default();
        let mut unreadable = 0;
        let copies =
            CopyJobQuery { created_after: Some(query.since), max_results: Some(1000), ..CopyJobQuery::default() };
        for_each_page(
            async |token| self.backup.list_copy_jobs(&copies, token).await,
            async |page| {
                unreadable += page.unreadable.len();
                page.items.iter().for_each(|job| ledger.observe(job, None));
                Ok(())
            },
        )
        .await?;
        let mut report = self.assess(query, &mut ledger, now).await?;
        report.unreadable += unreadable;
        Ok(report)
    }

    /// Assesses the window's completed backups against the copy attempts already seen (by a sweep,
    /// or by `report`). Reads vaultwatch's records of the attempts that need them into the ledger.
    pub async fn assess(
        &self,
        query: &CoverageQuery,
        ledger: &mut CopyLedger,
        now: DateTime<Utc>,
    ) -> Result<CoverageReport, HandlerError> {
        let mut report = CoverageReport::default();
        let mut required = Vec::new();
        let backups = BackupJobQuery { since: query.since, vault: query.vault.clone(), accounts: AccountScope::Caller };
        for_each_page(
            async |token| self.backup.list_completed_backups(&backups, token).await,
            async |page| {
                report.unreadable += page.unreadable.len();
                for backup in &page.items {
                    let requirements = self.requirements(backup, ledger).await?;
                    if !requirements.is_empty() {
                        let source = self.source_state(backup).await?;
                        required.extend(requirements.into_iter().map(|requirement| (requirement, source.clone())));
                    }
                }
                Ok(())
            },
        )
        .await?;
        // vaultwatch's records of the attempts that decide a required copy, in one batch read.
        let wanted = ledger.records_wanted(required.iter().map(|(requirement, _)| requirement));
        if !wanted.is_empty() {
            ledger.add_records(&self.store.get_many(&wanted).await?);
        }
        for (requirement, source) in required {
            let attempts = ledger.attempts(&requirement.recovery_point, &requirement.destination);
            let mut status = coverage_of(attempts, &source, self.max_attempts);
            if status == CoverageStatus::Missing {
                // No copy at all: is there still something to copy?
                let now_source = self.source_now(&requirement, now).await?;
                status = coverage_of(attempts, &now_source, self.max_attempts);
            }
            report.rows.push(Coverage { requirement, status });
        }
        report.rows.sort_by(|a, b| {
            (a.requirement.completed_at, &a.requirement.recovery_point, &a.requirement.destination).cmp(&(
                b.requirement.completed_at,
                &b.requirement.recovery_point,
                &b.requirement.destination,
            ))
        });
        report.summary = CoverageSummary::of(&report.rows, now);
        Ok(report)
    }

    /// The destinations a backup requires: its routes, then its plan rule's CopyActions. A backup
    /// made to a logically air-gapped vault that left a temporary recovery point requires only AWS
    /// Backup's own copy of it into that vault (the destinations of its copy jobs in `ledger`):
    /// nothing routes a point AWS deletes once copied, and its deletion is no expiry.
    async fn requirements(&self, backup: &BackupJob, ledger: &CopyLedger) -> Result<Vec<Requirement>, HandlerError> {
        // A nested job's recovery point is copied with its composite parent's.
        let (Some(recovery_point), None) = (&backup.recovery_point, &backup.parent_job) else { return Ok(Vec::new()) };
        let vault = backup.vault.vault_name();
        let mut destinations: BTreeMap<BackupVaultArn, RequiredBy> = BTreeMap::new();
        if backup.is_temporary() {
            destinations.extend(ledger.destinations_of(recovery_point).into_iter().map(|d| (d, RequiredBy::AirGapped)));
        } else {
            destinations.extend(
                self.routes
                    .routes_for(&vault, backup.resource_type.as_ref())
                    .map(|route| (route.destination_vault.clone(), RequiredBy::Route)),
            );
            if let Some(rule) = &backup.created_by {
                for destination in self.backup.plan_copy_destinations(rule).await? {
                    destinations.entry(destination).or_insert(RequiredBy::PlanRule);
                }
            }
        }
        let completed_at = backup.completed_at.unwrap_or_default();
        Ok(destinations
            .into_iter()
            .map(|(destination, required_by)| Requirement {
                recovery_point: recovery_point.clone(),
                backup_job: backup.id.clone(),
                resource: backup.resource.clone(),
                source_vault: vault.clone(),
                source_vault_arn: backup.vault.clone(),
                resource_type: backup.resource_type.clone(),
                completed_at,
                destination,
                required_by,
            })
            .collect())
    }

    /// What the backup itself says about copying it: continuous backups never can be.
    async fn source_state(&self, backup: &BackupJob) -> Result<SourceState, HandlerError> {
        let Some(recovery_point) = &backup.recovery_point else { return Ok(SourceState::Copyable) };
        if let Some(why) = recovery_point.never_copyable() {
            return Ok(SourceState::NotCopyable(why));
        }
        if let Some(rule) = &backup.created_by {
            if self.backup.makes_continuous_backups(rule).await? {
                return Ok(SourceState::NotCopyable(NotCopyable::Continuous));
            }
        }
        Ok(SourceState::Copyable)
    }

    /// The recovery point as it stands now (DescribeRecoveryPoint): gone, in cold storage, or copyable.
    async fn source_now(&self, requirement: &Requirement, now: DateTime<Utc>) -> Result<SourceState, HandlerError> {
        let point = self.backup.describe_recovery_point(&requirement.source_vault, &requirement.recovery_point).await?;
        Ok(match point.as_ref().map(|point| point.not_copyable_at(now)) {
            None | Some(Some(NotCopyable::Deleted | NotCopyable::DeletedBeforeRetry { .. })) => SourceState::Gone,
            Some(Some(why)) => SourceState::NotCopyable(why),
            Some(None) => SourceState::Copyable,
        })
    }
}
