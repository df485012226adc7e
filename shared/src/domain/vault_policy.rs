//! Reading a resource-based policy: does a destination vault's access policy let the source account
//! copy into the vault (`backup:CopyIntoBackupVault`), does a source KMS key's key policy let the
//! destination account use the key (`kms:Decrypt`, ...)? A small evaluator of resource-based
//! policies, as AWS documents them for vault access policies
//! (docs/aws-facts.md#destination-vault-access-policy) and key policies (docs/aws-facts.md#kms-keys):
//! explicit Deny wins, then Allow, else implicit deny; `Action`/`NotAction` and
//! `Resource`/`NotResource` with `*` and `?` wildcards; `Principal` `*` or `{"AWS": account |
//! arn:aws:iam::ACCOUNT:root | role ARN}`; `Condition` string operators over `aws:PrincipalOrgID`,
//! `aws:PrincipalAccount`, `aws:PrincipalArn` and `kms:CallerAccount`. Anything else it meets (an
//! unknown operator or key, `NotPrincipal`, a principal it does not know) leaves the statement
//! undecided: the answer is then "cannot tell", never a guess.

use serde_json::{json, Map, Value};

use super::{AccountId, IamRoleArn};

/// The action a copy needs the destination vault's policy to allow.
pub const COPY_INTO_BACKUP_VAULT: &str = "backup:CopyIntoBackupVault";

/// What the destination account does with the source vault's key in a cross-account copy, as
/// the path check asks the key policy (docs/aws-facts.md#kms-keys): the core of the KC's list.
pub const KMS_SHARED_ACTIONS: [&str; 3] = ["kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant"];

/// The KMS actions a source key's policy grants the destination account in vaultwatch's fix: KC
/// *backup-cross-account-copy-error*'s list (docs/aws-facts.md#iam-for-startcopyjob).
pub const KMS_SHARE_FIX_ACTIONS: [&str; 9] = [
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:RetireGrant",
];

/// Who asks, for what: a copy on a path.
#[derive(Clone, Copy, Debug)]
pub struct PolicyRequest<'a> {
    pub action: &'a str,
    /// The principal's account: the source account for a vault access policy (the copy's principal
    /// is its role, in that account), the destination account for a source key's policy (also its
    /// `kms:CallerAccount`).
    pub account: &'a AccountId,
    /// The role the copy passes, when known (and the principal).
    pub role: Option<&'a IamRoleArn>,
    /// The resource's ARN: the destination vault, or the source key.
    pub resource: &'a str,
    /// The principal account's organization, when known (for `aws:PrincipalOrgID`).
    pub organization: Option<&'a str>,
}

/// What the policy says to the request.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyDecision {
    /// A statement allows it and none denies it.
    Allowed,
    /// A statement denies it (the statement, as written in the policy).
    ExplicitDeny { statement: Value },
    /// No statement allows it.
    ImplicitDeny,
    /// A statement that may allow or deny it depends on something not known here.
    Undecided { why: String },
}

/// A policy that is not a JSON policy document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the policy is not a policy document: {0}")]
pub struct PolicyError(String);

/// Whether a statement applies to the request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Applies {
    Yes,
    No,
    Unknown(String),
}

impl Applies {
    fn from_bool(yes: bool) -> Self {
        if yes {
            Self::Yes
        } else {
            Self::No
        }
    }

    /// All of the parts must apply: No wins, then Unknown.
    fn and(self, other: Applies) -> Self {
        match (self, other) {
            (Self::No, _) | (_, Self::No) => Self::No,
            (Self::Unknown(why), _) | (_, Self::Unknown(why)) => Self::Unknown(why),
            (Self::Yes, Self::Yes) => Self::Yes,
        }
    }
}

