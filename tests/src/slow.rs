//! A port that takes its time: each call of the chosen operations waits `latency` on tokio's clock
//! (a test pauses it, so waiting costs nothing) before the wrapped port answers. Operations are
//! named as the memory fakes count them ("apply_state", "StartCopyJob").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use vaultwatch::domain::{
    BackupJob, BackupJobId, BackupVaultArn, Claim, ClaimKind, ClaimOwner, CopyDetails, CopyJob, CopyJobId,
    CopyJobRecord, IdempotencyToken, Lifecycle, Ownership, PlanRuleRef, RecoveryPoint, RecoveryPointArn, Refusal,
    StartedCopy, StateChange, StateUpdate, SweepCursor, VaultName,
};
use vaultwatch::ports::{AwsError, BackupApi, BackupJobQuery, CopyJobQuery, Page, StartCopyRequest, TrackingStore};

pub struct Slow<T> {
    pub inner: T,
    pub latency: Duration,
    pub operations: &'static [&'static str],
}

impl<T> Slow<T> {
    async fn wait(&self, operation: &str) {
        if self.operations.contains(&operation) {
            tokio::time::sleep(self.latency).await;
        }
    }
}

impl<T: BackupApi + Sync> BackupApi for Slow<T> {
    async fn describe_copy_job(&self, id: &CopyJobId) -> Result<CopyJob, AwsError> {
        self.wait("DescribeCopyJob").await;
        self.inner.describe_copy_job(id).await
    }
    async fn describe_backup_job(&self, id: &BackupJobId) -> Result<BackupJob, AwsError> {
        self.wait("DescribeBackupJob").await;
        self.inner.describe_backup_job(id).await
    }
    async fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        self.wait("GetBackupPlan").await;
        self.inner.copy_action_lifecycle(rule, destination).await
    }
    async fn plan_copy_destinations(&self, rule: &PlanRuleRef) -> Result<Vec<BackupVaultArn>, AwsError> {
        self.wait("GetBackupPlan").await;
        self.inner.plan_copy_destinations(rule).await
    }
    async fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> Result<bool, AwsError> {
        self.wait("GetBackupPlan").await;
        self.inner.makes_continuous_backups(rule).await
    }
    async fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> Result<Option<RecoveryPoint>, AwsError> {
        self.wait("DescribeRecoveryPoint").await;
        self.inner.describe_recovery_point(vault, recovery_point).await
    }
    async fn start_copy_job(&self, request: &StartCopyRequest) -> Result<CopyJobId, AwsError> {
        self.wait("StartCopyJob").await;
        self.inner.start_copy_job(request).await
    }
    async fn list_copy_jobs(&self, query: &CopyJobQuery, next_token: Option<&str>) -> Result<Page<CopyJob>, AwsError> {
        self.wait("ListCopyJobs").await;
        self.inner.list_copy_jobs(query, next_token).await
    }
    async fn count_failed_copy_jobs(&self, since: DateTime<Utc>) -> Result<BTreeMap<String, u64>, AwsError> {
        self.wait("ListCopyJobSummaries").await;
        self.inner.count_failed_copy_jobs(since).await
    }
    async fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> Result<Page<BackupJob>, AwsError> {
        self.wait("ListBackupJobs").await;
        self.inner.list_completed_backups(query, next_token).await
    }
}

impl<T: TrackingStore + Sync> TrackingStore for Slow<T> {
    async fn apply_state(&self, update: &StateUpdate) -> Result<StateChange, AwsError> {
        self.wait("apply_state").await;
        self.inner.apply_state(update).await
    }
    async fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> Result<(), AwsError> {
        self.wait("fill_details").await;
        self.inner.fill_details(id, details).await
    }
    async fn record_started(&self, copy: &StartedCopy) -> Result<(), AwsError> {
        self.wait("record_started").await;
        self.inner.record_started(copy).await
    }
    async fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> Result<(), AwsError> {
        self.wait("link_retry").await;
        self.inner.link_retry(failed, retry).await
    }
    async fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, AwsError> {
        self.wait("claim").await;
        self.inner.claim(id, kind, owner, now, lease).await
    }
    async fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> Result<Ownership, AwsError> {
        self.wait("renew_claim").await;
        self.inner.renew_claim(id, kind, owner, now).await
    }
    async fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &str,
        details: Option<&CopyDetails>,
    ) -> Result<Ownership, AwsError> {
        self.wait("finish_claim").await;
        self.inner.finish_claim(id, kind, owner, outcome, details).await
    }
    async fn release_claim(&self, id: &CopyJobId, kind: ClaimKind, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.wait("release_claim").await;
        self.inner.release_claim(id, kind, owner).await
    }
    async fn get(&self, id: &CopyJobId) -> Result<Option<CopyJobRecord>, AwsError> {
        self.wait("get").await;
        self.inner.get(id).await
    }
    async fn get_many(&self, ids: &[CopyJobId]) -> Result<HashMap<CopyJobId, CopyJobRecord>, AwsError> {
        self.wait("get_many").await;
        self.inner.get_many(ids).await
    }
    async fn load_cursor(&self) -> Result<SweepCursor, AwsError> {
        self.wait("load_cursor").await;
        self.inner.load_cursor().await
    }
    async fn save_cursor(&self, cursor: &SweepCursor) -> Result<(), AwsError> {
        self.wait("save_cursor").await;
        self.inner.save_cursor(cursor).await
    }
    async fn refused(&self, tokens: &[IdempotencyToken]) -> Result<HashSet<IdempotencyToken>, AwsError> {
        self.wait("refused").await;
        self.inner.refused(tokens).await
    }
    async fn record_refusal(&self, refusal: &Refusal) -> Result<(), AwsError> {
        self.wait("record_refusal").await;
        self.inner.record_refusal(refusal).await
    }
}
