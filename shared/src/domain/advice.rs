//! What an alert asks the operator to do, from its cause: the one the classifier reads from AWS's
//! own words (the copy job's status message and category, or a refused call's error code and
//! message; `failure.rs`), never a second reading of them. What each message means, and the grants
//! a copy needs, are in docs/aws-facts.md#failure-messages and docs/aws-facts.md#iam-for-startcopyjob.

use std::fmt::Write as _;

use super::failure::principal;
use super::{Alert, AlertReason, BackupVaultArn, Cause, Lifecycle, NotCopyable, PathCause, PointCause, TransientCause};

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
        AlertReason::AttemptsExhausted { status_message, cause } => {
            let attempts = alert.attempts;
            from_cause(cause, status_message, alert, role, Chain::Ended { attempts }, &mut advice);
        }
        AlertReason::CongestionPersists { status_message, cause } => {
            let attempts = alert.attempts;
            from_cause(cause, status_message, alert, role, Chain::Retrying { attempts }, &mut advice);
            // vaultwatch is still retrying: a copy started by hand would be a second one.
            advice.copy_again = false;
        }
        AlertReason::PermanentFailure { status_message, cause } => {
            from_cause(cause, status_message, alert, role, Chain::Once, &mut advice);
        }
        AlertReason::UnrecognisedFailure { status_message, .. } => {
            from_cause(&Cause::Unrecognised, status_message, alert, role, Chain::Once, &mut advice);
        }
        AlertReason::RetryRejected { refusal } | AlertReason::CopyRefused { refusal } => {
            from_cause(&refusal.cause(), &refusal.message, alert, role, Chain::Once, &mut advice);
        }
        AlertReason::AirGappedCopyFailed { status_message, cause, .. } => {
            from_cause(cause, status_message, alert, role, Chain::Once, &mut advice);
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

/// Where the chain of retries stands when the alert goes out.
#[derive(Clone, Copy)]
enum Chain {
    /// Alerted on its first failure (or on a refusal): no retry could help, or none was made.
    Once,
    /// Every allowed attempt failed: the chain has ended.
    Ended { attempts: u32 },
    /// Told while vaultwatch goes on retrying (congestion past its budget).
    Retrying { attempts: u32 },
}

/// Advice from the failure's cause (AWS's message quoted where the cause says no more).
fn from_cause(cause: &Cause, message: &str, alert: &Alert, role: Option<&str>, chain: Chain, advice: &mut Advice) {
    let source_account = alert.source_vault.account();
    let destination = &alert.destination_vault;
    let cross_account = source_account != destination.account();
    let who = |principal: Option<&str>| {
        principal.or(role).map_or_else(|| "the role the copy ran with".to_owned(), |p| format!("`{p}`"))
    };
    match cause {
        Cause::Path(PathCause::PassRole { role: named, principal }) => {
            pass_role(named.as_deref().or(role), principal.as_deref(), advice)
        }
        Cause::Path(PathCause::Organization) => {
            advice.topic = "organization";
            advice.steps.push(format!(
                "Cross-account copies need both accounts ({source_account} and {}) in the same AWS Organization, \
                 with cross-account backup turned on for the organization (AWS Backup settings).",
                destination.account()
            ));
        }
        Cause::Path(PathCause::ManagedKey) => {
            advice.topic = "kms key";
            advice.steps.push(
                "The source or the destination is encrypted with an AWS managed (default) key, which AWS Backup \
                 cannot copy with: encrypt the destination vault (or the resource) with a customer managed KMS key."
                    .to_owned(),
            );
        }
        Cause::Path(PathCause::KmsKey { key, principal }) => {
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
            advice.resources.extend(key.clone());
            advice.resources.extend(principal.clone());
        }
        Cause::Path(PathCause::VaultAccessPolicy) => {
            advice.topic = "vault access policy";
            advice.steps.push(format!(
                "The access policy of destination vault `{destination}` must allow `backup:CopyIntoBackupVault` for \
                 account {source_account} (or its organization)."
            ));
        }
        Cause::Path(PathCause::Retention) => {
            advice.topic = "vault lock";
            advice.steps.push(format!(
                "The copy's retention is outside the range the Vault Lock of `{}` allows: change the lifecycle of \
                 the route or plan rule, or the lock's minimum and maximum retention.",
                destination.vault_name()
            ));
        }
        Cause::Path(PathCause::Unsupported) => {
            advice.topic = "not supported";
            advice.copy_again = false;
            advice.steps.push(format!(
                "AWS Backup does not copy this recovery point this way (AWS said: \"{}\"): check AWS Backup's \
                 feature availability for the resource type, or copy to another vault.",
                quote(message)
            ));
        }
        Cause::Path(PathCause::Access { principal }) => {
            advice.topic = "permissions";
            let for_account = if cross_account { format!(" for account {source_account}") } else { String::new() };
            advice.steps.push(format!(
                "Access was denied (AWS said: \"{}\"): check that {} may copy, and that the access policy of \
                 `{destination}` allows `backup:CopyIntoBackupVault`{for_account}.",
                quote(message),
                who(principal.as_deref())
            ));
            advice.resources.extend(principal.clone());
        }
        Cause::RecoveryPoint(PointCause::Gone) => not_copyable(&NotCopyable::Deleted, advice),
        Cause::RecoveryPoint(PointCause::ColdStorage) => not_copyable(&NotCopyable::ColdStorage, advice),
        Cause::RecoveryPoint(PointCause::Continuous) => not_copyable(&NotCopyable::Continuous, advice),
        Cause::RecoveryPoint(PointCause::CompositeChild) => {
            advice.topic = "composite";
            advice.copy_again = false;
            advice.steps.push(
                "This is a nested job of a composite copy: its parent's copy is retried or alerted whole.".to_owned(),
            );
        }
        Cause::RecoveryPoint(PointCause::TooManyTags) => {
            advice.topic = "tags";
            advice.steps.push(format!(
                "The copy would carry more tags than AWS allows (AWS said: \"{}\"): remove tags from the resource \
                 or its recovery point.",
                quote(message)
            ));
        }
        Cause::Quota => {
            advice.topic = "quota";
            advice.steps.push(format!(
                "A quota stopped the copy (AWS said: \"{}\"): clean up, or request an increase in Service Quotas.",
                quote(message)
            ));
        }
        Cause::Invalid => {
            advice.topic = "invalid request";
            advice.steps.push(format!(
                "AWS Backup refused the copy as invalid (AWS said: \"{}\"): check the vaults, role and lifecycle of \
                 the route or plan rule it came from.",
                quote(message)
            ));
        }
        Cause::Transient(transient) => {
            let (topic, what) = match transient {
                TransientCause::Throttled => ("throttling", "AWS throttled the copy"),
                TransientCause::Limit => ("limits", "AWS Backup's concurrency limits held the copy back"),
                TransientCause::ServiceError => ("service error", "AWS Backup met an error of its own"),
                TransientCause::Busy => ("busy", "The vault or resource was busy"),
            };
            advice.topic = topic;
            let how_long = match chain {
                Chain::Retrying { attempts } => format!(
                    "{attempts} attempts so far, and vaultwatch keeps retrying: a message follows in this thread \
                     when a copy completes"
                ),
                Chain::Ended { attempts } => format!("the failure looked passing, but all {attempts} attempts failed"),
                Chain::Once => "it may pass on its own".to_owned(),
            };
            advice.steps.push(format!("{what} (AWS said: \"{}\"); {how_long}.", quote(message)));
            if let TransientCause::Limit = transient {
                advice.steps.push(
                    "If it recurs, start fewer copies at once (spread the plans' start times), or request a higher \
                     quota where Service Quotas allows one."
                        .to_owned(),
                );
            }
            if !matches!(chain, Chain::Retrying { .. }) {
                advice.steps.push("Look at the copy job in the AWS Backup console.".to_owned());
            }
        }
        Cause::Unrecognised => {
            advice.topic = "unrecognised";
            let retrying = match chain {
                Chain::Retrying { attempts } => format!(" ({attempts} attempts so far, and vaultwatch keeps retrying)"),
                Chain::Ended { attempts } => format!(" (all {attempts} attempts failed)"),
                Chain::Once => String::new(),
            };
            advice.steps.push(format!(
                "vaultwatch does not recognise this failure{retrying}; AWS Backup said: \"{}\". Look at the copy job \
                 in the AWS Backup console.",
                quote(message)
            ));
        }
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
