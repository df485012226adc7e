//! The path check (`vaultwatch paths`): every copy path the account configures — its copy routes,
//! its backup plans' CopyActions, and paths named on the command line — checked before any copy
//! fails. Reads only what the account it runs in may read; what another account must tell is
//! `cannot tell`, with the account to run in (docs/aws-facts.md#copy-paths).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::domain::{
    check_path, AccountId, BackupVaultArn, CopyPath, CopyRetention, Fact, IamRoleArn, Incident, KeyFacts, KeyGrant,
    KeyManager, KmsKeyArn, OrganizationFacts, OrganizationView, PathFacts, PathHealth, PathKey, PathOrigin, PathReport,
    PathSpec, PathVerdict, ResourceTypes, RoleFacts, RouteTable, VaultFacts, COPY_INTO_BACKUP_VAULT,
};
use crate::ports::{AwsError, PathFactsApi, RoleSimulationRequest, TrackingStore};

/// Which paths to check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathsQuery {
    /// The region the routes' source vaults and the plans are in (the stack's).
    pub region: String,
    /// The copy routes (their source vaults are the caller's, in `region`).
    pub routes: RouteTable,
    /// The role routed copies pass (COPY_ROLE_ARN).
    pub route_role: Option<IamRoleArn>,
    /// Read the caller's backup plans in `region`.
    pub plans: bool,
    /// Paths named on the command line.
    pub extra: Vec<PathSpec>,
}

/// Every path's report, and how many came to each verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathsReport {
    /// The account the check ran in.
    pub account: AccountId,
    pub paths: Vec<PathReport>,
    pub summary: PathsSummary,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathsSummary {
    pub ok: usize,
    pub broken: usize,
    pub cannot_tell: usize,
}

impl PathsSummary {
    fn of(paths: &[PathReport]) -> Self {
        paths.iter().fold(Self::default(), |mut summary, report| {
            match report.verdict {
                PathVerdict::Ok => summary.ok += 1,
                PathVerdict::Broken { .. } => summary.broken += 1,
                PathVerdict::CannotTell { .. } => summary.cannot_tell += 1,
            }
            summary
        })
    }
}

pub struct PathChecker<F> {
    pub facts: F,
}

/// Facts read once per run: a vault (and its policy), a key (and its policy), a role's simulation
/// and the organization are read once for every path that needs them.
#[derive(Default)]
struct Cache {
    vaults: HashMap<BackupVaultArn, Fact<Option<VaultFacts>>>,
    policies: HashMap<BackupVaultArn, Fact<Option<String>>>,
    cross_account_backup: Option<Fact<bool>>,
    keys: HashMap<KmsKeyArn, Fact<Option<KeyFacts>>>,
    key_policies: HashMap<KmsKeyArn, Fact<String>>,
    key_grants: HashMap<KmsKeyArn, Fact<Vec<KeyGrant>>>,
    simulations: HashMap<RoleSimulationRequest, Fact<RoleFacts>>,
    organization: Option<OrganizationView>,
}

impl<F: PathFactsApi> PathChecker<F> {
    /// Checks every path of the query. Errors only for what may pass (throttling, a timeout): a
    /// refusal to read becomes `cannot tell`.
    pub async fn check_all(&self, query: &PathsQuery) -> Result<PathsReport, AwsError> {
        let account = self.facts.caller_account().await?;
        let specs = self.specs(query, &account).await?;
        let mut cache = Cache::default();
        let mut paths = Vec::with_capacity(specs.len());
        for spec in &specs {
            let facts = self.facts_of(spec, &account, &mut cache).await?;
            paths.push(check_path(spec, &facts));
        }
        let summary = PathsSummary::of(&paths);
        Ok(PathsReport { account, paths, summary })
    }

