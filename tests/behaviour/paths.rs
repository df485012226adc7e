//! The path check (`vaultwatch paths`): each check of a copy path says ok, broken (the cause, what
//! was found, the fix) or cannot tell from this account (why, and where to run it), from facts read
//! through the memory port; a path's verdict is its worst check's.

use serde_json::{json, Value};
use vaultwatch::domain::{
    evaluate_vault_policy, share_key_statement, AccountId, BackupVaultArn, CheckName, CopyPath, CopyRetention,
    IamRoleArn, KeyFacts, KeyManager, KeyState, KmsKeyArn, Lifecycle, OrganizationFacts, PathCauseKind, PathOrigin,
    PathReport, PathSpec, PathVerdict, PolicyDecision, PolicyRequest, ResourceType, ResourceTypes, RouteTable,
    SimulatedDecision, VaultFacts, VaultType, COPY_INTO_BACKUP_VAULT,
};
use vaultwatch::handlers::paths::{PathChecker, PathsQuery, PathsReport};
use vaultwatch::ports::memory::{backup_error, transient_error, Call, MemoryPathFacts, CALLER_ACCOUNT};
use vaultwatch::ports::{ErrorClass, PlanCopyAction};

const DR_ACCOUNT: &str = "444455556666";
const SOURCE: &str = "arn:aws:backup:us-east-1:123456789012:backup-vault:primary";
const SAME_ACCOUNT: &str = "arn:aws:backup:us-west-2:123456789012:backup-vault:copy";
const DR: &str = "arn:aws:backup:us-west-2:444455556666:backup-vault:dr";
const ROLE: &str = "arn:aws:iam::123456789012:role/copier";
const SOURCE_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111";
const SAME_KEY: &str = "arn:aws:kms:us-west-2:123456789012:key/22222222-2222-2222-2222-222222222222";
const DR_KEY: &str = "arn:aws:kms:us-west-2:444455556666:key/33333333-3333-3333-3333-333333333333";
const ORG: &str = "o-abc123def4";

