//! What an alert asks the operator to do, from its cause. The cause is read from AWS's own words
//! (the copy job's status message, or StartCopyJob's error) where they name it; what each message
//! means, and the grants a copy needs, are in docs/aws-facts.md#failure-messages and
//! docs/aws-facts.md#iam-for-startcopyjob.

use std::fmt::Write as _;

use super::{Alert, AlertReason, BackupVaultArn, Lifecycle, NotCopyable};

/// What stopped a copy, as far as AWS's message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The caller may not pass the role (`iam:PassRole`); the role and caller when AWS names them.
    PassRole { role: Option<String>, principal: Option<String> },
    /// The accounts are not in one organization, or cross-account backup is off in it.
    Organization,
    /// A vault or snapshot encrypted with an AWS managed (default) key, which cannot be shared.
    ManagedKey,
    /// A KMS key is disabled, pending deletion or not usable by the principal; the key and principal
    /// when AWS names them.
    KmsKey { key: Option<String>, principal: Option<String> },
    /// The destination vault's access policy does not let the source account copy into it.
    VaultAccessPolicy,
    /// The lifecycle does not fit the destination vault's Vault Lock retention range.
    Retention,
    /// A quota or limit.
    Quota,
    /// AWS Backup does not copy this resource type (or this resource) this way.
    Unsupported,
    /// Access denied, not said to what.
    Permissions { principal: Option<String> },
    /// Nothing vaultwatch recognises.
    Unknown,
}

impl Cause {
    /// The cause a status message or error names. Checked in this order: specific texts before the
    /// general ones they contain (a managed-key refusal mentions "KMS key" too).
    pub fn of(message: &str) -> Self {
        Self::of_refusal(message, None)
    }

    /// The cause a refused call's message names, or failing that its error code (an
    /// `AccessDeniedException` whose message says no more is still a denial); the role, key and
    /// principal come from the message, AWS's own words.
    pub fn of_refusal(message: &str, code: Option<&str>) -> Self {
        let lower = message.to_ascii_lowercase();
        let code = code.unwrap_or_default().to_ascii_lowercase();
        let has = |markers: &[&str]| markers.iter().any(|marker| lower.contains(marker) || code.contains(marker));
        if has(&["iam:passrole"]) {
            return Self::PassRole { role: after(message, "on resource: "), principal: principal(message) };
        }
        if has(&["same organization", "cross-account copy feature is not enabled"]) {
            return Self::Organization;
        }
        if has(&["service managed key", "aws managed key", "ebs default key"]) {
            return Self::ManagedKey;
        }
        if has(&["kms", "key id", "encryption key", "key is disabled", "pending deletion"]) {
            return Self::KmsKey { key: kms_key(message), principal: principal(message) };
        }
        if has(&["trying to call aws backup", "copyintobackupvault", "vault access policy"]) {
            return Self::VaultAccessPolicy;
        }
        if has(&["not within the range", "retention"]) {
            return Self::Retention;
        }
        if has(&[
            "limit",
            "quota",
            "too many",
            "maximum",
            "cannot create more than",
            "can have at most",
            "must not have more than",
        ]) {
            return Self::Quota;
        }
        if has(&["not supported", "unsupported", "cannot be copied"]) {
            return Self::Unsupported;
        }
        if has(&["access denied", "accessdenied", "not authorized", "unauthorized", "permission", "cannot be assumed"])
        {
            return Self::Permissions { principal: principal(message) };
        }
        Self::Unknown
    }
}

/// The word after `marker`, without trailing punctuation.
fn after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let word: &str = message[start..].split_whitespace().next()?;
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', ']', '"', '\'']);
    (!word.is_empty()).then(|| word.to_owned())
}

/// The principal of IAM's and KMS's "User: <arn> is not authorized to perform: ..." texts.
fn principal(message: &str) -> Option<String> {
    after(message, "User: ").filter(|principal| principal.starts_with("arn:"))
}

/// The first KMS key ARN in the message (`arn:<partition>:kms:<region>:<account>:key/...`).
fn kms_key(message: &str) -> Option<String> {
    message
        .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | '"' | '\'' | ',' | ';'))
        .map(|word| word.trim_end_matches('.'))
        .find(|word| {
            let parts: Vec<&str> = word.splitn(6, ':').collect();
            matches!(parts.as_slice(), ["arn", _, "kms", _, _, rest] if rest.starts_with("key/") || rest.starts_with("alias/"))
        })
        .map(str::to_owned)
}

/// What to do about an alert: a short topic (a keyword), the steps, and the resources they name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advice {
    pub topic: &'static str,
    pub steps: Vec<String>,
    /// Resources the steps name beyond the alert's own (a KMS key, a role).
    pub resources: Vec<String>,
    /// Whether starting the copy again by hand can work once the steps are done.
    pub copy_again: bool,
}

