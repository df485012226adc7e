//! Copy paths: the operator's unit of work. A path is one source vault (in its account and region)
//! to one destination vault, with the role its copies pass; most copy failures are a path broken by
//! configuration, which fails every copy on it until someone fixes it. An incident is one broken
//! path for one kind of cause: the one alert the operator gets about it, whatever the number of
//! copies that fail on it.

use std::fmt;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::{BackupVaultArn, CopyJob, CopyJobId, IamRoleArn, Incident, PathCause};

/// One copy path. The role is part of it: a role's missing permission breaks the copies that pass
/// that role, not the others between the same vaults.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyPath {
    /// The source vault; its ARN names the source account and region.
    pub source_vault: BackupVaultArn,
    pub destination_vault: BackupVaultArn,
    /// The role the copies pass; none when AWS did not report it.
    pub role: Option<IamRoleArn>,
}

impl CopyPath {
    /// The path a copy job went along.
    pub fn of(job: &CopyJob) -> Self {
        Self {
            source_vault: job.source_vault.clone(),
            destination_vault: job.destination_vault.clone(),
            role: job.iam_role.clone(),
        }
    }

    /// Whether the copies leave the source vault's account (a cross-account path needs the
    /// organization's setting and the destination account's vault policy).
    pub fn is_cross_account(&self) -> bool {
        self.source_vault.account() != self.destination_vault.account()
    }

    /// Whether the copies leave the source vault's region.
    pub fn is_cross_region(&self) -> bool {
        self.source_vault.region() != self.destination_vault.region()
    }

    /// The path's key: readable (an operator reading the table sees the path) and the same for
    /// every copy on it, so concurrent writers meet on one item.
    pub fn key(&self) -> PathKey {
        let role = self.role.as_ref().map_or(NO_ROLE, IamRoleArn::as_str);
        PathKey(format!("{}{SEPARATOR}{}{SEPARATOR}{role}", self.source_vault, self.destination_vault))
    }
}

/// Between the parts of a key: a character no ARN holds.
const SEPARATOR: char = ' ';
/// A path whose role AWS did not report.
const NO_ROLE: &str = "-";

/// "source vault → destination vault (role)", as alerts and reports name a path.
impl fmt::Display for CopyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.source_vault, self.destination_vault)?;
        match &self.role {
            Some(role) => write!(f, " (role {role})"),
            None => Ok(()),
        }
    }
}

/// A path's key: `<source vault ARN> <destination vault ARN> <role ARN or ->`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PathKey(String);

impl PathKey {
    /// A key as the table stores it (read back with [`Self::path`]).
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path a key names (none if it is not one).
    pub fn path(&self) -> Option<CopyPath> {
        let mut parts = self.0.split(SEPARATOR);
        let (source, destination, role) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(CopyPath {
            source_vault: BackupVaultArn::parse(source).ok()?,
            destination_vault: BackupVaultArn::parse(destination).ok()?,
            role: match role {
                NO_ROLE => None,
                role => Some(IamRoleArn::parse(role).ok()?),
            },
        })
    }
}

/// The kinds of cause a path breaks by, without what AWS named in the message: one incident per
/// path and kind (a disabled key and a denied role on one path are two things to fix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathCauseKind {
    PassRole,
    Access,
    KmsKey,
    ManagedKey,
    VaultAccessPolicy,
    Organization,
    Retention,
    Unsupported,
    /// The destination vault does not exist (found by the path check, `vaultwatch paths`).
    MissingVault,
    /// AWS Backup's limits held the path's copies back past the congestion budget.
    Congestion,
}

impl From<&PathCause> for PathCauseKind {
    fn from(cause: &PathCause) -> Self {
        match cause {
            PathCause::PassRole { .. } => Self::PassRole,
            PathCause::Access { .. } => Self::Access,
            PathCause::KmsKey { .. } => Self::KmsKey,
            PathCause::ManagedKey => Self::ManagedKey,
            PathCause::VaultAccessPolicy => Self::VaultAccessPolicy,
            PathCause::Organization => Self::Organization,
            PathCause::Retention => Self::Retention,
            PathCause::Unsupported => Self::Unsupported,
        }
    }
}

