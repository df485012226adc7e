//! What AWS's failure says: its cause and, from the cause, whether a retry can help. One reading
//! of AWS's words for every decision made on them — the retry class, congestion, the advice, the
//! SDK's transient codes — from one table of AWS's phrases and one of its labels (a copy job's
//! `MessageCategory`, a refused call's error code). Sources: docs/aws-facts.md#failure-messages,
//! #messagecategory, #startcopyjob-refusals and #quotas-under-a-burst.

use super::NotCopyable;

/// Whether trying again can help. AWS Backup already retries a copy job that meets system errors,
/// for two hours (docs/aws-facts.md#copy-job-retry), so a failure nobody recognises is not presumed
/// passing: it gets one retry at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Throttling, limits, service trouble, a vault busy being modified: a later retry can succeed.
    Transient,
    /// The path, the recovery point, a quota or the request: retrying repeats the failure.
    Permanent,
    /// Neither AWS's label nor its message says which: one retry, then an alert quoting AWS.
    Unrecognised,
}

/// What stopped a copy, as AWS's words name it, grouped by what it belongs to: the copy path (every
/// copy on it fails until someone fixes it), one recovery point (the path is fine), or nothing that
/// lasts (a retry can work).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The path (source vault → destination vault, with its role) is misconfigured.
    Path(PathCause),
    /// This recovery point cannot be copied; other copies on the path are not affected.
    RecoveryPoint(PointCause),
    /// Passes on its own: a later retry can succeed.
    Transient(TransientCause),
    /// An account quota that needs a clean-up or an increase (snapshots, images).
    Quota,
    /// AWS rejected the request as invalid (its category InvalidParameters, or such an error code)
    /// and its message says no more.
    Invalid,
    /// Nothing vaultwatch recognises.
    Unrecognised,
}

/// A failure that belongs to the copy path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathCause {
    /// The caller may not pass the role (`iam:PassRole`); the role and caller when AWS names them.
    PassRole { role: Option<String>, principal: Option<String> },
    /// Access denied, not said to what (the role lacks a permission, e.g.
    /// `backup:CopyIntoBackupVault`); the principal when AWS names it.
    Access { principal: Option<String> },
    /// A KMS key is disabled, pending deletion, missing or its policy does not let the principal use
    /// it; the key and principal when AWS names them.
    KmsKey { key: Option<String>, principal: Option<String> },
    /// A vault or snapshot encrypted with an AWS managed (default) key, which cannot be shared.
    ManagedKey,
    /// The destination vault's access policy does not let the source account copy into it.
    VaultAccessPolicy,
    /// The accounts are not in one organization, or cross-account backup is off in it.
    Organization,
    /// The lifecycle does not fit the destination vault's Vault Lock retention range.
    Retention,
    /// AWS Backup does not copy this resource type (or this resource) along this path.
    Unsupported,
}

/// A failure that belongs to one recovery point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointCause {
    /// Deleted, expired or being deleted: nothing left to copy.
    Gone,
    /// In cold storage (or moving there before a retry is due): not copyable.
    ColdStorage,
    /// A continuous (point-in-time) recovery point: StartCopyJob does not take it.
    Continuous,
    /// A nested job of a composite copy: handled through its parent (known from `ParentJobId`,
    /// never from a message).
    CompositeChild,
    /// The resource has more tags than a copy may carry.
    TooManyTags,
}

/// A failure that passes on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransientCause {
    /// Request rates: AWS Backup's, or a service's it calls (KMS throttling included).
    Throttled,
    /// Concurrency limits: too many copies or snapshots running (docs/aws-facts.md#service-quotas).
    Limit,
    /// An error of AWS's own (internal error, unavailable, timeout, an expired token).
    ServiceError,
    /// The vault or resource was busy (being modified, not in an available state, a maintenance window).
    Busy,
}

