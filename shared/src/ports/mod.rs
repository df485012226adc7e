//! Ports: the narrow interfaces the handlers need from the outside world. `crate::adapters` implements
//! them with the AWS SDK; `memory` implements them in memory for tests.

mod borrowed;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::cloudformation::CloudFormationCustomResourceResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::evidence::{EvidenceHead, StoredVersion};
use crate::domain::{
    AccountId, AffectedPoint, Alert, Backfill, BackupJob, BackupJobId, BackupVaultArn, Claim, ClaimKind, ClaimOutcome,
    ClaimOwner, CopyDetails, CopyJob, CopyJobId, CopyJobRecord, CopyJobState, HealedBy, IamRoleArn, IdempotencyToken,
    Incident, IncidentId, IncidentKey, IncidentMessage, Lifecycle, Lineage, Ownership, PathFailure, PathKey,
    PathRecord, PlanRuleRef, RecoveryPoint, RecoveryPointArn, Refusal, Resolution, ResourceArn, ResourceType,
    ServiceRefusal, SlotSettled, StartedCopy, StateChange, StateUpdate, SweepCursor, VaultFacts, VaultName,
    VaultNotifications,
};
use crate::domain::{KeyFacts, KeyGrant, KmsKeyArn, OrganizationFacts, Simulation};

/// The longest one call through a port may take, retries included: the adapters set the SDK's
/// operation timeout to it, and a handler that must act before a deadline keeps this much back.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);

/// Calendar time: when "now" is for records, windows and reports. Deadlines are not calendar time:
/// they stay on the monotonic clock (tokio's `Instant`, which a test may pause: `handlers::deadline`).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock: production's [`Clock`].
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Whether an operation that failed may succeed when tried again (a domain type: alerts carry it).
pub use crate::domain::ErrorClass;

/// A failed call to an AWS service, classified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation} failed ({class}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub class: ErrorClass,
    /// The service's error code, e.g. "ThrottlingException".
    pub code: Option<String>,
    pub message: String,
    /// Why no answer came, when the call got none and the SDK says why (an answer has a `code`).
    pub no_answer: Option<NoAnswer>,
}

/// Why a call got no answer from the service: what an operator fixes outside vaultwatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// No provider of the SDK's credentials chain found credentials.
    NoCredentials,
    /// The profile signs in with AWS SSO and its session needs a new sign-in (the cached token
    /// expired and cannot be refreshed, or no token is cached).
    SsoSignIn,
    /// The connection failed (refused, name not resolved, TLS) or timed out.
    Unreachable,
}

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// IAM refused to let the caller pass a role ("... is not authorized to perform: iam:PassRole ...").
    pub fn is_pass_role_denial(&self) -> bool {
        self.code.as_deref().is_some_and(|code| code.starts_with("AccessDenied"))
            && self.message.contains("iam:PassRole")
    }
}

/// The refusal an alert carries: the error as it is, not a sentence made of it.
impl From<&AwsError> for ServiceRefusal {
    fn from(err: &AwsError) -> Self {
        Self {
            service: err.service,
            operation: err.operation,
            class: err.class,
            code: err.code.clone(),
            message: err.message.clone(),
        }
    }
}

/// Everything StartCopyJob needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartCopyRequest {
    pub recovery_point: RecoveryPointArn,
    pub source_vault: VaultName,
    pub destination_vault: BackupVaultArn,
    pub iam_role: IamRoleArn,
    pub lifecycle: Option<Lifecycle>,
    pub token: IdempotencyToken,
}

