//! cross-region-copier: starts one copy per configured route when a backup completes.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, Host};
use vaultwatch::config::CopierConfig;
use vaultwatch::handlers::copier::Copier;
use vaultwatch::metrics::MetricsWriter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let metrics = &MetricsWriter::from_env("copier");
    let config = CopierConfig::from_env()?;
    let copier = &Copier::from_config(config, &load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        metrics.record(copier.handle(&event.payload).await)
    }))
    .await
}
