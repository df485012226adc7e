//! The ports implemented with the AWS SDK, and the SDK configuration they share.

mod backup;
mod cloudformation;
mod dynamodb;
mod error;
mod s3;
mod sns;
mod sqs;
mod wiring;

use std::sync::OnceLock;
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_types::config_bag::ConfigBag;

use crate::config::ConfigError;

pub use backup::{SdkBackup, SdkPathFacts};
pub use cloudformation::PresignedUrlResponder;
pub use dynamodb::DynamoStore;
pub use error::{ActionableError, CommandContext, Permissions};
pub use s3::S3Evidence;
pub use sns::SnsAlerts;
pub use sqs::SqsRetryQueue;
pub use wiring::{AwsReconciler, AwsRetrier, AwsVaultNotificationsResource};

/// An SDK client built the first time it is needed, then kept for the execution environment. For
/// the clients only some invocations use (alerts; the retry queue, which retries arriving from it
/// never need): building one is a measurable part of a cold start, mostly the SDK parsing its
/// endpoint partition table, and an environment that never needs it never pays (figures:
/// docs/tuning.md, "Cold start").
pub struct OnFirstUse<C> {
    sdk: SdkConfig,
    build: fn(&SdkConfig) -> C,
    client: OnceLock<C>,
}

impl<C> OnFirstUse<C> {
    pub fn new(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self {
        Self { sdk: sdk.clone(), build, client: OnceLock::new() }
    }

    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)(&self.sdk))
    }
}

/// The roots of Amazon Trust Services, which every public AWS endpoint chains to.
const AMAZON_TRUST_ROOTS: &str = include_str!("amazon-trust-roots.pem");

/// Where the process runs, which decides where credentials and region come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// A Lambda function: Lambda puts the role's credentials and the region in the environment, so
    /// the SDK's provider chains (profile files, SSO, web identity with its own STS client, container
    /// and instance metadata) are not built at all. That is most of a cold start's SDK work.
    Lambda,
    /// An operator's shell: the SDK's default chains (profiles, SSO, ...) and the OS trust store.
    Shell,
}

/// Which certificate authorities HTTPS connections trust (`TLS_ROOTS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsRoots {
    /// The five Amazon Trust Services roots, built in (the default under Lambda). Loading the OS
    /// store instead reads and parses every certificate it holds on every cold start.
    Amazon,
    /// The operating system's store, for a TLS-inspecting proxy or endpoints with other CAs.
    System,
}

impl TlsRoots {
    /// `TLS_ROOTS`: `amazon` or `system`; unset means `default`.
    pub fn from_env_value(value: Option<&str>, default: Self) -> Result<Self, ConfigError> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("amazon") => Ok(Self::Amazon),
            Some(v) if v.eq_ignore_ascii_case("system") => Ok(Self::System),
            Some(_) => Err(ConfigError { problems: vec!["TLS_ROOTS must be `amazon` or `system`".into()] }),
        }
    }

    /// The HTTPS client every SDK client of the process shares: rustls with ring, trusting these roots.
    fn https_client(self) -> SharedHttpClient {
        let hyper = |trust_store| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .tls_context(TlsContext::builder().with_trust_store(trust_store).build().expect("a valid TLS context"))
                .build_https()
        };
        match self {
            Self::Amazon => SharedHttpClient::new(ConnectOnFirstRequest(hyper(
                TrustStore::empty().with_pem_certificate(AMAZON_TRUST_ROOTS.as_bytes()),
            ))),
            // The OS store is worth loading at cold start, as the SDK does, not in the first request.
            Self::System => hyper(TrustStore::default()),
        }
    }
}

/// The SDK's HTTPS client, except that building an SDK client does not build (and throw away) an
/// HTTPS connector. The SDK does that in every `Client::new`, so the OS trust store loads during
/// init rather than in the first request; with built-in roots it only decodes them and sets up
/// TLS once per client for nothing, since the connector requests use is built, and cached, on the
/// first request either way (what it cost: docs/tuning.md, "Cold start").
#[derive(Debug)]
struct ConnectOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectOnFirstRequest {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(&self, _: &RuntimeComponentsBuilder, _: &ConfigBag) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// Loads the SDK configuration once per cold start. Endpoint overrides (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_BACKUP`, ...) come from the standard environment; see [`Host`] for
/// credentials and region, [`TlsRoots`] for `TLS_ROOTS`.
///
/// Retries: standard mode, 3 attempts, so a throttled call is retried with jittered backoff inside
/// the invocation; what still fails surfaces as a transient error and Lambda (or SQS) retries the
/// whole event later. Timeouts bound each attempt (5 s) and each operation
/// ([`crate::ports::OPERATION_TIMEOUT`], 12 s) so one slow call cannot eat the 30 s function
/// timeout before the error is reported.
pub async fn load_sdk_config(host: Host) -> Result<SdkConfig, ConfigError> {
    let default_roots = if host == Host::Lambda { TlsRoots::Amazon } else { TlsRoots::System };
    let roots = TlsRoots::from_env_value(std::env::var("TLS_ROOTS").ok().as_deref(), default_roots)?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(roots.https_client())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(crate::ports::OPERATION_TIMEOUT)
                .build(),
        );
    if host == Host::Lambda {
        let region = std::env::var("AWS_REGION")
            .map_err(|_| ConfigError { problems: vec!["AWS_REGION is not set (Lambda always sets it)".into()] })?;
        loader = loader.region(Region::new(region)).credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_on_first_use_is_built_once_and_only_when_asked_for() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        fn build(_: &SdkConfig) -> usize {
            BUILT.fetch_add(1, Ordering::SeqCst) + 1
        }
        let client = OnFirstUse::new(&SdkConfig::builder().build(), build);
        assert_eq!(BUILT.load(Ordering::SeqCst), 0, "nothing built before first use");
        assert_eq!((*client.get(), *client.get()), (1, 1));
        assert_eq!(BUILT.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn tls_roots_default_per_host_and_reject_typos() {
        assert_eq!(TlsRoots::from_env_value(None, TlsRoots::Amazon), Ok(TlsRoots::Amazon));
        assert_eq!(TlsRoots::from_env_value(Some(" System "), TlsRoots::Amazon), Ok(TlsRoots::System));
        assert_eq!(TlsRoots::from_env_value(Some(""), TlsRoots::System), Ok(TlsRoots::System));
        assert!(TlsRoots::from_env_value(Some("mozilla"), TlsRoots::Amazon).is_err());
    }

    #[test]
    fn the_built_in_roots_are_the_five_amazon_trust_services_certificates() {
        assert_eq!(AMAZON_TRUST_ROOTS.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        for name in
            ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root"]
        {
            assert!(AMAZON_TRUST_ROOTS.contains(name), "{name}");
        }
    }

    #[tokio::test]
    async fn the_first_request_builds_the_https_connector_from_the_built_in_roots() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
                aws_sdk_sqs::config::Credentials::new("AKID", "secret", None, None, "test"),
            ))
            .retry_config(RetryConfig::disabled())
            .endpoint_url("https://127.0.0.1:9")
            .http_client(TlsRoots::Amazon.https_client())
            .build();
        // The SDK parses the trust store when the first request needs a connector (it panics on a
        // bad certificate); nothing listens on port 9, so the request then fails to connect.
        let err = aws_sdk_sqs::Client::new(&sdk).list_queues().send().await.expect_err("nothing listens");
        assert!(matches!(err, aws_sdk_sqs::error::SdkError::DispatchFailure(_)), "{err:?}");
    }
}
