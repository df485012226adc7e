//! What the functions' IAM policies let them do, mirrored in code so that a copy the policy would
//! refuse is caught at cold start or alerted with its cause, instead of failing with AccessDenied.
//! The template grants exactly these (`PassableRoleArns`, `AllowedCopyTargets`).

use wildmatch::WildMatch;

use super::{BackupVaultArn, DomainError, IamRoleArn};

/// The roles the functions may pass to AWS Backup (`iam:PassRole`), and the one used when a failed
/// job's own role is not among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassableRoles {
    /// `None`: any role (no `PASSABLE_ROLE_ARNS` configured).
    passable: Option<Vec<IamRoleArn>>,
    fallback: Option<IamRoleArn>,
}

impl Default for PassableRoles {
    fn default() -> Self {
        Self::any(None)
    }
}

impl PassableRoles {
    /// `fallback` is always passable (the template grants it: `BackupRoleArn`).
    pub fn new(mut passable: Vec<IamRoleArn>, fallback: Option<IamRoleArn>) -> Self {
        if let Some(fallback) = &fallback {
            if !passable.contains(fallback) {
                passable.push(fallback.clone());
            }
        }
        Self { passable: Some(passable), fallback }
    }

    /// Any role (nothing configured): the job's own role is reused as it is.
    pub fn any(fallback: Option<IamRoleArn>) -> Self {
        Self { passable: None, fallback }
    }

    pub fn parse(list: &str, fallback: Option<IamRoleArn>) -> Result<Self, DomainError> {
        let roles = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(IamRoleArn::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DomainError::invalid("PASSABLE_ROLE_ARNS", "must list IAM role ARNs"))?;
        Ok(Self::new(roles, fallback))
    }

    pub fn allows(&self, role: &IamRoleArn) -> bool {
        self.passable.as_ref().is_none_or(|passable| passable.contains(role))
    }

    /// The role a retry passes: the failed job's own if the functions may pass it, else the
    /// configured one. `None` when neither can be used.
    pub fn for_retry(&self, job_role: Option<&IamRoleArn>) -> Option<IamRoleArn> {
        job_role.filter(|role| self.allows(role)).or(self.fallback.as_ref()).cloned()
    }
}

/// Destination vaults copies may go to: ARNs or ARN patterns with IAM's `ArnLike` wildcards (`*`,
/// `?`, each of the six colon-separated parts matched on its own), the same list the template puts
/// in the `backup:CopyTargets` condition of StartCopyJob.
#[derive(Clone, Debug, Default)]
pub struct CopyTargets {
    /// Empty: any destination (no `COPY_TARGETS` configured).
    patterns: Vec<(String, Vec<WildMatch>)>,
}

impl PartialEq for CopyTargets {
    fn eq(&self, other: &Self) -> bool {
        self.patterns.iter().map(|(raw, _)| raw).eq(other.patterns.iter().map(|(raw, _)| raw))
    }
}

impl CopyTargets {
    pub fn parse(list: &str) -> Result<Self, DomainError> {
        let patterns = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|pattern| {
                let parts = arn_parts(pattern);
                if parts.len() != 6 || parts[0] != "arn" {
                    return Err(DomainError::invalid("COPY_TARGETS", "must list backup vault ARNs or ARN patterns"));
                }
                Ok((pattern.to_owned(), parts.into_iter().map(WildMatch::new).collect()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { patterns })
    }

    pub fn allows(&self, vault: &BackupVaultArn) -> bool {
        let parts = arn_parts(vault.as_str());
        self.patterns.is_empty()
            || self.patterns.iter().any(|(_, pattern)| pattern.iter().zip(&parts).all(|(p, part)| p.matches(part)))
    }

    pub fn is_restricted(&self) -> bool {
        !self.patterns.is_empty()
    }
}

impl std::fmt::Display for CopyTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<&str> = self.patterns.iter().map(|(raw, _)| raw.as_str()).collect();
        f.write_str(&list.join(","))
    }
}

/// The six parts of an ARN (the resource keeps its own colons).
fn arn_parts(arn: &str) -> Vec<&str> {
    arn.splitn(6, ':').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> IamRoleArn {
        IamRoleArn::parse(&format!("arn:aws:iam::123456789012:role/{name}")).unwrap()
    }

    fn vault(arn: &str) -> BackupVaultArn {
        BackupVaultArn::parse(arn).unwrap()
    }

    #[test]
    fn a_retry_passes_the_jobs_role_when_allowed_else_the_configured_one() {
        let roles = PassableRoles::parse("arn:aws:iam::123456789012:role/plan-role,", Some(role("backup"))).unwrap();
        assert_eq!(roles.for_retry(Some(&role("plan-role"))), Some(role("plan-role")));
        assert_eq!(roles.for_retry(Some(&role("other"))), Some(role("backup")));
        assert_eq!(roles.for_retry(None), Some(role("backup")));
        assert!(roles.allows(&role("backup")), "the configured role is always passable");
        let no_fallback = PassableRoles::new(vec![role("plan-role")], None);
        assert_eq!(no_fallback.for_retry(Some(&role("other"))), None);
        assert!(PassableRoles::parse("arn:aws:iam::123456789012:user/bob", None).is_err());
        assert_eq!(PassableRoles::any(Some(role("backup"))).for_retry(Some(&role("other"))), Some(role("other")));
    }

    #[test]
    fn copy_targets_match_like_iam_arnlike() {
        let targets = CopyTargets::parse(
            "arn:aws:backup:*:123456789012:backup-vault:*, arn:aws:backup:us-west-2:999999999999:backup-vault:dr-?",
        )
        .unwrap();
        assert!(targets.allows(&vault("arn:aws:backup:eu-west-1:123456789012:backup-vault:anything")));
        assert!(targets.allows(&vault("arn:aws:backup:us-west-2:999999999999:backup-vault:dr-1")));
        assert!(!targets.allows(&vault("arn:aws:backup:us-west-2:999999999999:backup-vault:dr-10")));
        assert!(!targets.allows(&vault("arn:aws:backup:us-west-2:888888888888:backup-vault:dr-1")));
        // `*` stays inside its part: a region wildcard does not swallow the account.
        let region_only = CopyTargets::parse("arn:aws:backup:*:backup-vault:xx").unwrap();
        assert!(!region_only.allows(&vault("arn:aws:backup:us-east-1:123456789012:backup-vault:xx")));
        assert!(CopyTargets::parse("arn:aws:backup:*").unwrap_err().to_string().contains("COPY_TARGETS"));
        assert!(CopyTargets::default().allows(&vault("arn:aws:backup:us-east-1:111111111111:backup-vault:vv")));
        assert!(!CopyTargets::default().is_restricted() && targets.is_restricted());
        assert_eq!(region_only.to_string(), "arn:aws:backup:*:backup-vault:xx", "listed as configured");
        assert_ne!(region_only, targets);
        assert_eq!(region_only, CopyTargets::parse(" arn:aws:backup:*:backup-vault:xx ,").unwrap());
    }
}
