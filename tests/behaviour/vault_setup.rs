//! Vault notification setup: merges vaultwatch's events into what a vault already has, refuses to
//! take over another topic unless told to, writes nothing in a dry run or when nothing changes, and
//! answers CloudFormation whatever happens.

use serde_json::json;
use vaultwatch::domain::{TopicArn, VaultName, VaultNotifications, REQUIRED_EVENTS};
use vaultwatch::handlers::vault_setup::custom_resource::VaultNotificationsResource;
use vaultwatch::handlers::vault_setup::{configure_vaults, SetupError, SetupOptions};
use vaultwatch::ports::memory::{MemoryResponder, MemoryVaults};

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
    assert!(matches!(err, SetupError::ConflictingTopic(_)));
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

fn request(kind: &str, properties: serde_json::Value) -> serde_json::Value {
    let mut request = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:vault-notifications",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/put-here",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1",
        "RequestId": "req-1",
        "LogicalResourceId": "VaultNotificationSetup",
        "ResourceType": "Custom::VaultNotifications",
        "ResourceProperties": properties,
    });
    if kind != "Create" {
        request["PhysicalResourceId"] = json!("vault-notifications-VaultNotificationSetup");
    }
    if kind == "Update" {
        request["OldResourceProperties"] = json!({ "TopicArn": TOPIC, "VaultNames": [] });
    }
    request
}

fn resource() -> VaultNotificationsResource<MemoryVaults, MemoryResponder> {
    VaultNotificationsResource { backup: vaults(), responder: MemoryResponder::default() }
}

/// Handles one request and returns the answer CloudFormation received, as JSON.
async fn answer(
    resource: &VaultNotificationsResource<MemoryVaults, MemoryResponder>,
    request: &serde_json::Value,
) -> (String, serde_json::Value) {
    let answered = resource.handle(request).await.unwrap();
    let (url, response) = resource.responder.responses().pop().expect("CloudFormation was answered");
    let body = serde_json::to_value(&response).unwrap();
    assert_eq!(serde_json::to_value(&answered).unwrap()["status"], body["Status"]);
    (url, body)
}

#[tokio::test]
async fn the_custom_resource_configures_on_create_and_leaves_vaults_on_delete() {
    let resource = resource();
    let (url, created) = answer(
        &resource,
        &request("Create", json!({ "TopicArn": TOPIC, "VaultNames": ["fresh", "shared"], "ReplaceTopic": "false" })),
    )
    .await;
    assert_eq!(url, "https://cloudformation-custom-resource-response.example/put-here");
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], "vault-notifications-VaultNotificationSetup");
    assert_eq!(created["RequestId"], "req-1");
    assert_eq!(created["StackId"], "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1");
    assert_eq!(created["LogicalResourceId"], "VaultNotificationSetup");
    assert!(created["Data"]["Summary"].as_str().unwrap().starts_with("fresh: updated"), "{created}");
    assert_eq!(resource.backup.puts(), 2);

    let (_, deleted) =
        answer(&resource, &request("Delete", json!({ "TopicArn": TOPIC, "VaultNames": ["fresh"] }))).await;
    assert_eq!(deleted["Status"], "SUCCESS");
    assert_eq!(deleted["PhysicalResourceId"], "vault-notifications-VaultNotificationSetup");
    assert!(resource.backup.notifications(&name("fresh")).is_some(), "delete leaves notifications in place");
    assert_eq!(resource.backup.puts(), 2);
}

#[tokio::test]
async fn the_custom_resource_reports_failures_to_cloudformation() {
    let resource = resource();
    let (_, conflict) =
        answer(&resource, &request("Update", json!({ "TopicArn": TOPIC, "VaultNames": "foreign,fresh" }))).await;
    assert_eq!(conflict["Status"], "FAILED");
    let reason = conflict["Reason"].as_str().unwrap();
    assert!(reason.contains("refusing to replace") && reason.contains("fresh: updated"), "{conflict}");

    let (_, bad) = answer(&resource, &request("Create", json!({ "VaultNames": ["fresh"] }))).await;
    assert_eq!((bad["Status"].as_str(), bad["Reason"].as_str()), (Some("FAILED"), Some("TopicArn is required")));
    let (_, bad) =
        answer(&resource, &request("Create", json!({ "TopicArn": TOPIC, "VaultNames": ["no/slash"] }))).await;
    assert_eq!(bad["Status"], "FAILED");
    assert!(bad["Reason"].as_str().unwrap().starts_with("VaultNames: \"no/slash\""), "{bad}");
    let (_, bad) = answer(&resource, &request("Create", json!({ "TopicArn": TOPIC }))).await;
    assert_eq!(bad["Reason"], "VaultNames is required (a list of vault names)");

    // A request that does not parse is still answered when it says where, and never hangs the stack.
    let (_, odd) = answer(&resource, &request("Replace", json!({}))).await;
    assert_eq!(odd["Status"], "FAILED");
    assert!(odd["Reason"].as_str().unwrap().starts_with("malformed custom resource request"), "{odd}");
    // Without a response URL there is no one to answer: the invocation fails.
    assert!(resource.handle(&json!({ "RequestType": "Create" })).await.is_err());
    assert_eq!(resource.responder.responses().len(), 5);
}

#[tokio::test]
async fn replace_topic_is_read_as_cloudformation_passes_it() {
    for (flag, replaced) in [
        (json!("true"), true),
        (json!("TRUE"), true),
        (json!(true), true),
        (json!("false"), false),
        (json!(null), false),
    ] {
        let resource = resource();
        let properties = json!({ "TopicArn": TOPIC, "VaultNames": ["foreign"], "ReplaceTopic": flag });
        let (_, body) = answer(&resource, &request("Create", properties)).await;
        assert_eq!(body["Status"] == "SUCCESS", replaced, "{flag}: {body}");
        assert_eq!(resource.backup.notifications(&name("foreign")).unwrap().topic == TOPIC, replaced, "{flag}");
    }
}

#[tokio::test]
async fn a_long_reason_is_cut_to_what_cloudformation_keeps() {
    let resource = resource();
    let many: Vec<String> = (0..200).map(|i| format!("missing-vault-{i}")).collect();
    let (_, body) = answer(&resource, &request("Create", json!({ "TopicArn": TOPIC, "VaultNames": many }))).await;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["Reason"].as_str().unwrap().chars().count(), 3000);
}
