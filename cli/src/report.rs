//! A coverage report as a terminal table, JSON or CSV. Columns are the same in the table and the
//! CSV (an organization report adds the source account and region first); JSON is the report as the
//! library serialises it.

use std::io::{self, Write};

use serde::Serialize;
use vaultwatch::domain::CoverageSummary;
use vaultwatch::domain::{Coverage, CoverageStatus};
use vaultwatch::handlers::coverage::CoverageReport;
use vaultwatch::handlers::organization::{AccountCoverage, OrganizationReport};

use crate::Format;

const COLUMNS: [&str; 8] = [
    "recovery_point",
    "source_vault",
    "resource_type",
    "completed_at",
    "destination",
    "required_by",
    "status",
    "detail",
];

/// Columns an organization report puts before the others.
const ORGANIZATION_COLUMNS: [&str; 2] = ["account", "region"];

/// What the table and the CSV show of a report.
struct View<'a> {
    rows: &'a [Coverage],
    summary: &'a CoverageSummary,
    unreadable: usize,
    /// An organization report's accounts (and its two extra columns).
    accounts: Option<&'a [AccountCoverage]>,
}

pub fn write(report: &CoverageReport, format: Format, out: impl Write) -> io::Result<()> {
    let view = View { rows: &report.rows, summary: &report.summary, unreadable: report.unreadable, accounts: None };
    write_view(report, &view, format, out)
}

pub fn write_organization(report: &OrganizationReport, format: Format, out: impl Write) -> io::Result<()> {
    let view = View {
        rows: &report.rows,
        summary: &report.summary,
        unreadable: report.unreadable,
        accounts: Some(&report.accounts),
    };
    write_view(report, &view, format, out)
}

fn write_view(report: &impl Serialize, view: &View, format: Format, mut out: impl Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(view.columns())?;
            for row in view.rows {
                csv.write_record(view.cells(row))?;
            }
            csv.flush()
        }
        Format::Table => table(view, out),
    }
}

impl View<'_> {
    fn columns(&self) -> Vec<&'static str> {
        let extra = if self.accounts.is_some() { &ORGANIZATION_COLUMNS[..] } else { &[] };
        extra.iter().chain(&COLUMNS).copied().collect()
    }

    fn cells(&self, row: &Coverage) -> Vec<String> {
        let vault = &row.requirement.source_vault_arn;
        let extra = self.accounts.map(|_| [vault.account().to_owned(), vault.region().to_owned()]);
        extra.into_iter().flatten().chain(cells(row)).collect()
    }
}

fn cells(row: &Coverage) -> [String; 8] {
    let requirement = &row.requirement;
    [
        requirement.recovery_point.to_string(),
        requirement.source_vault.to_string(),
        requirement.resource_type.as_ref().map(ToString::to_string).unwrap_or_default(),
        requirement.completed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        requirement.destination.to_string(),
        requirement.required_by.label().to_owned(),
        row.status.name().to_owned(),
        detail(&row.status),
    ]
}

/// The status's particulars, without repeating its name.
fn detail(status: &CoverageStatus) -> String {
    match status {
        CoverageStatus::Covered { destination_recovery_point: Some(copy), stored_in, .. } => {
            format!("{copy}{}", vaultwatch::domain::Destination::aside(stored_in.as_deref()))
        }
        CoverageStatus::Covered { copy_job, .. } | CoverageStatus::Copying { copy_job } => {
            format!("copy job {copy_job}")
        }
        CoverageStatus::Retrying { attempt, of } => format!("attempt {attempt} of {of}"),
        CoverageStatus::Failed { reason, incident: Some(incident), .. } => {
            format!("path broken ({incident}): {reason}")
        }
        CoverageStatus::Failed { reason, alerted, .. } => {
            format!("{}: {reason}", if *alerted { "alerted" } else { "alert pending" })
        }
        CoverageStatus::Missing => "no copy job".to_owned(),
        CoverageStatus::NotCopyable { why, copy_job } => {
            let why = why.trim_start_matches("not copyable: ");
            copy_job.as_ref().map_or_else(|| why.to_owned(), |job| format!("alerted: {why} (copy job {job} failed)"))
        }
        CoverageStatus::Expired => "the source recovery point is gone".to_owned(),
    }
}