/// AWS Backup, as far as vaultwatch uses it.
pub trait BackupApi: Send + Sync {
    fn describe_copy_job(&self, id: &CopyJobId) -> impl Future<Output = Result<CopyJob, AwsError>> + Send;
    fn describe_backup_job(&self, id: &BackupJobId) -> impl Future<Output = Result<BackupJob, AwsError>> + Send;
    /// The lifecycle of the plan rule's CopyAction for `destination`, if the rule has one.
    fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<Lifecycle>, AwsError>> + Send;
    /// The destination vaults of the plan rule's CopyActions (GetBackupPlan, cached per plan version
    /// like the lifecycle above). A deleted plan has none.
    fn plan_copy_destinations(
        &self,
        rule: &PlanRuleRef,
    ) -> impl Future<Output = Result<Vec<BackupVaultArn>, AwsError>> + Send;
    /// Whether the plan rule has `EnableContinuousBackup` (GetBackupPlan, cached per plan version like
    /// the lifecycle above). A deleted plan says no.
    fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// StorageClass, Status and CalculatedLifecycle of a recovery point in one of this account's
    /// vaults (DescribeRecoveryPoint). A recovery point that no longer exists is `Ok(None)`.
    fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> impl Future<Output = Result<Option<RecoveryPoint>, AwsError>> + Send;
    /// Starts (or, for a token already used with the same parameters, finds) a copy job.
    fn start_copy_job(&self, request: &StartCopyRequest) -> impl Future<Output = Result<CopyJobId, AwsError>> + Send;
    /// One page of ListCopyJobs.
    fn list_copy_jobs(
        &self,
        query: &CopyJobQuery,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Page<CopyJob>, AwsError>> + Send;
    /// AWS's own count of this region's FAILED copy jobs per account of the organization, created
    /// since `since` (ListCopyJobSummaries with `AccountId` `ANY`, daily buckets of the last 14
    /// days; from the management account or a delegated administrator, docs/aws-facts.md#organization-view).
    /// AWS counts no further back: ask only when [`copy_job_summaries_cover`] the window.
    fn count_failed_copy_jobs(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<BTreeMap<String, u64>, AwsError>> + Send;
    /// One page of the completed backup jobs the query names (ListBackupJobs).
    fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<Page<BackupJob>, AwsError>> + Send;
}

/// How far back ListCopyJobSummaries counts, in days. The model since botocore 1.43.78: "a list of
/// copy jobs created or running within the the most recent 14 days" (30 days in 1.43.77 and every
/// version back to the operation's 1.31.85), and throughout `ONE_DAY` is "The daily job count for
/// the prior 14 days" (docs/aws-facts.md#organization-view).
pub const COPY_JOB_SUMMARY_DAYS: i64 = 14;

/// A SimulatePrincipalPolicy request: may the role do these actions on the resource?
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoleSimulationRequest {
    pub role: IamRoleArn,
    pub actions: Vec<String>,
    pub resource: String,
    /// The resource's own policy (a vault access policy), evaluated with the role's (`ResourcePolicy`).
    pub resource_policy: Option<String>,
}

/// What the path check (`vaultwatch paths`) reads: the caller's account, AWS Backup's vault
/// configuration, global settings and plans, the vaults' KMS keys, the role's permissions as IAM's
/// policy simulator tells them, and the caller's organization. Read-only.
pub trait PathFactsApi: Send + Sync {
    /// The account the caller's credentials belong to (STS GetCallerIdentity).
    fn caller_account(&self) -> impl Future<Output = Result<AccountId, AwsError>> + Send;
    /// DescribeBackupVault of one of the caller's vaults, in the vault's region; `None` when AWS
    /// says it does not exist (ResourceNotFoundException).
    fn describe_backup_vault(
        &self,
        vault: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<VaultFacts>, AwsError>> + Send;
    /// GetBackupVaultAccessPolicy of one of the caller's vaults: the policy's JSON text, `None` when
    /// the vault has none (ResourceNotFoundException, "... has no associated POLICY").
    fn get_backup_vault_access_policy(
        &self,
        vault: &BackupVaultArn,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// DescribeGlobalSettings: `isCrossAccountBackupEnabled` (`None` when AWS does not report it).
    fn describe_global_settings(&self) -> impl Future<Output = Result<Option<bool>, AwsError>> + Send;
    /// The copy actions of the caller's backup plans in `region` (ListBackupPlans, then GetBackupPlan
    /// of each plan's latest version and ListBackupSelections of each plan with a CopyAction).
    fn list_plan_copy_actions(
        &self,
        region: &str,
    ) -> impl Future<Output = Result<Vec<PlanCopyAction>, AwsError>> + Send;
    /// KMS DescribeKey, in the key's region: its state and manager; `None` when KMS says it does not
    /// exist (NotFoundException).
    fn describe_key(&self, key: &KmsKeyArn) -> impl Future<Output = Result<Option<KeyFacts>, AwsError>> + Send;
    /// KMS GetKeyPolicy (`default`, the only name a key policy has), in the key's region: its JSON text.
    fn get_key_policy(&self, key: &KmsKeyArn) -> impl Future<Output = Result<String, AwsError>> + Send;
    /// KMS ListGrants (every page), in the key's region.
    fn list_grants(&self, key: &KmsKeyArn) -> impl Future<Output = Result<Vec<KeyGrant>, AwsError>> + Send;
    /// IAM SimulatePrincipalPolicy of the caller's role (every page); `None` when the role does not
    /// exist (NoSuchEntity).
    fn simulate_role(
        &self,
        request: &RoleSimulationRequest,
    ) -> impl Future<Output = Result<Option<Vec<Simulation>>, AwsError>> + Send;
    /// Organizations DescribeOrganization: the caller's organization, `None` when it is in none
    /// (AWSOrganizationsNotInUseException). Any member account may ask.
    fn describe_organization(&self) -> impl Future<Output = Result<Option<OrganizationFacts>, AwsError>> + Send;
    /// Organizations ListAccounts (every page): the organization's member accounts. Only the
    /// management account (or a delegated administrator) may ask.
    fn list_organization_accounts(&self) -> impl Future<Output = Result<Vec<AccountId>, AwsError>> + Send;
}

/// One CopyAction of a backup plan rule, with what decides its copies' retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanCopyAction {
    pub plan: String,
    pub rule: String,
    /// The rule's TargetBackupVaultName: the copies' source vault.
    pub source_vault: VaultName,
    pub destination: BackupVaultArn,
    /// The CopyAction's own lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// The rule's lifecycle (its backups', which a copy without a retention keeps).
    pub rule_lifecycle: Option<Lifecycle>,
    /// The roles of the plan's backup selections (ListBackupSelections), each once: a plan's
    /// copies pass the role of the selection that backed their resource up.
    pub roles: Vec<IamRoleArn>,
}

/// Whether AWS's copy job summaries can count every job created since `since`. Whether the 14 days
/// are 14 × 24 hours or the UTC calendar days ending today is not documented: only a window starting
/// on or after the first of those calendar days (13 days before today's UTC midnight) is covered
/// under both readings. A longer window would be undercounted, so its count is not asked for.
pub fn copy_job_summaries_cover(since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    since >= today - chrono::Duration::days(COPY_JOB_SUMMARY_DAYS - 1)
}

/// Whose jobs a listing returns (`ByAccountId`, docs/aws-facts.md#organization-view).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AccountScope {
    /// The caller's own account (no `ByAccountId`).
    #[default]
    Caller,
    /// One account: another than the caller's only for the organization's management account or
    /// a delegated administrator.
    Account(AccountId),
    /// Every account of the organization (`*`), from the management account: ListBackupJobs only.
    Organization,
}

impl AccountScope {
    /// The `ByAccountId` value.
    pub fn by_account_id(&self) -> Option<String> {
        match self {
            Self::Caller => None,
            Self::Account(account) => Some(account.to_string()),
            Self::Organization => Some("*".to_owned()),
        }
    }
}

/// Filters of a listing of completed backup jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupJobQuery {
    /// Backups created after this instant (`ByCreatedAfter`).
    pub since: DateTime<Utc>,
    /// One vault's backups; all vaults when none.
    pub vault: Option<VaultName>,
    pub accounts: AccountScope,
}

/// Filters of a ListCopyJobs sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyJobQuery {
    /// Another account's jobs (`ByAccountId`; AWS documents one account at a time for copy jobs).
    pub account: Option<AccountId>,
    pub created_after: Option<DateTime<Utc>>,
    pub destination_vault: Option<BackupVaultArn>,
    pub state: Option<CopyJobState>,
    pub source_recovery_point: Option<RecoveryPointArn>,
    /// 1..=1000; AWS's default when absent.
    pub max_results: Option<i32>,
}

