//! cross-region-copier: when a backup completes in a routed vault, start one copy per route.
//!
//! Each copy carries a token derived from (recovery point, destination vault), so a duplicate or
//! retried notification finds the copy already started instead of starting another. That makes the
//! copier stateless: one StartCopyJob per route (plus DescribeBackupJob for an SNS notification,
//! which carries only the job id), and no table write. The copies' own events reach the tracker.

use serde::Serialize;
use serde_json::Value;

use super::{for_each_notification, skipped, HandlerError, Outcomes, RecordOutcome};
use crate::domain::{
    BackupJobId, BackupJobState, BackupVaultArn, CopyJobId, CopyRoute, IamRoleArn, IdempotencyToken, RecoveryPointArn,
    ResourceType, RouteTable, SourcePolicy,
};
use crate::notification::{BackupJobEvent, JobEvent};
use crate::ports::{AwsError, BackupApi, StartCopyRequest};

/// What the copier did about one completed backup.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Copied {
    /// One copy per matching route (none when no route matches).
    Copies { backup_job: BackupJobId, copies: Vec<RoutedCopy> },
    /// Not completed after all, or nested in a composite backup (copied with its parent).
    Skipped { backup_job: BackupJobId, reason: &'static str },
    /// AWS Backup cannot copy it on demand (a continuous backup).
    NotCopyable { backup_job: BackupJobId, reason: String },
}

/// A copy a route started (or found started, through its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutedCopy {
    pub copy_job: CopyJobId,
    pub destination: BackupVaultArn,
}

pub struct Copier<B> {
    pub backup: B,
    pub routes: RouteTable,
    /// The role AWS Backup assumes to copy (the only role the function may pass).
    pub copy_role: IamRoleArn,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
}

/// What a backup job's completion means for the routes.
enum Completion {
    Copyable(CompletedBackup),
    /// Not COMPLETED after all (DescribeBackupJob says otherwise).
    NotCompleted,
    /// A job nested in a composite backup: its parent's recovery point is the one copied, whole.
    Nested,
    /// A backup made to a logically air-gapped vault left a temporary recovery point: AWS Backup
    /// copies it into that vault itself and then deletes it (DELETE_AFTER_COPY).
    Temporary,
}

/// The facts about a completed backup that routing needs.
pub struct CompletedBackup {
    pub recovery_point: RecoveryPointArn,
    pub vault: BackupVaultArn,
    pub resource_type: Option<ResourceType>,
}

