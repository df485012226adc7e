//! The reconciler's missing-copy pass when AWS Backup does not simply start the copy: a passing
//! error is counted and left to the next sweep, a refusal is alerted with its cause (a role IAM
//! would not pass, or anything else), and an alert that cannot be sent is counted as an error.

use chrono::Utc;
use serde_json::json;
use vaultwatch::domain::{AlertReason, IamRoleArn, RouteTable};
use vaultwatch::handlers::reconciler::Reconciler;
use vaultwatch::ports::memory::{backup_error, transient_error, MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch::ports::{AwsError, ErrorClass};
use vaultwatch_tests::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/copy";

fn reconciler_with_one_missing_copy(
) -> Reconciler<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue, vaultwatch::ports::memory::MemoryPathFacts> {
    let routes = json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string();
    let backup = MemoryBackup::new();
    backup.add_backup_job(completed_backup(
        "BACKUP-1",
        "arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1",
        Utc::now(),
    ));
    memory_reconciler(backup, RouteTable::from_json(&routes).unwrap(), Some(IamRoleArn::parse(ROLE).unwrap()))
}

#[tokio::test]
async fn a_passing_error_is_counted_and_the_next_sweep_starts_the_copy() {
    let reconciler = reconciler_with_one_missing_copy();
    reconciler.backup.fail_next(
        Call::StartCopyJob,
        1,
        transient_error("backup", "StartCopyJob", "ThrottlingException"),
    );
    let first = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((first.missing_copies_started, first.errors, first.refused), (0, 1, 0));
    assert!(reconciler.alerts.published().is_empty());
    let second = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((second.missing_copies_started, second.errors), (1, 0));
}

async fn refused_by(error: AwsError) -> AlertReason {
    let reconciler = reconciler_with_one_missing_copy();
    reconciler.backup.fail_next(Call::StartCopyJob, 1, error);
    let summary = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((summary.refused, summary.errors), (1, 0));
    reconciler.alerts.published().remove(0).reason
}

#[tokio::test]
async fn a_refusal_is_alerted_with_its_cause() {
    let mut denied = backup_error("StartCopyJob", ErrorClass::Permanent, "AccessDeniedException");
    denied.message = format!("User: arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform: iam:PassRole on resource: {ROLE}");
    let reason = refused_by(denied).await;
    assert!(matches!(&reason, AlertReason::RoleRefused { role, .. } if role.as_str() == ROLE), "{reason:?}");

    let other = backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException");
    assert!(matches!(refused_by(other).await, AlertReason::CopyRefused { .. }));
    // Access denied for another action is not a PassRole refusal.
    let mut kms = backup_error("StartCopyJob", ErrorClass::Permanent, "AccessDeniedException");
    kms.message = "not authorized to perform: kms:Decrypt".into();
    assert!(matches!(refused_by(kms).await, AlertReason::CopyRefused { .. }));
}

#[tokio::test]
async fn an_alert_that_cannot_be_sent_is_an_error_and_the_next_sweep_tries_again() {
    let reconciler = reconciler_with_one_missing_copy();
    let refusal = backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException");
    reconciler.backup.fail_next(Call::StartCopyJob, 2, refusal);
    reconciler.alerts.fail_next(Call::Publish, 1, transient_error("sns", "Publish", "InternalError"));
    let first = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((first.refused, first.errors), (0, 1));
    assert!(reconciler.store.refusals().is_empty(), "not recorded: the next sweep asks again");
    let second = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((second.refused, second.errors), (1, 0));
    assert_eq!(reconciler.alerts.published().len(), 1);
}

/// A routed copy is not started into a path with an open incident (it would fail like the rest); it
/// is once the incident heals.
#[tokio::test]
async fn no_missing_copy_is_started_into_a_broken_path_until_it_heals() {
    use vaultwatch::domain::{CopyPath, Destination, HealedBy, PathCauseKind, PathFailure};
    use vaultwatch::ports::TrackingStore;
    let reconciler = reconciler_with_one_missing_copy();
    let failure = PathFailure {
        path: CopyPath { source_vault: vault(SOURCE_VAULT), destination_vault: vault(DR_VAULT), role: None },
        kind: PathCauseKind::KmsKey,
        status_message: PATH_FAILURE.into(),
        message_category: None,
        point: Some(affected_point("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-0")),
        destination: Destination::default(),
        check_fix: None,
    };
    let incident = reconciler.store.record_path_failure(&failure, Utc::now()).await.unwrap().incident;
    let summary = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((summary.missing_copies_started, summary.broken_paths), (0, Some(1)), "{summary:?}");
    assert!(reconciler.backup.started_copies().is_empty());

    reconciler.store.heal_incident(&incident.id, &HealedBy::PathCheck, Utc::now()).await.unwrap();
    let summary = reconciler.run(Utc::now(), || false).await.unwrap();
    assert_eq!((summary.missing_copies_started, summary.broken_paths), (1, Some(0)), "{summary:?}");
}
