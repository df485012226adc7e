//! copy-job-retrier: retries transiently failed copy jobs, with backoff, and alerts once per chain.
//!
//! A COPY_JOB FAILED notification is claimed in the tracking table (so duplicate deliveries do the
//! work once), the failure is classified, and either an alert goes out (permanent, or attempts
//! exhausted) or a [`RetryRequest`] is put on the delay queue. Lambda cannot sleep for minutes, so
//! the backoff lives in SQS `DelaySeconds`; when it passes, the same function receives the request
//! and starts the copy with a token derived from (original job, attempt), which makes a duplicate
//! start return the same copy job instead of a second one.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::backfill::{BackfillSettings, Backfiller};
use super::{for_each_notification, skipped, HandlerError, Outcomes, RecordOutcome, CONCURRENT_RECORDS};
use crate::domain::{
    classify_failure, AffectedPoint, Alert, AlertReason, BackupVaultArn, Cause, Claim, ClaimKind, ClaimLease,
    ClaimOutcome, ClaimOwner, Classification, Composite, CopyDetails, CopyJob, CopyJobId, CopyJobRecord, CopyPath,
    CopyTargets, Destination, FailureClass, IamRoleArn, IdempotencyToken, Incident, IncidentId, IncidentMessage,
    Lifecycle, Lineage, NotCopyable, Ownership, PassableRoles, PathCauseKind, PathFailure, PlanRuleRef, ResourceType,
    RetryPolicy, SourcePolicy, StartedCopy,
};
use crate::notification::{JobEvent, ParseError};
use crate::ports::{
    AlertSink, AwsError, BackupApi, Clock, IncidentClaim, IncidentClaimKind, RetryQueue, RetryRequest,
    StartCopyRequest, TrackingStore, WallClock,
};

/// What the retrier decided about one failed copy job. Serialised tagged: `{"outcome":
/// "retryScheduled", "copyJob": ..., "attempt": 2, "delaySeconds": 900}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FailureHandled {
    /// Another delivery of this failure already handled it.
    Duplicate { copy_job: CopyJobId },
    /// No retry: the operator was told why (serialised as the reason's label).
    Alerted {
        copy_job: CopyJobId,
        #[serde(serialize_with = "reason_label")]
        alerted: AlertReason,
    },
    /// A retry waits on the delay queue.
    RetryScheduled { copy_job: CopyJobId, attempt: u32, delay_seconds: u64 },
    /// A retry waits on the delay queue, and the chain's congestion outlasted its budget: counted in
    /// the path's congestion incident (`incident`, its thread; `alerted` when this failure sent its
    /// one alert).
    Escalated { copy_job: CopyJobId, attempt: u32, delay_seconds: u64, incident: String, alerted: bool },
    /// A nested job of a composite copy: its parent is retried or alerted, not it.
    Nested { copy_job: CopyJobId, parent: CopyJobId },
    /// The failure belongs to its path: counted in the path's incident of its kind (`incident` is
    /// the incident's thread). `alerted` when this failure sent the incident's one alert.
    Incident { copy_job: CopyJobId, incident: String, cause: PathCauseKind, opened: bool, alerted: bool },
}

/// What a due retry came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RetryStarted {
    Started {
        copy_job: CopyJobId,
        retry_of: CopyJobId,
        attempt: u32,
    },
    /// AWS Backup refused to start it: alerted (once).
    Alerted {
        copy_job: CopyJobId,
        #[serde(serialize_with = "reason_label")]
        alerted: AlertReason,
    },
}

fn reason_label<S: serde::Serializer>(reason: &AlertReason, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&reason.label())
}

/// The retrier's Lambda response: per-notification outcomes, or, for a batch of due retries from
/// the delay queue, the messages SQS must deliver again (`ReportBatchItemFailures`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RetrierResponse {
    Notifications(Outcomes<FailureHandled>),
    DueRetries(DueRetries),
}

/// A batch of due retries: the response SQS reads, and what each retry that ran came to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DueRetries {
    #[serde(flatten)]
    pub response: SqsBatchResponse,
    /// Not part of the response (SQS reads only `batchItemFailures`); for metrics.
    #[serde(skip)]
    pub started: Vec<RetryStarted>,
}

pub struct Retrier<B, S, A, Q> {
    pub backup: B,
    pub store: S,
    pub alerts: A,
    pub queue: Q,
    pub settings: RetrierSettings,
    /// Calendar time for claims, records and whether a recovery point outlives a retry's wait.
    pub clock: Arc<dyn Clock>,
}

