//! In-memory implementations of the ports, with the same semantics as the AWS adapters (idempotency
//! tokens, conditional state moves, claims). For tests and for reasoning about the handlers.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use aws_lambda_events::cloudformation::CloudFormationCustomResourceResponse;

use super::RoleSimulationRequest;
use super::{
    AccountScope, AlertSink, AwsError, BackupApi, BackupJobQuery, Clock, CopyJobQuery, CustomResourceResponder,
    DailyTask, ErrorClass, EvidenceReader, EvidenceSink, IncidentClaim, IncidentClaimKind, IncidentEntry, Page,
    PathFactsApi, PlanCopyAction, ResponseError, RetryQueue, RetryRequest, StartCopyRequest, TrackingStore, Unreadable,
    VaultNotificationsApi,
};
use crate::domain::evidence::{EvidenceHead, StoredVersion};
use crate::domain::{
    AccountId, AffectedPoint, Alert, Backfill, BackupJob, BackupJobId, BackupVaultArn, Claim, ClaimKind, ClaimOutcome,
    ClaimOwner, Composite, CopyDetails, CopyJob, CopyJobId, CopyJobRecord, HealedBy, IamRoleArn, IdempotencyToken,
    Incident, IncidentId, IncidentKey, IncidentMessage, IncidentState, Lifecycle, Ownership, PathFailure, PathKey,
    PathRecord, PlanRuleRef, RecoveryPoint, RecoveryPointArn, Refusal, Resolution, SlotSettled, StartedCopy,
    StateChange, StateUpdate, StorageClass, SweepCursor, VaultFacts, VaultName, VaultNotifications,
};
use crate::domain::{KeyFacts, KeyGrant, KmsKeyArn, OrganizationFacts, SimulatedDecision, Simulation};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A [`Clock`] tests set and move; clones share one time.
#[derive(Clone, Debug)]
pub struct MemoryClock(std::sync::Arc<Mutex<DateTime<Utc>>>);

impl MemoryClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(std::sync::Arc::new(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *lock(&self.0) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *lock(&self.0) += by;
    }
}

impl Clock for MemoryClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// A call a fake counts and can be told to fail: AWS Backup's operations by their API names, the
/// tracking store's and the alert sink's by their port methods. Named, so a test cannot count or
/// fail a call that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    DescribeBackupJob,
    DescribeCopyJob,
    DescribeRecoveryPoint,
    GetBackupPlan,
    DescribeBackupVault,
    GetBackupVaultAccessPolicy,
    DescribeGlobalSettings,
    ListBackupPlans,
    GetCallerIdentity,
    DescribeKey,
    GetKeyPolicy,
    SimulatePrincipalPolicy,
    DescribeOrganization,
    ListAccounts,
    ListBackupJobs,
    ListCopyJobSummaries,
    ListCopyJobs,
    StartCopyJob,
    ApplyState,
    FillDetails,
    RecordStarted,
    LinkRetry,
    Claim,
    RenewClaim,
    FinishClaim,
    ReleaseClaim,
    GetMany,
    LoadCursor,
    SaveCursor,
    Refused,
    RecordRefusal,
    Publish,
    Resolve,
    RecordPathFailure,
    Incident,
    ClaimIncident,
    FinishIncidentClaim,
    ReleaseIncidentClaim,
    MarkDigest,
    PublishIncident,
    IncidentsOn,
    HealIncident,
    OpenIncidents,
    OpenBackfill,
    ActiveBackfills,
    ClaimBackfill,
    ReleaseBackfill,
    SettleBackfillSlot,
    BackfillCopyEnded,
    FinishBackfill,
    AffectedSlots,
    DoneOn,
    MarkDoneOn,
    NotePathCopy,
    NotePathCheck,
    ClaimBackfillVault,
    ReleaseBackfillVault,
    ListGrants,
    PathRecords,
    EvidenceHead,
    AdvanceEvidence,
    PutObject,
}

impl Call {
    /// As the adapters name the operation in their errors (AWS Backup's API name, the port method).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DescribeBackupJob => "DescribeBackupJob",
            Self::DescribeCopyJob => "DescribeCopyJob",
            Self::DescribeRecoveryPoint => "DescribeRecoveryPoint",
            Self::GetBackupPlan => "GetBackupPlan",
            Self::DescribeBackupVault => "DescribeBackupVault",
            Self::GetBackupVaultAccessPolicy => "GetBackupVaultAccessPolicy",
            Self::DescribeGlobalSettings => "DescribeGlobalSettings",
            Self::ListBackupPlans => "ListBackupPlans",
            Self::GetCallerIdentity => "GetCallerIdentity",
            Self::DescribeKey => "DescribeKey",
            Self::GetKeyPolicy => "GetKeyPolicy",
            Self::SimulatePrincipalPolicy => "SimulatePrincipalPolicy",
            Self::DescribeOrganization => "DescribeOrganization",
            Self::ListAccounts => "ListAccounts",
            Self::ListBackupJobs => "ListBackupJobs",
            Self::ListCopyJobSummaries => "ListCopyJobSummaries",
            Self::ListCopyJobs => "ListCopyJobs",
            Self::StartCopyJob => "StartCopyJob",
            Self::ApplyState => "apply_state",
            Self::FillDetails => "fill_details",
            Self::RecordStarted => "record_started",
            Self::LinkRetry => "link_retry",
            Self::Claim => "claim",
            Self::RenewClaim => "renew_claim",
            Self::FinishClaim => "finish_claim",
            Self::ReleaseClaim => "release_claim",
            Self::GetMany => "get_many",
            Self::LoadCursor => "load_cursor",
            Self::SaveCursor => "save_cursor",
            Self::Refused => "refused",
            Self::RecordRefusal => "record_refusal",
            Self::Publish => "publish",
            Self::Resolve => "resolve",
            Self::RecordPathFailure => "record_path_failure",
            Self::Incident => "incident",
            Self::ClaimIncident => "claim_incident",
            Self::FinishIncidentClaim => "finish_incident_claim",
            Self::ReleaseIncidentClaim => "release_incident_claim",
            Self::MarkDigest => "mark_digest",
            Self::PublishIncident => "publish_incident",
            Self::IncidentsOn => "incidents_on",
            Self::OpenIncidents => "open_incidents",
            Self::HealIncident => "heal_incident",
            Self::OpenBackfill => "open_backfill",
            Self::ActiveBackfills => "active_backfills",
            Self::ClaimBackfill => "claim_backfill",
            Self::ReleaseBackfill => "release_backfill",
            Self::SettleBackfillSlot => "settle_backfill_slot",
            Self::BackfillCopyEnded => "backfill_copy_ended",
            Self::FinishBackfill => "finish_backfill",
            Self::AffectedSlots => "affected_slots",
            Self::DoneOn => "done_on",
            Self::MarkDoneOn => "mark_done_on",
            Self::EvidenceHead => "evidence_head",
            Self::AdvanceEvidence => "advance_evidence",
            Self::PutObject => "PutObject",
            Self::NotePathCopy => "note_path_copy",
            Self::ClaimBackfillVault => "claim_backfill_vault",
            Self::ListGrants => "ListGrants",
            Self::ReleaseBackfillVault => "release_backfill_vault",
            Self::NotePathCheck => "note_path_check",
            Self::PathRecords => "path_records",
        }
    }
}

/// What the next calls of an operation do, in order: answer (`None`) or fail. Every fake injects
/// failures the same way.
#[derive(Default)]
struct Faults(Mutex<HashMap<Call, VecDeque<Option<AwsError>>>>);

impl Faults {
    fn queue(&self, call: Call, times: usize, error: AwsError) {
        lock(&self.0).entry(call).or_default().extend(std::iter::repeat_n(Some(error), times));
    }

    /// The next `times` calls (after those already queued) answer as usual.
    fn pass(&self, call: Call, times: usize) {
        lock(&self.0).entry(call).or_default().extend(std::iter::repeat_n(None, times));
    }

