//! Failure classification against real AWS Backup status messages, each with its source
//! (docs/aws-facts.md#failure-messages). Category first, then the text; what neither decides is
//! unrecognised (one retry at most: AWS already retried the copy for two hours).

use vaultwatch::domain::{classify_failure, FailureClass};

use FailureClass::{Permanent, Transient, Unrecognised};

/// (category, message, class, source)
const CASES: &[(Option<&str>, &str, FailureClass, &str)] = &[
    (
        None,
        "Copy job failed. Both source and destination account must be a member of the same organization",
        Permanent,
        "re:Post Knowledge Center backup-troubleshoot-cross-account-copy",
    ),
    (
        None,
        "Copy job from us-west-2 to us-east-1 cannot be initiated for RDS resources. Feature is not supported for provided resource type.",
        Permanent,
        "re:Post Knowledge Center backup-troubleshoot-cross-account-copy",
    ),
    (None, "Access Denied trying to call AWS Backup service", Permanent, "re:Post Knowledge Center backup-resolve-access-denied-error"),
    (
        None,
        "Rate exceeded (Service: AWSKMS; Status Code: 400; Error Code: ThrottlingException)",
        Transient,
        "issue #11: KMS throttling is transient though it mentions KMS (wording illustrative)",
    ),
    (Some("AccessDenied"), "Copy job failed.", Permanent, "API model, CopyJob MessageCategory example 'AccessDenied'"),
    (Some("INVALIDPARAMETERS"), "Copy job failed.", Permanent, "API model, ListCopyJobs ByMessageCategory example"),
    (Some("InvalidParameters"), "Copy job failed.", Permanent, "API model, CopyJob MessageCategory example"),
    (None, "Copy job failed.", Unrecognised, "a message that says nothing: AWS already retried for two hours"),
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