/// How the retrier decides, from its configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrierSettings {
    pub policy: RetryPolicy,
    /// How long a claim protects work in progress; longer, by construction, than the timeout of
    /// every function that takes claims (the retrier's and the reconciler's judge each other's).
    pub claim_lease: ClaimLease,
    /// Trusted publishers; notifications from others are rejected.
    pub sources: SourcePolicy,
    /// The roles the function may pass to AWS Backup, and the fallback for a job whose role it may not.
    pub roles: PassableRoles,
    /// Where the function may copy to (`COPY_TARGETS`, the template's `AllowedCopyTargets`).
    pub targets: CopyTargets,
    /// Hours between "still broken" digests of an open incident (`INCIDENT_DIGEST_HOURS`, the
    /// template's `IncidentDigestHours`); 0: none.
    pub incident_digest_hours: u32,
    /// Whether and how fast a healed path's affected recovery points are copied again.
    pub backfill: BackfillSettings,
}

/// The template's values: 3 retries from 60 s, a 330 s claim lease; any publisher, role and target.
impl Default for RetrierSettings {
    fn default() -> Self {
        Self {
            policy: RetryPolicy::default(),
            claim_lease: ClaimLease::default(),
            sources: SourcePolicy::default(),
            roles: PassableRoles::default(),
            targets: CopyTargets::default(),
            incident_digest_hours: DEFAULT_INCIDENT_DIGEST_HOURS,
            backfill: BackfillSettings::default(),
        }
    }
}

/// The template's `IncidentDigestHours` default: a digest a day.
pub const DEFAULT_INCIDENT_DIGEST_HOURS: u32 = 24;

impl<B: BackupApi, S: TrackingStore, A: AlertSink, Q: RetryQueue> Retrier<B, S, A, Q> {
    /// A retrier on the wall clock.
    pub fn new(backup: B, store: S, alerts: A, queue: Q, settings: RetrierSettings) -> Self {
        Self { backup, store, alerts, queue, settings, clock: Arc::new(WallClock) }
    }

    /// The same retrier on `clock` (the reconciler's, a test's).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// [`Self::handle_as`] for a caller without a Lambda invocation (tests, tools): its claims
    /// are held by an owner unique in this process.
    pub async fn handle(&self, payload: &Value) -> Result<RetrierResponse, HandlerError> {
        self.handle_as(payload, &ClaimOwner::unique()).await
    }

    /// Entry point: SNS/EventBridge notifications, or retries coming back from the delay queue.
    /// The subscription passes every COPY_JOB event (no filter on the State spelling); the state
    /// is decided here. `owner` (the invocation's request id) holds the claims the invocation takes.
    pub async fn handle_as(&self, payload: &Value, owner: &ClaimOwner) -> Result<RetrierResponse, HandlerError> {
        if is_sqs_event(payload) {
            return self.handle_due_retries(payload, owner).await.map(RetrierResponse::DueRetries);
        }
        let outcomes = for_each_notification(payload, &self.settings.sources, |notification| async move {
            match &notification.event {
                JobEvent::Copy(copy) if copy.state.has_failed() => {
                    self.handle_failure(&copy.id, None, owner).await.map(RecordOutcome::Handled)
                }
                JobEvent::Copy(copy) if copy.state.is_terminal() => {
                    let advanced = self.after_backfill_copy(&copy.id, owner).await?;
                    let reason =
                        format!("copy job is {}{}", copy.state, if advanced { "; its backfill advanced" } else { "" });
                    Ok(skipped(&notification, &reason))
                }
                JobEvent::Copy(copy) => Ok(skipped(&notification, &format!("copy job is {}", copy.state))),
                JobEvent::CopyStateUnknown { id } => self.handle_if_failed(id, owner).await,
                JobEvent::Backup(_) => Ok(skipped(&notification, "backup job events are the copier's")),
                JobEvent::Ignored { reason, .. } => Ok(skipped(&notification, reason)),
            }
        })
        .await?;
        Ok(RetrierResponse::Notifications(outcomes))
    }

    /// The backfiller over this retrier's clients.
    pub fn backfiller(&self) -> Backfiller<&B, &S, &A> {
        Backfiller {
            backup: &self.backup,
            store: &self.store,
            alerts: &self.alerts,
            clock: self.clock.clone(),
            settings: self.settings.backfill,
            roles: self.settings.roles.clone(),
            lease: self.settings.claim_lease,
        }
    }

