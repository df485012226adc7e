//! The functions' behaviour, over the ports only. Each `main.rs` wires one of these to real clients.

pub mod backfill;
pub mod copier;
pub mod coverage;
pub mod deadline;
pub mod deploy_check;
pub mod evidence;
pub mod healing;
mod measured;
pub mod organization;
pub mod path_watch;
pub mod paths;
pub mod reconciler;
pub mod retrier;
pub mod tracker;
pub mod vault_setup;

use std::future::Future;

use futures_util::future::{ready, Either};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{BackupJobId, CopyJobId, CopyJobState, SourcePolicy};
use crate::notification::{parse_lambda_event, Notification, Origin, ParseError};
use crate::ports::{AwsError, Page};

/// Why an invocation failed. Returning it to Lambda makes Lambda retry the event and, after the
/// retries, send it to the failure destination: nothing is dropped silently.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("malformed notification: {0}")]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("copy job {0}: another delivery of this failure is being handled; try again later")]
    InProgress(CopyJobId),
    #[error("copy job {0} was reported FAILED but DescribeCopyJob says {1}; try again later")]
    StateNotSettled(CopyJobId, CopyJobState),
    #[error("backup job {0} completed without a recovery point ARN")]
    NoRecoveryPoint(BackupJobId),
    #[error("{failed} of {total} records failed; first: {first}")]
    Records { failed: usize, total: usize, first: Box<HandlerError> },
    #[error("{0}")]
    Evidence(String),
    #[error("the answer to CloudFormation was not delivered: {0}")]
    Respond(#[from] crate::ports::ResponseError),
}

impl HandlerError {
    /// The failed AWS call behind this error, if one is (the first record's, for a batch).
    pub fn aws_error(&self) -> Option<&AwsError> {
        match self {
            Self::Aws(err) => Some(err),
            Self::Records { first, .. } => first.aws_error(),
            _ => None,
        }
    }
}

/// How often a claim is closed before the invocation gives up, once its side effect (an alert, a
/// scheduled retry, an incident's message) has happened: a redelivery would repeat it.
const FINISH_ATTEMPTS: u32 = 4;
/// Backoff between those attempts: 25 ms, 100 ms, 400 ms.
const FINISH_BACKOFF: std::time::Duration = std::time::Duration::from_millis(25);

/// Runs `close` (the write that closes a claim) until it answers, again after each passing error
/// (`retrying` says so), up to [`FINISH_ATTEMPTS`] times; the last error when it never answers.
pub(crate) async fn closing_claim<T>(
    mut close: impl AsyncFnMut() -> Result<T, AwsError>,
    retrying: impl Fn(u32, &AwsError),
) -> Result<T, AwsError> {
    let mut backoff = FINISH_BACKOFF;
    for attempt in 1..FINISH_ATTEMPTS {
        match close().await {
            Err(err) if err.is_transient() => {
                retrying(attempt, &err);
                tokio::time::sleep(backoff).await;
                backoff *= 4;
            }
            answered => return answered,
        }
    }
    close().await
}

/// Reads a paged listing to its end, handing each page to `each`. (The reconciler's own sweep pages
/// by hand: it stops at its deadline and saves its cursor between pages.)
pub(crate) async fn for_each_page<T>(
    mut list: impl AsyncFnMut(Option<&str>) -> Result<Page<T>, AwsError>,
    mut each: impl AsyncFnMut(Page<T>) -> Result<(), HandlerError>,
) -> Result<(), HandlerError> {
    let mut next_token: Option<String> = None;
    loop {
        let mut page = list(next_token.as_deref()).await?;
        next_token = page.next_token.take();
        each(page).await?;
        if next_token.is_none() {
            return Ok(());
        }
    }
}

impl HandlerError {
    /// A short, stable name for the CloudWatch `errorType` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Parse(_) => "MalformedNotification",
            Self::Aws(err) if err.is_transient() => "AwsTransientError",
            Self::Aws(_) => "AwsPermanentError",
            Self::InProgress(_) => "InProgress",
            Self::StateNotSettled(..) => "StateNotSettled",
            Self::NoRecoveryPoint(_) => "NoRecoveryPoint",
            Self::Respond(_) => "ResponseNotDelivered",
            Self::Evidence(_) => "EvidenceNotWritten",
            Self::Records { first, .. } => first.kind(),
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        Diagnostic { error_type: err.kind().to_owned(), error_message: err.to_string() }
    }
}

