//! Vault notification setup: merges vaultwatch's events into what a vault already has, refuses to
//! take over another topic unless told to, writes nothing in a dry run or when nothing changes, and
//! answers CloudFormation whatever happens.

use serde_json::json;
use vaultwatch::domain::{TopicArn, VaultName};
use vaultwatch::ports::memory::MemoryVaults;
use vaultwatch::vault_setup::{
    cli, configure_vaults, custom_resource, SetupError, SetupOptions, VaultNotifications, REQUIRED_EVENTS,
};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:backup-vault-events";
const OTHER: &str = "arn:aws:sns:us-east-1:123456789012:ops-team";

fn name(raw: &str) -> VaultName {
    VaultName::parse(raw).unwrap()
}

fn notifications(topic: &str, events: &[&str]) -> VaultNotifications {
    VaultNotifications { topic: topic.into(), events: events.iter().map(|e| (*e).to_owned()).collect() }
}

fn vaults() -> MemoryVaults {
    let vaults = MemoryVaults::new();
    vaults.add(&name("fresh"), None);
    vaults.add(&name("shared"), Some(notifications(TOPIC, &["BACKUP_JOB_STARTED", "RESTORE_JOB_COMPLETED"])));
    vaults.add(&name("foreign"), Some(notifications(OTHER, &["RESTORE_JOB_STARTED"])));
    vaults
}

#[tokio::test]
async fn merge_keeps_existing_events_and_writes_only_changes() {
    let vaults = vaults();
    let topic = TopicArn::parse(TOPIC).unwrap();
    let results = configure_vaults(&vaults, &[name("fresh"), name("shared")], &topic, SetupOptions::default()).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(vaults.puts(), 2);
    let shared = vaults.notifications(&name("shared")).unwrap();
    for event in REQUIRED_EVENTS.iter().chain(&["BACKUP_JOB_STARTED", "RESTORE_JOB_COMPLETED"]) {
        assert!(shared.events.contains(*event), "{event} missing");
    }
    let report = results[1].as_ref().unwrap().to_string();
    assert!(report.starts_with("shared: updated: topic") && report.contains("keeps BACKUP_JOB_STARTED"), "{report}");

    // Running again changes nothing and writes nothing.
    let again = configure_vaults(&vaults, &[name("fresh"), name("shared")], &topic, SetupOptions::default()).await;
    assert_eq!(vaults.puts(), 2);
    assert!(again[0].as_ref().unwrap().to_string().contains("unchanged"));
}

#[tokio::test]
async fn dry_run_writes_nothing_but_reports_the_change() {
    let vaults = vaults();
    let topic = TopicArn::parse(TOPIC).unwrap();
    let options = SetupOptions { dry_run: true, replace_topic: false };
    let results = configure_vaults(&vaults, &[name("fresh")], &topic, options).await;
    assert_eq!(vaults.puts(), 0);
    assert_eq!(vaults.notifications(&name("fresh")), None);
    let report = results[0].as_ref().unwrap().to_string();
    assert!(report.contains("would update (dry run)") && report.contains("COPY_JOB_FAILED"), "{report}");
}

#[tokio::test]
async fn another_topic_is_refused_unless_replacing_is_asked_for() {
    let vaults = vaults();
    let topic = TopicArn::parse(TOPIC).unwrap();
    let results = configure_vaults(&vaults, &[name("foreign"), name("fresh")], &topic, SetupOptions::default()).await;
    let err = results[0].as_ref().unwrap_err();
    assert!(matches!(err, SetupError::ConflictingTopic { .. }));
    assert!(err.to_string().contains("already sends its notifications to arn:aws:sns:us-east-1:123456789012:ops-team"));
    assert!(results[1].is_ok(), "other vaults are still configured");
    assert_eq!(vaults.notifications(&name("foreign")).unwrap().topic, OTHER);

    let replace = SetupOptions { dry_run: false, replace_topic: true };
    configure_vaults(&vaults, &[name("foreign")], &topic, replace).await[0].as_ref().unwrap();
    let foreign = vaults.notifications(&name("foreign")).unwrap();
    assert_eq!(foreign.topic, TOPIC);
    assert!(foreign.events.contains("RESTORE_JOB_STARTED"));
}

