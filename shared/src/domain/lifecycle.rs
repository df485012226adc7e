//! Recovery point lifecycle, with the rule AWS Backup enforces.

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
}

/// AWS Backup refuses a lifecycle whose deletion comes less than 90 days after the move to cold storage.
pub const MIN_DAYS_IN_COLD_STORAGE: i64 = 90;

impl Lifecycle {
    pub fn validate(self) -> Result<Self, DomainError> {
        for days in [self.move_to_cold_storage_after_days, self.delete_after_days].into_iter().flatten() {
            if days < 1 {
                return Err(DomainError::invalid("lifecycle", "days must be at least 1"));
            }
        }
        if let (Some(cold), Some(delete)) = (self.move_to_cold_storage_after_days, self.delete_after_days) {
            if delete < cold + MIN_DAYS_IN_COLD_STORAGE {
                return Err(DomainError::invalid(
                    "lifecycle",
                    "deleteAfterDays must be at least moveToColdStorageAfterDays + 90",
                ));
            }
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
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
    }
}
