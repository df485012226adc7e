//! ARNs the system handles. Only the parts we rely on are checked: a vault ARN must name a vault (its
//! name is what StartCopyJob wants as `SourceBackupVaultName`); a recovery point ARN can belong to
//! any service (EBS snapshots and AMIs are `ec2` ARNs), so it is only checked to be an ARN.

use serde::{Deserialize, Serialize};

use super::DomainError;

const MAX_ARN_LEN: usize = 2048;

/// The six colon-separated parts of an ARN, borrowed from the string that holds them.
struct ArnParts<'a> {
    service: &'a str,
    resource: &'a str,
}

fn split_arn<'a>(kind: &'static str, raw: &'a str) -> Result<ArnParts<'a>, DomainError> {
    if raw.len() > MAX_ARN_LEN {
        return Err(DomainError::invalid(kind, "is longer than 2048 characters"));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(DomainError::invalid(kind, "contains whitespace"));
    }
    let mut parts = raw.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(_region), Some(_account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DomainError::invalid(kind, "is not an ARN (arn:partition:service:region:account:resource)"));
    };
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return Err(DomainError::invalid(kind, "has an empty partition, service or resource"));
    }
    Ok(ArnParts { service, resource })
}

/// ARN of a recovery point (source or destination of a copy).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecoveryPointArn(String);

impl RecoveryPointArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        split_arn("recovery point ARN", raw)?;
        Ok(Self(raw.to_owned()))
    }
}
string_newtype!(RecoveryPointArn);

/// ARN of the protected resource (volume, table, bucket...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceArn(String);

impl ResourceArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        split_arn("resource ARN", raw)?;
        Ok(Self(raw.to_owned()))
    }
}
string_newtype!(ResourceArn);

/// ARN of an IAM role (the role AWS Backup assumes to copy).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IamRoleArn(String);

impl IamRoleArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let parts = split_arn("IAM role ARN", raw)?;
        if parts.service != "iam" || !parts.resource.starts_with("role/") {
            return Err(DomainError::invalid("IAM role ARN", "is not an IAM role (arn:aws:iam::ACCOUNT:role/NAME)"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The role's account.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }
}
string_newtype!(IamRoleArn);

/// ARN of a KMS key (`arn:aws:kms:REGION:ACCOUNT:key/ID`), customer managed or AWS managed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KmsKeyArn(String);

impl KmsKeyArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let parts = split_arn("KMS key ARN", raw)?;
        if parts.service != "kms" || !parts.resource.starts_with("key/") {
            return Err(DomainError::invalid("KMS key ARN", "is not a KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID)"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key's account.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }

    /// The key's region (KMS answers about a key only in its region).
    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }
}
string_newtype!(KmsKeyArn);

/// ARN of an SNS topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicArn(String);

impl TopicArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let parts = split_arn("SNS topic ARN", raw)?;
        if parts.service != "sns" || parts.resource.contains(':') {
            return Err(DomainError::invalid("SNS topic ARN", "is not an SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME)"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The topic's region (empty if the ARN names none): SNS takes a Publish only in the topic's
    /// own region (docs/aws-facts.md#organization-alert-topic).
    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }
}
string_newtype!(TopicArn);

/// ARN of a backup vault: `arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupVaultArn(String);

impl BackupVaultArn {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let parts = split_arn("backup vault ARN", raw)?;
        let name = parts.resource.strip_prefix("backup-vault:");
        match name {
            Some(name) if parts.service == "backup" && VaultName::parse(name).is_ok() => Ok(Self(raw.to_owned())),
            _ => Err(DomainError::invalid(
                "backup vault ARN",
                "is not a backup vault (arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME)",
            )),
        }
    }

    /// The vault name, which StartCopyJob and the vault APIs take instead of the ARN.
    pub fn vault_name(&self) -> VaultName {
        let name = self.0.rsplit_once("backup-vault:").map(|(_, name)| name).unwrap_or_default();
        VaultName(name.to_owned())
    }

    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }

    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).unwrap_or_default()
    }
}
string_newtype!(BackupVaultArn);

