//! copy-job-retrier: retries transiently failed copy jobs, with backoff, and alerts once per chain.
//!
//! A COPY_JOB FAILED notification is claimed in the tracking table (so duplicate deliveries do the
//! work once), the failure is classified, and either an alert goes out (permanent, or attempts
//! exhausted) or a [`RetryRequest`] is put on the delay queue. Lambda cannot sleep for minutes, so
//! the backoff lives in SQS `DelaySeconds`; when it passes, the same function receives the request
//! and starts the copy with a token derived from (original job, attempt), which makes a duplicate
//! start return the same copy job instead of a second one.

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use chrono::Utc;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use super::{for_each_notification, skipped, HandlerError, CONCURRENT_RECORDS};
use crate::domain::{
    classify_status_message, Alert, AlertReason, Claim, ClaimKind, CopyDetails, CopyJob, CopyJobId, CopyJobRecord,
    CopyJobState, FailureClass, IdempotencyToken, Lineage, RetryPolicy, SourcePolicy, StartedCopy,
};
use crate::notification::{JobEvent, ParseError};
use crate::ports::{AlertSink, BackupApi, RetryQueue, RetryRequest, StartCopyRequest, TrackingStore};

pub struct Retrier<B, S, A, Q> {
    pub backup: B,
    pub store: S,
    pub alerts: A,
    pub queue: Q,
    pub policy: RetryPolicy,
    /// How long a claim protects work in progress; longer than the function's timeout.
    pub claim_lease: Duration,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
}

