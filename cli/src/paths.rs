//! A path check's report as a terminal table, JSON or CSV. The table has one row per path and, below
//! it, what decided each path that is not ok; the CSV one row per (path, check); JSON is the report
//! as the library serialises it.

use std::io::{self, Write};

use vaultwatch::domain::{PathReport, PathVerdict};
use vaultwatch::handlers::paths::PathsReport;

use crate::Format;

const TABLE_COLUMNS: [&str; 6] = ["source_vault", "destination_vault", "role", "from", "verdict", "checks"];
const CSV_COLUMNS: [&str; 11] = [
    "source_vault",
    "destination_vault",
    "role",
    "from",
    "verdict",
    "check",
    "status",
    "cause",
    "found",
    "fix",
    "run_in",
];

pub fn write(report: &PathsReport, format: Format, mut out: impl Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            let health = with_health(report);
            let mut header = CSV_COLUMNS.to_vec();
            if health {
                header.push("health");
            }
            csv.write_record(header)?;
            for path in &report.paths {
                for check in &path.checks {
                    let (cause, found, fix, run_in) = particulars(&check.verdict);
                    let mut row = path_cells(path).to_vec();
                    row.truncate(5);
                    row.extend([
                        check.check.as_str().to_owned(),
                        check.verdict.name().to_owned(),
                        cause,
                        found,
                        fix,
                        run_in,
                    ]);
                    if health {
                        row.push(health_of(path));
                    }
                    csv.write_record(row)?;
                }
            }
            csv.flush()
        }
        Format::Table => table(report, out),
    }
}

/// Whether the paths' health was read (`--table`): then tables and CSV have a `health` column.
fn with_health(report: &PathsReport) -> bool {
    report.paths.iter().any(|path| path.health.is_some())
}

fn health_of(path: &PathReport) -> String {
    path.health.as_ref().map(|health| health.describe()).unwrap_or_default()
}

/// (cause, found or why, fix, account to run in) of a verdict, empty where it has none.
fn particulars(verdict: &PathVerdict) -> (String, String, String, String) {
    match verdict {
        PathVerdict::Ok => Default::default(),
        PathVerdict::Broken { cause, found, fix } => {
            (cause.as_str().to_owned(), found.clone(), fix.clone(), String::new())
        }
        PathVerdict::CannotTell { why, run_in } => {
            (String::new(), why.clone(), String::new(), run_in.as_ref().map(ToString::to_string).unwrap_or_default())
        }
    }
}

fn path_cells(path: &PathReport) -> [String; 6] {
    let spec = &path.spec;
    let deciding: Vec<&str> = path.deciding().map(|check| check.check.as_str()).collect();
    [
        spec.path.source_vault.to_string(),
        spec.path.destination_vault.to_string(),
        spec.path.role.as_ref().map(ToString::to_string).unwrap_or_else(|| "-".into()),
        spec.origin.to_string(),
        path.verdict.name().to_owned(),
        deciding.join(","),
    ]
}

/// Fixed-width columns padded to the widest cell (as the coverage table), then what decided each
/// path that is not ok, then the summary.
fn table(report: &PathsReport, mut out: impl Write) -> io::Result<()> {
    let health = with_health(report);
    let mut columns = TABLE_COLUMNS.to_vec();
    if health {
        columns.push("health");
    }
    let rows: Vec<Vec<String>> = report
        .paths
        .iter()
        .map(|path| {
            let mut row = path_cells(path).to_vec();
            if health {
                row.push(health_of(path));
            }
            row
        })
        .collect();
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
    writeln!(out, "{}", line(&columns.iter().map(|column| (*column).to_owned()).collect::<Vec<_>>()))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    for (number, path) in report.paths.iter().enumerate() {
        if path.verdict == PathVerdict::Ok {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "path {}: {} ({}): {}", number + 1, path.spec.path, path.spec.origin, path.verdict.name())?;
        for check in path.checks.iter().filter(|check| check.verdict != PathVerdict::Ok) {
            match &check.verdict {
                PathVerdict::Ok => {}
                PathVerdict::Broken { cause, found, fix } => {
                    writeln!(out, "  {} broken ({}): {found}", check.check.as_str(), cause.describe())?;
                    writeln!(out, "    fix: {fix}")?;
                }
                PathVerdict::CannotTell { why, run_in } => {
                    let there =
                        run_in.as_ref().map(|account| format!(" [run in account {account}]")).unwrap_or_default();
                    writeln!(out, "  {} cannot tell: {why}{there}", check.check.as_str())?;
                }
            }
        }
    }
    let summary = &report.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} paths checked from account {}: {} ok, {} broken, {} cannot tell",
        report.paths.len(),
        report.account,
        summary.ok,
        summary.broken,
        summary.cannot_tell
    )
}

