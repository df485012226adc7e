//! Recovery point lifecycle, with the rules AWS Backup enforces (docs/aws-facts.md#lifecycle).

use serde::{Deserialize, Serialize};

use super::DomainError;

/// Days after creation when a copy moves to cold storage and when it is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_cold_storage_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_to_archive_for_supported_resources: Option<bool>,
    /// Reported by AWS (`DeleteAfterEvent`), kept on the record, never sent back: the API model says
    /// it is "Not valid as an input".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_event: Option<DeleteAfterEvent>,
}

/// `LifecycleDeleteAfterEvent` of the API model (its only value today).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeleteAfterEvent {
    DeleteAfterCopy,
}

impl DeleteAfterEvent {
    pub fn parse(raw: &str) -> Option<Self> {
        (raw == "DELETE_AFTER_COPY").then_some(Self::DeleteAfterCopy)
    }
}

/// AWS Backup refuses a lifecycle whose deletion comes less than 90 days after the move to cold storage.
pub const MIN_DAYS_IN_COLD_STORAGE: i64 = 90;

/// `-1` in either field means "keep indefinitely" (API model, `Lifecycle`).
pub const KEEP_INDEFINITELY: i64 = -1;

impl Lifecycle {
    pub fn validate(self) -> Result<Self, DomainError> {
        for days in [self.move_to_cold_storage_after_days, self.delete_after_days].into_iter().flatten() {
            if days < 1 && days != KEEP_INDEFINITELY {
                return Err(DomainError::invalid("lifecycle", "days must be at least 1 (or -1 to keep indefinitely)"));
            }
        }
        // The 90-day rule binds only a recovery point that does move to cold storage and is deleted.
        if let (Some(cold @ 1..), Some(delete @ 1..)) = (self.move_to_cold_storage_after_days, self.delete_after_days) {
            if delete < cold + MIN_DAYS_IN_COLD_STORAGE {
                return Err(DomainError::invalid(
                    "lifecycle",
                    "deleteAfterDays must be at least moveToColdStorageAfterDays + 90",
                ));
            }
        }
        Ok(self)
    }

    /// What StartCopyJob may be sent: everything but the output-only `DeleteAfterEvent`.
    pub fn as_input(self) -> Self {
        Self { delete_after_event: None, ..self }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// AWS Backup deletes the recovery point once it is copied (`DeleteAfterEvent`
    /// `DELETE_AFTER_COPY`): the temporary recovery point of a backup made to a logically air-gapped
    /// vault (docs/aws-facts.md#logically-air-gapped-vaults).
    pub fn deleted_after_copy(&self) -> bool {
        self.delete_after_event == Some(DeleteAfterEvent::DeleteAfterCopy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifecycle(cold: Option<i64>, delete: Option<i64>) -> Lifecycle {
        Lifecycle { move_to_cold_storage_after_days: cold, delete_after_days: delete, ..Lifecycle::default() }
    }

    #[test]
    fn deletion_must_come_ninety_days_after_cold_storage() {
        assert!(lifecycle(Some(30), Some(120)).validate().is_ok());
        let err = lifecycle(Some(30), Some(119)).validate().unwrap_err().to_string();
        assert!(err.contains("moveToColdStorageAfterDays + 90"), "{err}");
        assert!(lifecycle(None, Some(7)).validate().is_ok());
        assert!(lifecycle(Some(0), None).validate().is_err());
        assert!(lifecycle(Some(-2), None).validate().is_err());
        assert!(lifecycle(Some(1), Some(91)).validate().is_ok(), "one day is the least");
        assert!(Lifecycle::default().is_empty() && !lifecycle(None, Some(7)).is_empty());
    }

    #[test]
    fn minus_one_keeps_indefinitely() {
        assert!(lifecycle(Some(-1), Some(-1)).validate().is_ok());
        assert!(lifecycle(Some(30), Some(-1)).validate().is_ok(), "never deleted: no 90-day rule");
        assert!(lifecycle(Some(-1), Some(7)).validate().is_ok(), "never cold: no 90-day rule");
    }

    #[test]
    fn delete_after_event_is_kept_but_never_sent() {
        let reported =
            Lifecycle { delete_after_event: Some(DeleteAfterEvent::DeleteAfterCopy), ..lifecycle(None, Some(35)) };
        assert_eq!(reported.as_input(), lifecycle(None, Some(35)));
        assert_eq!(DeleteAfterEvent::parse("DELETE_AFTER_COPY"), Some(DeleteAfterEvent::DeleteAfterCopy));
        assert_eq!(DeleteAfterEvent::parse("SOMETHING_NEW"), None);
        assert!(reported.deleted_after_copy() && !lifecycle(None, Some(35)).deleted_after_copy());
    }
}
