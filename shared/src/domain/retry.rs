//! Retry policy and failure classification for copy jobs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CopyJobId, DomainError};

/// Whether trying again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Throttling, limits, service trouble, a vault busy being modified: a later retry can succeed.
    Transient,
    /// Access, KMS, invalid parameters, a recovery point or vault that is gone: retrying repeats the failure.
    Permanent,
}

/// Phrases of AWS Backup status messages that mean a retry cannot help. Checked before the transient
/// ones, because "Access denied ... try again" is still access denied.
const PERMANENT_MARKERS: &[&str] = &[
    "access denied",
    "accessdenied",
    "not authorized",
    "unauthorized",
    "permission",
    "kms",
    "encryption key",
    "key is disabled",
    "pending deletion",
    "invalid parameter",
    "invalidparameter",
    "validation",
    "not supported",
    "unsupported",
    "not found",
    "notfound",
    "does not exist",
    "no longer exists",
    "has been deleted",
    "was deleted",
    "is being deleted",
];

/// Phrases that mean the failure is passing. Anything unrecognised is treated as transient too: a
/// bounded retry costs little, a lost copy costs a lot.
const TRANSIENT_MARKERS: &[&str] = &[
    "throttl",
    "rate exceeded",
    "limit",
    "too many",
    "try again",
    "service unavailable",
    "unavailable",
    "internal",
    "timeout",
    "timed out",
    "being modified",
];

/// Classifies a copy job's `StatusMessage`. Returns the class and the marker that decided it.
pub fn classify_status_message(message: Option<&str>) -> (FailureClass, &'static str) {
    let Some(message) = message else {
        return (FailureClass::Transient, "no status message");
    };
    let lower = message.to_ascii_lowercase();
    if let Some(marker) = PERMANENT_MARKERS.iter().find(|marker| lower.contains(*marker)) {
        return (FailureClass::Permanent, marker);
    }
    if let Some(marker) = TRANSIENT_MARKERS.iter().find(|marker| lower.contains(*marker)) {
        return (FailureClass::Transient, marker);
    }
    (FailureClass::Transient, "unrecognised message")
}

/// Where a copy job sits in a chain of retries: the original job is attempt 0 and its own root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lineage {
    pub root: CopyJobId,
    pub attempt: u32,
    /// The failed job this one retries (absent for the original).
    pub retry_of: Option<CopyJobId>,
}

impl Lineage {
    pub fn original(id: &CopyJobId) -> Self {
        Self { root: id.clone(), attempt: 0, retry_of: None }
    }

    /// Lineage of the retry that follows a failure of the job with this lineage.
    pub fn next_attempt(&self, failed: &CopyJobId) -> Self {
        Self { root: self.root.clone(), attempt: self.attempt + 1, retry_of: Some(failed.clone()) }
    }
}

/// SQS caps DelaySeconds at 15 minutes.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(900);

/// How many retries a failed copy gets and how long to wait before each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the original job (attempts 1..=max_attempts).
    pub max_attempts: u32,
    /// Delay before attempt 1; attempt n waits base * 2^(n-1), capped at 15 minutes.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base_delay: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, base_delay: Duration) -> Result<Self, DomainError> {
        if !(1..=10).contains(&max_attempts) {
            return Err(DomainError::invalid("MAX_ATTEMPTS", "must be between 1 and 10"));
        }
        if base_delay > MAX_RETRY_DELAY {
            return Err(DomainError::invalid("RETRY_BASE_DELAY_SECONDS", "must be at most 900 (the SQS limit)"));
        }
        Ok(Self { max_attempts, base_delay })
    }

    /// True when a chain whose last job had `attempt` may try once more.
    pub fn allows_attempt(&self, attempt: u32) -> bool {
        (1..=self.max_attempts).contains(&attempt)
    }

    pub fn delay_before(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(MAX_RETRY_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_are_classified() {
        let cases = [
            (
                "Copy job failed because the destination backup vault is being modified. Try again later.",
                FailureClass::Transient,
            ),
            ("Access Denied: the role cannot copy to the destination vault", FailureClass::Permanent),
            ("The KMS key arn:aws:kms:... is disabled", FailureClass::Permanent),
            ("Recovery point not found", FailureClass::Permanent),
            ("Rate exceeded", FailureClass::Transient),
            ("Service unavailable", FailureClass::Transient),
            ("Something nobody has seen before", FailureClass::Transient),
            ("Access denied. Try again later.", FailureClass::Permanent),
        ];
        for (message, expected) in cases {
            assert_eq!(classify_status_message(Some(message)).0, expected, "{message}");
        }
        assert_eq!(classify_status_message(None).0, FailureClass::Transient);
    }

    #[test]
    fn backoff_doubles_and_is_capped_by_sqs() {
        let policy = RetryPolicy::new(3, Duration::from_secs(60)).unwrap();
        assert_eq!(policy.delay_before(1), Duration::from_secs(60));
        assert_eq!(policy.delay_before(2), Duration::from_secs(120));
        assert_eq!(policy.delay_before(3), Duration::from_secs(240));
        assert_eq!(policy.delay_before(40), MAX_RETRY_DELAY);
        assert!(policy.allows_attempt(3) && !policy.allows_attempt(4) && !policy.allows_attempt(0));
        assert!(RetryPolicy::new(0, Duration::ZERO).is_err());
        assert!(RetryPolicy::new(3, Duration::from_secs(901)).is_err());
    }

    #[test]
    fn lineage_counts_attempts_from_the_root() {
        let original = CopyJobId::parse("ORIG").unwrap();
        let first = Lineage::original(&original).next_attempt(&original);
        let retry = CopyJobId::parse("R1").unwrap();
        let second = first.next_attempt(&retry);
        assert_eq!((second.root.as_str(), second.attempt), ("ORIG", 2));
        assert_eq!(second.retry_of, Some(retry));
    }
}