impl<B: BackupApi> Copier<B> {
    pub async fn handle(&self, payload: &Value) -> Result<Outcomes<Copied>, HandlerError> {
        for_each_notification(payload, &self.sources, |notification| async move {
            match &notification.event {
                JobEvent::Backup(backup) => match &backup.state {
                    BackupJobState::Completed => self.on_backup_completed(backup).await.map(RecordOutcome::Handled),
                    BackupJobState::NotCompleted(state) => {
                        Ok(skipped(&notification, &format!("backup job is {state}, nothing to copy")))
                    }
                },
                JobEvent::Copy(_) | JobEvent::CopyStateUnknown { .. } => {
                    Ok(skipped(&notification, "copy job events are the tracker's"))
                }
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await
    }

    pub async fn on_backup_completed(&self, event: &BackupJobEvent) -> Result<Copied, HandlerError> {
        let skipped = |reason| Ok(Copied::Skipped { backup_job: event.id.clone(), reason });
        let backup = match self.completed_backup(event).await? {
            Completion::Copyable(backup) => backup,
            Completion::NotCompleted => return skipped("backup job is not completed"),
            Completion::Nested => {
                tracing::info!(backup_job = %event.id, "nested backup job: copied with its composite parent");
                return skipped("nested job of a composite backup");
            }
            Completion::Temporary => {
                tracing::info!(backup_job = %event.id, "temporary recovery point of a backup to a logically air-gapped vault: AWS Backup copies it there and deletes it");
                return skipped("temporary recovery point of a backup to a logically air-gapped vault (AWS Backup copies it there itself and deletes it)");
            }
        };
        // A continuous backup cannot be copied on demand (StartCopyJob "Does not support continuous
        // backups"): asking would only be refused.
        if let Some(why) = backup.recovery_point.never_copyable() {
            tracing::info!(backup_job = %event.id, recovery_point = %backup.recovery_point, %why, "nothing to copy");
            return Ok(Copied::NotCopyable { backup_job: event.id.clone(), reason: why.to_string() });
        }
        let vault_name = backup.vault.vault_name();
        let routes: Vec<_> = self.routes.routes_for(&vault_name, backup.resource_type.as_ref()).collect();
        if routes.is_empty() {
            // At DEBUG: most backups are in vaults without a route (their copies are the plans').
            tracing::debug!(backup_job = %event.id, vault = %vault_name, "no route for this vault; nothing to copy");
            return Ok(Copied::Copies { backup_job: event.id.clone(), copies: Vec::new() });
        }
        // Every route is attempted; a failure fails the event afterwards, and the retry of the
        // event finds the routes that worked already started (same tokens).
        let mut copies = Vec::with_capacity(routes.len());
        let mut first_error = None;
        for (route, result) in self.start_copies(&backup, &routes).await {
            match result {
                Ok(copy_job) => copies.push(RoutedCopy { copy_job, destination: route.destination_vault.clone() }),
                Err(err) => {
                    tracing::error!(backup_job = %event.id, destination = %route.destination_vault, error = %err, "copy not started");
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err.into()),
            None => Ok(Copied::Copies { backup_job: event.id.clone(), copies }),
        }
    }

    /// Starts the copies of `backup` that `routes` call for, concurrently, each with its route
    /// token; every route is attempted and each answer is returned beside its route.
    pub async fn start_copies<'r>(
        &self,
        backup: &CompletedBackup,
        routes: &[&'r CopyRoute],
    ) -> Vec<(&'r CopyRoute, Result<CopyJobId, AwsError>)> {
        let vault_name = backup.vault.vault_name();
        let starts = routes.iter().map(|route| {
            let request = StartCopyRequest {
                recovery_point: backup.recovery_point.clone(),
                source_vault: vault_name.clone(),
                destination_vault: route.destination_vault.clone(),
                iam_role: self.copy_role.clone(),
                lifecycle: route.lifecycle,
                token: IdempotencyToken::for_route(&backup.recovery_point, &route.destination_vault),
            };
            async move {
                let result = self.backup.start_copy_job(&request).await;
                if let Ok(copy_job) = &result {
                    tracing::info!(copy_job = %copy_job, destination = %route.destination_vault, "copy started");
                }
                (*route, result)
            }
        });
        futures_util::future::join_all(starts).await
    }

    /// Takes the facts from the event when it carries all that decides routing (an EventBridge
    /// event with the job record's composite and lifecycle members), else asks DescribeBackupJob
    /// (SNS carries only the job id; AWS's documented EventBridge events lack those members).
    async fn completed_backup(&self, event: &BackupJobEvent) -> Result<Completion, HandlerError> {
        if event.parent_job.is_some() {
            return Ok(Completion::Nested);
        }
        if event.lifecycle.is_some_and(|lifecycle| lifecycle.deleted_after_copy()) {
            return Ok(Completion::Temporary);
        }
        if let (true, Some(recovery_point), Some(vault), Some(resource_type)) =
            (event.decides_routing(), &event.recovery_point, &event.vault, &event.resource_type)
        {
            return Ok(Completion::Copyable(CompletedBackup {
                recovery_point: recovery_point.clone(),
                vault: vault.clone(),
                resource_type: Some(resource_type.clone()),
            }));
        }
        let job = self.backup.describe_backup_job(&event.id).await?;
        if job.state != BackupJobState::Completed {
            return Ok(Completion::NotCompleted);
        }
        if job.parent_job.is_some() {
            return Ok(Completion::Nested);
        }
        if job.is_temporary() {
            return Ok(Completion::Temporary);
        }
        let recovery_point = job
            .recovery_point
            .or_else(|| event.recovery_point.clone())
            .ok_or_else(|| HandlerError::NoRecoveryPoint(event.id.clone()))?;
        Ok(Completion::Copyable(CompletedBackup { recovery_point, vault: job.vault, resource_type: job.resource_type }))
    }
}