#[tokio::test]
async fn an_unknown_vault_is_a_clear_error() {
    let vaults = vaults();
    let topic = TopicArn::parse(TOPIC).unwrap();
    let results = configure_vaults(&vaults, &[name("nope")], &topic, SetupOptions::default()).await;
    assert_eq!(
        results[0].as_ref().unwrap_err().to_string(),
        "vault nope does not exist (check the name, the region and the account)"
    );
}

#[test]
fn command_line_arguments_are_validated() {
    let args = |list: &[&str]| cli::parse(list.iter().map(|s| s.to_string()));
    let parsed = args(&["--topic-arn", TOPIC, "--dry-run", "primary", "db"]).unwrap();
    assert_eq!(parsed.vaults, vec![name("primary"), name("db")]);
    assert!(parsed.options.dry_run && !parsed.options.replace_topic);
    assert!(args(&["primary"]).unwrap_err().contains("--topic-arn is required"));
    assert!(args(&["--topic-arn", TOPIC]).unwrap_err().contains("name at least one vault"));
    assert!(args(&["--topic-arn", "nope", "primary"]).unwrap_err().contains("SNS topic ARN"));
    assert!(args(&["--topic-arn", TOPIC, "--force", "primary"]).unwrap_err().contains("unknown option --force"));
}

fn request(kind: &str, properties: serde_json::Value) -> serde_json::Value {
    json!({
        "RequestType": kind,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/put-here",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1",
        "RequestId": "req-1",
        "LogicalResourceId": "VaultNotificationSetup",
        "ResourceType": "Custom::VaultNotifications",
        "ResourceProperties": properties,
    })
}

#[tokio::test]
async fn the_custom_resource_configures_on_create_and_leaves_vaults_on_delete() {
    let vaults = vaults();
    let created = custom_resource::handle(
        &vaults,
        &request("Create", json!({ "TopicArn": TOPIC, "VaultNames": ["fresh", "shared"], "ReplaceTopic": "false" })),
    )
    .await
    .unwrap();
    assert_eq!(created.url, "https://cloudformation-custom-resource-response.example/put-here");
    assert_eq!(created.body["Status"], "SUCCESS", "{}", created.body);
    assert_eq!(created.body["PhysicalResourceId"], "vault-notifications-VaultNotificationSetup");
    assert_eq!(created.body["RequestId"], "req-1");
    assert_eq!(vaults.puts(), 2);

    let deleted =
        custom_resource::handle(&vaults, &request("Delete", json!({ "TopicArn": TOPIC, "VaultNames": ["fresh"] })))
            .await
            .unwrap();
    assert_eq!(deleted.body["Status"], "SUCCESS");
    assert!(vaults.notifications(&name("fresh")).is_some(), "delete leaves notifications in place");
}

#[tokio::test]
async fn the_custom_resource_reports_failures_to_cloudformation() {
    let vaults = vaults();
    let conflict = custom_resource::handle(
        &vaults,
        &request("Update", json!({ "TopicArn": TOPIC, "VaultNames": "foreign,fresh" })),
    )
    .await
    .unwrap();
    assert_eq!(conflict.body["Status"], "FAILED");
    assert!(conflict.body["Reason"].as_str().unwrap().contains("refusing to replace"), "{}", conflict.body);
    let bad = custom_resource::handle(&vaults, &request("Create", json!({ "VaultNames": ["fresh"] }))).await.unwrap();
    assert_eq!(
        (bad.body["Status"].as_str(), bad.body["Reason"].as_str()),
        (Some("FAILED"), Some("TopicArn is required"))
    );
    assert!(custom_resource::handle(&vaults, &json!({ "RequestType": "Create" })).await.is_err());
}