    /// A copy that ended (completed, or aborted: failures are handled above too) and that a
    /// backfill started makes room for the backfill's next copy. True if it was one.
    async fn after_backfill_copy(&self, id: &CopyJobId, owner: &ClaimOwner) -> Result<bool, HandlerError> {
        let records = self.store.get_many(std::slice::from_ref(id)).await?;
        let Some(episode) = records.get(id).and_then(|record| record.backfill_of.clone()) else { return Ok(false) };
        let run = self.backfiller().copy_ended(&episode, id, owner).await?;
        tracing::info!(copy_job = %id, started = run.started, not_copyable = run.not_copyable, "backfill copy ended; backfill advanced");
        Ok(true)
    }

    /// A copy job event whose state the notification did not say in a known spelling: the API does.
    async fn handle_if_failed(
        &self,
        id: &CopyJobId,
        owner: &ClaimOwner,
    ) -> Result<RecordOutcome<FailureHandled>, HandlerError> {
        let job = self.backup.describe_copy_job(id).await?;
        if !job.has_failed() {
            return Ok(RecordOutcome::Skipped { reason: format!("copy job is {}", job.state) });
        }
        self.handle_failure(id, Some(&job), owner).await.map(RecordOutcome::Handled)
    }

    /// Handles one reported failure of `id`, exactly once however often it is delivered. `known`
    /// is the job as AWS reports it when the caller already has it (the reconciler's listing),
    /// which saves the DescribeCopyJob.
    pub async fn handle_failure(
        &self,
        id: &CopyJobId,
        known: Option<&CopyJob>,
        owner: &ClaimOwner,
    ) -> Result<FailureHandled, HandlerError> {
        let work = async |record, held| self.decide(id, &record, known, held).await;
        match self.exactly_once(id, ClaimKind::FailureHandling, owner, work).await? {
            Once::Done(outcome) => Ok(outcome),
            Once::AlreadyDone => {
                tracing::info!(copy_job = %id, "failure already handled; duplicate delivery ignored");
                Ok(FailureHandled::Duplicate { copy_job: id.clone() })
            }
            // Logged where it was found; the invocation that took the claim over handles the failure.
            Once::Lost => Ok(FailureHandled::Duplicate { copy_job: id.clone() }),
        }
    }

    /// Does `work` once per (job, kind) however often it is asked: claims it in the tracking table
    /// for `owner`, records what `work` reports in the same write that finishes the claim, and gives
    /// the claim back if `work` fails so a redelivery can do it. `work` gets the claim it holds and
    /// confirms it ([`Self::confirm`]) right before a side effect that has no idempotency of its
    /// own; a claim found taken over is left to its new owner, not finished and not given back.
    pub(crate) async fn exactly_once<T>(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        work: impl AsyncFnOnce(CopyJobRecord, HeldClaim) -> Result<ClaimedWork<T>, WorkError>,
    ) -> Result<Once<T>, HandlerError> {
        let lease = self.settings.claim_lease.duration();
        let record = match self.store.claim(id, kind, owner, self.clock.now(), lease).await? {
            Claim::Acquired(record) => *record,
            Claim::AlreadyDone => return Ok(Once::AlreadyDone),
            Claim::InProgress => return Err(HandlerError::InProgress(id.clone())),
        };
        let held = HeldClaim { id: id.clone(), kind, owner: owner.clone() };
        match work(record, held).await {
            Ok(ClaimedWork { recorded, details, outcome }) => {
                if self.finish(id, kind, owner, &recorded, details.as_ref()).await? == Ownership::Lost {
                    // Confirmed before its side effect, then taken over before it was recorded: the
                    // lease lapsed in between. The new owner decides again; the side effect happened.
                    tracing::error!(copy_job = %id, ?kind, %owner, outcome = recorded.note(), "done, but the claim was taken over before it was recorded");
                }
                Ok(Once::Done(outcome))
            }
            Err(WorkError::ClaimLost) => Ok(Once::Lost),
            Err(WorkError::Failed(err)) => {
                match self.store.release_claim(id, kind, owner).await {
                    Ok(Ownership::Held) => {}
                    Ok(Ownership::Lost) => {
                        tracing::warn!(copy_job = %id, ?kind, %owner, "claim not given back: another invocation took it over")
                    }
                    Err(release) => {
                        tracing::warn!(copy_job = %id, error = %release, "could not release claim; it expires with its lease")
                    }
                }
                Err(err)
            }
        }
    }

