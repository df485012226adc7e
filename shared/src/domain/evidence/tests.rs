use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::domain::{
    BackupJobId, BackupVaultArn, CopyJobId, Coverage, CoverageStatus, RecoveryPointArn, RequiredBy, Requirement,
    ResourceArn, ResourceType, VaultName,
};

const SCOPE: &str = "111122223333/us-east-1";

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
}

fn day(raw: &str) -> NaiveDate {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
}

fn row(point: &str, completed: &str, status: CoverageStatus) -> Coverage {
    Coverage {
        requirement: Requirement {
            recovery_point: RecoveryPointArn::parse(&format!("arn:aws:ec2:us-east-1::snapshot/snap-{point}")).unwrap(),
            backup_job: BackupJobId::parse(&format!("backup-{point}")).unwrap(),
            resource: Some(ResourceArn::parse("arn:aws:ec2:us-east-1:111122223333:volume/vol-1").unwrap()),
            source_vault: VaultName::parse("primary").unwrap(),
            source_vault_arn: BackupVaultArn::parse("arn:aws:backup:us-east-1:111122223333:backup-vault:primary")
                .unwrap(),
            resource_type: Some(ResourceType::parse("EBS")),
            completed_at: at(completed),
            destination: BackupVaultArn::parse("arn:aws:backup:us-west-2:111122223333:backup-vault:dr").unwrap(),
            required_by: RequiredBy::Route,
        },
        status,
    }
}

fn covered() -> CoverageStatus {
    CoverageStatus::Covered {
        copy_job: CopyJobId::parse("copy-1").unwrap(),
        destination_recovery_point: None,
        at: Some(at("2026-12-01T05:00:00Z")),
        stored_in: None,
    }
}

fn failed() -> CoverageStatus {
    CoverageStatus::Failed {
        copy_job: CopyJobId::parse("copy-2").unwrap(),
        reason: "Access denied <kms> & \"key\"".into(),
        alerted: true,
        incident: Some("incident-abc".into()),
    }
}

fn snapshot(on: &str, rows: &[Coverage], previous: Option<&EvidenceHead>) -> Snapshot {
    let day = day(on);
    Snapshot::build(SnapshotInput {
        scope: SCOPE,
        day,
        rows,
        open_incidents: Vec::new(),
        previous,
        window_start: day_bounds(day).0 - chrono::Duration::days(2),
        now: day_bounds(day).1 + chrono::Duration::hours(1),
    })
    .unwrap()
}

fn body<'a>(snapshot: &'a Snapshot, name: &str) -> &'a [u8] {
    &snapshot.files.iter().find(|(file, _, _)| *file == name).unwrap().2
}

#[test]
fn a_day_holds_only_the_backups_completed_that_day_with_audit_manager_column_names() {
    let rows = [
        row("a", "2026-11-30T23:59:59Z", covered()),
        row("b", "2026-12-01T00:00:00Z", covered()),
        row("c", "2026-12-01T23:00:00Z", failed()),
        row("d", "2026-12-02T00:00:00Z", covered()),
    ];
    let snapshot = snapshot("2026-12-01", &rows, None);
    let csv = String::from_utf8(body(&snapshot, CSV_FILE).to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], EVIDENCE_COLUMNS.join(","));
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("2026-12-01T00:00:00Z,2026-12-02T00:00:00Z,111122223333,us-east-1,EBS,"), "{csv}");
    assert!(lines[1].contains("snap-b"), "{csv}");
    assert!(lines[2].contains(",failed,copy-2,FAILED,,,"), "{csv}");
    assert!(lines[2].ends_with("\"Access denied <kms> & \"\"key\"\"\",incident-abc"), "{csv}");
    let jsonl = String::from_utf8(body(&snapshot, JSONL_FILE).to_vec()).unwrap();
    let parsed: Vec<EvidenceRow> = jsonl.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[1].job_status, "FAILED");
    assert_eq!(snapshot.manifest.totals, DayTotals { day: day("2026-12-01"), covered: 1, uncovered: 1, other: 0 });
    assert!(snapshot.manifest.complete);
    // The manifest is written last and hashes every other file.
    assert_eq!(snapshot.files.last().unwrap().0, MANIFEST_FILE);
    let names: Vec<&str> = snapshot.manifest.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, [CSV_FILE, JSONL_FILE, HTML_FILE]);
    assert_eq!(snapshot.manifest.files[0].sha256, sha256_hex(body(&snapshot, CSV_FILE)));
    assert_eq!(snapshot.head.sha256, sha256_hex(body(&snapshot, MANIFEST_FILE)));
}

