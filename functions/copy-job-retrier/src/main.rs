//! copy-job-retrier: retries failed copy jobs with backoff (SQS delay queue) and alerts once.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, AwsRetrier, Host};
use vaultwatch::config::RetrierConfig;
use vaultwatch::domain::ClaimOwner;
use vaultwatch::metrics::MetricsWriter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let metrics = &MetricsWriter::from_env("retrier");
    let config = RetrierConfig::from_env()?;
    let retrier = &AwsRetrier::from_config(config, &load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The invocation's request id owns the claims it takes.
        // (The Runtime API always sends one; an empty one would get an owner of its own.)
        let owner = ClaimOwner::parse(&event.context.request_id).unwrap_or_else(|_| ClaimOwner::unique());
        metrics.record(retrier.handle_as(&event.payload, &owner).await)
    }))
    .await
}