    /// Makes sure the claim is still this invocation's, and starts its lease again, right before a
    /// side effect that has no idempotency of its own (publishing an alert, queueing a retry). If
    /// another invocation took it over (this one outlived its lease), the side effect is its.
    pub(crate) async fn confirm(&self, held: &HeldClaim) -> Result<(), WorkError> {
        match self.store.renew_claim(&held.id, held.kind, &held.owner, self.clock.now()).await? {
            Ownership::Held => Ok(()),
            Ownership::Lost => {
                tracing::warn!(copy_job = %held.id, kind = ?held.kind, owner = %held.owner, "claim taken over by another invocation; its side effect is left to it");
                Err(WorkError::ClaimLost)
            }
        }
    }

    /// Closes a claim whose side effect has happened. A transient store error is retried here,
    /// because giving up would let a redelivery publish the alert (or schedule the retry) again;
    /// if the store stays down, the claim is left to its lease and the error says so.
    async fn finish(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        recorded: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> Result<Ownership, HandlerError> {
        let close = async || self.store.finish_claim(id, kind, owner, recorded, details).await;
        let retrying = |attempt, err: &AwsError| {
            tracing::warn!(copy_job = %id, attempt, error = %err, "could not close claim; trying again");
        };
        super::closing_claim(close, retrying).await.map_err(|err| {
            tracing::error!(copy_job = %id, outcome = recorded.note(), error = %err, "done but could not record it; the claim stays taken until its lease ends");
            err.into()
        })
    }

    async fn decide(
        &self,
        id: &CopyJobId,
        record: &CopyJobRecord,
        known: Option<&CopyJob>,
        held: HeldClaim,
    ) -> Result<ClaimedWork<FailureHandled>, WorkError> {
        let job = match known {
            Some(job) => job.clone(),
            None => self.backup.describe_copy_job(id).await?,
        };
        if !job.has_failed() {
            return Err(HandlerError::StateNotSettled(id.clone(), job.state).into());
        }
        // A backfill copy that failed is no longer in flight: its backfill may start the next (its
        // failure is handled as any other's: a path failure joins the path's new incident).
        if let Some(episode) = &record.backfill_of {
            self.store.backfill_copy_ended(episode, id).await?;
        }
        // The record learns the job's details in the write that finishes the claim.
        let details = Some(CopyDetails::from(&job));
        // A nested job fails with its composite parent (FAILED or PARTIAL), which is retried or
        // alerted whole: retrying the child too would start a second copy beside the parent's.
        if let Composite::Child { parent } = &job.composite {
            tracing::info!(copy_job = %id, %parent, "nested job failed; handled with its composite parent");
            let recorded = ClaimOutcome { handled_with_parent: Some(parent.clone()), ..ClaimOutcome::default() };
            let outcome = FailureHandled::Nested { copy_job: id.clone(), parent: parent.clone() };
            return Ok(ClaimedWork { recorded, details, outcome });
        }
        let lineage = record.lineage.clone().unwrap_or_else(|| Lineage::original(id));
        let status_message = job.status_message.clone().unwrap_or_default();
        let classification = classify_failure(job.message_category.as_deref(), job.status_message.as_deref());
        let class = classification.class();
        tracing::info!(copy_job = %id, root = %lineage.root, attempt = lineage.attempt, ?class, reason = classification.reason, "copy job failed");

        let next = lineage.next_attempt(id);
        let delay = self.settings.policy.delay_for(next.attempt, &classification, id);
        let lifecycle = job.destination_lifecycle.or(record.lifecycle);
        let plan = match self.plan_retry(&job, &classification, &next, delay).await? {
            Ok(plan) => plan,
            // A failure of the path: one incident, not an alert per copy.
            Err(AlertReason::PermanentFailure { cause: Cause::Path(cause), .. }) => {
                let kind = PathCauseKind::from(&cause);
                let joined = self.join_incident(&job, kind, &status_message, lifecycle, record, held.owner()).await?;
                let recorded = ClaimOutcome { incident: Some(joined.thread.clone()), ..ClaimOutcome::default() };
                let outcome = FailureHandled::Incident {
                    copy_job: id.clone(),
                    incident: joined.thread,
                    cause: kind,
                    opened: joined.opened,
                    alerted: joined.alerted,
                };
                return Ok(ClaimedWork { recorded, details, outcome });
            }
            // Alerts here need no claim of their own: this failure's claim already makes them once.
            Err(reason) => {
                let alert = alert_for(&job, &lineage, reason, self.alert_lifecycle(&job, lifecycle).await);
                self.confirm(&held).await?;
                self.publish(&alert).await?;
                let recorded = ClaimOutcome::alerted(&alert.reason);
                let outcome = FailureHandled::Alerted { copy_job: id.clone(), alerted: alert.reason };
                return Ok(ClaimedWork { recorded, details, outcome });
            }
        };

        let attempt = next.attempt;
        let request = RetryRequest {
            failed_job: id.clone(),
            lineage: next,
            recovery_point: job.source_recovery_point.clone(),
            source_vault: job.source_vault.clone(),
            destination_vault: job.destination_vault.clone(),
            iam_role: plan.role,
            lifecycle,
            plan_rule: if lifecycle.is_none() { job.created_by.clone() } else { None },
            resource: job.resource.clone(),
            resource_type: job.resource_type.clone(),
            last_status_message: status_message.clone(),
        };
        self.confirm(&held).await?;
        self.queue.schedule(&request, delay).await?;
        tracing::info!(copy_job = %id, attempt, delay_seconds = delay.as_secs(), "retry scheduled");
        let (copy_job, delay_seconds) = (id.clone(), delay.as_secs());
        let mut recorded = ClaimOutcome { retry_scheduled: Some(attempt), ..ClaimOutcome::default() };
        // Congestion past its budget is the path's: its congestion incident (one alert, however many
        // chains are held back on the path), joined by every later failure of the chain. The retry is
        // scheduled first: if the incident then fails, a redelivery schedules the same retry again
        // (same token, same job) and joins the incident once.
        if self.settings.policy.told_of_congestion(attempt, &classification) {
            let kind = PathCauseKind::Congestion;
            let joined = self.join_incident(&job, kind, &status_message, lifecycle, record, held.owner()).await?;
            recorded.incident = Some(joined.thread.clone());
            if self.settings.policy.escalates(attempt, &classification) {
                let (incident, alerted) = (joined.thread, joined.alerted);
                let outcome = FailureHandled::Escalated { copy_job, attempt, delay_seconds, incident, alerted };
                return Ok(ClaimedWork { recorded, details, outcome });
            }
        }
        Ok(ClaimedWork {
            recorded,
            details,
            outcome: FailureHandled::RetryScheduled { copy_job, attempt, delay_seconds },
        })
    }

    /// Counts a failure that belongs to its path in the path's incident of `kind`, and sends the
    /// incident's one alert if no one has (the failure that opened it, or a later one when its
    /// opener stopped before sending), and a digest when one is due.
    async fn join_incident(
        &self,
        job: &CopyJob,
        kind: PathCauseKind,
        status_message: &str,
        lifecycle: Option<Lifecycle>,
        record: &CopyJobRecord,
        owner: &ClaimOwner,
    ) -> Result<Joined, HandlerError> {
        let failure = PathFailure {
            path: CopyPath::of(job),
            kind,
            status_message: status_message.to_owned(),
            message_category: job.message_category.clone(),
            point: Some(AffectedPoint {
                recovery_point: job.source_recovery_point.clone(),
                copy_job: Some(record.lineage.as_ref().map_or(&job.id, |lineage| &lineage.root).clone()),
                resource: job.resource.clone(),
                resource_type: job.resource_type.clone(),
                lifecycle,
                plan_rule: if lifecycle.is_none() { job.created_by.clone() } else { None },
            }),
            destination: job.destination.clone(),
            check_fix: None,
        };
        let now = self.clock.now();
        let entry = self.store.record_path_failure(&failure, now).await?;
        let incident = entry.incident;
        tracing::info!(copy_job = %job.id, incident = %incident.id.thread_id(), cause = kind.as_str(), opened = entry.opened, affected = incident.affected, "failure counted in its path's incident");
        let alerted = !incident.alerted && self.send_opened(&incident.id, owner).await?;
        self.send_digest_if_due(&incident, now).await?;
        Ok(Joined { thread: incident.id.thread_id(), opened: entry.opened, alerted })
    }

    /// Sends a "still broken" digest of an open incident when one is due (at most one per due
    /// time, whoever asks): true if this call sent it. One lost to a failed publish waits for the next.
    pub(crate) async fn send_digest_if_due(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<bool, HandlerError> {
        if !incident.digest_due(now, self.settings.incident_digest_hours)
            || !self.store.mark_digest(&incident.id, incident.last_digest_at, now).await?
        {
            return Ok(false);
        }
        match self.alerts.incident(&IncidentMessage::Digest(incident.clone())).await {
            Ok(()) => {
                tracing::warn!(incident = %incident.id.thread_id(), affected = incident.affected, "incident digest published");
                Ok(true)
            }
            Err(err) => {
                tracing::error!(incident = %incident.id.thread_id(), error = %err, "incident digest not published");
                Ok(false)
            }
        }
    }

    /// Sends an incident's opening alert once (its claim on the incident item): true if this call sent it.
    pub(crate) async fn send_opened(&self, id: &IncidentId, owner: &ClaimOwner) -> Result<bool, HandlerError> {
        let lease = self.settings.claim_lease.duration();
        let kind = IncidentClaimKind::Opened;
        let incident = match self.store.claim_incident(id, kind, owner, self.clock.now(), lease).await? {
            IncidentClaim::Acquired(incident) => *incident,
            IncidentClaim::AlreadyDone | IncidentClaim::InProgress | IncidentClaim::Gone => return Ok(false),
        };
        if let Err(err) = self.alerts.incident(&IncidentMessage::Opened(incident)).await {
            if let Err(release) = self.store.release_incident_claim(id, kind, owner).await {
                tracing::warn!(incident = %id.thread_id(), error = %release, "could not release the incident's claim; it expires with its lease");
            }
            return Err(err.into());
        }
        tracing::warn!(incident = %id.thread_id(), "incident alert published");
        super::healing::finish_message_claim(&self.store, id, kind, owner).await?;
        Ok(true)
    }

    /// The lifecycle the alert's command gives the copy: the one a retry asks for — the job's or its
    /// record's, else its plan rule's CopyAction's (the lookup [`Self::start_retry`] makes). A plan
    /// that cannot be read leaves it out rather than the alert.
    async fn alert_lifecycle(&self, job: &CopyJob, known: Option<Lifecycle>) -> Option<Lifecycle> {
        self.copy_lifecycle(known, job.created_by.as_ref(), &job.destination_vault).await.unwrap_or_else(|err| {
            tracing::warn!(copy_job = %job.id, error = %err, "could not read the plan rule's copy lifecycle for the alert");
            None
        })
    }

    /// The lifecycle a copy to `destination` gets: the one known, else a plan copy's rule's
    /// CopyAction lifecycle (GetBackupPlan, cached per plan version), else none.
    async fn copy_lifecycle(
        &self,
        known: Option<Lifecycle>,
        rule: Option<&PlanRuleRef>,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        match (known, rule) {
            (Some(known), _) => Ok(Some(known)),
            (None, Some(rule)) => self.backup.copy_action_lifecycle(rule, destination).await,
            (None, None) => Ok(None),
        }
    }

    /// Whether the failed job can be retried as attempt `next`, due after `delay`, and with which
    /// role; else why not, for the alert. The cheap checks come first: the recovery point is
    /// described (one call) only for a retry that would otherwise be scheduled.
    async fn plan_retry(
        &self,
        job: &CopyJob,
        failure: &Classification,
        next: &Lineage,
        delay: Duration,
    ) -> Result<Result<RetryPlan, AlertReason>, HandlerError> {
        let status_message = job.status_message.clone().unwrap_or_default();
        // AWS Backup's own copy of a backup made to a logically air-gapped vault: its source is a
        // temporary recovery point AWS Backup deletes (DELETE_AFTER_COPY), gone or going whatever the
        // failure, so it is told once and never retried. The backup job that started the copy says
        // whether it is one (a plan rule's CopyAction into such a vault is an ordinary copy).
        if let Some(backup_job) = job.initiated_by.as_ref().filter(|_| job.may_be_air_gapped_backup()) {
            // A backup job AWS no longer reports leaves the copy an ordinary one.
            let backup = match self.backup.describe_backup_job(backup_job).await {
                Ok(backup) => Some(backup),
                Err(err) if err.is_code("ResourceNotFoundException") => None,
                Err(err) => return Err(err.into()),
            };
            if backup.is_some_and(|b| b.is_temporary() && b.recovery_point.as_ref() == Some(&job.source_recovery_point))
            {
                let (backup_job, cause) = (backup_job.clone(), failure.cause.clone());
                return Ok(Err(AlertReason::AirGappedCopyFailed { status_message, backup_job, cause }));
            }
        }
        if let Some(never) = job.source_recovery_point.never_copyable() {
            return Ok(Err(AlertReason::NotCopyable(never)));
        }
        // An S3 continuous recovery point's ARN does not say "continuous"
        // (docs/aws-facts.md#continuous-backups): the plan rule that made it does.
        if let (Some(ResourceType::S3), Some(rule)) = (&job.resource_type, &job.created_by) {
            if self.backup.makes_continuous_backups(rule).await? {
                return Ok(Err(AlertReason::NotCopyable(NotCopyable::Continuous)));
            }
        }
        if !self.settings.policy.allows(next.attempt, failure) {
            let cause = failure.cause.clone();
            return Ok(Err(match failure.class() {
                FailureClass::Permanent => AlertReason::PermanentFailure { status_message, cause },
                FailureClass::Unrecognised => {
                    AlertReason::UnrecognisedFailure { status_message, message_category: job.message_category.clone() }
                }
                FailureClass::Transient => AlertReason::AttemptsExhausted { status_message, cause },
            }));
        }
        if !self.settings.targets.allows(&job.destination_vault) {
            return Ok(Err(AlertReason::DestinationNotAllowed));
        }
        let Some(role) = self.settings.roles.for_retry(job.iam_role.as_ref()) else {
            return Ok(Err(AlertReason::RoleNotPassable { role: job.iam_role.clone() }));
        };
        let due = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let point =
            self.backup.describe_recovery_point(&job.source_vault.vault_name(), &job.source_recovery_point).await?;
        match point.map_or(Some(NotCopyable::Deleted), |point| point.not_copyable_at(due)) {
            Some(why) => Ok(Err(AlertReason::NotCopyable(why))),
            None => Ok(Ok(RetryPlan { role })),
        }
    }

    /// Starts the copy a [`RetryRequest`] asks for. Safe to repeat: the token makes AWS Backup
    /// return the same job to a second start.
    pub async fn start_retry(&self, request: &RetryRequest, owner: &ClaimOwner) -> Result<RetryStarted, HandlerError> {
        let lineage = &request.lineage;
        // A plan's copy keeps its rule's CopyAction lifecycle.
        let lifecycle =
            self.copy_lifecycle(request.lifecycle, request.plan_rule.as_ref(), &request.destination_vault).await?;
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
                let reason = if err.is_pass_role_denial() {
                    AlertReason::RoleRefused { role: request.iam_role.clone(), refusal: (&err).into() }
                } else {
                    AlertReason::RetryRejected { refusal: (&err).into() }
                };
                let alert = Alert {
                    copy_job: Some(request.failed_job.clone()),
                    original_job: Some(lineage.root.clone()),
                    recovery_point: Some(request.recovery_point.clone()),
                    resource: request.resource.clone(),
                    source_vault: request.source_vault.clone(),
                    destination_vault: request.destination_vault.clone(),
                    // The retry message carries no destination facts; the failure's alert had them.
                    destination: Destination::default(),
                    role: Some(request.iam_role.clone()),
                    lifecycle,
                    reason,
                    attempts: lineage.attempt,
                };
                let reason = alert.reason.clone();
                self.alert_once(&request.failed_job, alert, owner).await?;
                return Ok(RetryStarted::Alerted { copy_job: request.failed_job.clone(), alerted: reason });
            }
        };
        let details = CopyDetails {
            source_recovery_point: Some(request.recovery_point.clone()),
            source_vault: Some(request.source_vault.clone()),
            destination_vault: Some(request.destination_vault.clone()),
            resource: request.resource.clone(),
            resource_type: request.resource_type.clone(),
            ..CopyDetails::default()
        };
        let started = StartedCopy {
            id: new_job.clone(),
            details,
            lineage: lineage.clone(),
            lifecycle,
            at: self.clock.now(),
            backfill_of: None,
        };
        self.store.record_started(&started).await?;
        self.store.link_retry(&request.failed_job, &new_job).await?;
        tracing::info!(copy_job = %new_job, retry_of = %request.failed_job, attempt = lineage.attempt, "retry started");
        Ok(RetryStarted::Started { copy_job: new_job, retry_of: request.failed_job.clone(), attempt: lineage.attempt })
    }

