//! The alert an operator receives when a copy cannot be made good automatically, and the message
//! that follows in the same thread when a copy of the same recovery point to the same vault
//! completes after all. Each is published twice over: readable plain text for e-mail, and an AWS
//! Chatbot custom notification for chat channels ([`CustomNotification`]).

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use super::advice::{advise, copy_command, vault_label};
use super::chatbot::{code, truncate_chars, CustomNotification, Thread};
use super::{
    BackupJobId, BackupVaultArn, Cause, CopyJobId, Destination, IamRoleArn, IdempotencyToken, KmsKeyArn, Lifecycle,
    NotCopyable, RecoveryPointArn, ResourceArn, ServiceRefusal,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertReason {
    /// The failure cannot be fixed by retrying (access, KMS, invalid parameters, something gone).
    /// Each failed job's reason carries the cause the retrier classified it by, for the advice.
    PermanentFailure { status_message: String, cause: Cause },
    /// Every allowed retry failed.
    AttemptsExhausted { status_message: String, cause: Cause },
    /// AWS Backup's limits (throttling, concurrent copies) failed every retry of the congestion
    /// budget; the chain goes on retrying (told once, and again only if it ends).
    CongestionPersists { status_message: String, cause: Cause },
    /// Neither AWS's message category nor its message said whether a retry can help; the one
    /// retry an unrecognised failure gets failed too (or it was not retried).
    UnrecognisedFailure { status_message: String, message_category: Option<String> },
    /// AWS Backup refused to start the retry itself.
    RetryRejected { refusal: ServiceRefusal },
    /// AWS Backup refused to start a routed copy the reconciler found missing.
    CopyRefused { refusal: ServiceRefusal },
    /// The source recovery point cannot be copied (continuous, cold, deleted, expiring).
    NotCopyable(NotCopyable),
    /// The failed job's role may not be passed (`PASSABLE_ROLE_ARNS`) and no fallback role is set.
    RoleNotPassable { role: Option<IamRoleArn> },
    /// IAM refused to let the function pass the role to AWS Backup (`iam:PassRole`).
    RoleRefused { role: IamRoleArn, refusal: ServiceRefusal },
    /// The destination is outside the copy targets the functions are allowed (`COPY_TARGETS`).
    DestinationNotAllowed,
    /// AWS Backup's own copy of a backup made to a logically air-gapped vault failed. Its source is
    /// the backup's temporary recovery point, which AWS Backup deletes: vaultwatch does not retry it
    /// (docs/aws-facts.md#logically-air-gapped-vaults).
    AirGappedCopyFailed { status_message: String, backup_job: BackupJobId, cause: Cause },
}

impl AlertReason {
    pub fn summary(&self) -> &'static str {
        match self {
            Self::PermanentFailure { .. } => "failed permanently",
            Self::AttemptsExhausted { .. } => "failed after all retries",
            Self::CongestionPersists { .. } => "is held back by AWS Backup's limits",
            Self::UnrecognisedFailure { .. } => "failed for an unrecognised reason",
            Self::RetryRejected { .. } => "could not be retried",
            Self::CopyRefused { .. } => "could not be started",
            Self::NotCopyable(_) => "cannot be copied",
            Self::RoleNotPassable { .. } | Self::RoleRefused { .. } => "cannot be retried with a passable role",
            Self::DestinationNotAllowed => "goes to a destination vaultwatch may not copy to",
            Self::AirGappedCopyFailed { .. } => "failed (AWS Backup's own copy of an air-gapped backup)",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Self::PermanentFailure { status_message, .. } | Self::AttemptsExhausted { status_message, .. } => {
                status_message.clone()
            }
            Self::CongestionPersists { status_message, .. } => format!(
                "{status_message} (vaultwatch keeps retrying, every 7.5 to 15 minutes for about a day; a message \
                 follows here when the copy completes)"
            ),
            Self::UnrecognisedFailure { status_message, message_category } => format!(
                "unrecognised failure (message category {}); AWS Backup said: {status_message}",
                message_category.as_deref().unwrap_or("none")
            ),
            Self::RetryRejected { refusal } | Self::CopyRefused { refusal } => refusal.to_string(),
            Self::NotCopyable(why) => why.to_string(),
            Self::RoleNotPassable { role } => format!(
                "the job's role {} is not in PASSABLE_ROLE_ARNS (template parameter PassableRoleArns) and no \
                 COPY_ROLE_ARN is configured",
                role.as_ref().map_or("(none reported)", IamRoleArn::as_str)
            ),
            Self::RoleRefused { role, refusal } => format!(
                "the function may not pass role {role} to AWS Backup (iam:PassRole): add it to PassableRoleArns; \
                 AWS said: {refusal}"
            ),
            Self::DestinationNotAllowed => {
                "the destination vault is not in COPY_TARGETS (template parameter AllowedCopyTargets)".to_owned()
            }
            Self::AirGappedCopyFailed { status_message, backup_job, .. } => format!(
                "{status_message} (AWS Backup's own copy of backup job {backup_job} into a logically air-gapped \
                 vault; its source is the backup's temporary recovery point, which AWS Backup deletes, so vaultwatch \
                 does not retry it)"
            ),
        }
    }

    /// What was alerted, short: the handler's outcome and the job's record say it.
    pub fn label(&self) -> String {
        super::AlertKind::from(self).to_string()
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
    /// What AWS reported of the destination (type, lock state, key), when a listing or describe did.
    pub destination: Destination,
    /// The role the copy ran (or was to run) with, when known.
    pub role: Option<IamRoleArn>,
    /// The lifecycle the copy should have: the one a retry would ask for (the job's, else its plan
    /// rule's CopyAction's, else the route's); none when the copy is kept as the vault decides.
    pub lifecycle: Option<Lifecycle>,
    pub reason: AlertReason,
    /// Copy attempts made in the chain, the original included.
    pub attempts: u32,
}

/// SNS subjects "must be ... less than 100 characters long", with no line breaks or control
/// characters (docs/aws-facts.md#sns-publish).
fn sns_subject(subject: &str) -> String {
    let clean: String = subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    truncate_chars(&clean, 99)
}

/// The thread of a copy that has no copy job (a routed copy AWS Backup refused): one per recovery
/// point and destination, stable across sweeps.
fn route_thread(recovery_point: Option<&RecoveryPointArn>, destination: &BackupVaultArn) -> String {
    match recovery_point {
        Some(point) => IdempotencyToken::for_route(point, destination).as_str().to_owned(),
        None => format!("vault-{destination}"),
    }
}

/// The event types of vaultwatch's custom notifications.
pub const ALERT_EVENT_TYPE: &str = "VaultwatchCopyAlert";
pub const RESOLVED_EVENT_TYPE: &str = "VaultwatchCopyResolved";

impl Alert {
    pub fn subject(&self) -> String {
        sns_subject(&format!("vaultwatch: copy to {} {}", self.destination_vault.vault_name(), self.reason.summary()))
    }

    /// The chat thread of the chain: its original copy job, so that the retries' alerts and the
    /// resolution land in one thread; for a copy that never had a job, the recovery point and
    /// destination.
    pub fn thread_id(&self) -> String {
        match self.original_job.as_ref().or(self.copy_job.as_ref()) {
            Some(job) => job.as_str().to_owned(),
            None => route_thread(self.recovery_point.as_ref(), &self.destination_vault),
        }
    }

    /// The readable plain text (the e-mail).
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
        let destination = self.destination.to_string();
        if !destination.is_empty() {
            let _ = writeln!(body, "Destination:       {destination}");
        }
        if let Some(key) = &self.destination.encryption_key {
            let _ = writeln!(body, "Destination key:   {key}");
        }
        let _ = writeln!(body, "Attempts:          {}", self.attempts);
        let _ = writeln!(body, "Reason:            {}", self.reason.detail());
        let advice = advise(self);
        let _ = writeln!(body);
        let _ = writeln!(body, "What to do:");
        for (n, step) in advice.steps.iter().enumerate() {
            let _ = writeln!(body, "  {}. {}", n + 1, step.replace('`', ""));
        }
        if let (true, Some(command)) = (advice.copy_again, copy_command(self)) {
            let _ = writeln!(body, "  {}. Then start the copy again:", advice.steps.len() + 1);
            let _ = writeln!(body, "     {command}");
            let _ = writeln!(body, "     A message in the same thread says when a copy has completed.");
        }
        body
    }

    /// The AWS Chatbot custom notification (chat channels).
    pub fn notification(&self) -> CustomNotification {
        let advice = advise(self);
        let destination = vault_label(&self.destination_vault);
        let summary = format!("Copy to {destination} {}", self.reason.summary());
        let title = format!(":warning: vaultwatch: {summary}");
        let mut description = format!("An AWS Backup copy {}.\n", self.reason.summary());
        let mut line = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                let _ = write!(description, "\n*{name}:* {}", code(value));
            }
        };
        line("Reason", Some(&self.reason.detail()));
        line("Copy job", self.copy_job.as_ref().map(CopyJobId::as_str));
        line("Original job", self.original_job.as_ref().map(CopyJobId::as_str));
        line("Recovery point", self.recovery_point.as_ref().map(RecoveryPointArn::as_str));
        line("Resource", self.resource.as_ref().map(ResourceArn::as_str));
        line("Source vault", Some(self.source_vault.as_str()));
        line("Destination vault", Some(self.destination_vault.as_str()));
        let destination = self.destination.to_string();
        line("Destination", Some(destination.as_str()).filter(|text| !text.is_empty()));
        line("Destination key", self.destination.encryption_key.as_ref().map(KmsKeyArn::as_str));
        line("Role", self.role.as_ref().map(IamRoleArn::as_str));
        let _ = write!(description, "\n*Attempts:* {}", self.attempts);
        if let (true, Some(command)) = (advice.copy_again, copy_command(self)) {
            let _ = write!(description, "\n\nOnce fixed, start the copy again:\n```{command}```");
        }
        let thread = Thread { id: self.thread_id(), summary: summary.clone(), event_type: ALERT_EVENT_TYPE };
        let event_id = match &self.copy_job {
            Some(job) => format!("vaultwatch-alert-{job}"),
            None => format!("vaultwatch-alert-{}", self.thread_id()),
        };
        let mut notification = CustomNotification::new(&title, &description, thread).with_id(&event_id);
        for step in &advice.steps {
            notification = notification.next_step(step);
        }
        if advice.copy_again {
            notification = notification.next_step(
                "Then start the copy again (command below); this thread gets a resolved message when a copy completes.",
            );
        }
        notification = notification
            .keyword("vaultwatch")
            .keyword(&self.reason.label())
            .keyword(advice.topic)
            .keyword(self.destination_vault.region());
        let mut related: Vec<&str> = Vec::new();
        related.extend(self.recovery_point.as_ref().map(RecoveryPointArn::as_str));
        related.extend(self.resource.as_ref().map(ResourceArn::as_str));
        related.push(self.source_vault.as_str());
        related.push(self.destination_vault.as_str());
        related.extend(advice.resources.iter().map(String::as_str));
        related.extend(self.role.as_ref().map(IamRoleArn::as_str));
        for resource in related {
            notification = notification.related_resource(resource);
        }
        if let Some(job) = &self.copy_job {
            notification = notification.context("copyJobId", job.as_str());
        }
        if let Some(job) = &self.original_job {
            notification = notification.context("originalJobId", job.as_str());
        }
        notification
            .context("reason", &self.reason.label())
            .context("attempts", &self.attempts.to_string())
            .context("destinationRegion", self.destination_vault.region())
    }
}