fn vault(arn: &str) -> BackupVaultArn {
    BackupVaultArn::parse(arn).unwrap()
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

pub(crate) fn vault_facts(arn: &str) -> VaultFacts {
    VaultFacts {
        arn: vault(arn),
        vault_type: Some(VaultType::Standard),
        locked: false,
        min_retention_days: None,
        max_retention_days: None,
        encryption_key: None,
    }
}

pub(crate) fn keyed(arn: &str, key: &str) -> VaultFacts {
    VaultFacts { encryption_key: Some(KmsKeyArn::parse(key).unwrap()), ..vault_facts(arn) }
}

fn key(arn: &str, state: KeyState, manager: KeyManager) -> KeyFacts {
    KeyFacts { arn: KmsKeyArn::parse(arn).unwrap(), state, manager }
}

/// A key policy of the key's own account alone (the default key policy's root statement).
fn own_key_policy(arn: &str) -> String {
    let account = arn.split(':').nth(4).unwrap();
    json!({ "Statement": [{ "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
        "Action": "kms:*", "Resource": "*" }] })
    .to_string()
}

fn role_arn() -> IamRoleArn {
    IamRoleArn::parse(ROLE).unwrap()
}

/// The organization `ORG` of `management` with `members`.
fn organization(facts: &MemoryPathFacts, management: &str, members: &[&str]) {
    let organization = OrganizationFacts { id: ORG.into(), management: account(management) };
    let members: Vec<AccountId> = members.iter().map(|id| account(id)).collect();
    facts.set_organization(organization, &members);
}

/// Every fact a healthy path from `SOURCE` to `SAME_ACCOUNT` reads: both vaults on enabled customer
/// managed keys, a role the simulator allows to copy into the vault.
fn healthy_same_account() -> MemoryPathFacts {
    let facts = MemoryPathFacts::new();
    facts.add_vault(keyed(SOURCE, SOURCE_KEY));
    facts.add_vault(keyed(SAME_ACCOUNT, SAME_KEY));
    for arn in [SOURCE_KEY, SAME_KEY] {
        facts.add_key(key(arn, KeyState::Enabled, KeyManager::Customer), &own_key_policy(arn));
    }
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    facts
}

fn locked(arn: &str, min: Option<i64>, max: Option<i64>) -> VaultFacts {
    VaultFacts { locked: true, min_retention_days: min, max_retention_days: max, ..vault_facts(arn) }
}

/// A path from `SOURCE` named on the command line.
fn spec(destination: &str, retention: CopyRetention, types: ResourceTypes) -> PathSpec {
    PathSpec {
        path: CopyPath {
            source_vault: vault(SOURCE),
            destination_vault: vault(destination),
            role: Some(IamRoleArn::parse(ROLE).unwrap()),
        },
        origin: PathOrigin::CommandLine,
        retention,
        resource_types: types,
    }
}

fn query(extra: Vec<PathSpec>) -> PathsQuery {
    PathsQuery { region: "us-east-1".into(), extra, ..PathsQuery::default() }
}

async fn report(facts: MemoryPathFacts, query: &PathsQuery) -> PathsReport {
    PathChecker { facts }.check_all(query).await.unwrap()
}

/// The one path's report.
async fn check(facts: MemoryPathFacts, path: PathSpec) -> PathReport {
    let mut report = report(facts, &query(vec![path])).await;
    assert_eq!(report.paths.len(), 1);
    report.paths.remove(0)
}

fn verdict(report: &PathReport, name: CheckName) -> &PathVerdict {
    &report.checks.iter().find(|check| check.check == name).unwrap().verdict
}

fn broken_by(verdict: &PathVerdict) -> Option<PathCauseKind> {
    match verdict {
        PathVerdict::Broken { cause, .. } => Some(*cause),
        _ => None,
    }
}

fn run_in(verdict: &PathVerdict) -> Option<&str> {
    match verdict {
        PathVerdict::CannotTell { run_in, .. } => run_in.as_ref().map(AccountId::as_str),
        _ => None,
    }
}

#[tokio::test]
async fn a_healthy_same_account_path_passes_every_check() {
    let report = check(healthy_same_account(), spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    for name in CheckName::ALL {
        assert_eq!(verdict(&report, name), &PathVerdict::Ok, "{name:?}");
    }
    assert_eq!(report.verdict, PathVerdict::Ok);
}

#[tokio::test]
async fn the_checks_that_decide_a_verdict_are_those_as_bad_as_it_and_none_decide_ok() {
    let deciding = |report: &PathReport| report.deciding().map(|check| check.check).collect::<Vec<_>>();
    let healthy = check(healthy_same_account(), spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    assert_eq!(deciding(&healthy), []);
    // Broken by the missing vault and the unknown role; the checks that need the vault cannot tell,
    // and do not decide.
    let missing = check(MemoryPathFacts::new(), spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    assert_eq!(deciding(&missing), [CheckName::DestinationVault, CheckName::Role]);
}

#[test]
fn the_command_names_each_check_as_the_json_report_does() {
    for name in CheckName::ALL {
        assert_eq!(json!(name), json!(name.as_str()), "{name:?}");
    }
}

#[tokio::test]
async fn a_missing_destination_vault_breaks_the_path_and_its_vault_checks_cannot_tell() {
    let report = check(MemoryPathFacts::new(), spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    assert_eq!(broken_by(verdict(&report, CheckName::DestinationVault)), Some(PathCauseKind::MissingVault));
    let PathVerdict::Broken { fix, .. } = &report.verdict else { panic!("{:?}", report.verdict) };
    assert!(fix.contains("create-backup-vault --backup-vault-name copy --region us-west-2"), "{fix}");
    assert!(matches!(verdict(&report, CheckName::VaultLock), PathVerdict::CannotTell { .. }));
}

#[tokio::test]
async fn from_the_source_account_the_destination_account_must_tell_about_its_vault() {
    let facts = MemoryPathFacts::new();
    facts.set_cross_account_backup(Some(true));
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    let report = check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Only(vec![ResourceType::Ebs]))).await;
    for name in [CheckName::DestinationVault, CheckName::VaultAccessPolicy, CheckName::VaultLock] {
        assert_eq!(run_in(verdict(&report, name)), Some(DR_ACCOUNT), "{name:?}");
    }
    assert_eq!(verdict(&report, CheckName::Organization), &PathVerdict::Ok);
    assert_eq!(verdict(&report, CheckName::ResourceTypes), &PathVerdict::Ok);
    assert_eq!(run_in(&report.verdict), Some(DR_ACCOUNT), "the first check that cannot tell");
}

/// A cross-account path checked from the destination account, its vault with `policy`.
async fn from_destination(policy: Option<Value>) -> PathReport {
    let facts = MemoryPathFacts::new();
    facts.set_caller_account(account(DR_ACCOUNT));
    facts.set_cross_account_backup(Some(true));
    facts.add_vault(vault_facts(DR));
    if let Some(policy) = policy {
        facts.set_access_policy(&vault(DR), &policy.to_string());
    }
    check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Any)).await
}

#[tokio::test]
async fn a_cross_account_destination_without_a_policy_is_broken_and_the_fix_is_the_statement_that_allows_it() {
    let report = from_destination(None).await;
    let PathVerdict::Broken { cause, found, fix } = verdict(&report, CheckName::VaultAccessPolicy) else {
        panic!("{report:?}")
    };
    assert_eq!(*cause, PathCauseKind::VaultAccessPolicy);
    assert!(found.contains("has no access policy"), "{found}");
    let statement: Value = serde_json::from_str(fix).expect("the fix is JSON");
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], COPY_INTO_BACKUP_VAULT);
    assert_eq!(statement["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
    // A policy of that statement lets the source account copy.
    let source = account(CALLER_ACCOUNT);
    let destination = vault(DR);
    let request = PolicyRequest {
        action: COPY_INTO_BACKUP_VAULT,
        account: &source,
        role: None,
        resource: destination.as_str(),
        organization: None,
    };
    let policy = json!({ "Version": "2012-10-17", "Statement": [statement.clone()] });
    assert_eq!(evaluate_vault_policy(&policy.to_string(), &request), Ok(PolicyDecision::Allowed));
    let fixed = from_destination(Some(policy)).await;
    assert_eq!(verdict(&fixed, CheckName::VaultAccessPolicy), &PathVerdict::Ok);
}

#[tokio::test]
async fn an_explicit_deny_of_copies_breaks_a_path_even_within_one_account() {
    let deny = json!({ "Sid": "NoCopies", "Effect": "Deny", "Principal": "*", "Action": "backup:CopyInto*" });
    let facts = MemoryPathFacts::new();
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    facts.set_access_policy(&vault(SAME_ACCOUNT), &json!({ "Statement": [deny] }).to_string());
    let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    let PathVerdict::Broken { found, fix, .. } = verdict(&report, CheckName::VaultAccessPolicy) else { panic!() };
    assert!(found.contains("\"NoCopies\"") && fix.starts_with("Remove or narrow"), "{found} / {fix}");
    // A policy of other actions only (the usual Deny of deletions) does not touch copies.
    let facts = MemoryPathFacts::new();
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    let deletions =
        json!({ "Statement": [{ "Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint" }] });
    facts.set_access_policy(&vault(SAME_ACCOUNT), &deletions.to_string());
    let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    assert_eq!(verdict(&report, CheckName::VaultAccessPolicy), &PathVerdict::Ok);
}

#[tokio::test]
async fn a_policy_that_admits_an_organization_cannot_tell_without_the_source_accounts_organization() {
    let by_org = json!({ "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": COPY_INTO_BACKUP_VAULT,
        "Condition": { "StringEquals": { "aws:PrincipalOrgID": "o-abc123def4" } }
    }]});
    let report = from_destination(Some(by_org)).await;
    let PathVerdict::CannotTell { why, run_in } = verdict(&report, CheckName::VaultAccessPolicy) else { panic!() };
    assert!(why.contains("o-abc123def4"), "{why}");
    assert_eq!(run_in.as_ref().map(AccountId::as_str), Some(CALLER_ACCOUNT));
}