/// A backup vault name: 2-50 characters of letters, digits, '-' and '_' (the console also allows '.').
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VaultName(String);

impl VaultName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let valid_chars = raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if (2..=50).contains(&raw.len()) && valid_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::invalid("backup vault name", "must be 2-50 letters, digits, '-', '_' or '.'"))
        }
    }
}
string_newtype!(VaultName);

#[cfg(test)]
mod tests {
    use super::*;

    const VAULT: &str = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-copy";

    #[test]
    fn vault_name_and_region_come_from_the_arn() {
        let arn = BackupVaultArn::parse(VAULT).unwrap();
        assert_eq!(arn.vault_name().as_str(), "dr-copy");
        assert_eq!(arn.region(), "us-west-2");
        assert_eq!(arn.account(), "123456789012");
    }

    #[test]
    fn a_vault_arn_must_name_a_vault() {
        for bad in [
            "arn:aws:backup:us-east-1:123456789012:recovery-point:X",
            "arn:aws:s3:::bucket",
            "backup-vault:primary",
            "arn:aws:backup:us-east-1:123456789012:backup-vault:",
        ] {
            let err = BackupVaultArn::parse(bad).unwrap_err().to_string();
            assert!(err.contains("backup vault ARN"), "{err}");
        }
    }

    #[test]
    fn recovery_points_of_other_services_are_accepted() {
        assert!(RecoveryPointArn::parse("arn:aws:ec2:us-east-1::snapshot/snap-0123").is_ok());
        assert!(RecoveryPointArn::parse("not-an-arn").is_err());
    }

    #[test]
    fn role_and_topic_arns_are_checked_by_service() {
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:role/service-role/Backup").is_ok());
        assert!(IamRoleArn::parse("arn:aws:iam::123456789012:user/bob").is_err());
        assert!(TopicArn::parse("arn:aws:sns:us-east-1:123456789012:alerts").is_ok());
        assert!(TopicArn::parse("arn:aws:sqs:us-east-1:123456789012:alerts").is_err());
    }

    #[test]
    fn an_arn_of_2048_characters_is_read_one_longer_is_refused() {
        let snapshot = "arn:aws:ec2:us-east-1::snapshot/snap-";
        let of_length = |len: usize| format!("{snapshot}{}", "0".repeat(len - snapshot.len()));
        assert!(RecoveryPointArn::parse(&of_length(MAX_ARN_LEN)).is_ok());
        let err = RecoveryPointArn::parse(&of_length(MAX_ARN_LEN + 1)).unwrap_err().to_string();
        assert!(err.contains("longer than 2048"), "{err}");
    }

    #[test]
    fn each_empty_part_is_refused_alone() {
        for bad in [
            "arn::backup:us-west-2:123456789012:backup-vault:dr",
            "arn:aws::us-west-2:123456789012:backup-vault:dr",
            "arn:aws:backup:us-west-2:123456789012:",
        ] {
            let err = RecoveryPointArn::parse(bad).unwrap_err().to_string();
            assert!(err.contains("empty partition, service or resource"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_kms_key_arn_names_a_key_of_kms() {
        let key = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(KmsKeyArn::parse(key).unwrap().as_str(), key);
        for bad in ["arn:aws:kms:us-west-2:444455556666:alias/backup", "arn:aws:sqs:us-west-2:444455556666:key/1"] {
            assert!(KmsKeyArn::parse(bad).unwrap_err().to_string().contains("is not a KMS key"), "{bad}");
        }
    }

    #[test]
    fn a_topics_region_comes_from_its_arn() {
        assert_eq!(TopicArn::parse("arn:aws:sns:eu-west-1:123456789012:org-alerts").unwrap().region(), "eu-west-1");
        assert_eq!(TopicArn::parse("arn:aws-cn:sns:cn-north-1:123456789012:a").unwrap().region(), "cn-north-1");
        assert_eq!(TopicArn::parse("arn:aws:sns::123456789012:alerts").unwrap().region(), "");
    }
}
