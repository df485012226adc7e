//! copy-job-retrier: transient failures are retried with the same parameters and lifecycle, once per
//! failure however often it is delivered; permanent or exhausted chains raise exactly one alert.

use std::time::Duration;

use crate::logs::Logs;
use serde_json::{json, Value};
use vaultwatch::domain::{
    AlertKind, AlertReason, ClaimOwner, CopyJobState, IdempotencyToken, NotCopyable, RetryPolicy,
};
use vaultwatch::handlers::retrier::{Retrier, RetrierSettings};
use vaultwatch::handlers::HandlerError;
use vaultwatch::ports::memory::{
    backup_error, dynamodb_throttled, service_error, transient_error, MemoryAlerts, MemoryBackup, MemoryQueue,
    MemoryStore,
};
use vaultwatch::ports::{ErrorClass, RetryRequest};
use vaultwatch_tests::*;

type TestRetrier = Retrier<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue>;

fn retrier() -> TestRetrier {
    let backup = MemoryBackup::new();
    let job = failed_copy_job();
    backup.add_copy_action(job.created_by.as_ref().unwrap(), &job.destination_vault, Some(plan_copy_lifecycle()));
    backup.add_copy_job(job);
    memory_retrier(backup)
}

/// Delivers everything on the delay queue to the retrier, as the SQS event source would.
async fn deliver_due_retries(retrier: &TestRetrier) -> Value {
    wire(retrier.handle(&due_retries(&retrier.queue)).await.unwrap())
}

/// The Lambda response as it goes on the wire.
fn wire(response: impl serde::Serialize) -> Value {
    serde_json::to_value(response).unwrap()
}

fn failed_event(id: &str) -> Value {
    copy_event("FAILED", id)
}

#[tokio::test]
async fn transient_failure_starts_one_copy_with_the_original_parameters_and_plan_lifecycle() {
    let retrier = retrier();
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();

    let scheduled = retrier.queue.scheduled();
    assert_eq!(scheduled.len(), 1);
    let delay = scheduled[0].1;
    assert!(
        (Duration::from_secs(30)..=Duration::from_secs(60)).contains(&delay),
        "first retry waits half to all of the base delay: {delay:?}"
    );
    assert_eq!(delay, RetryPolicy::default().delay_before(1, &copy_id(FAILED_COPY_JOB)), "the failed job's own jitter");
    assert_eq!(retrier.backup.started_copies().len(), 0, "nothing starts before the backoff passes");

    let response = deliver_due_retries(&retrier).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let started = retrier.backup.started_copies();
    assert_eq!(started.len(), 1);
    // Exactly the reference StartCopyJob request.
    let expected = fixture("backup-api/start-copy-job-request.json");
    let copy = &started[0];
    assert_eq!(copy.recovery_point.as_str(), expected["RecoveryPointArn"]);
    assert_eq!(copy.source_vault.as_str(), expected["SourceBackupVaultName"]);
    assert_eq!(copy.destination_vault.as_str(), expected["DestinationBackupVaultArn"]);
    assert_eq!(copy.iam_role.as_str(), expected["IamRoleArn"]);
    assert_eq!(copy.token.as_str(), expected["IdempotencyToken"]);
    assert_eq!(copy.lifecycle, lifecycle_from_wire(&expected["Lifecycle"]));

    // Lineage: the new job points at the failed one and back.
    let failed = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    let new_id = failed.retried_by.expect("failed job links to its retry");
    let new_record = retrier.store.record(&new_id).unwrap();
    let lineage = new_record.lineage.unwrap();
    assert_eq!((lineage.root.as_str(), lineage.attempt), (FAILED_COPY_JOB, 1));
    assert_eq!(lineage.retry_of.unwrap().as_str(), FAILED_COPY_JOB);
    assert_eq!(failed.outcome, retry_scheduled(1));
    assert!(retrier.alerts.published().is_empty());
    // The retry's record has the copy's details from the start (its own events carry none over SNS).
    let job = failed_copy_job();
    let details = &new_record.details;
    assert_eq!(details.source_recovery_point.as_ref(), Some(&job.source_recovery_point));
    assert_eq!(details.source_vault.as_ref(), Some(&job.source_vault));
    assert_eq!(details.destination_vault.as_ref(), Some(&job.destination_vault));
    assert_eq!(
        (details.resource.as_ref(), details.resource_type.as_ref()),
        (job.resource.as_ref(), job.resource_type.as_ref())
    );
    assert!(details.resource.is_some() && details.resource_type.is_some());
}

#[tokio::test]
async fn duplicate_failure_starts_one_copy() {
    let retrier = retrier();
    let event = fixture("sns/copy-job-failed.json");
    for _ in 0..3 {
        retrier.handle(&event).await.unwrap();
    }
    assert_eq!(retrier.queue.scheduled().len(), 1, "one retry scheduled for three deliveries");
    assert_eq!(retrier.backup.calls(Call::DescribeCopyJob), 1, "duplicates stop at the claim");

    // Even if the queue delivers the retry twice, the token makes the second start a no-op.
    let (request, _) = retrier.queue.scheduled().remove(0);
    let body = serde_json::to_string(&request).unwrap();
    let twice = sqs_event(&[("a".into(), body.clone()), ("b".into(), body)]);
    retrier.handle(&twice).await.unwrap();
    assert_eq!(retrier.backup.started_copies().len(), 1);
    assert_eq!(retrier.backup.calls(Call::StartCopyJob), 2);
}

/// Issue 21 item 11: the destination's type, lock state and key, which DescribeCopyJob reports and
/// the notification does not, reach the job's record and the alert (no call made for them).
#[tokio::test]
async fn the_destination_aws_describes_is_recorded_and_told_in_the_alert() {
    use vaultwatch::domain::{Destination, KmsKeyArn, VaultLockState, VaultType};
    let key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let destination = Destination {
        vault_type: Some(VaultType::LogicallyAirGapped),
        lock_state: Some(VaultLockState::Locked),
        encryption_key: Some(KmsKeyArn::parse(key).unwrap()),
    };
    let backup = MemoryBackup::new();
    let mut job = failed_copy_job();
    job.destination = destination.clone();
    job.status_message = Some(POINT_FAILURE.into());
    backup.add_copy_job(job);
    let retrier = memory_retrier(backup);
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();

    let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.details.destination, destination);
    let alerts = retrier.alerts.published();
    let body = alerts[0].body();
    assert!(body.contains("Destination:       logically air-gapped, locked\n"), "{body}");
    assert!(body.contains(&format!("Destination key:   {key}\n")), "{body}");
    let chat = serde_json::to_value(alerts[0].notification()).unwrap().to_string();
    assert!(chat.contains("logically air-gapped, locked") && chat.contains(key), "{chat}");
    assert_eq!(retrier.backup.calls(Call::DescribeCopyJob), 1, "the describe made anyway told it all");
}