    /// The failure queued for this call, if any.
    fn check(&self, call: Call) -> Result<(), AwsError> {
        lock(&self.0).get_mut(&call).and_then(VecDeque::pop_front).flatten().map_or(Ok(()), Err)
    }
}

/// A transient error as an adapter would classify it, e.g. a throttled DynamoDB write.
pub fn transient_error(service: &'static str, operation: &'static str, code: &str) -> AwsError {
    AwsError {
        service,
        operation,
        class: ErrorClass::Transient,
        code: Some(code.to_owned()),
        message: format!("{code} (injected)"),
        no_answer: None,
    }
}

/// A throttled DynamoDB call: the transient error tests inject most often.
pub fn dynamodb_throttled(operation: &'static str) -> AwsError {
    transient_error("dynamodb", operation, "ProvisionedThroughputExceededException")
}

/// A permanent error of another service (KMS, IAM, Organizations) as its adapter would classify it.
pub fn service_error(service: &'static str, operation: &'static str, code: &str) -> AwsError {
    AwsError {
        service,
        operation,
        class: ErrorClass::Permanent,
        code: Some(code.to_owned()),
        message: format!("{code} (injected)"),
        no_answer: None,
    }
}

/// An error as the Backup adapter would classify it.
pub fn backup_error(operation: &'static str, class: ErrorClass, code: &str) -> AwsError {
    AwsError {
        service: "backup",
        operation,
        class,
        code: Some(code.to_owned()),
        message: format!("{code} (injected)"),
        no_answer: None,
    }
}

#[derive(Default)]
struct BackupState {
    copy_jobs: HashMap<CopyJobId, CopyJob>,
    /// Creation order, for listings.
    copy_order: Vec<CopyJobId>,
    backup_jobs: HashMap<BackupJobId, BackupJob>,
    copy_actions: HashMap<(String, String, BackupVaultArn), Option<Lifecycle>>,
    tokens: HashMap<String, (StartCopyRequest, CopyJobId)>,
    started: Vec<StartCopyRequest>,
    calls: BTreeMap<Call, usize>,
    next_id: usize,
    /// Recovery points by ARN (`None`: deleted); a point not listed is warm with no lifecycle.
    recovery_points: HashMap<RecoveryPointArn, Option<RecoveryPoint>>,
    /// Plan rules (plan id, rule id) with `EnableContinuousBackup`.
    continuous_rules: HashSet<(String, String)>,
    /// Roles StartCopyJob may be passed (`None`: any), like an IAM policy's PassRole grant.
    passable_roles: Option<Vec<IamRoleArn>>,
    /// Listed with the first page of ListCopyJobs: jobs an adapter could not read.
    unreadable: Vec<Unreadable>,
    unreadable_backups: Vec<Unreadable>,
    copy_job_queries: Vec<CopyJobQuery>,
    backup_job_queries: Vec<BackupJobQuery>,
    /// The account the caller's credentials belong to (`None`: [`CALLER_ACCOUNT`]).
    caller_account: Option<AccountId>,
}

/// The account of the memory fakes' caller unless a test says otherwise (the fixtures' account).
pub const CALLER_ACCOUNT: &str = "123456789012";

impl BackupState {
    fn caller(&self) -> AccountId {
        self.caller_account.clone().unwrap_or_else(|| AccountId::parse(CALLER_ACCOUNT).expect("12 digits"))
    }
}

/// AWS Backup in memory: describes what it was given, starts copy jobs with token semantics.
#[derive(Default)]
pub struct MemoryBackup {
    state: Mutex<BackupState>,
    faults: Faults,
}

impl MemoryBackup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls from now on come from this account (e.g. an organization's management account).
    pub fn set_caller_account(&self, account: AccountId) {
        lock(&self.state).caller_account = Some(account);
    }

    pub fn backup_job_queries(&self) -> Vec<BackupJobQuery> {
        lock(&self.state).backup_job_queries.clone()
    }

    pub fn add_copy_job(&self, job: CopyJob) {
        let mut state = lock(&self.state);
        if !state.copy_jobs.contains_key(&job.id) {
            state.copy_order.push(job.id.clone());
        }
        state.copy_jobs.insert(job.id.clone(), job);
    }

    pub fn add_backup_job(&self, job: BackupJob) {
        lock(&self.state).backup_jobs.insert(job.id.clone(), job);
    }

    /// A CopyAction of the plan rule, with or without its own lifecycle.
    pub fn add_copy_action(&self, rule: &PlanRuleRef, destination: &BackupVaultArn, lifecycle: Option<Lifecycle>) {
        let key = (rule.plan_id.to_string(), rule.rule_id.to_string(), destination.clone());
        lock(&self.state).copy_actions.insert(key, lifecycle);
    }

    /// Sets what DescribeRecoveryPoint reports for a point (`None`: it no longer exists).
    pub fn set_recovery_point(&self, arn: &RecoveryPointArn, point: Option<RecoveryPoint>) {
        lock(&self.state).recovery_points.insert(arn.clone(), point);
    }

    /// The plan rule makes continuous backups (`EnableContinuousBackup`).
    pub fn set_continuous_rule(&self, rule: &PlanRuleRef) {
        lock(&self.state).continuous_rules.insert((rule.plan_id.to_string(), rule.rule_id.to_string()));
    }

    /// Only these roles may be passed to StartCopyJob; others are refused as IAM refuses PassRole.
    pub fn set_passable_roles(&self, roles: Vec<IamRoleArn>) {
        lock(&self.state).passable_roles = Some(roles);
    }

    /// A copy job the adapter could not read, listed on the first page of ListCopyJobs.
    pub fn add_unreadable_copy_job(&self, unreadable: Unreadable) {
        lock(&self.state).unreadable.push(unreadable);
    }

    /// A backup job the adapter could not read, listed on the first page of ListBackupJobs.
    pub fn add_unreadable_backup_job(&self, unreadable: Unreadable) {
        lock(&self.state).unreadable_backups.push(unreadable);
    }

    /// The filters of every ListCopyJobs call, in order.
    pub fn copy_job_queries(&self) -> Vec<CopyJobQuery> {
        lock(&self.state).copy_job_queries.clone()
    }

    /// The next `times` calls of `operation` (e.g. "StartCopyJob") fail with `error`.
    pub fn fail_next(&self, call: Call, times: usize, error: AwsError) {
        self.faults.queue(call, times, error);
    }

    /// After `passing` calls of `call` answer as usual, the next `times` fail with `error`.
    pub fn fail_after(&self, call: Call, passing: usize, times: usize, error: AwsError) {
        self.faults.pass(call, passing);
        self.faults.queue(call, times, error);
    }

    /// Copy jobs actually created (duplicates answered through a token are not counted).
    pub fn started_copies(&self) -> Vec<StartCopyRequest> {
        lock(&self.state).started.clone()
    }

    pub fn calls(&self, call: Call) -> usize {
        lock(&self.state).calls.get(&call).copied().unwrap_or(0)
    }

    /// Every AWS Backup call made, whatever the operation.
    pub fn total_calls(&self) -> usize {
        lock(&self.state).calls.values().sum()
    }

    /// Sets a job's state and status message, as AWS Backup does when a copy runs.
    pub fn set_copy_state(&self, id: &CopyJobId, state: crate::domain::CopyJobState, message: Option<&str>) {
        if let Some(job) = lock(&self.state).copy_jobs.get_mut(id) {
            job.state = state;
            job.status_message = message.map(str::to_owned);
            job.completed_at = state.is_terminal().then(Utc::now);
        }
    }

    /// Every copy job, in creation order.
    pub fn copy_jobs(&self) -> Vec<CopyJob> {
        let state = lock(&self.state);
        state.copy_order.iter().map(|id| state.copy_jobs[id].clone()).collect()
    }

    pub fn copy_job(&self, id: &CopyJobId) -> Option<CopyJob> {
        lock(&self.state).copy_jobs.get(id).cloned()
    }

    fn enter(&self, call: Call) -> Result<std::sync::MutexGuard<'_, BackupState>, AwsError> {
        let mut state = lock(&self.state);
        *state.calls.entry(call).or_default() += 1;
        self.faults.check(call)?;
        Ok(state)
    }
}