#[test]
fn a_day_without_backups_still_has_its_header_and_a_window_that_began_late_marks_the_day_partial() {
    let day = day("2026-12-01");
    let snapshot = Snapshot::build(SnapshotInput {
        scope: SCOPE,
        day,
        rows: &[],
        open_incidents: Vec::new(),
        previous: None,
        window_start: day_bounds(day).0 + chrono::Duration::hours(3),
        now: day_bounds(day).1,
    })
    .unwrap();
    assert_eq!(String::from_utf8(body(&snapshot, CSV_FILE).to_vec()).unwrap().trim(), EVIDENCE_COLUMNS.join(","));
    assert!(!snapshot.manifest.complete);
    let page = String::from_utf8(body(&snapshot, HTML_FILE).to_vec()).unwrap();
    assert!(page.contains("after the day began"), "{page}");
}

#[test]
fn the_page_escapes_aws_words_and_loads_nothing() {
    let snapshot = snapshot("2026-12-01", &[row("c", "2026-12-01T10:00:00Z", failed())], None);
    let page = String::from_utf8(body(&snapshot, HTML_FILE).to_vec()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("Access denied &lt;kms&gt; &amp; &quot;key&quot;"), "{page}");
    assert!(page.contains("0 covered") && page.contains("1 uncovered"), "{page}");
    for external in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(external), "{external} in {page}");
    }
}

#[test]
fn the_chain_links_each_day_to_the_last_and_keeps_thirty_days_of_totals() {
    let mut head: Option<EvidenceHead> = None;
    for n in 1..=35 {
        let on = (day("2026-11-01") + chrono::Duration::days(n)).format("%Y-%m-%d").to_string();
        let snapshot = snapshot(&on, &[], head.as_ref());
        assert_eq!(snapshot.manifest.previous_sha256, head.as_ref().map(|h| h.sha256.clone()));
        head = Some(snapshot.head);
    }
    let head = head.unwrap();
    assert_eq!(head.history.len(), CHART_DAYS);
    assert_eq!(head.history.last().unwrap().day, head.day);
}

/// A bucket's days as `verify_chain` reads them: one version of each file.
fn bucket(snapshots: &[&Snapshot]) -> BTreeMap<NaiveDate, BTreeMap<String, FileHistory>> {
    snapshots
        .iter()
        .map(|s| {
            let files = s
                .files
                .iter()
                .map(|(name, _, body)| {
                    ((*name).to_owned(), FileHistory { versions: 1, deleted: false, latest: Some(body.clone()) })
                })
                .collect();
            (s.manifest.day, files)
        })
        .collect()
}

fn three_days() -> Vec<Snapshot> {
    let first = snapshot("2026-12-01", &[row("a", "2026-12-01T01:00:00Z", covered())], None);
    let second = snapshot("2026-12-02", &[row("b", "2026-12-02T01:00:00Z", failed())], Some(&first.head));
    let third = snapshot("2026-12-03", &[], Some(&second.head));
    vec![first, second, third]
}

#[test]
fn an_untouched_chain_verifies() {
    let days = three_days();
    let stored = bucket(&days.iter().collect::<Vec<_>>());
    assert_eq!(verify_chain(SCOPE, &stored, day("2026-01-01")), []);
}

