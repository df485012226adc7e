//! cross-region-copier: when a backup completes in a routed vault, start one copy per route.
//!
//! Each copy carries a token derived from (recovery point, destination vault), so a duplicate or
//! retried notification finds the copy already started instead of starting another. That makes the
//! copier stateless: one StartCopyJob per route (plus DescribeBackupJob for an SNS notification,
//! which carries only the job id), and no table write. The copies' own events reach the tracker.

use serde_json::{json, Value};

use super::{for_each_notification, skipped, HandlerError};
use crate::domain::{
    BackupJobState, BackupVaultArn, IamRoleArn, IdempotencyToken, RecoveryPointArn, RouteTable, SourcePolicy,
};
use crate::notification::{BackupJobEvent, JobEvent};
use crate::ports::{BackupApi, StartCopyRequest};

pub struct Copier<B> {
    pub backup: B,
    pub routes: RouteTable,
    /// The role AWS Backup assumes to copy (the only role the function may pass).
    pub copy_role: IamRoleArn,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
}

/// The facts about a completed backup that routing needs.
struct CompletedBackup {
    recovery_point: RecoveryPointArn,
    vault: BackupVaultArn,
    resource_type: Option<String>,
}

impl<B: BackupApi> Copier<B> {
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandlerError> {
        for_each_notification(payload, &self.sources, |notification| async move {
            match &notification.event {
                JobEvent::Backup(backup) => match &backup.state {
                    BackupJobState::Completed => self.on_backup_completed(backup).await,
                    BackupJobState::NotCompleted(state) => {
                        Ok(skipped(&notification, &format!("backup job is {state}, nothing to copy")))
                    }
                },
                JobEvent::Copy(_) => Ok(skipped(&notification, "copy job events are the tracker's")),
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await
    }

    pub async fn on_backup_completed(&self, event: &BackupJobEvent) -> Result<Value, HandlerError> {
        let Some(backup) = self.completed_backup(event).await? else {
            return Ok(json!({ "backupJob": event.id, "skipped": "backup job is not completed" }));
        };
        let vault_name = backup.vault.vault_name();
        let routes: Vec<_> = self.routes.routes_for(&vault_name, backup.resource_type.as_deref()).collect();
        if routes.is_empty() {
            tracing::info!(backup_job = %event.id, vault = %vault_name, "no route for this vault; nothing to copy");
            return Ok(json!({ "backupJob": event.id, "copies": [] }));
        }

        // The routes' copies start concurrently. Every route is attempted; a failure fails the
        // event afterwards, and the retry of the event finds the routes that worked already started
        // (same tokens).
        let starts = routes.iter().map(|route| {
            let request = StartCopyRequest {
                recovery_point: backup.recovery_point.clone(),
                source_vault: vault_name.clone(),
                destination_vault: route.destination_vault.clone(),
                iam_role: self.copy_role.clone(),
                lifecycle: route.lifecycle,
                token: IdempotencyToken::for_route(&backup.recovery_point, &route.destination_vault),
            };
            async move { self.backup.start_copy_job(&request).await }
        });
        let started = futures_util::future::join_all(starts).await;
        let mut copies = Vec::with_capacity(routes.len());
        let mut first_error = None;
        for (route, result) in routes.iter().zip(started) {
            match result {
                Ok(copy_job) => {
                    tracing::info!(copy_job = %copy_job, destination = %route.destination_vault, "copy started");
                    copies.push(json!({ "copyJob": copy_job, "destination": route.destination_vault }));
                }
                Err(err) => {
                    tracing::error!(backup_job = %event.id, destination = %route.destination_vault, error = %err, "copy not started");
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(err) => Err(err.into()),
            None => Ok(json!({ "backupJob": event.id, "copies": copies })),
        }
    }

    /// Takes the facts from the event when it carries them all (EventBridge), else asks
    /// DescribeBackupJob (SNS carries only the job id). None when the job is not completed after all.
    async fn completed_backup(&self, event: &BackupJobEvent) -> Result<Option<CompletedBackup>, HandlerError> {
        if let (Some(recovery_point), Some(vault), Some(resource_type)) =
            (&event.recovery_point, &event.vault, &event.resource_type)
        {
            return Ok(Some(CompletedBackup {
                recovery_point: recovery_point.clone(),
                vault: vault.clone(),
                resource_type: Some(resource_type.clone()),
            }));
        }
        let job = self.backup.describe_backup_job(&event.id).await?;
        if job.state != BackupJobState::Completed {
            return Ok(None);
        }
        let recovery_point = job
            .recovery_point
            .or_else(|| event.recovery_point.clone())
            .ok_or_else(|| HandlerError::NoRecoveryPoint(event.id.clone()))?;
        Ok(Some(CompletedBackup { recovery_point, vault: job.vault, resource_type: job.resource_type }))
    }
}
