//! Identifier newtypes: parsed once at the edge, so a `CopyJobId` can never be confused with a
//! `BackupJobId` or an account number further in.

use serde::{Deserialize, Serialize};

use super::DomainError;

/// Longest identifier we accept; real ones are 36-64 characters. Guards memory and log size.
const MAX_ID_LEN: usize = 256;

fn validate_id(kind: &'static str, raw: &str) -> Result<String, DomainError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(kind, "is empty"));
    }
    if trimmed.len() > MAX_ID_LEN {
        return Err(DomainError::invalid(kind, "is longer than 256 characters"));
    }
    if !trimmed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')) {
        return Err(DomainError::invalid(kind, "contains characters other than letters, digits, '-', '_', ':' or '.'"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                validate_id($kind, raw).map(Self)
            }
        }

        string_newtype!($name);
    };
}

id_newtype!(
    /// `CopyJobId` as AWS Backup returns it from StartCopyJob.
    CopyJobId,
    "copy job id"
);
id_newtype!(
    /// `BackupJobId` of the backup that produced a recovery point.
    BackupJobId,
    "backup job id"
);
id_newtype!(
    /// Backup plan id (`CreatedBy.BackupPlanId`).
    BackupPlanId,
    "backup plan id"
);
id_newtype!(
    /// Backup plan version id (`CreatedBy.BackupPlanVersion`).
    BackupPlanVersion,
    "backup plan version"
);
id_newtype!(
    /// Backup plan rule id (`CreatedBy.BackupRuleId`).
    BackupRuleId,
    "backup rule id"
);

/// A 12-digit AWS account id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::invalid("account id", "is not 12 digits"))
        }
    }
}

string_newtype!(AccountId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_validated() {
        assert_eq!(CopyJobId::parse(" ABC-123 ").unwrap().as_str(), "ABC-123");
        assert!(CopyJobId::parse("").is_err());
        assert!(CopyJobId::parse("a b").is_err());
        assert!(CopyJobId::parse(&"x".repeat(300)).is_err());
        assert!(CopyJobId::parse(&"x".repeat(MAX_ID_LEN)).is_ok(), "as long as allowed");
        assert!(CopyJobId::parse(&"x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("123456789012").is_ok());
        assert!(AccountId::parse("12345678901").is_err());
        assert!(AccountId::parse("12345678901a").is_err());
    }
}