#[tokio::test]
async fn permanent_failure_alerts_once_and_never_copies() {
    let retrier = retrier();
    let id = copy_id(FAILED_COPY_JOB);
    retrier.backup.set_copy_state(&id, CopyJobState::Failed, Some(POINT_FAILURE));
    for _ in 0..2 {
        retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    }
    assert!(retrier.queue.scheduled().is_empty());
    assert!(retrier.backup.started_copies().is_empty());
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert!(matches!(alert.reason, AlertReason::PermanentFailure { .. }));
    assert_eq!(alert.attempts, 1);
    assert_eq!(alert.source_vault.as_str(), SOURCE_VAULT);
    assert_eq!(alert.destination_vault.as_str(), DR_VAULT);
    let body = alert.body();
    for part in [FAILED_COPY_JOB, "vol-0a1b2c3d4e5f60718", "dr-copy", "50 user tags", "Attempts:          1"] {
        assert!(body.contains(part), "alert body lacks {part}:\n{body}");
    }
    assert_eq!(retrier.store.record(&id).unwrap().outcome, alerted(AlertKind::PermanentFailure));
    assert!(retrier.alerts.incident_messages().is_empty(), "a recovery point's failure is no path's");
}

#[tokio::test]
async fn a_path_failure_opens_the_paths_incident_once_and_never_copies() {
    use vaultwatch::domain::{IncidentMessage, PathCauseKind};
    let retrier = retrier();
    let id = copy_id(FAILED_COPY_JOB);
    retrier.backup.set_copy_state(&id, CopyJobState::Failed, Some(PATH_FAILURE));
    let mut responses = Vec::new();
    for _ in 0..2 {
        responses.push(wire(retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap()));
    }
    assert!(retrier.queue.scheduled().is_empty() && retrier.backup.started_copies().is_empty());
    assert!(retrier.alerts.published().is_empty(), "no alert of the copy's own");
    let messages = retrier.alerts.incident_messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let IncidentMessage::Opened(incident) = &messages[0] else { panic!("{messages:?}") };
    assert_eq!(incident.id.key.cause, PathCauseKind::KmsKey);
    assert_eq!(
        (incident.path.source_vault.as_str(), incident.path.destination_vault.as_str()),
        (SOURCE_VAULT, DR_VAULT)
    );
    assert_eq!(incident.affected, 1);
    let first = incident.first.as_ref().expect("the first affected recovery point");
    assert_eq!(first.copy_job.as_ref(), Some(&id));
    // What the backfill's copy needs: the plan rule whose CopyAction lifecycle it looks up then.
    assert_eq!((first.lifecycle, &first.plan_rule), (None, &failed_copy_job().created_by));
    let body = messages[0].body();
    for part in [SOURCE_VAULT, DR_VAULT, "1234abcd", "What to do:", RECOVERY_POINT] {
        assert!(body.contains(part), "incident lacks {part}:\n{body}");
    }
    let thread = incident.id.thread_id();
    assert_eq!(
        responses[0]["outcomes"][0],
        json!({ "outcome": "incident", "copyJob": FAILED_COPY_JOB, "incident": thread, "cause": "kms_key", "opened": true, "alerted": true })
    );
    assert_eq!(responses[1]["outcomes"][0]["outcome"], "duplicate");
    let record = retrier.store.record(&id).unwrap();
    assert_eq!(record.outcome.incident.as_deref(), Some(thread.as_str()));
    assert_eq!(record.outcome.alerted, None);
}

/// 30 recovery points of one night fail on a path whose key is disabled: one alert, 30 counted;
/// a point of another path, or another cause on the path, is another incident.
#[tokio::test]
async fn thirty_failures_on_one_broken_path_send_one_alert() {
    use vaultwatch::domain::IncidentMessage;
    let retrier = retrier();
    for n in 0..30 {
        let mut job = failed_copy_job();
        job.id = copy_id(&format!("NIGHT-{n:02}"));
        job.source_recovery_point =
            vaultwatch::domain::RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        retrier.backup.add_copy_job(job);
        retrier.handle(&failed_event(&format!("NIGHT-{n:02}"))).await.unwrap();
    }
    let messages = retrier.alerts.incident_messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(matches!(&messages[0], IncidentMessage::Opened(incident) if incident.affected == 1));
    let incident = retrier.store.incidents().pop().unwrap();
    assert_eq!(incident.affected, 30);
    assert_eq!(retrier.store.affected_points(&incident.id).len(), 30);
    assert!(retrier.alerts.published().is_empty());

    // The same path, another cause: a second incident, its own alert.
    let mut job = failed_copy_job();
    job.id = copy_id("ROLE-1");
    job.status_message = Some("Insufficient privileges to perform this action.".into());
    retrier.backup.add_copy_job(job);
    retrier.handle(&failed_event("ROLE-1")).await.unwrap();
    assert_eq!(retrier.alerts.incident_messages().len(), 2);
}