fn not_found(operation: &'static str) -> AwsError {
    backup_error(operation, ErrorClass::Permanent, "ResourceNotFoundException")
}

/// One page of `items`, with the offset of the next page as its token.
fn page<T: Clone>(items: Vec<T>, max_results: Option<i32>, next_token: Option<&str>) -> Result<Page<T>, AwsError> {
    let size = usize::try_from(max_results.unwrap_or(1000)).unwrap_or(0);
    if !(1..=1000).contains(&size) {
        return Err(backup_error("List", ErrorClass::Permanent, "InvalidParameterValueException"));
    }
    let start: usize = match next_token {
        Some(token) => {
            token.parse().map_err(|_| backup_error("List", ErrorClass::Permanent, "InvalidParameterValueException"))?
        }
        None => 0,
    };
    let end = (start + size).min(items.len());
    let next_token = (end < items.len()).then(|| end.to_string());
    Ok(Page::of(items.get(start..end).unwrap_or_default().to_vec(), next_token))
}

impl BackupApi for MemoryBackup {
    async fn describe_copy_job(&self, id: &CopyJobId) -> Result<CopyJob, AwsError> {
        let state = self.enter(Call::DescribeCopyJob)?;
        state.copy_jobs.get(id).cloned().ok_or_else(|| not_found("DescribeCopyJob"))
    }

    async fn describe_backup_job(&self, id: &BackupJobId) -> Result<BackupJob, AwsError> {
        let state = self.enter(Call::DescribeBackupJob)?;
        state.backup_jobs.get(id).cloned().ok_or_else(|| not_found("DescribeBackupJob"))
    }

