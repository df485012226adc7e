//! The alert an operator receives when a copy cannot be made good automatically.

use std::fmt::Write as _;

use super::{BackupVaultArn, CopyJobId, IamRoleArn, NotCopyable, RecoveryPointArn, ResourceArn};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertReason {
    /// The failure cannot be fixed by retrying (access, KMS, invalid parameters, something gone).
    PermanentFailure { status_message: String },
    /// Every allowed retry failed.
    AttemptsExhausted { status_message: String },
    /// Neither AWS's message category nor its message said whether a retry can help; the one
    /// retry an unrecognised failure gets failed too (or it was not retried).
    UnrecognisedFailure { status_message: String, message_category: Option<String> },
    /// AWS Backup refused to start the retry itself.
    RetryRejected { error: String },
    /// AWS Backup refused to start a routed copy the reconciler found missing.
    CopyRefused { error: String },
    /// The source recovery point cannot be copied (continuous, cold, deleted, expiring).
    NotCopyable(NotCopyable),
    /// The failed job's role may not be passed (`PASSABLE_ROLE_ARNS`) and no fallback role is set.
    RoleNotPassable { role: Option<IamRoleArn> },
    /// IAM refused to let the function pass the role to AWS Backup (`iam:PassRole`).
    RoleRefused { role: IamRoleArn, error: String },
    /// The destination is outside the copy targets the functions are allowed (`COPY_TARGETS`).
    DestinationNotAllowed,
}

impl AlertReason {
    pub fn summary(&self) -> &'static str {
        match self {
            Self::PermanentFailure { .. } => "failed permanently",
            Self::AttemptsExhausted { .. } => "failed after all retries",
            Self::UnrecognisedFailure { .. } => "failed for an unrecognised reason",
            Self::RetryRejected { .. } => "could not be retried",
            Self::CopyRefused { .. } => "could not be started",
            Self::NotCopyable(_) => "cannot be copied",
            Self::RoleNotPassable { .. } | Self::RoleRefused { .. } => "cannot be retried with a passable role",
            Self::DestinationNotAllowed => "goes to a destination vaultwatch may not copy to",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Self::PermanentFailure { status_message } | Self::AttemptsExhausted { status_message } => {
                status_message.clone()
            }
            Self::UnrecognisedFailure { status_message, message_category } => format!(
                "unrecognised failure (message category {}); AWS Backup said: {status_message}",
                message_category.as_deref().unwrap_or("none")
            ),
            Self::RetryRejected { error } | Self::CopyRefused { error } => error.clone(),
            Self::NotCopyable(why) => why.to_string(),
            Self::RoleNotPassable { role } => format!(
                "the job's role {} is not in PASSABLE_ROLE_ARNS (template parameter PassableRoleArns) and no \
                 COPY_ROLE_ARN is configured",
                role.as_ref().map_or("(none reported)", IamRoleArn::as_str)
            ),
            Self::RoleRefused { role, error } => format!(
                "the function may not pass role {role} to AWS Backup (iam:PassRole): add it to PassableRoleArns; \
                 AWS said: {error}"
            ),
            Self::DestinationNotAllowed => {
                "the destination vault is not in COPY_TARGETS (template parameter AllowedCopyTargets)".to_owned()
            }
        }
    }

    /// What was alerted, short: the handler's outcome and (after "alerted: ") the job's record.
    pub fn label(&self) -> String {
        match self {
            Self::PermanentFailure { .. } => "permanent failure".into(),
            Self::AttemptsExhausted { .. } => "attempts exhausted".into(),
            Self::UnrecognisedFailure { .. } => "unrecognised failure".into(),
            Self::RetryRejected { .. } => "retry rejected".into(),
            Self::CopyRefused { .. } => "copy refused".into(),
            Self::NotCopyable(why) => why.to_string(),
            Self::RoleNotPassable { .. } | Self::RoleRefused { .. } => "role not passable".into(),
            Self::DestinationNotAllowed => "destination not allowed".into(),
        }
    }
}

/// One alert per failed chain of copy jobs (or per routed copy AWS Backup refused to start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The last failed job of the chain; none when no copy job was ever started.
    pub copy_job: Option<CopyJobId>,
    /// The chain's original job.
    pub original_job: Option<CopyJobId>,
    pub recovery_point: Option<RecoveryPointArn>,
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
        fn or_none(value: Option<&str>) -> &str {
            value.unwrap_or("none")
        }
        let mut body = String::new();
        let _ = writeln!(body, "An AWS Backup copy {}.", self.reason.summary());
        let _ = writeln!(body);
        let _ = writeln!(body, "Copy job:          {}", or_none(self.copy_job.as_ref().map(CopyJobId::as_str)));
        let _ = writeln!(body, "Original job:      {}", or_none(self.original_job.as_ref().map(CopyJobId::as_str)));
        let _ = writeln!(
            body,
            "Recovery point:    {}",
            or_none(self.recovery_point.as_ref().map(RecoveryPointArn::as_str))
        );
        let _ = writeln!(body, "Resource:          {}", or_none(self.resource.as_ref().map(ResourceArn::as_str)));
        let _ = writeln!(body, "Source vault:      {}", self.source_vault);
        let _ = writeln!(body, "Destination vault: {}", self.destination_vault);
        let _ = writeln!(body, "Attempts:          {}", self.attempts);
        let _ = writeln!(body, "Reason:            {}", self.reason.detail());
        body
    }
}
