//! Helpers for the behaviour tests: the reference payloads in `fixtures/` (AWS wire format) and
//! builders that vary them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vaultwatch::domain::{
    AlertKind, ClaimOutcome, Composite, DeleteAfterEvent, Destination, KmsKeyArn, ResourceType, VaultLockState,
    VaultType,
};
use vaultwatch::domain::{
    BackupJob, BackupJobId, BackupJobState, BackupPlanId, BackupPlanVersion, BackupRuleId, BackupVaultArn, CopyJob,
    CopyJobId, CopyJobRecord, CopyJobState, IamRoleArn, Lifecycle, PlanRuleRef, RecoveryPointArn, ResourceArn,
};
use vaultwatch::handlers::retrier::{Retrier, RetrierSettings};
pub use vaultwatch::ports::memory::Call;
use vaultwatch::ports::memory::{MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch::ports::TrackingStore;

pub const SOURCE_VAULT: &str = "arn:aws:backup:us-east-1:123456789012:backup-vault:primary";
pub const DR_VAULT: &str = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-copy";
pub const FAILED_COPY_JOB: &str = "47C8EF56-74D8-059D-1301-C5BE1D5C926E";
pub const BACKUP_JOB: &str = "8A9C2E6B-41D7-4F0B-9C3E-2B7F5D1A6E90";
/// A transient failure that is not congestion: retried within MaxAttempts, with doubling steps.
pub const PASSING_FAILURE: &str = "Copy job failed due to an internal failure. Try again later.";
/// AWS Backup's concurrent-copy limit (docs/aws-facts.md#service-quotas): congestion.
/// A failure that belongs to the recovery point, not its path: alerted per copy (AWS's words,
/// docs/aws-facts.md#failure-messages).
pub const POINT_FAILURE: &str = "The resultant tag set must not have more than 50 user tags.";
/// A failure that belongs to the copy path (its destination key): counted in the path's incident.
pub const PATH_FAILURE: &str =
    "Access denied: the role cannot use KMS key arn:aws:kms:us-west-2:123456789012:key/1234abcd";
pub const LIMIT_FAILURE: &str = "There are too many copy jobs running for resource.";
pub const RECOVERY_POINT: &str =
    "arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45";

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fixture as JSON, e.g. `fixture("sns/copy-job-failed.json")`.
pub fn fixture(relative: &str) -> Value {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// An SNS notification like the fixtures, for any job kind, state and id.
pub fn sns_notification(event_type: &str, state: &str, id: &str) -> Value {
    let mut event = fixture("sns/copy-job-failed.json");
    let attributes = &mut event["Records"][0]["Sns"]["MessageAttributes"];
    attributes["EventType"]["Value"] = json!(event_type);
    attributes["State"]["Value"] = json!(state);
    attributes["Id"]["Value"] = json!(id);
    event
}

pub fn copy_event(state: &str, id: &str) -> Value {
    sns_notification("COPY_JOB", state, id)
}

/// The records of several SNS events in one event.
pub fn batch(events: &[Value]) -> Value {
    let records: Vec<Value> =
        events.iter().flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default()).collect();
    json!({ "Records": records })
}

/// An SQS event delivering `bodies`, as Lambda's SQS event source does.
pub fn sqs_event(bodies: &[(String, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(message_id, body)| {
            json!({
                "messageId": message_id,
                "receiptHandle": format!("handle-{message_id}"),
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:vaultwatch-retries",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

fn s<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

pub fn lifecycle_from_wire(value: &Value) -> Option<Lifecycle> {
    value.as_object().map(|_| Lifecycle {
        move_to_cold_storage_after_days: value.get("MoveToColdStorageAfterDays").and_then(Value::as_i64),
        delete_after_days: value.get("DeleteAfterDays").and_then(Value::as_i64),
        opt_in_to_archive_for_supported_resources: value
            .get("OptInToArchiveForSupportedResources")
            .and_then(Value::as_bool),
        delete_after_event: value.get("DeleteAfterEvent").and_then(Value::as_str).and_then(DeleteAfterEvent::parse),
    })
}

/// `CopyJob` of a DescribeCopyJob response body.
pub fn copy_job_from_wire(body: &Value) -> CopyJob {
    let job = &body["CopyJob"];
    let created_by = &job["CreatedBy"];
    CopyJob {
        id: CopyJobId::parse(s(job, "CopyJobId").unwrap()).unwrap(),
        state: CopyJobState::parse(s(job, "State").unwrap()).unwrap(),
        status_message: s(job, "StatusMessage").map(str::to_owned),
        source_recovery_point: RecoveryPointArn::parse(s(job, "SourceRecoveryPointArn").unwrap()).unwrap(),
        source_vault: BackupVaultArn::parse(s(job, "SourceBackupVaultArn").unwrap()).unwrap(),
        destination_vault: BackupVaultArn::parse(s(job, "DestinationBackupVaultArn").unwrap()).unwrap(),
        destination_recovery_point: s(job, "DestinationRecoveryPointArn").map(|a| RecoveryPointArn::parse(a).unwrap()),
        destination_lifecycle: job.get("DestinationRecoveryPointLifecycle").and_then(lifecycle_from_wire),
        resource: s(job, "ResourceArn").map(|a| ResourceArn::parse(a).unwrap()),
        resource_type: s(job, "ResourceType").map(ResourceType::parse),
        iam_role: s(job, "IamRoleArn").map(|role| IamRoleArn::parse(role).unwrap()),
        created_by: plan_rule_from_wire(created_by),
        completed_at: time_from_wire(&job["CompletionDate"]),
        message_category: s(job, "MessageCategory").map(str::to_owned),
        composite: match s(job, "ParentJobId") {
            Some(parent) => Composite::Child { parent: CopyJobId::parse(parent).unwrap() },
            None if job["IsParent"].as_bool() == Some(true) => {
                Composite::Parent { children: job["NumberOfChildJobs"].as_u64().map(|n| n as u32) }
            }
            None => Composite::Single,
        },
        initiated_by: s(job, "CreatedByBackupJobId").map(|id| BackupJobId::parse(id).unwrap()),
        destination: Destination {
            vault_type: s(job, "DestinationVaultType").map(VaultType::parse),
            lock_state: s(job, "DestinationVaultLockState").map(VaultLockState::parse),
            encryption_key: s(job, "DestinationEncryptionKeyArn").map(|key| KmsKeyArn::parse(key).unwrap()),
        },
    }
}

/// A `CreatedBy` member: the plan rule that made a job.
fn plan_rule_from_wire(created_by: &Value) -> Option<PlanRuleRef> {
    s(created_by, "BackupPlanId").map(|plan| PlanRuleRef {
        plan_id: BackupPlanId::parse(plan).unwrap(),
        plan_version: BackupPlanVersion::parse(s(created_by, "BackupPlanVersion").unwrap()).unwrap(),
        rule_id: BackupRuleId::parse(s(created_by, "BackupRuleId").unwrap()).unwrap(),
    })
}

/// restJson1 timestamps are epoch seconds.
fn time_from_wire(at: &Value) -> Option<DateTime<Utc>> {
    at.as_f64().and_then(|at| DateTime::from_timestamp_millis((at * 1000.0) as i64))
}

/// `BackupJob` of a DescribeBackupJob response body.
pub fn backup_job_from_wire(body: &Value) -> BackupJob {
    BackupJob {
        id: BackupJobId::parse(s(body, "BackupJobId").unwrap()).unwrap(),
        state: BackupJobState::parse(s(body, "State").unwrap()),
        recovery_point: s(body, "RecoveryPointArn").map(|a| RecoveryPointArn::parse(a).unwrap()),
        vault: BackupVaultArn::parse(s(body, "BackupVaultArn").unwrap()).unwrap(),
        resource: s(body, "ResourceArn").map(|a| ResourceArn::parse(a).unwrap()),
        resource_type: s(body, "ResourceType").map(ResourceType::parse),
        parent_job: s(body, "ParentJobId").map(|id| BackupJobId::parse(id).unwrap()),
        completed_at: time_from_wire(&body["CompletionDate"]),
        created_by: plan_rule_from_wire(&body["CreatedBy"]),
        lifecycle: body.get("RecoveryPointLifecycle").and_then(lifecycle_from_wire),
    }
}

/// The failed copy job of `backup-api/describe-copy-job-failed.json`.
pub fn failed_copy_job() -> CopyJob {
    copy_job_from_wire(&fixture("backup-api/describe-copy-job-failed.json"))
}

/// The copy action lifecycle of `backup-api/get-backup-plan-with-copy-actions.json`.
pub fn plan_copy_lifecycle() -> Lifecycle {
    let plan = fixture("backup-api/get-backup-plan-with-copy-actions.json");
    lifecycle_from_wire(&plan["BackupPlan"]["Rules"][0]["CopyActions"][0]["Lifecycle"]).unwrap()
}

/// The retrier over in-memory ports, with the default policy (3 retries, 60 s base delay), a 330 s
/// claim lease and no publisher check, around the given AWS Backup.
pub fn memory_retrier(backup: MemoryBackup) -> Retrier<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue> {
    Retrier::new(backup, MemoryStore::new(), MemoryAlerts::new(), MemoryQueue::new(), RetrierSettings::default())
}

/// The SQS event that delivers everything on the delay queue to the retrier, as the event source would.
pub fn due_retries(queue: &MemoryQueue) -> Value {
    let bodies: Vec<(String, String)> = queue
        .drain()
        .into_iter()
        .enumerate()
        .map(|(i, (request, _))| (format!("msg-{i}"), serde_json::to_string(&request).unwrap()))
        .collect();
    sqs_event(&bodies)
}

pub fn copy_id(raw: &str) -> CopyJobId {
    CopyJobId::parse(raw).unwrap()
}

pub fn vault(raw: &str) -> BackupVaultArn {
    BackupVaultArn::parse(raw).unwrap()
}

pub mod burst;
pub mod calls;
pub mod hooked;
pub mod store_contract;

pub use hooked::{InFlight, Stalled};

/// The record a store keeps of `id` (which it must have), read as the handlers read records.
pub async fn record_of(store: &impl TrackingStore, id: &CopyJobId) -> CopyJobRecord {
    let mut records = store.get_many(std::slice::from_ref(id)).await.unwrap();
    records.remove(id).unwrap_or_else(|| panic!("the store has no record of {id}"))
}

/// The outcome of a failure whose retry `attempt` was scheduled.
pub fn retry_scheduled(attempt: u32) -> ClaimOutcome {
    ClaimOutcome { retry_scheduled: Some(attempt), ..ClaimOutcome::default() }
}

/// The outcome of a failure alerted as `kind`.
pub fn alerted(kind: AlertKind) -> ClaimOutcome {
    ClaimOutcome { alerted: Some(kind), ..ClaimOutcome::default() }
}

/// A backup job of `SOURCE_VAULT` that completed at `completed_at` with recovery point `point` (an
/// EBS volume's, no plan): what the copier's routes and the missing-copy pass look at.
pub fn completed_backup(id: &str, point: &str, completed_at: DateTime<Utc>) -> BackupJob {
    BackupJob {
        id: vaultwatch::domain::BackupJobId::parse(id).unwrap(),
        state: vaultwatch::domain::BackupJobState::Completed,
        recovery_point: Some(vaultwatch::domain::RecoveryPointArn::parse(point).unwrap()),
        vault: vault(SOURCE_VAULT),
        resource: None,
        resource_type: Some("EBS".into()),
        parent_job: None,
        completed_at: Some(completed_at),
        created_by: None,
        lifecycle: None,
    }
}

/// A recovery point an incident counts, known by its ARN alone.
pub fn affected_point(point: &str) -> vaultwatch::domain::AffectedPoint {
    vaultwatch::domain::AffectedPoint {
        recovery_point: vaultwatch::domain::RecoveryPointArn::parse(point).unwrap(),
        copy_job: None,
        resource: None,
        resource_type: None,
        lifecycle: None,
        plan_rule: None,
    }
}

/// A reconciler over in-memory ports: `backup`'s jobs, `routes` started with `copy_role`, default
/// settings, no organization view and no daily path check (set `path_check` for one).
pub fn memory_reconciler(
    backup: MemoryBackup,
    routes: vaultwatch::domain::RouteTable,
    copy_role: Option<vaultwatch::domain::IamRoleArn>,
) -> vaultwatch::handlers::reconciler::Reconciler<
    MemoryBackup,
    MemoryStore,
    MemoryAlerts,
    MemoryQueue,
    vaultwatch::ports::memory::MemoryPathFacts,
> {
    vaultwatch::handlers::reconciler::Reconciler {
        backup,
        store: MemoryStore::new(),
        alerts: MemoryAlerts::new(),
        queue: MemoryQueue::new(),
        retry: RetrierSettings::default(),
        sweep: vaultwatch::handlers::reconciler::SweepSettings::default(),
        routes,
        copy_role,
        organization: None,
        path_check: None,
        evidence: None,
        clock: std::sync::Arc::new(vaultwatch::ports::WallClock),
    }
}
