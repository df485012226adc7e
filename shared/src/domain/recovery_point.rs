//! Whether a recovery point can be copied: AWS Backup refuses some now (cold storage, deleted) and
//! some ever (continuous backups). Facts and sources: docs/aws-facts.md.

use std::fmt;

use chrono::{DateTime, Utc};

use super::RecoveryPointArn;

/// `StorageClass` of DescribeRecoveryPoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageClass {
    Warm,
    Cold,
    Deleted,
    Other(String),
}

impl StorageClass {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "WARM" => Self::Warm,
            "COLD" => Self::Cold,
            "DELETED" => Self::Deleted,
            other => Self::Other(other.chars().take(32).collect()),
        }
    }
}

/// A recovery point as DescribeRecoveryPoint reports it, reduced to what decides a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryPoint {
    pub arn: RecoveryPointArn,
    pub storage_class: Option<StorageClass>,
    /// `Status` (COMPLETED, PARTIAL, DELETING, EXPIRED, AVAILABLE, STOPPED, CREATING).
    pub status: Option<String>,
    /// `CalculatedLifecycle.MoveToColdStorageAt`.
    pub moves_to_cold_at: Option<DateTime<Utc>>,
    /// `CalculatedLifecycle.DeleteAt`.
    pub deleted_at: Option<DateTime<Utc>>,
    /// `CreationDate`: a copy's lifecycle is counted from it.
    pub created_at: Option<DateTime<Utc>>,
}

/// Why AWS Backup cannot copy a recovery point: a retry would only fail again, so the operator is
/// told now. Serialised (tagged by `reason`) in the record of the job it was alerted about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotCopyable {
    /// StartCopyJob "Does not support continuous backups" (API model).
    Continuous,
    ColdStorage,
    /// Deleted, expired or being deleted (or no longer found).
    Deleted,
    /// The retry would be due after the point moves to cold storage.
    ColdBeforeRetry {
        at: DateTime<Utc>,
    },
    /// The retry would be due after the point is deleted.
    DeletedBeforeRetry {
        at: DateTime<Utc>,
    },
}

/// How every [`NotCopyable`] reason begins, as alerts, records and coverage say it.
const NOT_COPYABLE: &str = "not copyable: ";

impl NotCopyable {
    /// The reason whose `Display` is `label` (records written before outcomes had fields kept only
    /// the words).
    pub fn from_label(label: &str) -> Option<Self> {
        let at = |raw: &str| {
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f UTC").ok().map(|at| at.and_utc())
        };
        let reason = label.strip_prefix(NOT_COPYABLE)?;
        match reason {
            "continuous backup" => Some(Self::Continuous),
            "in cold storage" => Some(Self::ColdStorage),
            "deleted or expired" => Some(Self::Deleted),
            _ => {
                let before_retry = reason.strip_suffix(", before the retry is due")?;
                if let Some(when) = before_retry.strip_prefix("moves to cold storage at ") {
                    return at(when).map(|at| Self::ColdBeforeRetry { at });
                }
                before_retry.strip_prefix("deleted at ").and_then(at).map(|at| Self::DeletedBeforeRetry { at })
            }
        }
    }
}

impl fmt::Display for NotCopyable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_COPYABLE)?;
        match self {
            Self::Continuous => f.write_str("continuous backup"),
            Self::ColdStorage => f.write_str("in cold storage"),
            Self::Deleted => f.write_str("deleted or expired"),
            Self::ColdBeforeRetry { at } => write!(f, "moves to cold storage at {at}, before the retry is due"),
            Self::DeletedBeforeRetry { at } => write!(f, "deleted at {at}, before the retry is due"),
        }
    }
}

impl RecoveryPointArn {
    /// Continuous backups (point-in-time recovery) have recovery points named
    /// `recovery-point:continuous:...` (docs/aws-facts.md#continuous-backups).
    pub fn is_continuous(&self) -> bool {
        let parts: Vec<&str> = self.as_str().splitn(8, ':').collect();
        matches!(parts.as_slice(), [_, _, "backup", _, _, "recovery-point", "continuous", _])
    }

