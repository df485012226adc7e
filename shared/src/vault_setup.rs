//! Wiring backup vaults to the vault event topic without breaking what is already there.
//!
//! AWS Backup's PutBackupVaultNotifications replaces a vault's whole configuration (topic and event
//! list), so a careless setup would silently drop events other tools rely on. This reads each
//! vault's configuration, merges in the events vaultwatch needs, refuses to take over a vault that
//! notifies a different topic unless told to, and writes only when something changes.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

use crate::domain::{TopicArn, VaultName};
use crate::ports::AwsError;

/// The vault events vaultwatch's functions consume.
pub const REQUIRED_EVENTS: [&str; 4] =
    ["BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"];

/// Event names the API model still lists but AWS Backup no longer uses ("Deprecated events do not
/// return statuses or notifications", PutBackupVaultNotifications; docs/aws-facts.md#vault-events).
/// PutBackupVaultNotifications refuses them, so a merge drops them instead of failing the update.
pub const DEPRECATED_EVENTS: [&str; 7] = [
    "BACKUP_JOB_SUCCESSFUL",
    "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED",
    "RESTORE_JOB_SUCCESSFUL",
    "RESTORE_JOB_FAILED",
    "BACKUP_PLAN_CREATED",
    "BACKUP_PLAN_MODIFIED",
];

/// A vault's notification configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultNotifications {
    pub topic: String,
    pub events: BTreeSet<String>,
}

/// The part of AWS Backup the setup needs.
pub trait VaultNotificationsApi: Send + Sync {
    fn vault_exists(&self, vault: &VaultName) -> impl Future<Output = Result<bool, AwsError>> + Send;
    /// `None` when the vault has no notification configuration.
    fn get_notifications(
        &self,
        vault: &VaultName,
    ) -> impl Future<Output = Result<Option<VaultNotifications>, AwsError>> + Send;
    fn put_notifications(
        &self,
        vault: &VaultName,
        notifications: &VaultNotifications,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("vault {0} does not exist (check the name, the region and the account)")]
    UnknownVault(VaultName),
    #[error(
        "vault {vault} already sends its notifications to {existing}; refusing to replace them with {wanted} \
         (pass --replace-topic, or ReplaceTopic: true, to move the vault's notifications to vaultwatch)"
    )]
    ConflictingTopic { vault: VaultName, existing: String, wanted: TopicArn },
    #[error("vault {vault}: {source}")]
    Aws { vault: VaultName, source: AwsError },
}

/// What the setup did, or would do in a dry run, to one vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultChange {
    pub vault: VaultName,
    pub before: Option<VaultNotifications>,
    /// `None` when the vault already had everything vaultwatch needs.
    pub after: Option<VaultNotifications>,
    pub written: bool,
}

impl VaultChange {
    /// Deprecated events the vault had, which the new configuration leaves out.
    pub fn dropped(&self) -> Vec<&str> {
        let Some(after) = &self.after else { return Vec::new() };
        let before = self.before.as_ref().map(|b| &b.events);
        before.into_iter().flatten().filter(|event| !after.events.contains(*event)).map(String::as_str).collect()
    }
}

impl fmt::Display for VaultChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(after) = &self.after else {
            return write!(
                f,
                "{}: unchanged (already notifies {} of every event vaultwatch needs)",
                self.vault,
                self.before.as_ref().map_or("-", |b| b.topic.as_str())
            );
        };
        let verb = if self.written { "updated" } else { "would update (dry run)" };
        let before_events = self.before.as_ref().map(|b| b.events.clone()).unwrap_or_default();
        let added: Vec<_> = after.events.difference(&before_events).map(String::as_str).collect();
        let kept: Vec<_> = before_events.intersection(&after.events).map(String::as_str).collect();
        let dropped = self.dropped();
        write!(f, "{}: {verb}: topic {}", self.vault, after.topic)?;
        if let Some(before) = self.before.as_ref().filter(|b| b.topic != after.topic) {
            write!(f, " (was {})", before.topic)?;
        }
        write!(f, "; adds {}", if added.is_empty() { "nothing".into() } else { added.join(", ") })?;
        if !kept.is_empty() {
            write!(f, "; keeps {}", kept.join(", "))?;
        }
        if !dropped.is_empty() {
            write!(f, "; drops deprecated {}", dropped.join(", "))?;
        }
        Ok(())
    }
}