/// What an invocation did with each record of its event, in record order. The Lambda response is
/// its serialisation: `{"outcomes": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcomes<T> {
    pub outcomes: Vec<RecordOutcome<T>>,
}

/// What happened to one record. Serialised tagged by `outcome`, like the handlers' own outcomes
/// (`T`, which carry their own tag): `{"outcome": "skipped", "reason": "copy job is RUNNING"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum RecordOutcome<T> {
    /// From a publisher that is not trusted: dropped, with the reason.
    Rejected { reason: &'static str },
    /// Nothing for this function to do (another job kind, a state it does not act on).
    Skipped { reason: String },
    /// It failed (the invocation fails too, after every record was tried).
    Failed { error: String },
    /// The handler acted on it; `T` says how (and tags itself).
    #[serde(untagged)]
    Handled(T),
}

/// How many records of one event are handled at once. Lambda hands SNS and EventBridge records over
/// one by one; an SQS batch holds up to 10 (the template's BatchSize).
pub(crate) const CONCURRENT_RECORDS: usize = 10;

/// Parses the payload and runs `handle` on its notifications concurrently (their AWS calls overlap).
/// Every record is attempted even when another fails (the handlers are idempotent, so the retry of
/// the whole event is safe); the first error in record order is returned after all were tried.
pub(crate) async fn for_each_notification<T, F, Fut>(
    payload: &Value,
    sources: &SourcePolicy,
    mut handle: F,
) -> Result<Outcomes<T>, HandlerError>
where
    F: FnMut(Notification) -> Fut,
    Fut: Future<Output = Result<RecordOutcome<T>, HandlerError>>,
{
    let records = parse_lambda_event(payload)?;
    let total = records.len();
    let pending = records.into_iter().map(|record| match record {
        Ok(notification) => match rejected(&notification, sources) {
            Some(outcome) => Either::Left(ready(Ok(outcome))),
            None => Either::Right(handle(notification)),
        },
        Err(err) => Either::Left(ready(Err(err.into()))),
    });
    let results: Vec<Result<RecordOutcome<T>, HandlerError>> =
        stream::iter(pending).buffered(CONCURRENT_RECORDS).collect().await;
    let mut outcomes = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                tracing::error!(error = %err, kind = err.kind(), "record failed");
                outcomes.push(RecordOutcome::Failed { error: err.to_string() });
                errors.push(err);
            }
        }
    }
    match errors.len() {
        0 => Ok(Outcomes { outcomes }),
        1 if total == 1 => Err(errors.remove(0)),
        failed => Err(HandlerError::Records { failed, total, first: Box::new(errors.remove(0)) }),
    }
}

/// A notification from an untrusted publisher is dropped with a warning (not an error: retrying
/// it would only repeat the attempt), and its outcome says so.
fn rejected<T>(notification: &Notification, sources: &SourcePolicy) -> Option<RecordOutcome<T>> {
    let topic = match &notification.origin {
        Origin::Sns { topic_arn, .. } => Some(topic_arn.as_str()),
        Origin::EventBridge { .. } => None,
    };
    let why = sources.rejects(topic, notification.account.as_ref())?;
    tracing::warn!(origin = ?notification.origin, account = ?notification.account.as_ref().map(|a| a.as_str()), why, "notification rejected");
    Some(RecordOutcome::Rejected { reason: why })
}

