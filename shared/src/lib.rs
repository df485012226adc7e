//! vaultwatch: keeps AWS Backup copy jobs honest.
//!
//! - [`domain`]: the vocabulary (ids, ARNs, jobs, routes, retry policy, tracking records).
//! - [`notification`]: SNS / EventBridge payloads parsed once into typed events.
//! - [`ports`]: what the handlers need from AWS, as traits, with in-memory fakes.
//! - [`adapters`]: the ports implemented with the AWS SDK.
//! - [`handlers`]: the functions' behaviour (retrier, copier, tracker, reconciler, vault setup), over the
//!   ports only.
//! - [`metrics`]: CloudWatch metrics (Embedded Metric Format) from the handlers' typed outcomes.
//! - [`config`]: environment configuration, validated once at cold start.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod metrics;
pub mod notification;
pub mod ports;
pub mod telemetry;
