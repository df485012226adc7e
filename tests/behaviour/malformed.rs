//! The malformed-notification corpus (`fixtures/malformed/`): each payload must fail its function
//! with exactly the error in `expected.json`, an error that names the problem and never echoes the
//! payload (each carries a canary string that must not appear).

use serde_json::Value;
use vaultwatch::domain::{IamRoleArn, RouteTable, SourcePolicy};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::handlers::HandlerError;
use vaultwatch::ports::memory::{MemoryBackup, MemoryStore};
use vaultwatch_tests::*;

/// Only whether it failed, and how, matters here.
async fn run(function: &str, payload: &Value) -> Result<(), HandlerError> {
    let (backup, store) = (MemoryBackup::new(), MemoryStore::new());
    let sources = SourcePolicy::default();
    match function {
        "tracker" => Tracker { store, sources }.handle(payload).await.map(drop),
        "retrier" => memory_retrier(backup).handle(payload).await.map(drop),
        "copier" => {
            let routes = RouteTable::from_json(
                &serde_json::json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT }]).to_string(),
            )
            .unwrap();
            let copy_role = IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap();
            Copier { backup, routes, copy_role, sources }.handle(payload).await.map(drop)
        }
        other => panic!("unknown function {other}"),
    }
}

#[tokio::test]
async fn every_malformed_notification_fails_with_its_exact_error() {
    let expected = fixture("malformed/expected.json");
    let canary = expected["canary"].as_str().unwrap();
    let cases = expected["cases"].as_object().unwrap();
    assert!(cases.len() >= 13);
    let mut mismatches = Vec::new();
    for (name, case) in cases {
        let payload = fixture(&format!("malformed/{name}.json"));
        let err = run(case["function"].as_str().unwrap(), &payload).await.expect_err(name);
        let message = err.to_string();
        assert_eq!(err.kind(), "MalformedNotification", "{name}");
        assert!(!message.contains(canary), "{name} echoes the payload: {message}");
        if message != case["error"].as_str().unwrap() {
            mismatches.push(format!("{name}: got {message:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn an_oversized_message_is_refused_without_reading_it() {
    let mut event = fixture("sns/copy-job-failed.json");
    event["Records"][0]["Sns"]["Message"] = Value::String("x".repeat(256 * 1024 + 1));
    let err = run("retrier", &event).await.unwrap_err();
    assert_eq!(err.to_string(), "malformed notification: Records[0]: message is larger than 256 KiB");
}