    /// The paths to check, each once, in the order: routes, plans, command line.
    async fn specs(&self, query: &PathsQuery, account: &AccountId) -> Result<Vec<PathSpec>, AwsError> {
        let vault_in = |region: &str, name: &str| {
            BackupVaultArn::parse(&format!("arn:aws:backup:{region}:{account}:backup-vault:{name}"))
                .expect("a vault name and an account make a vault ARN")
        };
        let mut specs: Vec<PathSpec> = query
            .routes
            .iter()
            .map(|route| PathSpec {
                path: CopyPath {
                    source_vault: vault_in(&query.region, route.source_vault.as_str()),
                    destination_vault: route.destination_vault.clone(),
                    role: query.route_role.clone(),
                },
                origin: PathOrigin::Route,
                retention: CopyRetention::of_route(route.lifecycle.as_ref()),
                resource_types: if route.resource_types.is_empty() {
                    ResourceTypes::Any
                } else {
                    ResourceTypes::Only(route.resource_types.clone())
                },
            })
            .collect();
        if query.plans {
            for action in self.facts.list_plan_copy_actions(&query.region).await? {
                // One path per role of the plan's selections (none known: one without a role).
                let roles: Vec<Option<IamRoleArn>> = match action.roles.is_empty() {
                    true => vec![None],
                    false => action.roles.iter().cloned().map(Some).collect(),
                };
                for role in roles {
                    specs.push(PathSpec {
                        path: CopyPath {
                            source_vault: vault_in(&query.region, action.source_vault.as_str()),
                            destination_vault: action.destination.clone(),
                            role,
                        },
                        origin: PathOrigin::PlanRule { plan: action.plan.clone(), rule: action.rule.clone() },
                        retention: CopyRetention::of_plan_copy(
                            action.lifecycle.as_ref(),
                            action.rule_lifecycle.as_ref(),
                        ),
                        resource_types: ResourceTypes::Any,
                    });
                }
            }
        }
        // An open incident's path is checked as configured, when it is.
        let configured: HashSet<CopyPath> = specs.iter().map(|spec| spec.path.clone()).collect();
        specs.extend(
            query
                .extra
                .iter()
                .filter(|spec| {
                    !matches!(spec.origin, PathOrigin::Incident | PathOrigin::CopyJobs)
                        || !configured.contains(&spec.path)
                })
                .cloned(),
        );
        let mut seen = HashSet::new();
        specs.retain(|spec| seen.insert(spec.clone()));
        Ok(specs)
    }

    async fn facts_of(&self, spec: &PathSpec, account: &AccountId, cache: &mut Cache) -> Result<PathFacts, AwsError> {
        let path = &spec.path;
        let source_vault = self.read_vault(&path.source_vault, account, cache).await?;
        let destination_vault = self.read_vault(&path.destination_vault, account, cache).await?;
        let access_policy = match &destination_vault {
            Fact::Known(Some(_)) => self.read_access_policy(&path.destination_vault, cache).await?,
            Fact::Known(None) => Fact::Known(None),
            Fact::Unknown { why, run_in } => Fact::Unknown { why: why.clone(), run_in: run_in.clone() },
        };
        let cross_account_backup = if path.is_cross_account() {
            match &cache.cross_account_backup {
                Some(fact) => fact.clone(),
                None => {
                    let fact = self.cross_account_backup().await?;
                    cache.cross_account_backup = Some(fact.clone());
                    fact
                }
            }
        } else {
            Fact::Unknown { why: "not read for a path within one account".into(), run_in: None }
        };
        let organization = match &cache.organization {
            Some(view) => view.clone(),
            None => {
                let view = self.read_organization(account).await?;
                cache.organization = Some(view.clone());
                view
            }
        };
        // The vaults' keys; across accounts the source key's policy too.
        let mut keys = HashMap::new();
        let mut key_policies = HashMap::new();
        let mut key_grants = HashMap::new();
        for vault in [&source_vault, &destination_vault] {
            if let Fact::Known(Some(VaultFacts { encryption_key: Some(key), .. })) = vault {
                keys.insert(key.clone(), self.read_key(key, account, cache).await?);
            }
        }
        if let (true, Fact::Known(Some(VaultFacts { encryption_key: Some(key), .. }))) =
            (path.is_cross_account(), &source_vault)
        {
            // GetKeyPolicy: "Cross-account use: No" (KMS API model): another account's key cannot tell.
            if key.account() != account.as_str() {
                let why = format!("GetKeyPolicy answers only in the key's account {}", key.account());
                key_policies.insert(key.clone(), Fact::Unknown { why, run_in: AccountId::parse(key.account()).ok() });
            } else if matches!(keys.get(key), Some(Fact::Known(Some(_)))) {
                key_policies.insert(key.clone(), self.read_key_policy(key, cache).await?);
                // Grants only share a customer managed key (an AWS managed one cannot be shared).
                if matches!(keys.get(key), Some(Fact::Known(Some(KeyFacts { manager: KeyManager::Customer, .. })))) {
                    key_grants.insert(key.clone(), self.read_grants(key, cache).await?);
                }
            }
        }
        let role = self.simulate_path_role(path, account, &access_policy, cache).await?;
        Ok(PathFacts {
            caller: account.clone(),
            source_vault,
            destination_vault,
            access_policy,
            cross_account_backup,
            organization,
            keys,
            key_policies,
            key_grants,
            role,
        })
    }

