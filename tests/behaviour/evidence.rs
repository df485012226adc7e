//! Evidence snapshots through the reconciler: the first whole sweep after 00:00 UTC writes the day
//! before, once, however many sweeps follow; the next day's links to it; `verify` finds the chain
//! whole, and names an edited file, a deleted day and a write an error interrupted.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use vaultwatch::domain::evidence::{Finding, Manifest, CSV_FILE, HTML_FILE, JSONL_FILE, MANIFEST_FILE};
use vaultwatch::domain::{IamRoleArn, RouteTable};
use vaultwatch::handlers::evidence::verify;
use vaultwatch::handlers::reconciler::{EvidenceSettings, Reconciler};
use vaultwatch::ports::memory::{
    transient_error, MemoryAlerts, MemoryBackup, MemoryEvidence, MemoryPathFacts, MemoryQueue, MemoryStore,
};
use vaultwatch::ports::TrackingStore;
use vaultwatch_tests::*;

const PREFIX: &str = "coverage-evidence/123456789012/us-east-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/copy";

type Evidenced<'a> =
    Reconciler<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue, MemoryPathFacts, &'a MemoryEvidence>;

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
}

fn day(raw: &str) -> NaiveDate {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
}

/// A route from `primary` to the DR vault, one backup completed on 2026-12-01 at 10:00, and the
/// snapshots going to `bucket`.
fn evidenced(bucket: &MemoryEvidence) -> Evidenced<'_> {
    let routes = json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT, "resourceTypes": ["EBS"] }]);
    let backup = MemoryBackup::new();
    backup.add_backup_job(completed_backup(
        "BACKUP-1",
        "arn:aws:ec2:us-east-1::snapshot/snap-1",
        at("2026-12-01T10:00:00Z"),
    ));
    let base = memory_reconciler(
        backup,
        RouteTable::from_json(&routes.to_string()).unwrap(),
        Some(IamRoleArn::parse(ROLE).unwrap()),
    );
    Reconciler {
        backup: base.backup,
        store: base.store,
        alerts: base.alerts,
        queue: base.queue,
        retry: base.retry,
        sweep: base.sweep,
        routes: base.routes,
        copy_role: base.copy_role,
        organization: None,
        path_check: None,
        evidence: Some(EvidenceSettings {
            sink: bucket,
            prefix: PREFIX.into(),
            organization_prefix: "coverage-evidence/organization/us-east-1".into(),
        }),
        clock: base.clock,
    }
}

fn key(on: &str, file: &str) -> String {
    format!("{PREFIX}/{on}/{file}")
}

#[tokio::test]
async fn the_first_whole_sweep_of_a_day_writes_the_day_before_once_and_the_next_day_links_to_it() {
    let bucket = MemoryEvidence::new();
    let reconciler = evidenced(&bucket);

    // A new stack's first whole sweep writes the day before (nothing completed then); later sweeps
    // of the day write nothing: the day itself is not over.
    let deployed = reconciler.run(at("2026-12-01T22:00:00Z"), || false).await.unwrap();
    assert_eq!(deployed.evidence.iter().map(|w| w.day).collect::<Vec<_>>(), [day("2026-11-30")]);
    let summary = reconciler.run(at("2026-12-01T23:00:00Z"), || false).await.unwrap();
    assert!(summary.evidence.is_empty(), "{summary:?}");

    let first = reconciler.run(at("2026-12-02T00:05:00Z"), || false).await.unwrap();
    assert_eq!(first.evidence.len(), 1, "{first:?}");
    assert_eq!(first.evidence[0].day, day("2026-12-01"));
    assert_eq!(
        (first.evidence[0].rows, first.evidence[0].uncovered),
        (1, 1),
        "the copy was missing when the sweep looked"
    );
    assert_eq!(first.evidence[0].page, key("2026-12-01", HTML_FILE));
    for hour in 1..=23 {
        let later = reconciler.run(at("2026-12-02T00:05:00Z") + Duration::hours(hour), || false).await.unwrap();
        assert!(later.evidence.is_empty(), "hour {hour}: {later:?}");
    }
    let versions = bucket.version_counts();
    let mut written: Vec<String> = ["2026-11-30", "2026-12-01"]
        .iter()
        .flat_map(|on| [CSV_FILE, HTML_FILE, JSONL_FILE, MANIFEST_FILE].map(|f| key(on, f)))
        .collect();
    written.sort();
    assert_eq!(versions.keys().cloned().collect::<Vec<_>>(), written);
    assert!(versions.values().all(|&n| n == 1), "{versions:?}");
    let csv = String::from_utf8(bucket.latest()[&key("2026-12-01", CSV_FILE)].clone()).unwrap();
    assert!(csv.contains("arn:aws:ec2:us-east-1::snapshot/snap-1"), "{csv}");
    assert!(csv.contains(",route,copying,COPY-0001,RUNNING,"), "{csv}");

    let second = reconciler.run(at("2026-12-03T00:05:00Z"), || false).await.unwrap();
    assert_eq!(second.evidence.len(), 1, "{second:?}");
    let manifest: Manifest = serde_json::from_slice(&bucket.latest()[&key("2026-12-02", MANIFEST_FILE)]).unwrap();
    assert_eq!(manifest.previous_day, Some(day("2026-12-01")));
    assert_eq!(manifest.previous_sha256.as_deref(), Some(first.evidence[0].sha256.as_str()));
    assert_eq!(manifest.totals.covered + manifest.totals.uncovered, 0, "no backup completed on the 2nd");
    let head = reconciler.store.evidence_head(PREFIX).await.unwrap().unwrap();
    assert_eq!((head.day, head.history.len()), (day("2026-12-02"), 3));
    assert_eq!(head.sha256, second.evidence[0].sha256);

    let verified = verify(&bucket, "coverage-evidence", day("2026-11-01")).await.unwrap();
    assert_eq!(verified.findings, []);
    assert_eq!(verified.days_checked.get("123456789012/us-east-1"), Some(&3));
}