impl Cause {
    /// The retry class the cause means.
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Transient(_) => FailureClass::Transient,
            Self::Unrecognised => FailureClass::Unrecognised,
            Self::Path(_) | Self::RecoveryPoint(_) | Self::Quota | Self::Invalid => FailureClass::Permanent,
        }
    }

    /// Congestion: AWS throttled the copy or held it at a limit. A nightly burst can keep it so for
    /// longer than a few retries; it passes on its own.
    pub fn is_congestion(&self) -> bool {
        matches!(self, Self::Transient(TransientCause::Throttled | TransientCause::Limit))
    }

    /// The cause a refused call names (its message, refined within what its error code says).
    pub fn of_refusal(message: &str, code: Option<&str>) -> Self {
        classify_refusal(code, Some(message)).cause
    }

    /// The cause an error code alone names, when the code is one vaultwatch knows.
    pub fn of_error_code(code: &str) -> Option<Self> {
        labelled(code, "")
    }
}

impl From<&NotCopyable> for PointCause {
    fn from(why: &NotCopyable) -> Self {
        match why {
            NotCopyable::Continuous => Self::Continuous,
            NotCopyable::ColdStorage | NotCopyable::ColdBeforeRetry { .. } => Self::ColdStorage,
            NotCopyable::Deleted | NotCopyable::DeletedBeforeRetry { .. } => Self::Gone,
        }
    }
}

/// How a failure was classified, and what decided it (for logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    pub cause: Cause,
    /// The phrase or label that decided, or "unrecognised failure".
    pub reason: &'static str,
}

impl Classification {
    pub fn class(&self) -> FailureClass {
        self.cause.class()
    }

    /// See [`Cause::is_congestion`].
    pub fn is_congestion(&self) -> bool {
        self.cause.is_congestion()
    }
}

/// What a phrase or label names: a cause as it is, or one that carries the role, key or principal
/// the message names (read when it is matched).
#[derive(Clone, Debug)]
enum Rule {
    Fixed(Cause),
    PassRole,
    Access,
    KmsKey,
}

const ORGANIZATION: Rule = Rule::Fixed(Cause::Path(PathCause::Organization));
const MANAGED_KEY: Rule = Rule::Fixed(Cause::Path(PathCause::ManagedKey));
const VAULT_ACCESS_POLICY: Rule = Rule::Fixed(Cause::Path(PathCause::VaultAccessPolicy));
const RETENTION: Rule = Rule::Fixed(Cause::Path(PathCause::Retention));
const UNSUPPORTED: Rule = Rule::Fixed(Cause::Path(PathCause::Unsupported));
const GONE: Rule = Rule::Fixed(Cause::RecoveryPoint(PointCause::Gone));
const COLD: Rule = Rule::Fixed(Cause::RecoveryPoint(PointCause::ColdStorage));
const CONTINUOUS: Rule = Rule::Fixed(Cause::RecoveryPoint(PointCause::Continuous));
const TAGS: Rule = Rule::Fixed(Cause::RecoveryPoint(PointCause::TooManyTags));
const QUOTA: Rule = Rule::Fixed(Cause::Quota);
const INVALID: Rule = Rule::Fixed(Cause::Invalid);
const THROTTLED: Rule = Rule::Fixed(Cause::Transient(TransientCause::Throttled));
const LIMIT: Rule = Rule::Fixed(Cause::Transient(TransientCause::Limit));
const SERVICE_ERROR: Rule = Rule::Fixed(Cause::Transient(TransientCause::ServiceError));
const BUSY: Rule = Rule::Fixed(Cause::Transient(TransientCause::Busy));