/// Logs a skipped notification; unknown event types are normal, not errors. At DEBUG: a function
/// is given many events it has nothing to do with (the retrier every copy job's state changes, which
/// the tracker logs), and each INFO line is billed log ingestion (docs/cost.md).
pub(crate) fn skipped<T>(notification: &Notification, why: &str) -> RecordOutcome<T> {
    tracing::debug!(origin = ?notification.origin, why, "notification skipped");
    RecordOutcome::Skipped { reason: why.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::ErrorClass;

    fn aws(class: ErrorClass) -> HandlerError {
        let error = AwsError {
            service: "backup",
            operation: "StartCopyJob",
            class,
            code: None,
            message: "x".into(),
            no_answer: None,
        };
        HandlerError::Aws(error)
    }

    #[test]
    fn the_aws_call_behind_an_error_is_found_through_a_batch() {
        let err = aws(ErrorClass::Permanent);
        assert_eq!(err.aws_error().map(|e| e.operation), Some("StartCopyJob"));
        let batch = HandlerError::Records { failed: 2, total: 3, first: Box::new(aws(ErrorClass::Transient)) };
        assert_eq!(batch.aws_error().map(|e| e.class), Some(ErrorClass::Transient), "the first record's");
        assert!(HandlerError::Evidence("x".into()).aws_error().is_none());
        let setup = vault_setup::SetupError::Aws {
            vault: crate::domain::VaultName::parse("primary").unwrap(),
            source: AwsError {
                service: "backup",
                operation: "PutBackupVaultNotifications",
                class: ErrorClass::Permanent,
                code: None,
                message: "x".into(),
                no_answer: None,
            },
        };
        assert_eq!(setup.aws_error().map(|e| e.operation), Some("PutBackupVaultNotifications"));
    }

    #[test]
    fn the_error_type_lambda_reports_says_whether_trying_again_can_help() {
        assert_eq!(aws(ErrorClass::Transient).kind(), "AwsTransientError");
        assert_eq!(aws(ErrorClass::Permanent).kind(), "AwsPermanentError");
        let batch = HandlerError::Records { failed: 2, total: 3, first: Box::new(aws(ErrorClass::Permanent)) };
        assert_eq!(batch.kind(), "AwsPermanentError", "a batch is reported by its first error");
    }

    /// An SNS record of a completed backup job, or one without the attributes that say what it is.
    fn record(readable: bool) -> Value {
        let attribute = |value: &str| json!({ "Type": "String", "Value": value });
        let attributes = if readable {
            json!({ "EventType": attribute("BACKUP_JOB"), "State": attribute("COMPLETED"), "Id": attribute("JOB-1"),
                    "AccountId": attribute("123456789012") })
        } else {
            json!({})
        };
        json!({ "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:s",
            "Sns": { "Type": "Notification", "MessageId": "m", "Subject": "Notification from AWS Backup",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:backup-vault-events", "Timestamp": "2026-11-20T03:14:07.512Z",
            "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://sns.example/c.pem",
            "UnsubscribeUrl": "https://sns.example/u", "Message": "An AWS Backup job was completed successfully.",
            "MessageAttributes": attributes } })
    }

    /// Every outcome says what it is in `outcome`, and carries only fields with something to say.
    #[test]
    fn outcomes_are_tagged_by_their_kind_without_placeholder_fields() {
        use super::retrier::FailureHandled;
        use super::tracker::Tracked;
        use crate::domain::{CopyJobId, CopyJobState};
        let job = CopyJobId::parse("JOB-1").unwrap();
        let wire = |outcome: &RecordOutcome<FailureHandled>| serde_json::to_value(outcome).unwrap();
        let duplicate = RecordOutcome::Handled(FailureHandled::Duplicate { copy_job: job.clone() });
        assert_eq!(wire(&duplicate), json!({ "outcome": "duplicate", "copyJob": "JOB-1" }));
        let nested = FailureHandled::Nested { copy_job: job.clone(), parent: CopyJobId::parse("PARENT").unwrap() };
        assert_eq!(
            wire(&RecordOutcome::Handled(nested)),
            json!({ "outcome": "nested", "copyJob": "JOB-1", "parent": "PARENT" })
        );
        let skipped = RecordOutcome::Skipped { reason: "copy job is RUNNING".into() };
        assert_eq!(wire(&skipped), json!({ "outcome": "skipped", "reason": "copy job is RUNNING" }));
        let stale = RecordOutcome::Handled(Tracked::Stale { copy_job: job, state: CopyJobState::Failed });
        assert_eq!(
            serde_json::to_value(stale).unwrap(),
            json!({ "outcome": "stale", "copyJob": "JOB-1", "state": "FAILED" })
        );
    }

    #[tokio::test]
    async fn a_failed_record_among_others_fails_the_invocation_naming_how_many() {
        let handle = |_: Notification| async { Ok(RecordOutcome::<()>::Skipped { reason: String::new() }) };
        let sources = SourcePolicy::default();
        let one = json!({ "Records": [record(false)] });
        let err = for_each_notification(&one, &sources, handle).await.unwrap_err();
        assert!(matches!(err, HandlerError::Parse(_)), "a lone record's own error: {err}");
        let fine = json!({ "Records": [record(true)] });
        assert_eq!(for_each_notification(&fine, &sources, handle).await.unwrap().outcomes.len(), 1);
        let mixed = json!({ "Records": [record(true), record(false)] });
        let err = for_each_notification(&mixed, &sources, handle).await.unwrap_err();
        assert!(matches!(err, HandlerError::Records { failed: 1, total: 2, .. }), "{err}");
    }
}