    /// Publishes `alert` about `job` unless another delivery already did.
    async fn alert_once(&self, job: &CopyJobId, alert: Alert, owner: &ClaimOwner) -> Result<(), HandlerError> {
        self.exactly_once(job, ClaimKind::Alert, owner, async |_, held| {
            self.confirm(&held).await?;
            self.publish(&alert).await?;
            Ok(ClaimedWork { recorded: ClaimOutcome::alerted(&alert.reason), details: None, outcome: () })
        })
        .await
        .map(drop)
    }

    async fn publish(&self, alert: &Alert) -> Result<(), HandlerError> {
        self.alerts.publish(alert).await?;
        let copy_job = alert.copy_job.as_ref().map(CopyJobId::as_str);
        tracing::warn!(copy_job, reason = alert.reason.summary(), attempts = alert.attempts, "alert published");
        Ok(())
    }

    /// Delay-queue batch: each message is one retry. Failed messages are reported individually
    /// (`batchItemFailures`) so SQS redelivers only those and, past maxReceiveCount, dead-letters them.
    async fn handle_due_retries(&self, payload: &Value, owner: &ClaimOwner) -> Result<DueRetries, HandlerError> {
        // An unreadable batch fails whole, so SQS keeps every message in it.
        let event: SqsEvent =
            serde_json::from_value(payload.clone()).map_err(|err| ParseError::envelope("SQS event", &err))?;
        let retries = event.records.iter().map(|message| async move {
            let message_id = message.message_id.clone().unwrap_or_default();
            let result = match parse_retry_message(message.body.as_deref()) {
                Ok(request) => self.start_retry(&request, owner).await.map_err(|err| err.to_string()),
                Err(problem) => Err(problem),
            };
            result.map_err(|problem| {
                // Reported back to SQS: redelivered after the visibility timeout, and moved to the
                // dead-letter queue after maxReceiveCount, so a bad message is kept, not lost.
                tracing::error!(message_id, problem, "retry message failed");
                message_id
            })
        });
        let results: Vec<Result<RetryStarted, String>> =
            stream::iter(retries).buffered(CONCURRENT_RECORDS).collect().await;
        let (started, failures): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let mut response = SqsBatchResponse::default();
        response.set_failures(failures.into_iter().filter_map(Result::err).collect::<Vec<_>>());
        Ok(DueRetries { response, started: started.into_iter().filter_map(Result::ok).collect() })
    }
}

