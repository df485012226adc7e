//! `vaultwatch`: the operator's command. `vaultwatch coverage` reports whether every recovery point
//! has the copies it requires; `vaultwatch paths` checks the copy paths before a copy fails;
//! `vaultwatch notifications` wires vaults to the vaultwatch topic. Credentials and region come
//! from the environment or a profile, as for the AWS CLI.
//!
//! Exit status: 0 done (for `coverage`: nothing uncovered; for `paths`: every path ok), 1 `coverage`
//! found uncovered recovery points, `paths` found a broken path, or `notifications` could not
//! configure a vault, 2 usage error, 3 AWS or configuration error (nothing reported), 4 `paths`
//! found none broken but could not tell about some from this account.
//!
//! An error is one line on stderr: what is wrong and what to do, for the failures an operator fixes
//! outside vaultwatch (`ActionableError`: credentials, SSO session, region, access denied, network,
//! the tracking table's name); `--verbose` adds the error as the SDK reported it.

mod evidence;
mod paths;
mod report;

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use vaultwatch::adapters::{
    load_sdk_config, ActionableError, CommandContext, DynamoStore, Host, Permissions, SdkBackup, SdkConfig,
    SdkPathFacts,
};
use vaultwatch::domain::{
    BackupVaultArn, CopyPath, CopyRetention, DomainError, IamRoleArn, Lifecycle, PathOrigin, PathSpec, ResourceType,
    ResourceTypes, RetryPolicy, RouteTable, TopicArn, VaultName,
};
use vaultwatch::handlers::coverage::{CoverageAssessor, CoverageQuery};
use vaultwatch::handlers::organization::{OrganizationAssessor, OrganizationReport, OrganizationSettings};
use vaultwatch::handlers::paths::{add_health, PathChecker, PathsQuery};
use vaultwatch::handlers::vault_setup::{configure_vaults, SetupOptions};
use vaultwatch::handlers::HandlerError;
use vaultwatch::ports::AwsError;

#[derive(Debug, Parser)]
#[command(name = "vaultwatch", version, about = "Keeps AWS Backup copy jobs honest: coverage reports and vault setup")]
struct Cli {
    /// On an error, also print it as AWS and the SDK reported it (the one-line message says what to do).
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One row per (recovery point, required destination): is the copy there, and if not, why.
    ///
    /// A backup requires the destinations of the copy routes that match it and of its plan rule's
    /// CopyActions. Exit status 1 when any recovery point is uncovered (copying, retrying, failed
    /// or missing).
    ///
    /// With --organization, from the organization's management account: every member account's
    /// backups (ListBackupJobs with ByAccountId *), each member's copy jobs, coverage per account
    /// and region. A backup then requires the --require-copy-to vaults and the destinations its copy
    /// jobs went to (member accounts' plans and routes cannot be read from there). Read-only.
    Coverage(CoverageArgs),
    /// Checks each copy path before a copy fails: ok, broken (the cause and the fix) or cannot tell.
    ///
    /// The paths are the copy routes (--routes, COPY_ROUTES; their source vaults are this account's,
    /// in the configured region), the CopyActions of this account's backup plans in that region, and
    /// --path. Checks per path, and what each reads: the destination vault exists
    /// (backup:DescribeBackupVault); its access policy lets the source account copy into it
    /// (backup:GetBackupVaultAccessPolicy; across accounts an Allow of backup:CopyIntoBackupVault is
    /// needed, an explicit Deny breaks any path; aws:PrincipalOrgID is decided with the organization
    /// below); the copies' DeleteAfterDays fits the vault's Vault Lock (Min/MaxRetentionDays);
    /// organization: across accounts, both accounts in one organization
    /// (organizations:DescribeOrganization, and organizations:ListAccounts in the management account
    /// only: elsewhere membership cannot be told) and cross-account backup on
    /// (backup:DescribeGlobalSettings); AWS Backup copies the path's resource types that way (RDS,
    /// Aurora, DocumentDB and Neptune not cross-Region and cross-account in one copy); kms_keys: each
    /// vault's key is Enabled (kms:DescribeKey; the fix is the aws kms command), and across accounts
    /// the source key is not an AWS managed key and its key policy lets the destination account use
    /// it (kms:GetKeyPolicy); role: the role may copy into the destination vault
    /// (iam:SimulatePrincipalPolicy of backup:CopyIntoBackupVault, with the vault's access policy; a
    /// role of this account only; a plan's copies pass its backup selections' roles:
    /// backup:ListBackupSelections, one path per role). With --table (TRACKING_TABLE_NAME), each
    /// path's health as vaultwatch saw it (broken, healthy, unknown).
    /// A vault, key or role is read only in its own account: run the check in the source and the
    /// destination account. Read-only, with the operator's credentials.
    ///
    /// Exit status: 0 every path ok, 1 a path is broken, 4 none broken but some cannot tell from this
    /// account, 2 usage error, 3 AWS or configuration error (nothing reported).
    Paths(PathsArgs),
    /// Copy-coverage evidence in the evidence bucket: verify the chain of daily snapshots, or show a day.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Points vaults' AWS Backup notifications at the vaultwatch topic, keeping the events already set.
    ///
    /// Adds the events vaultwatch needs (BACKUP_JOB_COMPLETED, COPY_JOB_STARTED, COPY_JOB_SUCCESSFUL,
    /// COPY_JOB_FAILED). Exit status 1 when a vault could not be configured (all are attempted).
    Notifications(NotificationsArgs),
}