#[tokio::test]
async fn verify_names_an_edited_file_and_a_deleted_day() {
    let bucket = MemoryEvidence::new();
    let reconciler = evidenced(&bucket);
    for now in ["2026-12-02T00:05:00Z", "2026-12-03T00:05:00Z", "2026-12-04T00:05:00Z"] {
        reconciler.run(at(now), || false).await.unwrap();
    }
    bucket.overwrite(&key("2026-12-01", CSV_FILE), b"reportTimePeriodStart\n");
    for file in [CSV_FILE, JSONL_FILE, HTML_FILE, MANIFEST_FILE] {
        bucket.delete(&key("2026-12-02", file));
    }
    let findings = verify(&bucket, "coverage-evidence", day("2026-11-01")).await.unwrap().findings;
    let on = |d: &str| findings.iter().filter(|f| f.day == day(d)).map(|f| &f.finding).collect::<Vec<_>>();
    assert!(matches!(on("2026-12-01")[..], [Finding::Rewritten { .. }, Finding::Altered { .. }]), "{findings:?}");
    assert!(matches!(on("2026-12-02")[..], [Finding::Deleted { .. }]), "{findings:?}");
    assert_eq!(on("2026-12-03"), Vec::<&Finding>::new(), "{findings:?}");
    // Only from the 3rd on: its link reaches a deleted day, which is not checked; of the days before,
    // only manifests are read (one may be the link of the first day checked).
    let reads_before = bucket.reads().len();
    let later = verify(&bucket, "coverage-evidence", day("2026-12-03")).await.unwrap().findings;
    assert_eq!(later, []);
    let read: Vec<String> = bucket.reads()[reads_before..].to_vec();
    assert!(read.contains(&key("2026-12-01", MANIFEST_FILE)), "{read:?}");
    assert!(!read.iter().any(|k| k.contains("2026-12-01") && !k.ends_with(MANIFEST_FILE)), "{read:?}");
    assert!(read.contains(&key("2026-12-03", CSV_FILE)), "{read:?}");
    // A day before --since that was altered is named through the link of the first day checked.
    bucket.overwrite(&key("2026-12-02", MANIFEST_FILE), b"{}");
    let linked = verify(&bucket, "coverage-evidence", day("2026-12-03")).await.unwrap().findings;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(linked[0].day, day("2026-12-02"));
    assert!(matches!(&linked[0].finding, Finding::Altered { what } if what.contains("2026-12-03")), "{linked:?}");
}

