//! Configuration from environment variables, validated once at cold start. Every problem is
//! collected, so a misconfigured function reports all of them in one clear error.

use std::time::Duration;

use crate::domain::{
    BackupVaultArn, ClaimLease, CopyJobState, CopyTargets, IamRoleArn, PassableRoles, RetryPolicy, RouteTable,
    SourcePolicy, TopicArn,
};
use crate::handlers::backfill::{BackfillSettings, DEFAULT_BACKFILL_CONCURRENCY};
use crate::handlers::organization::OrganizationSettings;
use crate::handlers::reconciler::SweepSettings;
use crate::handlers::retrier::{RetrierSettings, DEFAULT_INCIDENT_DIGEST_HOURS};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
struct Env<F> {
    lookup: F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn new(lookup: F) -> Self {
        Self { lookup, problems: Vec::new() }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    }

    fn required(&mut self, name: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            self.problems.push(format!("{name} is not set"));
        }
        value
    }

    fn parsed<T, E: std::fmt::Display>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Option<T> {
        let raw = self.required(name)?;
        parse(&raw).map_err(|err| self.problems.push(format!("{name}: {err}"))).ok()
    }

    fn number(&mut self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problems.push(format!(
                    "{name} must be a whole number of {}",
                    if name.ends_with("SECONDS") { "seconds" } else { "units" }
                ));
                default
            }),
        }
    }

    /// ALLOWED_TOPIC_ARNS / ALLOWED_ACCOUNT_IDS (comma-separated). Unset allows any publisher, with a
    /// warning at cold start; the template always sets both.
    fn sources(&mut self) -> Option<SourcePolicy> {
        let topics = self.get("ALLOWED_TOPIC_ARNS").unwrap_or_default();
        let accounts = self.get("ALLOWED_ACCOUNT_IDS").unwrap_or_default();
        if topics.is_empty() && accounts.is_empty() {
            tracing::warn!(
                "ALLOWED_TOPIC_ARNS and ALLOWED_ACCOUNT_IDS are not set: notifications from any publisher are accepted"
            );
        }
        SourcePolicy::parse(&topics, &accounts).map_err(|err| self.problems.push(err.to_string())).ok()
    }

    /// An optional variable parsed when set.
    fn optional<T, E: std::fmt::Display>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Option<T> {
        let raw = self.get(name)?;
        parse(&raw).map_err(|err| self.problems.push(format!("{name}: {err}"))).ok()
    }

    /// COPY_ROLE_ARN (the role copies pass, and a retry's fallback) and PASSABLE_ROLE_ARNS (every
    /// role the function may pass; unset allows any, with a warning: the template always sets it).
    fn roles(&mut self) -> (Option<IamRoleArn>, PassableRoles) {
        let copy_role = self.optional("COPY_ROLE_ARN", IamRoleArn::parse);
        let roles = match self.get("PASSABLE_ROLE_ARNS") {
            Some(list) => PassableRoles::parse(&list, copy_role.clone())
                .map_err(|err| self.problems.push(err.to_string()))
                .unwrap_or_default(),
            None => {
                tracing::warn!("PASSABLE_ROLE_ARNS is not set: a retry passes the failed job's own role");
                PassableRoles::any(copy_role.clone())
            }
        };
        (copy_role, roles)
    }

    /// BACKFILL_AFTER_HEALING (`true`/`false`, default true) and BACKFILL_CONCURRENCY (1-100,
    /// default 5): the backfill of a healed path.
    fn backfill(&mut self) -> BackfillSettings {
        let enabled = match self.get("BACKFILL_AFTER_HEALING").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => {
                self.problems.push("BACKFILL_AFTER_HEALING must be true or false".to_owned());
                true
            }
        };
        let concurrency = self.number("BACKFILL_CONCURRENCY", u64::from(DEFAULT_BACKFILL_CONCURRENCY));
        if !(1..=100).contains(&concurrency) {
            self.problems.push("BACKFILL_CONCURRENCY must be from 1 to 100".to_owned());
        }
        BackfillSettings { enabled, concurrency: u32::try_from(concurrency.clamp(1, 100)).unwrap_or(1) }
    }

    /// COPY_TARGETS: destination vault ARN patterns copies may go to; unset allows any, with a
    /// warning (the template always sets it).
    fn copy_targets(&mut self) -> CopyTargets {
        match self.get("COPY_TARGETS") {
            Some(list) => {
                CopyTargets::parse(&list).map_err(|err| self.problems.push(err.to_string())).unwrap_or_default()
            }
            None => {
                tracing::warn!("COPY_TARGETS is not set: copies to any vault are attempted");
                CopyTargets::default()
            }
        }
    }

    /// Every route's destination must be a copy target: IAM would refuse the others.
    fn check_routes_within(&mut self, routes: Option<&RouteTable>, targets: &CopyTargets) {
        for destination in routes.into_iter().flat_map(RouteTable::destinations) {
            if !targets.allows(destination) {
                self.problems
                    .push(format!("COPY_ROUTES: destination {destination} is not in COPY_TARGETS ({targets})"));
            }
        }
    }

    fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ConfigError> {
        match (self.problems.is_empty(), build()) {
            (true, Some(config)) => Ok(config),
            _ => Err(ConfigError { problems: self.problems }),
        }
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// copy-job-tracker.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub table: String,
    pub sources: SourcePolicy,
}