/// What work done under a claim reports: the job's outcome for its record, the job's details if it
/// learnt them, and the invocation's outcome.
pub(crate) struct ClaimedWork<T> {
    pub(crate) recorded: ClaimOutcome,
    pub(crate) details: Option<CopyDetails>,
    pub(crate) outcome: T,
}

/// What [`Retrier::exactly_once`] came to.
pub(crate) enum Once<T> {
    /// This invocation did the work: what it reported.
    Done(T),
    /// Another delivery already did it.
    AlreadyDone,
    /// Another invocation took the claim over before the side effect (this one outlived its
    /// lease): it does the work, this one did none of it.
    Lost,
}

/// A claim this invocation holds while its work runs.
pub(crate) struct HeldClaim {
    id: CopyJobId,
    kind: ClaimKind,
    owner: ClaimOwner,
}

impl HeldClaim {
    fn owner(&self) -> &ClaimOwner {
        &self.owner
    }
}

/// What counting a failure in its path's incident came to.
struct Joined {
    /// The incident's thread.
    thread: String,
    opened: bool,
    alerted: bool,
}

/// Why work under a claim stopped: it failed (the claim is given back), or the claim was found
/// taken over (it is left to its new owner; not an error of the invocation).
pub(crate) enum WorkError {
    Failed(HandlerError),
    ClaimLost,
}