    async fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        let state = self.enter(Call::GetBackupPlan)?;
        let key = (rule.plan_id.to_string(), rule.rule_id.to_string(), destination.clone());
        Ok(state.copy_actions.get(&key).copied().flatten())
    }

    async fn plan_copy_destinations(&self, rule: &PlanRuleRef) -> Result<Vec<BackupVaultArn>, AwsError> {
        let state = self.enter(Call::GetBackupPlan)?;
        let (plan, rule) = (rule.plan_id.to_string(), rule.rule_id.to_string());
        let mut destinations: Vec<BackupVaultArn> = state
            .copy_actions
            .keys()
            .filter(|(p, r, _)| *p == plan && *r == rule)
            .map(|(_, _, destination)| destination.clone())
            .collect();
        destinations.sort();
        Ok(destinations)
    }

    async fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> Result<bool, AwsError> {
        let state = self.enter(Call::GetBackupPlan)?;
        Ok(state.continuous_rules.contains(&(rule.plan_id.to_string(), rule.rule_id.to_string())))
    }

    async fn describe_recovery_point(
        &self,
        _vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> Result<Option<RecoveryPoint>, AwsError> {
        let state = self.enter(Call::DescribeRecoveryPoint)?;
        Ok(state.recovery_points.get(recovery_point).cloned().unwrap_or_else(|| {
            Some(RecoveryPoint {
                arn: recovery_point.clone(),
                storage_class: Some(StorageClass::Warm),
                status: Some("COMPLETED".into()),
                moves_to_cold_at: None,
                deleted_at: None,
                created_at: None,
            })
        }))
    }

    async fn start_copy_job(&self, request: &StartCopyRequest) -> Result<CopyJobId, AwsError> {
        let mut state = self.enter(Call::StartCopyJob)?;
        if state.passable_roles.as_ref().is_some_and(|roles| !roles.contains(&request.iam_role)) {
            // IAM's wording (docs/aws-facts.md#startcopyjob-refusals).
            return Err(AwsError {
                message: format!(
                    "User: arn:aws:sts::123456789012:assumed-role/vaultwatch/fn is not authorized to perform: \
                     iam:PassRole on resource: {}",
                    request.iam_role
                ),
                ..backup_error("StartCopyJob", ErrorClass::Permanent, "AccessDeniedException")
            });
        }
        let refused = match state.recovery_points.get(&request.recovery_point) {
            _ if request.recovery_point.is_continuous() => true,
            Some(None) => true,
            Some(Some(point)) => point.not_copyable_at(Utc::now()).is_some(),
            None => false,
        };
        if refused {
            return Err(backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidRequestException"));
        }
        if let Some((earlier, id)) = state.tokens.get(request.token.as_str()) {
            return if earlier == request {
                Ok(id.clone())
            } else {
                Err(backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidRequestException"))
            };
        }
        state.next_id += 1;
        let id = CopyJobId::parse(&format!("COPY-{:04}", state.next_id)).expect("generated ids are valid");
        let source_vault_arn = BackupVaultArn::parse(&format!(
            "arn:aws:backup:us-east-1:123456789012:backup-vault:{}",
            request.source_vault
        ))
        .expect("vault names from requests are valid");
        state.copy_jobs.insert(
            id.clone(),
            CopyJob {
                id: id.clone(),
                state: crate::domain::CopyJobState::Created,
                status_message: None,
                source_recovery_point: request.recovery_point.clone(),
                source_vault: source_vault_arn,
                destination_vault: request.destination_vault.clone(),
                destination_recovery_point: None,
                // Left unset so tests prove retries do not depend on AWS echoing the lifecycle back.
                destination_lifecycle: None,
                resource: None,
                resource_type: None,
                iam_role: Some(request.iam_role.clone()),
                created_by: None,
                completed_at: None,
                message_category: None,
                composite: Composite::Single,
                initiated_by: None,
                destination: Default::default(),
            },
        );
        state.copy_order.push(id.clone());
        state.tokens.insert(request.token.as_str().to_owned(), (request.clone(), id.clone()));
        state.started.push(request.clone());
        Ok(id)
    }

    async fn list_copy_jobs(&self, query: &CopyJobQuery, next_token: Option<&str>) -> Result<Page<CopyJob>, AwsError> {
        let mut state = self.enter(Call::ListCopyJobs)?;
        state.copy_job_queries.push(query.clone());
        let caller = state.caller();
        let jobs: Vec<CopyJob> = state
            .copy_order
            .iter()
            .map(|id| &state.copy_jobs[id])
            .filter(|job| query.state.is_none_or(|wanted| job.state == wanted))
            .filter(|job| query.destination_vault.as_ref().is_none_or(|d| &job.destination_vault == d))
            .filter(|job| query.source_recovery_point.as_ref().is_none_or(|rp| &job.source_recovery_point == rp))
            .filter(|job| job.source_vault.account() == query.account.as_ref().unwrap_or(&caller).as_str())
            .cloned()
            .collect();
        let mut listed = page(jobs, query.max_results, next_token)?;
        if next_token.is_none() {
            listed.unreadable = state.unreadable.clone();
        }
        Ok(listed)
    }

    async fn count_failed_copy_jobs(&self, _since: DateTime<Utc>) -> Result<BTreeMap<String, u64>, AwsError> {
        let state = self.enter(Call::ListCopyJobSummaries)?;
        let mut counts = BTreeMap::new();
        for job in state.copy_jobs.values().filter(|job| job.state == crate::domain::CopyJobState::Failed) {
            *counts.entry(job.source_vault.account().to_owned()).or_default() += 1;
        }
        Ok(counts)
    }

    async fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> Result<Page<BackupJob>, AwsError> {
        let mut state = self.enter(Call::ListBackupJobs)?;
        state.backup_job_queries.push(query.clone());
        let vault = query.vault.as_ref();
        let caller = state.caller();
        let in_scope = |job: &BackupJob| match &query.accounts {
            AccountScope::Caller => job.vault.account() == caller.as_str(),
            AccountScope::Account(account) => job.vault.account() == account.as_str(),
            AccountScope::Organization => true,
        };
        let mut jobs: Vec<BackupJob> = state
            .backup_jobs
            .values()
            .filter(|job| job.state == crate::domain::BackupJobState::Completed)
            .filter(|job| vault.is_none_or(|vault| &job.vault.vault_name() == vault))
            .filter(|job| in_scope(job))
            .cloned()
            .collect();
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut listed = page(jobs, Some(1000), next_token)?;
        if next_token.is_none() {
            listed.unreadable = state.unreadable_backups.clone();
        }
        Ok(listed)
    }
}

#[derive(Clone, Debug, Default)]
struct StoredRecord {
    record: CopyJobRecord,
    claims: HashMap<ClaimKind, StoredClaim>,
}

/// A claim as the table keeps it: pending or done, when it was taken (or last renewed), and by whom
/// (none on a claim written before claims had owners).
#[derive(Clone, Debug)]
struct StoredClaim {
    done: bool,
    at: DateTime<Utc>,
    owner: Option<ClaimOwner>,
}

impl StoredClaim {
    fn pending_for(&self, owner: &ClaimOwner) -> bool {
        !self.done && self.owner.as_ref() == Some(owner)
    }
}

impl StoredRecord {
    /// The record as a reader sees it, with the claim bookkeeping folded in.
    fn view(&self) -> CopyJobRecord {
        let done = |kind| self.claims.get(&kind).is_some_and(|claim| claim.done);
        CopyJobRecord {
            failure_handled: done(ClaimKind::FailureHandling),
            resolution_published: done(ClaimKind::Resolution),
            ..self.record.clone()
        }
    }
}

/// The tracking table in memory.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<CopyJobId, StoredRecord>>,
    faults: Faults,
    cursor: Mutex<SweepCursor>,
    refusals: Mutex<HashMap<IdempotencyToken, Refusal>>,
    incidents: Mutex<Incidents>,
    daily: Mutex<HashMap<DailyTask, NaiveDate>>,
    evidence: Mutex<HashMap<String, EvidenceHead>>,
    paths: Mutex<HashMap<PathKey, PathRecord>>,
    backfill_vaults: Mutex<HashMap<BackupVaultArn, StoredClaim>>,
    calls: Mutex<BTreeMap<Call, usize>>,
}

/// Incidents in memory: every episode, each key's current one, and the backfills.
#[derive(Default)]
struct Incidents {
    episodes: HashMap<IncidentId, StoredIncident>,
    current: HashMap<IncidentKey, IncidentId>,
    backfills: BTreeMap<String, StoredBackfill>,
}

struct StoredBackfill {
    backfill: Backfill,
    active: bool,
    claim: Option<StoredClaim>,
}

struct StoredIncident {
    incident: Incident,
    points: HashSet<RecoveryPointArn>,
    /// Slot `n` (from 1) is `slots[n - 1]`.
    slots: Vec<AffectedPoint>,
    claims: HashMap<IncidentClaimKind, StoredClaim>,
}

impl Incidents {
    fn current(&mut self, id: &IncidentId) -> Option<&mut StoredIncident> {
        if self.current.get(&id.key) != Some(id) {
            return None;
        }
        self.episodes.get_mut(id)
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, id: &CopyJobId) -> Option<CopyJobRecord> {
        lock(&self.records).get(id).map(StoredRecord::view)
    }

    /// The routed copies recorded as refused.
    pub fn refusals(&self) -> Vec<Refusal> {
        lock(&self.refusals).values().cloned().collect()
    }

    pub fn records(&self) -> Vec<CopyJobRecord> {
        lock(&self.records).values().map(StoredRecord::view).collect()
    }

    /// How often a store operation was called (e.g. "get_many").
    pub fn calls(&self, call: Call) -> usize {
        lock(&self.calls).get(&call).copied().unwrap_or(0)
    }

    /// Every store call made (each is one DynamoDB request in the adapter, but for a contended
    /// claim, which reads the item back, and a batch read of more than 100 keys).
    pub fn total_calls(&self) -> usize {
        lock(&self.calls).values().sum()
    }

    /// The next `times` calls of `operation` (e.g. "claim") fail with `error`.
    pub fn fail_next(&self, call: Call, times: usize, error: AwsError) {
        self.faults.queue(call, times, error);
    }

    /// After `passing` calls of `call` answer as usual, the next `times` fail with `error` (to fail
    /// one read of several in a run).
    pub fn fail_after(&self, call: Call, passing: usize, times: usize, error: AwsError) {
        self.faults.pass(call, passing);
        self.faults.queue(call, times, error);
    }

    /// Every incident episode, in the order they opened.
    pub fn incidents(&self) -> Vec<Incident> {
        let mut incidents: Vec<Incident> =
            lock(&self.incidents).episodes.values().map(|stored| stored.incident.clone()).collect();
        incidents.sort_by_key(|incident| incident.id.opened_at);
        incidents
    }

    /// The affected recovery points of an episode, in slot order.
    pub fn affected_points(&self, id: &IncidentId) -> Vec<AffectedPoint> {
        lock(&self.incidents).episodes.get(id).map(|stored| stored.slots.clone()).unwrap_or_default()
    }

    /// A pending claim taken at `at` as the version before claims had owners wrote it: no owner.
    pub fn seed_ownerless_claim(&self, id: &CopyJobId, kind: ClaimKind, at: DateTime<Utc>) {
        self.with_record(id, |stored| stored.claims.insert(kind, StoredClaim { done: false, at, owner: None }));
    }

    fn check(&self, call: Call) -> Result<(), AwsError> {
        *lock(&self.calls).entry(call).or_default() += 1;
        self.faults.check(call)
    }

    fn with_record<T>(&self, id: &CopyJobId, change: impl FnOnce(&mut StoredRecord) -> T) -> T {
        let mut records = lock(&self.records);
        let stored = records.entry(id.clone()).or_default();
        stored.record.id.get_or_insert_with(|| id.clone());
        change(stored)
    }
}

impl TrackingStore for MemoryStore {
    async fn apply_state(&self, update: &StateUpdate) -> Result<StateChange, AwsError> {
        self.check(Call::ApplyState)?;
        Ok(self.with_record(&update.id, |stored| {
            let record = &mut stored.record;
            if record.state.is_some_and(|current| current.rank() >= update.state.rank()) {
                return StateChange::Stale(stored.view());
            }
            record.state = Some(update.state);
            if update.status_message.is_some() {
                record.status_message = update.status_message.clone();
            }
            record.details.fill_from(&update.details);
            StateChange::Applied(stored.view())
        }))
    }

    async fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> Result<(), AwsError> {
        self.check(Call::FillDetails)?;
        self.with_record(id, |stored| stored.record.details.fill_from(details));
        Ok(())
    }

    async fn record_started(&self, copy: &StartedCopy) -> Result<(), AwsError> {
        self.check(Call::RecordStarted)?;
        self.with_record(&copy.id, |stored| {
            let record = &mut stored.record;
            record.details.fill_from(&copy.details);
            record.lineage = Some(copy.lineage.clone());
            record.lifecycle = record.lifecycle.or(copy.lifecycle);
            record.backfill_of = record.backfill_of.take().or_else(|| copy.backfill_of.clone());
            record.state.get_or_insert(crate::domain::CopyJobState::Created);
        });
        Ok(())
    }

    async fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> Result<(), AwsError> {
        self.check(Call::LinkRetry)?;
        self.with_record(failed, |stored| stored.record.retried_by = Some(retry.clone()));
        Ok(())
    }

    async fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, AwsError> {
        self.check(Call::Claim)?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Ok(self.with_record(id, |stored| match stored.claims.get(&kind) {
            Some(claim) if claim.done => Claim::AlreadyDone,
            Some(claim) if claim.at + lease > now => Claim::InProgress,
            _ => {
                stored.claims.insert(kind, StoredClaim { done: false, at: now, owner: Some(owner.clone()) });
                Claim::Acquired(Box::new(stored.view()))
            }
        }))
    }

    async fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> Result<Ownership, AwsError> {
        self.check(Call::RenewClaim)?;
        Ok(self.with_record(id, |stored| match stored.claims.get_mut(&kind) {
            Some(claim) if claim.pending_for(owner) => {
                claim.at = now;
                Ownership::Held
            }
            _ => Ownership::Lost,
        }))
    }

    async fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> Result<Ownership, AwsError> {
        self.check(Call::FinishClaim)?;
        Ok(self.with_record(id, |stored| {
            let Some(claim) = stored.claims.get_mut(&kind).filter(|claim| claim.owner.as_ref() == Some(owner)) else {
                return Ownership::Lost;
            };
            claim.done = true;
            if let Some(details) = details {
                stored.record.details.fill_from(details);
            }
            stored.record.outcome = outcome.clone();
            Ownership::Held
        }))
    }

    async fn release_claim(&self, id: &CopyJobId, kind: ClaimKind, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.check(Call::ReleaseClaim)?;
        Ok(self.with_record(id, |stored| {
            if !stored.claims.get(&kind).is_some_and(|claim| claim.pending_for(owner)) {
                return Ownership::Lost;
            }
            stored.claims.remove(&kind);
            Ownership::Held
        }))
    }

    async fn get_many(&self, ids: &[CopyJobId]) -> Result<HashMap<CopyJobId, CopyJobRecord>, AwsError> {
        self.check(Call::GetMany)?;
        let records = lock(&self.records);
        Ok(ids.iter().filter_map(|id| records.get(id).map(|stored| (id.clone(), stored.view()))).collect())
    }

    async fn load_cursor(&self) -> Result<SweepCursor, AwsError> {
        self.check(Call::LoadCursor)?;
        Ok(lock(&self.cursor).clone())
    }

    async fn save_cursor(&self, cursor: &SweepCursor) -> Result<(), AwsError> {
        self.check(Call::SaveCursor)?;
        *lock(&self.cursor) = cursor.clone();
        Ok(())
    }

    async fn refused(&self, tokens: &[IdempotencyToken]) -> Result<HashSet<IdempotencyToken>, AwsError> {
        self.check(Call::Refused)?;
        let refusals = lock(&self.refusals);
        Ok(tokens.iter().filter(|token| refusals.contains_key(*token)).cloned().collect())
    }

    async fn record_refusal(&self, refusal: &Refusal) -> Result<(), AwsError> {
        self.check(Call::RecordRefusal)?;
        lock(&self.refusals).entry(refusal.token.clone()).or_insert_with(|| refusal.clone());
        Ok(())
    }

    async fn record_path_failure(&self, failure: &PathFailure, now: DateTime<Utc>) -> Result<IncidentEntry, AwsError> {
        self.check(Call::RecordPathFailure)?;
        let key = failure.key();
        let mut incidents = lock(&self.incidents);
        let open = incidents.current.get(&key).filter(|id| incidents.episodes[*id].incident.is_open()).cloned();
        let (id, opened) = match open {
            Some(id) => (id, false),
            None => {
                let id = IncidentId { key: key.clone(), opened_at: now };
                let incident = Incident {
                    id: id.clone(),
                    path: failure.path.clone(),
                    status_message: failure.status_message.clone(),
                    message_category: failure.message_category.clone(),
                    first: failure.point.clone(),
                    destination: failure.destination.clone(),
                    check_fix: failure.check_fix.clone(),
                    affected: 0,
                    state: IncidentState::Open,
                    alerted: false,
                    healed_told: false,
                    last_digest_at: None,
                };
                let stored =
                    StoredIncident { incident, points: HashSet::new(), slots: Vec::new(), claims: HashMap::new() };
                incidents.episodes.insert(id.clone(), stored);
                incidents.current.insert(key, id.clone());
                (id, true)
            }
        };
        let stored = incidents.episodes.get_mut(&id).expect("just found or inserted");
        let Some(point) = &failure.point else {
            return Ok(IncidentEntry { incident: stored.incident.clone(), opened, added: false });
        };
        let added = stored.points.insert(point.recovery_point.clone());
        if added {
            stored.slots.push(point.clone());
            stored.incident.affected += 1;
            // An incident the path check opened gets its first affected point from the first failure.
            stored.incident.first.get_or_insert_with(|| point.clone());
        }
        Ok(IncidentEntry { incident: stored.incident.clone(), opened, added })
    }

    async fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>, AwsError> {
        self.check(Call::Incident)?;
        let incidents = lock(&self.incidents);
        Ok(incidents.current.get(key).map(|id| incidents.episodes[id].incident.clone()))
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, AwsError> {
        self.check(Call::OpenIncidents)?;
        let incidents = lock(&self.incidents);
        let mut open: Vec<Incident> = incidents
            .current
            .values()
            .map(|id| incidents.episodes[id].incident.clone())
            .filter(Incident::is_open)
            .collect();
        open.sort_by_key(|incident| incident.id.opened_at);
        Ok(open)
    }

    async fn incidents_on(&self, path: &PathKey) -> Result<Vec<Incident>, AwsError> {
        self.check(Call::IncidentsOn)?;
        let incidents = lock(&self.incidents);
        Ok(incidents
            .current
            .iter()
            .filter(|(key, _)| key.path == *path)
            .map(|(_, id)| incidents.episodes[id].incident.clone())
            .collect())
    }

    async fn heal_incident(&self, id: &IncidentId, by: &HealedBy, at: DateTime<Utc>) -> Result<bool, AwsError> {
        self.check(Call::HealIncident)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.current(id).filter(|stored| stored.incident.is_open()) else { return Ok(false) };
        stored.incident.state = IncidentState::Healed { at, by: by.clone() };
        Ok(true)
    }

    async fn claim_incident(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<IncidentClaim, AwsError> {
        self.check(Call::ClaimIncident)?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.current(id) else { return Ok(IncidentClaim::Gone) };
        Ok(match stored.claims.get(&kind) {
            Some(claim) if claim.done => IncidentClaim::AlreadyDone,
            Some(claim) if claim.at + lease > now => IncidentClaim::InProgress,
            _ => {
                stored.claims.insert(kind, StoredClaim { done: false, at: now, owner: Some(owner.clone()) });
                IncidentClaim::Acquired(Box::new(stored.incident.clone()))
            }
        })
    }

    async fn finish_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        self.check(Call::FinishIncidentClaim)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.episodes.get_mut(id) else { return Ok(Ownership::Lost) };
        match stored.claims.get_mut(&kind).filter(|claim| claim.owner.as_ref() == Some(owner)) {
            Some(claim) => {
                claim.done = true;
                match kind {
                    IncidentClaimKind::Opened => stored.incident.alerted = true,
                    IncidentClaimKind::Healed => stored.incident.healed_told = true,
                }
                Ok(Ownership::Held)
            }
            None => Ok(Ownership::Lost),
        }
    }

    async fn release_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        self.check(Call::ReleaseIncidentClaim)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.episodes.get_mut(id) else { return Ok(Ownership::Lost) };
        if stored.claims.get(&kind).is_some_and(|claim| claim.pending_for(owner)) {
            stored.claims.remove(&kind);
            return Ok(Ownership::Held);
        }
        Ok(Ownership::Lost)
    }

    async fn open_backfill(&self, backfill: &Backfill) -> Result<(), AwsError> {
        self.check(Call::OpenBackfill)?;
        lock(&self.incidents).backfills.entry(backfill.episode.digest()).or_insert_with(|| StoredBackfill {
            backfill: backfill.clone(),
            active: true,
            claim: None,
        });
        Ok(())
    }

    async fn active_backfills(&self) -> Result<Vec<Backfill>, AwsError> {
        self.check(Call::ActiveBackfills)?;
        let incidents = lock(&self.incidents);
        Ok(incidents.backfills.values().filter(|stored| stored.active).map(|stored| stored.backfill.clone()).collect())
    }

    async fn claim_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Backfill>, AwsError> {
        self.check(Call::ClaimBackfill)?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.backfills.get_mut(&episode.digest()) else { return Ok(None) };
        if stored.claim.as_ref().is_some_and(|claim| claim.at + lease > now) {
            return Ok(None);
        }
        stored.claim = Some(StoredClaim { done: false, at: now, owner: Some(owner.clone()) });
        Ok(Some(stored.backfill.clone()))
    }

    async fn release_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.check(Call::ReleaseBackfill)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.backfills.get_mut(&episode.digest()) else { return Ok(Ownership::Lost) };
        if stored.claim.as_ref().is_some_and(|claim| claim.owner.as_ref() == Some(owner)) {
            stored.claim = None;
            return Ok(Ownership::Held);
        }
        Ok(Ownership::Lost)
    }

    async fn settle_backfill_slot(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        slot: u64,
        settled: &SlotSettled,
    ) -> Result<Ownership, AwsError> {
        self.check(Call::SettleBackfillSlot)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.backfills.get_mut(&episode.digest()) else { return Ok(Ownership::Lost) };
        let ours = stored.claim.as_ref().is_some_and(|claim| claim.owner.as_ref() == Some(owner));
        if !ours || stored.backfill.next_slot != slot {
            return Ok(Ownership::Lost);
        }
        stored.backfill = stored.backfill.after(settled);
        Ok(Ownership::Held)
    }

    async fn backfill_copy_ended(&self, episode_digest: &str, job: &CopyJobId) -> Result<(), AwsError> {
        self.check(Call::BackfillCopyEnded)?;
        if let Some(stored) = lock(&self.incidents).backfills.get_mut(episode_digest) {
            stored.backfill.in_flight.remove(job);
        }
        Ok(())
    }

    async fn finish_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<bool, AwsError> {
        self.check(Call::FinishBackfill)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.backfills.get_mut(&episode.digest()) else { return Ok(false) };
        let ours = stored.claim.as_ref().is_some_and(|claim| claim.owner.as_ref() == Some(owner));
        if !ours || stored.backfill.told {
            return Ok(false);
        }
        stored.backfill.told = true;
        stored.active = false;
        Ok(true)
    }

    async fn affected_slots(
        &self,
        episode: &IncidentId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, AffectedPoint)>, AwsError> {
        self.check(Call::AffectedSlots)?;
        let incidents = lock(&self.incidents);
        let Some(stored) = incidents.episodes.get(episode) else { return Ok(Vec::new()) };
        Ok((from..=to)
            .filter_map(|slot| {
                let index = usize::try_from(slot.checked_sub(1)?).ok()?;
                Some((slot, stored.slots.get(index)?.clone()))
            })
            .collect())
    }

    async fn mark_digest(
        &self,
        id: &IncidentId,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, AwsError> {
        self.check(Call::MarkDigest)?;
        let mut incidents = lock(&self.incidents);
        let Some(stored) = incidents.current(id).filter(|stored| stored.incident.is_open()) else { return Ok(false) };
        if stored.incident.last_digest_at != previous {
            return Ok(false);
        }
        stored.incident.last_digest_at = Some(now);
        Ok(true)
    }

    async fn claim_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, AwsError> {
        self.check(Call::ClaimBackfillVault)?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut vaults = lock(&self.backfill_vaults);
        if vaults.get(vault).is_some_and(|claim| claim.at + lease > now) {
            return Ok(false);
        }
        vaults.insert(vault.clone(), StoredClaim { done: false, at: now, owner: Some(owner.clone()) });
        Ok(true)
    }

    async fn release_backfill_vault(&self, vault: &BackupVaultArn, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        self.check(Call::ReleaseBackfillVault)?;
        let mut vaults = lock(&self.backfill_vaults);
        if vaults.get(vault).is_some_and(|claim| claim.owner.as_ref() == Some(owner)) {
            vaults.remove(vault);
            return Ok(Ownership::Held);
        }
        Ok(Ownership::Lost)
    }

    async fn note_path_copy(&self, path: &PathKey, job: &CopyJobId, at: DateTime<Utc>) -> Result<(), AwsError> {
        self.check(Call::NotePathCopy)?;
        let mut paths = lock(&self.paths);
        let record = paths.entry(path.clone()).or_default();
        if record.last_completed.as_ref().is_none_or(|(_, noted)| *noted < at) {
            record.last_completed = Some((job.clone(), at));
        }
        Ok(())
    }

    async fn note_path_check(&self, path: &PathKey, at: DateTime<Utc>, verdict: &str) -> Result<(), AwsError> {
        self.check(Call::NotePathCheck)?;
        lock(&self.paths).entry(path.clone()).or_default().last_check = Some((at, verdict.to_owned()));
        Ok(())
    }

    async fn path_records(&self, paths: &[PathKey]) -> Result<HashMap<PathKey, PathRecord>, AwsError> {
        self.check(Call::PathRecords)?;
        let records = lock(&self.paths);
        Ok(paths.iter().filter_map(|path| Some((path.clone(), records.get(path)?.clone()))).collect())
    }

    async fn done_on(&self, task: DailyTask) -> Result<Option<NaiveDate>, AwsError> {
        self.check(Call::DoneOn)?;
        Ok(lock(&self.daily).get(&task).copied())
    }

    async fn mark_done_on(&self, task: DailyTask, day: NaiveDate) -> Result<bool, AwsError> {
        self.check(Call::MarkDoneOn)?;
        let mut daily = lock(&self.daily);
        if daily.get(&task).is_some_and(|done| *done >= day) {
            return Ok(false);
        }
        daily.insert(task, day);
        Ok(true)
    }

    async fn evidence_head(&self, scope: &str) -> Result<Option<EvidenceHead>, AwsError> {
        self.check(Call::EvidenceHead)?;
        Ok(lock(&self.evidence).get(scope).cloned())
    }

    async fn advance_evidence(
        &self,
        scope: &str,
        from: Option<NaiveDate>,
        to: &EvidenceHead,
    ) -> Result<bool, AwsError> {
        self.check(Call::AdvanceEvidence)?;
        let mut heads = lock(&self.evidence);
        if heads.get(scope).map(|head| head.day) != from {
            return Ok(false);
        }
        heads.insert(scope.to_owned(), to.clone());
        Ok(true)
    }
}

/// An evidence bucket in memory, versioned as S3 is: a put adds a version, a delete without a
/// version adds a delete marker.
#[derive(Default)]
pub struct MemoryEvidence {
    /// Per key, its versions oldest first (`None`: a delete marker).
    objects: Mutex<BTreeMap<String, Vec<Option<Vec<u8>>>>>,
    faults: Faults,
    /// The keys read (GetObject), in order.
    reads: Mutex<Vec<String>>,
}

impl MemoryEvidence {
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest content of every key that has one.
    pub fn latest(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.objects)
            .iter()
            .filter_map(|(key, versions)| Some((key.clone(), versions.last()?.clone()?)))
            .collect()
    }

    /// How many versions (delete markers included) each key has.
    pub fn version_counts(&self) -> BTreeMap<String, usize> {
        lock(&self.objects).iter().map(|(key, versions)| (key.clone(), versions.len())).collect()
    }

    /// The keys GetObject read, in order.
    pub fn reads(&self) -> Vec<String> {
        lock(&self.reads).clone()
    }

    /// A delete without a version id: a delete marker.
    pub fn delete(&self, key: &str) {
        lock(&self.objects).entry(key.to_owned()).or_default().push(None);
    }

    /// A put from outside vaultwatch (an edit).
    pub fn overwrite(&self, key: &str, body: &[u8]) {
        lock(&self.objects).entry(key.to_owned()).or_default().push(Some(body.to_vec()));
    }

    /// The next `times` puts fail with `error` (after those already queued).
    pub fn fail_next(&self, times: usize, error: AwsError) {
        self.faults.queue(Call::PutObject, times, error);
    }

    /// The next `times` puts (after those already queued) succeed.
    pub fn pass_next(&self, times: usize) {
        self.faults.pass(Call::PutObject, times);
    }
}