/// The advice for an alert.
pub fn advise(alert: &Alert) -> Advice {
    let destination = &alert.destination_vault;
    let role = alert.role.as_ref().map(|role| role.as_str());
    let mut advice = Advice { copy_again: true, ..Advice::default() };
    match &alert.reason {
        AlertReason::NotCopyable(why) => not_copyable(why, &mut advice),
        AlertReason::DestinationNotAllowed => {
            advice.topic = "copy targets";
            advice.steps.push(format!(
                "Destination vault `{destination}` is outside vaultwatch's allowed copy targets: add it (or a \
                 matching pattern) to the template parameter AllowedCopyTargets (COPY_TARGETS), or fix the route \
                 or plan rule that sends copies there."
            ));
        }
        AlertReason::RoleNotPassable { role: job_role } => {
            advice.topic = "role not passable";
            let named = job_role.as_ref().map_or("(none reported)", |role| role.as_str());
            advice.steps.push(format!(
                "The copy ran with role `{named}`, which vaultwatch may not pass: add it to the template parameter \
                 PassableRoleArns (PASSABLE_ROLE_ARNS), or set BackupRoleArn (COPY_ROLE_ARN) for vaultwatch to retry \
                 with."
            ));
            advice.resources.extend(job_role.iter().map(|role| role.as_str().to_owned()));
        }
        AlertReason::RoleRefused { role: refused, refusal } => {
            pass_role(Some(refused.as_str()), principal(&refusal.message).as_deref(), &mut advice);
        }
        AlertReason::AttemptsExhausted { status_message } => {
            from_cause(status_message, None, alert, role, Some(alert.attempts), &mut advice);
        }
        AlertReason::CongestionPersists { status_message } => {
            from_cause(status_message, None, alert, role, Some(alert.attempts), &mut advice);
            // vaultwatch is still retrying: a copy started by hand would be a second one.
            advice.copy_again = false;
        }
        AlertReason::PermanentFailure { status_message } | AlertReason::UnrecognisedFailure { status_message, .. } => {
            from_cause(status_message, None, alert, role, None, &mut advice);
        }
        AlertReason::RetryRejected { refusal } | AlertReason::CopyRefused { refusal } => {
            from_cause(&refusal.message, refusal.code.as_deref(), alert, role, None, &mut advice);
        }
        AlertReason::AirGappedCopyFailed { status_message, .. } => {
            from_cause(status_message, None, alert, role, None, &mut advice);
            // The source is AWS Backup's temporary recovery point: a copy of it by hand races its
            // deletion; a new backup to the air-gapped vault is the way to a good copy.
            advice.copy_again = false;
            advice.steps.push(format!(
                "Then back the resource up to `{}` again: an on-demand backup naming it as the logically \
                 air-gapped vault, or the plan's next scheduled backup. The failed backup's temporary recovery \
                 point is AWS Backup's to delete.",
                alert.destination_vault
            ));
        }
    }
    advice
}

