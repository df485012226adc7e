//! CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs turns each
//! line into metric data, with no API call and no extra permission.
//!
//! Written by hand on serde_json rather than with `metrics_cloudwatch_embedded`: the metrics come
//! from each invocation's typed outcome, not from counters scattered through the code behind a
//! global recorder, and the writer is a few dozen lines (the comparison is in docs/tuning.md).
//!
//! Dimensions are bounded: the function, and for copy metrics the destination region, and for the
//! organization view the member account; never a job id or an ARN (each distinct value is a
//! separate, billed metric).

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// Every metric vaultwatch emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    CopiesStarted,
    RetriesScheduled,
    RetriesStarted,
    PermanentFailures,
    /// Alerts whose cause is a source AWS Backup cannot copy (cold storage, deleted, continuous):
    /// what coverage lists as `notCopyable`.
    NotCopyable,
    ChainsExhausted,
    AlertsSent,
    /// "Resolved" messages: alerted copies found covered after all (not alerts: `AlertsSent` and
    /// its alarm leave them out).
    AlertsResolved,
    NotificationsRejected,
    MalformedNotifications,
    ReconcilerRepaired,
    MissingCopiesStarted,
    UncoveredRecoveryPoints,
    OldestUncoveredAgeSeconds,
    /// Organization view: copies whose last attempt failed with nothing completed or under way.
    FailedCopyChains,
    /// Copy path incidents whose one alert went out (each is also in `AlertsSent`).
    IncidentsOpened,
    /// Failures counted in a path's incident instead of an alert of their own.
    PathFailures,
    /// Path incidents healed (their "healed" message sent).
    IncidentsResolved,
    /// Copies of a healed path's affected recovery points started by its backfill.
    CopiesBackfilled,
    /// Paths with an open incident (gauge, each sweep; congestion not counted).
    BrokenPaths,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Self::CopiesStarted => "CopiesStarted",
            Self::RetriesScheduled => "RetriesScheduled",
            Self::RetriesStarted => "RetriesStarted",
            Self::PermanentFailures => "PermanentFailures",
            Self::NotCopyable => "NotCopyable",
            Self::ChainsExhausted => "ChainsExhausted",
            Self::AlertsSent => "AlertsSent",
            Self::AlertsResolved => "AlertsResolved",
            Self::NotificationsRejected => "NotificationsRejected",
            Self::MalformedNotifications => "MalformedNotifications",
            Self::ReconcilerRepaired => "ReconcilerRepaired",
            Self::MissingCopiesStarted => "MissingCopiesStarted",
            Self::UncoveredRecoveryPoints => "UncoveredRecoveryPoints",
            Self::OldestUncoveredAgeSeconds => "OldestUncoveredAgeSeconds",
            Self::FailedCopyChains => "FailedCopyChains",
            Self::IncidentsOpened => "IncidentsOpened",
            Self::PathFailures => "PathFailures",
            Self::IncidentsResolved => "IncidentsResolved",
            Self::CopiesBackfilled => "CopiesBackfilled",
            Self::BrokenPaths => "BrokenPaths",
        }
    }

    /// A CloudWatch unit name.
    pub fn unit(self) -> &'static str {
        match self {
            Self::OldestUncoveredAgeSeconds => "Seconds",
            _ => "Count",
        }
    }
}

/// The dimension a value has besides the function's, by name and value.
type Dimension = Option<(&'static str, String)>;

const DESTINATION_REGION: &str = "DestinationRegion";
const ACCOUNT_ID: &str = "AccountId";

/// The values one invocation measured, each under its dimensions: the function alone, or the
/// function and a destination region, or the function and a member account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurements {
    values: BTreeMap<(Dimension, Metric), f64>,
}

impl Measurements {
    /// Adds to a count (or sets a gauge, for `OldestUncoveredAgeSeconds`).
    pub fn add(&mut self, metric: Metric, value: f64) {
        *self.values.entry((None, metric)).or_default() += value;
    }

    /// The same, for one destination region.
    pub fn add_for_region(&mut self, metric: Metric, region: &str, value: f64) {
        *self.values.entry((Some((DESTINATION_REGION, region.to_owned())), metric)).or_default() += value;
    }

    /// The same, for one member account (the organization view).
    pub fn add_for_account(&mut self, metric: Metric, account: &str, value: f64) {
        *self.values.entry((Some((ACCOUNT_ID, account.to_owned())), metric)).or_default() += value;
    }

    pub fn get(&self, metric: Metric, region: Option<&str>) -> Option<f64> {
        self.values.get(&(region.map(|region| (DESTINATION_REGION, region.to_owned())), metric)).copied()
    }

