//! copy-job-retrier: retries failed copy jobs with backoff (SQS delay queue) and alerts once.

#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, DynamoStore, Host, SdkBackup, SnsAlerts, SqsRetryQueue};
use vaultwatch::config::RetrierConfig;
use vaultwatch::handlers::retrier::Retrier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let config = RetrierConfig::from_env()?;
    let sdk = load_sdk_config(Host::Lambda).await?;
    let retrier = Retrier {
        backup: SdkBackup::new(aws_sdk_backup::Client::new(&sdk)),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table),
        alerts: SnsAlerts::new(&sdk, config.alert_topic),
        queue: SqsRetryQueue::new(&sdk, config.retry_queue_url),
        policy: config.policy,
        claim_lease: config.claim_lease,
        sources: config.sources,
        roles: config.roles,
        targets: config.targets,
    };
    let retrier = &retrier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| async move { retrier.handle(&event.payload).await },
    ))
    .await
}