#[tokio::test]
async fn the_copies_retention_must_fit_the_vault_lock() {
    async fn lock_verdict(min: Option<i64>, max: Option<i64>, retention: CopyRetention) -> PathVerdict {
        let facts = MemoryPathFacts::new();
        facts.add_vault(locked(SAME_ACCOUNT, min, max));
        let report = check(facts, spec(SAME_ACCOUNT, retention, ResourceTypes::Any)).await;
        verdict(&report, CheckName::VaultLock).clone()
    }
    let PathVerdict::Broken { cause, found, fix } = lock_verdict(Some(7), Some(30), CopyRetention::Days(35)).await
    else {
        panic!()
    };
    assert_eq!(cause, PathCauseKind::Retention);
    assert!(found.contains("kept 35 days") && found.contains("MaxRetentionDays 30"), "{found}");
    assert!(fix.contains("between 7 and 30 days"), "{fix}");
    assert_eq!(cause_of(lock_verdict(Some(7), Some(30), CopyRetention::Days(3)).await), Some(PathCauseKind::Retention));
    assert_eq!(cause_of(lock_verdict(None, Some(30), CopyRetention::Forever).await), Some(PathCauseKind::Retention));
    assert_eq!(lock_verdict(Some(7), Some(30), CopyRetention::Days(30)).await, PathVerdict::Ok);
    assert_eq!(lock_verdict(Some(7), None, CopyRetention::Forever).await, PathVerdict::Ok);
    // No DeleteAfterDays on the route: each copy keeps its source's retention, not known here.
    assert!(matches!(lock_verdict(Some(7), Some(30), CopyRetention::OfSource).await, PathVerdict::CannotTell { .. }));
    // An unlocked vault takes any retention.
    let facts = MemoryPathFacts::new();
    facts.add_vault(VaultFacts { locked: false, ..locked(SAME_ACCOUNT, Some(7), Some(30)) });
    let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Forever, ResourceTypes::Any)).await;
    assert_eq!(verdict(&report, CheckName::VaultLock), &PathVerdict::Ok);
}

fn cause_of(verdict: PathVerdict) -> Option<PathCauseKind> {
    broken_by(&verdict)
}

#[test]
fn a_copys_retention_is_its_own_else_its_sources() {
    let days = |days| Lifecycle { delete_after_days: Some(days), ..Lifecycle::default() };
    assert_eq!(CopyRetention::of_route(Some(&days(30))), CopyRetention::Days(30));
    assert_eq!(CopyRetention::of_route(None), CopyRetention::OfSource);
    assert_eq!(CopyRetention::of_route(Some(&days(-1))), CopyRetention::OfSource);
    // 0 is no documented retention (docs/aws-facts.md#vault-lock): read as none set, like -1.
    assert_eq!(CopyRetention::of_route(Some(&days(0))), CopyRetention::OfSource);
    assert_eq!(CopyRetention::of_route(Some(&days(1))), CopyRetention::Days(1));
    assert_eq!(CopyRetention::of_plan_copy(Some(&days(30)), Some(&days(7))), CopyRetention::Days(30));
    assert_eq!(CopyRetention::of_plan_copy(None, Some(&days(7))), CopyRetention::Days(7));
    assert_eq!(CopyRetention::of_plan_copy(Some(&days(-1)), None), CopyRetention::Forever);
}

#[test]
fn copies_seen_on_a_path_are_checked_for_their_types_and_an_unknown_type_leaves_any() {
    let path = spec(DR, CopyRetention::OfSource, ResourceTypes::Any).path;
    let types = |types: &[Option<ResourceType>]| PathSpec::of_copies(path.clone(), types).resource_types;
    let (ebs, rds) = (Some(ResourceType::Ebs), Some(ResourceType::Rds));
    assert_eq!(
        types(&[rds.clone(), ebs.clone(), rds.clone()]),
        ResourceTypes::Only(vec![ResourceType::Ebs, ResourceType::Rds])
    );
    assert_eq!(types(&[ebs, None]), ResourceTypes::Any);
    assert_eq!(types(&[]), ResourceTypes::Any);
}

#[test]
fn key_states_are_read_as_kms_spells_them() {
    for state in [KeyState::Enabled, KeyState::Disabled, KeyState::PendingDeletion, KeyState::Creating] {
        assert_eq!(KeyState::parse(state.as_str()), state);
    }
    assert_eq!(KeyState::parse("Enabled"), KeyState::Enabled);
    assert_eq!(KeyState::parse("PendingReplicaDeletion").as_str(), "PendingReplicaDeletion");
    assert_eq!(KeyState::parse("Frozen"), KeyState::Other("Frozen".into()));
    assert_eq!(KeyState::parse("Frozen").as_str(), "Frozen");
}

#[tokio::test]
async fn cross_account_backup_off_in_the_organization_breaks_cross_account_paths() {
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    facts.set_cross_account_backup(Some(false));
    let report = check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Any)).await;
    let PathVerdict::Broken { cause, fix, .. } = verdict(&report, CheckName::Organization) else { panic!() };
    assert_eq!(*cause, PathCauseKind::Organization);
    assert!(fix.contains("isCrossAccountBackupEnabled=true"), "{fix}");
    assert_eq!(broken_by(&report.verdict), Some(PathCauseKind::Organization), "broken beats cannot tell");
    // Not the management account (AWS refuses the read): cannot tell, run there.
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    facts.fail_next(
        Call::DescribeGlobalSettings,
        1,
        backup_error("DescribeGlobalSettings", ErrorClass::Permanent, "AccessDeniedException"),
    );
    let report = check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Any)).await;
    let PathVerdict::CannotTell { why, .. } = verdict(&report, CheckName::Organization) else { panic!() };
    assert!(why.contains("management account"), "{why}");
    // A throttled read is no answer: the check fails, to be run again.
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    facts.fail_next(
        Call::DescribeGlobalSettings,
        1,
        transient_error("backup", "DescribeGlobalSettings", "ThrottlingException"),
    );
    let checked =
        PathChecker { facts }.check_all(&query(vec![spec(DR, CopyRetention::Days(30), ResourceTypes::Any)])).await;
    assert!(checked.is_err_and(|err| err.is_transient()));
    // Within one account the setting is not asked for.
    let facts = MemoryPathFacts::new();
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    facts.set_cross_account_backup(Some(false));
    let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
    assert_eq!(verdict(&report, CheckName::Organization), &PathVerdict::Ok);
}

