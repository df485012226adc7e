//! The path check: before any copy fails, what each copy path's configuration says about its
//! copies — `ok`, `broken` (the cause, what was found, the fix) or `cannot tell` from the account the
//! check runs in (why, and where to run it). Pure: the facts are read through
//! [`crate::ports::PathFactsApi`] by `handlers::paths`, and decided here, check by check, as
//! docs/aws-facts.md#copy-paths says AWS decides a copy's fate.

use std::fmt;

use serde::Serialize;

use super::vault_policy::{copy_into_statement, evaluate, PolicyDecision, PolicyRequest, COPY_INTO_BACKUP_VAULT};
use super::{AccountId, BackupVaultArn, CopyPath, KmsKeyArn, Lifecycle, PathCauseKind, ResourceType, VaultType};

/// The checks of a path, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The destination vault exists.
    DestinationVault,
    /// The destination vault's access policy lets the source account copy into it.
    VaultAccessPolicy,
    /// The copy's retention is inside the destination's Vault Lock range.
    VaultLock,
    /// Cross-account backup is on in the organization.
    Organization,
    /// AWS Backup copies the path's resource types this way.
    ResourceTypes,
    /// The vaults' KMS keys can be used for the copy.
    KmsKeys,
    /// The role may copy into the destination vault.
    Role,
}

impl CheckName {
    pub const ALL: [Self; 7] = [
        Self::DestinationVault,
        Self::VaultAccessPolicy,
        Self::VaultLock,
        Self::Organization,
        Self::ResourceTypes,
        Self::KmsKeys,
        Self::Role,
    ];

    /// As reports name it (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DestinationVault => "destination_vault",
            Self::VaultAccessPolicy => "vault_access_policy",
            Self::VaultLock => "vault_lock",
            Self::Organization => "organization",
            Self::ResourceTypes => "resource_types",
            Self::KmsKeys => "kms_keys",
            Self::Role => "role",
        }
    }
}

/// What a check (or a whole path) comes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PathVerdict {
    Ok,
    /// Every copy on the path will fail.
    Broken {
        cause: PathCauseKind,
        /// What was found: AWS's words or the setting.
        found: String,
        /// What to change: for a vault access policy, the policy statement as JSON.
        fix: String,
    },
    /// What this account can read does not decide it.
    CannotTell {
        why: String,
        /// The account that can tell, when one is known.
        #[serde(skip_serializing_if = "Option::is_none")]
        run_in: Option<AccountId>,
    },
}

impl PathVerdict {
    fn rank(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::CannotTell { .. } => 1,
            Self::Broken { .. } => 2,
        }
    }

    /// How reports name it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Broken { .. } => "broken",
            Self::CannotTell { .. } => "cannot tell",
        }
    }

    /// The worse of the verdicts (broken > cannot tell > ok); the first of equals.
    pub fn worst<'a>(verdicts: impl IntoIterator<Item = &'a PathVerdict>) -> PathVerdict {
        verdicts.into_iter().fold(
            PathVerdict::Ok,
            |worst, verdict| {
                if verdict.rank() > worst.rank() {
                    verdict.clone()
                } else {
                    worst
                }
            },
        )
    }

    fn cannot_tell(why: impl Into<String>, run_in: Option<AccountId>) -> Self {
        Self::CannotTell { why: why.into(), run_in }
    }
}

/// One check's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: CheckName,
    #[serde(flatten)]
    pub verdict: PathVerdict,
}

/// Where a path to check comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PathOrigin {
    /// A copy route (`COPY_ROUTES`, `--routes`).
    Route,
    /// A backup plan rule's CopyAction.
    PlanRule { plan: String, rule: String },
    /// `--path` on the command line.
    CommandLine,
}

impl fmt::Display for PathOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Route => f.write_str("route"),
            Self::PlanRule { plan, rule } => write!(f, "plan {plan} rule {rule}"),
            Self::CommandLine => f.write_str("command line"),
        }
    }
}

/// How long a copy on the path is kept (its `DeleteAfterDays`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CopyRetention {
    Days(i64),
    /// No retention anywhere: kept indefinitely.
    Forever,
    /// None set for the copy: each copy keeps its source recovery point's, not known here
    /// ("a copy with a retention setting set to never expire will retain its source recovery
    /// point's expiration date", docs/aws-facts.md#vault-lock).
    OfSource,
}

impl CopyRetention {
    /// A `DeleteAfterDays` that sets one (absent or -1, "keep indefinitely", sets none).
    fn set_by(lifecycle: Option<&Lifecycle>) -> Option<i64> {
        lifecycle.and_then(|lifecycle| lifecycle.delete_after_days).filter(|days| *days > 0)
    }

