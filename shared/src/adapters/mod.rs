//! The ports implemented with the AWS SDK, and the SDK configuration they share.

mod backup;
mod dynamodb;
mod error;
mod sns;
mod sqs;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

pub use backup::SdkBackup;
pub use dynamodb::DynamoStore;
pub use sns::SnsAlerts;
pub use sqs::SqsRetryQueue;

/// Loads the SDK configuration once per cold start. Region, credentials and endpoint overrides
/// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_BACKUP`, ...) come from the standard environment.
///
/// Retries: standard mode, 3 attempts, so a throttled call is retried with jittered backoff inside
/// the invocation; what still fails surfaces as a transient error and Lambda (or SQS) retries the
/// whole event later. Timeouts bound each attempt (5 s) and each operation (12 s) so one slow call
/// cannot eat the 30 s function timeout before the error is reported.
pub async fn load_sdk_config() -> SdkConfig {
    let http_client =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
        .load()
        .await
}