/// Four invocations meet failures of one broken path at once: one incident, one alert.
#[tokio::test]
async fn retriers_racing_on_one_broken_path_open_one_incident() {
    let retrier = retrier();
    let ids: Vec<String> = (0..4).map(|n| format!("RACE-{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        let mut job = failed_copy_job();
        job.id = copy_id(id);
        job.source_recovery_point =
            vaultwatch::domain::RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        retrier.backup.add_copy_job(job);
    }
    let events: Vec<Value> = ids.iter().map(|id| failed_event(id)).collect();
    let handled = futures_util::future::join_all(events.iter().map(|event| retrier.handle(event))).await;
    assert!(handled.iter().all(Result::is_ok));
    assert_eq!(retrier.alerts.incident_messages().len(), 1);
    assert_eq!(retrier.store.incidents().len(), 1);
    assert_eq!(retrier.store.incidents()[0].affected, 4);
}

/// The incident's alert is sent by a later failure when the one that opened it could not send it,
/// and a "still broken" digest goes out once a day while failures keep coming (none with 0 hours).
#[tokio::test]
async fn an_incident_alert_survives_a_failed_publish_and_digests_come_daily() {
    use std::sync::Arc;
    use vaultwatch::domain::IncidentMessage;
    use vaultwatch::ports::memory::MemoryClock;
    let clock = MemoryClock::at("2026-12-01T02:00:00Z".parse().unwrap());
    let retrier = retrier().with_clock(Arc::new(clock.clone()));
    let fail = |n: usize| {
        let mut job = failed_copy_job();
        job.id = copy_id(&format!("NIGHT-{n:02}"));
        job.source_recovery_point =
            vaultwatch::domain::RecoveryPointArn::parse(&format!("{RECOVERY_POINT}-{n}")).unwrap();
        job.status_message = Some(PATH_FAILURE.into());
        job
    };
    retrier.backup.add_copy_job(fail(0));
    retrier.alerts.fail_next(Call::PublishIncident, 1, transient_error("sns", "Publish", "ThrottlingException"));
    assert!(retrier.handle(&failed_event("NIGHT-00")).await.is_err(), "the failure is delivered again");
    assert!(retrier.alerts.incident_messages().is_empty());
    retrier.handle(&failed_event("NIGHT-00")).await.unwrap();
    assert_eq!(retrier.alerts.incident_messages().len(), 1, "sent on the redelivery");
    assert_eq!(retrier.store.incidents()[0].affected, 1, "counted once");

    for n in 1..=3 {
        clock.advance(chrono::Duration::hours(12));
        retrier.backup.add_copy_job(fail(n));
        retrier.handle(&failed_event(&format!("NIGHT-{n:02}"))).await.unwrap();
    }
    let messages = retrier.alerts.incident_messages();
    let digests: Vec<_> = messages.iter().filter(|m| matches!(m, IncidentMessage::Digest(_))).collect();
    assert_eq!(digests.len(), 1, "at 24 h, not at 12 h or 36 h: {messages:?}");
    assert!(digests[0].body().contains("3 recovery points without a copy"), "{}", digests[0].body());
}
#[tokio::test]
async fn exhausted_chain_alerts_once_after_max_attempts() {
    let retrier = retrier();
    let mut failing = copy_id(FAILED_COPY_JOB);
    let mut tokens = Vec::new();
    for attempt in 1..=3 {
        retrier.handle(&failed_event(failing.as_str())).await.unwrap();
        let scheduled = retrier.queue.scheduled();
        assert_eq!(scheduled.len(), 1);
        let step = Duration::from_secs(60 << (attempt - 1));
        assert!((step / 2..=step).contains(&scheduled[0].1), "backoff doubles, with jitter: {:?}", scheduled[0].1);
        assert_eq!(scheduled[0].1, RetryPolicy::default().delay_before(attempt, &failing));
        deliver_due_retries(&retrier).await;
        let next = retrier.store.record(&failing).unwrap().retried_by.unwrap();
        tokens.push(retrier.backup.started_copies().last().unwrap().token.clone());
        // The retry fails again, still transiently.
        retrier.backup.set_copy_state(&next, CopyJobState::Failed, Some(PASSING_FAILURE));
        failing = next;
    }
    assert_eq!(tokens, (1..=3).map(|n| IdempotencyToken::for_retry(&copy_id(FAILED_COPY_JOB), n)).collect::<Vec<_>>());
    // Third retry failed: no fourth attempt, one alert, even when delivered twice.
    retrier.handle(&failed_event(failing.as_str())).await.unwrap();
    retrier.handle(&failed_event(failing.as_str())).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty());
    assert_eq!(retrier.backup.started_copies().len(), 3);
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1);
    assert!(matches!(alerts[0].reason, AlertReason::AttemptsExhausted { .. }));
    assert_eq!(alerts[0].attempts, 4);
    assert_eq!(alerts[0].original_job.as_ref().unwrap().as_str(), FAILED_COPY_JOB);
    // Every retry kept the plan rule's lifecycle, even though AWS does not echo it back.
    assert!(retrier.backup.started_copies().iter().all(|c| c.lifecycle == Some(plan_copy_lifecycle())));
}

#[tokio::test]
async fn a_failed_alert_is_retried_and_sent_exactly_once() {
    let retrier = retrier();
    retrier.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some("Recovery point not found"));
    retrier.alerts.fail_next(Call::Publish, 1, transient_error("sns", "Publish", "InternalError"));
    let err = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap_err();
    assert_eq!(err.kind(), "AwsTransientError");
    assert!(retrier.alerts.published().is_empty());
    // Lambda retries the event: the released claims let it through, and it alerts once.
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.alerts.published().len(), 1);
}

#[tokio::test]
async fn a_delivery_during_another_ones_work_is_told_to_come_back() {
    use chrono::Utc;
    use vaultwatch::domain::ClaimKind;
    use vaultwatch::ports::TrackingStore;

    let retrier = retrier();
    let id = copy_id(FAILED_COPY_JOB);
    // Another invocation holds the claim right now.
    let another = ClaimOwner::unique();
    retrier.store.claim(&id, ClaimKind::FailureHandling, &another, Utc::now(), Duration::from_secs(90)).await.unwrap();
    let err = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap_err();
    assert!(matches!(err, HandlerError::InProgress(_)), "{err}");
    assert!(retrier.queue.scheduled().is_empty());

    // A claim abandoned past its lease (the holder crashed) is taken over.
    let stale = Utc::now() - chrono::Duration::seconds(600);
    let other = copy_id("OTHER-JOB");
    retrier.store.claim(&other, ClaimKind::FailureHandling, &another, stale, Duration::from_secs(90)).await.unwrap();
    let (lease, owner) = (Duration::from_secs(90), ClaimOwner::unique());
    let claim = retrier.store.claim(&other, ClaimKind::FailureHandling, &owner, Utc::now(), lease).await.unwrap();
    assert!(matches!(claim, vaultwatch::domain::Claim::Acquired(_)));
}

#[tokio::test]
async fn a_job_not_yet_failed_in_the_api_is_retried_later() {
    let retrier = retrier();
    let id = copy_id(FAILED_COPY_JOB);
    retrier.backup.set_copy_state(&id, CopyJobState::Running, None);
    let err = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap_err();
    assert!(matches!(err, HandlerError::StateNotSettled(_, CopyJobState::Running)), "{err}");
    retrier.backup.set_copy_state(&id, CopyJobState::Failed, Some("Try again later"));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1, "the claim was released for the redelivery");
}