/// The configuration a vault should have, or `None` if it already has it.
pub fn merged(
    vault: &VaultName,
    current: Option<&VaultNotifications>,
    topic: &TopicArn,
    replace_topic: bool,
) -> Result<Option<VaultNotifications>, SetupError> {
    let required: BTreeSet<String> = REQUIRED_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    let Some(current) = current else {
        return Ok(Some(VaultNotifications { topic: topic.to_string(), events: required }));
    };
    if current.topic != topic.as_str() && !replace_topic {
        return Err(SetupError::ConflictingTopic {
            vault: vault.clone(),
            existing: current.topic.clone(),
            wanted: topic.clone(),
        });
    }
    let events: BTreeSet<String> = current
        .events
        .iter()
        .filter(|event| !DEPRECATED_EVENTS.contains(&event.as_str()))
        .chain(&required)
        .cloned()
        .collect();
    let wanted = VaultNotifications { topic: topic.to_string(), events };
    Ok((&wanted != current).then_some(wanted))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetupOptions {
    pub dry_run: bool,
    pub replace_topic: bool,
}

/// Configures each vault in turn; every vault is attempted, and each result is reported.
pub async fn configure_vaults<A: VaultNotificationsApi>(
    api: &A,
    vaults: &[VaultName],
    topic: &TopicArn,
    options: SetupOptions,
) -> Vec<Result<VaultChange, SetupError>> {
    let mut results = Vec::with_capacity(vaults.len());
    for vault in vaults {
        results.push(configure_vault(api, vault, topic, options).await);
    }
    results
}

async fn configure_vault<A: VaultNotificationsApi>(
    api: &A,
    vault: &VaultName,
    topic: &TopicArn,
    options: SetupOptions,
) -> Result<VaultChange, SetupError> {
    let aws = |source| SetupError::Aws { vault: vault.clone(), source };
    if !api.vault_exists(vault).await.map_err(aws)? {
        return Err(SetupError::UnknownVault(vault.clone()));
    }
    let before = api.get_notifications(vault).await.map_err(aws)?;
    let after = merged(vault, before.as_ref(), topic, options.replace_topic)?;
    let written = match &after {
        Some(after) if !options.dry_run => {
            api.put_notifications(vault, after).await.map_err(aws)?;
            true
        }
        _ => false,
    };
    let change = VaultChange { vault: vault.clone(), before, after, written };
    let dropped = change.dropped();
    if !dropped.is_empty() {
        tracing::warn!(%vault, dropped = dropped.join(","), "deprecated vault events dropped (AWS Backup refuses them)");
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifications(topic: &str, events: &[&str]) -> VaultNotifications {
        VaultNotifications { topic: topic.into(), events: events.iter().map(|e| (*e).to_owned()).collect() }
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:backup-vault-events";

    #[test]
    fn merging_keeps_existing_events_and_is_a_no_op_when_complete() {
        let vault = VaultName::parse("primary").unwrap();
        let topic = TopicArn::parse(TOPIC).unwrap();
        let current = notifications(TOPIC, &["BACKUP_JOB_STARTED", "COPY_JOB_FAILED"]);
        let after = merged(&vault, Some(&current), &topic, false).unwrap().unwrap();
        assert_eq!(after.events.len(), 5);
        assert!(after.events.contains("BACKUP_JOB_STARTED"));
        assert_eq!(merged(&vault, Some(&after), &topic, false).unwrap(), None);
    }

    #[test]
    fn deprecated_events_are_dropped_and_said() {
        let vault = VaultName::parse("primary").unwrap();
        let topic = TopicArn::parse(TOPIC).unwrap();
        let current = notifications(TOPIC, &["BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED", "RESTORE_JOB_COMPLETED"]);
        let after = merged(&vault, Some(&current), &topic, false).unwrap().unwrap();
        assert!(!after.events.contains("BACKUP_JOB_SUCCESSFUL") && !after.events.contains("BACKUP_JOB_FAILED"));
        assert!(after.events.contains("RESTORE_JOB_COMPLETED") && after.events.contains("COPY_JOB_FAILED"));
        let change = VaultChange { vault, before: Some(current), after: Some(after), written: true };
        assert_eq!(change.dropped(), ["BACKUP_JOB_FAILED", "BACKUP_JOB_SUCCESSFUL"]);
        let line = change.to_string();
        assert!(line.contains("drops deprecated BACKUP_JOB_FAILED, BACKUP_JOB_SUCCESSFUL"), "{line}");
        assert!(line.contains("keeps RESTORE_JOB_COMPLETED;"), "{line}");
    }

    #[test]
    fn another_topic_is_only_replaced_when_asked() {
        let vault = VaultName::parse("primary").unwrap();
        let topic = TopicArn::parse(TOPIC).unwrap();
        let current = notifications("arn:aws:sns:us-east-1:123456789012:someone-else", &["RESTORE_JOB_COMPLETED"]);
        let err = merged(&vault, Some(&current), &topic, false).unwrap_err().to_string();
        assert!(err.contains("someone-else") && err.contains("--replace-topic"), "{err}");
        let replaced = merged(&vault, Some(&current), &topic, true).unwrap().unwrap();
        assert_eq!(replaced.topic, TOPIC);
        assert!(replaced.events.contains("RESTORE_JOB_COMPLETED"));
    }
}

/// Command-line use: `vault-notifications --topic-arn ARN [--dry-run] [--replace-topic] VAULT...`.
pub mod cli {
    use super::{SetupOptions, TopicArn, VaultName};

    pub const USAGE: &str =
        "usage: vault-notifications --topic-arn ARN [--dry-run] [--replace-topic] VAULT [VAULT...]\n\
        Points each vault's AWS Backup notifications at ARN, adding the events vaultwatch needs\n\
        (BACKUP_JOB_COMPLETED, COPY_JOB_STARTED, COPY_JOB_SUCCESSFUL, COPY_JOB_FAILED) to those already set.\n\
        --dry-run        print the changes, write nothing\n\
        --replace-topic  take over vaults that notify another topic (their events are kept)";

    #[derive(Debug, PartialEq, Eq)]
    pub struct Args {
        pub topic: TopicArn,
        pub vaults: Vec<VaultName>,
        pub options: SetupOptions,
    }

    /// Parses the arguments (without the program name); the error is the message to print.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut topic = None;
        let mut vaults = Vec::new();
        let mut options = SetupOptions::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--topic-arn" => {
                    let value = args.next().ok_or("--topic-arn needs a value")?;
                    topic = Some(TopicArn::parse(&value).map_err(|err| format!("--topic-arn: {err}"))?);
                }
                "--dry-run" => options.dry_run = true,
                "--replace-topic" => options.replace_topic = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
                name => vaults.push(VaultName::parse(name).map_err(|err| format!("{name:?}: {err}"))?),
            }
        }
        let topic = topic.ok_or_else(|| format!("--topic-arn is required\n{USAGE}"))?;
        if vaults.is_empty() {
            return Err(format!("name at least one vault\n{USAGE}"));
        }
        Ok(Args { topic, vaults, options })
    }
}

