//! Alerts people act on: every alert reason becomes an AWS Chatbot custom notification that follows
//! the documented schema (`fixtures/chatbot/custom-notification.schema.json`), within its limits,
//! threaded by the chain's original job, with next steps that follow from the cause AWS names; the
//! e-mail is the readable text; a "resolved" message lands in the alert's thread.

use chrono::{TimeZone, Utc};
use serde_json::Value;
use vaultwatch::domain::chatbot::{
    DESCRIPTION_MAX_CHARS, KEYWORD_MAX_CHARS, MAX_NEXT_STEPS, NEXT_STEP_MAX_CHARS, TITLE_MAX_CHARS,
};
use vaultwatch::domain::AlertKind;
use vaultwatch::domain::{
    advise, classify_failure, Alert, AlertReason, Cause, ErrorClass, IamRoleArn, IdempotencyToken, NotCopyable,
    RecoveryPointArn, Resolution, ResourceArn, ServiceRefusal, ALERT_EVENT_TYPE, RESOLVED_EVENT_TYPE,
};
use vaultwatch_tests::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole";
const RESOURCE: &str = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718";
/// A destination in another account (the cross-account cases).
const OTHER_ACCOUNT_VAULT: &str = "arn:aws:backup:us-west-2:444455556666:backup-vault:dr";

fn alert(reason: AlertReason) -> Alert {
    Alert {
        copy_job: Some(copy_id("RETRY-2")),
        original_job: Some(copy_id(FAILED_COPY_JOB)),
        recovery_point: Some(RecoveryPointArn::parse(RECOVERY_POINT).unwrap()),
        resource: Some(ResourceArn::parse(RESOURCE).unwrap()),
        source_vault: vault(SOURCE_VAULT),
        destination_vault: vault(DR_VAULT),
        destination: Default::default(),
        role: Some(IamRoleArn::parse(ROLE).unwrap()),
        lifecycle: None,
        reason,
        attempts: 3,
    }
}

/// StartCopyJob refused for good, as AWS said it.
fn refused(code: &str, message: &str) -> ServiceRefusal {
    ServiceRefusal {
        service: "backup",
        operation: "StartCopyJob",
        class: ErrorClass::Permanent,
        code: Some(code.to_owned()),
        message: message.to_owned(),
    }
}

/// A failed job's reasons carry the cause the retrier classified the failure by.
fn cause(message: &str) -> Cause {
    classify_failure(None, Some(message)).cause
}

fn permanent(message: &str) -> AlertReason {
    AlertReason::PermanentFailure { status_message: message.to_owned(), cause: cause(message) }
}

fn exhausted(message: &str) -> AlertReason {
    AlertReason::AttemptsExhausted { status_message: message.to_owned(), cause: cause(message) }
}

fn congested(message: &str) -> AlertReason {
    AlertReason::CongestionPersists { status_message: message.to_owned(), cause: cause(message) }
}

/// One alert of every reason.
fn every_reason() -> Vec<AlertReason> {
    vec![
        permanent("Access denied: the role cannot use KMS key arn:aws:kms:us-west-2:123456789012:key/1234abcd"),
        exhausted("There are too many copy jobs running for resource."),
        AlertReason::UnrecognisedFailure {
            status_message: "Copy job encountered a fatal error.".into(),
            message_category: Some("MISCELLANEOUS".into()),
        },
        AlertReason::RetryRejected { refusal: refused("InvalidParameterValueException", "bad") },
        AlertReason::CopyRefused { refusal: refused("InvalidRequestException", "no") },
        AlertReason::NotCopyable(NotCopyable::Continuous),
        AlertReason::NotCopyable(NotCopyable::ColdStorage),
        AlertReason::NotCopyable(NotCopyable::Deleted),
        AlertReason::RoleNotPassable { role: Some(IamRoleArn::parse("arn:aws:iam::123456789012:role/plan").unwrap()) },
        AlertReason::RoleRefused {
            role: IamRoleArn::parse(ROLE).unwrap(),
            refusal: refused(
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/vaultwatch-retrier/fn is not authorized to perform: \
                 iam:PassRole on resource: arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole",
            ),
        },
        AlertReason::DestinationNotAllowed,
    ]
}

