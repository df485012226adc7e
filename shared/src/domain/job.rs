//! Jobs as AWS Backup reports them: kinds, states, and the described copy/backup jobs.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    BackupJobId, BackupPlanId, BackupPlanVersion, BackupRuleId, BackupVaultArn, CopyJobId, DomainError, IamRoleArn,
    KmsKeyArn, Lifecycle, RecoveryPointArn, ResourceArn,
};

/// The `EventType` message attribute of a vault notification, reduced to the kinds we act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    Backup,
    Copy,
    Restore,
    /// Anything else AWS Backup publishes (the list keeps growing); carried for logging only.
    Other(String),
}

impl JobKind {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "BACKUP_JOB" => Self::Backup,
            "COPY_JOB" => Self::Copy,
            "RESTORE_JOB" => Self::Restore,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backup => f.write_str("BACKUP_JOB"),
            Self::Copy => f.write_str("COPY_JOB"),
            Self::Restore => f.write_str("RESTORE_JOB"),
            Self::Other(raw) => f.write_str(raw),
        }
    }
}

/// State of a copy job. The order of `rank` is the only order a tracking record may move in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CopyJobState {
    Created,
    Running,
    Completed,
    Failed,
    Partial,
}

impl CopyJobState {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "CREATED" => Ok(Self::Created),
            "RUNNING" => Ok(Self::Running),
            "COMPLETED" => Ok(Self::Completed),
            "FAILED" => Ok(Self::Failed),
            "PARTIAL" => Ok(Self::Partial),
            _ => Err(DomainError::invalid("copy job state", "is not CREATED, RUNNING, COMPLETED, FAILED or PARTIAL")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Partial => "PARTIAL",
        }
    }

    /// CREATED < RUNNING < {COMPLETED, FAILED, PARTIAL}: terminal states share the top rank, so the
    /// first terminal state recorded wins and no event can move a job out of it.
    pub fn rank(self) -> u8 {
        match self {
            Self::Created => 0,
            Self::Running => 1,
            Self::Completed | Self::Failed | Self::Partial => 2,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 2
    }

    /// FAILED or PARTIAL: the copy did not (wholly) happen.
    pub fn has_failed(self) -> bool {
        matches!(self, Self::Failed | Self::Partial)
    }
}

impl fmt::Display for CopyJobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of a backup job, as far as the copier cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupJobState {
    Completed,
    /// FAILED, EXPIRED, ABORTED, RUNNING...: nothing to copy.
    NotCompleted(String),
}

impl BackupJobState {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "COMPLETED" => Self::Completed,
            other => Self::NotCompleted(other.chars().take(32).collect()),
        }
    }
}

/// The kind of a vault (`VaultType`; a copy job's `DestinationVaultType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultType {
    /// `BACKUP_VAULT`: a standard backup vault.
    Standard,
    /// `LOGICALLY_AIR_GAPPED_BACKUP_VAULT`.
    LogicallyAirGapped,
    /// `RESTORE_ACCESS_BACKUP_VAULT`, or a kind added since (kept for logging only).
    Other(String),
}

impl VaultType {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "BACKUP_VAULT" => Self::Standard,
            "LOGICALLY_AIR_GAPPED_BACKUP_VAULT" => Self::LogicallyAirGapped,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }
}

impl VaultType {
    /// As AWS spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Standard => "BACKUP_VAULT",
            Self::LogicallyAirGapped => "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
            Self::Other(raw) => raw,
        }
    }
}

/// Whether a vault is locked (a copy job's `DestinationVaultLockState`: "Valid values include
/// `LOCKED` and `UNLOCKED`", API model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultLockState {
    Locked,
    Unlocked,
    /// A value added since (kept as AWS spells it).
    Other(String),
}

impl VaultLockState {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "LOCKED" => Self::Locked,
            "UNLOCKED" => Self::Unlocked,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }

    /// As AWS spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Locked => "LOCKED",
            Self::Unlocked => "UNLOCKED",
            Self::Other(raw) => raw,
        }
    }
}

/// What a copy job reports of its destination besides the vault: the API model's
/// `DestinationVaultType`, `DestinationVaultLockState` and `DestinationEncryptionKeyArn`. Vault
/// notifications carry none of them; listings and describes do. Serialised as AWS spells them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_type: Option<VaultType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_state: Option<VaultLockState>,
    /// The key the copy is encrypted with in the destination vault.
    #[serde(rename = "encryptionKeyArn", skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<KmsKeyArn>,
}

impl Destination {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// " (logically air-gapped, locked)", to follow what names the copy; empty when AWS said
    /// nothing of the vault's kind.
    pub fn aside(destination: Option<&Self>) -> String {
        match destination.map(Self::to_string).filter(|words| !words.is_empty()) {
            Some(words) => format!(" ({words})"),
            None => String::new(),
        }
    }
}

