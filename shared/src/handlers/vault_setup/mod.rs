//! vault-notifications: points backup vaults' notifications at the vault event topic, keeping what
//! is already there (the merge rule is `domain::merged_notifications`). From a shell it is a command;
//! under Lambda, [`custom_resource`] serves the template's `VaultNotificationsSetup` custom resource.

pub mod custom_resource;

use crate::domain::{merged_notifications, TopicArn, TopicConflict, VaultChange, VaultName};
use crate::ports::{AwsError, VaultNotificationsApi};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetupOptions {
    /// Report the changes, write nothing.
    pub dry_run: bool,
    /// Take over vaults that notify another topic (their events are kept).
    pub replace_topic: bool,
}

/// Why one vault could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("vault {0} does not exist (check the name, the region and the account)")]
    UnknownVault(VaultName),
    #[error(transparent)]
    ConflictingTopic(#[from] TopicConflict),
    #[error("vault {vault}: {source}")]
    Aws { vault: VaultName, source: AwsError },
}

impl SetupError {
    /// The failed AWS call behind this error, if one is.
    pub fn aws_error(&self) -> Option<&AwsError> {
        match self {
            Self::Aws { source, .. } => Some(source),
            _ => None,
        }
    }
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
    let after = merged_notifications(vault, before.as_ref(), topic, options.replace_topic)?;
    let written = match &after {
        Some(after) if !options.dry_run => {
            api.put_notifications(vault, after).await.map_err(aws)?;
            true
        }
        _ => false,
    };
    // The change says which deprecated events it drops: the command prints it, the custom resource
    // returns it to CloudFormation.
    Ok(VaultChange { vault: vault.clone(), before, after, written })
}