/// A copy that had been alerted is covered after all: a COMPLETED copy of the same recovery point to
/// the same destination vault (a manual StartCopyJob, a plan's copy, a later retry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The failed job whose alert this resolves.
    pub alerted_job: CopyJobId,
    /// Its chain's original job: the alert's thread.
    pub original_job: CopyJobId,
    /// What was alerted (from the job's record).
    pub alerted: super::AlertKind,
    /// The copy that completed.
    pub completed_job: CopyJobId,
    pub completed_at: Option<DateTime<Utc>>,
    pub recovery_point: RecoveryPointArn,
    pub source_vault: BackupVaultArn,
    pub destination_vault: BackupVaultArn,
    pub destination_recovery_point: Option<RecoveryPointArn>,
    pub resource: Option<ResourceArn>,
}

impl Resolution {
    pub fn subject(&self) -> String {
        sns_subject(&format!("vaultwatch: copy to {} resolved", self.destination_vault.vault_name()))
    }

    /// The alert's thread.
    pub fn thread_id(&self) -> String {
        self.original_job.as_str().to_owned()
    }

    fn completed_at(&self) -> String {
        self.completed_at.map_or_else(|| "unknown".to_owned(), |at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    /// The readable plain text (the e-mail).
    pub fn body(&self) -> String {
        fn or_none(value: Option<&str>) -> &str {
            value.unwrap_or("none")
        }
        let mut body = String::new();
        let _ = writeln!(body, "Resolved: a copy vaultwatch alerted about has now completed.");
        let _ = writeln!(body);
        let _ = writeln!(body, "Recovery point:    {}", self.recovery_point);
        let _ = writeln!(body, "Resource:          {}", or_none(self.resource.as_ref().map(ResourceArn::as_str)));
        let _ = writeln!(body, "Source vault:      {}", self.source_vault);
        let _ = writeln!(body, "Destination vault: {}", self.destination_vault);
        let _ = writeln!(body, "Completed copy:    {} (at {})", self.completed_job, self.completed_at());
        let _ = writeln!(
            body,
            "Copy:              {}",
            or_none(self.destination_recovery_point.as_ref().map(RecoveryPointArn::as_str))
        );
        let _ = writeln!(body, "Alerted job:       {} ({})", self.alerted_job, self.alerted);
        let _ = writeln!(body, "Original job:      {}", self.original_job);
        let _ = writeln!(body);
        let _ = writeln!(body, "Nothing more to do for this alert.");
        body
    }

    /// The AWS Chatbot custom notification, in the alert's thread.
    pub fn notification(&self) -> CustomNotification {
        let destination = vault_label(&self.destination_vault);
        let summary = format!("Copy to {destination} resolved");
        let title = format!(":white_check_mark: vaultwatch: {summary}");
        let mut description = format!(
            "The recovery point now has a completed copy in {}: nothing more to do for the alert ({}).\n",
            code(self.destination_vault.as_str()),
            self.alerted
        );
        let _ = write!(
            description,
            "\n*Completed copy job:* {} at {}",
            code(self.completed_job.as_str()),
            self.completed_at()
        );
        if let Some(copy) = &self.destination_recovery_point {
            let _ = write!(description, "\n*Copy:* {}", code(copy.as_str()));
        }
        let _ = write!(description, "\n*Recovery point:* {}", code(self.recovery_point.as_str()));
        if let Some(resource) = &self.resource {
            let _ = write!(description, "\n*Resource:* {}", code(resource.as_str()));
        }
        let _ = write!(description, "\n*Alerted job:* {}", code(self.alerted_job.as_str()));
        let thread = Thread { id: self.thread_id(), summary, event_type: RESOLVED_EVENT_TYPE };
        let mut notification = CustomNotification::new(&title, &description, thread)
            .with_id(&format!("vaultwatch-resolved-{}", self.alerted_job))
            .keyword("vaultwatch")
            .keyword("resolved")
            .keyword(self.destination_vault.region())
            .related_resource(self.recovery_point.as_str());
        for resource in [
            self.destination_recovery_point.as_ref().map(RecoveryPointArn::as_str),
            self.resource.as_ref().map(ResourceArn::as_str),
        ]
        .into_iter()
        .flatten()
        {
            notification = notification.related_resource(resource);
        }
        notification
            .related_resource(self.source_vault.as_str())
            .related_resource(self.destination_vault.as_str())
            .context("completedCopyJobId", self.completed_job.as_str())
            .context("alertedCopyJobId", self.alerted_job.as_str())
            .context("originalJobId", self.original_job.as_str())
            .context("destinationRegion", self.destination_vault.region())
    }
}
