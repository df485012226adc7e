//! The path check: before any copy fails, what each copy path's configuration says about its
//! copies — `ok`, `broken` (the cause, what was found, the fix) or `cannot tell` from the account the
//! check runs in (why, and where to run it). Pure: the facts are read through
//! [`crate::ports::PathFactsApi`] by `handlers::paths`, and decided here, check by check, as
//! docs/aws-facts.md#copy-paths says AWS decides a copy's fate.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::json;

use super::vault_policy::{
    copy_into_statement, evaluate, share_key_statement, PolicyDecision, PolicyRequest, COPY_INTO_BACKUP_VAULT,
    KMS_SHARED_ACTIONS,
};
use super::{
    AccountId, BackupVaultArn, CopyPath, Incident, IncidentId, IncidentKey, KmsKeyArn, Lifecycle, PathCauseKind,
    PathFailure, ResourceType, VaultType,
};

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
    /// An open incident's path (the reconciler checks whether its cause is gone).
    Incident,
    /// A path the sweep saw copies complete on (copies started by hand or by another tool).
    CopyJobs,
}

impl fmt::Display for PathOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Route => f.write_str("route"),
            Self::PlanRule { plan, rule } => write!(f, "plan {plan} rule {rule}"),
            Self::CommandLine => f.write_str("command line"),
            Self::Incident => f.write_str("open incident"),
            Self::CopyJobs => f.write_str("copy jobs"),
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

impl PathSpec {
    /// An open incident's path, with what its first failure tells of the copies on it.
    pub fn of_incident(incident: &Incident) -> Self {
        let first = incident.first.as_ref();
        Self {
            path: incident.path.clone(),
            origin: PathOrigin::Incident,
            retention: CopyRetention::of_route(first.and_then(|point| point.lifecycle.as_ref())),
            resource_types: match first.and_then(|point| point.resource_type.clone()) {
                Some(kind) => ResourceTypes::Only(vec![kind]),
                None => ResourceTypes::Any,
            },
        }
    }

    /// A path the sweep saw copies of `types` complete on: checked as such copies go (their own
    /// retention is each one's; a type not reported leaves any type possible).
    pub fn of_copies(path: CopyPath, types: &[Option<ResourceType>]) -> Self {
        let known: Option<Vec<ResourceType>> = types.iter().cloned().collect();
        Self {
            path,
            origin: PathOrigin::CopyJobs,
            retention: CopyRetention::OfSource,
            resource_types: match known {
                Some(mut types) if !types.is_empty() => {
                    types.sort_by_key(ToString::to_string);
                    types.dedup();
                    ResourceTypes::Only(types)
                }
                _ => ResourceTypes::Any,
            },
        }
    }
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

/// A KMS key's `KeyState` (DescribeKey), as the KMS API model spells its values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingReplicaDeletion,
    PendingImport,
    Unavailable,
    Creating,
    Updating,
    /// A state the model did not list when this was written, as AWS spells it.
    Other(String),
}

impl KeyState {
    const KNOWN: [(KeyState, &'static str); 8] = [
        (Self::Enabled, "Enabled"),
        (Self::Disabled, "Disabled"),
        (Self::PendingDeletion, "PendingDeletion"),
        (Self::PendingReplicaDeletion, "PendingReplicaDeletion"),
        (Self::PendingImport, "PendingImport"),
        (Self::Unavailable, "Unavailable"),
        (Self::Creating, "Creating"),
        (Self::Updating, "Updating"),
    ];

    pub fn parse(raw: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, name)| *name == raw)
            .map_or_else(|| Self::Other(raw.to_owned()), |(state, _)| state.clone())
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(raw) => raw,
            known => Self::KNOWN.iter().find(|(state, _)| state == known).map_or("", |(_, name)| name),
        }
    }
}

/// Who manages a KMS key (DescribeKey `KeyManager`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyManager {
    /// An AWS managed key (`aws/backup`, a default vault's): it cannot be shared with another account.
    Aws,
    Customer,
}

