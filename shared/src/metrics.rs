//! CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs turns each
//! line into metric data, with no API call and no extra permission.
//!
//! Written by hand on serde_json rather than with `metrics_cloudwatch_embedded`: the metrics come
//! from each invocation's typed outcome, not from counters scattered through the code behind a
//! global recorder, and the writer is a few dozen lines (the comparison is in docs/tuning.md).
//!
//! Every distinct (name, dimensions) written in an hour is a billed custom metric for that hour
//! (docs/cost.md), so:
//! - dimensions are bounded: the function, and for copy metrics the destination region, and for the
//!   organization view the member account; never a job id or an ARN;
//! - a count is written only when it is not zero: every alarm treats a missing datapoint as not
//!   breaching and every graph sums, so a zero says nothing a gap does not; a gauge is written
//!   whenever it is measured, and `handlers::measured` measures one only when it has something to
//!   say (uncovered recovery points, broken paths and failed chains when there are some; a copy lag
//!   where a copy waits, if only for under a second);
//! - `MetricsDetail::Essential` (the default) writes only what the alarms and the dashboard's main
//!   rows read; `Detailed` adds the rest, and the organization view's per-account metrics.

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
    /// Organization view, over every member account: recovery points waiting for a required copy
    /// (gauge, each sweep).
    OrganizationUncoveredRecoveryPoints,
    /// Organization view, over every member account: copies whose last attempt failed.
    OrganizationFailedCopyChains,
    /// Organization view: the oldest uncovered recovery point in any member account.
    OrganizationOldestUncoveredAgeSeconds,
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
            Self::OrganizationUncoveredRecoveryPoints => "OrganizationUncoveredRecoveryPoints",
            Self::OrganizationFailedCopyChains => "OrganizationFailedCopyChains",
            Self::OrganizationOldestUncoveredAgeSeconds => "OrganizationOldestUncoveredAgeSeconds",
        }
    }

    /// The least detail that writes it: the alarms' metrics and the dashboard's main rows are
    /// essential (tests/template/test_template.py holds the template to this).
    pub fn detail(self) -> MetricsDetail {
        match self {
            Self::AlertsSent => MetricsDetail::Essential,
            Self::BrokenPaths => MetricsDetail::Essential,
            Self::OldestUncoveredAgeSeconds => MetricsDetail::Essential,
            Self::CopiesStarted => MetricsDetail::Essential,
            Self::MissingCopiesStarted => MetricsDetail::Essential,
            Self::RetriesScheduled => MetricsDetail::Essential,
            Self::RetriesStarted => MetricsDetail::Essential,
            Self::OrganizationUncoveredRecoveryPoints => MetricsDetail::Essential,
            Self::OrganizationFailedCopyChains => MetricsDetail::Essential,
            Self::OrganizationOldestUncoveredAgeSeconds => MetricsDetail::Essential,
            // Written every hour while anything is uncovered: the copy lag says when that matters.
            Self::UncoveredRecoveryPoints => MetricsDetail::Detailed,
            Self::PermanentFailures => MetricsDetail::Detailed,
            Self::NotCopyable => MetricsDetail::Detailed,
            Self::ChainsExhausted => MetricsDetail::Detailed,
            Self::AlertsResolved => MetricsDetail::Detailed,
            Self::NotificationsRejected => MetricsDetail::Detailed,
            Self::MalformedNotifications => MetricsDetail::Detailed,
            Self::ReconcilerRepaired => MetricsDetail::Detailed,
            Self::FailedCopyChains => MetricsDetail::Detailed,
            Self::IncidentsOpened => MetricsDetail::Detailed,
            Self::PathFailures => MetricsDetail::Detailed,
            Self::IncidentsResolved => MetricsDetail::Detailed,
            Self::CopiesBackfilled => MetricsDetail::Detailed,
        }
    }

    /// Whether a zero is news: an age's is ("a copy has waited under a second"). Any other metric's
    /// zero (no copies started, nothing uncovered, no broken path) says nothing a missing datapoint
    /// does not (every alarm treats one as not breaching, every graph sums), and each metric written
    /// in an hour is billed for that hour: it is not measured.
    pub fn zero_is_news(self) -> bool {
        matches!(self, Self::OldestUncoveredAgeSeconds | Self::OrganizationOldestUncoveredAgeSeconds)
    }

    /// A CloudWatch unit name.
    pub fn unit(self) -> &'static str {
        match self {
            Self::OldestUncoveredAgeSeconds | Self::OrganizationOldestUncoveredAgeSeconds => "Seconds",
            _ => "Count",
        }
    }
}