/// Phrases of AWS's messages, lower case, checked in this order: the first that matches decides.
/// From AWS's own list of copy and backup job messages and patterns (docs/aws-facts.md#failure-messages).
/// Specific phrases come before the general ones they contain: a concurrency limit that says
/// "throttled" before throttling; throttling before "kms" (KMS *throttling* passes); a managed key
/// before "kms key"; the vault access policy's denial before access; a cold or continuous point
/// before "cannot be copied"; a quota that needs a clean-up before "limit"; a vault being modified
/// before "try again"; a recovery point that is gone before "unavailable".
const PHRASES: &[(&str, Rule)] = &[
    ("iam:passrole", Rule::PassRole),
    ("same organization", ORGANIZATION),
    ("cross-account copy feature is not enabled", ORGANIZATION),
    ("too many copy jobs running", LIMIT),
    ("running job for the same resource", LIMIT),
    ("in-progress snapshots", LIMIT),
    ("concurrent snapshots", LIMIT),
    ("subscriber limit exceeded", LIMIT),
    ("throttl", THROTTLED),
    ("rate exceeded", THROTTLED),
    ("reduce your request rate", THROTTLED),
    ("too many requests", THROTTLED),
    ("request limit exceeded", THROTTLED),
    ("service managed key", MANAGED_KEY),
    ("aws managed key", MANAGED_KEY),
    ("ebs default key", MANAGED_KEY),
    ("kms", Rule::KmsKey),
    ("key id", Rule::KmsKey),
    ("encryption key", Rule::KmsKey),
    ("key is disabled", Rule::KmsKey),
    ("pending deletion", Rule::KmsKey),
    ("trying to call aws backup", VAULT_ACCESS_POLICY),
    ("copyintobackupvault", VAULT_ACCESS_POLICY),
    ("vault access policy", VAULT_ACCESS_POLICY),
    ("not within the range", RETENTION),
    ("retention", RETENTION),
    ("cold storage", COLD),
    ("continuous backup", CONTINUOUS),
    ("not supported", UNSUPPORTED),
    ("unsupported", UNSUPPORTED),
    ("cannot be copied", UNSUPPORTED),
    ("access denied", Rule::Access),
    ("accessdenied", Rule::Access),
    ("not authorized", Rule::Access),
    ("unauthorized", Rule::Access),
    ("insufficient privileges", Rule::Access),
    ("cannot be assumed", Rule::Access),
    ("permission", Rule::Access),
    ("recovery point is unavailable", GONE),
    ("no longer available", GONE),
    ("not found", GONE),
    ("notfound", GONE),
    ("cannot find", GONE),
    ("could not find", GONE),
    ("does not exist", GONE),
    ("no longer exists", GONE),
    ("has been deleted", GONE),
    ("was deleted", GONE),
    ("is being deleted", GONE),
    ("tags specified", TAGS),
    ("user tags", TAGS),
    ("can have at most", TAGS),
    ("active snapshot limit", QUOTA),
    ("cannot create more than", QUOTA),
    ("reached your quota", QUOTA),
    ("invalid parameter", INVALID),
    ("invalidparameter", INVALID),
    ("is invalid", INVALID),
    ("validation", INVALID),
    ("limit", LIMIT),
    ("too many", LIMIT),
    ("maximum number", LIMIT),
    ("being modified", BUSY),
    ("not in state", BUSY),
    ("not in the available state", BUSY),
    ("not in available state", BUSY),
    ("cannot snapshot volume", BUSY),
    ("maintenance window", BUSY),
    ("backup window", BUSY),
    ("token expired", SERVICE_ERROR),
    ("try again", SERVICE_ERROR),
    ("service unavailable", SERVICE_ERROR),
    ("unavailable", SERVICE_ERROR),
    ("internal error", SERVICE_ERROR),
    ("internal failure", SERVICE_ERROR),
    ("timeout", SERVICE_ERROR),
    ("timed out", SERVICE_ERROR),
];

/// AWS's own labels with an unambiguous meaning: a copy job's `MessageCategory`
/// (docs/aws-facts.md#messagecategory: only AccessDenied and InvalidParameters are documented; the
/// rest, MISCELLANEOUS included, leave the decision to the message) and the error codes of refused
/// calls (the services' modelled errors and the SDK's throttling and transient codes,
/// docs/aws-facts.md#quotas-under-a-burst and #startcopyjob-refusals). Compared without case,
/// separators or an "Exception" suffix (AWS spells "InvalidParameters" and "INVALIDPARAMETERS").
const LABELS: &[(&str, Rule)] = &[
    ("accessdenied", Rule::Access),
    ("invalidparameters", INVALID),
    ("invalidparametervalue", INVALID),
    ("invalidrequest", INVALID),
    ("missingparametervalue", INVALID),
    ("validation", INVALID),
    ("throttling", THROTTLED),
    ("throttled", THROTTLED),
    ("requestthrottled", THROTTLED),
    ("kmsthrottling", THROTTLED),
    ("toomanyrequests", THROTTLED),
    ("requestlimitexceeded", THROTTLED),
    ("provisionedthroughputexceeded", THROTTLED),
    ("bandwidthlimitexceeded", THROTTLED),
    ("slowdown", THROTTLED),
    ("ec2throttled", THROTTLED),
    ("limitexceeded", LIMIT),
    ("transactionconflict", BUSY),
    ("transactioninprogress", BUSY),
    ("priorrequestnotcomplete", BUSY),
    ("serviceunavailable", SERVICE_ERROR),
    ("internalservererror", SERVICE_ERROR),
    ("internalserver", SERVICE_ERROR),
    ("internalfailure", SERVICE_ERROR),
    ("internalerror", SERVICE_ERROR),
    ("requesttimeout", SERVICE_ERROR),
];

