//! Every port is also implemented for a shared reference to an implementation, so one set of
//! clients can serve several handlers at once (the reconciler runs the tracker's, retrier's and
//! copier's logic over the same clients).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    AlertSink, AwsError, BackupApi, BackupJobQuery, CopyJobQuery, DailyTask, EvidenceSink, IncidentClaim,
    IncidentClaimKind, IncidentEntry, Page, PathFactsApi, PlanCopyAction, RetryQueue, RetryRequest,
    RoleSimulationRequest, StartCopyRequest, TrackingStore,
};
use crate::domain::evidence::EvidenceHead;
use crate::domain::{
    AccountId, AffectedPoint, Alert, Backfill, BackupJob, BackupJobId, BackupVaultArn, Claim, ClaimKind, ClaimOutcome,
    ClaimOwner, CopyDetails, CopyJob, CopyJobId, CopyJobRecord, HealedBy, IdempotencyToken, Incident, IncidentId,
    IncidentKey, IncidentMessage, KeyFacts, KeyGrant, KmsKeyArn, Lifecycle, OrganizationFacts, Ownership, PathFailure,
    PathKey, PathRecord, PlanRuleRef, RecoveryPoint, RecoveryPointArn, Refusal, Resolution, Simulation, SlotSettled,
    StartedCopy, StateChange, StateUpdate, SweepCursor, VaultFacts, VaultName,
};

impl<T: BackupApi> BackupApi for &T {
    fn describe_copy_job(&self, id: &CopyJobId) -> impl Future<Output = Result<CopyJob, AwsError>> + Send {
        (**self).describe_copy_job(id)
    }
    fn describe_backup_job(&self, id: &BackupJobId) -> impl Future<Output = Result<BackupJob, AwsError>> + Send {
        (**self).describe_backup_job(id)
    }
    fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<Lifecycle>, AwsError>> + Send {
        (**self).copy_action_lifecycle(rule, destination)
    }
    fn plan_copy_destinations(
        &self,
        rule: &PlanRuleRef,
    ) -> impl Future<Output = Result<Vec<BackupVaultArn>, AwsError>> + Send {
        (**self).plan_copy_destinations(rule)
    }
    fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).makes_continuous_backups(rule)
    }
    fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> impl Future<Output = Result<Option<RecoveryPoint>, AwsError>> + Send {
        (**self).describe_recovery_point(vault, recovery_point)
    }
    fn start_copy_job(&self, request: &StartCopyRequest) -> impl Future<Output = Result<CopyJobId, AwsError>> + Send {
        (**self).start_copy_job(request)
    }
    fn list_copy_jobs(
        &self,
        query: &CopyJobQuery,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Page<CopyJob>, AwsError>> + Send {
        (**self).list_copy_jobs(query, next_token)
    }
    fn count_failed_copy_jobs(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<std::collections::BTreeMap<String, u64>, AwsError>> + Send {
        (**self).count_failed_copy_jobs(since)
    }
    fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Page<BackupJob>, AwsError>> + Send {
        (**self).list_completed_backups(query, next_token)
    }
}

impl<T: TrackingStore> TrackingStore for &T {
    fn apply_state(&self, update: &StateUpdate) -> impl Future<Output = Result<StateChange, AwsError>> + Send {
        (**self).apply_state(update)
    }
    fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).fill_details(id, details)
    }
    fn record_started(&self, copy: &StartedCopy) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).record_started(copy)
    }
    fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).link_retry(failed, retry)
    }
    fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, AwsError>> + Send {
        (**self).claim(id, kind, owner, now, lease)
    }
    fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).renew_claim(id, kind, owner, now)
    }
    fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).finish_claim(id, kind, owner, outcome, details)
    }
    fn release_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).release_claim(id, kind, owner)
    }
    fn get_many(
        &self,
        ids: &[CopyJobId],
    ) -> impl Future<Output = Result<HashMap<CopyJobId, CopyJobRecord>, AwsError>> + Send {
        (**self).get_many(ids)
    }
    fn load_cursor(&self) -> impl Future<Output = Result<SweepCursor, AwsError>> + Send {
        (**self).load_cursor()
    }
    fn save_cursor(&self, cursor: &SweepCursor) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).save_cursor(cursor)
    }
    fn record_path_failure(
        &self,
        failure: &PathFailure,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<IncidentEntry, AwsError>> + Send {
        (**self).record_path_failure(failure, now)
    }
    fn incident(&self, key: &IncidentKey) -> impl Future<Output = Result<Option<Incident>, AwsError>> + Send {
        (**self).incident(key)
    }
    fn open_incidents(&self) -> impl Future<Output = Result<Vec<Incident>, AwsError>> + Send {
        (**self).open_incidents()
    }
    fn incidents_on(&self, path: &PathKey) -> impl Future<Output = Result<Vec<Incident>, AwsError>> + Send {
        (**self).incidents_on(path)
    }
    fn heal_incident(
        &self,
        id: &IncidentId,
        by: &HealedBy,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).heal_incident(id, by, at)
    }
    fn claim_incident(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<IncidentClaim, AwsError>> + Send {
        (**self).claim_incident(id, kind, owner, now, lease)
    }
    fn finish_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).finish_incident_claim(id, kind, owner)
    }
    fn release_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).release_incident_claim(id, kind, owner)
    }
    fn open_backfill(&self, backfill: &Backfill) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).open_backfill(backfill)
    }
    fn active_backfills(&self) -> impl Future<Output = Result<Vec<Backfill>, AwsError>> + Send {
        (**self).active_backfills()
    }
    fn claim_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<Backfill>, AwsError>> + Send {
        (**self).claim_backfill(episode, owner, now, lease)
    }
    fn release_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).release_backfill(episode, owner)
    }
    fn settle_backfill_slot(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        slot: u64,
        settled: &SlotSettled,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).settle_backfill_slot(episode, owner, slot, settled)
    }
    fn backfill_copy_ended(
        &self,
        episode_digest: &str,
        job: &CopyJobId,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).backfill_copy_ended(episode_digest, job)
    }
    fn finish_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).finish_backfill(episode, owner)
    }
    fn affected_slots(
        &self,
        episode: &IncidentId,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<(u64, AffectedPoint)>, AwsError>> + Send {
        (**self).affected_slots(episode, from, to)
    }
    fn mark_digest(
        &self,
        id: &IncidentId,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).mark_digest(id, previous, now)
    }
    fn claim_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).claim_backfill_vault(vault, owner, now, lease)
    }
    fn release_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send {
        (**self).release_backfill_vault(vault, owner)
    }
    fn note_path_copy(
        &self,
        path: &PathKey,
        job: &CopyJobId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).note_path_copy(path, job, at)
    }
    fn note_path_check(
        &self,
        path: &PathKey,
        at: DateTime<Utc>,
        verdict: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).note_path_check(path, at, verdict)
    }
    fn path_records(
        &self,
        paths: &[PathKey],
    ) -> impl Future<Output = Result<HashMap<PathKey, PathRecord>, AwsError>> + Send {
        (**self).path_records(paths)
    }
    fn done_on(&self, task: DailyTask) -> impl Future<Output = Result<Option<NaiveDate>, AwsError>> + Send {
        (**self).done_on(task)
    }
    fn mark_done_on(&self, task: DailyTask, day: NaiveDate) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).mark_done_on(task, day)
    }
    fn evidence_head(&self, scope: &str) -> impl Future<Output = Result<Option<EvidenceHead>, AwsError>> + Send {
        (**self).evidence_head(scope)
    }
    fn advance_evidence(
        &self,
        scope: &str,
        from: Option<NaiveDate>,
        to: &EvidenceHead,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).advance_evidence(scope, from, to)
    }
    fn refused(
        &self,
        tokens: &[IdempotencyToken],
    ) -> impl Future<Output = Result<HashSet<IdempotencyToken>, AwsError>> + Send {
        (**self).refused(tokens)
    }
    fn record_refusal(&self, refusal: &Refusal) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).record_refusal(refusal)
    }
}

