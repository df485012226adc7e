//! Retry policy for copy jobs: how many retries a failure's class allows, and when.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Classification, CopyJobId, DomainError, FailureClass};

/// Retries a congested chain makes before the operator is told (whatever `MaxAttempts` says), each
/// (with the default base delay) after 7.5 to 15 minutes: one to two hours, the window AWS Backup
/// itself retries a copy job in (docs/aws-facts.md#copy-job-retry), so a burst's limits do not end
/// in an alert.
pub const CONGESTION_ATTEMPTS: u32 = 8;

/// The last retry of a congested chain. Being told does not end it: limits pass, and a copy given up
/// is a copy lost. At 7.5 to 15 minutes a wait (11¼ on average), 128 retries keep trying for about a
/// day, until the next night's burst; then the chain ends with an alert like any other.
pub const CONGESTION_LAST_ATTEMPT: u32 = 128;

/// How many doublings further a congested failure waits than a passing one.
const CONGESTION_STEPS_AHEAD: u32 = 4;

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
    /// The step before attempt 1; attempt n waits between half and all of base * 2^(n-1), capped
    /// at 15 minutes (see [`RetryPolicy::delay_before`]).
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

    /// True when a chain may make retry number `attempt` after a failure of this class (a
    /// permanent failure none, an unrecognised one only the first).
    pub fn allows_attempt(&self, attempt: u32, class: FailureClass) -> bool {
        (1..=self.last_attempt_of(class)).contains(&attempt)
    }

    /// The last retry a chain may make after a failure of this class (0: none).
    fn last_attempt_of(&self, class: FailureClass) -> u32 {
        match class {
            FailureClass::Transient => self.max_attempts,
            FailureClass::Unrecognised => self.max_attempts.min(1),
            FailureClass::Permanent => 0,
        }
    }

    /// The last retry a chain may make after this failure: for congestion
    /// [`CONGESTION_LAST_ATTEMPT`] (or `max_attempts`, if more), else as its class allows. What
    /// "retrying (attempt n of m)" counts to.
    pub fn last_attempt(&self, failure: &Classification) -> u32 {
        if failure.is_congestion() {
            return self.max_attempts.max(CONGESTION_LAST_ATTEMPT);
        }
        self.last_attempt_of(failure.class())
    }

    /// Whether a chain may make retry number `attempt` after this failure: up to
    /// [`Self::last_attempt`].
    pub fn allows(&self, attempt: u32, failure: &Classification) -> bool {
        (1..=self.last_attempt(failure)).contains(&attempt)
    }

    /// Whether scheduling retry `attempt` after this failure also tells the operator: the first
    /// congested retry past [`CONGESTION_ATTEMPTS`] (or `max_attempts`, if more), once per chain.
    pub fn escalates(&self, attempt: u32, failure: &Classification) -> bool {
        failure.is_congestion() && attempt == self.escalation_attempt()
    }

    /// Whether the chain scheduling retry `attempt` after this failure has been told of its
    /// congestion, by this retry or an earlier one (only congestion carries a chain past the
    /// escalation).
    pub fn told_of_congestion(&self, attempt: u32, failure: &Classification) -> bool {
        failure.is_congestion() && attempt >= self.escalation_attempt()
    }

    fn escalation_attempt(&self) -> u32 {
        self.max_attempts.max(CONGESTION_ATTEMPTS) + 1
    }

    /// The delay before retry `attempt` after this failure of `failed`: for congestion, four
    /// doublings further than [`Self::delay_before`] (with the default 60 s base, SQS's 15 minutes
    /// from the first retry on), else that.
    pub fn delay_for(&self, attempt: u32, failure: &Classification, failed: &CopyJobId) -> Duration {
        let steps_ahead = if failure.is_congestion() { CONGESTION_STEPS_AHEAD } else { 0 };
        self.delay_before(attempt.saturating_add(steps_ahead), failed)
    }

    /// The exponential step before retry `attempt`: base * 2^(attempt-1), capped at 15 minutes.
    pub fn step_before(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(MAX_RETRY_DELAY)
    }

    /// The delay before retry `attempt` of the failed job `failed`: between half the step and the
    /// whole step ("equal jitter"), so the failures of one nightly burst do not all retry in the same
    /// second and meet AWS Backup's request rates and copy limits together again. The jitter is
    /// derived from the failed job's id, not drawn at random: a redelivered failure schedules the
    /// same delay, and a test can predict it.
    pub fn delay_before(&self, attempt: u32, failed: &CopyJobId) -> Duration {
        let step = self.step_before(attempt);
        let half = step / 2;
        let spread = (step - half).as_millis() as u64;
        let digest = Sha256::new().chain_update(failed.as_str()).chain_update(attempt.to_be_bytes()).finalize();
        let roll = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"));
        half + Duration::from_millis(roll % (spread + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::classify_failure;

    #[test]
    fn backoff_doubles_and_is_capped_by_sqs() {
        let policy = RetryPolicy::new(3, Duration::from_secs(60)).unwrap();
        assert_eq!(policy.step_before(1), Duration::from_secs(60));
        assert_eq!(policy.step_before(2), Duration::from_secs(120));
        assert_eq!(policy.step_before(3), Duration::from_secs(240));
        assert_eq!(policy.step_before(40), MAX_RETRY_DELAY);
        assert!(
            policy.allows_attempt(3, FailureClass::Transient) && !policy.allows_attempt(4, FailureClass::Transient)
        );
        assert!(!policy.allows_attempt(0, FailureClass::Transient));
        assert!(
            policy.allows_attempt(1, FailureClass::Unrecognised)
                && !policy.allows_attempt(2, FailureClass::Unrecognised)
        );
        assert!(!policy.allows_attempt(1, FailureClass::Permanent));
        assert!(RetryPolicy::new(0, Duration::ZERO).is_err());
        assert!(RetryPolicy::new(3, Duration::from_secs(901)).is_err());
    }

    #[test]
    fn jitter_spreads_a_burst_between_half_and_the_whole_step_and_repeats_per_job() {
        let policy = RetryPolicy::new(3, Duration::from_secs(60)).unwrap();
        let delays: Vec<Duration> =
            (0..1000).map(|n| policy.delay_before(2, &CopyJobId::parse(&format!("JOB-{n}")).unwrap())).collect();
        assert!(delays.iter().all(|d| (Duration::from_secs(60)..=Duration::from_secs(120)).contains(d)));
        // Spread over the range: each quarter of it holds a fair share of the burst.
        for quarter in 0..4 {
            let low = Duration::from_secs(60 + 15 * quarter);
            let count = delays.iter().filter(|d| **d >= low && **d < low + Duration::from_secs(15)).count();
            assert!((150..350).contains(&count), "quarter {quarter}: {count} of 1000");
        }
        let distinct: std::collections::HashSet<_> = delays.iter().map(|d| d.as_secs()).collect();
        assert!(distinct.len() > 50, "only {} distinct seconds", distinct.len());
        // The same failure always waits the same; another attempt of it waits differently.
        let job = CopyJobId::parse("JOB-7").unwrap();
        assert_eq!(policy.delay_before(2, &job), delays[7]);
        assert_ne!(policy.delay_before(1, &job) * 2, policy.delay_before(2, &job));
        // Never beyond SQS's limit, never below half the cap.
        let capped = policy.delay_before(40, &job);
        assert!(capped <= MAX_RETRY_DELAY && capped >= MAX_RETRY_DELAY / 2);
    }

    #[test]
    fn congestion_waits_longest_and_outlasts_max_attempts_other_failures_do_not() {
        let policy = RetryPolicy::new(3, Duration::from_secs(60)).unwrap();
        let job = CopyJobId::parse("JOB-1").unwrap();
        let limit = classify_failure(Some("MISCELLANEOUS"), Some("There are too many copy jobs running for resource."));
        let throttled = classify_failure(None, Some("Rate exceeded"));
        let passing = classify_failure(None, Some("Service unavailable, try again later"));
        assert!(limit.is_congestion() && throttled.is_congestion() && !passing.is_congestion());
        assert!(!classify_failure(None, Some("Access denied")).is_congestion());
        assert!(policy.allows(CONGESTION_LAST_ATTEMPT, &limit) && !policy.allows(CONGESTION_LAST_ATTEMPT + 1, &limit));
        assert!(!policy.allows(0, &limit));
        assert!(policy.allows(3, &passing) && !policy.allows(4, &passing));
        // Told once, past the congestion budget, and the chain goes on.
        let told: Vec<u32> = (0..=CONGESTION_LAST_ATTEMPT + 1).filter(|n| policy.escalates(*n, &limit)).collect();
        assert_eq!(told, [CONGESTION_ATTEMPTS + 1]);
        assert!((0..=CONGESTION_LAST_ATTEMPT).all(|n| !policy.escalates(n, &passing)), "only congestion escalates");
        let told_so_far: Vec<u32> =
            (0..=CONGESTION_ATTEMPTS + 2).filter(|n| policy.told_of_congestion(*n, &limit)).collect();
        assert_eq!(told_so_far, [CONGESTION_ATTEMPTS + 1, CONGESTION_ATTEMPTS + 2]);
        assert!(!policy.told_of_congestion(CONGESTION_ATTEMPTS + 2, &passing));
        for attempt in 1..=CONGESTION_LAST_ATTEMPT {
            let delay = policy.delay_for(attempt, &limit, &job);
            assert!((MAX_RETRY_DELAY / 2..=MAX_RETRY_DELAY).contains(&delay), "{attempt}: {delay:?}");
        }
        assert_eq!(policy.delay_for(2, &passing, &job), policy.delay_before(2, &job));
        let no_wait = RetryPolicy::new(3, Duration::ZERO).unwrap();
        assert_eq!(no_wait.delay_for(1, &limit, &job), Duration::ZERO, "the configured base scales congestion too");
        assert_eq!(policy.last_attempt(&limit), CONGESTION_LAST_ATTEMPT);
        assert_eq!(policy.last_attempt(&passing), 3);
        assert_eq!(policy.last_attempt(&classify_failure(None, Some("Something nobody has seen before"))), 1);
        assert_eq!(policy.last_attempt(&classify_failure(None, Some("Access denied"))), 0);
        let generous = RetryPolicy::new(10, Duration::from_secs(60)).unwrap();
        assert!(generous.allows(10, &limit), "MaxAttempts above the congestion budget still holds");
        assert!(generous.escalates(11, &limit) && !generous.escalates(CONGESTION_ATTEMPTS + 1, &limit));
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