/// Classifies a failed copy job: on its `MessageCategory` and its `StatusMessage`.
pub fn classify_failure(category: Option<&str>, message: Option<&str>) -> Classification {
    classify(category, message, "message category")
}

/// Classifies a refused call: on its error code and AWS's message.
pub fn classify_refusal(code: Option<&str>, message: Option<&str>) -> Classification {
    classify(code, message, "error code")
}

/// The label decides the class when it knows one; the message names the cause, within that class
/// (an AccessDenied category whose message names a KMS key is the key's failure; one whose message
/// says "Rate exceeded" stays a denial).
fn classify(label: Option<&str>, message: Option<&str>, label_name: &'static str) -> Classification {
    let message = message.unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    let by_text = PHRASES
        .iter()
        .find(|(phrase, _)| lower.contains(phrase))
        .map(|(phrase, rule)| Classification { cause: cause(rule, message), reason: phrase });
    let by_label = label.and_then(|label| labelled(label, message));
    match (by_label, by_text) {
        (Some(label), Some(text)) if text.class() == label.class() => text,
        (Some(label), _) => Classification { cause: label, reason: label_name },
        (None, Some(text)) => text,
        (None, None) => Classification { cause: Cause::Unrecognised, reason: "unrecognised failure" },
    }
}

/// The cause a label names, with the names the message gives.
fn labelled(label: &str, message: &str) -> Option<Cause> {
    let label = label.trim().to_ascii_lowercase().replace(['_', ' ', '-'], "");
    let label = label.strip_suffix("exception").unwrap_or(&label);
    LABELS.iter().find(|(known, _)| *known == label).map(|(_, rule)| cause(rule, message))
}

fn cause(rule: &Rule, message: &str) -> Cause {
    match rule {
        Rule::Fixed(cause) => cause.clone(),
        Rule::PassRole => {
            Cause::Path(PathCause::PassRole { role: after(message, "on resource: "), principal: principal(message) })
        }
        Rule::Access => Cause::Path(PathCause::Access { principal: principal(message) }),
        Rule::KmsKey => Cause::Path(PathCause::KmsKey { key: kms_key(message), principal: principal(message) }),
    }
}

/// The word after `marker`, without trailing punctuation.
fn after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let word: &str = message[start..].split_whitespace().next()?;
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', ']', '"', '\'']);
    (!word.is_empty()).then(|| word.to_owned())
}

/// The principal of IAM's and KMS's "User: <arn> is not authorized to perform: ..." texts.
pub(crate) fn principal(message: &str) -> Option<String> {
    after(message, "User: ").filter(|principal| principal.starts_with("arn:"))
}

