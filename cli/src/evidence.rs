//! `vaultwatch evidence`: verify the chain of daily snapshots in the evidence bucket, or show one
//! day. Read-only, with the operator's credentials (s3:ListBucketVersions, s3:GetObject and
//! s3:GetObjectVersion on the bucket).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use vaultwatch::adapters::{S3Evidence, SdkConfig};
use vaultwatch::domain::evidence::{Manifest, CSV_FILE, HTML_FILE, JSONL_FILE, MANIFEST_FILE};
use vaultwatch::handlers::evidence::{read_day_file, scopes_with_day, verify, Verification};

use crate::{failed, Errors};

/// The key prefix the template writes under.
const DEFAULT_PREFIX: &str = "coverage-evidence";

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Walks the chain of daily snapshots of every scope (account and region, or the organization)
    /// in the bucket, every object version included: names each day missing from the chain, deleted
    /// (a delete marker), rewritten (more than one version) or altered (content that does not hash
    /// to what its manifest, or the next day's manifest, recorded).
    ///
    /// Exit status: 0 the chain is whole, 1 something is reported, 2 usage error, 3 AWS error
    /// (nothing verified).
    Verify(VerifyArgs),
    /// Prints one day's snapshot: its summary and rows, or one of its files as stored (--file).
    ///
    /// Exit status: 0 printed, 1 no such day, 2 usage error, 3 AWS error.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The evidence bucket (the stack's EvidenceBucketName output).
    #[arg(long, env = "EVIDENCE_BUCKET", value_name = "NAME")]
    bucket: String,
    /// The key prefix the snapshots are under.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,
    /// Days within this long (e.g. 90d); the day before the first serves its link.
    #[arg(long, default_value = "400d", value_parser = humantime::parse_duration)]
    since: Duration,
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    format: VerifyFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum VerifyFormat {
    /// One line per finding, then one per scope.
    Table,
    /// The verification as one JSON document.
    Json,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long, env = "EVIDENCE_BUCKET", value_name = "NAME")]
    bucket: String,
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,
    /// The day (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = |raw: &str| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))]
    date: NaiveDate,
    /// The scope, ACCOUNT/REGION or organization/REGION (needed when the bucket holds several).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    /// One file as stored, instead of the summary and rows.
    #[arg(long, value_enum)]
    file: Option<DayFile>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DayFile {
    Csv,
    Jsonl,
    Html,
    Manifest,
}

impl DayFile {
    fn name(self) -> &'static str {
        match self {
            Self::Csv => CSV_FILE,
            Self::Jsonl => JSONL_FILE,
            Self::Html => HTML_FILE,
            Self::Manifest => MANIFEST_FILE,
        }
    }
}

pub async fn run(sdk: &SdkConfig, errors: &Errors<'_>, command: EvidenceCommand) -> ExitCode {
    match command {
        EvidenceCommand::Verify(args) => {
            let since = match chrono::Duration::from_std(args.since) {
                Ok(since) => (Utc::now() - since).date_naive(),
                Err(err) => return failed(&err),
            };
            match verify(&S3Evidence::new(sdk, args.bucket), &args.prefix, since).await {
                Ok(verification) => {
                    let written = write_verification(&verification, args.format, std::io::stdout().lock());
                    match written {
                        Err(err) => failed(&err),
                        Ok(()) if verification.findings.is_empty() => ExitCode::SUCCESS,
                        Ok(()) => ExitCode::FAILURE,
                    }
                }
                Err(err) => errors.handler_failed(&err),
            }
        }
        EvidenceCommand::Show(args) => show(sdk, errors, args).await,
    }
}

fn write_verification(verification: &Verification, format: VerifyFormat, mut out: impl Write) -> std::io::Result<()> {
    if format == VerifyFormat::Json {
        serde_json::to_writer_pretty(&mut out, verification)?;
        return writeln!(out);
    }
    for finding in &verification.findings {
        writeln!(out, "{} {}: {}", finding.scope, finding.day.format("%Y-%m-%d"), finding.finding)?;
    }
    for (scope, days) in &verification.days_checked {
        let found = verification.findings.iter().filter(|f| &f.scope == scope).count();
        let verdict = if found == 0 { "the chain is whole".to_owned() } else { format!("{found} finding(s)") };
        writeln!(out, "{scope}: {days} day(s) checked, {verdict}")?;
    }
    if verification.days_checked.is_empty() {
        writeln!(out, "no snapshots under the prefix")?;
    }
    Ok(())
}

async fn show(sdk: &SdkConfig, errors: &Errors<'_>, args: ShowArgs) -> ExitCode {
    let bucket = S3Evidence::new(sdk, args.bucket);
    let scope = match args.scope {
        Some(scope) => scope,
        None => match scopes_with_day(&bucket, &args.prefix, args.date).await {
            Err(err) => return errors.handler_failed(&err),
            Ok(scopes) if scopes.len() == 1 => scopes.into_iter().next().unwrap_or_default(),
            Ok(scopes) if scopes.is_empty() => {
                eprintln!("no snapshot of {} under {}", args.date.format("%Y-%m-%d"), args.prefix);
                return ExitCode::FAILURE;
            }
            Ok(scopes) => {
                eprintln!("several scopes hold {}: give --scope, one of {}", args.date, scopes.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    let read = async |file: &str| read_day_file(&bucket, &args.prefix, &scope, args.date, file).await;
    let mut out = std::io::stdout().lock();
    let printed = match args.file {
        Some(file) => match read(file.name()).await {
            Err(err) => return errors.handler_failed(&err),
            Ok(None) => None,
            Ok(Some(body)) => Some(out.write_all(&body)),
        },
        None => {
            let (manifest, csv) = match (read(MANIFEST_FILE).await, read(CSV_FILE).await) {
                (Err(err), _) | (_, Err(err)) => return errors.handler_failed(&err),
                (Ok(manifest), Ok(csv)) => (manifest, csv),
            };
            match (manifest.and_then(|m| serde_json::from_slice::<Manifest>(&m).ok()), csv) {
                (Some(manifest), Some(csv)) => Some(summary(&manifest, &mut out).and_then(|()| out.write_all(&csv))),
                _ => None,
            }
        }
    };
    match printed {
        None => {
            eprintln!("no snapshot of {} for {scope} under {}", args.date.format("%Y-%m-%d"), args.prefix);
            ExitCode::FAILURE
        }
        Some(Err(err)) => failed(&err),
        Some(Ok(())) => ExitCode::SUCCESS,
    }
}

fn summary(manifest: &Manifest, mut out: impl Write) -> std::io::Result<()> {
    let totals = &manifest.totals;
    writeln!(out, "{} {}: written {}", manifest.scope, manifest.day.format("%Y-%m-%d"), manifest.generated_at)?;
    writeln!(
        out,
        "{} covered, {} uncovered, {} not owed; {} open path incident(s){}",
        totals.covered,
        totals.uncovered,
        totals.other,
        manifest.open_incidents.len(),
        if manifest.complete { "" } else { "; the sweep's window began after the day did (partial)" }
    )?;
    match (&manifest.previous_day, &manifest.previous_sha256) {
        (Some(day), Some(sha)) => writeln!(out, "links to {} (manifest SHA-256 {sha})", day.format("%Y-%m-%d"))?,
        _ => writeln!(out, "the scope's first snapshot")?,
    }
    writeln!(out)
}
