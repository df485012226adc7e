//! Failure classification against real AWS Backup status messages, each with its source
//! (docs/aws-facts.md#failure-messages). Category first, then the text; what neither decides is
//! unrecognised (one retry at most: AWS already retried the copy for two hours).

use vaultwatch::domain::{classify_failure, FailureClass};

use FailureClass::{Permanent, Transient, Unrecognised};

const DASH: &str = "Developer Guide, AWS Backup console dashboards, Reasons for problematic jobs";
const CROSS_ACCOUNT: &str = "re:Post Knowledge Center backup-troubleshoot-cross-account-copy";

/// (category, message, class, source); the rows of docs/aws-facts.md#failure-messages.
const CASES: &[(Option<&str>, &str, FailureClass, &str)] = &[
    (None, "Copy job failed. Both source and destination account must be a member of the same organization.", Permanent, CROSS_ACCOUNT),
    (None, "Copy job failed. Cross-account copy feature is not enabled for the current organization.", Permanent, DASH),
    (None, "Copy job from us-west-2 to us-east-1 cannot be initiated for RDS resources. Feature is not supported for provided resource type.", Permanent, CROSS_ACCOUNT),
    (None, "Copy job failed because the destination Backup vault is encrypted with the default Backup service managed key. The contents of this vault cannot be copied. Only the contents of a Backup vault encrypted by an AWS KMS key may be copied.", Permanent, DASH),
    (None, "Snapshots encrypted with the AWS managed key can't be shared. Specify another snapshot.", Permanent, DASH),
    (None, "Encrypted snapshots with Amazon EBS default key cannot be shared", Permanent, DASH),
    (None, "Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault.", Permanent, DASH),
    (None, "Access Denied trying to call AWS Backup service", Permanent, "re:Post Knowledge Center backup-resolve-access-denied-error"),
    (None, "You are not authorized to perform this operation.", Permanent, DASH),
    (None, "KMS key is either disabled or pending deletion or access to KMS key is denied", Permanent, DASH),
    (None, "Given key ID is not accessible", Permanent, DASH),
    (None, "AMI snapshot copy failed with error: Given key ID is not accessible. You must have DescribeKey permissions on the default CMK", Permanent, "aws-samples/aws-backup-automation#2"),
    (None, "Given key ID does not exist", Permanent, DASH),
    (None, "Images from AWS Marketplace cannot be copied to another AWS account.", Permanent, DASH),
    (None, "UnsupportedOperation : Storage Gateway backup copies require a user-created backup vault and key at destination.", Permanent, DASH),
    (None, "There are too many copy jobs running for resource.", Transient, DASH),
    (None, "Backup job failed because there was a running job for the same resource.", Transient, DASH),
    (None, "Maximum allowed in-progress snapshots for a single volume exceeded.", Transient, DASH),
    (None, "Image creation throttled due to maximum number of concurrent snapshots on an EBS volume.", Transient, DASH),
    (None, "Subscriber limit exceeded: You have reached the maximum concurrent number of backups, which is 300. Wait until other jobs finish, and try again. You can also reach out to Support to request a quota increase.", Transient, DASH),
    (None, "Maximum allowed active snapshot limit exceeded.", Permanent, DASH),
    (None, "Cannot create more than 20 user snapshots", Permanent, DASH),
    (None, "You have reached your quota of 50,000 for the number of public and private images allowed in this Region. Deregister unused images, or request an increase in your AMI quota.", Permanent, DASH),
    (None, "The resultant tag set must not have more than 50 user tags.", Permanent, DASH),
    (None, "Token expired. Try again.", Transient, DASH),
    (None, "An internal error occurred.", Transient, DASH),
    (None, "We are unable to copy resource tags to your backup because of the Internal Failure.", Transient, DASH),
    (None, "We are unable to copy resource tags to your backup because source or destination recovery point is unavailable", Permanent, DASH),
    (None, "Copy job encountered a fatal error. Please contact AWS Support for further assistance.", Unrecognised, DASH),
    (None, "Your backup job failed as AWS Backup does not have permission to describe resource arn:aws:s3:::bucket. Please review your IAM policies to ensure AWS Backup can protect your resources.", Permanent, "ministryofjustice/modernisation-platform#6152"),
    (None, "The source snapshot KMS key [arn:aws:kms:us-east-1:123456789012:key/abc] does not exist, is not enabled or you do not have permissions to access it.", Permanent, "awslabs/aurora-snapshot-tool#29"),
    (None, "Must specify new KMS key for cross region encrypted snapshot copy.", Permanent, "1Strategy/rds-oracle-cross-account-cross-region-dr#1"),
    (None, "Request limit exceeded.", Transient, "velero-io/velero#1135 (EC2 RequestLimitExceeded)"),
    (None, "Please reduce your request rate for operations involving AWS KMS.", Transient, "aws-samples/cql-replicator#92 (KMS throttling through S3)"),
    (None, "Rate exceeded", Transient, "base2Services/shelvery-aws-backups#140"),
    (Some("AccessDenied"), "Copy job failed.", Permanent, "API model, CopyJob MessageCategory example 'AccessDenied'"),
    (Some("INVALIDPARAMETERS"), "Copy job failed.", Permanent, "API model, ListCopyJobs ByMessageCategory example"),
    (Some("MISCELLANEOUS"), "There are too many copy jobs running for resource.", Transient, "category decides nothing; the text does"),
    (None, "Copy job failed.", Unrecognised, "a message that says nothing: AWS already retried system errors for two hours"),
];

#[test]
fn real_status_messages_are_classified_with_their_sources() {
    for (category, message, expected, source) in CASES {
        let got = classify_failure(*category, Some(message));
        assert_eq!(
            got.class, *expected,
            "{message:?} (category {category:?}; source: {source}) decided by {}",
            got.reason
        );
    }
}

#[test]
fn kms_throttling_is_transient_but_kms_access_is_not() {
    assert_eq!(classify_failure(None, Some("KMS throttling: Rate exceeded")).class, Transient);
    assert_eq!(
        classify_failure(None, Some("The KMS key policy does not allow the destination account")).class,
        Permanent
    );
    assert_eq!(classify_failure(None, Some("Access denied. Try again later.")).class, Permanent);
}
