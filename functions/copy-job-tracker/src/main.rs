//! copy-job-tracker: records every copy job state change in the tracking table.

#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, DynamoStore, Host};
use vaultwatch::config::TrackerConfig;
use vaultwatch::handlers::tracker::Tracker;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let config = TrackerConfig::from_env()?;
    let sdk = load_sdk_config(Host::Lambda).await?;
    let tracker =
        Tracker { store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table), sources: config.sources };
    let tracker = &tracker;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| async move { tracker.handle(&event.payload).await },
    ))
    .await
}