#[tokio::test]
async fn throttled_start_is_reported_to_sqs_and_rejected_start_alerts() {
    let retrier = retrier();
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    let (request, _) = retrier.queue.drain().remove(0);
    let body = serde_json::to_string(&request).unwrap();

    retrier.backup.fail_next(
        Call::StartCopyJob,
        1,
        backup_error("StartCopyJob", ErrorClass::Transient, "ThrottlingException"),
    );
    let response = wire(retrier.handle(&sqs_event(&[("m1".into(), body.clone())])).await.unwrap());
    assert_eq!(response, json!({ "batchItemFailures": [{ "itemIdentifier": "m1" }] }));
    assert!(retrier.alerts.published().is_empty());

    retrier.backup.fail_next(
        Call::StartCopyJob,
        1,
        backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException"),
    );
    let response = wire(retrier.handle(&sqs_event(&[("m1".into(), body)])).await.unwrap());
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1);
    // The refusal is carried as it is, and read in words.
    let AlertReason::RetryRejected { refusal } = &alerts[0].reason else { panic!("{:?}", alerts[0].reason) };
    assert_eq!(
        (refusal.class, refusal.code.as_deref()),
        (ErrorClass::Permanent, Some("InvalidParameterValueException"))
    );
    let body = alerts[0].body();
    assert!(body.contains("backup StartCopyJob failed (permanent, InvalidParameterValueException): "), "{body}");
    assert!(!body.contains("Permanent"), "{body}");
    assert!(retrier.backup.started_copies().is_empty());
}

#[tokio::test]
async fn a_refused_retry_message_logs_serdes_error_not_the_body() {
    let retrier = retrier();
    let logs = Logs::default();
    let body = r#"{"note":"plain-words","secret":"s3cr3t-value"}"#;
    let response = logs.during(retrier.handle(&sqs_event(&[("bad".into(), body.into())]))).await.unwrap();
    assert_eq!(wire(response), json!({ "batchItemFailures": [{ "itemIdentifier": "bad" }] }));
    let text = logs.text();
    let line = text.lines().find(|line| line.contains("retry message failed")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("message body is not a retry request: missing field"), "serde's error: {line}");
    assert!(line.contains("\"message_id\":\"bad\""), "{line}");
    assert!(!text.contains("s3cr3t") && !text.contains("plain-words"), "no payload in the logs: {text}");
}

#[tokio::test]
async fn malformed_retry_messages_stay_on_the_queue() {
    let retrier = retrier();
    let response = wire(retrier.handle(&sqs_event(&[("bad".into(), "{\"not\":\"a retry\"}".into())])).await.unwrap());
    assert_eq!(response, json!({ "batchItemFailures": [{ "itemIdentifier": "bad" }] }));
    assert!(retrier.backup.started_copies().is_empty());
}

#[tokio::test]
async fn other_events_are_skipped_without_calls() {
    let retrier = retrier();
    for event in [
        fixture("sns/copy-job-started.json"),
        fixture("sns/copy-job-successful.json"),
        fixture("sns/backup-job-completed.json"),
        fixture("sns/restore-job-completed.json"),
    ] {
        let outcome = wire(retrier.handle(&event).await.unwrap());
        assert_eq!(outcome["outcomes"][0]["outcome"], "skipped", "{outcome}");
    }
    assert_eq!(retrier.backup.calls(Call::DescribeCopyJob), 0);
    assert!(retrier.queue.scheduled().is_empty());
    // Only the completed copy is looked up, in case a backfill waits on it; a started one is not.
    assert_eq!(retrier.store.calls(Call::GetMany), 1);
}

#[tokio::test]
async fn malformed_notification_is_an_error_for_lambda_to_retry() {
    let retrier = retrier();
    let err = retrier.handle(&json!({ "Records": [{ "Sns": {} }] })).await.unwrap_err();
    assert_eq!(err.kind(), "MalformedNotification");
}

#[test]
fn retry_requests_round_trip_through_the_queue_format() {
    let body = json!({
        "failedJob": FAILED_COPY_JOB,
        "lineage": { "root": FAILED_COPY_JOB, "attempt": 1, "retryOf": FAILED_COPY_JOB },
        "recoveryPoint": RECOVERY_POINT,
        "sourceVault": SOURCE_VAULT,
        "destinationVault": DR_VAULT,
        "iamRole": "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole",
        "lifecycle": { "moveToColdStorageAfterDays": 30, "deleteAfterDays": 365 }
    });
    let request: RetryRequest = serde_json::from_value(body).unwrap();
    assert_eq!(request.lifecycle, Some(plan_copy_lifecycle()));
    let again: RetryRequest = serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
    assert_eq!(again, request);
}

#[tokio::test]
async fn the_retries_of_one_sqs_batch_start_concurrently() {
    let backup = InFlight::new(MemoryBackup::new());
    let retrier =
        Retrier::new(&backup, MemoryStore::new(), MemoryAlerts::new(), MemoryQueue::new(), RetrierSettings::default());
    let job = failed_copy_job();
    let messages: Vec<(String, String)> = (0..10)
        .map(|n| {
            let failed = copy_id(&format!("FAILED-{n}"));
            let request = RetryRequest {
                failed_job: failed.clone(),
                lineage: vaultwatch::domain::Lineage::original(&failed).next_attempt(&failed),
                recovery_point: job.source_recovery_point.clone(),
                source_vault: job.source_vault.clone(),
                destination_vault: job.destination_vault.clone(),
                iam_role: job.iam_role.clone().unwrap(),
                lifecycle: None,
                plan_rule: None,
                resource: None,
                resource_type: None,
                last_status_message: String::new(),
            };
            (format!("m{n}"), serde_json::to_string(&request).unwrap())
        })
        .collect();
    let response = wire(retrier.handle(&sqs_event(&messages)).await.unwrap());
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    assert_eq!(backup.inner.started_copies().len(), 10);
    assert_eq!(backup.peak(), 10, "all ten starts were in flight at once");
}

// ---------------------------------------------------------------- real AWS Backup semantics

const CONTINUOUS_POINT: &str = "arn:aws:backup:us-east-1:123456789012:recovery-point:continuous:db-ABCDEFGHIJ-1a2b3c4d";

/// The retrier with the reference failed job changed by `change`.
fn retrier_with(change: impl FnOnce(&mut vaultwatch::domain::CopyJob)) -> TestRetrier {
    let retrier = retrier();
    let mut job = failed_copy_job();
    change(&mut job);
    retrier.backup.add_copy_job(job);
    retrier
}