impl From<HandlerError> for WorkError {
    fn from(err: HandlerError) -> Self {
        Self::Failed(err)
    }
}

impl From<AwsError> for WorkError {
    fn from(err: AwsError) -> Self {
        Self::Failed(err.into())
    }
}

/// What a failed job's retry needs beyond the job itself.
struct RetryPlan {
    role: IamRoleArn,
}

fn alert_for(job: &CopyJob, lineage: &Lineage, reason: AlertReason, lifecycle: Option<Lifecycle>) -> Alert {
    Alert {
        copy_job: Some(job.id.clone()),
        original_job: Some(lineage.root.clone()),
        recovery_point: Some(job.source_recovery_point.clone()),
        resource: job.resource.clone(),
        source_vault: job.source_vault.clone(),
        destination_vault: job.destination_vault.clone(),
        destination: job.destination.clone(),
        role: job.iam_role.clone(),
        lifecycle,
        reason,
        attempts: lineage.attempt + 1,
    }
}

/// The retry a message asks for; when its body is refused, why (serde's error, which the log line
/// keeps; the body itself is never logged).
fn parse_retry_message(body: Option<&str>) -> Result<RetryRequest, String> {
    let body = body.ok_or("message has no body")?;
    serde_json::from_str(body)
        .map_err(|err| format!("message body is not a retry request: {}", ParseError::redacted(&err)))
}

fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}
