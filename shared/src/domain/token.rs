//! Deterministic idempotency tokens: the same logical copy always carries the same token, so AWS
//! Backup returns the existing copy job to a duplicate StartCopyJob instead of starting a second one.

use std::fmt;

use sha2::{Digest, Sha256};

use super::{BackupVaultArn, CopyJobId, RecoveryPointArn};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyToken(String);

impl IdempotencyToken {
    /// Token of retry `attempt` of the chain rooted at `root` (the original failed copy job).
    pub fn for_retry(root: &CopyJobId, attempt: u32) -> Self {
        Self(format!("retry-{root}-{attempt}"))
    }

    /// Token of the routed copy of a recovery point to a destination vault. Hashed because two ARNs
    /// are long; the prefix keeps the purpose readable in CloudTrail.
    pub fn for_route(recovery_point: &RecoveryPointArn, destination: &BackupVaultArn) -> Self {
        let digest = Sha256::new()
            .chain_update(recovery_point.as_str())
            .chain_update([0u8])
            .chain_update(destination.as_str())
            .finalize();
        let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
        Self(format!("route-{hex}"))
    }

    /// Token of the backfill copy of a recovery point in an incident's episode (its digest): one
    /// copy per recovery point and episode however often the backfill is repeated.
    pub fn for_backfill(episode: &str, recovery_point: &RecoveryPointArn) -> Self {
        let digest =
            Sha256::new().chain_update(episode).chain_update([0u8]).chain_update(recovery_point.as_str()).finalize();
        let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
        Self(format!("backfill-{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_and_distinct() {
        let rp = RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:A").unwrap();
        let dr = BackupVaultArn::parse("arn:aws:backup:us-west-2:123456789012:backup-vault:dr").unwrap();
        let eu = BackupVaultArn::parse("arn:aws:backup:eu-west-1:123456789012:backup-vault:dr").unwrap();
        assert_eq!(IdempotencyToken::for_route(&rp, &dr), IdempotencyToken::for_route(&rp, &dr));
        assert_ne!(IdempotencyToken::for_route(&rp, &dr), IdempotencyToken::for_route(&rp, &eu));
        let root = CopyJobId::parse("47C8EF56-74D8-059D-1301-C5BE1D5C926E").unwrap();
        assert_eq!(IdempotencyToken::for_retry(&root, 1).as_str(), "retry-47C8EF56-74D8-059D-1301-C5BE1D5C926E-1");
        // Logged as it is sent.
        assert_eq!(IdempotencyToken::for_retry(&root, 1).to_string(), "retry-47C8EF56-74D8-059D-1301-C5BE1D5C926E-1");
    }
}