/// Advice from AWS's message (and error code, for a refused call), whatever the alert's reason.
/// `exhausted` is the number of attempts when every allowed retry failed.
fn from_cause(
    message: &str,
    code: Option<&str>,
    alert: &Alert,
    role: Option<&str>,
    exhausted: Option<u32>,
    advice: &mut Advice,
) {
    let source_account = alert.source_vault.account();
    let destination = &alert.destination_vault;
    let cross_account = source_account != destination.account();
    let who = |principal: Option<&str>| {
        principal.or(role).map_or_else(|| "the role the copy ran with".to_owned(), |p| format!("`{p}`"))
    };
    match Cause::of_refusal(message, code) {
        Cause::PassRole { role: named, principal } => {
            pass_role(named.as_deref().or(role), principal.as_deref(), advice)
        }
        Cause::Organization => {
            advice.topic = "organization";
            advice.steps.push(format!(
                "Cross-account copies need both accounts ({source_account} and {}) in the same AWS Organization, \
                 with cross-account backup turned on for the organization (AWS Backup settings).",
                destination.account()
            ));
        }
        Cause::ManagedKey => {
            advice.topic = "kms key";
            advice.steps.push(
                "The source or the destination is encrypted with an AWS managed (default) key, which AWS Backup \
                 cannot copy with: encrypt the destination vault (or the resource) with a customer managed KMS key."
                    .to_owned(),
            );
        }
        Cause::KmsKey { key, principal } => {
            advice.topic = "kms key";
            let key_named = key.as_deref().map_or_else(
                || "the KMS key of the source or the destination".to_owned(),
                |key| format!("KMS key `{key}`"),
            );
            advice.steps.push(format!("Make sure {key_named} is enabled and not pending deletion."));
            let shared = if cross_account {
                format!(
                    "; for this cross-account copy it must be a customer managed key that also allows account {}",
                    destination.account()
                )
            } else {
                String::new()
            };
            advice
                .steps
                .push(format!("Its key policy (or a grant) must let {} use it{shared}.", who(principal.as_deref())));
            advice.resources.extend(key);
            advice.resources.extend(principal);
        }
        Cause::VaultAccessPolicy => {
            advice.topic = "vault access policy";
            advice.steps.push(format!(
                "The access policy of destination vault `{destination}` must allow `backup:CopyIntoBackupVault` for \
                 account {source_account} (or its organization)."
            ));
        }
        Cause::Retention => {
            advice.topic = "vault lock";
            advice.steps.push(format!(
                "The copy's retention is outside the range the Vault Lock of `{}` allows: change the lifecycle of \
                 the route or plan rule, or the lock's minimum and maximum retention.",
                destination.vault_name()
            ));
        }
        Cause::Quota => {
            advice.topic = "quota";
            advice.steps.push(format!(
                "A quota or limit stopped the copy (AWS said: \"{}\"): wait for running jobs, clean up, or request \
                 an increase in Service Quotas.",
                quote(message)
            ));
        }
        Cause::Unsupported => {
            advice.topic = "not supported";
            advice.copy_again = false;
            advice.steps.push(format!(
                "AWS Backup does not copy this recovery point this way (AWS said: \"{}\"): check AWS Backup's \
                 feature availability for the resource type, or copy to another vault.",
                quote(message)
            ));
        }
        Cause::Permissions { principal } => {
            advice.topic = "permissions";
            let for_account = if cross_account { format!(" for account {source_account}") } else { String::new() };
            advice.steps.push(format!(
                "Access was denied (AWS said: \"{}\"): check that {} may copy, and that the access policy of \
                 `{destination}` allows `backup:CopyIntoBackupVault`{for_account}.",
                quote(message),
                who(principal.as_deref())
            ));
            advice.resources.extend(principal);
        }
        Cause::Unknown => match exhausted {
            Some(attempts) => {
                advice.topic = "attempts exhausted";
                advice.steps.push(format!(
                    "The failure looked passing, but all {attempts} attempts failed; AWS Backup said: \"{}\". Look \
                     at the copy job in the AWS Backup console.",
                    quote(message)
                ));
            }
            None => {
                advice.topic = "unrecognised";
                advice.steps.push(format!(
                    "vaultwatch does not recognise this failure; AWS Backup said: \"{}\". Look at the copy job in \
                     the AWS Backup console.",
                    quote(message)
                ));
            }
        },
    }
}

fn pass_role(role: Option<&str>, principal: Option<&str>, advice: &mut Advice) {
    advice.topic = "role not passable";
    let role_named = role.map_or_else(|| "the copy's role".to_owned(), |role| format!("role `{role}`"));
    let who = principal.map_or_else(|| "vaultwatch".to_owned(), |p| format!("`{p}`"));
    advice.steps.push(format!(
        "{who} may not pass {role_named} to AWS Backup (`iam:PassRole`, parameter IamRoleArn of StartCopyJob): \
         add the role to the template parameter PassableRoleArns, or copy with a role it may pass."
    ));
    advice.resources.extend(role.map(str::to_owned));
    advice.resources.extend(principal.map(str::to_owned));
}

fn not_copyable(why: &NotCopyable, advice: &mut Advice) {
    advice.topic = "not copyable";
    advice.copy_again = false;
    let step = match why {
        NotCopyable::Continuous => {
            "A continuous (point-in-time) recovery point cannot be copied on demand (StartCopyJob): copy a \
             snapshot recovery point of the resource, or let a plan rule's copy action copy it."
        }
        NotCopyable::ColdStorage | NotCopyable::ColdBeforeRetry { .. } => {
            "Recovery points in cold storage cannot be copied: copy a newer warm recovery point, and keep points \
             warm long enough to be copied (the lifecycle's MoveToColdStorageAfterDays)."
        }
        NotCopyable::Deleted | NotCopyable::DeletedBeforeRetry { .. } => {
            "The source recovery point is gone (deleted or expired): nothing is left to copy. Make sure a newer \
             backup of the resource was copied, and that the source keeps points long enough to be copied."
        }
    };
    advice.steps.push(step.to_owned());
}

/// AWS's text for a step, short enough to leave room for the advice around it.
fn quote(message: &str) -> String {
    super::chatbot::truncate_chars(message.trim(), 160)
}

