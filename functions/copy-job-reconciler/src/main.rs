//! copy-job-reconciler: on a schedule, brings the tracking table in line with AWS Backup, retries
//! failures the event path missed and starts copies routes call for but nobody started.

#![recursion_limit = "256"]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, DynamoStore, Host, SdkBackup, SnsAlerts, SqsRetryQueue};
use vaultwatch::config::ReconcilerConfig;
use vaultwatch::handlers::reconciler::{Reconciler, SweepSettings};
use vaultwatch::handlers::retrier::Retrier;

/// Time kept back from the Lambda deadline to save the cursor and report.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let config = ReconcilerConfig::from_env()?;
    let sdk = load_sdk_config(Host::Lambda).await?;
    let retrier = config.retrier;
    let reconciler = Reconciler {
        retrier: Retrier {
            backup: SdkBackup::new(aws_sdk_backup::Client::new(&sdk)),
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), retrier.table),
            alerts: SnsAlerts::new(&sdk, retrier.alert_topic),
            queue: SqsRetryQueue::new(&sdk, retrier.retry_queue_url),
            policy: retrier.policy,
            claim_lease: retrier.claim_lease,
            sources: retrier.sources,
            roles: retrier.roles,
            targets: retrier.targets,
        },
        settings: SweepSettings {
            lookback: config.lookback,
            destination_vault: config.destination_vault,
            state: config.state,
            page_size: config.page_size,
        },
        routes: config.routes,
        copy_role: config.copy_role,
    };
    let reconciler = &reconciler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        reconciler.handle(&event.payload, deadline(event.context.deadline)).await
    }))
    .await
}

/// The invocation's deadline (milliseconds since the epoch) as an Instant, less the safety margin.
fn deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + remaining.saturating_sub(SAFETY_MARGIN)
}