impl PathCauseKind {
    /// As keys and the table name it (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PassRole => "pass_role",
            Self::Access => "access",
            Self::KmsKey => "kms_key",
            Self::ManagedKey => "managed_key",
            Self::VaultAccessPolicy => "vault_access_policy",
            Self::Organization => "organization",
            Self::Retention => "retention",
            Self::Unsupported => "unsupported",
            Self::MissingVault => "missing_vault",
            Self::Congestion => "congestion",
        }
    }

    pub const ALL: [Self; 10] = [
        Self::PassRole,
        Self::Access,
        Self::KmsKey,
        Self::ManagedKey,
        Self::VaultAccessPolicy,
        Self::Organization,
        Self::Retention,
        Self::Unsupported,
        Self::MissingVault,
        Self::Congestion,
    ];

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == stored)
    }

    /// In a person's words, for subjects and headlines.
    pub fn describe(self) -> &'static str {
        match self {
            Self::PassRole => "role cannot be passed",
            Self::Access => "access denied",
            Self::KmsKey => "KMS key",
            Self::ManagedKey => "AWS managed key",
            Self::VaultAccessPolicy => "vault access policy",
            Self::Organization => "organization settings",
            Self::Retention => "vault lock retention",
            Self::Unsupported => "resource type not supported",
            Self::MissingVault => "destination vault missing",
            Self::Congestion => "AWS Backup's limits",
        }
    }
}

/// One incident: a path broken by one kind of cause.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentKey {
    pub path: PathKey,
    pub cause: PathCauseKind,
}

/// What the tracking table keeps of one path (`path#<path key>`): its last completed copy, which
/// the reconciler's sweeps note, and its last path check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathRecord {
    pub last_completed: Option<(CopyJobId, DateTime<Utc>)>,
    /// When the path check last looked, and its verdict's name (`ok`, `broken`, `cannot tell`).
    pub last_check: Option<(DateTime<Utc>, String)>,
}

/// A path's health: broken while it has an open incident (congestion aside), else healthy once a
/// copy on it completed or the check found it ok, else unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "health", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PathHealth {
    Healthy {
        #[serde(skip_serializing_if = "Option::is_none")]
        last_completed_at: Option<DateTime<Utc>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_completed_job: Option<CopyJobId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        checked_ok_at: Option<DateTime<Utc>>,
    },
    Broken {
        causes: Vec<PathCauseKind>,
        since: DateTime<Utc>,
        /// Recovery points its open incidents left without a copy.
        affected: u64,
    },
    /// Never seen a copy complete, never checked ok.
    Unknown,
}

impl PathHealth {
    /// From the path's record and its open incidents (`open`: the path's only).
    pub fn of(record: &PathRecord, open: &[Incident]) -> Self {
        let broken: Vec<&Incident> =
            open.iter().filter(|i| i.is_open() && i.id.key.cause != PathCauseKind::Congestion).collect();
        if let Some(since) = broken.iter().map(|incident| incident.id.opened_at).min() {
            return Self::Broken {
                causes: broken.iter().map(|incident| incident.id.key.cause).collect(),
                since,
                affected: broken.iter().map(|incident| incident.affected).sum(),
            };
        }
        let checked_ok_at = record.last_check.as_ref().filter(|(_, verdict)| verdict == "ok").map(|(at, _)| *at);
        match (&record.last_completed, checked_ok_at) {
            (None, None) => Self::Unknown,
            (completed, checked_ok_at) => Self::Healthy {
                last_completed_at: completed.as_ref().map(|(_, at)| *at),
                last_completed_job: completed.as_ref().map(|(job, _)| job.clone()),
                checked_ok_at,
            },
        }
    }