impl TrackerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table = env.required("TRACKING_TABLE_NAME");
        let sources = env.sources();
        env.finish(|| Some(Self { table: table?, sources: sources? }))
    }
}

/// copy-job-retrier.
#[derive(Debug, Clone)]
pub struct RetrierConfig {
    pub table: String,
    pub alert_topic: TopicArn,
    pub retry_queue_url: String,
    /// The role copies pass (COPY_ROLE_ARN), also a retry's fallback role (in `settings.roles`).
    pub copy_role: Option<IamRoleArn>,
    pub settings: RetrierSettings,
}

impl RetrierConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table = env.required("TRACKING_TABLE_NAME");
        let alert_topic = env.parsed("ALERT_TOPIC_ARN", TopicArn::parse);
        let retry_queue_url = env.parsed("RETRY_QUEUE_URL", |url| {
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url.to_owned())
            } else {
                Err("must be a queue URL (https://...)")
            }
        });
        let max_attempts = env.number("MAX_ATTEMPTS", 3);
        let base_delay = env.number("RETRY_BASE_DELAY_SECONDS", 60);
        let lease = env.number("CLAIM_LEASE_SECONDS", 330);
        // The longest timeout of a function that takes claims (the template's, from the retrier's
        // and the reconciler's Timeout); the lease must outlast it.
        let longest_holder = env.number("CLAIM_HOLDER_MAX_TIMEOUT_SECONDS", 300);
        let sources = env.sources();
        let (copy_role, roles) = env.roles();
        let targets = env.copy_targets();
        let digest_hours = env.number("INCIDENT_DIGEST_HOURS", u64::from(DEFAULT_INCIDENT_DIGEST_HOURS));
        let backfill = env.backfill();
        let policy = RetryPolicy::new(u32::try_from(max_attempts).unwrap_or(u32::MAX), Duration::from_secs(base_delay))
            .map_err(|err| env.problems.push(err.to_string()))
            .ok();
        let claim_lease = ClaimLease::new(Duration::from_secs(lease), Duration::from_secs(longest_holder))
            .map_err(|err| {
                env.problems.push(format!("CLAIM_LEASE_SECONDS must exceed CLAIM_HOLDER_MAX_TIMEOUT_SECONDS: {err}"))
            })
            .ok();
        env.finish(|| {
            Some(Self {
                table: table?,
                alert_topic: alert_topic?,
                retry_queue_url: retry_queue_url?,
                copy_role,
                settings: RetrierSettings {
                    policy: policy?,
                    claim_lease: claim_lease?,
                    sources: sources?,
                    roles,
                    targets,
                    incident_digest_hours: u32::try_from(digest_hours).unwrap_or(u32::MAX),
                    backfill,
                },
            })
        })
    }
}

/// cross-region-copier.
#[derive(Debug, Clone)]
pub struct CopierConfig {
    pub routes: RouteTable,
    pub copy_role: IamRoleArn,
    pub sources: SourcePolicy,
    pub targets: CopyTargets,
}

