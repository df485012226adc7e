//! A coverage report as a terminal table, JSON or CSV. Columns are the same in the table and the
//! CSV; JSON is the report as the library serialises it.

use std::io::{self, Write};

use vaultwatch::domain::{Coverage, CoverageStatus};
use vaultwatch::handlers::coverage::CoverageReport;

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

pub fn write(report: &CoverageReport, format: Format, mut out: impl Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(COLUMNS)?;
            for row in &report.rows {
                csv.write_record(cells(row))?;
            }
            csv.flush()
        }
        Format::Table => table(report, out),
    }
}

fn cells(row: &Coverage) -> [String; 8] {
    let requirement = &row.requirement;
    [
        requirement.recovery_point.to_string(),
        requirement.source_vault.to_string(),
        requirement.resource_type.clone().unwrap_or_default(),
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
        CoverageStatus::Covered { destination_recovery_point: Some(copy), .. } => copy.to_string(),
        CoverageStatus::Covered { copy_job, .. } | CoverageStatus::Copying { copy_job } => {
            format!("copy job {copy_job}")
        }
        CoverageStatus::Retrying { attempt, of } => format!("attempt {attempt} of {of}"),
        CoverageStatus::Failed { reason, alerted, .. } => {
            format!("{}: {reason}", if *alerted { "alerted" } else { "alert pending" })
        }
        CoverageStatus::Missing => "no copy job".to_owned(),
        CoverageStatus::NotCopyable { why } => why.trim_start_matches("not copyable: ").to_owned(),
        CoverageStatus::Expired => "the source recovery point is gone".to_owned(),
    }
}

/// Fixed-width columns padded to the widest cell, then the summary: hand-written, as it is a dozen
/// lines and no table crate is needed for it.
fn table(report: &CoverageReport, mut out: impl Write) -> io::Result<()> {
    let rows: Vec<[String; 8]> = report.rows.iter().map(cells).collect();
    let mut widths = COLUMNS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(&COLUMNS.map(str::to_owned)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    let summary = &report.summary;
    let counts: Vec<String> = summary.by_status.iter().map(|(status, count)| format!("{count} {status}")).collect();
    writeln!(out)?;
    writeln!(
        out,
        "{} required copies: {}",
        report.rows.len(),
        if counts.is_empty() { "none".into() } else { counts.join(", ") }
    )?;
    for (region, seconds) in &summary.oldest_uncovered_seconds {
        writeln!(out, "oldest uncovered in {region}: {}", humanised(*seconds))?;
    }
    if report.unreadable > 0 {
        writeln!(
            out,
            "{} listed jobs could not be read (see the log); the report may be incomplete",
            report.unreadable
        )?;
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
            source_vault: VaultName::parse("primary").unwrap(),
            source_vault_arn: BackupVaultArn::parse("arn:aws:backup:us-east-1:123456789012:backup-vault:primary")
                .unwrap(),
            resource_type: Some("EBS".into()),
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