fn json(alert: &Alert) -> Value {
    serde_json::from_str(&alert.notification().to_json()).unwrap()
}

/// JSON Schema validation for the keywords the fixture uses; any other keyword fails the test, so
/// the schema cannot say more than this checks.
fn violations(schema: &Value, instance: &Value, at: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (keyword, rule) in schema.as_object().expect("a schema is an object") {
        match keyword.as_str() {
            "$schema" | "$comment" | "title" | "description" => {}
            "type" => {
                let fits = match rule.as_str().unwrap() {
                    "object" => instance.is_object(),
                    "array" => instance.is_array(),
                    "string" => instance.is_string(),
                    "boolean" => instance.is_boolean(),
                    other => panic!("type {other} not supported here"),
                };
                if !fits {
                    found.push(format!("{at}: not a {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(instance) {
                    found.push(format!("{at}: {instance} not in {rule}"));
                }
            }
            "required" => {
                for name in rule.as_array().unwrap() {
                    if instance.get(name.as_str().unwrap()).is_none() {
                        found.push(format!("{at}: {name} missing"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                let length = instance.as_str().map_or(0, |s| s.chars().count()) as u64;
                let bound = rule.as_u64().unwrap();
                if (keyword == "minLength" && length < bound) || (keyword == "maxLength" && length > bound) {
                    found.push(format!("{at}: length {length} breaks {keyword} {bound}"));
                }
            }
            "properties" => {
                for (name, property) in rule.as_object().unwrap() {
                    if let Some(value) = instance.get(name) {
                        found.extend(violations(property, value, &format!("{at}.{name}")));
                    }
                }
            }
            "additionalProperties" => {
                let known = schema.get("properties").and_then(Value::as_object);
                for (name, value) in instance.as_object().into_iter().flatten() {
                    if known.is_some_and(|known| known.contains_key(name)) {
                        continue;
                    }
                    match rule {
                        Value::Bool(false) => found.push(format!("{at}: unexpected {name}")),
                        Value::Bool(true) => {}
                        other => found.extend(violations(other, value, &format!("{at}.{name}"))),
                    }
                }
            }
            "items" => {
                for (index, item) in instance.as_array().into_iter().flatten().enumerate() {
                    found.extend(violations(rule, item, &format!("{at}[{index}]")));
                }
            }
            other => panic!("schema keyword {other} not supported here"),
        }
    }
    found
}

fn assert_fits_the_schema(instance: &Value) {
    let schema = fixture("chatbot/custom-notification.schema.json");
    let found = violations(&schema, instance, "$");
    assert!(found.is_empty(), "{found:?}\n{instance:#}");
}

#[test]
fn the_schema_check_catches_what_breaks_the_schema() {
    let good = json(&alert(permanent("Access denied")));
    assert_fits_the_schema(&good);
    let schema = fixture("chatbot/custom-notification.schema.json");
    let broken = |change: fn(&mut Value)| {
        let mut bad = good.clone();
        change(&mut bad);
        violations(&schema, &bad, "$")
    };
    assert_eq!(broken(|v| v["version"] = "2.0".into()).len(), 1);
    assert_eq!(broken(|v| v["content"]["textType"] = "markdown".into()).len(), 1);
    assert_eq!(broken(|v| v["content"]["title"] = "x".repeat(251).into()).len(), 1);
    assert_eq!(broken(|v| v["content"]["nextSteps"][0] = "x".repeat(351).into()).len(), 1);
    assert_eq!(broken(|v| v["metadata"]["colour"] = "red".into()).len(), 1);
    assert_eq!(broken(|v| v["metadata"]["additionalContext"]["attempts"] = 3.into()).len(), 1);
    assert_eq!(broken(|v| v.as_object_mut().unwrap().remove("content").map(drop).unwrap()).len(), 1);
}

#[test]
fn every_reason_becomes_a_custom_notification_of_the_documented_schema() {
    for reason in every_reason() {
        let alert = alert(reason);
        let notification = json(&alert);
        assert_fits_the_schema(&notification);
        assert_eq!((&notification["version"], &notification["source"]), (&"1.0".into(), &"custom".into()));
        assert_eq!(notification["content"]["textType"], "client-markdown");
        assert_eq!(notification["metadata"]["threadId"], FAILED_COPY_JOB, "the chain's original job: {alert:?}");
        assert_eq!(notification["metadata"]["eventType"], ALERT_EVENT_TYPE);
        assert_eq!(notification["id"], "vaultwatch-alert-RETRY-2");
        let title = notification["content"]["title"].as_str().unwrap();
        assert!(title.contains("dr-copy (us-west-2)") && title.contains(alert.reason.summary()), "{title}");
        let description = notification["content"]["description"].as_str().unwrap();
        for part in ["RETRY-2", FAILED_COPY_JOB, RECOVERY_POINT, RESOURCE, DR_VAULT, "*Attempts:* 3"] {
            assert!(description.contains(part), "{part} missing from\n{description}");
        }
        let steps = notification["content"]["nextSteps"].as_array().unwrap();
        assert!(!steps.is_empty() && steps.len() <= MAX_NEXT_STEPS, "{alert:?}: {steps:?}");
        let keywords = notification["content"]["keywords"].as_array().unwrap();
        assert!(keywords.contains(&"vaultwatch".into()) && keywords.contains(&alert.reason.label().into()));
        let related = notification["metadata"]["relatedResources"].as_array().unwrap();
        assert!(related.contains(&RECOVERY_POINT.into()) && related.contains(&DR_VAULT.into()));
        let context = &notification["metadata"]["additionalContext"];
        assert_eq!((&context["copyJobId"], &context["attempts"]), (&"RETRY-2".into(), &"3".into()));
    }
}

/// The next steps of an alert, joined.
fn steps(alert: &Alert) -> String {
    alert.notification().next_steps().join("\n")
}

#[test]
fn next_steps_name_the_kms_key_and_principal_aws_names() {
    let principal = "arn:aws:sts::123456789012:assumed-role/AWSBackupDefaultServiceRole/AWSBackup-1a2b";
    let key = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let message = format!(
        "User: {principal} is not authorized to perform: kms:CreateGrant on resource: {key} because no resource-based \
         policy allows the kms:CreateGrant action"
    );
    let mut cross_account = alert(permanent(&message));
    cross_account.destination_vault = vault(OTHER_ACCOUNT_VAULT);
    let text = steps(&cross_account);
    assert!(text.contains(key) && text.contains(principal), "{text}");
    assert!(text.contains("enabled and not pending deletion"), "{text}");
    assert!(
        text.contains(
            "for this cross-account copy it must be a customer managed key that also allows account 444455556666"
        ),
        "{text}"
    );
    let notification = cross_account.notification();
    assert!(notification.keywords().contains(&"kms key".to_owned()));
    assert!(notification.related_resources().contains(&key.to_owned()));

    // AWS names neither: the steps name the role the copy ran with.
    let text =
        steps(&alert(permanent("KMS key is either disabled or pending deletion or access to KMS key is denied")));
    assert!(text.contains(ROLE) && text.contains("the KMS key of the source or the destination"), "{text}");
    assert!(
        !text.contains("444455556666") && !text.contains("cross-account"),
        "same account: nothing to share: {text}"
    );
}

#[test]
fn a_denied_copy_names_the_source_account_only_across_accounts() {
    let denied = || AlertReason::CopyRefused { refusal: refused("AccessDeniedException", "Insufficient privileges") };
    let same = alert(denied());
    assert_eq!(advise(&same).topic, "permissions");
    assert!(!steps(&same).contains("for account"), "{}", steps(&same));
    let cross = Alert { destination_vault: vault(OTHER_ACCOUNT_VAULT), ..alert(denied()) };
    assert!(
        steps(&cross).contains("allows `backup:CopyIntoBackupVault` for account 123456789012."),
        "{}",
        steps(&cross)
    );
}

#[test]
fn next_steps_follow_the_cause() {
    let role_arn = |name: &str| IamRoleArn::parse(&format!("arn:aws:iam::123456789012:role/{name}")).unwrap();
    let cross = |reason: AlertReason| Alert { destination_vault: vault(OTHER_ACCOUNT_VAULT), ..alert(reason) };
    let cases: Vec<(Alert, &str, Vec<&str>)> = vec![
        (
            cross(permanent("Access Denied trying to call AWS Backup service")),
            "vault access policy",
            vec![OTHER_ACCOUNT_VAULT, "backup:CopyIntoBackupVault", "account 123456789012"],
        ),
        (
            cross(permanent(
                "Copy job failed. Both source and destination account must be a member of the same organization.",
            )),
            "organization",
            vec!["same AWS Organization", "123456789012", "444455556666", "cross-account backup"],
        ),
        (
            alert(AlertReason::RoleNotPassable { role: Some(role_arn("plan-role")) }),
            "role not passable",
            vec!["role/plan-role", "PassableRoleArns"],
        ),
        (
            alert(AlertReason::RoleRefused {
                role: role_arn("copier"),
                refusal: refused("AccessDeniedException", "not authorized to perform: iam:PassRole"),
            }),
            "role not passable",
            vec!["role/copier", "iam:PassRole", "PassableRoleArns", "IamRoleArn"],
        ),
        (
            alert(permanent(
                "User: arn:aws:sts::123456789012:assumed-role/vaultwatch/f is not authorized to perform: iam:PassRole \
                 on resource: arn:aws:iam::123456789012:role/plan-role",
            )),
            "role not passable",
            vec!["role/plan-role", "assumed-role/vaultwatch/f"],
        ),
        (alert(AlertReason::NotCopyable(NotCopyable::Continuous)), "not copyable", vec!["continuous", "snapshot"]),
        (alert(AlertReason::NotCopyable(NotCopyable::ColdStorage)), "not copyable", vec!["cold storage", "warm"]),
        (alert(AlertReason::NotCopyable(NotCopyable::Deleted)), "not copyable", vec!["gone", "nothing is left"]),
        (
            alert(exhausted("Maximum allowed active snapshot limit exceeded.")),
            "quota",
            vec!["Service Quotas", "Maximum allowed active snapshot limit exceeded."],
        ),
        (
            alert(permanent("Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault.")),
            "vault lock",
            vec!["Vault Lock", "dr-copy", "lifecycle"],
        ),
        (
            alert(permanent("Encrypted snapshots with Amazon EBS default key cannot be shared")),
            "kms key",
            vec!["AWS managed (default) key", "customer managed KMS key"],
        ),
        (
            alert(AlertReason::UnrecognisedFailure {
                status_message: "The copy could not be completed: error 0x2f".into(),
                message_category: None,
            }),
            "unrecognised",
            vec!["\"The copy could not be completed: error 0x2f\"", "does not recognise"],
        ),
        (
            alert(exhausted("An internal error occurred.")),
            "attempts exhausted",
            vec!["all 3 attempts failed", "\"An internal error occurred.\"", "Look at the copy job in the AWS Backup console"],
        ),
        (alert(AlertReason::DestinationNotAllowed), "copy targets", vec!["AllowedCopyTargets", DR_VAULT]),
    ];
    for (alert, topic, expected) in cases {
        let notification = alert.notification();
        let text = notification.next_steps().join("\n");
        for part in expected {
            assert!(text.contains(part), "{:?}: {part:?} missing from\n{text}", alert.reason);
        }
        assert!(
            notification.keywords().contains(&topic.to_owned()),
            "{:?}: {:?}",
            alert.reason,
            notification.keywords()
        );
        assert!(notification.next_steps().iter().all(|s| s.chars().count() <= NEXT_STEP_MAX_CHARS));
    }
}

/// KMS throttling passes on its own (docs/aws-facts.md#failure-messages, the KMS-through-S3 text):
/// advice to fix the key would send the operator after a key that is fine.
#[test]
fn a_kms_throttling_failure_is_advised_as_throttling_not_as_a_broken_key() {
    let throttled = alert(exhausted("Please reduce your request rate for operations involving AWS KMS."));
    let advice = advise(&throttled);
    assert_eq!(advice.topic, "throttling", "{advice:?}");
    assert!(advice.steps.iter().all(|step| !step.contains("pending deletion")), "{advice:?}");
    let refused_by_kms =
        alert(AlertReason::RetryRejected { refusal: refused("KMSThrottlingException", "Rate exceeded") });
    assert_eq!(advise(&refused_by_kms).topic, "throttling");
}

/// A congested chain that has told the operator goes on retrying: its alert must not say that
/// every attempt failed, as if the chain had ended.
#[test]
fn a_congestion_alert_says_vaultwatch_keeps_retrying_not_that_all_attempts_failed() {
    for message in ["Rate exceeded", "There are too many copy jobs running for resource."] {
        let told = Alert { attempts: 9, ..alert(congested(message)) };
        for text in [steps(&told), told.body()] {
            assert!(!text.contains("attempts failed"), "{message}: {text}");
            assert!(text.contains("9 attempts so far") && text.contains("keeps retrying"), "{message}: {text}");
        }
        assert!(!told.body().contains("start-copy-job"), "a copy by hand would be a second one");
        assert!(!steps(&told).contains("AWS Backup console"), "nothing to look at while vaultwatch retries");
    }
}

#[test]
fn a_refused_call_is_carried_typed_and_read_in_words() {
    let principal = "arn:aws:sts::123456789012:assumed-role/vaultwatch-retrier/fn";
    let rejected = alert(AlertReason::RetryRejected {
        refusal: refused(
            "AccessDeniedException",
            &format!("User: {principal} is not authorized to perform: backup:StartCopyJob"),
        ),
    });
    let body = rejected.body();
    assert!(
        body.contains(&format!(
            "Reason:            backup StartCopyJob failed (permanent, AccessDeniedException): User: {principal} is"
        )),
        "{body}"
    );
    assert!(!body.contains("Permanent"), "the class in words, not its Debug form: {body}");
    // The principal is read from AWS's message in the refusal, not from a sentence made of it.
    let advice = advise(&rejected);
    assert_eq!(advice.topic, "permissions");
    assert_eq!(advice.resources, vec![principal.to_owned()]);
    assert!(
        !steps(&rejected).contains("StartCopyJob failed"),
        "AWS's words are quoted, not ours: {}",
        steps(&rejected)
    );
    // A denial whose message says no more is still a denial: its code says so.
    let bare = alert(AlertReason::CopyRefused { refusal: refused("AccessDeniedException", "Insufficient privileges") });
    assert_eq!(advise(&bare).topic, "permissions");
    let role = alert(AlertReason::RoleRefused {
        role: IamRoleArn::parse(ROLE).unwrap(),
        refusal: refused(
            "AccessDeniedException",
            &format!("User: {principal} is not authorized to perform: iam:PassRole on resource: {ROLE}"),
        ),
    });
    assert_eq!(advise(&role).resources, vec![ROLE.to_owned(), principal.to_owned()]);
}

#[test]
fn a_copy_that_can_work_once_fixed_ends_with_the_command_and_one_that_cannot_does_not() {
    let fixable = alert(permanent("Access Denied trying to call AWS Backup service"));
    let notification = fixable.notification();
    assert!(notification.next_steps().last().unwrap().contains("resolved message"));
    assert!(notification.description().contains(&format!(
        "aws backup start-copy-job --recovery-point-arn {RECOVERY_POINT} --source-backup-vault-name primary \
         --destination-backup-vault-arn {DR_VAULT} --iam-role-arn {ROLE}"
    )));
    let gone = alert(AlertReason::NotCopyable(NotCopyable::Deleted)).notification();
    assert!(!gone.description().contains("start-copy-job"));
    assert!(!gone.next_steps().iter().any(|step| step.contains("start the copy again")));
}

#[test]
fn the_command_gives_the_copy_the_lifecycle_a_retry_would_in_chat_and_e_mail() {
    use vaultwatch::domain::{DeleteAfterEvent, Lifecycle};
    let lifecycle = Lifecycle {
        move_to_cold_storage_after_days: Some(30),
        delete_after_days: Some(365),
        opt_in_to_archive_for_supported_resources: Some(true),
        // Output only: never sent back.
        delete_after_event: Some(DeleteAfterEvent::DeleteAfterCopy),
    };
    let kept =
        Alert { lifecycle: Some(lifecycle), ..alert(permanent("Access Denied trying to call AWS Backup service")) };
    let option = r#" --lifecycle '{"DeleteAfterDays":365,"MoveToColdStorageAfterDays":30,"OptInToArchiveForSupportedResources":true}'"#;
    let command = vaultwatch::domain::copy_command(&kept).unwrap();
    assert!(command.ends_with(&format!("--iam-role-arn {ROLE}{option}")), "{command}");
    assert!(kept.notification().description().contains(&command), "{}", kept.notification().description());
    assert!(kept.body().contains(&format!("     {command}\n")), "{}", kept.body());
    // Keep indefinitely is a lifecycle too (-1); none at all leaves the option out.
    let forever = Lifecycle { delete_after_days: Some(-1), ..Lifecycle::default() };
    let forever = vaultwatch::domain::copy_command(&Alert { lifecycle: Some(forever), ..kept.clone() }).unwrap();
    assert!(forever.ends_with(r#" --lifecycle '{"DeleteAfterDays":-1}'"#), "{forever}");
    let none = vaultwatch::domain::copy_command(&Alert { lifecycle: None, ..kept }).unwrap();
    assert!(!none.contains("--lifecycle"), "{none}");
}

#[test]
fn a_refused_routed_copy_is_threaded_by_recovery_point_and_destination() {
    let refused = Alert {
        copy_job: None,
        original_job: None,
        ..alert(AlertReason::CopyRefused { refusal: refused("InvalidRequestException", "no") })
    };
    let point = RecoveryPointArn::parse(RECOVERY_POINT).unwrap();
    let expected = IdempotencyToken::for_route(&point, &vault(DR_VAULT));
    assert_eq!(refused.thread_id(), expected.as_str());
    assert_eq!(json(&refused)["metadata"]["threadId"], expected.as_str());
    assert_eq!(json(&refused.clone())["metadata"]["threadId"], json(&refused)["metadata"]["threadId"], "stable");
    assert_eq!(json(&refused)["id"], format!("vaultwatch-alert-{}", expected.as_str()));
    assert_fits_the_schema(&json(&refused));
    // The chain's original job, when only the failed job is known.
    let first = Alert { original_job: None, ..alert(permanent("x")) };
    assert_eq!(first.thread_id(), "RETRY-2");
}

#[test]
fn long_texts_are_cut_within_the_limits_on_character_boundaries() {
    let huge = "Zugriff verweigert für Schlüssel ✓ ".repeat(2_000);
    for reason in
        [permanent(&huge), AlertReason::UnrecognisedFailure { status_message: huge.clone(), message_category: None }]
    {
        let alert = alert(reason);
        let notification = json(&alert);
        assert_fits_the_schema(&notification);
        let description = notification["content"]["description"].as_str().unwrap();
        assert_eq!(description.chars().count(), DESCRIPTION_MAX_CHARS);
        assert!(description.ends_with('…'));
        for step in notification["content"]["nextSteps"].as_array().unwrap() {
            assert!(step.as_str().unwrap().chars().count() <= NEXT_STEP_MAX_CHARS);
        }
        for keyword in notification["content"]["keywords"].as_array().unwrap() {
            assert!(keyword.as_str().unwrap().chars().count() <= KEYWORD_MAX_CHARS);
        }
        assert!(notification["content"]["title"].as_str().unwrap().chars().count() <= TITLE_MAX_CHARS);
    }
    // An SNS subject is less than 100 characters, cut on a character boundary.
    let mut long_vault = alert(AlertReason::DestinationNotAllowed);
    long_vault.destination_vault =
        vault(&format!("arn:aws:backup:us-west-2:123456789012:backup-vault:{}", "v".repeat(50)));
    let subject = long_vault.subject();
    assert!(subject.chars().count() < 100 && subject.ends_with('…'), "{subject}");
}

#[test]
fn the_email_is_the_readable_text_with_what_to_do() {
    let alert = alert(permanent("Access Denied trying to call AWS Backup service"));
    let body = alert.body();
    for part in [
        "An AWS Backup copy failed permanently.",
        "Copy job:          RETRY-2",
        "Attempts:          3",
        "Reason:            Access Denied trying to call AWS Backup service",
        "What to do:",
        "  1. The access policy of destination vault",
        "aws backup start-copy-job --recovery-point-arn",
    ] {
        assert!(body.contains(part), "{part:?} missing from\n{body}");
    }
    assert!(!body.contains('`') && !body.contains("*Attempts"), "plain text, not markdown:\n{body}");
}

fn resolution() -> Resolution {
    Resolution {
        alerted_job: copy_id("RETRY-2"),
        original_job: copy_id(FAILED_COPY_JOB),
        alerted: AlertKind::AttemptsExhausted,
        completed_job: copy_id("MANUAL-1"),
        completed_at: Some(Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap()),
        recovery_point: RecoveryPointArn::parse(RECOVERY_POINT).unwrap(),
        source_vault: vault(SOURCE_VAULT),
        destination_vault: vault(DR_VAULT),
        destination_recovery_point: Some(
            RecoveryPointArn::parse("arn:aws:backup:us-west-2:123456789012:recovery-point:COPY-1").unwrap(),
        ),
        resource: Some(ResourceArn::parse(RESOURCE).unwrap()),
    }
}

#[test]
fn the_resolved_message_lands_in_the_alerts_thread() {
    let alert = alert(exhausted("Rate exceeded"));
    let resolved = resolution();
    let notification: Value = serde_json::from_str(&resolved.notification().to_json()).unwrap();
    assert_fits_the_schema(&notification);
    assert_eq!(notification["metadata"]["threadId"], json(&alert)["metadata"]["threadId"]);
    assert_eq!(notification["metadata"]["eventType"], RESOLVED_EVENT_TYPE);
    assert_eq!(notification["id"], "vaultwatch-resolved-RETRY-2");
    assert!(notification["content"]["title"].as_str().unwrap().contains("resolved"));
    let description = notification["content"]["description"].as_str().unwrap();
    assert!(description.contains("MANUAL-1") && description.contains("2026-11-21T09:30:00Z"), "{description}");
    assert!(notification["content"]["keywords"].as_array().unwrap().contains(&"resolved".into()));
    let body = resolved.body();
    assert!(body.starts_with("Resolved:") && body.contains("Completed copy:    MANUAL-1") && !body.contains('`'));
    assert!(resolved.subject().ends_with("resolved") && resolved.subject().chars().count() < 100);
    assert!(body.contains(&format!("Resource:          {RESOURCE}\n")), "{body}");
    // What AWS did not say is said as "none", not left blank.
    let unnamed = Resolution { resource: None, destination_recovery_point: None, ..resolution() };
    assert!(
        unnamed.body().contains("Resource:          none\n") && unnamed.body().contains("Copy:              none\n"),
        "{}",
        unnamed.body()
    );
}
