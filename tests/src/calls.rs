//! AWS API calls per event, per function, on the common paths: the handlers over in-memory ports
//! that count every call (one port call is one AWS request in the adapters). The `api-calls` binary
//! prints them; the `call_budget` behaviour test holds them to the targets.

use std::time::Duration;
use vaultwatch::ports::memory::Call;

use crate::*;
use serde_json::json;
use vaultwatch::domain::{CopyJobState, IamRoleArn, RetryPolicy, RouteTable, SourcePolicy, VaultName};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::retrier::{Retrier, RetrierSettings};
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::ports::memory::{backup_error, MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch::ports::ErrorClass;

struct Counts {
    backup: MemoryBackup,
    store: MemoryStore,
    alerts: MemoryAlerts,
    queue: MemoryQueue,
}

impl Counts {
    fn new() -> Self {
        Self::with_failed_job(|_| {})
    }

    /// The counts around a failed copy job like the fixture's, changed by `change`.
    fn with_failed_job(change: impl FnOnce(&mut vaultwatch::domain::CopyJob)) -> Self {
        let backup = MemoryBackup::new();
        let mut job = failed_copy_job();
        change(&mut job);
        backup.add_copy_action(job.created_by.as_ref().unwrap(), &job.destination_vault, Some(plan_copy_lifecycle()));
        backup.add_copy_job(job);
        backup.add_backup_job(backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json")));
        Self { backup, store: MemoryStore::new(), alerts: MemoryAlerts::new(), queue: MemoryQueue::new() }
    }

    fn total(&self) -> (usize, usize) {
        let other = self.alerts.published().len() + self.queue.scheduled().len();
        (self.backup.total_calls(), self.backup.total_calls() + self.store.total_calls() + other)
    }

    fn retrier(&self) -> Retrier<&MemoryBackup, &MemoryStore, &MemoryAlerts, &MemoryQueue> {
        let settings = RetrierSettings {
            policy: RetryPolicy::new(3, Duration::from_secs(60)).unwrap(),
            ..RetrierSettings::default()
        };
        Retrier::new(&self.backup, &self.store, &self.alerts, &self.queue, settings)
    }
}

/// Calls made by `run`, as (AWS Backup, all AWS).
async fn measure<F: std::future::Future<Output = ()>>(counts: &Counts, run: F) -> (usize, usize) {
    let before = counts.total();
    run.await;
    let after = counts.total();
    (after.0 - before.0, after.1 - before.1)
}

/// One event of one function: the calls it made and the most the targets allow (tracker 1, 2 for a
/// stale event with details; retrier 5 to alert, 6 to schedule a retry or for a refused retry, one
/// more for an uncached plan of an S3 backup; copier routes + 1; all AWS calls per event).
pub struct Row {
    pub function: &'static str,
    pub event: &'static str,
    pub backup_calls: usize,
    pub all_calls: usize,
    pub budget: usize,
}

impl Row {
    fn new(
        function: &'static str,
        event: &'static str,
        (backup_calls, all_calls): (usize, usize),
        budget: usize,
    ) -> Self {
        Self { function, event, backup_calls, all_calls, budget }
    }
}

/// Every row, in table order.
pub async fn measure_all() -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    tracker_rows(&mut rows).await;
    retrier_rows(&mut rows).await;
    copier_rows(&mut rows).await;
    rows
}

async fn tracker_rows(rows: &mut Vec<Row>) {
    let counts = Counts::new();
    let tracker = Tracker { store: &counts.store, sources: SourcePolicy::default() };
    let id = FAILED_COPY_JOB;
    for (event, state) in [
        ("COPY_JOB CREATED (SNS), job new to the table", "CREATED"),
        ("COPY_JOB RUNNING (SNS)", "RUNNING"),
        ("COPY_JOB COMPLETED (SNS)", "COMPLETED"),
        ("COPY_JOB CREATED delivered late (stale)", "CREATED"),
    ] {
        let calls = measure(&counts, async {
            tracker.handle(&copy_event(state, id)).await.unwrap();
        })
        .await;
        rows.push(Row::new("tracker", event, calls, 1));
    }
    let fresh = Counts::new();
    let tracker = Tracker { store: &fresh.store, sources: SourcePolicy::default() };
    let calls = measure(&fresh, async {
        tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
    })
    .await;
    rows.push(Row::new("tracker", "EventBridge Copy Job State Change COMPLETED (details included)", calls, 1));

    // An EventBridge event overtaken by the SNS one: stale, but it brings the details the record lacks.
    let overtaken = Counts::new();
    let tracker = Tracker { store: &overtaken.store, sources: SourcePolicy::default() };
    let completed = fixture("eventbridge/copy-job-completed.json");
    let id = completed["detail"]["copyJobId"].as_str().unwrap().to_owned();
    tracker.handle(&copy_event("COMPLETED", &id)).await.unwrap();
    let calls = measure(&overtaken, async {
        tracker.handle(&completed).await.unwrap();
    })
    .await;
    rows.push(Row::new("tracker", "EventBridge COMPLETED after the SNS one (stale, brings details)", calls, 2));
}

async fn retrier_rows(rows: &mut Vec<Row>) {
    let counts = Counts::new();
    let retrier = counts.retrier();
    let failed = fixture("sns/copy-job-failed.json");
    let calls = measure(&counts, async {
        retrier.handle(&failed).await.unwrap();
    })
    .await;
    // DescribeRecoveryPoint makes sure the source can still be copied when the retry is due (cold
    // storage, deletion): without it the retry would fail once more, later. The claim is confirmed
    // (renewed) before the retry is queued: a late invocation never queues its successor's.
    rows.push(Row::new("retrier", "COPY_JOB FAILED, transient: retry scheduled", calls, 6));
    let calls = measure(&counts, async {
        retrier.handle(&failed).await.unwrap();
    })
    .await;
    rows.push(Row::new("retrier", "the same FAILED delivered again", calls, 4));
    let (request, _) = counts.queue.scheduled().remove(0);
    let body = serde_json::to_string(&request).unwrap();
    let calls = measure(&counts, async {
        retrier.handle(&sqs_event(&[("m".into(), body)])).await.unwrap();
    })
    .await;
    rows.push(Row::new("retrier", "retry due (SQS): plan lifecycle looked up, copy started", calls, 4));

    let counts = Counts::new();
    let permanent = "Access denied: the IAM role cannot use KMS key arn:aws:kms:us-west-2:123456789012:key/abc";
    counts.backup.set_copy_state(&copy_id(FAILED_COPY_JOB), CopyJobState::Failed, Some(permanent));
    let retrier = counts.retrier();
    let calls = measure(&counts, async {
        retrier.handle(&failed).await.unwrap();
    })
    .await;
    rows.push(Row::new("retrier", "COPY_JOB FAILED, permanent: plan lifecycle looked up, alert published", calls, 6));

    // A due retry AWS Backup refuses, its lifecycle from a plan this environment has not read yet.
    let counts = Counts::new();
    let retrier = counts.retrier();
    retrier.handle(&failed).await.unwrap();
    let (request, _) = counts.queue.drain().remove(0);
    let refusal = backup_error("StartCopyJob", ErrorClass::Permanent, "InvalidParameterValueException");
    counts.backup.fail_next(Call::StartCopyJob, 1, refusal);
    let body = serde_json::to_string(&request).unwrap();
    let calls = measure(&counts, async {
        retrier.handle(&sqs_event(&[("m".into(), body)])).await.unwrap();
    })
    .await;
    rows.push(Row::new("retrier", "retry due (SQS), refused by AWS Backup: alert published", calls, 6));

    // An S3 recovery point's ARN does not say whether it is continuous: the plan rule does.
    let counts = Counts::with_failed_job(|job| job.resource_type = Some(vaultwatch::domain::ResourceType::S3));
    let retrier = counts.retrier();
    let calls = measure(&counts, async {
        retrier.handle(&failed).await.unwrap();
    })
    .await;
    rows.push(Row::new("retrier", "COPY_JOB FAILED for S3, transient: plan checked, retry scheduled", calls, 7));
}

async fn copier_rows(rows: &mut Vec<Row>) {
    let dr = json!({ "sourceVault": "primary", "destinationVaultArn": DR_VAULT });
    let eu = json!({ "sourceVault": "primary", "destinationVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu" });
    for (event, routes, file) in [
        ("BACKUP_JOB COMPLETED (SNS), 1 route", json!([dr]), "sns/backup-job-completed.json"),
        ("BACKUP_JOB COMPLETED (SNS), 2 routes", json!([dr, eu]), "sns/backup-job-completed.json"),
        (
            "EventBridge Backup Job State Change COMPLETED, 2 routes",
            json!([dr, eu]),
            "eventbridge/backup-job-completed.json",
        ),
    ] {
        let counts = Counts::new();
        let routes = RouteTable::from_json(&routes.to_string()).unwrap();
        let budget = routes.routes_for(&VaultName::parse("primary").unwrap(), None).count() + 1;
        let copier = Copier {
            backup: &counts.backup,
            routes,
            copy_role: IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap(),
            sources: SourcePolicy::default(),
        };
        let calls = measure(&counts, async {
            copier.handle(&fixture(file)).await.unwrap();
        })
        .await;
        rows.push(Row::new("copier", event, calls, budget));
    }
}
