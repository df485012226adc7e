//! cross-region-copier: one copy per route for each completed backup, with stable tokens, whatever
//! the number of deliveries; failed and expired backups copy nothing. Routes + 1 calls at most.

use serde_json::json;
use vaultwatch::domain::{IamRoleArn, IdempotencyToken, RecoveryPointArn, RouteTable, SourcePolicy};
use vaultwatch::handlers::copier::{Copied, Copier};
use vaultwatch::handlers::RecordOutcome;
use vaultwatch::ports::memory::{backup_error, destinations_of, MemoryBackup};
use vaultwatch::ports::ErrorClass;
use vaultwatch_tests::*;

const EU_VAULT: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu-archive";
const ROLE: &str = "arn:aws:iam::123456789012:role/vaultwatch-copy";

fn copier(routes: &str) -> Copier<MemoryBackup> {
    let backup = MemoryBackup::new();
    backup.add_backup_job(backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json")));
    Copier {
        backup,
        routes: RouteTable::from_json(routes).unwrap(),
        copy_role: IamRoleArn::parse(ROLE).unwrap(),
        sources: SourcePolicy::default(),
    }
}

fn two_routes() -> String {
    json!([
        { "sourceVault": "primary", "destinationVaultArn": DR_VAULT,
          "lifecycle": { "moveToColdStorageAfterDays": 30, "deleteAfterDays": 365 } },
        { "sourceVault": "primary", "destinationVaultArn": EU_VAULT, "resourceTypes": ["EBS", "RDS"] },
        { "sourceVault": "primary", "destinationVaultArn": "arn:aws:backup:us-east-2:123456789012:backup-vault:dynamo-only",
          "resourceTypes": ["DynamoDB"] },
        { "sourceVault": "other", "destinationVaultArn": DR_VAULT }
    ])
    .to_string()
}

#[tokio::test]
async fn completed_backup_starts_one_copy_per_matching_route() {
    let copier = copier(&two_routes());
    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();

    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 1, "SNS lacks the vault, so the job is described");
    let started = copier.backup.started_copies();
    assert_eq!(started.len(), 2);
    assert_eq!(destinations_of(&started), [vault(DR_VAULT), vault(EU_VAULT)].into_iter().collect());
    let rp = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    for copy in &started {
        assert_eq!(copy.recovery_point, rp);
        assert_eq!(copy.source_vault.as_str(), "primary");
        assert_eq!(copy.iam_role.as_str(), ROLE);
        assert_eq!(copy.token, IdempotencyToken::for_route(&rp, &copy.destination_vault));
    }
    let dr = started.iter().find(|c| c.destination_vault.as_str() == DR_VAULT).unwrap();
    assert_eq!(dr.lifecycle.unwrap().delete_after_days, Some(365));
    // Routes + 1 calls: DescribeBackupJob, then one StartCopyJob per route; the copies' own
    // events reach the tracker, so the copier writes nothing.
    assert_eq!(copier.backup.total_calls(), started.len() + 1);
}

#[tokio::test]
async fn duplicate_completion_starts_no_second_copy() {
    let copier = copier(&two_routes());
    let event = fixture("sns/backup-job-completed.json");
    let first = copier.handle(&event).await.unwrap();
    let second = copier.handle(&event).await.unwrap();
    assert_eq!(copier.backup.started_copies().len(), 2);
    assert_eq!(first, second, "the duplicate finds the same copy jobs through the tokens");
}

#[tokio::test]
async fn an_eventbridge_completion_as_aws_documents_it_is_described_before_it_is_routed() {
    // AWS's example event has no isParent and no recoveryPointLifecycle: whether the job is nested
    // in a composite backup, or its recovery point temporary, is DescribeBackupJob's to say.
    let copier = copier(&two_routes());
    copier.handle(&fixture("eventbridge/backup-job-completed.json")).await.unwrap();
    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 1);
    assert_eq!(copier.backup.started_copies().len(), 2);
}

#[tokio::test]
async fn an_eventbridge_completion_with_the_job_record_s_members_needs_no_lookup() {
    let copier = copier(&two_routes());
    let mut event = fixture("eventbridge/backup-job-completed.json");
    event["detail"]["isParent"] = json!(false);
    event["detail"]["recoveryPointLifecycle"] = json!({ "deleteAfterDays": 35 });
    copier.handle(&event).await.unwrap();
    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 0);
    assert_eq!(copier.backup.started_copies().len(), 2);
    assert_eq!(copier.backup.total_calls(), 2, "one call per route");
}

#[tokio::test]
async fn an_eventbridge_completion_of_a_nested_job_is_not_routed_even_when_its_event_does_not_say_so() {
    let copier = copier(&two_routes());
    let event = fixture("eventbridge/backup-job-completed.json");
    let mut nested = backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json"));
    assert_eq!(nested.id.as_str(), event["detail"]["backupJobId"].as_str().unwrap());
    nested.parent_job = Some(vaultwatch::domain::BackupJobId::parse("PARENT-1").unwrap());
    copier.backup.add_backup_job(nested);
    copier.handle(&event).await.unwrap();
    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 1);
    assert!(copier.backup.started_copies().is_empty(), "a nested job is copied with its composite parent");
}