/// Evaluates a resource-based policy (its JSON text: a vault access policy, a key policy) for the
/// request.
pub fn evaluate(policy: &str, request: &PolicyRequest) -> Result<PolicyDecision, PolicyError> {
    let document: Value = serde_json::from_str(policy).map_err(|err| PolicyError(err.to_string()))?;
    let statements = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => return Err(PolicyError("it has no Statement".into())),
    };
    let mut allowed = false;
    let mut undecided: Option<String> = None;
    for statement in &statements {
        let Some(fields) = statement.as_object() else {
            return Err(PolicyError("a statement is not an object".into()));
        };
        let deny = match fields.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            _ => return Err(PolicyError("a statement's Effect is neither Allow nor Deny".into())),
        };
        match applies(fields, request) {
            Applies::Yes if deny => return Ok(PolicyDecision::ExplicitDeny { statement: statement.clone() }),
            Applies::Yes => allowed = true,
            Applies::Unknown(why) => {
                undecided.get_or_insert(format!("statement {}: {why}", sid(fields)));
            }
            Applies::No => {}
        }
    }
    // An undecided Deny could still deny; an undecided Allow matters only when nothing allows.
    let undecided_deny = statements.iter().filter_map(Value::as_object).any(|fields| {
        fields.get("Effect").and_then(Value::as_str) == Some("Deny")
            && matches!(applies(fields, request), Applies::Unknown(_))
    });
    Ok(match (undecided, allowed) {
        (Some(why), _) if undecided_deny => PolicyDecision::Undecided { why },
        (_, true) => PolicyDecision::Allowed,
        (Some(why), false) => PolicyDecision::Undecided { why },
        (None, false) => PolicyDecision::ImplicitDeny,
    })
}

fn sid(fields: &Map<String, Value>) -> String {
    fields.get("Sid").and_then(Value::as_str).map_or_else(|| "(no Sid)".to_owned(), |sid| format!("`{sid}`"))
}

fn applies(fields: &Map<String, Value>, request: &PolicyRequest) -> Applies {
    action(fields, request)
        .and(principal(fields, request))
        .and(resource(fields, request))
        .and(condition(fields, request))
}

/// The values of a string-or-list member.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(one) => Some(vec![one.as_str()]),
        Value::Array(many) => many.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn wildcard(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    if case_insensitive {
        wildmatch::WildMatch::new(&pattern.to_lowercase()).matches(&value.to_lowercase())
    } else {
        wildmatch::WildMatch::new(pattern).matches(value)
    }
}

fn action(fields: &Map<String, Value>, request: &PolicyRequest) -> Applies {
    let listed = |member: &str| {
        fields
            .get(member)
            .map(|value| strings(value).map(|actions| actions.iter().any(|a| wildcard(a, request.action, true))))
    };
    match (listed("Action"), listed("NotAction")) {
        (Some(Some(any)), None) => Applies::from_bool(any),
        (None, Some(Some(any))) => Applies::from_bool(!any),
        _ => Applies::Unknown("its Action is not a string or a list".into()),
    }
}

fn resource(fields: &Map<String, Value>, request: &PolicyRequest) -> Applies {
    let arn = request.resource;
    let listed = |member: &str| {
        fields
            .get(member)
            .map(|value| strings(value).map(|resources| resources.iter().any(|r| wildcard(r, arn, false))))
    };
    match (listed("Resource"), listed("NotResource")) {
        (None, None) => Applies::Yes,
        (Some(Some(any)), None) => Applies::from_bool(any),
        (None, Some(Some(any))) => Applies::from_bool(!any),
        _ => Applies::Unknown("its Resource is not a string or a list".into()),
    }
}

fn principal(fields: &Map<String, Value>, request: &PolicyRequest) -> Applies {
    if fields.contains_key("NotPrincipal") {
        return Applies::Unknown("NotPrincipal is not evaluated here".into());
    }
    let aws = match fields.get("Principal") {
        Some(Value::String(star)) if star == "*" => return Applies::Yes,
        Some(Value::Object(principals)) => match principals.get("AWS") {
            Some(aws) => aws,
            // Service or federated principals only: not the source account.
            None => return Applies::No,
        },
        _ => return Applies::Unknown("its Principal is not `*` or an object".into()),
    };
    let Some(principals) = strings(aws) else {
        return Applies::Unknown("its Principal's AWS member is not a string or a list".into());
    };
    let account = request.account.as_str();
    let root = format!("arn:aws:iam::{account}:root");
    let mut result = Applies::No;
    for principal in principals {
        if principal == "*" || principal == account || principal == root {
            return Applies::Yes;
        }
        let in_account = principal.split(':').nth(4) == Some(account);
        match request.role {
            Some(role) if role.as_str() == principal => return Applies::Yes,
            None if in_account => {
                result = Applies::Unknown(format!("it names principal `{principal}`, and the path's role is not known"))
            }
            _ => {}
        }
    }
    result
}

fn condition(fields: &Map<String, Value>, request: &PolicyRequest) -> Applies {
    let Some(conditions) = fields.get("Condition") else {
        return Applies::Yes;
    };
    let Some(conditions) = conditions.as_object() else {
        return Applies::Unknown("its Condition is not an object".into());
    };
    let mut result = Applies::Yes;
    for (operator, tests) in conditions {
        let Some(tests) = tests.as_object() else {
            return Applies::Unknown(format!("condition {operator} is not an object"));
        };
        for (key, values) in tests {
            let Some(values) = strings(values) else {
                return Applies::Unknown(format!("condition {operator} {key} has values that are not strings"));
            };
            result = result.and(test(operator, key, &values, request));
        }
    }
    result
}