impl CopierConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let routes = env.parsed("COPY_ROUTES", RouteTable::from_json);
        let copy_role = env.parsed("COPY_ROLE_ARN", IamRoleArn::parse);
        let sources = env.sources();
        let targets = env.copy_targets();
        env.check_routes_within(routes.as_ref(), &targets);
        if routes.as_ref().is_some_and(RouteTable::is_empty) {
            env.problems.push("COPY_ROUTES has no routes: the copier would never copy anything".into());
        }
        env.finish(|| Some(Self { routes: routes?, copy_role: copy_role?, sources: sources?, targets }))
    }
}

/// copy-job-reconciler: the retrier's settings (it hands failures to the same logic) plus the sweep.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub retrier: RetrierConfig,
    pub sweep: SweepSettings,
    /// Routes whose missing copies are started (optional: without them only existing jobs are reconciled).
    pub routes: RouteTable,
    pub copy_role: Option<IamRoleArn>,
    /// ORGANIZATION_VIEW=true (the management account's stack): after its own sweep, each run
    /// reports the organization's coverage, read-only; ORGANIZATION_REQUIRED_DESTINATIONS names the
    /// vaults every backup must have a copy in (comma-separated ARNs).
    pub organization: Option<OrganizationSettings>,
    /// PATH_CHECK (`daily`, the default, or `off`): the daily path check, of the routes' and this
    /// region's plans' paths (AWS_REGION, which Lambda sets) and the open incidents'.
    pub path_check_region: Option<String>,
    /// EVIDENCE_BUCKET: the daily evidence snapshots' bucket (none: no snapshots), with
    /// EVIDENCE_PREFIX, this account's and region's key prefix, and, with the organization view,
    /// EVIDENCE_ORGANIZATION_PREFIX, the organization's.
    pub evidence: Option<EvidenceConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceConfig {
    pub bucket: String,
    pub prefix: String,
    pub organization_prefix: String,
}