impl<T: AlertSink> AlertSink for &T {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).publish(alert)
    }

    fn resolve(&self, resolution: &Resolution) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).resolve(resolution)
    }
    fn incident(&self, message: &IncidentMessage) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).incident(message)
    }
}

impl<T: RetryQueue> RetryQueue for &T {
    fn schedule(&self, request: &RetryRequest, delay: Duration) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).schedule(request, delay)
    }
}

impl<T: PathFactsApi> PathFactsApi for &T {
    fn caller_account(&self) -> impl Future<Output = Result<AccountId, AwsError>> + Send {
        (**self).caller_account()
    }
    fn describe_backup_vault(
        &self,
        vault: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<VaultFacts>, AwsError>> + Send {
        (**self).describe_backup_vault(vault)
    }
    fn get_backup_vault_access_policy(
        &self,
        vault: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send {
        (**self).get_backup_vault_access_policy(vault)
    }
    fn describe_global_settings(&self) -> impl Future<Output = Result<Option<bool>, AwsError>> + Send {
        (**self).describe_global_settings()
    }
    fn list_plan_copy_actions(
        &self,
        region: &str,
    ) -> impl Future<Output = Result<Vec<PlanCopyAction>, AwsError>> + Send {
        (**self).list_plan_copy_actions(region)
    }
    fn describe_key(&self, key: &KmsKeyArn) -> impl Future<Output = Result<Option<KeyFacts>, AwsError>> + Send {
        (**self).describe_key(key)
    }
    fn get_key_policy(&self, key: &KmsKeyArn) -> impl Future<Output = Result<String, AwsError>> + Send {
        (**self).get_key_policy(key)
    }
    fn list_grants(&self, key: &KmsKeyArn) -> impl Future<Output = Result<Vec<KeyGrant>, AwsError>> + Send {
        (**self).list_grants(key)
    }
    fn simulate_role(
        &self,
        request: &RoleSimulationRequest,
    ) -> impl Future<Output = Result<Option<Vec<Simulation>>, AwsError>> + Send {
        (**self).simulate_role(request)
    }
    fn describe_organization(&self) -> impl Future<Output = Result<Option<OrganizationFacts>, AwsError>> + Send {
        (**self).describe_organization()
    }
    fn list_organization_accounts(&self) -> impl Future<Output = Result<Vec<AccountId>, AwsError>> + Send {
        (**self).list_organization_accounts()
    }
}

impl<T: EvidenceSink> EvidenceSink for &T {
    fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).put_object(key, body, content_type)
    }
}
