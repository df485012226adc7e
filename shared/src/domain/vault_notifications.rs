//! A vault's notification configuration, and the rule for adding vaultwatch's events to it.
//!
//! AWS Backup's PutBackupVaultNotifications replaces a vault's whole configuration (topic and event
//! list), so a careless setup would silently drop events other tools rely on. The merge keeps every
//! event already set, adds the ones vaultwatch needs, drops only the deprecated ones AWS refuses,
//! and never takes over a vault that notifies another topic unless told to.

use std::collections::BTreeSet;
use std::fmt;

use super::{TopicArn, VaultName};

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

/// The vault notifies another topic, and taking it over was not asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "vault {vault} already sends its notifications to {existing}; refusing to replace them with {wanted} \
     (pass --replace-topic, or ReplaceTopic: true, to move the vault's notifications to vaultwatch)"
)]
pub struct TopicConflict {
    pub vault: VaultName,
    pub existing: String,
    pub wanted: TopicArn,
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
) -> Result<Option<VaultNotifications>, TopicConflict> {
    let required: BTreeSet<String> = REQUIRED_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    let Some(current) = current else {
        return Ok(Some(VaultNotifications { topic: topic.to_string(), events: required }));
    };
    if current.topic != topic.as_str() && !replace_topic {
        return Err(TopicConflict { vault: vault.clone(), existing: current.topic.clone(), wanted: topic.clone() });
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
        // The change line names the topic it replaced, and only then.
        let line =
            VaultChange { vault: vault.clone(), before: Some(current), after: Some(replaced.clone()), written: true };
        assert!(line.to_string().contains(" (was arn:aws:sns:us-east-1:123456789012:someone-else)"), "{line}");
        let same = notifications(TOPIC, &["RESTORE_JOB_COMPLETED"]);
        let line = VaultChange { vault, before: Some(same), after: Some(replaced), written: true };
        assert!(!line.to_string().contains("(was "), "{line}");
    }
}