fn role(name: &str) -> vaultwatch::domain::IamRoleArn {
    vaultwatch::domain::IamRoleArn::parse(&format!("arn:aws:iam::123456789012:role/{name}")).unwrap()
}

fn only_alert(retrier: &TestRetrier) -> vaultwatch::domain::Alert {
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    alerts.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_continuous_backup_is_never_retried_and_alerts_once_with_the_reason() {
    let retrier = retrier_with(|job| {
        job.source_recovery_point = vaultwatch::domain::RecoveryPointArn::parse(CONTINUOUS_POINT).unwrap()
    });
    for _ in 0..2 {
        retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    }
    assert!(retrier.queue.scheduled().is_empty() && retrier.backup.started_copies().is_empty());
    let alert = only_alert(&retrier);
    assert_eq!(alert.reason, AlertReason::NotCopyable(vaultwatch::domain::NotCopyable::Continuous));
    assert!(alert.body().contains("not copyable: continuous backup"), "{}", alert.body());
    let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.outcome, alerted(AlertKind::NotCopyable { why: NotCopyable::Continuous }));
    assert_eq!(retrier.backup.calls(Call::DescribeRecoveryPoint), 0, "the ARN says it all");
}

#[tokio::test]
async fn the_alerts_command_keeps_the_lifecycle_the_retry_would_have() {
    // A plan's copy that failed for good: AWS reports no lifecycle on it, its plan rule's CopyAction has one.
    let retrier = retrier();
    retrier.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some(POINT_FAILURE));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    let alert = only_alert(&retrier);
    assert_eq!(alert.lifecycle, Some(plan_copy_lifecycle()), "the plan rule's CopyAction lifecycle");
    let lifecycle = plan_copy_lifecycle();
    let days = |days: Option<i64>| days.unwrap().to_string();
    let command = vaultwatch::domain::copy_command(&alert).unwrap();
    assert!(command.contains(" --lifecycle '{"), "{command}");
    assert!(command.contains(&format!("\"DeleteAfterDays\":{}", days(lifecycle.delete_after_days))), "{command}");
    assert!(alert.body().contains(&command), "{}", alert.body());
    // The job's own lifecycle comes first, and needs no plan.
    let retrier = retrier_with(|job| {
        job.destination_lifecycle =
            Some(vaultwatch::domain::Lifecycle { delete_after_days: Some(35), ..Default::default() })
    });
    retrier.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some(POINT_FAILURE));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(only_alert(&retrier).lifecycle.and_then(|l| l.delete_after_days), Some(35));
    assert_eq!(retrier.backup.calls(Call::GetBackupPlan), 0);
}

/// The fixture's recovery point, warm and with no lifecycle.
fn warm_recovery_point() -> vaultwatch::domain::RecoveryPoint {
    use vaultwatch::domain::{RecoveryPoint, RecoveryPointArn, StorageClass};
    RecoveryPoint {
        arn: RecoveryPointArn::parse(RECOVERY_POINT).unwrap(),
        storage_class: Some(StorageClass::Warm),
        status: Some("COMPLETED".into()),
        moves_to_cold_at: None,
        deleted_at: None,
        created_at: None,
    }
}

#[tokio::test]
async fn a_source_that_is_cold_gone_or_expiring_before_the_retry_alerts_now() {
    use chrono::Utc;
    use vaultwatch::domain::{RecoveryPoint, RecoveryPointArn, StorageClass};
    let point = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    let warm = warm_recovery_point();
    // The first retry is due in 60 s: a point deleted in 30 s will be gone by then.
    let in_30s = Utc::now() + chrono::Duration::seconds(30);
    let cases = [
        (Some(RecoveryPoint { storage_class: Some(StorageClass::Cold), ..warm.clone() }), "in cold storage"),
        (None, "deleted or expired"),
        (Some(RecoveryPoint { deleted_at: Some(in_30s), ..warm.clone() }), "before the retry is due"),
        (Some(RecoveryPoint { moves_to_cold_at: Some(in_30s), ..warm.clone() }), "moves to cold storage"),
    ];
    for (described, expected) in cases {
        let retrier = retrier();
        retrier.backup.set_recovery_point(&point, described);
        retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
        assert!(retrier.queue.scheduled().is_empty(), "{expected}: no retry");
        let alert = only_alert(&retrier);
        assert!(matches!(alert.reason, AlertReason::NotCopyable(_)), "{expected}");
        assert!(alert.reason.detail().contains(expected), "{}", alert.reason.detail());
    }
    // Still warm an hour after the retry is due: the retry is scheduled.
    let retrier = retrier();
    let later = RecoveryPoint { deleted_at: Some(Utc::now() + chrono::Duration::hours(1)), ..warm };
    retrier.backup.set_recovery_point(&point, Some(later));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1);
    assert!(retrier.alerts.published().is_empty());
}

/// Issue 21 item 14: the retrier's calendar time is its clock's, so whether a source outlives the
/// retry's wait, when its claims were taken and when its retry started are judged as of that time.
#[tokio::test]
async fn the_retrier_judges_a_retrys_wait_by_its_clock() {
    use std::sync::Arc;
    use vaultwatch::domain::{RecoveryPoint, RecoveryPointArn};
    use vaultwatch::ports::memory::MemoryClock;
    let then = "2031-03-01T02:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let point = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    // Deleted 30 s after the clock's now: gone before the first retry is due (60 s or more).
    let expiring = RecoveryPoint { deleted_at: Some(then + chrono::Duration::seconds(30)), ..warm_recovery_point() };
    let retrier = retrier().with_clock(Arc::new(MemoryClock::at(then)));
    retrier.backup.set_recovery_point(&point, Some(expiring));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty(), "judged by the wall clock, the point outlives the wait");
    assert!(only_alert(&retrier).reason.detail().contains("before the retry is due"));
}

#[tokio::test]
async fn a_nested_jobs_failure_is_left_to_its_composite_parent() {
    let parent = copy_id("PARENT-0001");
    let retrier = retrier_with(|job| job.composite = vaultwatch::domain::Composite::Child { parent: parent.clone() });
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty() && retrier.alerts.published().is_empty());
    let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.details.parent_job, Some(parent), "the record links the child to its parent");
    assert_eq!(record.outcome.handled_with_parent, Some(copy_id("PARENT-0001")));
    // The job's own ParentJobId names the parent: no listing of the parent's children (ByParentJobId).
    assert_eq!((retrier.backup.calls(Call::DescribeCopyJob), retrier.backup.calls(Call::ListCopyJobs)), (1, 0));
}

