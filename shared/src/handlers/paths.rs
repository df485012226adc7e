//! The path check (`vaultwatch paths`): every copy path the account configures — its copy routes,
//! its backup plans' CopyActions, and paths named on the command line — checked before any copy
//! fails. Reads only what the account it runs in may read; what another account must tell is
//! `cannot tell`, with the account to run in (docs/aws-facts.md#copy-paths).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::domain::{
    check_path, AccountId, BackupVaultArn, CopyPath, CopyRetention, Fact, IamRoleArn, PathFacts, PathOrigin,
    PathReport, PathSpec, PathVerdict, ResourceTypes, RouteTable, VaultFacts,
};
use crate::ports::{AwsError, PathFactsApi};

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

/// Facts read once per run: a destination vault (and its policy) is read once for every path to it.
#[derive(Default)]
struct Cache {
    vaults: HashMap<BackupVaultArn, (Fact<Option<VaultFacts>>, Fact<Option<String>>)>,
    cross_account_backup: Option<Fact<bool>>,
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
                specs.push(PathSpec {
                    path: CopyPath {
                        source_vault: vault_in(&query.region, action.source_vault.as_str()),
                        destination_vault: action.destination,
                        // A plan's copies pass its backup selection's role, not read here.
                        role: None,
                    },
                    origin: PathOrigin::PlanRule { plan: action.plan, rule: action.rule },
                    retention: CopyRetention::of_plan_copy(action.lifecycle.as_ref(), action.rule_lifecycle.as_ref()),
                    resource_types: ResourceTypes::Any,
                });
            }
        }
        specs.extend(query.extra.iter().cloned());
        let mut seen = HashSet::new();
        specs.retain(|spec| seen.insert(spec.clone()));
        Ok(specs)
    }

    async fn facts_of(&self, spec: &PathSpec, account: &AccountId, cache: &mut Cache) -> Result<PathFacts, AwsError> {
        let destination = &spec.path.destination_vault;
        if !cache.vaults.contains_key(destination) {
            let read = self.destination(destination, account).await?;
            cache.vaults.insert(destination.clone(), read);
        }
        let (destination_vault, access_policy) = cache.vaults[destination].clone();
        let cross_account_backup = if spec.path.is_cross_account() {
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
        Ok(PathFacts { destination_vault, access_policy, cross_account_backup, source_organization: None })
    }

    /// The destination vault and its access policy, read when the vault is the caller's.
    async fn destination(
        &self,
        vault: &BackupVaultArn,
        account: &AccountId,
    ) -> Result<(Fact<Option<VaultFacts>>, Fact<Option<String>>), AwsError> {
        let owner = AccountId::parse(vault.account()).ok();
        if vault.account() != account.as_str() {
            let why =
                format!("vault {vault} is in account {}, and this check runs in account {account}", vault.account());
            let policy = Fact::Unknown { why: why.clone(), run_in: owner.clone() };
            return Ok((Fact::Unknown { why, run_in: owner }, policy));
        }
        let described = match readable(self.facts.describe_backup_vault(vault).await, &owner)? {
            Fact::Known(None) => return Ok((Fact::Known(None), Fact::Known(None))),
            described => described,
        };
        let policy = readable(self.facts.get_backup_vault_access_policy(vault).await, &owner)?;
        Ok((described, policy))
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

/// A read's answer as a fact: a refusal (access denied, a request AWS will not answer here) is not
/// knowing; what may pass is an error.
fn readable<T>(result: Result<T, AwsError>, owner: &Option<AccountId>) -> Result<Fact<T>, AwsError> {
    match result {
        Ok(value) => Ok(Fact::Known(value)),
        Err(err) if err.is_transient() => Err(err),
        Err(err) => Ok(Fact::Unknown { why: err.to_string(), run_in: owner.clone() }),
    }
}