    /// Why a copy of this point can never be started, judged from its ARN alone.
    pub fn never_copyable(&self) -> Option<NotCopyable> {
        self.is_continuous().then_some(NotCopyable::Continuous)
    }
}

impl RecoveryPoint {
    /// Why a copy started at `due` cannot succeed, if it cannot.
    pub fn not_copyable_at(&self, due: DateTime<Utc>) -> Option<NotCopyable> {
        if let Some(never) = self.arn.never_copyable() {
            return Some(never);
        }
        let status_gone = self.status.as_deref().is_some_and(|status| matches!(status, "DELETING" | "EXPIRED"));
        match &self.storage_class {
            Some(StorageClass::Deleted) => return Some(NotCopyable::Deleted),
            _ if status_gone => return Some(NotCopyable::Deleted),
            Some(StorageClass::Cold) => return Some(NotCopyable::ColdStorage),
            _ => {}
        }
        if let Some(at) = self.deleted_at.filter(|at| *at <= due) {
            return Some(NotCopyable::DeletedBeforeRetry { at });
        }
        self.moves_to_cold_at.filter(|at| *at <= due).map(|at| NotCopyable::ColdBeforeRetry { at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(arn: &str) -> RecoveryPoint {
        RecoveryPoint {
            arn: RecoveryPointArn::parse(arn).unwrap(),
            storage_class: Some(StorageClass::Warm),
            status: Some("COMPLETED".into()),
            moves_to_cold_at: None,
            deleted_at: None,
            created_at: None,
        }
    }

    const SNAPSHOT: &str = "arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45";

    #[test]
    fn continuous_recovery_points_are_known_by_their_arn() {
        let continuous =
            RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:continuous:db-ABCD-1a2b3c4d")
                .unwrap();
        assert!(continuous.is_continuous());
        assert_eq!(continuous.never_copyable(), Some(NotCopyable::Continuous));
        for other in [
            SNAPSHOT,
            "arn:aws:ec2:us-east-1::snapshot/snap-0123",
            "arn:aws:rds:us-east-1:123456789012:snapshot:continuous",
        ] {
            assert!(!RecoveryPointArn::parse(other).unwrap().is_continuous(), "{other}");
        }
    }

    #[test]
    fn cold_deleted_and_expiring_points_are_not_copyable() {
        let now = Utc::now();
        assert_eq!(point(SNAPSHOT).not_copyable_at(now), None);
        let cold = RecoveryPoint { storage_class: Some(StorageClass::Cold), ..point(SNAPSHOT) };
        assert_eq!(cold.not_copyable_at(now), Some(NotCopyable::ColdStorage));
        let deleted = RecoveryPoint { storage_class: Some(StorageClass::Deleted), ..point(SNAPSHOT) };
        assert_eq!(deleted.not_copyable_at(now), Some(NotCopyable::Deleted));
        let expired = RecoveryPoint { status: Some("EXPIRED".into()), ..point(SNAPSHOT) };
        assert_eq!(expired.not_copyable_at(now), Some(NotCopyable::Deleted));

        let soon = now + chrono::Duration::minutes(5);
        let expiring = RecoveryPoint { deleted_at: Some(soon), ..point(SNAPSHOT) };
        assert_eq!(expiring.not_copyable_at(now), None, "still there when the retry is due now");
        assert_eq!(expiring.not_copyable_at(soon), Some(NotCopyable::DeletedBeforeRetry { at: soon }));
        let cooling = RecoveryPoint { moves_to_cold_at: Some(soon), ..point(SNAPSHOT) };
        assert_eq!(
            cooling.not_copyable_at(soon + chrono::Duration::seconds(1)),
            Some(NotCopyable::ColdBeforeRetry { at: soon })
        );
        assert!(NotCopyable::Continuous.to_string().starts_with("not copyable: continuous"));
    }
}
