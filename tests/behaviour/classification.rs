//! One table over AWS's documented failure messages (docs/aws-facts.md#failure-messages, and the
//! payloads in ../shared/fixtures), quoted exactly: each row the message, AWS's label when there is
//! one (a copy job's MessageCategory, a refused call's error code), and what the one classifier
//! makes of it — the retry class, whether it is congestion, the cause (which the advice and the
//! copy-path incidents read). Rows whose text AWS does not document are marked as assumptions. What
//! nothing decides is unrecognised: one retry at most, then an alert quoting AWS.

use vaultwatch::domain::{
    classify_failure, classify_refusal, Cause, FailureClass, PathCause, PointCause, TransientCause,
};

use FailureClass::{Permanent, Transient, Unrecognised};

const DASH: &str = "Developer Guide, AWS Backup console dashboards, Reasons for problematic jobs";
const CROSS_ACCOUNT: &str = "re:Post Knowledge Center backup-troubleshoot-cross-account-copy";

/// AWS's label of the failure.
#[derive(Clone, Copy, Debug)]
enum Label {
    None,
    /// A failed copy job's MessageCategory.
    Category(&'static str),
    /// A refused call's error code.
    Code(&'static str),
}

struct Row {
    label: Label,
    message: &'static str,
    class: FailureClass,
    congestion: bool,
    cause: Cause,
    source: &'static str,
}

fn row(message: &'static str, class: FailureClass, cause: Cause, source: &'static str) -> Row {
    let congestion = cause.is_congestion();
    Row { label: Label::None, message, class, congestion, cause, source }
}

fn labelled(label: Label, message: &'static str, class: FailureClass, cause: Cause, source: &'static str) -> Row {
    Row { label, ..row(message, class, cause, source) }
}

fn path(cause: PathCause) -> Cause {
    Cause::Path(cause)
}

fn kms(key: Option<&str>) -> Cause {
    path(PathCause::KmsKey { key: key.map(str::to_owned), principal: None })
}

fn access() -> Cause {
    path(PathCause::Access { principal: None })
}

fn point(cause: PointCause) -> Cause {
    Cause::RecoveryPoint(cause)
}

fn transient(cause: TransientCause) -> Cause {
    Cause::Transient(cause)
}

fn table() -> Vec<Row> {
    use PathCause::*;
    use PointCause::*;
    use TransientCause::*;
    let pass_role = "User: arn:aws:sts::123456789012:assumed-role/vaultwatch-retrier/fn is not authorized to perform: \
                     iam:PassRole on resource: arn:aws:iam::123456789012:role/plan-role";
    vec![
        // The copy path.
        row("Copy job failed. Both source and destination account must be a member of the same organization.", Permanent, path(Organization), CROSS_ACCOUNT),
        row("Copy job failed. Cross-account copy feature is not enabled for the current organization.", Permanent, path(Organization), DASH),
        row("Copy job from us-west-2 to us-east-1 cannot be initiated for RDS resources. Feature is not supported for provided resource type.", Permanent, path(Unsupported), CROSS_ACCOUNT),
        row("Copy job failed because the destination Backup vault is encrypted with the default Backup service managed key. The contents of this vault cannot be copied. Only the contents of a Backup vault encrypted by an AWS KMS key may be copied.", Permanent, path(ManagedKey), DASH),
        row("Snapshots encrypted with the AWS managed key can't be shared. Specify another snapshot.", Permanent, path(ManagedKey), DASH),
        row("Encrypted snapshots with Amazon EBS default key cannot be shared", Permanent, path(ManagedKey), DASH),
        row("Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault.", Permanent, path(Retention), DASH),
        row("Access Denied trying to call AWS Backup service", Permanent, path(VaultAccessPolicy), "re:Post Knowledge Center backup-resolve-access-denied-error"),
        row("You are not authorized to perform this operation.", Permanent, access(), DASH),
        row("KMS key is either disabled or pending deletion or access to KMS key is denied", Permanent, kms(None), DASH),
        row("Given key ID is not accessible", Permanent, kms(None), DASH),
        row("AMI snapshot copy failed with error: Given key ID is not accessible. You must have DescribeKey permissions on the default CMK", Permanent, kms(None), "aws-samples/aws-backup-automation#2"),
        row("Given key ID does not exist", Permanent, kms(None), DASH),
        row("Images from AWS Marketplace cannot be copied to another AWS account.", Permanent, path(Unsupported), DASH),
        row("UnsupportedOperation : Storage Gateway backup copies require a user-created backup vault and key at destination.", Permanent, path(Unsupported), DASH),
        row("Your backup job failed as AWS Backup does not have permission to describe resource arn:aws:s3:::bucket. Please review your IAM policies to ensure AWS Backup can protect your resources.", Permanent, access(), "ministryofjustice/modernisation-platform#6152"),
        row("The source snapshot KMS key [arn:aws:kms:us-east-1:123456789012:key/abc] does not exist, is not enabled or you do not have permissions to access it.", Permanent, kms(Some("arn:aws:kms:us-east-1:123456789012:key/abc")), "awslabs/aurora-snapshot-tool#29"),
        row("Must specify new KMS key for cross region encrypted snapshot copy.", Permanent, kms(None), "1Strategy/rds-oracle-cross-account-cross-region-dr#1"),
        labelled(Label::Code("AccessDeniedException"), pass_role, Permanent, path(PassRole { role: Some("arn:aws:iam::123456789012:role/plan-role".into()), principal: Some("arn:aws:sts::123456789012:assumed-role/vaultwatch-retrier/fn".into()) }), "docs/aws-facts.md#startcopyjob-refusals (IAM's AccessDenied wording)"),
        labelled(Label::Category("AccessDenied"), "Copy job failed.", Permanent, access(), "API model, CopyJob MessageCategory example 'AccessDenied'"),
        // One recovery point.
        row("We are unable to copy resource tags to your backup because source or destination recovery point is unavailable", Permanent, point(Gone), DASH),
        row("The resultant tag set must not have more than 50 user tags.", Permanent, point(TooManyTags), DASH),
        row("Recovery points in cold storage cannot be copied.", Permanent, point(ColdStorage), "ASSUMPTION: AWS documents that cold backups \"cannot be copied\", not the message"),
        row("Does not support continuous backups.", Permanent, point(Continuous), "ASSUMPTION: StartCopyJob's documentation in the API model, not seen as a message"),
        // Quotas and invalid requests.
        row("Maximum allowed active snapshot limit exceeded.", Permanent, Cause::Quota, DASH),
        row("Cannot create more than 20 user snapshots", Permanent, Cause::Quota, DASH),
        row("You have reached your quota of 50,000 for the number of public and private images allowed in this Region. Deregister unused images, or request an increase in your AMI quota.", Permanent, Cause::Quota, DASH),
        labelled(Label::Category("INVALIDPARAMETERS"), "Copy job failed.", Permanent, Cause::Invalid, "API model, ListCopyJobs ByMessageCategory example"),
        // Transient: congestion (throttling, KMS throttling included, and limits).
        row("There are too many copy jobs running for resource.", Transient, transient(Limit), DASH),
        row("Backup job failed because there was a running job for the same resource.", Transient, transient(Limit), DASH),
        row("Maximum allowed in-progress snapshots for a single volume exceeded.", Transient, transient(Limit), DASH),
        row("Image creation throttled due to maximum number of concurrent snapshots on an EBS volume.", Transient, transient(Limit), DASH),
        row("Subscriber limit exceeded: You have reached the maximum concurrent number of backups, which is 300. Wait until other jobs finish, and try again. You can also reach out to Support to request a quota increase.", Transient, transient(Limit), DASH),
        labelled(Label::Category("MISCELLANEOUS"), "There are too many copy jobs running for resource.", Transient, transient(Limit), "docs/aws-facts.md#quotas-under-a-burst: the category decides nothing; the text does"),
        labelled(Label::Code("LimitExceededException"), "Too many concurrent copy jobs for this account. Try again later.", Transient, transient(Limit), "fixtures/backup-api/error-limit-exceeded.json"),
        row("Request limit exceeded.", Transient, transient(Throttled), "velero-io/velero#1135 (EC2 RequestLimitExceeded)"),
        row("Please reduce your request rate for operations involving AWS KMS.", Transient, transient(Throttled), "aws-samples/cql-replicator#92 (KMS throttling through S3)"),
        row("Rate exceeded", Transient, transient(Throttled), "base2Services/shelvery-aws-backups#140"),
        labelled(Label::Code("ThrottlingException"), "Rate exceeded", Transient, transient(Throttled), "DG Common Errors; docs/aws-facts.md#quotas-under-a-burst"),
        row("KMS throttling: Rate exceeded", Transient, transient(Throttled), "ASSUMPTION: KMS throttling inside a copy job has no documented message; KMS's own text is \"Rate exceeded\""),
        // Transient: AWS's own errors, a vault or resource busy.
        row("Token expired. Try again.", Transient, transient(ServiceError), DASH),
        row("An internal error occurred.", Transient, transient(ServiceError), DASH),
        row("We are unable to copy resource tags to your backup because of the Internal Failure.", Transient, transient(ServiceError), DASH),
        labelled(Label::Code("ServiceUnavailableException"), "The request failed due to a temporary failure of the server.", Transient, transient(ServiceError), "ASSUMPTION: the exception's shape documentation, used as its message"),
        row("Copy job failed because the destination backup vault is being modified. Try again later.", Transient, transient(Busy), "fixtures/backup-api/describe-copy-job-failed.json"),
        // Unrecognised: one retry, then an alert quoting AWS.
        row("Copy job encountered a fatal error. Please contact AWS Support for further assistance.", Unrecognised, Cause::Unrecognised, DASH),
        row("Copy job failed.", Unrecognised, Cause::Unrecognised, "a message that says nothing: AWS already retried system errors for two hours"),
        row("The copy could not be completed: error 0x2f", Unrecognised, Cause::Unrecognised, "ASSUMPTION: an unknown text stays unrecognised"),
    ]
}

#[test]
fn aws_documented_failures_get_their_class_congestion_and_cause_from_one_classifier() {
    for Row { label, message, class, congestion, cause, source } in table() {
        let got = match label {
            Label::None => classify_failure(None, Some(message)),
            Label::Category(category) => classify_failure(Some(category), Some(message)),
            Label::Code(code) => classify_refusal(Some(code), Some(message)),
        };
        let said = format!("{message:?} ({label:?}; source: {source}) decided by {:?}", got.reason);
        assert_eq!(got.cause, cause, "{said}");
        assert_eq!((got.class(), got.is_congestion()), (class, congestion), "{said}");
        // A refusal's advice reads the same cause.
        if let Label::Code(code) = label {
            assert_eq!(Cause::of_refusal(message, Some(code)), cause, "{said}");
        }
    }
}

#[test]
fn kms_throttling_is_transient_but_kms_access_is_not() {
    let throttled = classify_failure(None, Some("KMS throttling: Rate exceeded"));
    assert_eq!(throttled.cause, Cause::Transient(TransientCause::Throttled));
    let denied = classify_failure(None, Some("The KMS key policy does not allow the destination account"));
    assert_eq!(denied.cause, Cause::Path(PathCause::KmsKey { key: None, principal: None }));
    let later = classify_failure(None, Some("Access denied. Try again later."));
    assert_eq!(later.cause, Cause::Path(PathCause::Access { principal: None }));
    // A denial AWS labels so stays one, whatever its message says.
    assert_eq!(classify_failure(Some("AccessDenied"), Some("Rate exceeded")).class(), Permanent);
}
