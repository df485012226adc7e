//! Every reference payload parses into the typed event it describes; malformed input yields an
//! error that names the problem without echoing the payload.

use serde_json::{json, Value};
use vaultwatch::domain::{BackupJobState, CopyJobState, JobKind};
use vaultwatch::notification::{parse_lambda_event, JobEvent, Notification, Origin, ParseError};
use vaultwatch_tests::*;

fn parse_one(payload: &Value) -> Result<Notification, ParseError> {
    let mut records = parse_lambda_event(payload)?;
    assert_eq!(records.len(), 1);
    records.remove(0)
}

fn parse_error(payload: &Value) -> String {
    match parse_lambda_event(payload) {
        Err(err) => err.to_string(),
        Ok(mut records) => records.remove(0).expect_err("payload should not parse").to_string(),
    }
}

#[test]
fn sns_copy_fixtures_parse_into_copy_events() {
    for (file, state) in [
        ("sns/copy-job-started.json", CopyJobState::Created),
        ("sns/copy-job-successful.json", CopyJobState::Completed),
        ("sns/copy-job-failed.json", CopyJobState::Failed),
    ] {
        let notification = parse_one(&fixture(file)).unwrap();
        let JobEvent::Copy(copy) = &notification.event else { panic!("{file}: {notification:?}") };
        assert_eq!(copy.id.as_str(), FAILED_COPY_JOB, "{file}");
        assert_eq!(copy.state, state, "{file}");
        assert_eq!(notification.account.as_ref().unwrap().as_str(), "123456789012");
        assert!(
            matches!(&notification.origin, Origin::Sns { topic_arn, .. } if topic_arn.ends_with(":backup-vault-events"))
        );
    }
}

#[test]
fn sns_backup_fixtures_read_the_message_text_as_optional_context() {
    let completed = parse_one(&fixture("sns/backup-job-completed.json")).unwrap();
    let JobEvent::Backup(backup) = completed.event else { panic!() };
    assert_eq!(backup.id.as_str(), BACKUP_JOB);
    assert_eq!(backup.state, BackupJobState::Completed);
    assert_eq!(backup.recovery_point.unwrap().as_str(), RECOVERY_POINT);
    assert_eq!(backup.resource.unwrap().as_str(), "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718");
    assert_eq!(backup.vault, None, "SNS does not say which vault");

    let failed = parse_one(&fixture("sns/backup-job-failed.json")).unwrap();
    let JobEvent::Backup(backup) = failed.event else { panic!() };
    assert_eq!(backup.state, BackupJobState::NotCompleted("FAILED".into()));
    assert_eq!(backup.recovery_point, None);
}

#[test]
fn message_text_label_variants_and_garbage_are_tolerated() {
    let mut event = fixture("sns/backup-job-completed.json");
    event["Records"][0]["Sns"]["Message"] =
        json!("Backed up Resource ARN : arn:aws:rds:us-east-1:123456789012:db:orders. Backup Job Id : X");
    let JobEvent::Backup(backup) = parse_one(&event).unwrap().event else { panic!() };
    assert_eq!(backup.resource.unwrap().as_str(), "arn:aws:rds:us-east-1:123456789012:db:orders");

    event["Records"][0]["Sns"]["Message"] = json!("Recovery point ARN: not-an-arn \u{1F4A5}");
    let JobEvent::Backup(backup) = parse_one(&event).unwrap().event else { panic!() };
    assert_eq!(backup.recovery_point, None, "an unparsable value in the text is treated as absent");
}

#[test]
fn restore_and_unknown_event_types_are_skipped_not_errors() {
    let restore = parse_one(&fixture("sns/restore-job-completed.json")).unwrap();
    assert!(matches!(restore.event, JobEvent::Ignored { kind: JobKind::Restore, .. }));
    let unknown = parse_one(&sns_notification("S3_BACKUP_OBJECT", "FAILED", "X")).unwrap();
    assert!(matches!(unknown.event, JobEvent::Ignored { kind: JobKind::Other(ref k), .. } if k == "S3_BACKUP_OBJECT"));
}

#[test]
fn eventbridge_fixtures_carry_the_details() {
    let failed = parse_one(&fixture("eventbridge/copy-job-failed.json")).unwrap();
    let JobEvent::Copy(copy) = failed.event else { panic!() };
    assert_eq!(copy.state, CopyJobState::Failed);
    assert!(copy.status_message.unwrap().contains("Try again later"));
    assert_eq!(copy.details.source_recovery_point.unwrap().as_str(), RECOVERY_POINT);
    assert_eq!(copy.details.destination_vault.unwrap().as_str(), DR_VAULT);
    assert_eq!(copy.details.destination_recovery_point, None, "{{}} on FAILED means absent");

    let completed = parse_one(&fixture("eventbridge/copy-job-completed.json")).unwrap();
    let JobEvent::Copy(copy) = completed.event else { panic!() };
    assert!(copy.details.destination_recovery_point.unwrap().as_str().contains("us-west-2"));

    let backup = parse_one(&fixture("eventbridge/backup-job-completed.json")).unwrap();
    let JobEvent::Backup(backup) = backup.event else { panic!() };
    assert_eq!(backup.vault.unwrap().as_str(), SOURCE_VAULT);
    assert_eq!(backup.recovery_point.unwrap().as_str(), RECOVERY_POINT);
    assert_eq!(backup.resource_type, Some(vaultwatch::domain::ResourceType::Ebs));
}