impl EvidenceSink for MemoryEvidence {
    async fn put_object(&self, key: &str, body: Vec<u8>, _content_type: &'static str) -> Result<(), AwsError> {
        self.faults.check(Call::PutObject)?;
        lock(&self.objects).entry(key.to_owned()).or_default().push(Some(body));
        Ok(())
    }
}

impl EvidenceReader for MemoryEvidence {
    async fn list_versions(&self, prefix: &str) -> Result<Vec<StoredVersion>, AwsError> {
        let objects = lock(&self.objects);
        Ok(objects
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .flat_map(|(key, versions)| {
                versions.iter().enumerate().map(move |(n, version)| StoredVersion {
                    key: key.clone(),
                    version_id: n.to_string(),
                    is_latest: n + 1 == versions.len(),
                    delete_marker: version.is_none(),
                })
            })
            .collect())
    }

    async fn get_version(&self, key: &str, version_id: &str) -> Result<Vec<u8>, AwsError> {
        lock(&self.reads).push(key.to_owned());
        let objects = lock(&self.objects);
        let version = version_id.parse::<usize>().ok();
        objects
            .get(key)
            .and_then(|versions| versions.get(version?)?.clone())
            .ok_or_else(|| service_error("s3", "GetObject", "NoSuchVersion"))
    }
}