    /// A vault, read when it is the caller's.
    async fn read_vault(
        &self,
        vault: &BackupVaultArn,
        account: &AccountId,
        cache: &mut Cache,
    ) -> Result<Fact<Option<VaultFacts>>, AwsError> {
        if let Some(fact) = cache.vaults.get(vault) {
            return Ok(fact.clone());
        }
        let owner = AccountId::parse(vault.account()).ok();
        let fact = if vault.account() != account.as_str() {
            let why =
                format!("vault {vault} is in account {}, and this check runs in account {account}", vault.account());
            Fact::Unknown { why, run_in: owner }
        } else {
            readable(self.facts.describe_backup_vault(vault).await, &owner)?
        };
        cache.vaults.insert(vault.clone(), fact.clone());
        Ok(fact)
    }

    /// The access policy of a vault the caller could describe.
    async fn read_access_policy(
        &self,
        vault: &BackupVaultArn,
        cache: &mut Cache,
    ) -> Result<Fact<Option<String>>, AwsError> {
        if let Some(fact) = cache.policies.get(vault) {
            return Ok(fact.clone());
        }
        let owner = AccountId::parse(vault.account()).ok();
        let fact = readable(self.facts.get_backup_vault_access_policy(vault).await, &owner)?;
        cache.policies.insert(vault.clone(), fact.clone());
        Ok(fact)
    }

    /// DescribeKey of a vault's key. A key of another account is asked about too (its policy may
    /// let the caller describe it); a refusal is not knowing, and "it does not exist" from another
    /// account may be one (KMS does not tell the two apart there), so it is not knowing either.
    async fn read_key(
        &self,
        key: &KmsKeyArn,
        account: &AccountId,
        cache: &mut Cache,
    ) -> Result<Fact<Option<KeyFacts>>, AwsError> {
        if let Some(fact) = cache.keys.get(key) {
            return Ok(fact.clone());
        }
        let owner = AccountId::parse(key.account()).ok();
        let fact = match readable(self.facts.describe_key(key).await, &owner)? {
            Fact::Known(None) if key.account() != account.as_str() => Fact::Unknown {
                why: format!("DescribeKey from account {account} does not find {key}: run the check in its account"),
                run_in: owner,
            },
            fact => fact,
        };
        cache.keys.insert(key.clone(), fact.clone());
        Ok(fact)
    }

    async fn read_grants(&self, key: &KmsKeyArn, cache: &mut Cache) -> Result<Fact<Vec<KeyGrant>>, AwsError> {
        if let Some(fact) = cache.key_grants.get(key) {
            return Ok(fact.clone());
        }
        let owner = AccountId::parse(key.account()).ok();
        let fact = readable(self.facts.list_grants(key).await, &owner)?;
        cache.key_grants.insert(key.clone(), fact.clone());
        Ok(fact)
    }

    async fn read_key_policy(&self, key: &KmsKeyArn, cache: &mut Cache) -> Result<Fact<String>, AwsError> {
        if let Some(fact) = cache.key_policies.get(key) {
            return Ok(fact.clone());
        }
        let owner = AccountId::parse(key.account()).ok();
        let fact = readable(self.facts.get_key_policy(key).await, &owner)?;
        cache.key_policies.insert(key.clone(), fact.clone());
        Ok(fact)
    }