#[derive(Debug, Args)]
struct CoverageArgs {
    /// Backups completed within this long (e.g. 7d, 36h).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// Only this vault's backups (default: every vault).
    #[arg(long, value_name = "VAULT", value_parser = |raw: &str| VaultName::parse(raw))]
    vault: Option<VaultName>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The tracking table (the stack's TrackingTableName output); not with --organization.
    #[arg(long, env = "TRACKING_TABLE_NAME", value_name = "NAME", required_unless_present = "organization")]
    table: Option<String>,
    /// Report every member account of the organization (run in its management account).
    #[arg(long)]
    organization: bool,
    /// With --organization: a vault every backup must have a copy in (repeat for several).
    #[arg(long = "require-copy-to", value_name = "VAULT_ARN", requires = "organization", value_parser = |raw: &str| BackupVaultArn::parse(raw))]
    required_destinations: Vec<BackupVaultArn>,
    /// With --organization: the regions to report (repeat for several; default: the configured region).
    #[arg(long = "region", value_name = "REGION", requires = "organization")]
    regions: Vec<String>,
    /// The copy routes, as the stack's CopyRoutes parameter (JSON); none: plan CopyActions only.
    /// Not with --organization (member accounts' routes cannot be read from there).
    #[arg(long, env = "COPY_ROUTES", value_name = "JSON", value_parser = |raw: &str| RouteTable::from_json(raw))]
    routes: Option<RouteTable>,
    /// Retries after the original copy, as the stack's MaxAttempts (for "retrying n of m").
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = RetryPolicy::default().max_attempts)]
    max_attempts: u32,
}

#[derive(Debug, Args)]
struct PathsArgs {
    /// The copy routes, as the stack's CopyRoutes parameter (JSON).
    #[arg(long, env = "COPY_ROUTES", value_name = "JSON", value_parser = |raw: &str| RouteTable::from_json(raw))]
    routes: Option<RouteTable>,
    /// The role routed copies pass, as the stack's BackupRoleArn.
    #[arg(long = "role", env = "COPY_ROLE_ARN", value_name = "ROLE_ARN", value_parser = |raw: &str| IamRoleArn::parse(raw))]
    route_role: Option<IamRoleArn>,
    /// Leave out the account's backup plans (ListBackupPlans, GetBackupPlan).
    #[arg(long)]
    no_plans: bool,
    /// A path to check: its source and destination vault ARNs, and the role its copies pass
    /// (repeat for several).
    #[arg(
        long = "path",
        num_args = 2..=3,
        action = ArgAction::Append,
        value_names = ["SOURCE_VAULT_ARN", "DESTINATION_VAULT_ARN", "ROLE_ARN"]
    )]
    path: Vec<String>,
    /// The --path values, per occurrence (clap's derive flattens them; read from its matches).
    #[arg(skip)]
    paths: Vec<Vec<String>>,
    /// With --path: the copies' DeleteAfterDays (none: each keeps its source recovery point's).
    #[arg(long, value_name = "DAYS", requires = "path", value_parser = clap::value_parser!(i64).range(1..))]
    delete_after_days: Option<i64>,
    /// With --path: a resource type its copies carry, as AWS names it (repeat; none: any type).
    #[arg(long = "resource-type", value_name = "TYPE", requires = "path")]
    resource_types: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The tracking table (the stack's TrackingTableName output): adds each path's health as
    /// vaultwatch saw it (broken while it has an open incident, healthy once a copy on it completed
    /// or the daily check found it ok, else unknown; dynamodb:GetItem, BatchGetItem).
    #[arg(long, env = "TRACKING_TABLE_NAME", value_name = "NAME")]
    table: Option<String>,
}