#[tokio::test]
async fn a_write_an_error_interrupted_is_written_by_the_next_sweep_and_verify_tells_it_apart_from_an_edit() {
    let bucket = MemoryEvidence::new();
    let reconciler = evidenced(&bucket);
    // Three files go in, the manifest fails.
    bucket.pass_next(3);
    bucket.fail_next(1, transient_error("s3", "PutObject", "SlowDown"));
    let failed = reconciler.run(at("2026-12-02T00:05:00Z"), || false).await.unwrap();
    assert!(failed.evidence.is_empty());
    assert_eq!(failed.errors, 1, "{failed:?}");
    assert_eq!(reconciler.store.evidence_head(PREFIX).await.unwrap(), None, "the chain did not move");

    let retried = reconciler.run(at("2026-12-02T01:05:00Z"), || false).await.unwrap();
    assert_eq!(retried.evidence.len(), 1, "{retried:?}");
    let findings = verify(&bucket, "coverage-evidence", day("2026-11-01")).await.unwrap().findings;
    // The files written twice are named; nothing is altered: the latest versions hash as recorded.
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        matches!(&findings[0].finding, Finding::Rewritten { files } if files.len() == 3 && !files.contains(&MANIFEST_FILE.to_owned())),
        "{findings:?}"
    );
}

#[tokio::test]
async fn the_accounts_snapshot_lists_its_open_path_incidents() {
    use vaultwatch::domain::{CopyPath, PathCauseKind, PathFailure};
    let bucket = MemoryEvidence::new();
    let reconciler = evidenced(&bucket);
    let path = CopyPath { source_vault: vault(SOURCE_VAULT), destination_vault: vault(DR_VAULT), role: None };
    let found = PathFailure::found_by_check(path, PathCauseKind::KmsKey, "the key is disabled", "enable it");
    let incident = reconciler.store.record_path_failure(&found, at("2026-12-01T12:00:00Z")).await.unwrap().incident;
    reconciler.run(at("2026-12-02T00:05:00Z"), || false).await.unwrap();
    let manifest: Manifest = serde_json::from_slice(&bucket.latest()[&key("2026-12-01", MANIFEST_FILE)]).unwrap();
    let listed: Vec<&str> = manifest.open_incidents.iter().map(|i| i.incident.as_str()).collect();
    assert_eq!(listed, [incident.id.thread_id().as_str()]);
    assert_eq!(manifest.open_incidents[0].found, "the key is disabled");
    let page = String::from_utf8(bucket.latest()[&key("2026-12-01", HTML_FILE)].clone()).unwrap();
    assert!(page.contains("Open path incidents (1)") && page.contains(&incident.id.thread_id()), "{page}");
}

#[tokio::test]
async fn show_reads_the_latest_version_of_a_days_file_and_finds_the_scopes_that_hold_a_day() {
    use vaultwatch::handlers::evidence::{read_day_file, scopes_with_day};
    let bucket = MemoryEvidence::new();
    let reconciler = evidenced(&bucket);
    reconciler.run(at("2026-12-02T00:05:00Z"), || false).await.unwrap();
    let scope = "123456789012/us-east-1";
    let csv = read_day_file(&bucket, "coverage-evidence", scope, day("2026-12-01"), CSV_FILE).await.unwrap();
    assert_eq!(csv.as_deref(), bucket.latest().get(&key("2026-12-01", CSV_FILE)).map(Vec::as_slice));
    assert!(csv.unwrap().starts_with(b"reportTimePeriodStart,"));
    bucket.overwrite(&key("2026-12-01", CSV_FILE), b"edited\n");
    let edited = read_day_file(&bucket, "coverage-evidence", scope, day("2026-12-01"), CSV_FILE).await.unwrap();
    assert_eq!(edited.as_deref(), Some(&b"edited\n"[..]), "the latest version");
    bucket.delete(&key("2026-12-01", CSV_FILE));
    let deleted = read_day_file(&bucket, "coverage-evidence", scope, day("2026-12-01"), CSV_FILE).await.unwrap();
    assert_eq!(deleted, None, "a delete marker hides it");
    let other_day = read_day_file(&bucket, "coverage-evidence", scope, day("2026-11-30"), CSV_FILE).await.unwrap();
    assert_eq!(other_day, None);

    bucket.overwrite("coverage-evidence/organization/us-east-1/2026-12-01/manifest.json", b"{}");
    bucket.overwrite("coverage-evidence/444455556666/eu-west-1/2026-11-30/manifest.json", b"{}");
    let scopes = scopes_with_day(&bucket, "coverage-evidence", day("2026-12-01")).await.unwrap();
    assert_eq!(scopes, ["123456789012/us-east-1", "organization/us-east-1"]);
    assert_eq!(scopes_with_day(&bucket, "coverage-evidence", day("2026-11-29")).await.unwrap(), Vec::<String>::new());
}