/// Fixed-width columns padded to the widest cell, then the summary: hand-written, as it is a dozen
/// lines and no table crate is needed for it.
fn table(view: &View, mut out: impl Write) -> io::Result<()> {
    let columns = view.columns();
    let rows: Vec<Vec<String>> = view.rows.iter().map(|row| view.cells(row)).collect();
    let mut widths: Vec<usize> = columns.iter().map(|column| column.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(&columns.iter().map(|column| column.to_string()).collect::<Vec<_>>()))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    let summary = view.summary;
    let counts: Vec<String> = summary.by_status.iter().map(|(status, count)| format!("{count} {status}")).collect();
    writeln!(out)?;
    writeln!(
        out,
        "{} required copies: {}",
        view.rows.len(),
        if counts.is_empty() { "none".into() } else { counts.join(", ") }
    )?;
    for (region, seconds) in &summary.oldest_uncovered_seconds {
        writeln!(out, "oldest uncovered in {region}: {}", humanised(*seconds))?;
    }
    for account in view.accounts.unwrap_or_default() {
        let uncovered = account.summary.uncovered();
        let oldest = account.summary.oldest_uncovered_seconds.values().max().map(|s| humanised(*s));
        writeln!(
            out,
            "account {} in {}: {uncovered} uncovered{}, {} failed chains{}",
            account.account,
            account.region,
            oldest.map(|oldest| format!(" (oldest {oldest})")).unwrap_or_default(),
            account.failed_chains,
            account.aws_failed_copy_jobs.map(|n| format!("; AWS counts {n} failed copy jobs")).unwrap_or_default()
        )?;
    }
    if view.unreadable > 0 {
        writeln!(out, "{} listed jobs could not be read (see the log); the report may be incomplete", view.unreadable)?;
    }
    Ok(())
}

fn humanised(seconds: i64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    if hours >= 48 {
        format!("{} days {} h", hours / 24, hours % 24)
    } else {
        format!("{hours} h {minutes} min")
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vaultwatch::domain::{
        BackupVaultArn, CopyJobId, CoverageSummary, RecoveryPointArn, RequiredBy, Requirement, VaultName,
    };

    use super::*;

    fn report() -> CoverageReport {
        let requirement = Requirement {
            recovery_point: RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1")
                .unwrap(),
            backup_job: vaultwatch::domain::BackupJobId::parse("B-1").unwrap(),
            resource: None,
            source_vault: VaultName::parse("primary").unwrap(),
            source_vault_arn: BackupVaultArn::parse("arn:aws:backup:us-east-1:123456789012:backup-vault:primary")
                .unwrap(),
            resource_type: Some(vaultwatch::domain::ResourceType::Ebs),
            completed_at: Utc.with_ymd_and_hms(2026, 11, 20, 1, 0, 0).unwrap(),
            destination: BackupVaultArn::parse("arn:aws:backup:us-west-2:123456789012:backup-vault:dr").unwrap(),
            required_by: RequiredBy::Route,
        };
        let rows = vec![
            Coverage { requirement: requirement.clone(), status: CoverageStatus::Missing },
            Coverage {
                requirement: Requirement { required_by: RequiredBy::PlanRule, ..requirement },
                status: CoverageStatus::Failed {
                    copy_job: CopyJobId::parse("C-1").unwrap(),
                    reason: "Access denied, \"kms\"".into(),
                    alerted: true,
                    incident: None,
                },
            },
        ];
        let summary = CoverageSummary::of(&rows, Utc.with_ymd_and_hms(2026, 11, 23, 3, 30, 0).unwrap());
        CoverageReport { rows, summary, unreadable: 0 }
    }

    fn written(format: Format) -> String {
        let mut out = Vec::new();
        write(&report(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_aligns_columns_and_ends_with_the_summary() {
        let table = written(Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("recovery_point") && lines[0].contains("  status  "), "{table}");
        let status_at = lines[0].find("status").unwrap();
        assert_eq!(&lines[1][status_at..status_at + 7], "missing");
        assert_eq!(&lines[2][status_at..status_at + 6], "failed");
        assert!(lines[2].ends_with("alerted: Access denied, \"kms\""), "{table}");
        assert!(table.contains("2 required copies: 1 failed, 1 missing"), "{table}");
        assert!(table.contains("oldest uncovered in us-west-2: 3 days 2 h"), "{table}");
    }

    #[test]
    fn an_organization_report_leads_with_account_and_region_and_sums_up_each_account() {
        let single = report();
        let organization = vaultwatch::handlers::organization::OrganizationReport {
            accounts: vec![AccountCoverage {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                summary: single.summary.clone(),
                failed_chains: 1,
                aws_failed_copy_jobs: Some(2),
            }],
            rows: single.rows,
            summary: single.summary,
            unreadable: 0,
        };
        let mut out = Vec::new();
        write_organization(&organization, Format::Csv, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("account,region,recovery_point,source_vault,"), "{csv}");
        assert!(lines[1].starts_with("123456789012,us-east-1,arn:aws:backup:us-east-1"), "{csv}");
        let mut out = Vec::new();
        write_organization(&organization, Format::Table, &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(
            table.contains(
                "account 123456789012 in us-east-1: 2 uncovered (oldest 3 days 2 h), 1 failed chains; AWS counts 2 failed copy jobs"
            ),
            "{table}"
        );
    }

    #[test]
    fn csv_quotes_by_the_book_and_json_is_the_report() {
        let csv = written(Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert!(lines[2].ends_with(",plan rule,failed,\"alerted: Access denied, \"\"kms\"\"\""), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&written(Format::Json)).unwrap();
        assert_eq!(json["rows"][0]["status"], "missing");
        assert_eq!(json["summary"]["byStatus"]["failed"], 1);
        assert_eq!(json["summary"]["oldestUncoveredSeconds"]["us-west-2"], 3 * 86400 + 2 * 3600 + 1800);
    }
}