#[test]
fn an_edited_file_a_rewritten_manifest_a_deleted_day_and_a_missing_day_are_each_named() {
    let days = three_days();
    let all: Vec<&Snapshot> = days.iter().collect();

    let mut edited = bucket(&all);
    let csv = edited.get_mut(&day("2026-12-02")).unwrap().get_mut(CSV_FILE).unwrap();
    csv.versions = 2;
    csv.latest = Some(b"reportTimePeriodStart\n".to_vec());
    let findings = verify_chain(SCOPE, &edited, day("2026-01-01"));
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(findings.iter().all(|f| f.day == day("2026-12-02")));
    assert!(matches!(&findings[0].finding, Finding::Rewritten { files } if files == &[CSV_FILE.to_owned()]));
    assert!(matches!(&findings[1].finding, Finding::Altered { what } if what.starts_with(CSV_FILE)));

    // A manifest replaced with one that matches its own files breaks the next day's link.
    let mut relinked = bucket(&all);
    let forged = snapshot("2026-12-02", &[row("b", "2026-12-02T01:00:00Z", covered())], Some(&days[0].head));
    relinked.insert(day("2026-12-02"), bucket(&[&forged]).remove(&day("2026-12-02")).unwrap());
    let findings = verify_chain(SCOPE, &relinked, day("2026-01-01"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].day, day("2026-12-02"));
    assert!(matches!(&findings[0].finding, Finding::Altered { what } if what.contains("2026-12-03")));

    let mut deleted = bucket(&all);
    for file in deleted.get_mut(&day("2026-12-02")).unwrap().values_mut() {
        file.deleted = true;
        file.latest = None;
    }
    let findings = verify_chain(SCOPE, &deleted, day("2026-01-01"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(matches!(&findings[0].finding, Finding::Deleted { files } if files.len() == 4));

    let mut missing = bucket(&all);
    missing.remove(&day("2026-12-02"));
    let findings = verify_chain(SCOPE, &missing, day("2026-01-01"));
    assert_eq!(
        findings,
        [DayFinding {
            scope: SCOPE.into(),
            day: day("2026-12-02"),
            finding: Finding::Missing { linked_from: day("2026-12-03") }
        }]
    );
}

#[test]
fn days_before_since_only_serve_the_first_link() {
    let days = three_days();
    let mut stored = bucket(&days.iter().collect::<Vec<_>>());
    // Day one is altered, and only day two's link to it can tell.
    stored.get_mut(&day("2026-12-01")).unwrap().get_mut(MANIFEST_FILE).unwrap().latest = Some(b"{}".to_vec());
    assert_eq!(verify_chain(SCOPE, &stored, day("2026-12-03")), []);
    let findings = verify_chain(SCOPE, &stored, day("2026-12-02"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].day, day("2026-12-01"));
}

#[test]
fn rows_no_longer_owed_count_apart_from_covered_and_uncovered() {
    let rows = [
        row("a", "2026-12-01T01:00:00Z", covered()),
        row("b", "2026-12-01T02:00:00Z", CoverageStatus::NotCopyable { why: "continuous".into(), copy_job: None }),
        row("c", "2026-12-01T03:00:00Z", CoverageStatus::Expired),
        row("d", "2026-12-01T04:00:00Z", CoverageStatus::Missing),
        row("e", "2026-12-01T05:00:00Z", CoverageStatus::Retrying { attempt: 1, of: 3 }),
    ];
    let snapshot = snapshot("2026-12-01", &rows, None);
    assert_eq!(snapshot.manifest.totals, DayTotals { day: day("2026-12-01"), covered: 1, uncovered: 2, other: 2 });
    assert_eq!(snapshot.manifest.totals.total(), 5);
    let page = String::from_utf8(body(&snapshot, HTML_FILE).to_vec()).unwrap();
    assert!(page.contains("1 covered") && page.contains("2 uncovered") && page.contains("2 not owed"), "{page}");
    assert!(page.contains("of 5 required copies"), "{page}");
    let parsed: Vec<EvidenceRow> = String::from_utf8(body(&snapshot, JSONL_FILE).to_vec())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let uncovered: Vec<bool> = parsed.iter().map(EvidenceRow::is_uncovered).collect();
    assert_eq!(uncovered, [false, false, false, true, true]);
    assert_eq!(parsed[3].reason, "no copy job");
    assert_eq!(parsed[4].reason, "retrying (attempt 1 of 3)");
}

#[test]
fn a_day_written_again_replaces_its_own_totals_in_the_chart_rather_than_adding_a_second_bar() {
    let first = snapshot("2026-12-01", &[row("a", "2026-12-01T01:00:00Z", covered())], None);
    let second = snapshot("2026-12-02", &[], Some(&first.head));
    // A head that already holds the 2nd (a repeated write of the day) keeps one entry for it.
    let again = snapshot("2026-12-02", &[row("b", "2026-12-02T01:00:00Z", covered())], Some(&second.head));
    let days: Vec<NaiveDate> = again.head.history.iter().map(|t| t.day).collect();
    assert_eq!(days, [day("2026-12-01"), day("2026-12-02")]);
    assert_eq!(again.head.history[1].covered, 1);
}

#[test]
fn the_page_sums_up_each_destination() {
    let rows = [
        row("a", "2026-12-01T01:00:00Z", covered()),
        row("b", "2026-12-01T02:00:00Z", failed()),
        row("c", "2026-12-01T03:00:00Z", CoverageStatus::Expired),
    ];
    let page = String::from_utf8(body(&snapshot("2026-12-01", &rows, None), HTML_FILE).to_vec()).unwrap();
    let dr = "arn:aws:backup:us-west-2:111122223333:backup-vault:dr";
    let expected = format!(
        "<tr><td><code>{dr}</code></td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td></tr>"
    );
    assert!(page.contains(&expected), "{page}");
    assert_eq!(page.matches("<td class=\"num\">").count(), 3, "one destination, one row: {page}");
}

#[test]
fn each_finding_says_what_it_is() {
    let linked_from = day("2026-12-03");
    let said = [
        Finding::Missing { linked_from }.to_string(),
        Finding::Deleted { files: vec![CSV_FILE.into(), HTML_FILE.into()] }.to_string(),
        Finding::Rewritten { files: vec![CSV_FILE.into()] }.to_string(),
        Finding::Altered { what: "x".into() }.to_string(),
        Finding::Unreadable { what: "y".into() }.to_string(),
    ];
    assert_eq!(
        said,
        [
            "missing: the snapshot of 2026-12-03 links to it and the bucket holds none of it",
            "deleted: coverage.csv, index.html (a delete marker hides the earlier versions)",
            "rewritten: coverage.csv (more than one version)",
            "altered: x",
            "unreadable: y",
        ]
    );
}

#[test]
fn a_manifest_moved_to_another_day_a_file_deleted_alone_and_a_file_gone_are_told_apart() {
    let days = three_days();
    let all: Vec<&Snapshot> = days.iter().collect();

    // Day two's manifest copied over day three's: it hashes as its files do, but names another day.
    let mut moved = bucket(&all);
    let second = moved[&day("2026-12-02")].clone();
    moved.insert(day("2026-12-03"), second);
    let findings = verify_chain(SCOPE, &moved, day("2026-12-03"));
    assert!(
        findings.iter().any(|f| matches!(&f.finding, Finding::Altered { what } if what.contains("not this day"))),
        "{findings:?}"
    );

    let mut one_deleted = bucket(&all);
    let csv = one_deleted.get_mut(&day("2026-12-02")).unwrap().get_mut(CSV_FILE).unwrap();
    csv.deleted = true;
    csv.latest = None;
    let findings = verify_chain(SCOPE, &one_deleted, day("2026-01-01"));
    assert_eq!(findings.len(), 1, "the deletion, not also a missing file: {findings:?}");
    assert!(matches!(&findings[0].finding, Finding::Deleted { files } if files == &[CSV_FILE.to_owned()]));

    let mut gone = bucket(&all);
    gone.get_mut(&day("2026-12-02")).unwrap().remove(CSV_FILE);
    let findings = verify_chain(SCOPE, &gone, day("2026-01-01"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(matches!(&findings[0].finding, Finding::Unreadable { what } if what.starts_with(CSV_FILE)));
}

#[test]
fn the_chart_draws_each_days_covered_and_uncovered_copies_to_one_scale() {
    // Day one: 2 covered, 2 uncovered; day two: 4 covered. The tallest day fills the 120 px.
    let first = snapshot(
        "2026-12-01",
        &[
            row("a", "2026-12-01T01:00:00Z", covered()),
            row("b", "2026-12-01T02:00:00Z", covered()),
            row("c", "2026-12-01T03:00:00Z", failed()),
            row("d", "2026-12-01T04:00:00Z", CoverageStatus::Missing),
        ],
        None,
    );
    let rows: Vec<Coverage> =
        (0..4).map(|n| row(&format!("e{n}"), &format!("2026-12-02T0{n}:00:00Z"), covered())).collect();
    let second = snapshot("2026-12-02", &rows, Some(&first.head));
    let page = String::from_utf8(body(&second, HTML_FILE).to_vec()).unwrap();
    assert!(page.contains(r#"<svg xmlns="http://www.w3.org/2000/svg" width="44" height="140""#), "{page}");
    for bar in [
        r##"<rect x="0" y="60" width="18" height="60" fill="#2e8540">"##,
        r##"<rect x="0" y="0" width="18" height="60" fill="#c5192d">"##,
        r##"<rect x="22" y="0" width="18" height="120" fill="#2e8540">"##,
        r##"<rect x="22" y="0" width="18" height="0" fill="#c5192d">"##,
    ] {
        assert!(page.contains(bar), "{bar} in {page}");
    }
    assert!(page.contains(r#"<text x="22" y="134" font-size="9">02</text>"#), "{page}");
}