    /// The path's role, simulated for `backup:CopyIntoBackupVault` on the destination vault with the
    /// vault's access policy when it was read (docs/aws-facts.md#the-role). IAM simulates only the
    /// caller's own roles.
    async fn simulate_path_role(
        &self,
        path: &CopyPath,
        account: &AccountId,
        access_policy: &Fact<Option<String>>,
        cache: &mut Cache,
    ) -> Result<Fact<RoleFacts>, AwsError> {
        let Some(role) = &path.role else {
            return Ok(Fact::Unknown { why: "the path names no role".into(), run_in: None });
        };
        let owner = AccountId::parse(role.account()).ok();
        if role.account() != account.as_str() {
            return Ok(Fact::Unknown {
                why: format!(
                    "role {role} is in account {}, and IAM simulates only this account's ({account}) roles: aws iam \
                     simulate-principal-policy --policy-source-arn {role} --action-names {COPY_INTO_BACKUP_VAULT} \
                     --resource-arns {} must say allowed",
                    role.account(),
                    path.destination_vault
                ),
                run_in: owner,
            });
        }
        let request = RoleSimulationRequest {
            role: role.clone(),
            actions: vec![COPY_INTO_BACKUP_VAULT.to_owned()],
            resource: path.destination_vault.to_string(),
            resource_policy: match access_policy {
                Fact::Known(policy) => policy.clone(),
                Fact::Unknown { .. } => None,
            },
        };
        if let Some(fact) = cache.simulations.get(&request) {
            return Ok(fact.clone());
        }
        let fact = match readable(self.facts.simulate_role(&request).await, &owner)? {
            Fact::Known(Some(simulations)) => Fact::Known(RoleFacts::Simulated(simulations)),
            Fact::Known(None) => Fact::Known(RoleFacts::Missing),
            Fact::Unknown { why, run_in } => Fact::Unknown { why: format!("SimulatePrincipalPolicy: {why}"), run_in },
        };
        cache.simulations.insert(request, fact.clone());
        Ok(fact)
    }

    /// DescribeOrganization, and from its management account ListAccounts.
    async fn read_organization(&self, account: &AccountId) -> Result<OrganizationView, AwsError> {
        let described: Fact<Option<OrganizationFacts>> = readable(self.facts.describe_organization().await, &None)?;
        let members = match &described {
            Fact::Known(Some(organization)) if organization.management == *account => {
                match readable(self.facts.list_organization_accounts().await, &Some(organization.management.clone()))? {
                    Fact::Known(members) => Fact::Known(members.into_iter().collect()),
                    Fact::Unknown { why, run_in } => Fact::Unknown { why: format!("ListAccounts: {why}"), run_in },
                }
            }
            Fact::Known(Some(organization)) => Fact::Unknown {
                why: format!(
                    "ListAccounts answers in the organization's management account {}, and this check runs in \
                     account {account}",
                    organization.management
                ),
                run_in: Some(organization.management.clone()),
            },
            Fact::Known(None) => Fact::Known(HashSet::new()),
            Fact::Unknown { why, run_in } => Fact::Unknown { why: why.clone(), run_in: run_in.clone() },
        };
        Ok(OrganizationView { described, members })
    }

    async fn cross_account_backup(&self) -> Result<Fact<bool>, AwsError> {
        let run_there = "run the check in the organization's management account";
        Ok(match self.facts.describe_global_settings().await {
            Ok(Some(enabled)) => Fact::Known(enabled),
            Ok(None) => Fact::Unknown {
                why: format!("DescribeGlobalSettings does not report isCrossAccountBackupEnabled: {run_there}"),
                run_in: None,
            },
            Err(err) if err.is_transient() => return Err(err),
            Err(err) => Fact::Unknown { why: format!("{err}: {run_there}"), run_in: None },
        })
    }
}

/// Adds each path's health from the tracking table: its record and its open incidents.
pub async fn add_health(report: &mut PathsReport, store: &impl TrackingStore) -> Result<(), AwsError> {
    let mut keys: Vec<PathKey> = report.paths.iter().map(|path| path.spec.path.key()).collect();
    keys.sort();
    keys.dedup();
    let records = store.path_records(&keys).await?;
    let mut health = HashMap::new();
    for key in keys {
        let open: Vec<Incident> = store.incidents_on(&key).await?.into_iter().filter(Incident::is_open).collect();
        health.insert(key.clone(), PathHealth::of(&records.get(&key).cloned().unwrap_or_default(), &open));
    }
    for path in &mut report.paths {
        path.health = health.get(&path.spec.path.key()).cloned();
    }
    Ok(())
}

/// A read's answer as a fact: a refusal (access denied, a request AWS will not answer here) is not
/// knowing; what may pass is an error.
fn readable<T>(result: Result<T, AwsError>, owner: &Option<AccountId>) -> Result<Fact<T>, AwsError> {
    match result {
        Ok(value) => Ok(Fact::Known(value)),
        Err(err) if err.is_transient() => Err(err),
        Err(err) => Ok(Fact::Unknown { why: err.to_string(), run_in: owner.clone() }),
    }
}