/// One condition test (operator, key, values) against what is known of the request.
fn test(operator: &str, key: &str, values: &[&str], request: &PolicyRequest) -> Applies {
    let operator_name = operator.strip_prefix("ForAnyValue:").unwrap_or(operator);
    let known = match key.to_ascii_lowercase().as_str() {
        "aws:principalaccount" | "kms:calleraccount" => Some(request.account.as_str().to_owned()),
        "aws:principalarn" => match request.role {
            Some(role) => Some(role.as_str().to_owned()),
            None => return Applies::Unknown(format!("its condition on {key} needs the path's role")),
        },
        "aws:principalorgid" => match request.organization {
            Some(organization) => Some(organization.to_owned()),
            None => {
                return Applies::Unknown(format!(
                    "it admits organization {} only, and the source account's organization is not known here",
                    values.join(", ")
                ))
            }
        },
        _ => None,
    };
    let Some(actual) = known else {
        return Applies::Unknown(format!("its condition key {key} is not evaluated here"));
    };
    let any = |matches: &dyn Fn(&str) -> bool| values.iter().any(|value| matches(value));
    match operator_name {
        "StringEquals" => Applies::from_bool(any(&|v| v == actual)),
        "StringNotEquals" => Applies::from_bool(!any(&|v| v == actual)),
        "StringEqualsIgnoreCase" => Applies::from_bool(any(&|v| v.eq_ignore_ascii_case(&actual))),
        "StringNotEqualsIgnoreCase" => Applies::from_bool(!any(&|v| v.eq_ignore_ascii_case(&actual))),
        "StringLike" => Applies::from_bool(any(&|v| wildcard(v, &actual, false))),
        "StringNotLike" => Applies::from_bool(!any(&|v| wildcard(v, &actual, false))),
        _ => Applies::Unknown(format!("its condition operator {operator} is not evaluated here")),
    }
}

/// The key policy statement that lets `destination` (an account) use a source vault's key for
/// cross-account copies (KC *backup-troubleshoot-cross-account-copy*: "Confirm that the source AWS
/// KMS key policy allows the destination account").
pub fn share_key_statement(destination: &AccountId) -> Value {
    json!({
        "Sid": format!("AllowCopiesTo{destination}"),
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{destination}:root") },
        "Action": KMS_SHARE_FIX_ACTIONS,
        "Resource": "*",
    })
}

