//! The alert an operator receives when a copy cannot be made good automatically.

use std::fmt::Write as _;

use super::{BackupVaultArn, CopyJobId, ResourceArn};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertReason {
    /// The failure cannot be fixed by retrying (access, KMS, invalid parameters, something gone).
    PermanentFailure { status_message: String },
    /// Every allowed retry failed.
    AttemptsExhausted { status_message: String },
    /// AWS Backup refused to start the retry itself.
    RetryRejected { error: String },
}

impl AlertReason {
    pub fn summary(&self) -> &'static str {
        match self {
            Self::PermanentFailure { .. } => "failed permanently",
            Self::AttemptsExhausted { .. } => "failed after all retries",
            Self::RetryRejected { .. } => "could not be retried",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Self::PermanentFailure { status_message } | Self::AttemptsExhausted { status_message } => status_message,
            Self::RetryRejected { error } => error,
        }
    }
}

/// One alert per failed chain of copy jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The last failed job of the chain.
    pub copy_job: CopyJobId,
    /// The chain's original job.
    pub original_job: CopyJobId,
    pub resource: Option<ResourceArn>,
    pub source_vault: BackupVaultArn,
    pub destination_vault: BackupVaultArn,
    pub reason: AlertReason,
    /// Copy attempts made in the chain, the original included.
    pub attempts: u32,
}

impl Alert {
    /// SNS subjects are limited to 100 characters.
    pub fn subject(&self) -> String {
        let mut subject =
            format!("vaultwatch: copy to {} {}", self.destination_vault.vault_name(), self.reason.summary());
        subject.truncate(100);
        subject
    }

    pub fn body(&self) -> String {
        let mut body = String::new();
        let resource = self.resource.as_ref().map(ResourceArn::as_str).unwrap_or("unknown");
        let _ = writeln!(body, "An AWS Backup copy job {}.", self.reason.summary());
        let _ = writeln!(body);
        let _ = writeln!(body, "Copy job:          {}", self.copy_job);
        let _ = writeln!(body, "Original job:      {}", self.original_job);
        let _ = writeln!(body, "Resource:          {resource}");
        let _ = writeln!(body, "Source vault:      {}", self.source_vault);
        let _ = writeln!(body, "Destination vault: {}", self.destination_vault);
        let _ = writeln!(body, "Attempts:          {}", self.attempts);
        let _ = writeln!(body, "Reason:            {}", self.reason.detail());
        body
    }
}