#[tokio::test]
async fn resource_types_aws_backup_does_not_copy_along_the_path_break_it() {
    async fn types_verdict(destination: &str, vault: VaultFacts, types: ResourceTypes) -> PathVerdict {
        let facts = MemoryPathFacts::new();
        facts.set_cross_account_backup(Some(true));
        facts.add_vault(vault);
        let report = check(facts, spec(destination, CopyRetention::Days(30), types)).await;
        verdict(&report, CheckName::ResourceTypes).clone()
    }
    let only = |types: &[ResourceType]| ResourceTypes::Only(types.to_vec());
    // Cross-Region and cross-account in one copy: not RDS (nor Aurora, DocumentDB, Neptune).
    let PathVerdict::Broken { cause, found, .. } =
        types_verdict(DR, vault_facts(DR), only(&[ResourceType::Ebs, ResourceType::Rds])).await
    else {
        panic!()
    };
    assert_eq!(cause, PathCauseKind::Unsupported);
    assert!(found.contains("RDS cross-Region and cross-account") && !found.contains("EBS"), "{found}");
    assert_eq!(types_verdict(DR, vault_facts(DR), only(&[ResourceType::Ebs])).await, PathVerdict::Ok);
    assert!(matches!(types_verdict(DR, vault_facts(DR), ResourceTypes::Any).await, PathVerdict::CannotTell { .. }));
    // Cross-Region into a logically air-gapped vault: not Aurora; RDS is fine.
    let air_gapped = VaultFacts { vault_type: Some(VaultType::LogicallyAirGapped), ..vault_facts(SAME_ACCOUNT) };
    let aurora = types_verdict(SAME_ACCOUNT, air_gapped.clone(), only(&[ResourceType::Aurora])).await;
    assert_eq!(broken_by(&aurora), Some(PathCauseKind::Unsupported));
    assert_eq!(types_verdict(SAME_ACCOUNT, air_gapped, only(&[ResourceType::Rds])).await, PathVerdict::Ok);
    assert_eq!(
        types_verdict(SAME_ACCOUNT, vault_facts(SAME_ACCOUNT), only(&[ResourceType::Aurora])).await,
        PathVerdict::Ok
    );
    // Cross-Region out of a logically air-gapped vault: not Neptune either ("to or from").
    let air_gapped_source = VaultFacts { vault_type: Some(VaultType::LogicallyAirGapped), ..vault_facts(SOURCE) };
    let facts = MemoryPathFacts::new();
    facts.add_vault(air_gapped_source);
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), only(&[ResourceType::Neptune]))).await;
    let PathVerdict::Broken { cause, found, .. } = verdict(&report, CheckName::ResourceTypes) else {
        panic!("{report:?}")
    };
    assert_eq!(*cause, PathCauseKind::Unsupported);
    assert!(found.contains("out of a logically air-gapped vault"), "{found}");
}

#[test]
fn the_worst_verdict_wins() {
    let broken = PathVerdict::Broken { cause: PathCauseKind::Retention, found: "f".into(), fix: "x".into() };
    let cannot = PathVerdict::CannotTell { why: "w".into(), run_in: None };
    assert_eq!(PathVerdict::worst([&PathVerdict::Ok, &cannot, &broken, &PathVerdict::Ok]), broken);
    assert_eq!(PathVerdict::worst([&PathVerdict::Ok, &cannot]), cannot);
    assert_eq!(PathVerdict::worst([&PathVerdict::Ok, &PathVerdict::Ok]), PathVerdict::Ok);
    assert_eq!(PathVerdict::worst([]), PathVerdict::Ok);
}

#[tokio::test]
async fn a_plans_copies_go_along_one_path_per_role_of_its_backup_selections() {
    let facts = MemoryPathFacts::new();
    let other = IamRoleArn::parse("arn:aws:iam::123456789012:role/databases").unwrap();
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    facts.add_role(&other, &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::ImplicitDeny)]);
    facts.add_plan_copy_action(
        "us-east-1",
        PlanCopyAction {
            plan: "nightly".into(),
            rule: "daily".into(),
            source_vault: vaultwatch::domain::VaultName::parse("primary").unwrap(),
            destination: vault(SAME_ACCOUNT),
            lifecycle: None,
            rule_lifecycle: None,
            roles: vec![role_arn(), other.clone()],
        },
    );
    let report = report(facts, &PathsQuery { plans: true, ..query(vec![]) }).await;
    let roles: Vec<Option<&IamRoleArn>> = report.paths.iter().map(|path| path.spec.path.role.as_ref()).collect();
    assert_eq!(roles, [Some(&role_arn()), Some(&other)]);
    let role_check =
        |n: usize| report.paths[n].checks.iter().find(|c| c.check == CheckName::Role).unwrap().verdict.name();
    assert_eq!((role_check(0), role_check(1)), ("ok", "broken"), "each role simulated for itself");
}

#[tokio::test]
async fn routes_and_plans_give_the_paths_each_once() {
    let facts = MemoryPathFacts::new();
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    let days = |days| Some(Lifecycle { delete_after_days: Some(days), ..Lifecycle::default() });
    let action = PlanCopyAction {
        plan: "nightly".into(),
        rule: "daily".into(),
        source_vault: vaultwatch::domain::VaultName::parse("primary").unwrap(),
        destination: vault(SAME_ACCOUNT),
        lifecycle: None,
        rule_lifecycle: days(14),
        roles: Vec::new(),
    };
    facts.add_plan_copy_action("us-east-1", action.clone());
    facts.add_plan_copy_action("eu-west-1", PlanCopyAction { plan: "elsewhere".into(), ..action });
    let routes = RouteTable::from_json(&format!(
        r#"[{{"sourceVault":"primary","destinationVaultArn":"{SAME_ACCOUNT}","lifecycle":{{"deleteAfterDays":30}},"resourceTypes":["EBS"]}}]"#
    ))
    .unwrap();
    let route_role = Some(IamRoleArn::parse(ROLE).unwrap());
    let twice = spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any);
    let query = PathsQuery { routes, route_role, plans: true, extra: vec![twice.clone(), twice], ..query(vec![]) };
    let report = report(facts, &query).await;
    let origins: Vec<&PathOrigin> = report.paths.iter().map(|path| &path.spec.origin).collect();
    assert_eq!(
        origins,
        [
            &PathOrigin::Route,
            &PathOrigin::PlanRule { plan: "nightly".into(), rule: "daily".into() },
            &PathOrigin::CommandLine
        ]
    );
    let route = &report.paths[0].spec;
    assert_eq!(route.path.source_vault, vault(SOURCE), "the caller's vault in the query's region");
    assert_eq!(
        (route.retention, &route.resource_types),
        (CopyRetention::Days(30), &ResourceTypes::Only(vec![ResourceType::Ebs]))
    );
    let plan = &report.paths[1].spec;
    assert_eq!((plan.retention, plan.path.role.as_ref()), (CopyRetention::Days(14), None));
    assert_eq!(report.account.as_str(), CALLER_ACCOUNT);
    assert_eq!(
        (report.summary.ok, report.summary.broken, report.summary.cannot_tell),
        (0, 0, 3),
        "the source vault is not there to read its key"
    );
}

