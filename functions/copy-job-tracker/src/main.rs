//! copy-job-tracker: records every copy job state change in the tracking table.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, Host};
use vaultwatch::config::TrackerConfig;
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::metrics::MetricsWriter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let metrics = &MetricsWriter::from_env("tracker");
    let config = TrackerConfig::from_env()?;
    let tracker = &Tracker::from_config(config, &load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        metrics.record(tracker.handle(&event.payload).await)
    }))
    .await
}
