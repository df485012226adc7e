//! vault-notifications: points AWS Backup vaults' notifications at the vaultwatch topic, keeping the
//! events already set. From a shell it is a command (`--help`); under Lambda it serves the
//! template's `Custom::VaultNotifications` resource.
//!
//! Exit codes: 0 every vault configured (or already right), 1 at least one vault failed, 2 the
//! command line or the AWS configuration is wrong.

// rustc's default query depth (128) is too shallow for the layout of this main's future, which holds
// the SDK's nested request futures of three operations; the Lambda mains need no such raise.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, AwsVaultNotificationsResource, Host, SdkBackup};
use vaultwatch::domain::{TopicArn, VaultName};
use vaultwatch::handlers::vault_setup::{configure_vaults, SetupOptions};

/// Points each vault's AWS Backup notifications at the vaultwatch topic, adding the events vaultwatch
/// needs (BACKUP_JOB_COMPLETED, COPY_JOB_STARTED, COPY_JOB_SUCCESSFUL, COPY_JOB_FAILED) to those
/// already set. Exit status: 0 all configured, 1 a vault failed, 2 usage or AWS configuration error.
#[derive(Debug, Parser)]
#[command(name = "vault-notifications", version)]
struct Args {
    /// The SNS topic the vaults should notify (the stack's VaultEventTopicArn output).
    #[arg(long = "topic-arn", value_name = "ARN", value_parser = |raw: &str| TopicArn::parse(raw))]
    topic: TopicArn,
    /// Print the changes, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Take over vaults that notify another topic (their events are kept).
    #[arg(long)]
    replace_topic: bool,
    /// The vaults to configure, by name.
    #[arg(required = true, value_name = "VAULT", value_parser = |raw: &str| VaultName::parse(raw))]
    vaults: Vec<VaultName>,
}

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
    let args = Args::parse();
    let sdk = match load_sdk_config(Host::Shell).await {
        Ok(sdk) => sdk,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let options = SetupOptions { dry_run: args.dry_run, replace_topic: args.replace_topic };
    let mut failed = false;
    for result in configure_vaults(&SdkBackup::new(&sdk), &args.vaults, &args.topic, options).await {
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
    let resource = &AwsVaultNotificationsResource::from_sdk(&load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| async move { resource.handle(&event.payload).await },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:backup-vault-events";

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::try_parse_from(std::iter::once("vault-notifications").chain(args.iter().copied()))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn command_line_arguments_are_validated() {
        let parsed = parse(&["--topic-arn", TOPIC, "--dry-run", "primary", "db"]).unwrap();
        assert_eq!(parsed.vaults, vec![VaultName::parse("primary").unwrap(), VaultName::parse("db").unwrap()]);
        assert!(parsed.dry_run && !parsed.replace_topic);
        assert!(parse(&["--replace-topic", "--topic-arn", TOPIC, "primary"]).unwrap().replace_topic);
        assert!(parse(&["primary"]).unwrap_err().contains("--topic-arn <ARN>"));
        assert!(parse(&["--topic-arn", TOPIC]).unwrap_err().contains("<VAULT>..."));
        assert!(parse(&["--topic-arn", "nope", "primary"]).unwrap_err().contains("SNS topic ARN"));
        assert!(parse(&["--topic-arn", TOPIC, "--force", "primary"]).unwrap_err().contains("--force"));
        assert!(parse(&["--topic-arn", TOPIC, "no/slash"]).unwrap_err().contains("no/slash"));
    }
}