#[tokio::test]
async fn a_vault_is_read_once_and_a_passing_error_fails_the_check_while_a_refusal_cannot_tell() {
    let facts = MemoryPathFacts::new();
    facts.add_vault(vault_facts(SAME_ACCOUNT));
    let paths = vec![
        spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any),
        spec(SAME_ACCOUNT, CopyRetention::Days(31), ResourceTypes::Any),
    ];
    let checker = PathChecker { facts };
    checker.check_all(&query(paths.clone())).await.unwrap();
    assert_eq!(checker.facts.calls(Call::DescribeBackupVault), 2, "the source vault and the destination, once each");
    assert_eq!(checker.facts.calls(Call::GetBackupVaultAccessPolicy), 1);
    assert_eq!(checker.facts.calls(Call::SimulatePrincipalPolicy), 1);
    assert_eq!(checker.facts.calls(Call::DescribeOrganization), 1);

    checker.facts.fail_next(
        Call::DescribeBackupVault,
        1,
        transient_error("backup", "DescribeBackupVault", "ThrottlingException"),
    );
    assert!(checker.check_all(&query(paths.clone())).await.unwrap_err().is_transient());

    let denied = backup_error("DescribeBackupVault", ErrorClass::Permanent, "AccessDeniedException");
    checker.facts.fail_next(Call::DescribeBackupVault, 2, denied);
    let report = checker.check_all(&query(paths)).await.unwrap();
    let PathVerdict::CannotTell { why, run_in } = verdict(&report.paths[0], CheckName::DestinationVault) else {
        panic!()
    };
    assert!(why.contains("AccessDeniedException"), "{why}");
    assert_eq!(run_in.as_ref().map(AccountId::as_str), Some(CALLER_ACCOUNT));
}

#[tokio::test]
async fn the_report_serialises_with_each_check_and_its_verdict() {
    let facts = MemoryPathFacts::new();
    facts.add_vault(locked(SAME_ACCOUNT, None, Some(7)));
    let report = report(facts, &query(vec![spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)])).await;
    let json = serde_json::to_value(&report).unwrap();
    let path = &json["paths"][0];
    assert_eq!(path["path"]["destinationVault"], SAME_ACCOUNT);
    assert_eq!(path["origin"]["kind"], "commandLine");
    assert_eq!(path["retention"]["days"], 30);
    assert_eq!(path["verdict"]["status"], "broken");
    assert_eq!(path["verdict"]["cause"], "retention");
    let checks: Vec<(&str, &str)> = path["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(checks[..3], [("destination_vault", "ok"), ("vault_access_policy", "ok"), ("vault_lock", "broken")]);
    assert_eq!(path["checks"][5]["check"], "kms_keys");
    assert_eq!(
        (path["checks"][6]["check"].as_str(), path["checks"][6]["cause"].as_str()),
        (Some("role"), Some("access"))
    );
    assert_eq!(json["summary"]["broken"], 1);
    assert_eq!(json["account"], CALLER_ACCOUNT);
}

// ---------------------------------------------------------------------- KMS keys
fn cause_and_texts(verdict: &PathVerdict) -> (PathCauseKind, &str, &str) {
    match verdict {
        PathVerdict::Broken { cause, found, fix } => (*cause, found.as_str(), fix.as_str()),
        other => panic!("not broken: {other:?}"),
    }
}

#[tokio::test]
async fn a_vault_key_that_is_disabled_pending_deletion_or_gone_breaks_the_path_with_the_kms_command_that_fixes_it() {
    async fn with_destination_key(state: Option<KeyState>) -> PathVerdict {
        let facts = healthy_same_account();
        if let Some(state) = state {
            facts.add_key(key(SAME_KEY, state, KeyManager::Customer), &own_key_policy(SAME_KEY));
        } else {
            facts.add_vault(keyed(SAME_ACCOUNT, "arn:aws:kms:us-west-2:123456789012:key/gone"));
        }
        let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
        verdict(&report, CheckName::KmsKeys).clone()
    }
    assert_eq!(with_destination_key(Some(KeyState::Enabled)).await, PathVerdict::Ok);
    let disabled = with_destination_key(Some(KeyState::Disabled)).await;
    let (cause, found, fix) = cause_and_texts(&disabled);
    assert_eq!(cause, PathCauseKind::KmsKey);
    assert!(found.contains("destination vault's key") && found.ends_with("is Disabled"), "{found}");
    assert_eq!(fix, format!("aws kms enable-key --key-id {SAME_KEY} --region us-west-2 (in account 123456789012)"));
    let pending = with_destination_key(Some(KeyState::PendingDeletion)).await;
    let (_, found, fix) = cause_and_texts(&pending);
    assert!(found.ends_with("is PendingDeletion"), "{found}");
    assert!(
        fix.starts_with(&format!("aws kms cancel-key-deletion --key-id {SAME_KEY}")) && fix.contains("enable-key"),
        "{fix}"
    );
    let gone = with_destination_key(None).await;
    let (cause, found, _) = cause_and_texts(&gone);
    assert_eq!((cause, found.contains("does not exist")), (PathCauseKind::KmsKey, true), "{found}");
    // A key still being created says nothing yet: ask again in its account.
    assert_eq!(run_in(&with_destination_key(Some(KeyState::Creating)).await), Some(CALLER_ACCOUNT));
}

#[tokio::test]
async fn a_key_of_another_account_cannot_be_told_here_and_says_where_to_run() {
    let foreign = "arn:aws:kms:us-west-2:777788889999:key/44444444-4444-4444-4444-444444444444";
    // KMS refuses it, or does not find it from here (which may be a refusal too): neither is broken.
    for (exists, answer) in [(true, "AccessDeniedException"), (false, "does not find")] {
        let facts = healthy_same_account();
        facts.add_vault(keyed(SAME_ACCOUNT, foreign));
        if exists {
            facts.add_key(key(foreign, KeyState::Enabled, KeyManager::Customer), &own_key_policy(foreign));
        }
        let report = check(facts, spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)).await;
        let kms = verdict(&report, CheckName::KmsKeys);
        assert_eq!(run_in(kms), Some("777788889999"), "{kms:?}");
        let PathVerdict::CannotTell { why, .. } = kms else { panic!() };
        assert!(why.contains(answer), "{why}");
    }
}

/// A cross-account path to `DR` checked from the source account, the organization's management
/// account, with cross-account backup on; the source vault on `source_key`.
async fn cross_account_from_source(source_key: KeyFacts, policy: &str, types: ResourceTypes) -> PathReport {
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    facts.set_cross_account_backup(Some(true));
    facts.add_vault(keyed(SOURCE, source_key.arn.as_str()));
    facts.add_key(source_key, policy);
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    check(facts, spec(DR, CopyRetention::Days(30), types)).await
}