/// Which metrics the functions write (the template's `MetricsDetail`, variable `METRICS_DETAIL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricsDetail {
    /// What the alarms and the dashboard's main rows read.
    #[default]
    Essential,
    /// Everything, the organization view's per-account metrics included.
    Detailed,
}

impl MetricsDetail {
    /// `detailed` (any case) is detailed; anything else, unset included, essential (the template
    /// allows only the two values).
    fn parse(value: &str) -> Self {
        if value.eq_ignore_ascii_case("detailed") {
            Self::Detailed
        } else {
            Self::Essential
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
    /// Adds to a count (or sets a gauge, measured once), unless it is a zero that is no news.
    pub fn add(&mut self, metric: Metric, value: f64) {
        self.insert(None, metric, value);
    }

    /// The same, for one destination region.
    pub fn add_for_region(&mut self, metric: Metric, region: &str, value: f64) {
        self.insert(Some((DESTINATION_REGION, region.to_owned())), metric, value);
    }

    /// The same, for one member account (the organization view).
    pub fn add_for_account(&mut self, metric: Metric, account: &str, value: f64) {
        self.insert(Some((ACCOUNT_ID, account.to_owned())), metric, value);
    }

    fn insert(&mut self, dimension: Dimension, metric: Metric, value: f64) {
        if value != 0.0 || metric.zero_is_news() {
            *self.values.entry((dimension, metric)).or_default() += value;
        }
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

    /// Whether a measured value is written at `detail`: its metric is at that detail, and per member
    /// account only when detailed.
    fn written(dimension: &Dimension, metric: Metric, detail: MetricsDetail) -> bool {
        let least = match dimension {
            Some((ACCOUNT_ID, _)) => MetricsDetail::Detailed,
            _ => metric.detail(),
        };
        least <= detail
    }

    /// The EMF documents written at `detail`: one per dimension set (the function; the function and
    /// each region or account).
    pub fn emf(&self, namespace: &str, function: &str, at: DateTime<Utc>, detail: MetricsDetail) -> Vec<Value> {
        let mut by_dimension: BTreeMap<&Dimension, Vec<(Metric, f64)>> = BTreeMap::new();
        for ((dimension, metric), value) in &self.values {
            if Self::written(dimension, *metric, detail) {
                by_dimension.entry(dimension).or_default().push((*metric, *value));
            }
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
    detail: MetricsDetail,
}

impl MetricsWriter {
    /// `METRICS_NAMESPACE` (the template's `MetricsNamespace`), `vaultwatch` when unset; the level
    /// from `AWS_LAMBDA_LOG_LEVEL` (the template's `LogLevel`), `INFO` when unset; the detail from
    /// `METRICS_DETAIL` (the template's `MetricsDetail`), essential when unset.
    pub fn from_env(function: &'static str) -> Self {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(function: &'static str, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            namespace: set("METRICS_NAMESPACE").unwrap_or_else(|| "vaultwatch".to_owned()),
            function,
            level: set("AWS_LAMBDA_LOG_LEVEL").map_or_else(|| "INFO".to_owned(), |level| level.to_ascii_uppercase()),
            detail: set("METRICS_DETAIL").map_or_else(MetricsDetail::default, |detail| MetricsDetail::parse(&detail)),
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
        for mut document in measurements.emf(&self.namespace, self.function, Utc::now(), self.detail) {
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
        let docs = m.emf("vaultwatch", "copier", at, MetricsDetail::Essential);
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
            Measurements::default().emf("vaultwatch", "copier", at, MetricsDetail::Detailed).is_empty(),
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
            assert_eq!(writer.detail, MetricsDetail::Essential);
        }
        for (value, detail) in [
            ("detailed", MetricsDetail::Detailed),
            (" Detailed ", MetricsDetail::Detailed),
            ("essential", MetricsDetail::Essential),
        ] {
            let writer =
                MetricsWriter::from_lookup("copier", |name| (name == "METRICS_DETAIL").then(|| value.to_owned()));
            assert_eq!(writer.detail, detail, "{value}");
        }
    }

    #[test]
    fn the_writer_puts_one_line_per_document() {
        let mut m = Measurements::default();
        m.add(Metric::MalformedNotifications, 1.0);
        let writer = MetricsWriter {
            namespace: "ops".into(),
            function: "tracker",
            level: "WARN".into(),
            detail: MetricsDetail::Detailed,
        };
        let mut out = Vec::new();
        writer.write(&m, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ops");
        assert_eq!(line["MalformedNotifications"], 1.0);
        assert_eq!(line["level"], "WARN", "kept by Lambda's log-level filter");
    }

    /// Every metric, with each dimension it can have.
    fn everything(value: f64) -> Measurements {
        let mut m = Measurements::default();
        for metric in ALL {
            m.add(metric, value);
            m.add_for_region(metric, "us-west-2", value);
            m.add_for_account(metric, "111122223333", value);
        }
        m
    }

    const ALL: [Metric; 23] = [
        Metric::CopiesStarted,
        Metric::RetriesScheduled,
        Metric::RetriesStarted,
        Metric::PermanentFailures,
        Metric::NotCopyable,
        Metric::ChainsExhausted,
        Metric::AlertsSent,
        Metric::AlertsResolved,
        Metric::NotificationsRejected,
        Metric::MalformedNotifications,
        Metric::ReconcilerRepaired,
        Metric::MissingCopiesStarted,
        Metric::UncoveredRecoveryPoints,
        Metric::OldestUncoveredAgeSeconds,
        Metric::FailedCopyChains,
        Metric::IncidentsOpened,
        Metric::PathFailures,
        Metric::IncidentsResolved,
        Metric::CopiesBackfilled,
        Metric::BrokenPaths,
        Metric::OrganizationUncoveredRecoveryPoints,
        Metric::OrganizationFailedCopyChains,
        Metric::OrganizationOldestUncoveredAgeSeconds,
    ];

    /// (dimension name or "", metric name) of every value the documents carry.
    fn written(documents: &[Value]) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for document in documents {
            let spec = &document["_aws"]["CloudWatchMetrics"][0];
            let dimension = spec["Dimensions"][0].as_array().unwrap().get(1).map_or("", |d| d.as_str().unwrap());
            for definition in spec["Metrics"].as_array().unwrap() {
                found.push((dimension.to_owned(), definition["Name"].as_str().unwrap().to_owned()));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn essential_writes_the_essential_metrics_and_never_per_account_detailed_writes_everything() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        let m = everything(1.0);
        let essential = written(&m.emf("vaultwatch", "reconciler", at, MetricsDetail::Essential));
        let names = |dimension: &str| -> Vec<&str> {
            essential.iter().filter(|(d, _)| d == dimension).map(|(_, name)| name.as_str()).collect()
        };
        let expected = [
            "AlertsSent",
            "BrokenPaths",
            "CopiesStarted",
            "MissingCopiesStarted",
            "OldestUncoveredAgeSeconds",
            "OrganizationFailedCopyChains",
            "OrganizationOldestUncoveredAgeSeconds",
            "OrganizationUncoveredRecoveryPoints",
            "RetriesScheduled",
            "RetriesStarted",
        ];
        assert_eq!(names(""), expected);
        assert_eq!(names(DESTINATION_REGION), expected);
        assert!(names(ACCOUNT_ID).is_empty(), "per member account only when detailed");

        let detailed = written(&m.emf("vaultwatch", "reconciler", at, MetricsDetail::Detailed));
        assert_eq!(detailed.len(), 3 * ALL.len(), "every metric under every dimension");
        assert!(detailed.iter().all(|(_, name)| ALL.iter().any(|metric| metric.name() == name)));
    }

    #[test]
    fn only_an_ages_zero_is_measured() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        let zeros = everything(0.0);
        let ages: Vec<&str> = ALL.iter().filter(|metric| metric.zero_is_news()).map(|metric| metric.name()).collect();
        assert_eq!(ages, ["OldestUncoveredAgeSeconds", "OrganizationOldestUncoveredAgeSeconds"]);
        let mut expected: Vec<(String, String)> = ["", ACCOUNT_ID, DESTINATION_REGION]
            .into_iter()
            .flat_map(|dimension| ages.iter().map(move |name| (dimension.to_owned(), (*name).to_owned())))
            .collect();
        expected.sort();
        assert_eq!(written(&zeros.emf("vaultwatch", "reconciler", at, MetricsDetail::Detailed)), expected);
        assert_eq!(zeros.get(Metric::OldestUncoveredAgeSeconds, Some("us-west-2")), Some(0.0), "a copy waits");
        assert_eq!(zeros.get_for_account(Metric::OldestUncoveredAgeSeconds, "111122223333"), Some(0.0));
        assert_eq!(zeros.get(Metric::BrokenPaths, None), None, "no broken path is no news");

        let mut m = Measurements::default();
        m.add(Metric::AlertsSent, 0.0);
        m.add_for_region(Metric::CopiesStarted, "us-west-2", 0.0);
        m.add_for_account(Metric::UncoveredRecoveryPoints, "111122223333", 0.0);
        assert!(m.is_empty(), "a zero count or gauge says nothing: {m:?}");
        m.add(Metric::AlertsSent, 1.0);
        m.add(Metric::AlertsSent, 0.0);
        assert_eq!(m.get(Metric::AlertsSent, None), Some(1.0));
    }
}
