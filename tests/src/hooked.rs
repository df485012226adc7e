//! Ports that do something before chosen calls — take their time, or stall until the test lets
//! them go on — and then answer as the port they wrap. Calls are named as the memory fakes count
//! them ([`Call`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;
use vaultwatch::domain::evidence::EvidenceHead;
use vaultwatch::domain::{
    AffectedPoint, Backfill, BackupJob, BackupJobId, BackupVaultArn, Claim, ClaimKind, ClaimOutcome, ClaimOwner,
    CopyDetails, CopyJob, CopyJobId, CopyJobRecord, HealedBy, IdempotencyToken, Incident, IncidentId, IncidentKey,
    Lifecycle, Ownership, PathFailure, PathKey, PathRecord, PlanRuleRef, RecoveryPoint, RecoveryPointArn, Refusal,
    SlotSettled, StartedCopy, StateChange, StateUpdate, SweepCursor, VaultName,
};
use vaultwatch::ports::memory::Call;
use vaultwatch::ports::{
    AwsError, BackupApi, BackupJobQuery, CopyJobQuery, DailyTask, IncidentClaim, IncidentClaimKind, IncidentEntry,
    Page, StartCopyRequest, TrackingStore,
};

/// What a [`Hooked`] port does around each call.
pub trait Hook: Send + Sync {
    fn before(&self, call: Call) -> impl Future<Output = ()> + Send;
    fn after(&self, _call: Call) {}
}

/// `inner`, with `hook` around each call.
pub struct Hooked<T, H> {
    pub inner: T,
    pub hook: H,
}

impl<T, H: Hook> Hooked<T, H> {
    async fn call<R>(&self, operation: Call, call: impl Future<Output = R>) -> R {
        self.hook.before(operation).await;
        let answer = call.await;
        self.hook.after(operation);
        answer
    }
}

/// Each call of `operations` waits `latency` on tokio's clock (a test pauses it: waiting costs
/// nothing), like a slow AWS.
pub struct Latency {
    pub latency: Duration,
    pub operations: &'static [Call],
}

impl Hook for Latency {
    async fn before(&self, operation: Call) {
        if self.operations.contains(&operation) {
            tokio::time::sleep(self.latency).await;
        }
    }
}

/// The first DescribeCopyJob waits until [`Stalled::resume`]: an invocation that stalls after
/// taking its claim, long enough for its lease to lapse and another to take it over.
/// [`Stalled::reached`] waits until the call has stalled (no polling: one-permit notifications).
#[derive(Default)]
pub struct Stall {
    stalled: AtomicBool,
    reached: Notify,
    resumed: Notify,
}

impl Hook for Stall {
    async fn before(&self, operation: Call) {
        if operation == Call::DescribeCopyJob && !self.stalled.swap(true, Ordering::SeqCst) {
            self.reached.notify_one();
            self.resumed.notified().await;
        }
    }
}

/// An AWS Backup (or store) whose first DescribeCopyJob stalls: see [`Stall`].
pub type Stalled<B> = Hooked<B, Stall>;

impl<B> Stalled<B> {
    pub fn new(inner: B) -> Self {
        Self { inner, hook: Stall::default() }
    }

    /// Returns once the first DescribeCopyJob has stalled. Panics if none has within 10 s: a
    /// handler that never calls it fails the test instead of leaving it waiting.
    pub async fn reached(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.hook.reached.notified())
            .await
            .expect("the first DescribeCopyJob was never called")
    }

    /// Lets the stalled call answer.
    pub fn resume(&self) {
        self.hook.resumed.notify_one();
    }
}

/// Counts how many StartCopyJob calls are in flight at once. Each call yields to the runtime before
/// it is answered, so calls made concurrently overlap and sequential ones do not.
#[derive(Default)]
pub struct Overlap {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Hook for Overlap {
    async fn before(&self, operation: Call) {
        if operation == Call::StartCopyJob {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
        }
    }