impl ReconcilerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let retrier = RetrierConfig::from_lookup(&lookup);
        let mut env = Env::new(&lookup);
        if let Err(err) = &retrier {
            env.problems.extend(err.problems.iter().cloned());
        }
        let hours = env.number("RECONCILE_LOOKBACK_HOURS", 72);
        if !(1..=24 * 30).contains(&hours) {
            env.problems.push("RECONCILE_LOOKBACK_HOURS must be between 1 and 720".into());
        }
        let page_size = env.number("RECONCILE_PAGE_SIZE", 1000);
        if !(1..=1000).contains(&page_size) {
            env.problems.push("RECONCILE_PAGE_SIZE must be between 1 and 1000".into());
        }
        let destination_vault = env.optional("RECONCILE_DESTINATION_VAULT_ARN", BackupVaultArn::parse);
        let state = env.optional("RECONCILE_STATE", CopyJobState::parse);
        let routes = match env.get("COPY_ROUTES") {
            None => Some(RouteTable::default()),
            Some(raw) => {
                RouteTable::from_json(&raw).map_err(|err| env.problems.push(format!("COPY_ROUTES: {err}"))).ok()
            }
        };
        let copy_role = retrier.as_ref().ok().and_then(|retrier| retrier.copy_role.clone());
        if routes.as_ref().is_some_and(|r| !r.is_empty()) && copy_role.is_none() && env.get("COPY_ROLE_ARN").is_none() {
            env.problems.push("COPY_ROLE_ARN is not set (needed to start the copies COPY_ROUTES call for)".into());
        }
        if let Ok(retrier) = &retrier {
            env.check_routes_within(routes.as_ref(), &retrier.settings.targets);
        }
        let organization_view = match env.get("ORGANIZATION_VIEW").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                env.problems.push(format!("ORGANIZATION_VIEW must be true or false, not {other:?}"));
                false
            }
        };
        let required_destinations: Vec<BackupVaultArn> = env
            .get("ORGANIZATION_REQUIRED_DESTINATIONS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|arn| !arn.is_empty())
            .filter_map(|arn| {
                BackupVaultArn::parse(arn)
                    .map_err(|err| env.problems.push(format!("ORGANIZATION_REQUIRED_DESTINATIONS: {err}")))
                    .ok()
            })
            .collect();
        if !organization_view && !required_destinations.is_empty() {
            env.problems.push("ORGANIZATION_REQUIRED_DESTINATIONS is set but ORGANIZATION_VIEW is not true".into());
        }
        let path_check_region = match env.get("PATH_CHECK").as_deref() {
            None | Some("daily") => match env.get("AWS_REGION") {
                Some(region) => Some(region),
                None => {
                    env.problems.push(
                        "AWS_REGION is not set: the daily path check (PATH_CHECK=daily) reads this region's plans; \
                         set PATH_CHECK=off to go without it"
                            .into(),
                    );
                    None
                }
            },
            Some("off") => None,
            Some(other) => {
                env.problems.push(format!("PATH_CHECK must be daily or off, not {other:?}"));
                None
            }
        };
        let evidence = match (env.get("EVIDENCE_BUCKET"), env.get("EVIDENCE_PREFIX")) {
            (None, _) => None,
            (Some(_), None) => {
                env.problems.push("EVIDENCE_BUCKET is set but EVIDENCE_PREFIX is not".into());
                None
            }
            (Some(bucket), Some(prefix)) => {
                let organization_prefix = env.get("EVIDENCE_ORGANIZATION_PREFIX").unwrap_or_default();
                if organization_view && organization_prefix.is_empty() {
                    env.problems.push(
                        "ORGANIZATION_VIEW is true and EVIDENCE_BUCKET is set, but EVIDENCE_ORGANIZATION_PREFIX is not"
                            .into(),
                    );
                }
                Some(EvidenceConfig { bucket, prefix: prefix.trim_end_matches('/').to_owned(), organization_prefix })
            }
        };
        let max_attempts = retrier.as_ref().map_or(0, |retrier| retrier.settings.policy.max_attempts);
        let organization = organization_view.then_some(OrganizationSettings { required_destinations, max_attempts });
        env.finish(|| {
            Some(Self {
                retrier: retrier.ok()?,
                sweep: SweepSettings {
                    lookback: Duration::from_secs(hours * 3600),
                    destination_vault,
                    state,
                    page_size: page_size as i32,
                },
                routes: routes?,
                copy_role,
                organization,
                path_check_region,
                evidence,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn retrier_defaults_apply() {
        let config = RetrierConfig::from_lookup(lookup(&[
            ("TRACKING_TABLE_NAME", "tracking"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
        ]))
        .unwrap();
        assert_eq!(config.settings, RetrierSettings::default(), "the template's defaults, any role and target");
    }

    #[test]
    fn a_claim_lease_must_outlast_the_longest_timeout_of_a_function_that_takes_claims() {
        let with = |lease: &str, longest: Option<&str>| {
            let mut pairs = vec![
                ("TRACKING_TABLE_NAME", "tracking"),
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
                ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
                ("CLAIM_LEASE_SECONDS", lease),
            ];
            pairs.extend(longest.map(|longest| ("CLAIM_HOLDER_MAX_TIMEOUT_SECONDS", longest)));
            RetrierConfig::from_lookup(lookup(&pairs))
        };
        // Not longer than the reconciler's 300 s (the default), nor than a declared timeout.
        for (lease, longest) in [("1", None), ("90", None), ("300", None), ("60", Some("60")), ("30", Some("900"))] {
            let err = with(lease, longest).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{err}");
            assert!(
                err.problems[0].starts_with("CLAIM_LEASE_SECONDS must exceed CLAIM_HOLDER_MAX_TIMEOUT_SECONDS"),
                "{err}"
            );
        }
        assert!(with("300", None).unwrap_err().to_string().contains("(300 s)"));
        // Longer: accepted, however short (a test's lease with a shorter declared timeout).
        let config = with("2", Some("1")).unwrap();
        assert_eq!(config.settings.claim_lease.duration(), Duration::from_secs(2));
        assert_eq!(with("301", None).unwrap().settings.claim_lease.duration(), Duration::from_secs(301));
        assert!(with("330", Some("soon")).is_err(), "a number of seconds");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err =
            RetrierConfig::from_lookup(lookup(&[("ALERT_TOPIC_ARN", "alerts"), ("MAX_ATTEMPTS", "0")])).unwrap_err();
        let message = err.to_string();
        for expected in [
            "TRACKING_TABLE_NAME is not set",
            "ALERT_TOPIC_ARN: SNS topic ARN",
            "RETRY_QUEUE_URL is not set",
            "MAX_ATTEMPTS must be between 1 and 10",
        ] {
            assert!(message.contains(expected), "{message} lacks {expected}");
        }
    }

    #[test]
    fn copier_rejects_bad_routes_and_roles() {
        let err = CopierConfig::from_lookup(lookup(&[
            ("TRACKING_TABLE_NAME", "tracking"),
            ("COPY_ROUTES", r#"[{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:us-west-2:123456789012:backup-vault:dr","lifecycle":{"moveToColdStorageAfterDays":30,"deleteAfterDays":60}}]"#),
            ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:user/x"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(CopierConfig::from_lookup(lookup(&[
            ("TRACKING_TABLE_NAME", "t"),
            ("COPY_ROUTES", "[]"),
            ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/r")
        ]))
        .is_err());
    }

    #[test]
    fn reconciler_reports_retrier_and_sweep_problems_together() {
        let err = ReconcilerConfig::from_lookup(lookup(&[
            ("TRACKING_TABLE_NAME", "tracking"),
            ("RECONCILE_LOOKBACK_HOURS", "0"),
            ("RECONCILE_STATE", "DONE"),
            ("COPY_ROUTES", r#"[{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:us-west-2:123456789012:backup-vault:dr"}]"#),
        ]))
        .unwrap_err()
        .to_string();
        for expected in
            ["ALERT_TOPIC_ARN is not set", "RECONCILE_LOOKBACK_HOURS", "RECONCILE_STATE", "COPY_ROLE_ARN is not set"]
        {
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
        let ok = ReconcilerConfig::from_lookup(lookup(&[
            ("TRACKING_TABLE_NAME", "tracking"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!(ok.sweep.lookback, Duration::from_secs(72 * 3600));
        assert!(ok.routes.is_empty() && ok.copy_role.is_none());
        assert_eq!(ok.organization, None, "the organization view is opted into");
        assert_eq!(ok.path_check_region.as_deref(), Some("eu-west-1"), "the path check is on by default");
    }

    #[test]
    fn the_daily_path_check_reads_the_functions_region_or_is_turned_off() {
        let base = [
            ("TRACKING_TABLE_NAME", "tracking"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            ReconcilerConfig::from_lookup(lookup(&[&base[..], extra].concat()))
        };
        let daily = with(&[("PATH_CHECK", "daily"), ("AWS_REGION", "us-east-1")]).unwrap();
        assert_eq!(daily.path_check_region.as_deref(), Some("us-east-1"));
        assert_eq!(with(&[("PATH_CHECK", "off")]).unwrap().path_check_region, None);
        let err = with(&[]).unwrap_err().to_string();
        assert!(err.contains("AWS_REGION is not set") && err.contains("PATH_CHECK=off"), "{err}");
        let err = with(&[("PATH_CHECK", "weekly"), ("AWS_REGION", "us-east-1")]).unwrap_err().to_string();
        assert!(err.contains("PATH_CHECK must be daily or off"), "{err}");
    }

    /// The reconciler's configuration from its required variables (the path check off) and `extra`.
    fn reconciler_without_path_check(extra: &[(&'static str, &'static str)]) -> Result<ReconcilerConfig, ConfigError> {
        let base = [
            ("TRACKING_TABLE_NAME", "tracking"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
            ("PATH_CHECK", "off"),
        ];
        ReconcilerConfig::from_lookup(lookup(&[&base[..], extra].concat()))
    }

    #[test]
    fn evidence_snapshots_need_a_bucket_and_a_prefix_and_with_the_organization_view_its_prefix() {
        let with = reconciler_without_path_check;
        assert_eq!(with(&[]).unwrap().evidence, None, "no bucket, no snapshots");
        let on =
            with(&[("EVIDENCE_BUCKET", "audit"), ("EVIDENCE_PREFIX", "coverage-evidence/123456789012/us-east-1/")])
                .unwrap();
        assert_eq!(
            on.evidence,
            Some(EvidenceConfig {
                bucket: "audit".into(),
                prefix: "coverage-evidence/123456789012/us-east-1".into(),
                organization_prefix: String::new()
            })
        );
        let err = with(&[("EVIDENCE_BUCKET", "audit")]).unwrap_err().to_string();
        assert!(err.contains("EVIDENCE_PREFIX is not"), "{err}");
        let err = with(&[("EVIDENCE_BUCKET", "audit"), ("EVIDENCE_PREFIX", "p/a/b"), ("ORGANIZATION_VIEW", "true")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("EVIDENCE_ORGANIZATION_PREFIX is not"), "{err}");
    }

    #[test]
    fn the_organization_view_is_opted_into_with_its_required_destinations() {
        const DR: &str = "arn:aws:backup:us-west-2:444444444444:backup-vault:central-dr";
        let with = reconciler_without_path_check;
        let on = with(&[("ORGANIZATION_VIEW", "true"), ("ORGANIZATION_REQUIRED_DESTINATIONS", DR)]).unwrap();
        let settings = on.organization.unwrap();
        assert_eq!(settings.required_destinations, [BackupVaultArn::parse(DR).unwrap()]);
        assert_eq!(settings.max_attempts, 3);
        assert_eq!(with(&[("ORGANIZATION_VIEW", "false")]).unwrap().organization, None);
        let err = with(&[("ORGANIZATION_VIEW", "yes"), ("ORGANIZATION_REQUIRED_DESTINATIONS", "dr")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ORGANIZATION_VIEW must be true or false")
                && err.contains("ORGANIZATION_REQUIRED_DESTINATIONS"),
            "{err}"
        );
        let err = with(&[("ORGANIZATION_REQUIRED_DESTINATIONS", DR)]).unwrap_err().to_string();
        assert!(err.contains("ORGANIZATION_VIEW is not true"), "{err}");
    }

    #[test]
    fn routes_must_go_to_copy_targets_and_roles_must_be_role_arns() {
        let routes = r#"[{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:us-west-2:999999999999:backup-vault:dr"}]"#;
        let base = [
            ("COPY_ROUTES", routes),
            ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/backup"),
            ("COPY_TARGETS", "arn:aws:backup:*:123456789012:backup-vault:*"),
        ];
        let err = CopierConfig::from_lookup(lookup(&base)).unwrap_err().to_string();
        assert!(
            err.contains("destination arn:aws:backup:us-west-2:999999999999:backup-vault:dr is not in COPY_TARGETS"),
            "{err}"
        );
        let widened = [
            base[0],
            base[1],
            (
                "COPY_TARGETS",
                "arn:aws:backup:*:123456789012:backup-vault:*,arn:aws:backup:us-west-2:999999999999:backup-vault:*",
            ),
        ];
        let config = CopierConfig::from_lookup(lookup(&widened)).unwrap();
        assert!(config.targets.is_restricted());

        let retrier = |passable: &'static str| {
            RetrierConfig::from_lookup(lookup(&[
                ("TRACKING_TABLE_NAME", "tracking"),
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
                ("RETRY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/retries"),
                ("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/backup"),
                ("PASSABLE_ROLE_ARNS", passable),
            ]))
        };
        let config = retrier("arn:aws:iam::123456789012:role/backup,arn:aws:iam::123456789012:role/plan,").unwrap();
        let plan = IamRoleArn::parse("arn:aws:iam::123456789012:role/plan").unwrap();
        let other = IamRoleArn::parse("arn:aws:iam::123456789012:role/other").unwrap();
        assert_eq!(config.settings.roles.for_retry(Some(&plan)), Some(plan));
        assert_eq!(config.settings.roles.for_retry(Some(&other)), config.copy_role);
        assert!(retrier("arn:aws:iam::123456789012:user/bob").unwrap_err().to_string().contains("PASSABLE_ROLE_ARNS"));
    }

    #[test]
    fn tracker_needs_its_table() {
        assert!(TrackerConfig::from_lookup(lookup(&[])).unwrap_err().to_string().contains("TRACKING_TABLE_NAME"));
    }
}
