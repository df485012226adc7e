//! vault-notifications: serves the template's `VaultNotificationsSetup` custom resource, pointing AWS
//! Backup vaults' notifications at the vaultwatch topic and keeping the events already set. From a
//! shell, the same setup is `vaultwatch notifications` (cli/).

// rustc's default query depth (128) is too shallow for the layout of this main's future, which holds
// the SDK's nested request futures of three operations; the other Lambda mains need no such raise.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, AwsVaultNotificationsResource, Host};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let resource = &AwsVaultNotificationsResource::from_sdk(&load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| async move { resource.handle(&event.payload).await },
    ))
    .await
}