    /// A route's copies (or copies started by hand): its lifecycle's, else their source's.
    pub fn of_route(lifecycle: Option<&Lifecycle>) -> Self {
        Self::set_by(lifecycle).map_or(Self::OfSource, Self::Days)
    }

    /// A plan rule's copies: the CopyAction's lifecycle's, else their source's, which is the rule's
    /// (kept indefinitely when it sets none).
    pub fn of_plan_copy(copy: Option<&Lifecycle>, rule: Option<&Lifecycle>) -> Self {
        Self::set_by(copy).or_else(|| Self::set_by(rule)).map_or(Self::Forever, Self::Days)
    }
}

impl fmt::Display for CopyRetention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(days) => write!(f, "{days} days"),
            Self::Forever => f.write_str("indefinitely"),
            Self::OfSource => f.write_str("as long as its source recovery point"),
        }
    }
}

/// The resource types whose backups go along the path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceTypes {
    /// Every type (a route without `resourceTypes`, a plan rule).
    Any,
    Only(Vec<ResourceType>),
}

/// A path to check, as configured: the path, where it comes from and what its copies are.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathSpec {
    pub path: CopyPath,
    pub origin: PathOrigin,
    pub retention: CopyRetention,
    pub resource_types: ResourceTypes,
}

/// What DescribeBackupVault says of a vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultFacts {
    pub arn: BackupVaultArn,
    pub vault_type: Option<VaultType>,
    /// `Locked`: a Vault Lock protects the vault.
    pub locked: bool,
    pub min_retention_days: Option<i64>,
    pub max_retention_days: Option<i64>,
    pub encryption_key: Option<KmsKeyArn>,
}

/// A fact as read: known, or not readable from this account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact<T> {
    Known(T),
    Unknown { why: String, run_in: Option<AccountId> },
}

impl<T> Fact<T> {
    fn verdict_unless_known(&self) -> Result<&T, PathVerdict> {
        match self {
            Self::Known(fact) => Ok(fact),
            Self::Unknown { why, run_in } => Err(PathVerdict::cannot_tell(why.clone(), run_in.clone())),
        }
    }
}

/// What was read about one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathFacts {
    /// The destination vault (`None`: it does not exist).
    pub destination_vault: Fact<Option<VaultFacts>>,
    /// The destination vault's access policy, its JSON text (`None`: it has none).
    pub access_policy: Fact<Option<String>>,
    /// The organization's `isCrossAccountBackupEnabled` (read for cross-account paths only).
    pub cross_account_backup: Fact<bool>,
    /// The source account's organization id, when known (for `aws:PrincipalOrgID`).
    pub source_organization: Option<String>,
}

/// A path's checks and, the worst of them, its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathReport {
    #[serde(flatten)]
    pub spec: PathSpec,
    pub verdict: PathVerdict,
    pub checks: Vec<Check>,
}

impl PathReport {
    /// The checks that decided the verdict (those as bad as it), none when it is ok.
    pub fn deciding(&self) -> impl Iterator<Item = &Check> {
        let rank = self.verdict.rank();
        self.checks.iter().filter(move |check| rank > 0 && check.verdict.rank() == rank)
    }
}

/// Decides every check of a path from its facts.
pub fn check_path(spec: &PathSpec, facts: &PathFacts) -> PathReport {
    let checks: Vec<Check> = CheckName::ALL
        .into_iter()
        .map(|check| {
            let verdict = match check {
                CheckName::DestinationVault => destination_vault(spec, facts),
                CheckName::VaultAccessPolicy => vault_access_policy(spec, facts),
                CheckName::VaultLock => vault_lock(spec, facts),
                CheckName::Organization => organization(spec, facts),
                CheckName::ResourceTypes => resource_types(spec, facts),
                CheckName::KmsKeys => kms_keys(spec, facts),
                CheckName::Role => role(spec),
            };
            Check { check, verdict }
        })
        .collect();
    let verdict = PathVerdict::worst(checks.iter().map(|check| &check.verdict));
    PathReport { spec: spec.clone(), verdict, checks }
}

fn account_of(arn: &BackupVaultArn) -> Option<AccountId> {
    AccountId::parse(arn.account()).ok()
}

fn destination_vault(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let destination = &spec.path.destination_vault;
    match facts.destination_vault.verdict_unless_known() {
        Err(verdict) => verdict,
        Ok(Some(_)) => PathVerdict::Ok,
        Ok(None) => PathVerdict::Broken {
            cause: PathCauseKind::MissingVault,
            found: format!("DescribeBackupVault: no vault {destination}"),
            fix: format!(
                "Create the vault (aws backup create-backup-vault --backup-vault-name {} --region {} in account {}), \
                 or point the {} at an existing one.",
                destination.vault_name(),
                destination.region(),
                destination.account(),
                spec.origin
            ),
        },
    }
}