impl<B: BackupApi, S: TrackingStore, A: AlertSink, Q: RetryQueue> Retrier<B, S, A, Q> {
    /// Entry point: SNS/EventBridge notifications, or retries coming back from the delay queue.
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandlerError> {
        if is_sqs_event(payload) {
            return self.handle_due_retries(payload).await;
        }
        for_each_notification(payload, &self.sources, |notification| async move {
            match &notification.event {
                JobEvent::Copy(copy) if copy.state == CopyJobState::Failed => self.on_copy_failed(&copy.id).await,
                JobEvent::Copy(copy) => Ok(skipped(&notification, &format!("copy job is {}", copy.state))),
                JobEvent::Backup(_) => Ok(skipped(&notification, "backup job events are the copier's")),
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await
    }

    /// Handles one reported failure of `id`, exactly once however often it is delivered.
    pub async fn on_copy_failed(&self, id: &CopyJobId) -> Result<Value, HandlerError> {
        self.handle_failure(id, None).await
    }

    /// Like [`Self::on_copy_failed`], for a caller that already has the job as AWS reports it (the
    /// reconciler's listing), which saves the DescribeCopyJob.
    pub async fn handle_failure(&self, id: &CopyJobId, known: Option<&CopyJob>) -> Result<Value, HandlerError> {
        let outcome =
            self.once(id, ClaimKind::FailureHandling, async |record| self.decide(id, &record, known).await).await?;
        Ok(outcome.unwrap_or_else(|| {
            tracing::info!(copy_job = %id, "failure already handled; duplicate delivery ignored");
            json!({ "copyJob": id, "duplicate": true })
        }))
    }

    /// Does `work` once per (job, kind) however often it is asked: claims it in the tracking table,
    /// records what `work` reports in the same write that finishes the claim, and gives the claim
    /// back if `work` fails so a redelivery can do it. `None` when another delivery already did it.
    async fn once<T>(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        work: impl AsyncFnOnce(CopyJobRecord) -> Result<Done<T>, HandlerError>,
    ) -> Result<Option<T>, HandlerError> {
        let record = match self.store.claim(id, kind, Utc::now(), self.claim_lease).await? {
            Claim::Acquired(record) => *record,
            Claim::AlreadyDone => return Ok(None),
            Claim::InProgress => return Err(HandlerError::InProgress(id.clone())),
        };
        match work(record).await {
            Ok(Done { note, details, outcome }) => {
                self.store.finish_claim(id, kind, &note, details.as_ref()).await?;
                Ok(Some(outcome))
            }
            Err(err) => {
                if let Err(release) = self.store.release_claim(id, kind).await {
                    tracing::warn!(copy_job = %id, error = %release, "could not release claim; it expires with its lease");
                }
                Err(err)
            }
        }
    }

    async fn decide(
        &self,
        id: &CopyJobId,
        record: &CopyJobRecord,
        known: Option<&CopyJob>,
    ) -> Result<Done<Value>, HandlerError> {
        let job = match known {
            Some(job) => job.clone(),
            None => self.backup.describe_copy_job(id).await?,
        };
        if job.state != CopyJobState::Failed {
            return Err(HandlerError::StateNotSettled(id.clone(), job.state));
        }
        let lineage = record.lineage.clone().unwrap_or_else(|| Lineage::original(id));
        let status_message = job.status_message.clone().unwrap_or_default();
        let (class, marker) = classify_status_message(job.status_message.as_deref());
        let attempts_made = lineage.attempt + 1;
        tracing::info!(copy_job = %id, root = %lineage.root, attempt = lineage.attempt, ?class, marker, "copy job failed");

        // The record learns the job's details in the write that finishes the claim.
        let details = Some(CopyDetails::from(&job));

        // Alerts here need no claim of their own: this failure's claim already makes them once.
        if class == FailureClass::Permanent {
            let reason = AlertReason::PermanentFailure { status_message };
            self.publish(&alert_for(&job, &lineage, reason, attempts_made)).await?;
            let outcome = json!({ "copyJob": id, "alerted": "permanent" });
            return Ok(Done { note: "alerted: permanent failure".into(), details, outcome });
        }
        let next = lineage.next_attempt(id);
        if !self.policy.allows_attempt(next.attempt) {
            let reason = AlertReason::AttemptsExhausted { status_message };
            self.publish(&alert_for(&job, &lineage, reason, attempts_made)).await?;
            let outcome = json!({ "copyJob": id, "alerted": "exhausted" });
            return Ok(Done { note: "alerted: attempts exhausted".into(), details, outcome });
        }

        let lifecycle = job.destination_lifecycle.or(record.lifecycle);
        let attempt = next.attempt;
        let delay = self.policy.delay_before(attempt);
        let request = RetryRequest {
            failed_job: id.clone(),
            lineage: next,
            recovery_point: job.source_recovery_point.clone(),
            source_vault: job.source_vault.clone(),
            destination_vault: job.destination_vault.clone(),
            iam_role: job.iam_role.clone(),
            lifecycle,
            plan_rule: if lifecycle.is_none() { job.created_by.clone() } else { None },
            resource: job.resource.clone(),
            resource_type: job.resource_type.clone(),
            last_status_message: status_message,
        };
        self.queue.schedule(&request, delay).await?;
        tracing::info!(copy_job = %id, attempt, delay_seconds = delay.as_secs(), "retry scheduled");
        Ok(Done {
            note: format!("retry {attempt} scheduled"),
            details,
            outcome: json!({ "copyJob": id, "retryScheduled": attempt, "delaySeconds": delay.as_secs() }),
        })
    }

    /// Starts the copy a [`RetryRequest`] asks for. Safe to repeat: the token makes AWS Backup
    /// return the same job to a second start.
    pub async fn start_retry(&self, request: &RetryRequest) -> Result<Value, HandlerError> {
        let lineage = &request.lineage;
        // A plan's copy keeps its rule's CopyAction lifecycle (GetBackupPlan, cached per plan version).
        let lifecycle = match (request.lifecycle, &request.plan_rule) {
            (Some(lifecycle), _) => Some(lifecycle),
            (None, Some(rule)) => self.backup.copy_action_lifecycle(rule, &request.destination_vault).await?,
            (None, None) => None,
        };
        let start = StartCopyRequest {
            recovery_point: request.recovery_point.clone(),
            source_vault: request.source_vault.vault_name(),
            destination_vault: request.destination_vault.clone(),
            iam_role: request.iam_role.clone(),
            lifecycle,
            token: IdempotencyToken::for_retry(&lineage.root, lineage.attempt),
        };
        let new_job = match self.backup.start_copy_job(&start).await {
            Ok(new_job) => new_job,
            Err(err) if err.is_transient() => return Err(err.into()),
            Err(err) => {
                tracing::warn!(copy_job = %request.failed_job, error = %err, "AWS Backup refused the retry");
                let alert = Alert {
                    copy_job: request.failed_job.clone(),
                    original_job: lineage.root.clone(),
                    resource: request.resource.clone(),
                    source_vault: request.source_vault.clone(),
                    destination_vault: request.destination_vault.clone(),
                    reason: AlertReason::RetryRejected { error: err.to_string() },
                    attempts: lineage.attempt,
                };
                self.alert_once(alert).await?;
                return Ok(json!({ "copyJob": request.failed_job, "alerted": "retry rejected" }));
            }
        };
        let details = CopyDetails {
            source_recovery_point: Some(request.recovery_point.clone()),
            source_vault: Some(request.source_vault.clone()),
            destination_vault: Some(request.destination_vault.clone()),
            destination_recovery_point: None,
            resource: request.resource.clone(),
            resource_type: request.resource_type.clone(),
        };
        let started = StartedCopy { id: new_job.clone(), details, lineage: lineage.clone(), lifecycle, at: Utc::now() };
        self.store.record_started(&started).await?;
        self.store.link_retry(&request.failed_job, &new_job).await?;
        tracing::info!(copy_job = %new_job, retry_of = %request.failed_job, attempt = lineage.attempt, "retry started");
        Ok(json!({ "copyJob": new_job, "retryOf": request.failed_job, "attempt": lineage.attempt }))
    }

    /// Publishes `alert` unless another delivery already did.
    async fn alert_once(&self, alert: Alert) -> Result<(), HandlerError> {
        self.once(&alert.copy_job, ClaimKind::Alert, async |_| {
            self.publish(&alert).await?;
            Ok(Done { note: format!("alerted: {}", alert.reason.summary()), details: None, outcome: () })
        })
        .await
        .map(drop)
    }

    async fn publish(&self, alert: &Alert) -> Result<(), HandlerError> {
        self.alerts.publish(alert).await?;
        tracing::warn!(copy_job = %alert.copy_job, reason = alert.reason.summary(), attempts = alert.attempts, "alert published");
        Ok(())
    }

    /// Delay-queue batch: each message is one retry. Failed messages are reported individually
    /// (`batchItemFailures`) so SQS redelivers only those and, past maxReceiveCount, dead-letters them.
    async fn handle_due_retries(&self, payload: &Value) -> Result<Value, HandlerError> {
        // An unreadable batch fails whole, so SQS keeps every message in it.
        let event: SqsEvent =
            serde_json::from_value(payload.clone()).map_err(|err| ParseError::envelope("SQS event", &err))?;
        let retries = event.records.iter().map(|message| async move {
            let message_id = message.message_id.clone().unwrap_or_default();
            let result = match parse_retry_message(message.body.as_deref()) {
                Ok(request) => self.start_retry(&request).await.map(drop).map_err(|err| err.to_string()),
                Err(problem) => Err(problem.to_owned()),
            };
            result.err().map(|problem| {
                // Reported back to SQS: redelivered after the visibility timeout, and moved to the
                // dead-letter queue after maxReceiveCount, so a bad message is kept, not lost.
                tracing::error!(message_id, problem, "retry message failed");
                json!({ "itemIdentifier": message_id })
            })
        });
        let failures: Vec<Value> =
            stream::iter(retries).buffered(CONCURRENT_RECORDS).filter_map(std::future::ready).collect().await;
        Ok(json!({ "batchItemFailures": failures }))
    }
}

/// What claimed work reports: a note for the record, the job's details if it learnt them, and
/// the invocation's outcome.
struct Done<T> {
    note: String,
    details: Option<CopyDetails>,
    outcome: T,
}

fn alert_for(job: &CopyJob, lineage: &Lineage, reason: AlertReason, attempts: u32) -> Alert {
    Alert {
        copy_job: job.id.clone(),
        original_job: lineage.root.clone(),
        resource: job.resource.clone(),
        source_vault: job.source_vault.clone(),
        destination_vault: job.destination_vault.clone(),
        reason,
        attempts,
    }
}

fn parse_retry_message(body: Option<&str>) -> Result<RetryRequest, &'static str> {
    let body = body.ok_or("message has no body")?;
    serde_json::from_str(body).map_err(|_| "message body is not a retry request")
}

fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}