/// What DescribeKey says of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFacts {
    pub arn: KmsKeyArn,
    pub state: KeyState,
    pub manager: KeyManager,
}

/// One of a KMS key's grants (ListGrants): whom it gives which operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// `GranteePrincipal`: an IAM ARN (or a service principal).
    pub grantee: String,
    /// `Operations`, as KMS names them (`Decrypt`, `CreateGrant`, ...).
    pub operations: Vec<String>,
}

impl KeyGrant {
    /// Whether the grant gives `action` (`kms:Decrypt`) to a principal of `account`.
    fn gives(&self, action: &str, account: &AccountId) -> bool {
        let operation = action.trim_start_matches("kms:");
        self.grantee.split(':').nth(4) == Some(account.as_str()) && self.operations.iter().any(|op| op == operation)
    }
}

/// IAM's answer for one action on one resource (SimulatePrincipalPolicy `EvalDecision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimulatedDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl SimulatedDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

/// One `EvaluationResults` member of a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub action: String,
    pub resource: String,
    pub decision: SimulatedDecision,
    /// The policies whose statements decided it (`SourcePolicyId`).
    pub matched: Vec<String>,
    /// Condition keys the simulation had no value for (`MissingContextValues`).
    pub missing_context: Vec<String>,
}

/// What IAM says of the path's role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleFacts {
    /// SimulatePrincipalPolicy: NoSuchEntity.
    Missing,
    Simulated(Vec<Simulation>),
}

/// What DescribeOrganization says of the caller's organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationFacts {
    /// `o-...`, for `aws:PrincipalOrgID`.
    pub id: String,
    pub management: AccountId,
}

/// The caller's organization as read: whether it is in one, and (from its management account only)
/// its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationView {
    /// DescribeOrganization (`None`: the caller is in no organization).
    pub described: Fact<Option<OrganizationFacts>>,
    /// ListAccounts: the organization's member accounts.
    pub members: Fact<HashSet<AccountId>>,
}

/// What was read about one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathFacts {
    /// The account the check runs in.
    pub caller: AccountId,
    /// The source vault (`None`: it does not exist).
    pub source_vault: Fact<Option<VaultFacts>>,
    /// The destination vault (`None`: it does not exist).
    pub destination_vault: Fact<Option<VaultFacts>>,
    /// The destination vault's access policy, its JSON text (`None`: it has none).
    pub access_policy: Fact<Option<String>>,
    /// The organization's `isCrossAccountBackupEnabled` (read for cross-account paths only).
    pub cross_account_backup: Fact<bool>,
    /// The caller's organization.
    pub organization: OrganizationView,
    /// DescribeKey of the vaults' keys (`None`: KMS says the key does not exist).
    pub keys: HashMap<KmsKeyArn, Fact<Option<KeyFacts>>>,
    /// GetKeyPolicy (`default`) of a cross-account path's source key.
    pub key_policies: HashMap<KmsKeyArn, Fact<String>>,
    /// ListGrants of the same key: a grant lets the destination account use it where the key policy
    /// does not.
    pub key_grants: HashMap<KmsKeyArn, Fact<Vec<KeyGrant>>>,
    /// SimulatePrincipalPolicy of the path's role (when it names one).
    pub role: Fact<RoleFacts>,
}

impl PathFacts {
    /// The source account's organization id, for `aws:PrincipalOrgID` in the destination vault's
    /// access policy. That policy is read only in the destination's own account
    /// (docs/aws-facts.md#destination-vault-access-policy), whose organization is the source's too: a
    /// copy across accounts needs both in one organization, and the organization check says whether
    /// they are (docs/aws-facts.md#organization).
    pub fn source_organization(&self, path: &CopyPath) -> Option<&str> {
        let Fact::Known(Some(organization)) = &self.organization.described else { return None };
        (path.destination_vault.account() == self.caller.as_str()).then_some(organization.id.as_str())
    }
}