/// The destination vault as read, or the verdict of a check that needs it.
fn vault<'a>(facts: &'a PathFacts, spec: &PathSpec) -> Result<&'a VaultFacts, PathVerdict> {
    facts.destination_vault.verdict_unless_known()?.as_ref().ok_or_else(|| {
        PathVerdict::cannot_tell(format!("there is no vault {} to read", spec.path.destination_vault), None)
    })
}

fn vault_access_policy(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    if let Err(verdict) = vault(facts, spec) {
        return verdict;
    }
    let policy = match facts.access_policy.verdict_unless_known() {
        Ok(policy) => policy,
        Err(verdict) => return verdict,
    };
    let path = &spec.path;
    let destination = &path.destination_vault;
    let Some(source) = account_of(&path.source_vault) else {
        return PathVerdict::cannot_tell("the source vault's ARN names no account", None);
    };
    let cross_account = path.is_cross_account();
    let allow = copy_into_statement(&source).to_string();
    let decision = match policy {
        None => PolicyDecision::ImplicitDeny,
        Some(policy) => {
            let request = PolicyRequest {
                action: COPY_INTO_BACKUP_VAULT,
                account: &source,
                role: path.role.as_ref(),
                resource: destination,
                organization: facts.source_organization.as_deref(),
            };
            match evaluate(policy, &request) {
                Ok(decision) => decision,
                Err(err) => return PathVerdict::cannot_tell(format!("{destination}: {err}"), None),
            }
        }
    };
    match decision {
        PolicyDecision::Allowed => PathVerdict::Ok,
        // Within one account the role's own permissions suffice (the role check).
        PolicyDecision::ImplicitDeny if !cross_account => PathVerdict::Ok,
        PolicyDecision::ImplicitDeny => PathVerdict::Broken {
            cause: PathCauseKind::VaultAccessPolicy,
            found: match policy {
                None => format!(
                    "GetBackupVaultAccessPolicy: vault {destination} has no access policy, so account {source} may not \
                     copy into it"
                ),
                Some(_) => format!(
                    "the access policy of {destination} does not allow {COPY_INTO_BACKUP_VAULT} for account {source}"
                ),
            },
            fix: allow,
        },
        PolicyDecision::ExplicitDeny { statement } => PathVerdict::Broken {
            cause: PathCauseKind::VaultAccessPolicy,
            found: format!(
                "the access policy of {destination} denies {COPY_INTO_BACKUP_VAULT} to account {source}: {statement}"
            ),
            fix: if cross_account {
                format!("Remove or narrow the statement {statement}, and keep {allow}")
            } else {
                format!("Remove or narrow the statement {statement}")
            },
        },
        PolicyDecision::Undecided { why } => PathVerdict::cannot_tell(
            format!("the access policy of {destination}: {why}"),
            account_of(&path.source_vault),
        ),
    }
}

fn vault_lock(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let vault = match vault(facts, spec) {
        Ok(vault) => vault,
        Err(verdict) => return verdict,
    };
    let (min, max) = (vault.min_retention_days, vault.max_retention_days);
    if !vault.locked || (min.is_none() && max.is_none()) {
        return PathVerdict::Ok;
    }
    let range = match (min, max) {
        (Some(min), Some(max)) => format!("MinRetentionDays {min}, MaxRetentionDays {max}"),
        (Some(min), None) => format!("MinRetentionDays {min}"),
        (None, Some(max)) => format!("MaxRetentionDays {max}"),
        (None, None) => unreachable!("checked above"),
    };
    let fits = match spec.retention {
        CopyRetention::Days(days) => min.is_none_or(|min| days >= min) && max.is_none_or(|max| days <= max),
        CopyRetention::Forever => max.is_none(),
        CopyRetention::OfSource => {
            return PathVerdict::cannot_tell(
                format!(
                    "the {} sets no DeleteAfterDays, so each copy keeps its source recovery point's retention, which \
                     the Vault Lock of {} must allow ({range}): give the {} a lifecycle deleteAfterDays in that range",
                    spec.origin, spec.path.destination_vault, spec.origin
                ),
                None,
            )
        }
    };
    if fits {
        return PathVerdict::Ok;
    }
    let days = match (min, max) {
        (Some(min), Some(max)) => format!("between {min} and {max} days"),
        (Some(min), None) => format!("at least {min} days"),
        (None, Some(max)) => format!("at most {max} days"),
        (None, None) => unreachable!("checked above"),
    };
    PathVerdict::Broken {
        cause: PathCauseKind::Retention,
        found: format!(
            "the copies are kept {} and the Vault Lock of {} allows {range}",
            spec.retention, spec.path.destination_vault
        ),
        fix: format!("Set DeleteAfterDays of the {} to {days}.", spec.origin),
    }
}