#[test]
fn eventbridge_events_wrapped_in_sns_are_unwrapped() {
    let mut event = fixture("sns/copy-job-failed.json");
    let sns = &mut event["Records"][0]["Sns"];
    sns["Message"] = json!(fixture("eventbridge/copy-job-completed.json").to_string());
    sns["MessageAttributes"] = json!({});
    let notification = parse_one(&event).unwrap();
    assert!(matches!(notification.origin, Origin::Sns { .. }));
    assert!(matches!(notification.event, JobEvent::Copy(ref c) if c.state == CopyJobState::Completed));
}

#[test]
fn a_created_copy_event_without_an_id_is_skipped() {
    let mut event = fixture("eventbridge/copy-job-failed.json");
    event["detail"].as_object_mut().unwrap().remove("copyJobId");
    assert!(matches!(parse_one(&event).unwrap().event, JobEvent::Ignored { .. }));
}

#[test]
fn every_record_of_a_multi_record_event_is_parsed_separately() {
    let mut broken = copy_event("FAILED", "B");
    broken["Records"][0]["Sns"]["MessageAttributes"].as_object_mut().unwrap().remove("Id");
    let records =
        parse_lambda_event(&batch(&[copy_event("RUNNING", "A"), broken, copy_event("COMPLETED", "C")])).unwrap();
    assert_eq!(records.len(), 3);
    assert!(records[0].is_ok() && records[2].is_ok());
    assert_eq!(records[1].as_ref().unwrap_err().to_string(), "Records[1]: missing MessageAttributes.Id");
}

#[test]
fn malformed_notifications_name_the_problem() {
    let mut no_state = copy_event("FAILED", "A");
    no_state["Records"][0]["Sns"]["MessageAttributes"].as_object_mut().unwrap().remove("State");
    let mut bad_id = copy_event("FAILED", "has spaces in it");
    bad_id["Records"][0]["Sns"]["MessageAttributes"]["Id"]["Value"] = json!("has spaces in it");
    let mut bad_account = copy_event("FAILED", "A");
    bad_account["Records"][0]["Sns"]["MessageAttributes"]["AccountId"]["Value"] = json!("12");
    let mut no_attributes = copy_event("FAILED", "A");
    no_attributes["Records"][0]["Sns"]["MessageAttributes"] = json!({});
    let mut wrong_type = copy_event("FAILED", "A");
    wrong_type["Records"][0]["Sns"]["Message"] = json!(42);
    let mut foreign_source = fixture("eventbridge/copy-job-failed.json");
    foreign_source["source"] = json!("my.app");

    let cases = [
        (json!([1, 2]), "the event is neither an SNS event (Records[].Sns) nor an EventBridge event (detail-type)"),
        (json!({ "hello": "world" }), "the event is neither an SNS event (Records[].Sns) nor an EventBridge event (detail-type)"),
        (json!({ "Records": "nope" }), "SNS event: missing Records list"),
        (no_state, "Records[0]: missing MessageAttributes.State"),
        (bad_id, "Records[0].Sns.MessageAttributes: copy job id contains characters other than letters, digits, '-', '_', ':' or '.'"),
        (bad_account, "Records[0].Sns.MessageAttributes: account id is not 12 digits"),
        (no_attributes, "Records[0]: missing MessageAttributes.EventType (and the message is not an EventBridge event)"),
        (wrong_type, "Records[0]: malformed envelope: invalid type: integer `42`, expected a string"),
        (foreign_source, "EventBridge event: source is not aws.backup"),
    ];
    for (payload, expected) in cases {
        assert_eq!(parse_error(&payload), expected);
    }
}

#[test]
fn errors_do_not_echo_payload_values() {
    let mut event = copy_event("FAILED", "A");
    event["Records"][0]["Sns"]["TopicArn"] = json!(["secret-token-123"]);
    let message = parse_error(&event);
    assert!(message.starts_with("Records[0]: malformed envelope"), "{message}");
    assert!(!message.contains("secret-token-123"), "{message}");

    let mut huge = copy_event("FAILED", "A");
    huge["Records"][0]["Sns"]["Message"] = json!("x".repeat(300 * 1024));
    assert_eq!(parse_error(&huge), "Records[0]: message is larger than 256 KiB");
}

#[test]
fn a_message_of_exactly_256_kib_is_read_one_byte_more_is_refused() {
    let at_limit = |extra: usize| {
        let mut event = copy_event("FAILED", "A");
        // The message is parsed as JSON after the size check: pad a valid message with spaces.
        let message = event["Records"][0]["Sns"]["Message"].as_str().unwrap().to_owned();
        let padded = format!("{message}{}", " ".repeat(256 * 1024 - message.len() + extra));
        event["Records"][0]["Sns"]["Message"] = json!(padded);
        event
    };
    let records = parse_lambda_event(&at_limit(0)).unwrap();
    assert!(records[0].is_ok(), "{:?}", records[0]);
    assert_eq!(parse_error(&at_limit(1)), "Records[0]: message is larger than 256 KiB");
}