#[tokio::test]
async fn failed_and_expired_backups_are_ignored() {
    let copier = copier(&two_routes());
    let failed = copier.handle(&fixture("sns/backup-job-failed.json")).await.unwrap();
    assert_eq!(failed.outcomes[0], RecordOutcome::Skipped { reason: "backup job is FAILED, nothing to copy".into() });
    copier.handle(&sns_notification("BACKUP_JOB", "EXPIRED", BACKUP_JOB)).await.unwrap();
    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 0);
    assert!(copier.backup.started_copies().is_empty());
}

#[tokio::test]
async fn a_vault_without_routes_copies_nothing() {
    let routes = json!([{ "sourceVault": "elsewhere", "destinationVaultArn": DR_VAULT }]).to_string();
    let copier = copier(&routes);
    let outcome = copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert!(
        matches!(&outcome.outcomes[0], RecordOutcome::Handled(Copied::Copies { copies, .. }) if copies.is_empty()),
        "{outcome:?}"
    );
    assert!(copier.backup.started_copies().is_empty());
}

#[tokio::test]
async fn a_failed_route_fails_the_event_and_its_retry_completes_the_rest() {
    let copier = copier(&two_routes());
    copier.backup.fail_next(
        Call::StartCopyJob,
        1,
        backup_error("StartCopyJob", ErrorClass::Transient, "LimitExceededException"),
    );
    let err = copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap_err();
    assert_eq!(err.kind(), "AwsTransientError");
    assert_eq!(copier.backup.started_copies().len(), 1, "the other route was still attempted");

    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert_eq!(copier.backup.started_copies().len(), 2);
}

#[tokio::test]
async fn notifications_from_untrusted_publishers_are_rejected_without_any_call() {
    let mut copier = copier(&two_routes());
    copier.sources =
        SourcePolicy::parse("arn:aws:sns:us-east-1:123456789012:backup-vault-events", "123456789012").unwrap();

    let mut foreign_topic = fixture("sns/backup-job-completed.json");
    foreign_topic["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:us-east-1:123456789012:attacker-topic");
    let mut foreign_account = fixture("sns/backup-job-completed.json");
    foreign_account["Records"][0]["Sns"]["MessageAttributes"]["AccountId"]["Value"] = json!("999999999999");
    let mut no_account = fixture("eventbridge/backup-job-completed.json");
    no_account.as_object_mut().unwrap().remove("account");
    for event in [foreign_topic, foreign_account, no_account] {
        let outcome = copier.handle(&event).await.unwrap();
        assert!(matches!(outcome.outcomes[0], RecordOutcome::Rejected { .. }), "{outcome:?}");
    }
    assert_eq!(copier.backup.calls(Call::DescribeBackupJob), 0);
    assert!(copier.backup.started_copies().is_empty());

    // The genuine notification still works.
    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert_eq!(copier.backup.started_copies().len(), 2);
}

#[tokio::test]
async fn the_copies_of_one_backup_start_concurrently() {
    let memory = MemoryBackup::new();
    memory.add_backup_job(backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json")));
    let copier = Copier {
        backup: InFlight::new(memory),
        routes: RouteTable::from_json(&two_routes()).unwrap(),
        copy_role: IamRoleArn::parse(ROLE).unwrap(),
        sources: SourcePolicy::default(),
    };
    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert_eq!(copier.backup.inner.started_copies().len(), 2);
    assert_eq!(copier.backup.peak(), 2, "both routes in flight at once");
}

#[tokio::test]
async fn a_continuous_backup_is_not_copied_on_demand() {
    let copier = copier(&two_routes());
    let mut job = backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json"));
    job.recovery_point = Some(
        RecoveryPointArn::parse(
            "arn:aws:backup:us-east-1:123456789012:recovery-point:continuous:db-ABCDEFGHIJ-1a2b3c4d",
        )
        .unwrap(),
    );
    copier.backup.add_backup_job(job);
    let outcome = copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert!(copier.backup.started_copies().is_empty());
    assert_eq!(copier.backup.calls(Call::StartCopyJob), 0, "AWS would only refuse it");
    let expected = Copied::NotCopyable {
        backup_job: vaultwatch::domain::BackupJobId::parse(BACKUP_JOB).unwrap(),
        reason: "not copyable: continuous backup".into(),
    };
    assert_eq!(outcome.outcomes, [RecordOutcome::Handled(expected)]);
}

#[tokio::test]
async fn a_nested_backup_job_is_copied_with_its_composite_parent_not_alone() {
    let copier = copier(&two_routes());
    let mut job = backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json"));
    job.parent_job = Some(vaultwatch::domain::BackupJobId::parse("PARENT-BACKUP-1").unwrap());
    copier.backup.add_backup_job(job);
    copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
    assert!(copier.backup.started_copies().is_empty());

    // The same from EventBridge, which names the parent: no lookup, no copy.
    let mut event = fixture("eventbridge/backup-job-completed.json");
    event["detail"]["parentJobId"] = json!("PARENT-BACKUP-1");
    let before = copier.backup.total_calls();
    copier.handle(&event).await.unwrap();
    assert_eq!(copier.backup.total_calls(), before);
}