fn organization(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    if !spec.path.is_cross_account() {
        return PathVerdict::Ok;
    }
    match facts.cross_account_backup.verdict_unless_known() {
        Err(verdict) => verdict,
        Ok(true) => PathVerdict::Ok,
        Ok(false) => PathVerdict::Broken {
            cause: PathCauseKind::Organization,
            found: "DescribeGlobalSettings: isCrossAccountBackupEnabled is false".to_owned(),
            fix: "In the organization's management account: aws backup update-global-settings --global-settings \
                  isCrossAccountBackupEnabled=true"
                .to_owned(),
        },
    }
}

/// AWS Backup's copy features by resource type (docs/aws-facts.md#resource-types): the types that
/// cannot take this path in one copy, and why.
fn unsupported_types(spec: &PathSpec, facts: &PathFacts) -> (Vec<ResourceType>, &'static str) {
    let path = &spec.path;
    if !path.is_cross_region() {
        return (Vec::new(), "");
    }
    if path.is_cross_account() {
        let types = vec![ResourceType::Rds, ResourceType::Aurora, ResourceType::DocumentDb, ResourceType::Neptune];
        return (types, "cross-Region and cross-account in one copy");
    }
    let air_gapped = matches!(
        &facts.destination_vault,
        Fact::Known(Some(VaultFacts { vault_type: Some(VaultType::LogicallyAirGapped), .. }))
    );
    if air_gapped {
        let types = vec![ResourceType::Aurora, ResourceType::DocumentDb, ResourceType::Neptune];
        return (types, "cross-Region to a logically air-gapped vault");
    }
    (Vec::new(), "")
}

fn resource_types(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let (unsupported, how) = unsupported_types(spec, facts);
    if unsupported.is_empty() {
        return PathVerdict::Ok;
    }
    let names = |types: &[ResourceType]| types.iter().map(ResourceType::to_string).collect::<Vec<_>>().join(", ");
    match &spec.resource_types {
        ResourceTypes::Only(types) => {
            let hit: Vec<ResourceType> = types.iter().filter(|kind| unsupported.contains(kind)).cloned().collect();
            if hit.is_empty() {
                return PathVerdict::Ok;
            }
            PathVerdict::Broken {
                cause: PathCauseKind::Unsupported,
                found: format!("AWS Backup does not copy {} {how}", names(&hit)),
                fix: format!(
                    "Leave {} out of the {} (resourceTypes), or copy them in two steps: one copy cross-Region, then \
                     one cross-account.",
                    names(&hit),
                    spec.origin
                ),
            }
        }
        ResourceTypes::Any => PathVerdict::cannot_tell(
            format!(
                "the {} copies every resource type, and AWS Backup does not copy {} {how}: name its resourceTypes, \
                 or make sure no such resource is backed up to {}",
                spec.origin,
                names(&unsupported),
                spec.path.source_vault
            ),
            None,
        ),
    }
}

fn kms_keys(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let path = &spec.path;
    let key = match &facts.destination_vault {
        Fact::Known(Some(VaultFacts { encryption_key: Some(key), .. })) => format!("`{key}`"),
        _ => "the destination vault's key".to_owned(),
    };
    let across = if path.is_cross_account() {
        format!(
            "; across accounts the source vault's key must be a customer managed key whose policy lets account {} \
             use it",
            path.destination_vault.account()
        )
    } else {
        String::new()
    };
    PathVerdict::cannot_tell(
        format!(
            "not checked yet: the source vault's key and {key} must be enabled (aws kms describe-key --key-id KEY: \
             KeyState Enabled){across}"
        ),
        account_of(&path.source_vault),
    )
}

fn role(spec: &PathSpec) -> PathVerdict {
    let path = &spec.path;
    match &path.role {
        Some(role) => PathVerdict::cannot_tell(
            format!(
                "not checked yet: aws iam simulate-principal-policy --policy-source-arn {role} --action-names \
                 {COPY_INTO_BACKUP_VAULT} --resource-arns {} must say allowed",
                path.destination_vault
            ),
            AccountId::parse(role.account()).ok(),
        ),
        None => PathVerdict::cannot_tell(
            match &spec.origin {
                PathOrigin::Route => "the role routed copies pass is not known: give it with --role (COPY_ROLE_ARN)",
                PathOrigin::PlanRule { .. } => {
                    "the role a plan's copies pass is its backup selection's, not read yet (ListBackupSelections)"
                }
                PathOrigin::CommandLine => "the path names no role: give it as the third value of --path",
            },
            account_of(&path.source_vault),
        ),
    }
}