/// Alerts in memory.
#[derive(Default)]
pub struct MemoryAlerts {
    published: Mutex<Vec<Alert>>,
    resolved: Mutex<Vec<Resolution>>,
    incidents: Mutex<Vec<IncidentMessage>>,
    faults: Faults,
}

impl MemoryAlerts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn published(&self) -> Vec<Alert> {
        lock(&self.published).clone()
    }

    /// The incident messages published, in order.
    pub fn incident_messages(&self) -> Vec<IncidentMessage> {
        lock(&self.incidents).clone()
    }

    /// The "resolved" messages published, in order.
    pub fn resolutions(&self) -> Vec<Resolution> {
        lock(&self.resolved).clone()
    }

    /// The next `times` calls of `operation` ("publish", "resolve") fail with `error`.
    pub fn fail_next(&self, call: Call, times: usize, error: AwsError) {
        self.faults.queue(call, times, error);
    }
}

impl AlertSink for MemoryAlerts {
    async fn publish(&self, alert: &Alert) -> Result<(), AwsError> {
        self.faults.check(Call::Publish)?;
        lock(&self.published).push(alert.clone());
        Ok(())
    }

    async fn resolve(&self, resolution: &Resolution) -> Result<(), AwsError> {
        self.faults.check(Call::Resolve)?;
        lock(&self.resolved).push(resolution.clone());
        Ok(())
    }

