//! cross-region-copier: starts one copy per configured route when a backup completes.

#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, Host, SdkBackup};
use vaultwatch::config::CopierConfig;
use vaultwatch::handlers::copier::Copier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let config = CopierConfig::from_env()?;
    let sdk = load_sdk_config(Host::Lambda).await?;
    let copier = Copier {
        backup: SdkBackup::new(aws_sdk_backup::Client::new(&sdk)),
        routes: config.routes,
        copy_role: config.copy_role,
        sources: config.sources,
    };
    let copier = &copier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { copier.handle(&event.payload).await }))
        .await
}