/// The manual copy that makes a failed one good, with the role left for the operator to choose
/// when the alert names none, and the lifecycle the copy should have (a copy without one is kept
/// forever, or refused by a locked vault whose MaxRetentionDays it exceeds): `--lifecycle` in the
/// AWS CLI's JSON form, single-quoted for a POSIX shell (the JSON has numbers and booleans only).
pub fn copy_command(alert: &Alert) -> Option<String> {
    let recovery_point = alert.recovery_point.as_ref()?;
    let role = alert.role.as_ref().map_or("<role AWS Backup copies with>", |role| role.as_str());
    let mut command = format!(
        "aws backup start-copy-job --recovery-point-arn {recovery_point} --source-backup-vault-name {} \
         --destination-backup-vault-arn {} --iam-role-arn {role}",
        alert.source_vault.vault_name(),
        alert.destination_vault
    );
    if let Some(lifecycle) = alert.lifecycle.map(Lifecycle::as_input).filter(|l| !l.is_empty()) {
        let _ = write!(command, " --lifecycle '{}'", lifecycle_json(&lifecycle));
    }
    Some(command)
}

/// A lifecycle as StartCopyJob's `Lifecycle` member spells it (the API's member names).
fn lifecycle_json(lifecycle: &Lifecycle) -> String {
    let mut members = serde_json::Map::new();
    if let Some(days) = lifecycle.move_to_cold_storage_after_days {
        members.insert("MoveToColdStorageAfterDays".into(), days.into());
    }
    if let Some(days) = lifecycle.delete_after_days {
        members.insert("DeleteAfterDays".into(), days.into());
    }
    if let Some(opt_in) = lifecycle.opt_in_to_archive_for_supported_resources {
        members.insert("OptInToArchiveForSupportedResources".into(), opt_in.into());
    }
    serde_json::Value::Object(members).to_string()
}

/// A vault's short name and region, as titles say it.
pub(crate) fn vault_label(vault: &BackupVaultArn) -> String {
    format!("{} ({})", vault.vault_name(), vault.region())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key_and_principal_aws_names() {
        let kms = "User: arn:aws:sts::111122223333:assumed-role/AWSBackupDefaultServiceRole/AWSBackup-x is not \
                   authorized to perform: kms:CreateGrant on resource: arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab \
                   because no resource-based policy allows the kms:CreateGrant action";
        assert_eq!(
            Cause::of(kms),
            Cause::KmsKey {
                key: Some("arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab".into()),
                principal: Some(
                    "arn:aws:sts::111122223333:assumed-role/AWSBackupDefaultServiceRole/AWSBackup-x".into()
                ),
            }
        );
        let rds = "The source snapshot KMS key [arn:aws:kms:us-east-1:123456789012:key/abc] does not exist, is not \
                   enabled or you do not have permissions to access it.";
        assert!(matches!(Cause::of(rds), Cause::KmsKey { key: Some(k), principal: None } if k.ends_with("key/abc")));
        let pass = "User: arn:aws:sts::123456789012:assumed-role/vaultwatch/f is not authorized to perform: \
                    iam:PassRole on resource: arn:aws:iam::123456789012:role/plan-role";
        assert_eq!(
            Cause::of(pass),
            Cause::PassRole {
                role: Some("arn:aws:iam::123456789012:role/plan-role".into()),
                principal: Some("arn:aws:sts::123456789012:assumed-role/vaultwatch/f".into()),
            }
        );
    }

    #[test]
    fn reads_the_documented_failure_messages() {
        let cases = [
            ("Copy job failed. Both source and destination account must be a member of the same organization.", Cause::Organization),
            ("Copy job failed. Cross-account copy feature is not enabled for the current organization.", Cause::Organization),
            (
                "Copy job failed because the destination Backup vault is encrypted with the default Backup service \
                 managed key. The contents of this vault cannot be copied. Only the contents of a Backup vault \
                 encrypted by an AWS KMS key may be copied.",
                Cause::ManagedKey,
            ),
            ("Encrypted snapshots with Amazon EBS default key cannot be shared", Cause::ManagedKey),
            ("Given key ID is not accessible", Cause::KmsKey { key: None, principal: None }),
            (
                "KMS key is either disabled or pending deletion or access to KMS key is denied",
                Cause::KmsKey { key: None, principal: None },
            ),
            ("Access Denied trying to call AWS Backup service", Cause::VaultAccessPolicy),
            (
                "Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault.",
                Cause::Retention,
            ),
            ("Maximum allowed active snapshot limit exceeded.", Cause::Quota),
            ("There are too many copy jobs running for resource.", Cause::Quota),
            ("Images from AWS Marketplace cannot be copied to another AWS account.", Cause::Unsupported),
            ("You are not authorized to perform this operation.", Cause::Permissions { principal: None }),
            ("Copy job encountered a fatal error.", Cause::Unknown),
        ];
        for (message, cause) in cases {
            assert_eq!(Cause::of(message), cause, "{message}");
        }
    }
}