#[tokio::test]
async fn a_partial_composite_parent_counts_as_failed_and_is_retried_whole() {
    let retrier = retrier_with(|job| {
        job.state = CopyJobState::Partial;
        job.composite = vaultwatch::domain::Composite::Parent { children: Some(3) };
    });
    retrier.handle(&copy_event("PARTIAL", FAILED_COPY_JOB)).await.unwrap();
    let scheduled = retrier.queue.scheduled();
    assert_eq!(scheduled.len(), 1, "PARTIAL is a failure of the whole");
    assert_eq!(scheduled[0].0.recovery_point.as_str(), RECOVERY_POINT, "the composite recovery point again");
    let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
    assert_eq!(record.details.child_jobs, Some(3));
}

#[tokio::test]
async fn a_retry_passes_the_jobs_role_if_allowed_else_the_configured_one_else_alerts_naming_it() {
    use vaultwatch::domain::PassableRoles;
    let plan_role = role("plan-role");
    // The job's own role is passable: the retry reuses it.
    let mut retrier = retrier_with(|job| job.iam_role = Some(role("plan-role")));
    retrier.settings.roles = PassableRoles::new(vec![plan_role.clone()], Some(role("backup")));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled()[0].0.iam_role, plan_role);

    // Not passable: the configured role instead.
    let mut retrier = retrier_with(|job| job.iam_role = Some(role("someone-elses")));
    retrier.settings.roles = PassableRoles::new(vec![plan_role.clone()], Some(role("backup")));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled()[0].0.iam_role, role("backup"));

    // Neither: an alert that names the role.
    let mut retrier = retrier_with(|job| job.iam_role = Some(role("someone-elses")));
    retrier.settings.roles = PassableRoles::new(vec![plan_role], None);
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty());
    let alert = only_alert(&retrier);
    assert!(alert.body().contains("role/someone-elses"), "{}", alert.body());
}

#[tokio::test]
async fn a_role_iam_will_not_let_us_pass_alerts_with_the_role() {
    let retrier = retrier();
    retrier.backup.set_passable_roles(vec![role("backup")]);
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    let response = deliver_due_retries(&retrier).await;
    assert_eq!(response, json!({ "batchItemFailures": [] }), "a refusal is alerted, not redelivered");
    let alert = only_alert(&retrier);
    assert!(matches!(alert.reason, AlertReason::RoleRefused { .. }), "{:?}", alert.reason);
    assert!(alert.body().contains("AWSBackupDefaultServiceRole") && alert.body().contains("iam:PassRole"));
    // The principal IAM named, from the refusal's message.
    let AlertReason::RoleRefused { refusal, .. } = &alert.reason else { unreachable!() };
    assert_eq!(refusal.code.as_deref(), Some("AccessDeniedException"));
    let principal = "arn:aws:sts::123456789012:assumed-role/vaultwatch/fn";
    assert!(vaultwatch::domain::advise(&alert).resources.contains(&principal.to_owned()));
    assert!(alert.body().contains("(permanent, AccessDeniedException)"), "{}", alert.body());
}

#[tokio::test]
async fn a_destination_outside_the_copy_targets_alerts_instead_of_failing_with_access_denied() {
    let mut retrier = retrier();
    retrier.settings.targets =
        vaultwatch::domain::CopyTargets::parse("arn:aws:backup:*:123456789012:backup-vault:eu-*").unwrap();
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty());
    assert_eq!(only_alert(&retrier).reason, AlertReason::DestinationNotAllowed);
}

#[tokio::test]
async fn an_unrecognised_failure_gets_one_retry_then_an_alert_quoting_aws() {
    let odd = "The copy could not be completed: error 0x2f in stage CLONE";
    let retrier = retrier_with(|job| job.status_message = Some(odd.into()));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1, "one retry");
    deliver_due_retries(&retrier).await;
    let retry = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap().retried_by.unwrap();
    retrier.backup.set_copy_state(&retry, CopyJobState::Failed, Some(odd));
    retrier.handle(&failed_event(retry.as_str())).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty(), "no second retry for an unrecognised failure");
    let alert = only_alert(&retrier);
    assert!(matches!(alert.reason, AlertReason::UnrecognisedFailure { .. }));
    let body = alert.body();
    assert!(body.contains("unrecognised") && body.contains(odd), "{body}");
}

#[tokio::test]
async fn the_message_category_decides_before_the_text() {
    let retrier = retrier_with(|job| {
        job.message_category = Some("AccessDenied".into());
        job.status_message = Some("Copy job failed. Try again later.".into());
    });
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty());
    let incident = retrier.store.incidents().pop().expect("an access denial is its path's");
    assert_eq!(incident.id.key.cause, vaultwatch::domain::PathCauseKind::Access);
}

#[tokio::test(start_paused = true)]
async fn an_alert_is_published_once_even_when_closing_its_claim_fails_for_a_while() {
    let retrier = retrier_with(|job| job.status_message = Some(POINT_FAILURE.into()));
    // The store refuses the write that records the alert twice, then recovers: the handler
    // retries it instead of giving the claim back for a redelivery to publish again.
    retrier.store.fail_next(Call::FinishClaim, 2, dynamodb_throttled("UpdateItem"));
    let started = tokio::time::Instant::now();
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    // Backing off between the tries (on the paused clock): 25 ms, then four times as long.
    assert_eq!(started.elapsed(), Duration::from_millis(25 + 100));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.alerts.published().len(), 1);
    assert_eq!(retrier.store.calls(Call::FinishClaim), 3);

    // A store that stays down: the invocation fails, but the claim is kept, so a redelivery
    // within the lease does not publish a second time.
    let retrier = retrier_with(|job| job.status_message = Some(POINT_FAILURE.into()));
    retrier.store.fail_next(Call::FinishClaim, 100, dynamodb_throttled("UpdateItem"));
    assert!(retrier.handle(&fixture("sns/copy-job-failed.json")).await.is_err());
    assert_eq!(retrier.store.calls(Call::FinishClaim), 4, "tried four times, then left to the lease");
    let again = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap_err();
    assert_eq!(again.kind(), "InProgress");
    assert_eq!(retrier.alerts.published().len(), 1);

    // A refusal that will not pass is not tried again: the invocation fails at once.
    let retrier = retrier_with(|job| job.status_message = Some(POINT_FAILURE.into()));
    retrier.store.fail_next(Call::FinishClaim, 1, service_error("dynamodb", "UpdateItem", "ValidationException"));
    let started = tokio::time::Instant::now();
    assert!(retrier.handle(&fixture("sns/copy-job-failed.json")).await.is_err());
    assert_eq!((retrier.store.calls(Call::FinishClaim), started.elapsed()), (1, Duration::ZERO));
}