    async fn incident(&self, message: &IncidentMessage) -> Result<(), AwsError> {
        self.faults.check(Call::PublishIncident)?;
        lock(&self.incidents).push(message.clone());
        Ok(())
    }
}

/// The delay queue in memory: tests take the scheduled requests and deliver them by hand.
#[derive(Default)]
pub struct MemoryQueue {
    scheduled: Mutex<Vec<(RetryRequest, Duration)>>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn scheduled(&self) -> Vec<(RetryRequest, Duration)> {
        lock(&self.scheduled).clone()
    }

    /// Removes and returns what was scheduled, as a queue consumer would.
    pub fn drain(&self) -> Vec<(RetryRequest, Duration)> {
        std::mem::take(&mut *lock(&self.scheduled))
    }
}

impl RetryQueue for MemoryQueue {
    async fn schedule(&self, request: &RetryRequest, delay: Duration) -> Result<(), AwsError> {
        lock(&self.scheduled).push((request.clone(), delay));
        Ok(())
    }
}

/// Distinct destination vaults of a set of start requests, for assertions.
pub fn destinations_of(requests: &[StartCopyRequest]) -> HashSet<BackupVaultArn> {
    requests.iter().map(|request| request.destination_vault.clone()).collect()
}

/// Backup vaults' notification settings in memory.
#[derive(Default)]
pub struct MemoryVaults {
    vaults: Mutex<HashMap<VaultName, Option<VaultNotifications>>>,
    puts: Mutex<usize>,
}

impl MemoryVaults {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, vault: &VaultName, notifications: Option<VaultNotifications>) {
        lock(&self.vaults).insert(vault.clone(), notifications);
    }

    pub fn notifications(&self, vault: &VaultName) -> Option<VaultNotifications> {
        lock(&self.vaults).get(vault).cloned().flatten()
    }

    /// PutBackupVaultNotifications calls made.
    pub fn puts(&self) -> usize {
        *lock(&self.puts)
    }
}

impl VaultNotificationsApi for MemoryVaults {
    async fn vault_exists(&self, vault: &VaultName) -> Result<bool, AwsError> {
        Ok(lock(&self.vaults).contains_key(vault))
    }

    async fn get_notifications(&self, vault: &VaultName) -> Result<Option<VaultNotifications>, AwsError> {
        Ok(self.notifications(vault))
    }

    async fn put_notifications(&self, vault: &VaultName, notifications: &VaultNotifications) -> Result<(), AwsError> {
        *lock(&self.puts) += 1;
        lock(&self.vaults).insert(vault.clone(), Some(notifications.clone()));
        Ok(())
    }
}

/// CloudFormation's response URLs in memory: every answer given, in order.
#[derive(Default)]
pub struct MemoryResponder {
    responses: Mutex<Vec<(String, CloudFormationCustomResourceResponse)>>,
}

impl MemoryResponder {
    pub fn responses(&self) -> Vec<(String, CloudFormationCustomResourceResponse)> {
        lock(&self.responses).clone()
    }
}

impl CustomResourceResponder for MemoryResponder {
    async fn respond(&self, url: &str, response: &CloudFormationCustomResourceResponse) -> Result<(), ResponseError> {
        lock(&self.responses).push((url.to_owned(), response.clone()));
        Ok(())
    }
}

#[derive(Default)]
struct PathFactsState {
    caller_account: Option<AccountId>,
    vaults: HashMap<BackupVaultArn, VaultFacts>,
    policies: HashMap<BackupVaultArn, String>,
    /// `isCrossAccountBackupEnabled` as DescribeGlobalSettings reports it (`None`: not reported).
    cross_account_backup: Option<bool>,
    plan_actions: Vec<(String, PlanCopyAction)>,
    /// KMS keys: what DescribeKey says, and the key policy.
    keys: HashMap<KmsKeyArn, (KeyFacts, String)>,
    grants: HashMap<KmsKeyArn, Vec<KeyGrant>>,
    /// IAM's answers by (role, action): the roles that exist, and what the simulator decides.
    roles: HashMap<IamRoleArn, HashMap<String, SimulatedDecision>>,
    /// The SimulatePrincipalPolicy requests made, in order.
    simulations: Vec<RoleSimulationRequest>,
    /// The organization and its members (the management account among them).
    organization: Option<(OrganizationFacts, Vec<AccountId>)>,
    calls: BTreeMap<Call, usize>,
}

/// What the path check reads, in memory: the caller's vaults (with their Vault Lock and key), their
/// access policies, the organization's cross-account setting and the plans' copy actions, KMS keys,
/// IAM's simulation of roles and the organization. Like AWS, it describes only the caller's own
/// vaults, keys and roles (another account's is access denied), the organization to its members
/// and its member list to the management account.
#[derive(Default)]
pub struct MemoryPathFacts {
    state: Mutex<PathFactsState>,
    faults: Faults,
}

