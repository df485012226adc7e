//! copy-job-reconciler: on a schedule, brings the tracking table in line with AWS Backup, retries
//! failures the event path missed, starts copies routes call for but nobody started, and checks the
//! copy paths once a day; at deploy it serves the template's `PathCheckAtDeploy` custom resource.

// rustc's default query depth (128) is too shallow for the layout of this main's future, which holds
// the sweep's and the path check's nested request futures (as vault-notifications' main).
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vaultwatch::adapters::{load_sdk_config, AwsReconciler, Host};
use vaultwatch::config::ReconcilerConfig;
use vaultwatch::domain::ClaimOwner;
use vaultwatch::metrics::MetricsWriter;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    vaultwatch::telemetry::init();
    let metrics = &MetricsWriter::from_env("reconciler");
    let config = ReconcilerConfig::from_env()?;
    let reconciler = &AwsReconciler::from_config(config, &load_sdk_config(Host::Lambda).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The invocation's request id owns the claims it takes.
        // (The Runtime API always sends one; an empty one would get an owner of its own.)
        let owner = ClaimOwner::parse(&event.context.request_id).unwrap_or_else(|_| ClaimOwner::unique());
        metrics.record(reconciler.handle(&event.payload, event.context.deadline, &owner).await)
    }))
    .await
}