/// One page of a listing and the token of the next, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
    /// Items the adapter could not read (every member is optional in the API model); they are
    /// skipped, never fail the page.
    pub unreadable: Vec<Unreadable>,
}

impl<T> Page<T> {
    pub fn of(items: Vec<T>, next_token: Option<String>) -> Self {
        Self { items, next_token, unreadable: Vec::new() }
    }
}

/// What could be read of a listed item that could not be read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The job's id, if it had a readable one (logs carry ids only).
    pub id: Option<String>,
    /// For a copy job: its source recovery point and destination, if both were readable (a copy
    /// that exists, whatever else is wrong with its listing).
    pub copy: Option<(RecoveryPointArn, BackupVaultArn)>,
    /// What was wrong (a member's name, never its value).
    pub problem: String,
}

/// The tracking table.
pub trait TrackingStore: Send + Sync {
    /// Moves a copy job's record forward to `update.state`; a state at or below the recorded one is stale.
    fn apply_state(&self, update: &StateUpdate) -> impl Future<Output = Result<StateChange, AwsError>> + Send;
    /// Sets the details the record lacks; details already recorded are kept.
    fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Records a copy vaultwatch started, with its lineage; the job's state, if already known, is kept.
    fn record_started(&self, copy: &StartedCopy) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Links a failed job to the retry that replaced it.
    fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Claims a side effect for `owner` (the invocation); a claim older than `lease` is considered
    /// abandoned and is taken over, whoever held it.
    fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, AwsError>> + Send;
    /// Renews `owner`'s pending claim (its lease starts again at `now`), right before a side effect
    /// that has no idempotency of its own: `Lost` if the claim is no longer `owner`'s.
    fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Marks `owner`'s claimed side effect done, with the job's outcome as the holder leaves it (it
    /// replaces the outcome recorded), and sets the
    /// job's details the record lacks (the claimant usually just described the job: no extra
    /// write). `Lost` (nothing written) if the claim is no longer `owner`'s; finishing a claim
    /// `owner` already finished writes it again.
    fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Gives `owner`'s pending claim back after the side effect failed, so a redelivery can try
    /// again. `Lost` (nothing written) if the claim is no longer `owner`'s.
    fn release_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// The records of many jobs at once (absent ones are left out).
    fn get_many(
        &self,
        ids: &[CopyJobId],
    ) -> impl Future<Output = Result<HashMap<CopyJobId, CopyJobRecord>, AwsError>> + Send;
    /// What the reconciler remembered after its last run (empty before its first).
    fn load_cursor(&self) -> impl Future<Output = Result<SweepCursor, AwsError>> + Send;
    /// Which of these routed copies AWS Backup refused for good (recorded by [`Self::record_refusal`]).
    fn refused(
        &self,
        tokens: &[IdempotencyToken],
    ) -> impl Future<Output = Result<HashSet<IdempotencyToken>, AwsError>> + Send;
    /// Remembers that AWS Backup refused a routed copy for good, so later sweeps do not ask again.
    fn record_refusal(&self, refusal: &Refusal) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn save_cursor(&self, cursor: &SweepCursor) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Adds a failure that belongs to its path to the path's incident of that kind: opens the
    /// incident (a new episode, when none is open) and counts the recovery point once, however
    /// often it fails and however many writers meet on the path at once.
    fn record_path_failure(
        &self,
        failure: &PathFailure,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<IncidentEntry, AwsError>> + Send;
    /// The incidents whose episode is open (kept in one small set, written as failures are counted
    /// and healed).
    fn open_incidents(&self) -> impl Future<Output = Result<Vec<Incident>, AwsError>> + Send;
    /// The incidents of a path as they stand (the current or last episode of each kind of cause).
    fn incidents_on(&self, path: &PathKey) -> impl Future<Output = Result<Vec<Incident>, AwsError>> + Send;
    /// Marks the open episode `id` healed (`by` a copy that completed on the path, or the path
    /// check): true for the one caller that healed it, false if it was not open.
    fn heal_incident(
        &self,
        id: &IncidentId,
        by: &HealedBy,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// The incident of `key` as it stands (its current or last episode).
    fn incident(&self, key: &IncidentKey) -> impl Future<Output = Result<Option<Incident>, AwsError>> + Send;
    /// Claims one of an episode's messages for `owner`, like a copy job's claims (`InProgress` while
    /// another owner's lease runs; `Gone` when `id` is not the key's current episode).
    fn claim_incident(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<IncidentClaim, AwsError>> + Send;
    /// Marks `owner`'s claimed message sent (`Lost`: the claim is no longer its).
    fn finish_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Gives `owner`'s claim back after the message could not be sent.
    fn release_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Starts the backfill of a healed episode (nothing if it has one already).
    fn open_backfill(&self, backfill: &Backfill) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The backfills not yet finished (started, or their last copies still running, or their
    /// message not yet sent).
    fn active_backfills(&self) -> impl Future<Output = Result<Vec<Backfill>, AwsError>> + Send;
    /// Takes a backfill for `owner` (one runner at a time; a claim older than `lease` is abandoned):
    /// its state, or none when another runner holds it.
    fn claim_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<Backfill>, AwsError>> + Send;
    /// Gives a backfill back (its runner is done for now).
    fn release_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Records how the backfill's next slot, `slot`, settled (`Lost` if `owner` no longer holds it or
    /// the slot was settled already).
    fn settle_backfill_slot(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        slot: u64,
        settled: &SlotSettled,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// A backfill copy ended (completed, failed or aborted): no longer in flight.
    fn backfill_copy_ended(
        &self,
        episode_digest: &str,
        job: &CopyJobId,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Marks the backfill told (its message sent) and no longer active: true for the one caller
    /// holding it that marked it.
    fn finish_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// The recovery points recorded in an episode's slots `from..=to` (empty slots left out).
    fn affected_slots(
        &self,
        episode: &IncidentId,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<(u64, AffectedPoint)>, AwsError>> + Send;
    /// Records that a digest of the open episode goes out at `now`, if none was recorded since
    /// `previous` (the one the caller read): true for the one caller that should send it.
    fn mark_digest(
        &self,
        id: &IncidentId,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Claims the right to start backfill copies into `vault` for `owner` (one runner per vault at a
    /// time, so `BackfillConcurrency` holds across runners): false while another's lease runs.
    fn claim_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Gives the vault's backfill claim back (`Lost`: it is no longer `owner`'s).
    fn release_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
    ) -> impl Future<Output = Result<Ownership, AwsError>> + Send;
    /// Notes a copy that completed on a path at `at` (kept only when later than the one noted).
    fn note_path_copy(
        &self,
        path: &PathKey,
        job: &CopyJobId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Notes the path check's verdict (`ok`, `broken`, `cannot tell`) on a path at `at`.
    fn note_path_check(
        &self,
        path: &PathKey,
        at: DateTime<Utc>,
        verdict: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The records of `paths` (a path never noted is missing from the map).
    fn path_records(
        &self,
        paths: &[PathKey],
    ) -> impl Future<Output = Result<HashMap<PathKey, PathRecord>, AwsError>> + Send;
    /// The last day (UTC) `task` finished, if it ever did.
    fn done_on(&self, task: DailyTask) -> impl Future<Output = Result<Option<NaiveDate>, AwsError>> + Send;
    /// Records `task` finished on `day`; only a later day moves it (true if this call moved it).
    fn mark_done_on(&self, task: DailyTask, day: NaiveDate) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// Where the evidence chain of `scope` (its key prefix) stands, if it has a day.
    fn evidence_head(&self, scope: &str) -> impl Future<Output = Result<Option<EvidenceHead>, AwsError>> + Send;
    /// Moves the chain of `scope` from the day `from` (none: it has no day yet) to `to`; false when
    /// another writer moved it first.
    fn advance_evidence(
        &self,
        scope: &str,
        from: Option<NaiveDate>,
        to: &EvidenceHead,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// A task the reconciler does once a day (UTC), on the first whole sweep of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DailyTask {
    /// The path check (`PathCheck`): every known path checked, incidents opened and healed.
    PathCheck,
}

impl DailyTask {
    /// As the table names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PathCheck => "path-check",
        }
    }
}

/// What recording a path failure came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentEntry {
    /// The incident after the failure was added.
    pub incident: Incident,
    /// This failure opened the episode.
    pub opened: bool,
    /// This failure's recovery point was not yet among the affected ones.
    pub added: bool,
}

/// The messages of an incident's episode that go out once each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncidentClaimKind {
    /// The alert that the path is broken.
    Opened,
    /// The message that it healed.
    Healed,
}

/// What claiming an incident's message came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentClaim {
    /// This owner sends it; the incident as it stands.
    Acquired(Box<Incident>),
    AlreadyDone,
    InProgress,
    /// The episode is not the key's current one (healed and opened again since).
    Gone,
}

/// Where operators are told about copies that need them, and, in the same thread, when an alerted
/// copy completed after all.
pub trait AlertSink: Send + Sync {
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn resolve(&self, resolution: &Resolution) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// A message about a copy path's incident, in the incident's thread.
    fn incident(&self, message: &IncidentMessage) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A retry waiting for its backoff to pass. Serialised into the delay queue, so it carries
/// everything StartCopyJob needs and the retrier does not have to describe the failed job again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryRequest {
    pub failed_job: CopyJobId,
    /// Lineage of the copy this request starts.
    pub lineage: Lineage,
    pub recovery_point: RecoveryPointArn,
    pub source_vault: BackupVaultArn,
    pub destination_vault: BackupVaultArn,
    pub iam_role: IamRoleArn,
    /// The lifecycle the failed job had (AWS reported it, or vaultwatch asked for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// The plan rule that created the failed job; without a lifecycle above, the retry looks up the
    /// rule's CopyAction lifecycle when it starts (not when the failure is handled, which keeps
    /// that path at five calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_rule: Option<PlanRuleRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceArn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
    /// The failure that led here, for the alert if this retry cannot start.
    #[serde(default)]
    pub last_status_message: String,
}

/// AWS Backup's vault notification settings, as far as the vault setup needs them.
pub trait VaultNotificationsApi: Send + Sync {
    fn vault_exists(&self, vault: &VaultName) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// `None` when the vault has no notification configuration.
    fn get_notifications(
        &self,
        vault: &VaultName,
    ) -> impl Future<Output = Result<Option<VaultNotifications>, AwsError>> + Send;
    fn put_notifications(
        &self,
        vault: &VaultName,
        notifications: &VaultNotifications,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Where a CloudFormation custom resource's answer goes: the request's pre-signed response URL.
pub trait CustomResourceResponder: Send + Sync {
    fn respond(
        &self,
        url: &str,
        response: &CloudFormationCustomResourceResponse,
    ) -> impl Future<Output = Result<(), ResponseError>> + Send;
}

/// CloudFormation could not be given its answer (the stack then waits for its timeout).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("could not answer CloudFormation: {0}")]
pub struct ResponseError(pub String);

/// Where evidence snapshots are written: the evidence bucket (PutObject only; the functions never
/// read it back).
pub trait EvidenceSink: Send + Sync {
    fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// No evidence bucket: a reconciler without snapshots (tests, tools). Uninhabited: never called.
pub enum NoEvidence {}

impl EvidenceSink for NoEvidence {
    async fn put_object(&self, _key: &str, _body: Vec<u8>, _content_type: &'static str) -> Result<(), AwsError> {
        match *self {}
    }
}

/// How `vaultwatch evidence` reads the bucket, every version of every object included.
pub trait EvidenceReader: Send + Sync {
    /// Every version and delete marker under `prefix`.
    fn list_versions(&self, prefix: &str) -> impl Future<Output = Result<Vec<StoredVersion>, AwsError>> + Send;
    /// One version's content.
    fn get_version(&self, key: &str, version_id: &str) -> impl Future<Output = Result<Vec<u8>, AwsError>> + Send;
}

/// The delay queue that holds retries until their backoff has passed.
pub trait RetryQueue: Send + Sync {
    fn schedule(&self, request: &RetryRequest, delay: Duration) -> impl Future<Output = Result<(), AwsError>> + Send;
}