#[cfg(test)]
mod tests {
    use vaultwatch::domain::{
        check_path, AccountId, BackupVaultArn, CopyPath, CopyRetention, Fact, OrganizationFacts, OrganizationView,
        PathFacts, PathOrigin, PathSpec, ResourceTypes, VaultFacts,
    };
    use vaultwatch::handlers::paths::PathsSummary;

    use super::*;

    const SOURCE: &str = "arn:aws:backup:us-east-1:111111111111:backup-vault:src";
    const DR: &str = "arn:aws:backup:us-west-2:222222222222:backup-vault:dr";

    fn report() -> PathsReport {
        let spec = PathSpec {
            path: CopyPath {
                source_vault: BackupVaultArn::parse(SOURCE).unwrap(),
                destination_vault: BackupVaultArn::parse(DR).unwrap(),
                role: None,
            },
            origin: PathOrigin::Route,
            retention: CopyRetention::Days(30),
            resource_types: ResourceTypes::Any,
        };
        let vault = VaultFacts {
            arn: spec.path.destination_vault.clone(),
            vault_type: None,
            locked: false,
            min_retention_days: None,
            max_retention_days: None,
            encryption_key: None,
        };

        let organization =
            OrganizationFacts { id: "o-abc123def4".into(), management: AccountId::parse("222222222222").unwrap() };
        let members = [AccountId::parse("111111111111").unwrap(), organization.management.clone()];
        let facts = PathFacts {
            caller: AccountId::parse("222222222222").unwrap(),
            source_vault: Fact::Unknown { why: "not read".into(), run_in: None },
            destination_vault: Fact::Known(Some(vault)),
            access_policy: Fact::Known(None),
            cross_account_backup: Fact::Known(false),
            organization: OrganizationView {
                described: Fact::Known(Some(organization)),
                members: Fact::Known(members.into_iter().collect()),
            },
            keys: Default::default(),
            key_policies: Default::default(),
            key_grants: Default::default(),
            role: Fact::Unknown { why: "not read".into(), run_in: None },
        };
        let paths = vec![check_path(&spec, &facts)];
        let summary = PathsSummary { ok: 0, broken: 1, cannot_tell: 0 };
        PathsReport { account: AccountId::parse("222222222222").unwrap(), paths, summary }
    }

    fn written(format: Format) -> String {
        let mut out = Vec::new();
        write(&report(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_names_each_path_then_what_broke_it_and_the_fix() {
        let table = written(Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("source_vault") && lines[0].ends_with("verdict  checks"), "{table}");
        assert!(lines[1].contains("  route  broken   vault_access_policy,organization"), "{table}");
        assert!(table.contains("  organization broken (organization settings): DescribeGlobalSettings"), "{table}");
        assert!(table.contains("    fix: {\"Action\":\"backup:CopyIntoBackupVault\""), "{table}");
        assert!(
            table.contains("  kms_keys cannot tell: the source vault's key: not read")
                && table.contains("  role cannot tell"),
            "{table}"
        );
        assert!(
            table.ends_with("1 paths checked from account 222222222222: 0 ok, 1 broken, 0 cannot tell\n"),
            "{table}"
        );
    }

    #[test]
    fn csv_has_a_row_per_check_and_json_is_the_report() {
        let csv = written(Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert_eq!(lines.len(), 1 + 7);
        assert!(lines[1].starts_with(&format!("{SOURCE},{DR},-,route,broken,destination_vault,ok,")), "{csv}");
        assert!(lines[2].contains(",vault_access_policy,broken,vault_access_policy,"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&written(Format::Json)).unwrap();
        assert_eq!(json["paths"][0]["verdict"]["status"], "broken");
        assert_eq!(json["summary"]["broken"], 1);
    }
}