#[tokio::test]
async fn archive_opt_in_of_the_failed_job_passes_through_to_the_retry() {
    use vaultwatch::domain::{DeleteAfterEvent, Lifecycle};
    let reported = Lifecycle {
        delete_after_days: Some(-1),
        opt_in_to_archive_for_supported_resources: Some(true),
        delete_after_event: Some(DeleteAfterEvent::DeleteAfterCopy),
        ..Lifecycle::default()
    };
    let retrier = retrier_with(|job| job.destination_lifecycle = Some(reported));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    deliver_due_retries(&retrier).await;
    let started = retrier.backup.started_copies();
    assert_eq!(started[0].lifecycle, Some(reported), "kept as reported; the adapter sends all but DeleteAfterEvent");
    assert_eq!(started[0].lifecycle.unwrap().as_input().delete_after_event, None);
}

#[tokio::test]
async fn an_s3_continuous_backup_is_known_by_its_plan_rule_and_alerted_not_retried() {
    let retrier = retrier_with(|job| job.resource_type = Some("S3".into()));
    let rule = failed_copy_job().created_by.unwrap();
    retrier.backup.set_continuous_rule(&rule);
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert!(retrier.queue.scheduled().is_empty());
    assert_eq!(only_alert(&retrier).reason, AlertReason::NotCopyable(vaultwatch::domain::NotCopyable::Continuous));

    // The same failure of an S3 snapshot backup (a rule without continuous backup) is retried.
    let retrier = retrier_with(|job| job.resource_type = Some("S3".into()));
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1);
    assert_eq!(retrier.backup.calls(Call::GetBackupPlan), 1, "the rule was asked");
}

#[tokio::test]
async fn a_copy_state_spelled_unknown_is_decided_by_describing_the_job() {
    // The notification's State is no CopyJobState (AWS documents no spelling): the API decides.
    let retrier = retrier();
    let response = wire(retrier.handle(&fixture("sns/copy-job-unknown-state.json")).await.unwrap());
    assert_eq!(retrier.backup.calls(Call::DescribeCopyJob), 1);
    assert_eq!(retrier.queue.scheduled().len(), 1, "the job is FAILED: retried as usual");
    assert!(!response.to_string().contains("SECRET-CANARY"), "the unknown value is not echoed: {response}");

    let completed = self::retrier();
    completed.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Completed, None);
    let response = wire(completed.handle(&fixture("sns/copy-job-unknown-state.json")).await.unwrap());
    assert_eq!(response, json!({ "outcomes": [{ "outcome": "skipped", "reason": "copy job is COMPLETED" }] }));
    assert!(completed.queue.scheduled().is_empty() && completed.alerts.published().is_empty());
}

#[tokio::test]
async fn a_congested_chain_waits_longest_is_told_once_past_awss_two_hour_window_and_goes_on_for_a_day() {
    use vaultwatch::domain::{AttemptRecord, CONGESTION_ATTEMPTS, CONGESTION_LAST_ATTEMPT};
    let retrier = retrier();
    let mut failing = copy_id(FAILED_COPY_JOB);
    retrier.backup.set_copy_state(&failing, CopyJobState::Failed, Some(LIMIT_FAILURE));
    for attempt in 1..=CONGESTION_LAST_ATTEMPT {
        let response = wire(retrier.handle(&failed_event(failing.as_str())).await.unwrap());
        let scheduled = retrier.queue.scheduled();
        assert_eq!(scheduled.len(), 1, "attempt {attempt}: a retry");
        assert!(
            (Duration::from_secs(450)..=Duration::from_secs(900)).contains(&scheduled[0].1),
            "{:?}",
            scheduled[0].1
        );
        // Told as the path's congestion incident: once, however many chains it holds back.
        let told = retrier.alerts.incident_messages().len();
        assert!(retrier.alerts.published().is_empty(), "attempt {attempt}: no alert of the chain's own");
        if attempt <= CONGESTION_ATTEMPTS {
            assert_eq!(told, 0, "attempt {attempt}: MaxAttempts (3) does not end a congested chain");
        } else {
            // Past AWS's own retry window the operator is told, once, and the chain goes on.
            assert_eq!(told, 1, "attempt {attempt}");
        }
        if attempt == CONGESTION_ATTEMPTS + 1 {
            assert_eq!(response["outcomes"][0]["alerted"], true, "{response}");
            assert_eq!(response["outcomes"][0]["outcome"], "escalated", "{response}");
            assert_eq!(response["outcomes"][0]["attempt"], attempt, "{response}");
            let record = retrier.store.record(&failing).unwrap();
            assert!(record.outcome.incident.is_some(), "counted in the path's congestion incident: {record:?}");
            assert!(AttemptRecord::from(&record).retried, "coverage shows the pair retrying, not failed");
        }
        deliver_due_retries(&retrier).await;
        failing = retrier.store.record(&failing).unwrap().retried_by.unwrap();
        retrier.backup.set_copy_state(&failing, CopyJobState::Failed, Some(LIMIT_FAILURE));
    }
    let messages = retrier.alerts.incident_messages();
    let vaultwatch::domain::IncidentMessage::Opened(incident) = &messages[0] else { panic!("{messages:?}") };
    assert_eq!(incident.id.key.cause, vaultwatch::domain::PathCauseKind::Congestion);
    assert_eq!(retrier.store.incidents()[0].affected, 1, "one recovery point, however many attempts");
    assert!(!messages[0].body().contains("start-copy-job"), "no copy by hand beside the retries");
    retrier.handle(&failed_event(failing.as_str())).await.unwrap();
    let alerts = retrier.alerts.published();
    assert_eq!(alerts.len(), 1, "the chain's end is told, on its own");
    assert!(matches!(alerts[0].reason, AlertReason::AttemptsExhausted { .. }), "{:?}", alerts[0].reason);
    assert!(alerts[0].body().contains("start-copy-job"), "once the chain has ended, a copy by hand is safe");
    assert_eq!(retrier.backup.started_copies().len() as u32, CONGESTION_LAST_ATTEMPT);
}