    fn after(&self, operation: Call) {
        if operation == Call::StartCopyJob {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// An AWS Backup that records how many StartCopyJob calls were in flight at once: see [`Overlap`].
pub type InFlight<B> = Hooked<B, Overlap>;

impl<B> InFlight<B> {
    pub fn new(inner: B) -> Self {
        Self { inner, hook: Overlap::default() }
    }

    /// The most StartCopyJob calls in flight at once so far.
    pub fn peak(&self) -> usize {
        self.hook.peak.load(Ordering::SeqCst)
    }
}

impl<T: BackupApi + Sync, H: Hook> BackupApi for Hooked<T, H> {
    async fn describe_copy_job(&self, id: &CopyJobId) -> Result<CopyJob, AwsError> {
        self.call(Call::DescribeCopyJob, self.inner.describe_copy_job(id)).await
    }
    async fn describe_backup_job(&self, id: &BackupJobId) -> Result<BackupJob, AwsError> {
        self.call(Call::DescribeBackupJob, self.inner.describe_backup_job(id)).await
    }
    async fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        self.call(Call::GetBackupPlan, self.inner.copy_action_lifecycle(rule, destination)).await
    }
    async fn plan_copy_destinations(&self, rule: &PlanRuleRef) -> Result<Vec<BackupVaultArn>, AwsError> {
        self.call(Call::GetBackupPlan, self.inner.plan_copy_destinations(rule)).await
    }
    async fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> Result<bool, AwsError> {
        self.call(Call::GetBackupPlan, self.inner.makes_continuous_backups(rule)).await
    }
    async fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> Result<Option<RecoveryPoint>, AwsError> {
        self.call(Call::DescribeRecoveryPoint, self.inner.describe_recovery_point(vault, recovery_point)).await
    }
    async fn start_copy_job(&self, request: &StartCopyRequest) -> Result<CopyJobId, AwsError> {
        self.call(Call::StartCopyJob, self.inner.start_copy_job(request)).await
    }
    async fn list_copy_jobs(&self, query: &CopyJobQuery, next_token: Option<&str>) -> Result<Page<CopyJob>, AwsError> {
        self.call(Call::ListCopyJobs, self.inner.list_copy_jobs(query, next_token)).await
    }
    async fn count_failed_copy_jobs(&self, since: DateTime<Utc>) -> Result<BTreeMap<String, u64>, AwsError> {
        self.call(Call::ListCopyJobSummaries, self.inner.count_failed_copy_jobs(since)).await
    }
    async fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> Result<Page<BackupJob>, AwsError> {
        self.call(Call::ListBackupJobs, self.inner.list_completed_backups(query, next_token)).await
    }
}

impl<T: TrackingStore + Sync, H: Hook> TrackingStore for Hooked<T, H> {
    async fn apply_state(&self, update: &StateUpdate) -> Result<StateChange, AwsError> {
        self.call(Call::ApplyState, self.inner.apply_state(update)).await
    }
    async fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> Result<(), AwsError> {
        self.call(Call::FillDetails, self.inner.fill_details(id, details)).await
    }
    async fn record_started(&self, copy: &StartedCopy) -> Result<(), AwsError> {
        self.call(Call::RecordStarted, self.inner.record_started(copy)).await
    }
    async fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> Result<(), AwsError> {
        self.call(Call::LinkRetry, self.inner.link_retry(failed, retry)).await
    }
    async fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, AwsError> {
        self.call(Call::Claim, self.inner.claim(id, kind, owner, now, lease)).await
    }
    async fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> Result<Ownership, AwsError> {
        self.call(Call::RenewClaim, self.inner.renew_claim(id, kind, owner, now)).await
    }
    async fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> Result<Ownership, AwsError> {
        self.call(Call::FinishClaim, self.inner.finish_claim(id, kind, owner, outcome, details)).await
    }
    async fn release_claim(&self, id: &CopyJobId, kind: ClaimKind, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.call(Call::ReleaseClaim, self.inner.release_claim(id, kind, owner)).await
    }
    async fn get_many(&self, ids: &[CopyJobId]) -> Result<HashMap<CopyJobId, CopyJobRecord>, AwsError> {
        self.call(Call::GetMany, self.inner.get_many(ids)).await
    }
    async fn load_cursor(&self) -> Result<SweepCursor, AwsError> {
        self.call(Call::LoadCursor, self.inner.load_cursor()).await
    }
    async fn save_cursor(&self, cursor: &SweepCursor) -> Result<(), AwsError> {
        self.call(Call::SaveCursor, self.inner.save_cursor(cursor)).await
    }
    async fn refused(&self, tokens: &[IdempotencyToken]) -> Result<HashSet<IdempotencyToken>, AwsError> {
        self.call(Call::Refused, self.inner.refused(tokens)).await
    }
    async fn record_refusal(&self, refusal: &Refusal) -> Result<(), AwsError> {
        self.call(Call::RecordRefusal, self.inner.record_refusal(refusal)).await
    }
    async fn record_path_failure(&self, failure: &PathFailure, now: DateTime<Utc>) -> Result<IncidentEntry, AwsError> {
        self.call(Call::RecordPathFailure, self.inner.record_path_failure(failure, now)).await
    }
    async fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>, AwsError> {
        self.call(Call::Incident, self.inner.incident(key)).await
    }
    async fn open_incidents(&self) -> Result<Vec<Incident>, AwsError> {
        self.call(Call::OpenIncidents, self.inner.open_incidents()).await
    }
    async fn incidents_on(&self, path: &PathKey) -> Result<Vec<Incident>, AwsError> {
        self.call(Call::IncidentsOn, self.inner.incidents_on(path)).await
    }
    async fn heal_incident(&self, id: &IncidentId, by: &HealedBy, at: DateTime<Utc>) -> Result<bool, AwsError> {
        self.call(Call::HealIncident, self.inner.heal_incident(id, by, at)).await
    }
    async fn claim_incident(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<IncidentClaim, AwsError> {
        self.call(Call::ClaimIncident, self.inner.claim_incident(id, kind, owner, now, lease)).await
    }
    async fn finish_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        self.call(Call::FinishIncidentClaim, self.inner.finish_incident_claim(id, kind, owner)).await
    }
    async fn release_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        self.call(Call::ReleaseIncidentClaim, self.inner.release_incident_claim(id, kind, owner)).await
    }
    async fn open_backfill(&self, backfill: &Backfill) -> Result<(), AwsError> {
        self.call(Call::OpenBackfill, self.inner.open_backfill(backfill)).await
    }
    async fn active_backfills(&self) -> Result<Vec<Backfill>, AwsError> {
        self.call(Call::ActiveBackfills, self.inner.active_backfills()).await
    }
    async fn claim_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Backfill>, AwsError> {
        self.call(Call::ClaimBackfill, self.inner.claim_backfill(episode, owner, now, lease)).await
    }
    async fn release_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.call(Call::ReleaseBackfill, self.inner.release_backfill(episode, owner)).await
    }
    async fn settle_backfill_slot(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        slot: u64,
        settled: &SlotSettled,
    ) -> Result<Ownership, AwsError> {
        self.call(Call::SettleBackfillSlot, self.inner.settle_backfill_slot(episode, owner, slot, settled)).await
    }
    async fn backfill_copy_ended(&self, episode_digest: &str, job: &CopyJobId) -> Result<(), AwsError> {
        self.call(Call::BackfillCopyEnded, self.inner.backfill_copy_ended(episode_digest, job)).await
    }
    async fn finish_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<bool, AwsError> {
        self.call(Call::FinishBackfill, self.inner.finish_backfill(episode, owner)).await
    }
    async fn affected_slots(
        &self,
        episode: &IncidentId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, AffectedPoint)>, AwsError> {
        self.call(Call::AffectedSlots, self.inner.affected_slots(episode, from, to)).await
    }
    async fn mark_digest(
        &self,
        id: &IncidentId,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, AwsError> {
        self.call(Call::MarkDigest, self.inner.mark_digest(id, previous, now)).await
    }

    async fn claim_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, AwsError> {
        self.call(Call::ClaimBackfillVault, self.inner.claim_backfill_vault(vault, owner, now, lease)).await
    }

    async fn release_backfill_vault(&self, vault: &BackupVaultArn, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.call(Call::ReleaseBackfillVault, self.inner.release_backfill_vault(vault, owner)).await
    }

    async fn note_path_copy(&self, path: &PathKey, job: &CopyJobId, at: DateTime<Utc>) -> Result<(), AwsError> {
        self.call(Call::NotePathCopy, self.inner.note_path_copy(path, job, at)).await
    }

    async fn note_path_check(&self, path: &PathKey, at: DateTime<Utc>, verdict: &str) -> Result<(), AwsError> {
        self.call(Call::NotePathCheck, self.inner.note_path_check(path, at, verdict)).await
    }

    async fn path_records(&self, paths: &[PathKey]) -> Result<HashMap<PathKey, PathRecord>, AwsError> {
        self.call(Call::PathRecords, self.inner.path_records(paths)).await
    }

    async fn done_on(&self, task: DailyTask) -> Result<Option<NaiveDate>, AwsError> {
        self.call(Call::DoneOn, self.inner.done_on(task)).await
    }

    async fn mark_done_on(&self, task: DailyTask, day: NaiveDate) -> Result<bool, AwsError> {
        self.call(Call::MarkDoneOn, self.inner.mark_done_on(task, day)).await
    }

    async fn evidence_head(&self, scope: &str) -> Result<Option<EvidenceHead>, AwsError> {
        self.call(Call::EvidenceHead, self.inner.evidence_head(scope)).await
    }

    async fn advance_evidence(
        &self,
        scope: &str,
        from: Option<NaiveDate>,
        to: &EvidenceHead,
    ) -> Result<bool, AwsError> {
        self.call(Call::AdvanceEvidence, self.inner.advance_evidence(scope, from, to)).await
    }
}
