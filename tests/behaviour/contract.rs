//! Contract tests of the AWS adapters against the local stack: the real `aws-sdk-backup` and
//! `aws-sdk-dynamodb` clients, through vaultwatch's adapters, against the AWS Backup stand-in and
//! moto. They need the stack, so `cargo test` lists them as ignored; the end-to-end suite starts
//! the stack and runs them with `--ignored` (tests/e2e/test_contract.py).

use chrono::Utc;
use serde_json::{json, Value};
use vaultwatch::adapters::{load_sdk_config, DynamoStore, Host, SdkBackup};
use vaultwatch::domain::{
    AlertKind, BackupJobId, BackupJobState, BackupPlanId, BackupPlanVersion, BackupRuleId, BackupVaultArn,
    ClaimOutcome, CopyJobId, CopyJobState, IamRoleArn, IdempotencyToken, Lifecycle, PlanRuleRef, RecoveryPointArn,
};
use vaultwatch::ports::{BackupApi, ErrorClass, StartCopyRequest};

const ROLE: &str = "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these through tests/e2e"))
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000_000)
}

/// POSTs to the stand-in's control API (not part of AWS, so not through the SDK).
fn control(path: &str, body: &Value) -> Value {
    let url = format!("{}/_standin/{path}", env("AWS_ENDPOINT_URL_BACKUP"));
    let mut response = ureq::post(&url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    let text = response.body_mut().read_to_string().unwrap_or_else(|err| panic!("{url}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{url}: {err}: {text}"))
}

async fn clients() -> (aws_sdk_backup::Client, SdkBackup, DynamoStore) {
    let sdk = load_sdk_config(Host::Lambda).await.unwrap();
    let raw = aws_sdk_backup::Client::new(&sdk);
    let store = DynamoStore::new(&sdk, env("TRACKING_TABLE_NAME"));
    (raw, SdkBackup::new(&sdk), store)
}

/// A vault with a completed backup in it; returns (vault name, vault ARN, backup job id, recovery point).
async fn completed_backup(raw: &aws_sdk_backup::Client) -> (String, BackupVaultArn, String, RecoveryPointArn) {
    let name = unique("contract");
    let created = raw.create_backup_vault().backup_vault_name(&name).send().await.unwrap();
    let job = control(
        "backup-jobs",
        &json!({ "vault": name, "resourceArn": "arn:aws:ec2:us-east-1:123456789012:volume/vol-contract" }),
    );
    let vault = BackupVaultArn::parse(created.backup_vault_arn().unwrap()).unwrap();
    let rp = RecoveryPointArn::parse(job["RecoveryPointArn"].as_str().unwrap()).unwrap();
    (name, vault, job["BackupJobId"].as_str().unwrap().to_owned(), rp)
}

async fn destination(raw: &aws_sdk_backup::Client) -> BackupVaultArn {
    let name = unique("dest");
    let created = raw.create_backup_vault().backup_vault_name(&name).send().await.unwrap();
    BackupVaultArn::parse(created.backup_vault_arn().unwrap()).unwrap()
}

fn start_request(
    vault: &BackupVaultArn,
    rp: &RecoveryPointArn,
    to: &BackupVaultArn,
    lifecycle: Option<Lifecycle>,
) -> StartCopyRequest {
    StartCopyRequest {
        recovery_point: rp.clone(),
        source_vault: vault.vault_name(),
        destination_vault: to.clone(),
        iam_role: IamRoleArn::parse(ROLE).unwrap(),
        lifecycle,
        token: IdempotencyToken::for_route(rp, to),
    }
}

fn lifecycle(cold: i64, delete: i64) -> Lifecycle {
    Lifecycle { move_to_cold_storage_after_days: Some(cold), delete_after_days: Some(delete), ..Lifecycle::default() }
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn start_copy_job_is_idempotent_per_token_and_described_faithfully() {
    let (_, backup, _) = clients().await;
    let (raw, _, _) = clients().await;
    let (_, vault, _, rp) = completed_backup(&raw).await;
    let to = destination(&raw).await;
    let request = start_request(&vault, &rp, &to, Some(lifecycle(30, 365)));

    let first = backup.start_copy_job(&request).await.unwrap();
    let again = backup.start_copy_job(&request).await.unwrap();
    assert_eq!(first, again, "same token, same parameters: the same copy job");

    let changed = StartCopyRequest { lifecycle: Some(lifecycle(30, 400)), ..request.clone() };
    let err = backup.start_copy_job(&changed).await.unwrap_err();
    assert_eq!((err.class, err.code.as_deref()), (ErrorClass::Permanent, Some("InvalidRequestException")), "{err}");

    let job = backup.describe_copy_job(&first).await.unwrap();
    assert_eq!(job.state, CopyJobState::Created);
    assert_eq!(job.source_recovery_point, rp);
    assert_eq!((job.source_vault, job.destination_vault.clone()), (vault, to));
    assert_eq!(job.destination_lifecycle, Some(lifecycle(30, 365)));
    assert_eq!(job.iam_role.as_ref().map(|role| role.as_str()), Some(ROLE));
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn validation_and_missing_resources_are_permanent_errors() {
    let (raw, backup, _) = clients().await;
    let (_, vault, _, rp) = completed_backup(&raw).await;
    let to = destination(&raw).await;

    let bad_lifecycle = start_request(&vault, &rp, &to, Some(lifecycle(30, 100)));
    let err = backup.start_copy_job(&bad_lifecycle).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidParameterValueException"), "{err}");
    assert!(err.message.contains("90 days"), "{err}");

    let missing = raw
        .start_copy_job()
        .recovery_point_arn(rp.as_str())
        .source_backup_vault_name(vault.vault_name().as_str())
        .destination_backup_vault_arn(to.as_str())
        .send()
        .await
        .unwrap_err();
    // A request the API model refuses gets the ValidationException of AWS's request validation.
    assert_eq!(aws_sdk_backup::error::ProvideErrorMetadata::code(&missing), Some("ValidationException"));

    let err = backup.describe_copy_job(&CopyJobId::parse("NO-SUCH-JOB").unwrap()).await.unwrap_err();
    assert_eq!((err.class, err.code.as_deref()), (ErrorClass::Permanent, Some("ResourceNotFoundException")));
    let gone = RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:GONE").unwrap();
    let err = backup.start_copy_job(&start_request(&vault, &gone, &to, None)).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ResourceNotFoundException"));
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn throttling_beyond_the_sdk_retries_is_a_transient_error() {
    let (raw, backup, _) = clients().await;
    let (_, _, job_id, rp) = completed_backup(&raw).await;
    // Three throttles in a row exhaust the SDK's three attempts.
    control("faults", &json!({ "throttleNext": { "DescribeBackupJob": 3 } }));
    let err = backup.describe_backup_job(&BackupJobId::parse(&job_id).unwrap()).await.unwrap_err();
    assert_eq!((err.class, err.code.as_deref()), (ErrorClass::Transient, Some("ThrottlingException")), "{err}");
    // Two throttles are absorbed by the SDK's standard retries.
    control("faults", &json!({ "throttleNext": { "DescribeBackupJob": 2 } }));
    let job = backup.describe_backup_job(&BackupJobId::parse(&job_id).unwrap()).await.unwrap();
    assert_eq!((job.state, job.recovery_point), (BackupJobState::Completed, Some(rp)));
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn plan_copy_lifecycles_are_read_once_per_plan_version() {
    let (raw, backup, _) = clients().await;
    let to = destination(&raw).await;
    let copy = aws_sdk_backup::types::CopyAction::builder()
        .destination_backup_vault_arn(to.as_str())
        .lifecycle(
            aws_sdk_backup::types::Lifecycle::builder()
                .move_to_cold_storage_after_days(30)
                .delete_after_days(365)
                .build(),
        )
        .build()
        .unwrap();
    let rule = aws_sdk_backup::types::BackupRuleInput::builder()
        .rule_name("daily")
        .target_backup_vault_name("primary")
        .copy_actions(copy)
        .build()
        .unwrap();
    let plan = raw
        .create_backup_plan()
        .backup_plan(
            aws_sdk_backup::types::BackupPlanInput::builder()
                .backup_plan_name(unique("plan"))
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (plan_id, version) = (plan.backup_plan_id().unwrap(), plan.version_id().unwrap());
    let stored = raw.get_backup_plan().backup_plan_id(plan_id).version_id(version).send().await.unwrap();
    let rule_id = stored.backup_plan().unwrap().rules()[0].rule_id().unwrap();
    let rule = PlanRuleRef {
        plan_id: BackupPlanId::parse(plan_id).unwrap(),
        plan_version: BackupPlanVersion::parse(version).unwrap(),
        rule_id: BackupRuleId::parse(rule_id).unwrap(),
    };

    let calls_before = control("calls", &json!({}))["calls"]["GetBackupPlan"].as_u64().unwrap_or(0);
    assert_eq!(backup.copy_action_lifecycle(&rule, &to).await.unwrap(), Some(lifecycle(30, 365)));
    let other = destination(&raw).await;
    assert_eq!(backup.copy_action_lifecycle(&rule, &other).await.unwrap(), None);
    let calls_after = control("calls", &json!({}))["calls"]["GetBackupPlan"].as_u64().unwrap();
    assert_eq!(calls_after - calls_before, 1, "cached per plan version");

    let deleted = PlanRuleRef { plan_id: BackupPlanId::parse("deleted-plan").unwrap(), ..rule };
    assert_eq!(backup.copy_action_lifecycle(&deleted, &to).await.unwrap(), None, "a deleted plan leaves no lifecycle");
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn list_copy_jobs_pages_and_filters() {
    let (raw, backup, _) = clients().await;
    let (_, vault, _, rp) = completed_backup(&raw).await;
    let created_after = aws_smithy_types_now();
    let mut started = Vec::new();
    for _ in 0..25 {
        let to = destination(&raw).await;
        started.push(backup.start_copy_job(&start_request(&vault, &rp, &to, None)).await.unwrap());
    }
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut token = None;
    loop {
        let page = raw
            .list_copy_jobs()
            .by_source_recovery_point_arn(rp.as_str())
            .by_created_after(created_after)
            .max_results(10)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.copy_jobs().iter().map(|j| j.copy_job_id().unwrap().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, started.iter().map(|id| id.to_string()).collect::<Vec<_>>());
    let by_destination = raw
        .list_copy_jobs()
        .by_destination_vault_arn(backup.describe_copy_job(&started[3]).await.unwrap().destination_vault.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(by_destination.copy_jobs().len(), 1);
    let completed = raw
        .list_copy_jobs()
        .by_source_recovery_point_arn(rp.as_str())
        .by_state(aws_sdk_backup::types::CopyJobState::Completed)
        .send()
        .await
        .unwrap();
    assert!(completed.copy_jobs().is_empty());
    for bad in [0, 1001] {
        let err = raw.list_copy_jobs().max_results(bad).send().await.unwrap_err();
        assert_eq!(aws_sdk_backup::error::ProvideErrorMetadata::code(&err), Some("ValidationException"));
    }
}

#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn the_adapter_pages_through_thousands_of_copy_jobs() {
    use vaultwatch::ports::CopyJobQuery;
    let (raw, backup, _) = clients().await;
    let vault = unique("bulk");
    raw.create_backup_vault().backup_vault_name(&vault).send().await.unwrap();
    let to = destination(&raw).await;
    let created = control(
        "bulk",
        &json!({ "vault": vault, "count": 2500, "destinations": [to.as_str()], "states": { "COMPLETED": 0.9, "FAILED": 0.1 } }),
    );
    assert_eq!(created["copies"], 2500);
    let query = CopyJobQuery { destination_vault: Some(to), max_results: Some(1000), ..CopyJobQuery::default() };
    let (mut pages, mut jobs, mut token) = (0, Vec::new(), None::<String>);
    loop {
        let page = backup.list_copy_jobs(&query, token.as_deref()).await.unwrap();
        pages += 1;
        jobs.extend(page.items);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!((pages, jobs.len()), (3, 2500));
    let failed = jobs.iter().filter(|job| job.state == CopyJobState::Failed).count();
    assert!(failed > 0 && jobs.iter().filter(|j| j.state == CopyJobState::Failed).all(|j| j.status_message.is_some()));
}

fn aws_smithy_types_now() -> aws_sdk_backup::primitives::DateTime {
    aws_sdk_backup::primitives::DateTime::from_secs(Utc::now().timestamp() - 1)
}

/// Upgrade: a record written before outcomes had fields (its outcome only in words) reads as the
/// same outcome, and the next finish writes the fields.
#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn an_outcome_written_in_words_by_the_previous_version_is_read_as_fields() {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let sdk = load_sdk_config(Host::Lambda).await.unwrap();
    let raw = aws_sdk_dynamodb::Client::new(&sdk);
    let (_, _, store) = clients().await;
    let id = CopyJobId::parse(&unique("WORDS")).unwrap();
    // As the previous version left an alerted job a completed copy resolved.
    raw.put_item()
        .table_name(env("TRACKING_TABLE_NAME"))
        .item("pk", V::S(format!("copy#{id}")))
        .item("copy_job_id", V::S(id.to_string()))
        .item("state", V::S("FAILED".into()))
        .item("outcome", V::S("alerted: congestion persists; retry 9 scheduled; resolved by MANUAL-1".into()))
        .item("failure_claim", V::S("done".into()))
        .item("resolution_claim", V::S("done".into()))
        .send()
        .await
        .unwrap();
    let record = vaultwatch_tests::record_of(&store, &id).await;
    let expected = ClaimOutcome {
        retry_scheduled: Some(9),
        alerted: Some(AlertKind::CongestionPersists),
        resolved_by: Some(CopyJobId::parse("MANUAL-1").unwrap()),
        ..ClaimOutcome::default()
    };
    assert_eq!(record.outcome, expected);
    assert!(record.failure_handled && record.resolution_published);
}

/// The DynamoDB adapter keeps the store's contract, the same suite the in-memory store passes
/// (tests/src/store_contract.rs), so no behaviour test rests on a property only the fake has.
#[tokio::test]
#[ignore = "needs the local stack (tests/e2e)"]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let (_, _, store) = clients().await;
    vaultwatch_tests::store_contract::all(&store, |name| CopyJobId::parse(&unique(name)).unwrap()).await;
}