    pub fn get_for_account(&self, metric: Metric, account: &str) -> Option<f64> {
        self.values.get(&(Some((ACCOUNT_ID, account.to_owned())), metric)).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF documents: one per dimension set (the function; the function and each region or
    /// account).
    pub fn emf(&self, namespace: &str, function: &str, at: DateTime<Utc>) -> Vec<Value> {
        let mut by_dimension: BTreeMap<&Dimension, Vec<(Metric, f64)>> = BTreeMap::new();
        for ((dimension, metric), value) in &self.values {
            by_dimension.entry(dimension).or_default().push((*metric, *value));
        }
        by_dimension
            .into_iter()
            .map(|(dimension, metrics)| {
                let mut dimensions = vec!["Function"];
                let mut document = Map::new();
                document.insert("Function".into(), json!(function));
                if let Some((name, value)) = dimension {
                    dimensions.push(name);
                    document.insert((*name).into(), json!(value));
                }
                let definitions: Vec<Value> =
                    metrics.iter().map(|(metric, _)| json!({ "Name": metric.name(), "Unit": metric.unit() })).collect();
                for (metric, value) in &metrics {
                    document.insert(metric.name().into(), json!(value));
                }
                document.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": at.timestamp_millis(),
                        "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [dimensions], "Metrics": definitions }],
                    }),
                );
                Value::Object(document)
            })
            .collect()
    }
}

/// What an invocation's outcome measured.
pub trait Measured {
    fn measure(&self, into: &mut Measurements);
}

/// Writes each invocation's measurements as EMF lines to stdout, where Lambda sends them to
/// CloudWatch Logs.
#[derive(Clone, Debug)]
pub struct MetricsWriter {
    namespace: String,
    function: &'static str,
    /// The function's application log level, written as each line's `level`: with JSON logging
    /// Lambda takes a line without one for INFO and drops it below the level set
    /// (docs/aws-facts.md), which would silence the metrics at WARN or above.
    level: String,
}

impl MetricsWriter {
    /// `METRICS_NAMESPACE` (the template's `MetricsNamespace`), `vaultwatch` when unset; the level
    /// from `AWS_LAMBDA_LOG_LEVEL` (the template's `LogLevel`), `INFO` when unset.
    pub fn from_env(function: &'static str) -> Self {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(function: &'static str, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            namespace: set("METRICS_NAMESPACE").unwrap_or_else(|| "vaultwatch".to_owned()),
            function,
            level: set("AWS_LAMBDA_LOG_LEVEL").map_or_else(|| "INFO".to_owned(), |level| level.to_ascii_uppercase()),
        }
    }

    /// Measures an outcome (its `Err` too) and writes the lines; passes the outcome on.
    pub fn record<T: Measured, E: Measured>(&self, outcome: Result<T, E>) -> Result<T, E> {
        let mut measurements = Measurements::default();
        match &outcome {
            Ok(value) => value.measure(&mut measurements),
            Err(err) => err.measure(&mut measurements),
        }
        self.write(&measurements, std::io::stdout().lock());
        outcome
    }

    fn write(&self, measurements: &Measurements, mut out: impl Write) {
        for mut document in measurements.emf(&self.namespace, self.function, Utc::now()) {
            document["level"] = Value::String(self.level.clone());
            // A metric line that cannot be written is not worth failing the invocation for.
            let _ = writeln!(out, "{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn each_dimension_set_is_one_emf_document_per_the_specification() {
        let mut m = Measurements::default();
        m.add(Metric::AlertsSent, 1.0);
        m.add(Metric::AlertsSent, 1.0);
        m.add_for_region(Metric::CopiesStarted, "us-west-2", 2.0);
        m.add_for_region(Metric::OldestUncoveredAgeSeconds, "us-west-2", 3600.0);
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let docs = m.emf("vaultwatch", "copier", at);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            json!({
                "_aws": { "Timestamp": at.timestamp_millis(), "CloudWatchMetrics": [{
                    "Namespace": "vaultwatch", "Dimensions": [["Function"]],
                    "Metrics": [{ "Name": "AlertsSent", "Unit": "Count" }] }] },
                "Function": "copier",
                "AlertsSent": 2.0,
            })
        );
        assert_eq!(docs[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "DestinationRegion"]]));
        assert_eq!(docs[1]["DestinationRegion"], "us-west-2");
        assert_eq!(docs[1]["CopiesStarted"], 2.0);
        assert_eq!(
            docs[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
            json!({ "Name": "OldestUncoveredAgeSeconds", "Unit": "Seconds" })
        );
        assert!(
            Measurements::default().emf("vaultwatch", "copier", at).is_empty(),
            "nothing measured, nothing written"
        );
    }

    #[test]
    fn namespace_and_level_come_from_the_environment_with_defaults() {
        let writer = MetricsWriter::from_lookup("copier", |name| match name {
            "METRICS_NAMESPACE" => Some(" ops ".into()),
            "AWS_LAMBDA_LOG_LEVEL" => Some("warn".into()),
            _ => None,
        });
        assert_eq!((writer.namespace.as_str(), writer.level.as_str()), ("ops", "WARN"));
        for unset in [None, Some(String::new()), Some("  ".to_owned())] {
            let writer = MetricsWriter::from_lookup("copier", |_| unset.clone());
            assert_eq!((writer.namespace.as_str(), writer.level.as_str()), ("vaultwatch", "INFO"));
        }
    }

    #[test]
    fn the_writer_puts_one_line_per_document() {
        let mut m = Measurements::default();
        m.add(Metric::MalformedNotifications, 1.0);
        let writer = MetricsWriter { namespace: "ops".into(), function: "tracker", level: "WARN".into() };
        let mut out = Vec::new();
        writer.write(&m, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ops");
        assert_eq!(line["MalformedNotifications"], 1.0);
        assert_eq!(line["level"], "WARN", "kept by Lambda's log-level filter");
    }
}
