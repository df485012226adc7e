//! Each function wired to AWS: one constructor from its configuration and the SDK configuration,
//! built once at cold start (every `main.rs` calls one of these).

use std::sync::Arc;

use aws_config::SdkConfig;

use super::{DynamoStore, PresignedUrlResponder, S3Evidence, SdkBackup, SdkPathFacts, SnsAlerts, SqsRetryQueue};
use crate::config::{CopierConfig, ReconcilerConfig, RetrierConfig, TrackerConfig};
use crate::handlers::copier::Copier;
use crate::handlers::deploy_check::ReconcilerFunction;
use crate::handlers::reconciler::{DailyPathCheck, EvidenceSettings, Reconciler};
use crate::handlers::retrier::Retrier;
use crate::handlers::tracker::Tracker;
use crate::handlers::vault_setup::custom_resource::VaultNotificationsResource;
use crate::ports::WallClock;

pub type AwsRetrier = Retrier<SdkBackup, DynamoStore, SnsAlerts, SqsRetryQueue>;
pub type AwsReconciler = ReconcilerFunction<
    SdkBackup,
    DynamoStore,
    SnsAlerts,
    SqsRetryQueue,
    SdkPathFacts,
    PresignedUrlResponder,
    S3Evidence,
>;
pub type AwsVaultNotificationsResource = VaultNotificationsResource<SdkBackup, PresignedUrlResponder>;

impl Tracker<DynamoStore> {
    pub fn from_config(config: TrackerConfig, sdk: &SdkConfig) -> Self {
        Self { store: DynamoStore::new(sdk, config.table), sources: config.sources }
    }
}

impl Copier<SdkBackup> {
    pub fn from_config(config: CopierConfig, sdk: &SdkConfig) -> Self {
        Self {
            backup: SdkBackup::new(sdk),
            routes: config.routes,
            copy_role: config.copy_role,
            sources: config.sources,
        }
    }
}

impl AwsRetrier {
    pub fn from_config(config: RetrierConfig, sdk: &SdkConfig) -> Self {
        Retrier::new(
            SdkBackup::new(sdk),
            DynamoStore::new(sdk, config.table),
            SnsAlerts::new(sdk, config.alert_topic),
            SqsRetryQueue::new(sdk, config.retry_queue_url),
            config.settings,
        )
    }
}

impl AwsReconciler {
    pub fn from_config(config: ReconcilerConfig, sdk: &SdkConfig) -> Self {
        let retrier = config.retrier;
        let reconciler = Reconciler {
            backup: SdkBackup::new(sdk),
            store: DynamoStore::new(sdk, retrier.table),
            alerts: SnsAlerts::new(sdk, retrier.alert_topic),
            queue: SqsRetryQueue::new(sdk, retrier.retry_queue_url),
            retry: retrier.settings,
            sweep: config.sweep,
            routes: config.routes,
            copy_role: config.copy_role,
            organization: config.organization,
            path_check: config.path_check_region.map(|region| DailyPathCheck { facts: SdkPathFacts::new(sdk), region }),
            evidence: config.evidence.map(|evidence| EvidenceSettings {
                sink: S3Evidence::new(sdk, evidence.bucket),
                prefix: evidence.prefix,
                organization_prefix: evidence.organization_prefix,
            }),
            clock: Arc::new(WallClock),
        };
        // The same function serves the template's path check at deploy (a custom resource).
        Self { reconciler, responder: PresignedUrlResponder }
    }
}

impl AwsVaultNotificationsResource {
    /// The custom resource has no configuration of its own: the template passes it in each request.
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        Self { backup: SdkBackup::new(sdk), responder: PresignedUrlResponder }
    }
}