impl MemoryPathFacts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls come from this account (default [`CALLER_ACCOUNT`]).
    pub fn set_caller_account(&self, account: AccountId) {
        lock(&self.state).caller_account = Some(account);
    }

    /// A vault as DescribeBackupVault reports it (its account must be the caller's to be read).
    pub fn add_vault(&self, vault: VaultFacts) {
        lock(&self.state).vaults.insert(vault.arn.clone(), vault);
    }

    /// The vault's access policy (JSON text).
    pub fn set_access_policy(&self, vault: &BackupVaultArn, policy: &str) {
        lock(&self.state).policies.insert(vault.clone(), policy.to_owned());
    }

    pub fn set_cross_account_backup(&self, enabled: Option<bool>) {
        lock(&self.state).cross_account_backup = enabled;
    }

    /// A plan rule's copy action in `region`.
    pub fn add_plan_copy_action(&self, region: &str, action: PlanCopyAction) {
        lock(&self.state).plan_actions.push((region.to_owned(), action));
    }

    /// A KMS key as DescribeKey reports it, with its key policy (JSON text).
    pub fn add_key(&self, key: KeyFacts, policy: &str) {
        lock(&self.state).keys.insert(key.arn.clone(), (key, policy.to_owned()));
    }

    /// A grant of a key (ListGrants).
    pub fn add_grant(&self, key: &KmsKeyArn, grant: KeyGrant) {
        lock(&self.state).grants.entry(key.clone()).or_default().push(grant);
    }

    /// A role that exists, and what IAM's simulator decides for each action (others: implicitDeny).
    pub fn add_role(&self, role: &IamRoleArn, decisions: &[(&str, SimulatedDecision)]) {
        let decisions = decisions.iter().map(|(action, decision)| ((*action).to_owned(), *decision)).collect();
        lock(&self.state).roles.insert(role.clone(), decisions);
    }

    /// The SimulatePrincipalPolicy requests made so far.
    pub fn simulations(&self) -> Vec<RoleSimulationRequest> {
        lock(&self.state).simulations.clone()
    }

    /// The organization and its members (its management account is one, whether listed or not).
    pub fn set_organization(&self, organization: OrganizationFacts, members: &[AccountId]) {
        let mut members = members.to_vec();
        if !members.contains(&organization.management) {
            members.push(organization.management.clone());
        }
        lock(&self.state).organization = Some((organization, members));
    }

    /// The next `times` calls of `call` fail with `error`.
    pub fn fail_next(&self, call: Call, times: usize, error: AwsError) {
        self.faults.queue(call, times, error);
    }

    pub fn calls(&self, call: Call) -> usize {
        lock(&self.state).calls.get(&call).copied().unwrap_or(0)
    }

    fn enter(&self, call: Call) -> Result<std::sync::MutexGuard<'_, PathFactsState>, AwsError> {
        let mut state = lock(&self.state);
        *state.calls.entry(call).or_default() += 1;
        self.faults.check(call)?;
        Ok(state)
    }
}

impl PathFactsState {
    fn caller(&self) -> AccountId {
        self.caller_account.clone().unwrap_or_else(|| AccountId::parse(CALLER_ACCOUNT).expect("12 digits"))
    }

    /// A vault of the caller's, or AWS's refusal of another account's.
    fn own(&self, vault: &BackupVaultArn, operation: &'static str) -> Result<(), AwsError> {
        if vault.account() == self.caller().as_str() {
            Ok(())
        } else {
            Err(backup_error(operation, ErrorClass::Permanent, "AccessDeniedException"))
        }
    }
}

impl PathFactsApi for MemoryPathFacts {
    async fn caller_account(&self) -> Result<AccountId, AwsError> {
        Ok(self.enter(Call::GetCallerIdentity)?.caller())
    }

    async fn describe_backup_vault(&self, vault: &BackupVaultArn) -> Result<Option<VaultFacts>, AwsError> {
        let state = self.enter(Call::DescribeBackupVault)?;
        state.own(vault, "DescribeBackupVault")?;
        Ok(state.vaults.get(vault).cloned())
    }

    async fn get_backup_vault_access_policy(&self, vault: &BackupVaultArn) -> Result<Option<String>, AwsError> {
        let state = self.enter(Call::GetBackupVaultAccessPolicy)?;
        state.own(vault, "GetBackupVaultAccessPolicy")?;
        if !state.vaults.contains_key(vault) {
            return Err(not_found("GetBackupVaultAccessPolicy"));
        }
        Ok(state.policies.get(vault).cloned())
    }

    async fn describe_global_settings(&self) -> Result<Option<bool>, AwsError> {
        Ok(self.enter(Call::DescribeGlobalSettings)?.cross_account_backup)
    }

    async fn list_plan_copy_actions(&self, region: &str) -> Result<Vec<PlanCopyAction>, AwsError> {
        let state = self.enter(Call::ListBackupPlans)?;
        Ok(state.plan_actions.iter().filter(|(at, _)| at == region).map(|(_, action)| action.clone()).collect())
    }

    async fn describe_key(&self, key: &KmsKeyArn) -> Result<Option<KeyFacts>, AwsError> {
        let state = self.enter(Call::DescribeKey)?;
        if key.account() != state.caller().as_str() {
            // Another account's key: refused when it exists (its policy does not share it here), not
            // found when it does not (which of the two KMS answers is not documented).
            return match state.keys.contains_key(key) {
                true => Err(service_error("kms", "DescribeKey", "AccessDeniedException")),
                false => Ok(None),
            };
        }
        Ok(state.keys.get(key).map(|(facts, _)| facts.clone()))
    }

    async fn get_key_policy(&self, key: &KmsKeyArn) -> Result<String, AwsError> {
        let state = self.enter(Call::GetKeyPolicy)?;
        if key.account() != state.caller().as_str() {
            return Err(service_error("kms", "GetKeyPolicy", "AccessDeniedException"));
        }
        match state.keys.get(key) {
            Some((_, policy)) => Ok(policy.clone()),
            None => Err(service_error("kms", "GetKeyPolicy", "NotFoundException")),
        }
    }

    async fn list_grants(&self, key: &KmsKeyArn) -> Result<Vec<KeyGrant>, AwsError> {
        let state = self.enter(Call::ListGrants)?;
        if key.account() != state.caller().as_str() {
            return Err(service_error("kms", "ListGrants", "AccessDeniedException"));
        }
        match state.keys.contains_key(key) {
            true => Ok(state.grants.get(key).cloned().unwrap_or_default()),
            false => Err(service_error("kms", "ListGrants", "NotFoundException")),
        }
    }

    async fn simulate_role(&self, request: &RoleSimulationRequest) -> Result<Option<Vec<Simulation>>, AwsError> {
        let mut state = self.enter(Call::SimulatePrincipalPolicy)?;
        state.simulations.push(request.clone());
        let Some(decisions) = state.roles.get(&request.role) else { return Ok(None) };
        Ok(Some(
            request
                .actions
                .iter()
                .map(|action| {
                    let decision = decisions.get(action).copied().unwrap_or(SimulatedDecision::ImplicitDeny);
                    Simulation {
                        action: action.clone(),
                        resource: request.resource.clone(),
                        decision,
                        matched: match decision {
                            SimulatedDecision::ImplicitDeny => Vec::new(),
                            _ => vec!["inline".to_owned()],
                        },
                        missing_context: Vec::new(),
                    }
                })
                .collect(),
        ))
    }

    async fn describe_organization(&self) -> Result<Option<OrganizationFacts>, AwsError> {
        let state = self.enter(Call::DescribeOrganization)?;
        let caller = state.caller();
        Ok(state
            .organization
            .as_ref()
            .filter(|(_, members)| members.contains(&caller))
            .map(|(organization, _)| organization.clone()))
    }

    async fn list_organization_accounts(&self) -> Result<Vec<AccountId>, AwsError> {
        let state = self.enter(Call::ListAccounts)?;
        let caller = state.caller();
        match &state.organization {
            Some((organization, members)) if organization.management == caller => Ok(members.clone()),
            Some(_) => Err(service_error("organizations", "ListAccounts", "AccessDeniedException")),
            None => Err(service_error("organizations", "ListAccounts", "AWSOrganizationsNotInUseException")),
        }
    }
}