#[tokio::test]
async fn across_accounts_an_aws_managed_source_key_breaks_copies_of_types_aws_backup_does_not_fully_manage() {
    let managed = || key(SOURCE_KEY, KeyState::Enabled, KeyManager::Aws);
    let only = |types: &[ResourceType]| ResourceTypes::Only(types.to_vec());
    let report = cross_account_from_source(managed(), "{}", only(&[ResourceType::Ebs])).await;
    let kms = verdict(&report, CheckName::KmsKeys);
    let (cause, found, _) = cause_and_texts(kms);
    assert_eq!(cause, PathCauseKind::ManagedKey);
    assert!(found.contains("AWS managed key") && found.contains(DR_ACCOUNT), "{found}");
    // Fully managed types take the vault's key: only the destination's side is left to tell.
    let report = cross_account_from_source(managed(), "{}", only(&[ResourceType::Efs])).await;
    assert_eq!(run_in(verdict(&report, CheckName::KmsKeys)), Some(DR_ACCOUNT));
    let report = cross_account_from_source(managed(), "{}", ResourceTypes::Any).await;
    let PathVerdict::CannotTell { why, .. } = verdict(&report, CheckName::KmsKeys) else { panic!() };
    assert!(why.contains("destination vault's key"), "the destination's side comes first: {why}");
}

#[tokio::test]
async fn across_accounts_the_source_key_policy_must_share_the_key_with_the_destination_account() {
    let customer = || key(SOURCE_KEY, KeyState::Enabled, KeyManager::Customer);
    let ebs = || ResourceTypes::Only(vec![ResourceType::Ebs]);
    let report = cross_account_from_source(customer(), &own_key_policy(SOURCE_KEY), ebs()).await;
    let (cause, found, fix) = cause_and_texts(verdict(&report, CheckName::KmsKeys));
    assert_eq!(cause, PathCauseKind::KmsKey);
    assert!(found.contains("does not allow kms:DescribeKey for account 444455556666"), "{found}");
    let statement: Value = serde_json::from_str(fix).expect("the fix is a key policy statement");
    assert_eq!(statement["Principal"]["AWS"], "arn:aws:iam::444455556666:root");
    assert_eq!(statement, share_key_statement(&account(DR_ACCOUNT)));
    // With the statement the key is shared: only the destination's side is left to tell.
    let shared: Value = serde_json::from_str(&own_key_policy(SOURCE_KEY)).unwrap();
    let mut statements = shared["Statement"].as_array().unwrap().clone();
    statements.push(statement);
    let policy = json!({ "Statement": statements }).to_string();
    let report = cross_account_from_source(customer(), &policy, ebs()).await;
    let kms = verdict(&report, CheckName::KmsKeys);
    assert_eq!(run_in(kms), Some(DR_ACCOUNT), "{kms:?}");
    assert_eq!(verdict(&report, CheckName::Organization), &PathVerdict::Ok, "the management account lists both");
}

#[tokio::test]
async fn across_accounts_a_grant_to_the_destination_account_shares_the_key_where_its_policy_does_not() {
    use vaultwatch::domain::KeyGrant;
    let facts = || {
        let facts = MemoryPathFacts::new();
        organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
        facts.set_cross_account_backup(Some(true));
        facts.add_vault(keyed(SOURCE, SOURCE_KEY));
        facts.add_key(key(SOURCE_KEY, KeyState::Enabled, KeyManager::Customer), &own_key_policy(SOURCE_KEY));
        facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
        facts
    };
    let ebs = || spec(DR, CopyRetention::Days(30), ResourceTypes::Only(vec![ResourceType::Ebs]));
    let grant = |grantee: &str, operations: &[&str]| KeyGrant {
        grantee: grantee.into(),
        operations: operations.iter().map(|op| (*op).to_owned()).collect(),
    };
    let key_arn = KmsKeyArn::parse(SOURCE_KEY).unwrap();
    let all = ["DescribeKey", "Decrypt", "CreateGrant"];
    // A grant to the destination account's role, every operation the copy needs: shared.
    let granted = facts();
    granted.add_grant(&key_arn, grant(&format!("arn:aws:iam::{DR_ACCOUNT}:role/backup"), &all));
    let report = check(granted, ebs()).await;
    assert_eq!(run_in(verdict(&report, CheckName::KmsKeys)), Some(DR_ACCOUNT), "only the destination's side left");
    // A grant to another account, or without Decrypt or CreateGrant: still not shared.
    let destination_root = format!("arn:aws:iam::{DR_ACCOUNT}:root");
    for (grantee, operations) in [
        ("arn:aws:iam::999999999999:root", &all[..]),
        (&destination_root[..], &all[..1]),
        (&destination_root[..], &all[..2]),
    ] {
        let partial = facts();
        partial.add_grant(&key_arn, grant(grantee, operations));
        let report = check(partial, ebs()).await;
        let (cause, found, _) = cause_and_texts(verdict(&report, CheckName::KmsKeys));
        assert_eq!(cause, PathCauseKind::KmsKey, "{grantee} {operations:?}");
        assert!(found.contains("and no grant does (ListGrants)"), "{found}");
    }
    // Grants that cannot be read leave it undecided, not broken.
    let unreadable = facts();
    unreadable.fail_next(
        Call::ListGrants,
        1,
        backup_error("ListGrants", ErrorClass::Permanent, "AccessDeniedException"),
    );
    let report = check(unreadable, ebs()).await;
    assert!(matches!(verdict(&report, CheckName::KmsKeys), PathVerdict::CannotTell { .. }), "{report:?}");
}

