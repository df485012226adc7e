//! vault-notifications: points AWS Backup vaults' notifications at the vaultwatch topic, keeping the
//! events already set. From a shell it is a command (`--help`); under Lambda it serves the
//! template's `Custom::VaultNotifications` resource.

// rustc's default query depth (128) is too shallow for the layout of this main's future, which holds
// the SDK's nested request futures of three operations; the Lambda mains need no such raise.
#![recursion_limit = "256"]

use std::process::ExitCode;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, Host, SdkBackup};
use vaultwatch::vault_setup::{cli, configure_vaults, custom_resource};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match serve_custom_resource().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let sdk = match load_sdk_config(Host::Shell).await {
        Ok(sdk) => sdk,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let backup = SdkBackup::new(&sdk);
    let mut failed = false;
    for result in configure_vaults(&backup, &args.vaults, &args.topic, args.options).await {
        match result {
            Ok(change) => println!("{change}"),
            Err(err) => {
                failed = true;
                eprintln!("error: {err}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn serve_custom_resource() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let backup = SdkBackup::new(&load_sdk_config(Host::Lambda).await?);
    let backup = &backup;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let response = custom_resource::handle(backup, &event.payload).await?;
        let status = response.body["Status"].clone();
        // CloudFormation reads the answer from the pre-signed URL; a blocking PUT off the runtime thread.
        let body = response.body.to_string();
        let url = response.url;
        tokio::task::spawn_blocking(move || ureq::put(&url).header("Content-Type", "").send(body.as_bytes()).map(drop))
            .await
            .map_err(|err| err.to_string())?
            .map_err(|err| format!("could not answer CloudFormation: {err}"))?;
        Ok::<Value, Error>(serde_json::json!({ "Status": status }))
    }))
    .await
}
