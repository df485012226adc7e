//! Hostile and broken input, generated: arbitrary JSON, broken envelopes, odd unicode, huge and
//! truncated messages, wrongly typed attributes, unknown event types. Every parser and every
//! handler entry point must answer with a value or an error, never a panic, and errors never echo
//! what they were given.

use proptest::prelude::*;
use serde_json::{json, Value};
use vaultwatch::domain::{IamRoleArn, RouteTable, SourcePolicy};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::notification::parse_lambda_event;
use vaultwatch::ports::memory::{MemoryBackup, MemoryStore};
use vaultwatch_tests::*;

/// Any JSON value, a few levels deep, with strings of any unicode.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("Records".to_owned()),
                    Just("Sns".to_owned()),
                    Just("detail-type".to_owned()),
                    ".{0,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A fixture-shaped SNS event whose attributes and message are replaced by generated values.
fn mangled_sns() -> impl Strategy<Value = Value> {
    let attribute = prop_oneof![
        ".{0,30}".prop_map(Value::String),
        any_json(),
        Just(json!("COPY_JOB")),
        Just(json!("BACKUP_JOB")),
        Just(json!("FAILED")),
        Just(json!("COMPLETED")),
    ];
    (
        prop::collection::vec(
            (
                prop_oneof![Just("EventType"), Just("State"), Just("Id"), Just("AccountId"), Just("StartTime")],
                attribute,
            ),
            0..6,
        ),
        prop_oneof![".{0,200}".prop_map(Value::String), any_json().prop_map(|v| Value::String(v.to_string()))],
        any::<bool>(),
    )
        .prop_map(|(attributes, message, drop_envelope_field)| {
            let mut event = fixture("sns/copy-job-failed.json");
            let sns = &mut event["Records"][0]["Sns"];
            let map: serde_json::Map<String, Value> =
                attributes.into_iter().map(|(k, v)| (k.to_owned(), json!({ "Type": "String", "Value": v }))).collect();
            sns["MessageAttributes"] = Value::Object(map);
            sns["Message"] = message;
            if drop_envelope_field {
                sns.as_object_mut().unwrap().remove("Signature");
            }
            event
        })
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

/// Runs every handler on the payload; returns their error messages.
fn all_handlers(payload: &Value) -> Vec<String> {
    block_on(async {
        let sources = SourcePolicy::default();
        let tracker = Tracker { store: MemoryStore::new(), sources: sources.clone() };
        let retrier = memory_retrier(MemoryBackup::new());
        let copier = Copier {
            backup: MemoryBackup::new(),
            routes: RouteTable::default(),
            copy_role: IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap(),
            sources,
        };
        [
            tracker.handle(payload).await.map(drop),
            retrier.handle(payload).await.map(drop),
            copier.handle(payload).await.map(drop),
        ]
        .into_iter()
        .filter_map(|result| result.err().map(|err| err.to_string()))
        .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_json_is_parsed_or_refused_without_panicking(payload in any_json()) {
        let _ = parse_lambda_event(&payload);
        let _ = all_handlers(&payload);
    }

    #[test]
    fn mangled_sns_notifications_never_panic_or_echo_long_values(event in mangled_sns()) {
        let _ = parse_lambda_event(&event);
        for message in all_handlers(&event) {
            prop_assert!(message.len() < 1024, "error messages stay short: {}", message.len());
            let sns = &event["Records"][0]["Sns"];
            for attribute in sns["MessageAttributes"].as_object().unwrap().values() {
                if let Some(value) = attribute["Value"].as_str().filter(|v| v.chars().count() > 24) {
                    prop_assert!(!message.contains(value), "{} echoes {}", message, value);
                }
            }
        }
    }

    #[test]
    fn every_prefix_of_an_eventbridge_message_is_handled(cut in 0usize..1500) {
        let full = fixture("eventbridge/copy-job-failed.json").to_string();
        let cut = full.char_indices().map(|(i, _)| i).take_while(|i| *i <= cut).last().unwrap_or(0);
        let mut event = fixture("sns/copy-job-failed.json");
        event["Records"][0]["Sns"]["MessageAttributes"] = json!({});
        event["Records"][0]["Sns"]["Message"] = json!(&full[..cut]);
        let _ = all_handlers(&event);
    }

    #[test]
    fn huge_and_odd_unicode_messages_are_bounded(repeat in 1usize..400, text in "\\PC{1,8}") {
        let mut event = fixture("sns/backup-job-completed.json");
        event["Records"][0]["Sns"]["Message"] = json!(text.repeat(repeat * 100));
        match parse_lambda_event(&event).unwrap().remove(0) {
            Ok(_) => prop_assert!(event["Records"][0]["Sns"]["Message"].as_str().unwrap().len() <= 256 * 1024),
            Err(err) => prop_assert_eq!(err.to_string(), "Records[0]: message is larger than 256 KiB"),
        }
    }

    #[test]
    fn many_records_are_bounded(count in 0usize..150) {
        let record = fixture("sns/copy-job-started.json")["Records"][0].clone();
        let event = json!({ "Records": vec![record; count] });
        match parse_lambda_event(&event) {
            Ok(records) => {
                prop_assert!(count <= 100, "{} records accepted", count);
                prop_assert_eq!(records.len(), count);
            }
            Err(err) => {
                prop_assert!(count > 100, "{} records refused", count);
                prop_assert!(err.to_string().contains("more than 100 records"));
            }
        }
    }
}