// ---------------------------------------------------------------------- the role
#[tokio::test]
async fn the_role_is_simulated_on_the_destination_vault_with_its_access_policy() {
    async fn role_verdict(facts: MemoryPathFacts) -> (PathVerdict, MemoryPathFacts) {
        let checker = PathChecker { facts };
        let mut report = checker
            .check_all(&query(vec![spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any)]))
            .await
            .unwrap();
        let path = report.paths.remove(0);
        (verdict(&path, CheckName::Role).clone(), checker.facts)
    }
    let (allowed, facts) = role_verdict(healthy_same_account()).await;
    assert_eq!(allowed, PathVerdict::Ok);
    let asked = facts.simulations();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].actions.as_slice(), asked[0].resource.as_str()),
        ([COPY_INTO_BACKUP_VAULT.to_owned()].as_slice(), SAME_ACCOUNT)
    );
    assert_eq!(asked[0].resource_policy, None, "the vault has no access policy");

    // A custom role without backup:CopyIntoBackupVault: broken, and the fix is the statement to add.
    let facts = healthy_same_account();
    facts.add_role(&role_arn(), &[("backup:StartCopyJob", SimulatedDecision::Allowed)]);
    let vault_policy =
        json!({ "Statement": [{ "Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint" }] })
            .to_string();
    facts.set_access_policy(&vault(SAME_ACCOUNT), &vault_policy);
    let (denied, facts) = role_verdict(facts).await;
    let (cause, found, fix) = cause_and_texts(&denied);
    assert_eq!(cause, PathCauseKind::Access);
    assert!(
        found.contains("backup:CopyIntoBackupVault") && found.contains("implicitDeny") && found.contains(ROLE),
        "{found}"
    );
    let statement: Value = serde_json::from_str(fix).expect("the fix is a policy statement");
    assert_eq!(
        statement,
        json!({ "Sid": "AllowCopyIntoBackupVault", "Effect": "Allow", "Action": COPY_INTO_BACKUP_VAULT, "Resource": SAME_ACCOUNT })
    );
    assert_eq!(
        facts.simulations()[0].resource_policy.as_deref(),
        Some(vault_policy.as_str()),
        "passed as ResourcePolicy"
    );

    // An explicit Deny names the policy to change.
    let facts = healthy_same_account();
    facts.add_role(&role_arn(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::ExplicitDeny)]);
    let explicit = role_verdict(facts).await.0;
    let (cause, found, fix) = cause_and_texts(&explicit);
    assert_eq!(cause, PathCauseKind::Access);
    assert!(
        found.contains("explicitDeny") && fix.starts_with("Remove or narrow the Deny in inline"),
        "{found} / {fix}"
    );
}

#[tokio::test]
async fn a_missing_role_breaks_the_path_and_an_unknown_or_foreign_role_cannot_tell() {
    let facts = healthy_same_account();
    let nobody = IamRoleArn::parse("arn:aws:iam::123456789012:role/nobody").unwrap();
    let mut path = spec(SAME_ACCOUNT, CopyRetention::Days(30), ResourceTypes::Any);
    path.path.role = Some(nobody);
    let report = check(facts, path.clone()).await;
    let (cause, found, _) = cause_and_texts(verdict(&report, CheckName::Role));
    assert_eq!((cause, found.contains("does not exist")), (PathCauseKind::Access, true), "{found}");

    path.path.role = None;
    let report = check(healthy_same_account(), path.clone()).await;
    let PathVerdict::CannotTell { why, .. } = verdict(&report, CheckName::Role) else { panic!() };
    assert!(why.contains("third value of --path"), "{why}");
    assert!(matches!(report.verdict, PathVerdict::CannotTell { .. }));

    path.path.role = Some(IamRoleArn::parse("arn:aws:iam::777788889999:role/copier").unwrap());
    let facts = healthy_same_account();
    let checker = PathChecker { facts };
    let report = checker.check_all(&query(vec![path])).await.unwrap();
    let role = verdict(&report.paths[0], CheckName::Role);
    assert_eq!(run_in(role), Some("777788889999"), "{role:?}");
    assert_eq!(checker.facts.calls(Call::SimulatePrincipalPolicy), 0, "IAM simulates only the caller's roles");
}

// ---------------------------------------------------------------------- the organization
#[tokio::test]
async fn both_accounts_must_be_in_one_organization_and_only_its_management_account_lists_them() {
    async fn organization_verdict(facts: MemoryPathFacts) -> PathVerdict {
        facts.set_cross_account_backup(Some(true));
        let report = check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Any)).await;
        verdict(&report, CheckName::Organization).clone()
    }
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[DR_ACCOUNT]);
    assert_eq!(organization_verdict(facts).await, PathVerdict::Ok);
    // The destination account is not a member: broken, and the fix invites it.
    let facts = MemoryPathFacts::new();
    organization(&facts, CALLER_ACCOUNT, &[]);
    let outside = organization_verdict(facts).await;
    let (cause, found, fix) = cause_and_texts(&outside);
    assert_eq!(cause, PathCauseKind::Organization);
    assert!(
        found.contains(&format!("ListAccounts of organization {ORG}: account {DR_ACCOUNT} is not a member")),
        "{found}"
    );
    assert!(fix.contains(&format!("invite-account-to-organization --target Id={DR_ACCOUNT},Type=ACCOUNT")), "{fix}");
    // A member account cannot list the members: cannot tell, run in the management account.
    let facts = MemoryPathFacts::new();
    organization(&facts, "999999999999", &[CALLER_ACCOUNT, DR_ACCOUNT]);
    let member = organization_verdict(facts).await;
    assert_eq!(run_in(&member), Some("999999999999"));
    let PathVerdict::CannotTell { why, .. } = &member else { panic!("{member:?}") };
    assert!(
        why.contains("ListAccounts answers in the organization's management account 999999999999"),
        "not asked: {why}"
    );
    // Either account of the path in no organization at all: broken, and the fix invites it and names
    // the other.
    for (caller, other) in [(CALLER_ACCOUNT, DR_ACCOUNT), (DR_ACCOUNT, CALLER_ACCOUNT)] {
        let facts = MemoryPathFacts::new();
        facts.set_caller_account(account(caller));
        let none = organization_verdict(facts).await;
        let (_, found, fix) = cause_and_texts(&none);
        assert!(found.contains(&format!("account {caller} is not a member of an organization")), "{found}");
        assert!(fix.contains(&format!("--target Id={caller},Type=ACCOUNT (and Id={other} if")), "{fix}");
    }
    // A third account in no organization says nothing of the path's: run in the source account.
    let facts = MemoryPathFacts::new();
    facts.set_caller_account(account("555555555555"));
    assert_eq!(run_in(&organization_verdict(facts).await), Some(CALLER_ACCOUNT));
}