/// CloudFormation custom resource use (`Custom::VaultNotifications`).
pub mod custom_resource {
    use serde_json::{json, Value};

    use super::{configure_vaults, SetupOptions, TopicArn, VaultName, VaultNotificationsApi};

    /// The answer CloudFormation waits for, and where to send it.
    #[derive(Debug, PartialEq)]
    pub struct Response {
        pub url: String,
        pub body: Value,
    }

    /// Handles one request. Create and Update configure the vaults; Delete leaves the vaults'
    /// notifications as they are (other tools may rely on them; events to a deleted topic are
    /// dropped by AWS). Every failure becomes a FAILED response, so the stack never hangs.
    /// Err only when the request has no ResponseURL to answer.
    pub async fn handle<A: VaultNotificationsApi>(api: &A, request: &Value) -> Result<Response, String> {
        let field = |name: &str| request.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let url = field("ResponseURL");
        if url.is_empty() {
            return Err("not a CloudFormation custom resource request: no ResponseURL".into());
        }
        let logical = field("LogicalResourceId");
        let physical = request
            .get("PhysicalResourceId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("vault-notifications-{logical}"));
        let (status, reason, data) = match field("RequestType").as_str() {
            "Delete" => ("SUCCESS", "vault notifications left in place".to_owned(), json!({})),
            "Create" | "Update" => match configure(api, &request["ResourceProperties"]).await {
                Ok(summary) => ("SUCCESS", summary.clone(), json!({ "Summary": summary })),
                Err(reason) => ("FAILED", reason, json!({})),
            },
            other => ("FAILED", format!("unknown RequestType {other:?}"), json!({})),
        };
        let mut reason = reason;
        reason.truncate(3000);
        Ok(Response {
            url,
            body: json!({
                "Status": status,
                "Reason": reason,
                "PhysicalResourceId": physical,
                "StackId": field("StackId"),
                "RequestId": field("RequestId"),
                "LogicalResourceId": logical,
                "Data": data,
            }),
        })
    }

    async fn configure<A: VaultNotificationsApi>(api: &A, properties: &Value) -> Result<String, String> {
        let topic = properties.get("TopicArn").and_then(Value::as_str).ok_or("TopicArn is required")?;
        let topic = TopicArn::parse(topic).map_err(|err| format!("TopicArn: {err}"))?;
        let names: Vec<&str> = match properties.get("VaultNames") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(names)) => names.split(',').collect(),
            _ => return Err("VaultNames is required (a list of vault names)".into()),
        };
        let vaults = names
            .into_iter()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| VaultName::parse(name).map_err(|err| format!("VaultNames: {name:?}: {err}")))
            .collect::<Result<Vec<_>, _>>()?;
        // CloudFormation passes every property as a string.
        let replace_topic = matches!(properties.get("ReplaceTopic"), Some(Value::Bool(true)))
            || properties.get("ReplaceTopic").and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let options = SetupOptions { dry_run: false, replace_topic };
        let results = configure_vaults(api, &vaults, &topic, options).await;
        let lines: Vec<String> =
            results.iter().map(|r| r.as_ref().map_or_else(|e| e.to_string(), |c| c.to_string())).collect();
        if results.iter().any(Result::is_err) {
            Err(lines.join("; "))
        } else {
            Ok(lines.join("; "))
        }
    }
}