    /// In a line: `healthy (last copy 2026-12-05T02:10:00Z)`, `broken since ... (kms_key; 30 affected)`.
    pub fn describe(&self) -> String {
        let at = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match self {
            Self::Healthy { last_completed_at: Some(completed), .. } => {
                format!("healthy (last copy {})", at(completed))
            }
            Self::Healthy { checked_ok_at: Some(checked), .. } => format!("healthy (checked ok {})", at(checked)),
            Self::Healthy { .. } => "healthy".to_owned(),
            Self::Broken { causes, since, affected } => {
                let causes: Vec<&str> = causes.iter().map(|cause| cause.as_str()).collect();
                format!("broken since {} ({}; {affected} affected)", at(since), causes.join(", "))
            }
            Self::Unknown => "unknown".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(arn: &str) -> BackupVaultArn {
        BackupVaultArn::parse(arn).unwrap()
    }

    const SOURCE: &str = "arn:aws:backup:us-east-1:111122223333:backup-vault:primary";
    const DR: &str = "arn:aws:backup:us-west-2:444455556666:backup-vault:dr";
    const ROLE: &str = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole";

    #[test]
    fn a_paths_key_names_it_and_reads_back() {
        let path = CopyPath {
            source_vault: vault(SOURCE),
            destination_vault: vault(DR),
            role: Some(IamRoleArn::parse(ROLE).unwrap()),
        };
        assert_eq!(path.key().as_str(), format!("{SOURCE} {DR} {ROLE}"));
        assert_eq!(path.key().path(), Some(path.clone()));
        let roleless = CopyPath { role: None, ..path.clone() };
        assert_eq!(roleless.key().path(), Some(roleless.clone()));
        assert_ne!(roleless.key(), path.key(), "the role is part of the path");
        assert!(path.is_cross_account() && path.is_cross_region());
        let same = CopyPath { destination_vault: vault(&SOURCE.replace("primary", "copy")), ..path.clone() };
        assert!(!same.is_cross_account() && !same.is_cross_region());
        assert_eq!(PathKey(format!("{SOURCE} {DR}")).path(), None);
        assert_eq!(PathKey(format!("{SOURCE} {DR} {ROLE} more")).path(), None);
        assert_eq!(path.to_string(), format!("{SOURCE} → {DR} (role {ROLE})"));
    }

    #[test]
    fn a_paths_causes_are_kinds_without_what_the_message_named() {
        let key = |key: Option<&str>| PathCause::KmsKey { key: key.map(str::to_owned), principal: None };
        assert_eq!(PathCauseKind::from(&key(Some("arn:aws:kms:...:key/1"))), PathCauseKind::from(&key(None)));
        assert_ne!(PathCauseKind::from(&PathCause::Retention), PathCauseKind::from(&PathCause::Organization));
        assert_eq!(serde_json::to_string(&PathCauseKind::VaultAccessPolicy).unwrap(), r#""vault_access_policy""#);
        for kind in PathCauseKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
            assert_eq!(PathCauseKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(PathCauseKind::parse("kms"), None);
    }

    #[test]
    fn a_path_is_broken_while_an_incident_is_open_healthy_once_a_copy_completed_or_checked_ok_else_unknown() {
        use crate::domain::incident::tests::incident;
        let at = |hour: u32| {
            DateTime::parse_from_rfc3339(&format!("2026-12-0{hour}T02:00:00Z")).unwrap().with_timezone(&Utc)
        };
        let job = CopyJobId::parse("47C8EF56-74D8-059D-1301-C5BE1D5C926E").unwrap();
        let never = PathRecord::default();
        assert_eq!(PathHealth::of(&never, &[]), PathHealth::Unknown);
        let checked = PathRecord { last_check: Some((at(2), "ok".into())), ..PathRecord::default() };
        assert_eq!(PathHealth::of(&checked, &[]).describe(), "healthy (checked ok 2026-12-02T02:00:00Z)");
        let cannot = PathRecord { last_check: Some((at(2), "cannot tell".into())), ..PathRecord::default() };
        assert_eq!(PathHealth::of(&cannot, &[]), PathHealth::Unknown);
        let copied = PathRecord { last_completed: Some((job.clone(), at(3))), ..checked };
        let healthy = PathHealth::of(&copied, &[]);
        assert_eq!(healthy.describe(), "healthy (last copy 2026-12-03T02:00:00Z)");
        assert_eq!(
            serde_json::to_value(&healthy).unwrap(),
            serde_json::json!({ "health": "healthy", "lastCompletedAt": "2026-12-03T02:00:00Z",
                "lastCompletedJob": job.as_str(), "checkedOkAt": "2026-12-02T02:00:00Z" })
        );
        let kms = incident(PathCauseKind::KmsKey, "disabled");
        let congestion = incident(PathCauseKind::Congestion, "Rate exceeded");
        let broken = PathHealth::of(&copied, &[kms.clone(), congestion.clone()]);
        assert_eq!(broken.describe(), "broken since 2026-12-01T02:00:00Z (kms_key; 30 affected)");
        assert_eq!(PathHealth::of(&copied, &[congestion]), healthy, "congestion is AWS's limits, not the path");
    }
}