/// The vault's kind in words, e.g. "logically air-gapped, locked": the parts AWS reported (empty
/// when it reported none; the key is shown on its own).
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vault_type = self.vault_type.as_ref().map(|kind| match kind {
            VaultType::Standard => "standard vault".to_owned(),
            VaultType::LogicallyAirGapped => "logically air-gapped".to_owned(),
            VaultType::Other(raw) => raw.clone(),
        });
        let lock_state = self.lock_state.as_ref().map(|state| match state {
            VaultLockState::Locked => "locked".to_owned(),
            VaultLockState::Unlocked => "unlocked".to_owned(),
            VaultLockState::Other(raw) => format!("lock state {raw}"),
        });
        let parts: Vec<String> = [vault_type, lock_state].into_iter().flatten().collect();
        f.write_str(&parts.join(", "))
    }
}

// Serialised as AWS spells them.
impl Serialize for VaultType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for VaultLockState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The type of resource a job backs up or copies (`ResourceType`), as the API model lists them for
/// `ByResourceType` (docs/aws-facts.md#resource-types). Parsed case-insensitively; a type AWS
/// adds later is kept as AWS spells it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Aurora,
    CloudFormation,
    DocumentDb,
    DynamoDb,
    Ebs,
    Ec2,
    Efs,
    Eks,
    FSx,
    Neptune,
    Rds,
    Redshift,
    S3,
    SapHanaOnEc2,
    StorageGateway,
    Timestream,
    VirtualMachine,
    Other(String),
}

impl ResourceType {
    /// Every type the model lists, with AWS's spelling.
    const KNOWN: [(ResourceType, &'static str); 17] = [
        (Self::Aurora, "Aurora"),
        (Self::CloudFormation, "CloudFormation"),
        (Self::DocumentDb, "DocumentDB"),
        (Self::DynamoDb, "DynamoDB"),
        (Self::Ebs, "EBS"),
        (Self::Ec2, "EC2"),
        (Self::Efs, "EFS"),
        (Self::Eks, "EKS"),
        (Self::FSx, "FSx"),
        (Self::Neptune, "Neptune"),
        (Self::Rds, "RDS"),
        (Self::Redshift, "Redshift"),
        (Self::S3, "S3"),
        (Self::SapHanaOnEc2, "SAP HANA on Amazon EC2"),
        (Self::StorageGateway, "Storage Gateway"),
        (Self::Timestream, "Timestream"),
        (Self::VirtualMachine, "VirtualMachine"),
    ];

    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        Self::KNOWN
            .into_iter()
            .find(|(_, spelled)| spelled.eq_ignore_ascii_case(raw))
            .map_or_else(|| Self::Other(raw.chars().take(64).collect()), |(kind, _)| kind)
    }

    /// As AWS spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(raw) => raw,
            known => Self::KNOWN.iter().find(|(kind, _)| kind == known).map_or("", |(_, spelled)| spelled),
        }
    }
}

impl From<&str> for ResourceType {
    fn from(raw: &str) -> Self {
        Self::parse(raw)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// As AWS spells it, wherever it is written (the retry queue's messages included).
impl Serialize for ResourceType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResourceType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|raw| Self::parse(&raw))
    }
}

/// Which plan rule created a job (`CreatedBy`); a retry reuses that rule's copy lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRuleRef {
    pub plan_id: BackupPlanId,
    pub plan_version: BackupPlanVersion,
    pub rule_id: BackupRuleId,
}

/// Where a job sits in a composite (nested) job: CloudFormation stacks, SAP HANA on EC2 and the
/// like are copied as one parent job with a child job per member (docs/aws-facts.md#composite-jobs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Composite {
    /// A job on its own.
    #[default]
    Single,
    /// The top-level job of a composite copy (`IsParent`); its state sums up its children's.
    Parent { children: Option<u32> },
    /// A nested job (`ParentJobId`): retried and alerted through its parent, never on its own.
    Child { parent: CopyJobId },
}

/// A copy job as DescribeCopyJob or ListCopyJobs reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyJob {
    pub id: CopyJobId,
    pub state: CopyJobState,
    pub status_message: Option<String>,
    pub source_recovery_point: RecoveryPointArn,
    pub source_vault: BackupVaultArn,
    pub destination_vault: BackupVaultArn,
    pub destination_recovery_point: Option<RecoveryPointArn>,
    pub destination_lifecycle: Option<Lifecycle>,
    pub resource: Option<ResourceArn>,
    pub resource_type: Option<ResourceType>,
    /// The role AWS Backup used (optional in the API model, like every CopyJob member).
    pub iam_role: Option<IamRoleArn>,
    pub created_by: Option<PlanRuleRef>,
    /// When the job reached its final state (CompletionDate); none while it runs.
    pub completed_at: Option<DateTime<Utc>>,
    /// AWS's classification of the job's status message (`MessageCategory`), e.g. "AccessDenied".
    pub message_category: Option<String>,
    pub composite: Composite,
    /// The backup job that started this copy (`CreatedByBackupJobId`): "Only applicable to scheduled
    /// copy jobs and automatic copy jobs to logically air-gapped vault" (API model).
    pub initiated_by: Option<BackupJobId>,
    /// The destination's type, lock state and key, as AWS reports them.
    pub destination: Destination,
}