#[tokio::test]
async fn a_vault_policy_that_admits_the_organization_is_decided_with_the_organizations_id() {
    let by_org = |id: &str| {
        json!({ "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": COPY_INTO_BACKUP_VAULT,
            "Condition": { "StringEquals": { "aws:PrincipalOrgID": id } }
        }]})
        .to_string()
    };
    async fn from_member_destination(policy: String) -> PathVerdict {
        let facts = MemoryPathFacts::new();
        facts.set_caller_account(account(DR_ACCOUNT));
        organization(&facts, "999999999999", &[CALLER_ACCOUNT, DR_ACCOUNT]);
        facts.set_cross_account_backup(Some(true));
        facts.add_vault(keyed(DR, DR_KEY));
        facts.set_access_policy(&vault(DR), &policy);
        let report = check(facts, spec(DR, CopyRetention::Days(30), ResourceTypes::Any)).await;
        verdict(&report, CheckName::VaultAccessPolicy).clone()
    }
    // From the destination account, a member: the source must be in the same organization for any
    // copy (the organization check), so the policy is read with the destination's organization.
    assert_eq!(from_member_destination(by_org(ORG)).await, PathVerdict::Ok);
    let other = from_member_destination(by_org("o-zzzzzzzzzz")).await;
    assert_eq!(broken_by(&other), Some(PathCauseKind::VaultAccessPolicy), "{other:?}");
}

/// What the check's reports mean for incidents: a finding per (path, kind of cause), once however
/// many reports or checks name it, none for a path without a role; an open incident is gone only
/// when every check that clears its kind says ok on its path and no report of the path finds that
/// kind broken.
#[test]
fn the_checks_reports_open_one_incident_per_path_and_cause_and_clear_only_what_they_prove_gone() {
    use vaultwatch::domain::{checked_incidents, Check, Destination, Incident, IncidentId, IncidentKey, IncidentState};
    let with_role = |destination: &str, role: Option<&str>| CopyPath {
        source_vault: vault(SOURCE),
        destination_vault: vault(destination),
        role: role.map(|role| IamRoleArn::parse(role).unwrap()),
    };
    let broken = |cause| PathVerdict::Broken { cause, found: "found".into(), fix: "fix".into() };
    let report = |path: &CopyPath, origin: PathOrigin, checks: Vec<(CheckName, PathVerdict)>| {
        let checks: Vec<Check> = checks.into_iter().map(|(check, verdict)| Check { check, verdict }).collect();
        PathReport {
            spec: PathSpec {
                path: path.clone(),
                origin,
                retention: CopyRetention::Days(30),
                resource_types: ResourceTypes::Any,
            },
            verdict: PathVerdict::worst(checks.iter().map(|check| &check.verdict)),
            checks,
            health: None,
        }
    };
    let path = with_role(SAME_ACCOUNT, Some(ROLE));
    let other = with_role(DR, Some(ROLE));
    let roleless = with_role(SAME_ACCOUNT, None);
    let reports = [
        // One path broken twice for the KMS key (two reports) and once for its Vault Lock range.
        report(&path, PathOrigin::Route, vec![(CheckName::KmsKeys, broken(PathCauseKind::KmsKey))]),
        report(
            &path,
            PathOrigin::CommandLine,
            vec![
                (CheckName::KmsKeys, broken(PathCauseKind::KmsKey)),
                (CheckName::VaultLock, broken(PathCauseKind::Retention)),
            ],
        ),
        // Another path broken for the KMS key too; a path without a role.
        report(&other, PathOrigin::Route, vec![(CheckName::KmsKeys, broken(PathCauseKind::KmsKey))]),
        report(
            &roleless,
            PathOrigin::PlanRule { plan: "p".into(), rule: "r".into() },
            vec![(CheckName::KmsKeys, broken(PathCauseKind::KmsKey))],
        ),
    ];
    let found: Vec<(CopyPath, PathCauseKind)> =
        checked_incidents(&reports, &[]).broken.into_iter().map(|finding| (finding.path, finding.kind)).collect();
    assert_eq!(
        found,
        [
            (path.clone(), PathCauseKind::KmsKey),
            (path.clone(), PathCauseKind::Retention),
            (other.clone(), PathCauseKind::KmsKey)
        ]
    );

    let open = |path: &CopyPath, cause| Incident {
        id: IncidentId { key: IncidentKey { path: path.key(), cause }, opened_at: chrono::Utc::now() },
        path: path.clone(),
        status_message: "x".into(),
        message_category: None,
        first: Some(vaultwatch_tests::affected_point("arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0")),
        destination: Destination::default(),
        check_fix: None,
        affected: 1,
        state: IncidentState::Open,
        alerted: true,
        healed_told: false,
        last_digest_at: None,
    };
    let retention = open(&path, PathCauseKind::Retention);
    let access = open(&path, PathCauseKind::Access);
    let kms_elsewhere = open(&other, PathCauseKind::KmsKey);
    let reports = [
        // The lock: ok for the route's copies, broken for the command line's: not gone.
        report(
            &path,
            PathOrigin::Route,
            vec![
                (CheckName::VaultLock, PathVerdict::Ok),
                (CheckName::VaultAccessPolicy, PathVerdict::Ok),
                (CheckName::Role, PathVerdict::Ok),
            ],
        ),
        report(&path, PathOrigin::CommandLine, vec![(CheckName::VaultLock, broken(PathCauseKind::Retention))]),
        // The other path's KMS check cannot tell: not gone.
        report(
            &other,
            PathOrigin::Route,
            vec![(CheckName::KmsKeys, PathVerdict::CannotTell { why: "w".into(), run_in: None })],
        ),
    ];
    let gone = checked_incidents(&reports, &[retention.clone(), access.clone(), kms_elsewhere]).gone;
    assert_eq!(gone, std::slice::from_ref(&access.id), "access denied: the vault policy and the role both ok");
    // The Vault Lock range ok on every report of the path: gone; a healed incident is not gone again.
    let reports = [report(&path, PathOrigin::Route, vec![(CheckName::VaultLock, PathVerdict::Ok)])];
    let healed = Incident {
        state: IncidentState::Healed { at: chrono::Utc::now(), by: vaultwatch::domain::HealedBy::PathCheck },
        ..retention.clone()
    };
    assert_eq!(checked_incidents(&reports, &[retention.clone(), healed]).gone, std::slice::from_ref(&retention.id));
}

#[test]
fn a_paths_origin_reads_as_reports_name_it() {
    let origins = [
        PathOrigin::Route,
        PathOrigin::PlanRule { plan: "nightly".into(), rule: "daily".into() },
        PathOrigin::CommandLine,
        PathOrigin::Incident,
    ];
    let named: Vec<String> = origins.iter().map(ToString::to_string).collect();
    assert_eq!(named, ["route", "plan nightly rule daily", "command line", "open incident"]);
}