/// The statement that lets `source` copy into `destination`: the one AWS's knowledge center gives
/// (principal the source account's root, action `backup:CopyIntoBackupVault`).
pub fn copy_into_statement(source: &AccountId) -> Value {
    json!({
        "Sid": format!("AllowCopyIntoFrom{source}"),
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{source}:root") },
        "Action": COPY_INTO_BACKUP_VAULT,
        "Resource": "*",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DR: &str = "arn:aws:backup:us-west-2:444455556666:backup-vault:dr";
    const ROLE: &str = "arn:aws:iam::111122223333:role/copier";

    fn decide(policy: Value, role: Option<&str>, organization: Option<&str>) -> PolicyDecision {
        let account = AccountId::parse("111122223333").unwrap();
        let role = role.map(|role| IamRoleArn::parse(role).unwrap());
        let request = PolicyRequest {
            action: COPY_INTO_BACKUP_VAULT,
            account: &account,
            role: role.as_ref(),
            resource: DR,
            organization,
        };
        evaluate(&policy.to_string(), &request).unwrap()
    }

    fn policy(statements: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": statements })
    }

    #[test]
    fn the_statement_vaultwatch_proposes_allows_the_copy() {
        let statement = copy_into_statement(&AccountId::parse("111122223333").unwrap());
        assert_eq!(decide(policy(json!([statement])), None, None), PolicyDecision::Allowed);
        assert_eq!(decide(json!({ "Statement": statement }), Some(ROLE), None), PolicyDecision::Allowed);
    }

    #[test]
    fn principals_match_by_account_root_role_or_star() {
        let allow =
            |principal: Value| policy(json!([{ "Effect": "Allow", "Principal": principal, "Action": "backup:*" }]));
        assert_eq!(decide(allow(json!({ "AWS": "111122223333" })), None, None), PolicyDecision::Allowed);
        assert_eq!(decide(allow(json!("*")), None, None), PolicyDecision::Allowed);
        assert_eq!(decide(allow(json!({ "AWS": ["999988887777", ROLE] })), Some(ROLE), None), PolicyDecision::Allowed);
        assert!(matches!(decide(allow(json!({ "AWS": ROLE })), None, None), PolicyDecision::Undecided { .. }));
        assert_eq!(decide(allow(json!({ "AWS": "999988887777" })), None, None), PolicyDecision::ImplicitDeny);
        assert_eq!(
            decide(allow(json!({ "Service": "backup.amazonaws.com" })), None, None),
            PolicyDecision::ImplicitDeny
        );
    }

    #[test]
    fn an_explicit_deny_wins_and_other_actions_do_not_touch_copies() {
        let deny = json!({ "Sid": "NoCopies", "Effect": "Deny", "Principal": "*", "Action": "backup:Copy*" });
        let allow = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault" });
        assert_eq!(
            decide(policy(json!([allow, deny])), None, None),
            PolicyDecision::ExplicitDeny { statement: deny.clone() }
        );
        let delete = json!({ "Effect": "Deny", "Principal": "*", "Action": ["backup:DeleteRecoveryPoint"] });
        assert_eq!(decide(policy(json!([delete, allow])), None, None), PolicyDecision::Allowed);
        let not_action = json!({ "Effect": "Deny", "Principal": "*", "NotAction": "backup:CopyIntoBackupVault" });
        assert_eq!(decide(policy(json!([not_action])), None, None), PolicyDecision::ImplicitDeny);
        let other_vault =
            json!({ "Effect": "Deny", "Principal": "*", "Action": "backup:*", "Resource": DR.replace(":dr", ":x") });
        assert_eq!(decide(policy(json!([other_vault, allow])), None, None), PolicyDecision::Allowed);
    }

    #[test]
    fn conditions_on_the_organization_decide_only_when_it_is_known() {
        let by_org = policy(json!([{
            "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
            "Condition": { "StringEquals": { "aws:PrincipalOrgID": "o-abc123def4" } }
        }]));
        assert_eq!(decide(by_org.clone(), None, Some("o-abc123def4")), PolicyDecision::Allowed);
        assert_eq!(decide(by_org.clone(), None, Some("o-zzzzzzzzzz")), PolicyDecision::ImplicitDeny);
        let PolicyDecision::Undecided { why } = decide(by_org, None, None) else { panic!() };
        assert!(why.contains("o-abc123def4"), "{why}");
        let by_account = policy(json!([{
            "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
            "Condition": { "StringLike": { "aws:PrincipalAccount": ["1111*"] } }
        }]));
        assert_eq!(decide(by_account, None, None), PolicyDecision::Allowed);
        let unknown = policy(json!([{
            "Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        }]));
        assert!(matches!(decide(unknown, None, None), PolicyDecision::Undecided { .. }));
    }

    #[test]
    fn an_undecided_deny_outweighs_an_allow_and_an_undecided_allow_does_not() {
        let allow = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault" });
        let tls_only = json!({ "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "backup:*",
            "Condition": { "Bool": { "aws:SecureTransport": "false" } } });
        let by_org = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
            "Condition": { "StringEquals": { "aws:PrincipalOrgID": "o-abc123def4" } } });
        let no_deletes = json!({ "Effect": "Deny", "Principal": "*", "Action": "backup:DeleteRecoveryPoint" });

        let PolicyDecision::Undecided { why } = decide(policy(json!([allow, tls_only])), None, None) else {
            panic!("a Deny that may apply could still deny the copy")
        };
        assert!(why.starts_with("statement `TlsOnly`: "), "names the statement: {why}");
        assert_eq!(
            decide(policy(json!([allow, by_org, no_deletes])), None, None),
            PolicyDecision::Allowed,
            "an Allow that may apply changes nothing when another allows, nor does a Deny that does not apply"
        );
        let PolicyDecision::Undecided { why } = decide(policy(json!([by_org])), None, None) else { panic!() };
        assert!(why.starts_with("statement (no Sid): "), "{why}");
    }

    #[test]
    fn a_role_principal_is_the_paths_role_only_and_a_bare_string_is_not_read() {
        let allow = |principal: Value| {
            policy(json!([{ "Effect": "Allow", "Principal": principal, "Action": "backup:CopyIntoBackupVault" }]))
        };
        let other_role = json!({ "AWS": "arn:aws:iam::111122223333:role/other" });
        assert_eq!(decide(allow(other_role), Some(ROLE), None), PolicyDecision::ImplicitDeny);
        assert!(
            matches!(decide(allow(json!("111122223333")), None, None), PolicyDecision::Undecided { .. }),
            "IAM's grammar has only `*` as a string Principal"
        );
    }

    #[test]
    fn not_resource_applies_to_every_vault_but_those_it_lists() {
        let allow = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault" });
        let deny_but =
            |vault: &str| json!({ "Effect": "Deny", "Principal": "*", "Action": "backup:*", "NotResource": vault });
        assert_eq!(decide(policy(json!([allow, deny_but(DR)])), None, None), PolicyDecision::Allowed);
        let elsewhere = deny_but(&DR.replace(":dr", ":other"));
        assert_eq!(
            decide(policy(json!([allow, elsewhere.clone()])), None, None),
            PolicyDecision::ExplicitDeny { statement: elsewhere }
        );
    }

    #[test]
    fn each_string_operator_is_read_as_iam_defines_it() {
        let shouting = "arn:aws:iam::111122223333:role/COPIER";
        let cases = [
            ("StringEquals", "aws:PrincipalAccount", "111122223333", true),
            ("StringEquals", "AWS:PRINCIPALACCOUNT", "999988887777", false),
            ("ForAnyValue:StringEquals", "aws:PrincipalAccount", "111122223333", true),
            ("StringNotEquals", "aws:PrincipalAccount", "111122223333", false),
            ("StringNotEquals", "aws:PrincipalAccount", "999988887777", true),
            ("StringEquals", "aws:PrincipalArn", shouting, false),
            ("StringEqualsIgnoreCase", "aws:PrincipalArn", shouting, true),
            ("StringNotEqualsIgnoreCase", "aws:PrincipalArn", shouting, false),
            ("StringNotEqualsIgnoreCase", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/other", true),
            ("StringLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/cop*", true),
            ("StringLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/COP*", false),
            ("StringNotLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/cop*", false),
            ("StringNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/other", true),
        ];
        for (operator, key, value, allowed) in cases {
            let statement = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
                "Condition": { operator: { key: value } } });
            let expected = if allowed { PolicyDecision::Allowed } else { PolicyDecision::ImplicitDeny };
            assert_eq!(decide(policy(json!([statement])), Some(ROLE), None), expected, "{operator} {key} {value}");
        }
        let by_role = json!({ "Effect": "Allow", "Principal": "*", "Action": "backup:CopyIntoBackupVault",
            "Condition": { "StringEquals": { "aws:PrincipalArn": ROLE } } });
        let PolicyDecision::Undecided { why } = decide(policy(json!([by_role])), None, None) else { panic!() };
        assert!(why.contains("needs the path's role"), "{why}");
    }

    #[test]
    fn a_key_policy_shares_the_key_with_an_account_by_root_or_caller_account() {
        const KEY: &str = "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let destination = AccountId::parse("111122223333").unwrap();
        let decide = |policy: Value| {
            let decisions: Vec<PolicyDecision> = KMS_SHARED_ACTIONS
                .iter()
                .map(|action| {
                    let request =
                        PolicyRequest { action, account: &destination, role: None, resource: KEY, organization: None };
                    evaluate(&policy.to_string(), &request).unwrap()
                })
                .collect();
            decisions
        };
        let shared = decide(policy(json!([share_key_statement(&destination)])));
        assert!(shared.iter().all(|decision| *decision == PolicyDecision::Allowed), "{shared:?}");
        let own =
            json!({ "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::444455556666:root" }, "Action": "kms:*" });
        assert!(decide(policy(json!([own]))).iter().all(|decision| *decision == PolicyDecision::ImplicitDeny));
        let by_caller = json!({ "Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
            "Condition": { "StringEquals": { "kms:CallerAccount": "111122223333" } } });
        assert!(decide(policy(json!([by_caller]))).iter().all(|decision| *decision == PolicyDecision::Allowed));
    }

    #[test]
    fn a_document_that_is_not_a_policy_is_an_error() {
        let account = AccountId::parse("111122223333").unwrap();
        let request = PolicyRequest {
            action: COPY_INTO_BACKUP_VAULT,
            account: &account,
            role: None,
            resource: DR,
            organization: None,
        };
        assert!(evaluate("not json", &request).is_err());
        assert!(evaluate("{}", &request).is_err());
        assert!(evaluate(r#"{"Statement":[{"Effect":"Maybe","Action":"*"}]}"#, &request).is_err());
    }
}