impl CopyJob {
    /// FAILED, or PARTIAL (a composite job some of whose children failed): either needs a new copy.
    pub fn has_failed(&self) -> bool {
        self.state.has_failed()
    }

    /// Started by a backup job into a logically air-gapped vault: AWS Backup's own copy of a backup
    /// made to that vault, or a plan rule's CopyAction into it. Which of the two, the backup job
    /// says ([`BackupJob::is_temporary`] of [`Self::initiated_by`]).
    pub fn may_be_air_gapped_backup(&self) -> bool {
        self.initiated_by.is_some() && self.destination.vault_type == Some(VaultType::LogicallyAirGapped)
    }
}

/// A backup job as DescribeBackupJob reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupJob {
    pub id: BackupJobId,
    pub state: BackupJobState,
    pub recovery_point: Option<RecoveryPointArn>,
    pub vault: BackupVaultArn,
    pub resource: Option<ResourceArn>,
    pub resource_type: Option<ResourceType>,
    /// The composite backup job this one is nested in (`ParentJobId`): its recovery point is copied
    /// as part of the parent's, never on its own.
    pub parent_job: Option<BackupJobId>,
    /// When the backup completed (CompletionDate); from then on its copies are owed.
    pub completed_at: Option<DateTime<Utc>>,
    /// The plan rule that made it (CreatedBy), whose CopyActions it requires; none for on-demand backups.
    pub created_by: Option<PlanRuleRef>,
    /// Its recovery point's lifecycle (`RecoveryPointLifecycle`), as AWS reports it.
    pub lifecycle: Option<Lifecycle>,
}

impl BackupJob {
    /// The backup's recovery point is temporary: a backup made to a logically air-gapped vault, of a
    /// resource type AWS Backup does not fully manage, lands in the standard vault first, and AWS
    /// Backup copies it into the air-gapped vault itself and then deletes it (`DeleteAfterEvent`
    /// `DELETE_AFTER_COPY`, docs/aws-facts.md#logically-air-gapped-vaults). Its copy is AWS's, and
    /// its disappearance is expected.
    pub fn is_temporary(&self) -> bool {
        self.lifecycle.is_some_and(|lifecycle| lifecycle.deleted_after_copy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_states_rank_forward_only() {
        use CopyJobState::*;
        assert!(Created.rank() < Running.rank());
        assert!(Running.rank() < Completed.rank());
        assert_eq!(Completed.rank(), Failed.rank());
        assert_eq!(Failed.rank(), Partial.rank());
        assert!(Partial.is_terminal() && !Running.is_terminal());
    }

    #[test]
    fn resource_types_read_as_aws_spells_them_and_keep_new_ones() {
        for (kind, spelled) in ResourceType::KNOWN {
            assert_eq!(ResourceType::parse(spelled), kind);
            assert_eq!(ResourceType::parse(&spelled.to_ascii_lowercase()).as_str(), spelled);
        }
        assert_eq!(ResourceType::parse(" s3 "), ResourceType::S3);
        assert_eq!(ResourceType::parse("Lightsail").as_str(), "Lightsail");
        assert_eq!(ResourceType::SapHanaOnEc2.to_string(), "SAP HANA on Amazon EC2", "shown as AWS spells it");
        let json = serde_json::to_string(&ResourceType::DynamoDb).unwrap();
        assert_eq!(json, r#""DynamoDB""#);
        assert_eq!(serde_json::from_str::<ResourceType>(&json).unwrap(), ResourceType::DynamoDb);
    }

    #[test]
    fn states_parse_case_insensitively_and_reject_unknowns() {
        assert_eq!(CopyJobState::parse("completed").unwrap(), CopyJobState::Completed);
        assert!(CopyJobState::parse("DONE").is_err());
        assert_eq!(BackupJobState::parse("EXPIRED"), BackupJobState::NotCompleted("EXPIRED".into()));
        assert_eq!(JobKind::parse("COPY_JOB"), JobKind::Copy);
        assert_eq!(JobKind::parse("S3_BACKUP_OBJECT"), JobKind::Other("S3_BACKUP_OBJECT".into()));
        use CopyJobState::*;
        for state in [Created, Running, Completed, Failed, Partial] {
            assert_eq!(CopyJobState::parse(state.as_str()), Ok(state), "every state AWS sends reads back");
        }
        // An ignored event's reason names its type as AWS spelled it.
        for spelled in ["BACKUP_JOB", "COPY_JOB", "RESTORE_JOB", "S3_BACKUP_OBJECT"] {
            assert_eq!(JobKind::parse(spelled).to_string(), spelled);
        }
        assert_eq!(VaultType::parse("LOGICALLY_AIR_GAPPED_BACKUP_VAULT"), VaultType::LogicallyAirGapped);
        assert_eq!(VaultType::parse("BACKUP_VAULT"), VaultType::Standard);
        assert_eq!(
            VaultType::parse("RESTORE_ACCESS_BACKUP_VAULT"),
            VaultType::Other("RESTORE_ACCESS_BACKUP_VAULT".into())
        );
    }
}