/// The first KMS key ARN in the message (`arn:<partition>:kms:<region>:<account>:key/...`).
fn kms_key(message: &str) -> Option<String> {
    message
        .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | '"' | '\'' | ',' | ';'))
        .map(|word| word.trim_end_matches('.'))
        .find(|word| {
            let parts: Vec<&str> = word.splitn(6, ':').collect();
            matches!(parts.as_slice(), ["arn", _, "kms", _, _, rest] if rest.starts_with("key/") || rest.starts_with("alias/"))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PointCause::{ColdStorage, Continuous, Gone};
    use TransientCause::{Limit, Throttled};

    #[test]
    fn the_label_decides_the_class_and_the_message_the_cause_within_it() {
        let denied = classify_failure(Some("AccessDenied"), Some("Rate exceeded"));
        assert_eq!((denied.class(), denied.reason), (FailureClass::Permanent, "message category"));
        assert_eq!(denied.cause, Cause::Path(PathCause::Access { principal: None }));
        let kms = classify_failure(Some("ACCESS_DENIED"), Some("Given key ID is not accessible"));
        assert_eq!(kms.cause, Cause::Path(PathCause::KmsKey { key: None, principal: None }));
        assert_eq!(classify_failure(Some("INVALIDPARAMETERS"), None).cause, Cause::Invalid);
        // A category that only says "failed" leaves the decision to the message.
        assert_eq!(classify_failure(Some("Failed"), Some("Rate exceeded")).cause, Cause::Transient(Throttled));
        assert_eq!(classify_failure(None, None).cause, Cause::Unrecognised);
        // An error code is a label too, with or without its suffix.
        assert_eq!(Cause::of_error_code("KMSThrottlingException"), Some(Cause::Transient(Throttled)));
        assert_eq!(Cause::of_error_code("LimitExceededException"), Some(Cause::Transient(Limit)));
        assert_eq!(Cause::of_error_code("ConditionalCheckFailedException"), None);
        assert_eq!(
            Cause::of_refusal("Insufficient privileges", Some("AccessDeniedException")),
            Cause::Path(PathCause::Access { principal: None })
        );
    }

    /// The SDK's own throttling and transient codes (aws-runtime's `THROTTLING_ERRORS` and
    /// `TRANSIENT_ERRORS`, docs/aws-facts.md#quotas-under-a-burst) and the services' unavailable and
    /// internal errors are transient for the adapters too; the modelled refusals are not.
    #[test]
    fn the_sdks_transient_codes_are_transient_and_the_refusals_are_not() {
        let transient = [
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "TransactionInProgressException",
            "RequestLimitExceeded",
            "BandwidthLimitExceeded",
            "LimitExceededException",
            "RequestThrottled",
            "SlowDown",
            "PriorRequestNotComplete",
            "EC2ThrottledException",
            "RequestTimeout",
            "RequestTimeoutException",
            "KMSThrottlingException",
            "TransactionConflictException",
            "ServiceUnavailableException",
            "ServiceUnavailable",
            "InternalServerError",
            "InternalServerException",
            "InternalFailure",
            "InternalError",
        ];
        for code in transient {
            assert_eq!(Cause::of_error_code(code).map(|c| c.class()), Some(FailureClass::Transient), "{code}");
        }
        for code in [
            "AccessDeniedException",
            "InvalidParameterValueException",
            "InvalidRequestException",
            "MissingParameterValueException",
        ] {
            assert_eq!(Cause::of_error_code(code).map(|c| c.class()), Some(FailureClass::Permanent), "{code}");
        }
        assert_eq!(Cause::of_error_code("ResourceNotFoundException"), None, "the message says what is missing");
    }

    #[test]
    fn names_the_key_role_and_principal_aws_names() {
        let kms = "User: arn:aws:sts::111122223333:assumed-role/AWSBackupDefaultServiceRole/AWSBackup-x is not \
                   authorized to perform: kms:CreateGrant on resource: arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab \
                   because no resource-based policy allows the kms:CreateGrant action";
        assert_eq!(
            classify_failure(None, Some(kms)).cause,
            Cause::Path(PathCause::KmsKey {
                key: Some("arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab".into()),
                principal: Some(
                    "arn:aws:sts::111122223333:assumed-role/AWSBackupDefaultServiceRole/AWSBackup-x".into()
                ),
            })
        );
        let pass = "User: arn:aws:sts::123456789012:assumed-role/vaultwatch/f is not authorized to perform: \
                    iam:PassRole on resource: arn:aws:iam::123456789012:role/plan-role";
        assert_eq!(
            Cause::of_refusal(pass, Some("AccessDeniedException")),
            Cause::Path(PathCause::PassRole {
                role: Some("arn:aws:iam::123456789012:role/plan-role".into()),
                principal: Some("arn:aws:sts::123456789012:assumed-role/vaultwatch/f".into()),
            })
        );
    }

    #[test]
    fn a_point_that_cannot_be_copied_is_the_points_cause() {
        assert_eq!(PointCause::from(&NotCopyable::Deleted), Gone);
        assert_eq!(PointCause::from(&NotCopyable::ColdStorage), ColdStorage);
        assert_eq!(PointCause::from(&NotCopyable::Continuous), Continuous);
    }
}