impl PathsArgs {
    /// The --path paths.
    fn extra(&self) -> Result<Vec<PathSpec>, DomainError> {
        let lifecycle =
            self.delete_after_days.map(|days| Lifecycle { delete_after_days: Some(days), ..Lifecycle::default() });
        let resource_types = if self.resource_types.is_empty() {
            ResourceTypes::Any
        } else {
            ResourceTypes::Only(self.resource_types.iter().map(|kind| ResourceType::parse(kind)).collect())
        };
        self.paths
            .iter()
            .map(|values| {
                Ok(PathSpec {
                    path: CopyPath {
                        source_vault: BackupVaultArn::parse(&values[0])?,
                        destination_vault: BackupVaultArn::parse(&values[1])?,
                        role: values.get(2).map(|role| IamRoleArn::parse(role)).transpose()?,
                    },
                    origin: PathOrigin::CommandLine,
                    retention: CopyRetention::of_route(lifecycle.as_ref()),
                    resource_types: resource_types.clone(),
                })
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// The report as one JSON document (rows and summary).
    Json,
    /// One header line, then one line per row (RFC 4180).
    Csv,
}

#[derive(Debug, Args)]
struct NotificationsArgs {
    /// The SNS topic the vaults should notify (the stack's VaultEventsTopicArn output).
    #[arg(long = "topic-arn", value_name = "ARN", value_parser = |raw: &str| TopicArn::parse(raw))]
    topic: TopicArn,
    /// Print the changes, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Take over vaults that notify another topic (their events are kept).
    #[arg(long)]
    replace_topic: bool,
    /// The vaults to configure, by name.
    #[arg(required = true, value_name = "VAULT", value_parser = |raw: &str| VaultName::parse(raw))]
    vaults: Vec<VaultName>,
}

/// The options of one account's coverage, which `--organization` does not read.
const SINGLE_ACCOUNT_OPTIONS: [&str; 3] = ["table", "vault", "routes"];

impl Cli {
    /// Parses the command line, refusing a single-account option given with `--organization`
    /// (ignoring it would report something other than asked). Checked after clap's own rules, as
    /// clap's `conflicts_with` would switch off `--require-copy-to`'s `requires`, and would refuse
    /// a table or routes set in the environment (`TRACKING_TABLE_NAME`, `COPY_ROUTES`) for a stack's
    /// operator who runs the organization view too: only options on the command line conflict.
    fn try_parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Self, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(args)?;
        if let Some(id) = single_account_option_with_organization(&matches) {
            let message = format!("the argument '--{id}' cannot be used with '--organization' (one account only)");
            return Err(command.error(clap::error::ErrorKind::ArgumentConflict, message));
        }
        let mut cli = Self::from_arg_matches(&matches)?;
        if let (Command::Paths(args), Some(paths)) = (&mut cli.command, matches.subcommand_matches("paths")) {
            if let Some(occurrences) = paths.get_occurrences::<String>("path") {
                args.paths = occurrences.map(|values| values.cloned().collect()).collect();
            }
            if let Err(err) = args.extra() {
                return Err(command.error(clap::error::ErrorKind::ValueValidation, format!("invalid --path: {err}")));
            }
        }
        Ok(cli)
    }
}

/// The single-account option given on the command line beside `coverage --organization`, if any.
fn single_account_option_with_organization(matches: &clap::ArgMatches) -> Option<&'static str> {
    let coverage = matches.subcommand_matches("coverage").filter(|m| m.get_flag("organization"))?;
    SINGLE_ACCOUNT_OPTIONS
        .into_iter()
        .find(|id| coverage.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
}

impl Command {
    /// The tracking table the command reads, if it reads one.
    fn table(&self) -> Option<&str> {
        match self {
            Self::Coverage(args) if !args.organization => args.table.as_deref(),
            Self::Paths(args) => args.table.as_deref(),
            _ => None,
        }
    }

    /// Where the docs list the actions the command needs.
    fn permissions(&self) -> Permissions {
        let (listed_in, command) = match self {
            Self::Coverage(args) if args.organization => {
                ("docs/organization.md#observe-the-whole-organization", "vaultwatch coverage --organization")
            }
            Self::Coverage(_) => ("docs/operations.md#the-vaultwatch-command", "vaultwatch coverage"),
            Self::Paths(_) => ("docs/operations.md#copy-paths-and-incidents", "vaultwatch paths"),
            Self::Evidence(_) => ("docs/operations.md#evidence-for-auditors", "vaultwatch evidence"),
            Self::Notifications(_) => ("docs/operations.md#the-vaultwatch-command", "vaultwatch notifications"),
        };
        Permissions { listed_in, command }
    }

    /// Whether the command sends requests to the configured region (not `coverage --organization`
    /// given its regions), and the command's own region option if it has one.
    fn needs_region(&self) -> (bool, Option<&'static str>) {
        match self {
            Self::Coverage(args) => (args.regions.is_empty(), Some("--region with --organization")),
            _ => (true, None),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::try_parse_args(std::env::args()).unwrap_or_else(|err| err.exit());
    let sdk = match load_sdk_config(Host::Shell).await {
        Ok(sdk) => sdk,
        Err(err) => return failed(&err),
    };
    let table = cli.command.table().map(str::to_owned);
    let errors = Errors {
        context: CommandContext::new(&sdk, table.as_deref(), cli.command.permissions()),
        verbose: cli.verbose,
    };
    // Without a region every request fails in the SDK's endpoint resolution: say so before any.
    if let (true, option) = cli.command.needs_region() {
        if sdk.region().is_none() {
            return failed(&ActionableError::NoRegion { option });
        }
    }
    match cli.command {
        Command::Coverage(args) => {
            let since = match chrono::Duration::from_std(args.since) {
                Ok(since) => Utc::now() - since,
                Err(err) => return failed(&err),
            };
            if args.organization {
                return organization(&sdk, &errors, args, since).await;
            }
            let assessor = CoverageAssessor {
                backup: SdkBackup::new(&sdk),
                store: DynamoStore::new(&sdk, args.table.unwrap_or_default()),
                routes: args.routes.unwrap_or_default(),
                max_attempts: args.max_attempts,
            };
            let query = CoverageQuery { since, vault: args.vault };
            match assessor.report(&query, Utc::now()).await {
                Ok(coverage) => reported(
                    report::write(&coverage, args.format, std::io::stdout().lock()),
                    coverage.summary.uncovered(),
                ),
                Err(err) => errors.handler_failed(&err),
            }
        }
        Command::Paths(args) => paths(&sdk, &errors, args).await,
        Command::Evidence(command) => evidence::run(&sdk, &errors, command).await,
        Command::Notifications(args) => {
            let options = SetupOptions { dry_run: args.dry_run, replace_topic: args.replace_topic };
            let mut status = ExitCode::SUCCESS;
            for result in configure_vaults(&SdkBackup::new(&sdk), &args.vaults, &args.topic, options).await {
                match result {
                    Ok(change) => println!("{change}"),
                    Err(err) => {
                        status = ExitCode::FAILURE;
                        errors.print(err.aws_error(), &err, "");
                    }
                }
            }
            status
        }
    }
}

/// `coverage --organization`: each region's organization report, as one.
async fn organization(
    sdk: &SdkConfig,
    errors: &Errors<'_>,
    args: CoverageArgs,
    since: chrono::DateTime<Utc>,
) -> ExitCode {
    let settings =
        OrganizationSettings { required_destinations: args.required_destinations, max_attempts: args.max_attempts };
    let regions = if args.regions.is_empty() {
        vec![sdk.region().map(|region| region.to_string()).unwrap_or_default()]
    } else {
        args.regions
    };
    let mut reports = Vec::new();
    for region in regions {
        let assessor = OrganizationAssessor { backup: SdkBackup::in_region(sdk, &region), settings: settings.clone() };
        match assessor.report(since, Utc::now()).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                errors.print(err.aws_error(), &err, &format!("{region}: "));
                return ExitCode::from(3);
            }
        }
    }
    let organization = OrganizationReport::combine(reports, Utc::now());
    reported(
        report::write_organization(&organization, args.format, std::io::stdout().lock()),
        organization.summary.uncovered(),
    )
}

/// `paths`: the check of every path, and its exit status (0 all ok, 1 broken, 4 cannot tell).
async fn paths(sdk: &SdkConfig, errors: &Errors<'_>, args: PathsArgs) -> ExitCode {
    let Some(region) = sdk.region().map(ToString::to_string) else {
        return failed(&ActionableError::NoRegion { option: None });
    };
    let extra = match args.extra() {
        Ok(extra) => extra,
        Err(err) => return failed(&err),
    };
    let query = PathsQuery {
        region,
        routes: args.routes.unwrap_or_default(),
        route_role: args.route_role,
        plans: !args.no_plans,
        extra,
    };
    let mut checked = match (PathChecker { facts: SdkPathFacts::new(sdk) }).check_all(&query).await {
        Ok(checked) => checked,
        Err(err) => return errors.aws_failed(&err),
    };
    if let Some(table) = &args.table {
        if let Err(err) = add_health(&mut checked, &DynamoStore::new(sdk, table.clone())).await {
            return errors.aws_failed(&err);
        }
    }
    match paths::write(&checked, args.format, std::io::stdout().lock()) {
        Err(err) => failed(&err),
        Ok(()) if checked.summary.broken > 0 => ExitCode::FAILURE,
        Ok(()) if checked.summary.cannot_tell > 0 => ExitCode::from(CANNOT_TELL),
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// `paths`' exit status when no path is broken but some cannot be told about from this account.
const CANNOT_TELL: u8 = 4;

/// A coverage report's exit status: 1 when something is uncovered, 3 when it could not be written.
fn reported(written: std::io::Result<()>, uncovered: usize) -> ExitCode {
    match written {
        Err(err) => failed(&err),
        Ok(()) if uncovered > 0 => ExitCode::FAILURE,
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// Nothing could be reported: the reason, and status 3.
fn failed(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(3)
}

/// How a command says what stopped it: one line on stderr, naming what is wrong and what to do
/// when the library knows ([`ActionableError`]); with `--verbose`, the error as the SDK gave it.
pub(crate) struct Errors<'a> {
    context: CommandContext<'a>,
    verbose: bool,
}

impl Errors<'_> {
    /// A failed AWS call stopped the command: status 3.
    pub(crate) fn aws_failed(&self, err: &AwsError) -> ExitCode {
        self.print_aws(err, "");
        ExitCode::from(3)
    }

    /// The handler stopped the command: status 3.
    pub(crate) fn handler_failed(&self, err: &HandlerError) -> ExitCode {
        self.print(err.aws_error(), err, "");
        ExitCode::from(3)
    }

    /// Says what `err` was: through the failed AWS call behind it (`aws`), if there is one.
    fn print(&self, aws: Option<&AwsError>, err: &dyn std::fmt::Display, prefix: &str) {
        match aws {
            Some(aws) => self.print_aws(aws, prefix),
            None => eprintln!("error: {prefix}{err}"),
        }
    }

    fn print_aws(&self, err: &AwsError, prefix: &str) {
        match ActionableError::of(err, &self.context) {
            Some(actionable) => {
                eprintln!("error: {prefix}{actionable}");
                if self.verbose {
                    eprintln!("detail: {err}");
                }
            }
            None => eprintln!("error: {prefix}{err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:backup-vault-events";

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_args(std::iter::once("vaultwatch").chain(args.iter().copied()).map(str::to_owned))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn notifications_arguments_are_validated() {
        let Command::Notifications(args) =
            parse(&["notifications", "--topic-arn", TOPIC, "--dry-run", "primary", "db"]).unwrap().command
        else {
            panic!("not the notifications command")
        };
        assert_eq!(args.vaults, vec![VaultName::parse("primary").unwrap(), VaultName::parse("db").unwrap()]);
        assert!(args.dry_run && !args.replace_topic);
        assert!(parse(&["notifications", "primary"]).unwrap_err().contains("--topic-arn <ARN>"));
        assert!(parse(&["notifications", "--topic-arn", TOPIC]).unwrap_err().contains("<VAULT>..."));
        assert!(parse(&["notifications", "--topic-arn", "nope", "primary"]).unwrap_err().contains("SNS topic ARN"));
        assert!(parse(&["notifications", "--topic-arn", TOPIC, "--force", "primary"]).unwrap_err().contains("--force"));
    }

    #[test]
    fn coverage_arguments_have_defaults_and_are_validated() {
        let Command::Coverage(args) = parse(&["coverage", "--table", "t"]).unwrap().command else { panic!() };
        assert_eq!((args.since, args.format, args.vault), (Duration::from_secs(7 * 86400), Format::Table, None));
        let Command::Coverage(args) =
            parse(&["coverage", "--table", "t", "--since", "36h", "--vault", "primary", "--format", "csv"])
                .unwrap()
                .command
        else {
            panic!()
        };
        assert_eq!((args.since, args.format), (Duration::from_secs(36 * 3600), Format::Csv));
        assert!(parse(&["coverage", "--table", "t", "--since", "soon"]).unwrap_err().contains("--since"));
        assert!(parse(&["coverage", "--table", "t", "--format", "xml"]).unwrap_err().contains("xml"));
        assert!(parse(&["coverage", "--table", "t", "--routes", "[{}]"]).unwrap_err().contains("--routes"));
        assert!(parse(&["coverage"]).unwrap_err().contains("--table <NAME>"), "the table is needed for one account");
    }

    #[test]
    fn paths_arguments_name_paths_and_are_validated() {
        const SOURCE: &str = "arn:aws:backup:us-east-1:111111111111:backup-vault:src";
        const DR: &str = "arn:aws:backup:us-west-2:222222222222:backup-vault:dr";
        const ROLE: &str = "arn:aws:iam::111111111111:role/copier";
        let Command::Paths(args) = parse(&[
            "paths",
            "--no-plans",
            "--path",
            SOURCE,
            DR,
            ROLE,
            "--path",
            SOURCE,
            DR,
            "--delete-after-days",
            "35",
            "--resource-type",
            "RDS",
            "--format",
            "json",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert!(args.no_plans && args.format == Format::Json);
        let extra = args.extra().unwrap();
        assert_eq!(extra.len(), 2);
        assert_eq!(extra[0].path.role.as_ref().map(IamRoleArn::as_str), Some(ROLE));
        assert_eq!((extra[1].path.role.as_ref(), extra[1].retention), (None, CopyRetention::Days(35)));
        assert_eq!(extra[1].resource_types, ResourceTypes::Only(vec![ResourceType::Rds]));
        assert!(parse(&["paths", "--path", SOURCE]).unwrap_err().contains("--path"));
        assert!(parse(&["paths", "--path", SOURCE, "dr"]).unwrap_err().contains("invalid --path"));
        assert!(parse(&["paths", "--path", SOURCE, DR, "copier"]).unwrap_err().contains("invalid --path"));
        assert!(parse(&["paths", "--delete-after-days", "3"]).unwrap_err().contains("--path"));
        assert!(parse(&["paths", "--path", SOURCE, DR, "--delete-after-days", "0"]).unwrap_err().contains("0"));
        let Command::Paths(args) = parse(&["paths"]).unwrap().command else { panic!() };
        assert!(args.paths.is_empty() && !args.no_plans && args.format == Format::Table);
    }

    #[test]
    fn verbose_goes_before_or_after_the_command_and_each_command_says_what_it_needs() {
        assert!(!parse(&["coverage", "--table", "t"]).unwrap().verbose);
        assert!(parse(&["--verbose", "coverage", "--table", "t"]).unwrap().verbose);
        assert!(parse(&["evidence", "verify", "--bucket", "b", "--verbose"]).unwrap().verbose);

        let coverage = parse(&["coverage", "--table", "t"]).unwrap().command;
        assert_eq!((coverage.table(), coverage.needs_region().0), (Some("t"), true));
        assert_eq!(
            coverage.permissions(),
            Permissions { listed_in: "docs/operations.md#the-vaultwatch-command", command: "vaultwatch coverage" }
        );
        let regions = parse(&["coverage", "--organization", "--region", "eu-west-1"]).unwrap().command;
        assert_eq!((regions.table(), regions.needs_region().0), (None, false), "its regions are given");
        assert_eq!(regions.permissions().listed_in, "docs/organization.md#observe-the-whole-organization");
        let paths = parse(&["paths", "--table", "t"]).unwrap().command;
        assert_eq!((paths.table(), paths.needs_region()), (Some("t"), (true, None)));
        assert_eq!(paths.permissions().listed_in, "docs/operations.md#copy-paths-and-incidents");

        // The errors point there: each is a section of a docs page.
        let pages = [
            ("docs/operations.md", include_str!("../../docs/operations.md")),
            ("docs/organization.md", include_str!("../../docs/organization.md")),
        ];
        for args in [
            &["coverage", "--table", "t"][..],
            &["coverage", "--organization"],
            &["paths"],
            &["evidence", "verify", "--bucket", "b"],
            &["notifications", "--topic-arn", TOPIC, "primary"],
        ] {
            let listed_in = parse(args).unwrap().command.permissions().listed_in;
            let (page, anchor) = listed_in.split_once('#').unwrap();
            let (_, text) = pages.iter().find(|(name, _)| *name == page).expect(listed_in);
            let anchors: Vec<String> = text
                .lines()
                .filter_map(|line| line.strip_prefix("## "))
                .map(|heading| heading.to_lowercase().replace(' ', "-").replace('`', ""))
                .collect();
            assert!(anchors.iter().any(|a| a == anchor), "{listed_in}");
        }
    }

    #[test]
    fn the_organization_view_needs_no_table_and_owns_its_options() {
        const DR: &str = "arn:aws:backup:us-west-2:444444444444:backup-vault:central-dr";
        let Command::Coverage(args) = parse(&[
            "coverage",
            "--organization",
            "--require-copy-to",
            DR,
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert!(args.organization && args.table.is_none());
        assert_eq!(args.required_destinations, [BackupVaultArn::parse(DR).unwrap()]);
        assert_eq!(args.regions, ["us-east-1", "eu-west-1"]);
        for only_with_organization in [["--require-copy-to", DR], ["--region", "us-east-1"]] {
            let err =
                parse(&["coverage", "--table", "t", only_with_organization[0], only_with_organization[1]]).unwrap_err();
            assert!(err.contains("--organization"), "{err}");
        }
        assert!(parse(&["coverage", "--organization", "--require-copy-to", "dr"])
            .unwrap_err()
            .contains("--require-copy-to"));
        // The single-account options are refused with --organization, not silently ignored.
        for single_account in [["--table", "t"], ["--vault", "primary"], ["--routes", "[]"]] {
            let err = parse(&["coverage", "--organization", single_account[0], single_account[1]]).unwrap_err();
            assert!(err.contains("cannot be used with '--organization'") && err.contains(single_account[0]), "{err}");
        }
        // ...on the command line: a stack operator's environment may name the table all the same.
        // (a value from elsewhere than the command line, as a default stands in for here).
        let table_not_given = <Cli as clap::CommandFactory>::command()
            .mut_subcommand("coverage", |coverage: clap::Command| {
                coverage.mut_arg("table", |table| table.default_value("from-the-environment"))
            })
            .try_get_matches_from(["vaultwatch", "coverage", "--organization"])
            .unwrap();
        assert_eq!(single_account_option_with_organization(&table_not_given), None);
    }
}