/// Two invocations of one failure. A claims it and stalls (its DescribeCopyJob answers late) past
/// its lease, which is still longer than the function's declared timeout, so the rule holds; B
/// takes the claim over and handles the failure. A's late work is refused at the confirmation
/// before its side effect: one retry queued, one alert, B's outcome recorded.
#[tokio::test]
async fn an_invocation_that_outlives_its_lease_leaves_the_failure_to_the_one_that_took_it_over() {
    use vaultwatch::domain::ClaimLease;
    use vaultwatch::handlers::retrier::FailureHandled;
    for (status_message, retries, alerts) in [("Try again later", 1, 0), (POINT_FAILURE, 0, 1)] {
        let backup = MemoryBackup::new();
        let mut job = failed_copy_job();
        job.status_message = Some(status_message.into());
        backup.add_copy_action(job.created_by.as_ref().unwrap(), &job.destination_vault, Some(plan_copy_lifecycle()));
        backup.add_copy_job(job);
        let claim_lease = ClaimLease::new(Duration::from_millis(200), Duration::from_millis(100)).unwrap();
        let settings = RetrierSettings { claim_lease, ..RetrierSettings::default() };
        let retrier =
            Retrier::new(Stalled::new(backup), MemoryStore::new(), MemoryAlerts::new(), MemoryQueue::new(), settings);
        let failed = fixture("sns/copy-job-failed.json");
        let (late, took_over) = tokio::join!(retrier.handle(&failed), async {
            // A holds the claim and has stalled; its 200 ms lease (a wall-clock time) then lapses.
            retrier.backup.reached().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let handled = wire(retrier.handle(&failed).await.unwrap());
            retrier.backup.resume();
            handled
        });
        let late = wire(late.unwrap());
        let duplicate = wire(FailureHandled::Duplicate { copy_job: copy_id(FAILED_COPY_JOB) });
        assert_eq!(late["outcomes"][0], duplicate, "{status_message}: {late}");
        assert_ne!(took_over["outcomes"][0], duplicate, "{status_message}: {took_over}");
        assert_eq!(retrier.queue.scheduled().len(), retries, "{status_message}");
        assert_eq!(retrier.alerts.published().len(), alerts, "{status_message}");
        let record = retrier.store.record(&copy_id(FAILED_COPY_JOB)).unwrap();
        let expected = if retries == 1 { retry_scheduled(1) } else { alerted(AlertKind::PermanentFailure) };
        assert_eq!((record.outcome, record.failure_handled), (expected, true), "{status_message}");
        // A redelivery finds the failure handled.
        retrier.handle(&failed).await.unwrap();
        assert_eq!((retrier.queue.scheduled().len(), retrier.alerts.published().len()), (retries, alerts));
    }
}

/// The same takeover of a due retry that AWS Backup refuses: its alert claim is taken over while
/// the first invocation stalls, and the alert goes out once.
#[tokio::test]
async fn a_refused_retrys_alert_goes_out_once_when_its_claim_is_taken_over() {
    use vaultwatch::domain::ClaimLease;
    let source = retrier();
    source.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    let (request, _) = source.queue.drain().remove(0);
    let body = serde_json::to_string(&request).unwrap();
    let claim_lease = ClaimLease::new(Duration::from_millis(200), Duration::from_millis(100)).unwrap();
    let settings = RetrierSettings { claim_lease, ..RetrierSettings::default() };
    let retrier = Retrier::new(&source.backup, &source.store, &source.alerts, &source.queue, settings);
    let refusal = backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException");
    source.backup.fail_next(Call::StartCopyJob, 2, refusal);
    // A holds the alert claim and stalls after it: simulated by taking the claim as A would.
    let (id, a) = (copy_id(FAILED_COPY_JOB), ClaimOwner::unique());
    let at = chrono::Utc::now() - chrono::Duration::milliseconds(300);
    use vaultwatch::ports::TrackingStore;
    source.store.claim(&id, vaultwatch::domain::ClaimKind::Alert, &a, at, Duration::from_millis(200)).await.unwrap();
    // B, after A's lease lapsed, takes it over and alerts.
    let response = wire(retrier.handle(&sqs_event(&[("m1".into(), body.clone())])).await.unwrap());
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    assert_eq!(source.alerts.published().len(), 1);
    // A, late, can neither close nor give back B's claim.
    let kind = vaultwatch::domain::ClaimKind::Alert;
    use vaultwatch::domain::Ownership;
    assert_eq!(
        source.store.finish_claim(&id, kind, &a, &alerted(AlertKind::PermanentFailure), None).await.unwrap(),
        Ownership::Lost
    );
    assert_eq!(source.store.release_claim(&id, kind, &a).await.unwrap(), Ownership::Lost);
    // A redelivery of the refused retry finds the alert sent.
    retrier.handle(&sqs_event(&[("m1".into(), body)])).await.unwrap();
    assert_eq!(source.alerts.published().len(), 1);
}

/// A pending claim written before claims had owners (no owner attribute) is nobody's: no
/// invocation can finish, renew or give it back, and it is taken over once its lease lapses.
#[tokio::test]
async fn a_pending_claim_without_an_owner_is_taken_over_only_after_its_lease() {
    use chrono::Utc;
    use vaultwatch::domain::{Claim, ClaimKind, Ownership};
    use vaultwatch::ports::TrackingStore;
    let retrier = retrier();
    let id = copy_id(FAILED_COPY_JOB);
    let kind = ClaimKind::FailureHandling;
    retrier.store.seed_ownerless_claim(&id, kind, Utc::now() - chrono::Duration::seconds(10));
    let err = retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap_err();
    assert!(matches!(err, HandlerError::InProgress(_)), "{err}");
    let someone = ClaimOwner::unique();
    assert_eq!(retrier.store.renew_claim(&id, kind, &someone, Utc::now()).await.unwrap(), Ownership::Lost);
    assert_eq!(
        retrier.store.finish_claim(&id, kind, &someone, &retry_scheduled(1), None).await.unwrap(),
        Ownership::Lost
    );
    assert_eq!(retrier.store.release_claim(&id, kind, &someone).await.unwrap(), Ownership::Lost);
    assert!(!retrier.store.record(&id).unwrap().failure_handled);
    // Past its lease (330 s), the next delivery takes it over and handles the failure.
    let lapsed = Utc::now() - chrono::Duration::seconds(331);
    retrier.store.seed_ownerless_claim(&id, kind, lapsed);
    retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
    assert_eq!(retrier.queue.scheduled().len(), 1);
    assert!(matches!(
        retrier.store.claim(&id, kind, &someone, Utc::now(), Duration::from_secs(330)).await.unwrap(),
        Claim::AlreadyDone
    ));
}