/// A path's checks and, the worst of them, its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathReport {
    #[serde(flatten)]
    pub spec: PathSpec,
    pub verdict: PathVerdict,
    pub checks: Vec<Check>,
    /// The path's health as the tracking table holds it, when it was read (`vaultwatch paths --table`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<super::PathHealth>,
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
                CheckName::Role => role(spec, facts),
            };
            Check { check, verdict }
        })
        .collect();
    let verdict = PathVerdict::worst(checks.iter().map(|check| &check.verdict));
    PathReport { spec: spec.clone(), verdict, checks, health: None }
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
                resource: destination.as_str(),
                organization: facts.source_organization(path),
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
    PathVerdict::worst(&[same_organization(spec, facts), cross_account_backup(facts)])
}

/// Both accounts of a cross-account path must be members of one organization ("Copy job failed.
/// Both source and destination account must be a member of the same organization.",
/// docs/aws-facts.md#organization). Only the management account lists the members.
fn same_organization(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let path = &spec.path;
    let (Some(source), Some(destination)) = (account_of(&path.source_vault), account_of(&path.destination_vault))
    else {
        return PathVerdict::cannot_tell("a vault's ARN names no account", None);
    };
    let caller = &facts.caller;
    let organization = match &facts.organization.described {
        Fact::Unknown { why, run_in } => {
            return PathVerdict::cannot_tell(format!("DescribeOrganization: {why}"), run_in.clone())
        }
        Fact::Known(None) if *caller == source || *caller == destination => {
            let other = if *caller == source { &destination } else { &source };
            return PathVerdict::Broken {
                cause: PathCauseKind::Organization,
                found: format!(
                    "DescribeOrganization: account {caller} is not a member of an organization, and a cross-account \
                     copy needs accounts {source} and {destination} in one"
                ),
                fix: format!(
                    "Make both accounts members of one organization: from its management account, aws organizations \
                     invite-account-to-organization --target Id={caller},Type=ACCOUNT (and Id={other} if it is not \
                     a member either)"
                ),
            };
        }
        Fact::Known(None) => {
            return PathVerdict::cannot_tell(
                format!("account {caller} is in no organization: run the check in account {source}"),
                Some(source),
            )
        }
        Fact::Known(Some(organization)) => organization,
    };
    let members = match &facts.organization.members {
        Fact::Known(members) => members,
        Fact::Unknown { why, run_in } => {
            return PathVerdict::cannot_tell(
                format!(
                    "whether accounts {source} and {destination} are both members of organization {}: {why}",
                    organization.id
                ),
                run_in.clone().or_else(|| Some(organization.management.clone())),
            )
        }
    };
    let outside: Vec<&AccountId> = [&source, &destination].into_iter().filter(|a| !members.contains(a)).collect();
    if outside.is_empty() {
        return PathVerdict::Ok;
    }
    let names = outside.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ");
    PathVerdict::Broken {
        cause: PathCauseKind::Organization,
        found: format!(
            "ListAccounts of organization {}: account {names} is not a member, and a cross-account copy needs both \
             accounts in one organization",
            organization.id
        ),
        fix: outside
            .iter()
            .map(|account| {
                format!(
                    "aws organizations invite-account-to-organization --target Id={account},Type=ACCOUNT (in the \
                     management account {})",
                    organization.management
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn cross_account_backup(facts: &PathFacts) -> PathVerdict {
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
    // "Cross-Region copy to or from a logically air-gapped vault" (docs/aws-facts.md#resource-types).
    let air_gapped = |vault: &Fact<Option<VaultFacts>>| {
        matches!(vault, Fact::Known(Some(VaultFacts { vault_type: Some(VaultType::LogicallyAirGapped), .. })))
    };
    let types = || vec![ResourceType::Aurora, ResourceType::DocumentDb, ResourceType::Neptune];
    if air_gapped(&facts.destination_vault) {
        return (types(), "cross-Region to a logically air-gapped vault");
    }
    if air_gapped(&facts.source_vault) {
        return (types(), "cross-Region out of a logically air-gapped vault");
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

/// Resource types AWS Backup fully manages, as presumed (docs/aws-facts.md#logically-air-gapped-vaults):
/// their backups take the vault's key, and their cross-account copies may use an AWS managed key.
const FULLY_MANAGED: [ResourceType; 5] = [
    ResourceType::Efs,
    ResourceType::S3,
    ResourceType::DynamoDb,
    ResourceType::VirtualMachine,
    ResourceType::Timestream,
];

/// The vaults' keys must be usable, and across accounts the source vault's a customer managed key
/// that its key policy shares with the destination account (docs/aws-facts.md#kms-keys).
fn kms_keys(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let path = &spec.path;
    let sides = [
        ("source", &path.source_vault, &facts.source_vault),
        ("destination", &path.destination_vault, &facts.destination_vault),
    ];
    let mut verdicts = Vec::new();
    for (side, arn, vault) in sides {
        match vault {
            Fact::Unknown { why, run_in } => {
                verdicts.push(PathVerdict::cannot_tell(format!("the {side} vault's key: {why}"), run_in.clone()))
            }
            Fact::Known(None) => {
                verdicts.push(PathVerdict::cannot_tell(format!("there is no {side} vault {arn} to read its key"), None))
            }
            // No key reported (an AWS owned key): nothing to check.
            Fact::Known(Some(VaultFacts { encryption_key: None, .. })) => {}
            Fact::Known(Some(VaultFacts { encryption_key: Some(key), .. })) => {
                verdicts.push(key_usable(spec, side, key, facts.keys.get(key)))
            }
        }
    }
    if path.is_cross_account() {
        verdicts.push(source_key_shared(spec, facts));
    }
    PathVerdict::worst(&verdicts)
}

fn key_account(key: &KmsKeyArn) -> Option<AccountId> {
    AccountId::parse(key.account()).ok()
}

/// The commands that run against the key, in its account and region.
fn kms_command(command: &str, key: &KmsKeyArn) -> String {
    format!("aws kms {command} --key-id {key} --region {}", key.region())
}

/// DescribeKey: the key exists and is `Enabled` ("KMS key is either disabled or pending deletion
/// or access to KMS key is denied", "Given key ID does not exist": docs/aws-facts.md#kms-keys).
fn key_usable(spec: &PathSpec, side: &str, key: &KmsKeyArn, described: Option<&Fact<Option<KeyFacts>>>) -> PathVerdict {
    let Some(described) = described else {
        return PathVerdict::cannot_tell(format!("DescribeKey of {key} was not read"), key_account(key));
    };
    let facts = match described {
        Fact::Unknown { why, run_in } => {
            return PathVerdict::cannot_tell(
                format!("DescribeKey of the {side} vault's key {key}: {why}"),
                run_in.clone(),
            )
        }
        Fact::Known(None) => {
            return PathVerdict::Broken {
                cause: PathCauseKind::KmsKey,
                found: format!("DescribeKey: the {side} vault's key {key} does not exist"),
                fix: format!(
                    "A vault's key cannot be changed: create a vault encrypted with an enabled key (aws backup \
                     create-backup-vault --encryption-key-arn KEY) and point the {} at it",
                    spec.origin
                ),
            }
        }
        Fact::Known(Some(facts)) => facts,
    };
    let account = key.account();
    let found = format!("DescribeKey: the {side} vault's key {key} is {}", facts.state.as_str());
    let fix = match &facts.state {
        KeyState::Enabled => return PathVerdict::Ok,
        KeyState::Creating | KeyState::Updating => {
            return PathVerdict::cannot_tell(format!("{found}: check again when it is Enabled"), key_account(key))
        }
        KeyState::Disabled => format!("{} (in account {account})", kms_command("enable-key", key)),
        // "a key whose deletion is cancelled is Disabled" (docs/aws-facts.md#kms-keys): enable it too.
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => format!(
            "{}, then {} (in account {account})",
            kms_command("cancel-key-deletion", key),
            kms_command("enable-key", key)
        ),
        KeyState::PendingImport => {
            format!("Import the key's material ({}) in account {account}", kms_command("import-key-material", key))
        }
        KeyState::Unavailable | KeyState::Other(_) => {
            format!("Make the key Enabled again (its custom key store connected) in account {account}")
        }
    };
    PathVerdict::Broken { cause: PathCauseKind::KmsKey, found, fix }
}

/// Across accounts: not an AWS managed source key (unless every type copied is fully managed by
/// AWS Backup), and a key policy that lets the destination account use the key.
fn source_key_shared(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let path = &spec.path;
    // What the vault or the key itself could not tell is said by key_usable already.
    let Fact::Known(Some(VaultFacts { encryption_key: Some(key), .. })) = &facts.source_vault else {
        return PathVerdict::Ok;
    };
    let Some(Fact::Known(Some(described))) = facts.keys.get(key) else { return PathVerdict::Ok };
    let Some(destination) = account_of(&path.destination_vault) else {
        return PathVerdict::cannot_tell("the destination vault's ARN names no account", None);
    };
    if described.manager == KeyManager::Aws {
        let managed = |kind: &ResourceType| FULLY_MANAGED.contains(kind);
        let found = format!(
            "the source vault {} is encrypted with the AWS managed key {key}, which cannot be shared with account \
             {destination}",
            path.source_vault
        );
        let fix = format!(
            "Copy from a vault encrypted with a customer managed key whose policy lets account {destination} use it \
             (a vault's key cannot be changed: create one with aws backup create-backup-vault --encryption-key-arn \
             KEY, and back up to it)"
        );
        return match &spec.resource_types {
            ResourceTypes::Only(types) if types.iter().all(managed) => PathVerdict::Ok,
            ResourceTypes::Only(_) => PathVerdict::Broken { cause: PathCauseKind::ManagedKey, found, fix },
            ResourceTypes::Any => PathVerdict::cannot_tell(
                format!(
                    "{found}: copies of types AWS Backup does not fully manage (all but EFS, S3, DynamoDB, \
                     VirtualMachine, Timestream) fail; name the {}'s resourceTypes, or {}",
                    spec.origin,
                    fix.to_lowercase()
                ),
                None,
            ),
        };
    }
    let policy = match facts.key_policies.get(key) {
        None => return PathVerdict::cannot_tell(format!("GetKeyPolicy of {key} was not read"), key_account(key)),
        Some(Fact::Unknown { why, run_in }) => {
            return PathVerdict::cannot_tell(format!("the policy of the source key {key}: {why}"), run_in.clone())
        }
        Some(Fact::Known(policy)) => policy,
    };
    let share = share_key_statement(&destination).to_string();
    let mut undecided = None;
    for action in KMS_SHARED_ACTIONS {
        let request =
            PolicyRequest { action, account: &destination, role: None, resource: key.as_str(), organization: None };
        match evaluate(policy, &request) {
            Err(err) => return PathVerdict::cannot_tell(format!("the policy of the source key {key}: {err}"), None),
            Ok(PolicyDecision::Allowed) => {}
            Ok(PolicyDecision::ExplicitDeny { statement }) => {
                return PathVerdict::Broken {
                    cause: PathCauseKind::KmsKey,
                    found: format!(
                        "the policy of the source key {key} denies {action} to account {destination}: {statement}"
                    ),
                    fix: format!("Remove or narrow the statement {statement}, and keep {share}"),
                }
            }
            // KMS allows by key policy or by grant: a grant to the destination account is enough.
            Ok(PolicyDecision::ImplicitDeny) => match facts.key_grants.get(key) {
                Some(Fact::Known(grants)) if grants.iter().any(|grant| grant.gives(action, &destination)) => {}
                Some(Fact::Unknown { why, .. }) => {
                    undecided.get_or_insert(format!("the key policy does not allow {action}, and ListGrants: {why}"));
                }
                None => {
                    undecided
                        .get_or_insert(format!("the key policy does not allow {action}; its grants were not read"));
                }
                Some(Fact::Known(_)) => {
                    return PathVerdict::Broken {
                        cause: PathCauseKind::KmsKey,
                        found: format!(
                            "GetKeyPolicy: the policy of the source key {key} does not allow {action} for account \
                         {destination}, and no grant does (ListGrants)"
                        ),
                        fix: share,
                    }
                }
            },
            Ok(PolicyDecision::Undecided { why }) => {
                undecided.get_or_insert(why);
            }
        }
    }
    match undecided {
        Some(why) => PathVerdict::cannot_tell(format!("the policy of the source key {key}: {why}"), None),
        None => PathVerdict::Ok,
    }
}

/// The role may copy into the destination vault, as IAM's policy simulator says
/// (docs/aws-facts.md#the-role).
fn role(spec: &PathSpec, facts: &PathFacts) -> PathVerdict {
    let path = &spec.path;
    let Some(role) = &path.role else {
        return PathVerdict::cannot_tell(
            match &spec.origin {
                PathOrigin::Route => "the role routed copies pass is not known: give it with --role (COPY_ROLE_ARN)",
                PathOrigin::PlanRule { .. } => {
                    "the plan has no backup selection (ListBackupSelections) to name its role"
                }
                PathOrigin::CommandLine => "the path names no role: give it as the third value of --path",
                PathOrigin::Incident | PathOrigin::CopyJobs => "the copy jobs on the path did not name their role",
            },
            account_of(&path.source_vault),
        );
    };
    let simulations = match &facts.role {
        Fact::Unknown { why, run_in } => return PathVerdict::cannot_tell(why.clone(), run_in.clone()),
        Fact::Known(RoleFacts::Missing) => {
            return PathVerdict::Broken {
                cause: PathCauseKind::Access,
                found: format!("SimulatePrincipalPolicy: the role {role} does not exist (NoSuchEntity)"),
                fix: format!(
                    "Create the role (trusting backup.amazonaws.com, with AWSBackupServiceRolePolicyForBackup) or \
                     point the {} at an existing one",
                    spec.origin
                ),
            }
        }
        Fact::Known(RoleFacts::Simulated(simulations)) => simulations,
    };
    if simulations.is_empty() {
        return PathVerdict::cannot_tell(
            "SimulatePrincipalPolicy returned no evaluation",
            AccountId::parse(role.account()).ok(),
        );
    }
    let described = |simulation: &Simulation| {
        let matched = if simulation.matched.is_empty() {
            String::new()
        } else {
            format!(" (statements of {})", simulation.matched.join(", "))
        };
        format!(
            "SimulatePrincipalPolicy: {} on {} is {} for the role {role}{matched}",
            simulation.action,
            simulation.resource,
            simulation.decision.as_str()
        )
    };
    let allow = role_statement(simulations);
    if let Some(denied) = simulations.iter().find(|s| s.decision == SimulatedDecision::ExplicitDeny) {
        return PathVerdict::Broken {
            cause: PathCauseKind::Access,
            found: described(denied),
            fix: format!(
                "Remove or narrow the Deny in {} and make sure the role allows {allow}",
                if denied.matched.is_empty() { "the role's policies".to_owned() } else { denied.matched.join(", ") }
            ),
        };
    }
    if let Some(denied) = simulations.iter().find(|s| s.decision == SimulatedDecision::ImplicitDeny) {
        if !denied.missing_context.is_empty() {
            return PathVerdict::cannot_tell(
                format!(
                    "{}, but the simulation had no value for {}: a condition on them may allow it",
                    described(denied),
                    denied.missing_context.join(", ")
                ),
                AccountId::parse(role.account()).ok(),
            );
        }
        return PathVerdict::Broken { cause: PathCauseKind::Access, found: described(denied), fix: allow };
    }
    PathVerdict::Ok
}

/// The identity policy statement that lets the role do what the simulation denied (KC
/// *backup-resolve-access-denied-error*: the role's identity-based policy needs
/// `backup:CopyIntoBackupVault`), as JSON.
fn role_statement(simulations: &[Simulation]) -> String {
    let denied: Vec<&Simulation> = simulations.iter().filter(|s| s.decision != SimulatedDecision::Allowed).collect();
    let mut actions: Vec<&str> = denied.iter().map(|s| s.action.as_str()).collect();
    actions.dedup();
    let mut resources: Vec<&str> = denied.iter().map(|s| s.resource.as_str()).collect();
    resources.dedup();
    let one_or_many = |values: Vec<&str>| match values.as_slice() {
        [one] => json!(one),
        _ => json!(values),
    };
    json!({
        "Sid": "AllowCopyIntoBackupVault",
        "Effect": "Allow",
        "Action": one_or_many(actions),
        "Resource": one_or_many(resources),
    })
    .to_string()
}

/// The checks that, all `ok` on a path, say its incident of `kind` is gone; none for the kinds
/// the check does not read: a role the caller may not pass (`iam:PassRole` is the starter's, not
/// the path's), resource types (a copy of the incident's type heals it), congestion.
pub fn checks_clearing(kind: PathCauseKind) -> &'static [CheckName] {
    match kind {
        PathCauseKind::MissingVault => &[CheckName::DestinationVault],
        PathCauseKind::VaultAccessPolicy => &[CheckName::DestinationVault, CheckName::VaultAccessPolicy],
        PathCauseKind::Retention => &[CheckName::VaultLock],
        PathCauseKind::Organization => &[CheckName::Organization],
        PathCauseKind::KmsKey | PathCauseKind::ManagedKey => &[CheckName::KmsKeys],
        // AWS's "access denied" may be either side's: the vault's policy and the role's.
        PathCauseKind::Access => &[CheckName::VaultAccessPolicy, CheckName::Role],
        PathCauseKind::PassRole | PathCauseKind::Unsupported | PathCauseKind::Congestion => &[],
    }
}

/// What the path check's reports mean for the paths' incidents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckedIncidents {
    /// Each (path, kind of cause) found broken, once: its incident opens before any copy fails.
    /// Only paths whose role is known: every copy job names its role, and an incident is a path's
    /// with its role, so a finding without one would be an incident no failure ever joins.
    pub broken: Vec<PathFailure>,
    /// Open incidents whose cause the check found gone: every check that clears their kind is `ok`
    /// on a report of their path, and none of the path's reports finds that kind broken.
    pub gone: Vec<IncidentId>,
}

pub fn checked_incidents(reports: &[PathReport], open: &[Incident]) -> CheckedIncidents {
    let mut broken: Vec<PathFailure> = Vec::new();
    let mut broken_keys = HashSet::new();
    for report in reports {
        for check in &report.checks {
            let PathVerdict::Broken { cause, found, fix } = &check.verdict else { continue };
            let path = &report.spec.path;
            broken_keys.insert(IncidentKey { path: path.key(), cause: *cause });
            if path.role.is_some() && !broken.iter().any(|known| known.path == *path && known.kind == *cause) {
                broken.push(PathFailure::found_by_check(path.clone(), *cause, found, fix));
            }
        }
    }
    let gone = open
        .iter()
        .filter(|incident| incident.is_open() && !broken_keys.contains(&incident.id.key))
        .filter(|incident| {
            let clearing = checks_clearing(incident.id.key.cause);
            !clearing.is_empty()
                && reports.iter().filter(|report| report.spec.path.key() == incident.id.key.path).any(|report| {
                    clearing.iter().all(|name| {
                        report.checks.iter().any(|check| check.check == *name && check.verdict == PathVerdict::Ok)
                    })
                })
        })
        .map(|incident| incident.id.clone())
        .collect();
    CheckedIncidents { broken, gone }
}
