//! AWS API calls per event, per function, on the common paths: the handlers over in-memory ports
//! that count every call (one port call is one AWS request in the adapters). Printed as a table.

use std::time::Duration;

use serde_json::json;
use vaultwatch::domain::{CopyJobState, IamRoleArn, RetryPolicy, RouteTable, SourcePolicy};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::retrier::Retrier;
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::ports::memory::{MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch_tests::*;

struct Counts {
    backup: MemoryBackup,
    store: MemoryStore,
    alerts: MemoryAlerts,
    queue: MemoryQueue,
}

impl Counts {
    fn new() -> Self {
        let backup = MemoryBackup::new();
        let job = failed_copy_job();
        backup.add_copy_action(job.created_by.as_ref().unwrap(), &job.destination_vault, plan_copy_lifecycle());
        backup.add_copy_job(job);
        backup.add_backup_job(backup_job_from_wire(&fixture("backup-api/describe-backup-job-completed.json")));
        Self { backup, store: MemoryStore::new(), alerts: MemoryAlerts::new(), queue: MemoryQueue::new() }
    }

    fn total(&self) -> (usize, usize) {
        let other = self.alerts.published().len() + self.queue.scheduled().len();
        (self.backup.total_calls(), self.backup.total_calls() + self.store.total_calls() + other)
    }

    fn retrier(&self) -> Retrier<&MemoryBackup, &MemoryStore, &MemoryAlerts, &MemoryQueue> {
        Retrier {
            backup: &self.backup,
            store: &self.store,
            alerts: &self.alerts,
            queue: &self.queue,
            policy: RetryPolicy::new(3, Duration::from_secs(60)).unwrap(),
            claim_lease: Duration::from_secs(90),
            sources: SourcePolicy::default(),
        }
    }
}

/// Calls made by `run`, as (AWS Backup, all AWS).
async fn measure<F: std::future::Future<Output = ()>>(counts: &Counts, run: F) -> (usize, usize) {
    let before = counts.total();
    run.await;
    let after = counts.total();
    (after.0 - before.0, after.1 - before.1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut rows = Vec::new();

    let counts = Counts::new();
    let tracker = Tracker { backup: &counts.backup, store: &counts.store, sources: SourcePolicy::default() };
    let id = FAILED_COPY_JOB;
    rows.push((
        "tracker",
        "COPY_JOB CREATED, job unknown to the table",
        measure(&counts, async {
            tracker.handle(&copy_event("CREATED", id)).await.unwrap();
        })
        .await,
    ));
    rows.push((
        "tracker",
        "COPY_JOB RUNNING, details already recorded",
        measure(&counts, async {
            tracker.handle(&copy_event("RUNNING", id)).await.unwrap();
        })
        .await,
    ));
    counts.backup.set_copy_state(&copy_id(id), CopyJobState::Completed, None);
    rows.push((
        "tracker",
        "COPY_JOB COMPLETED (SNS: destination looked up)",
        measure(&counts, async {
            tracker.handle(&copy_event("COMPLETED", id)).await.unwrap();
        })
        .await,
    ));
    rows.push((
        "tracker",
        "COPY_JOB CREATED delivered late (stale)",
        measure(&counts, async {
            tracker.handle(&copy_event("CREATED", id)).await.unwrap();
        })
        .await,
    ));
    rows.push(("tracker", "EventBridge Copy Job State Change COMPLETED", {
        let fresh = Counts::new();
        let tracker = Tracker { backup: &fresh.backup, store: &fresh.store, sources: SourcePolicy::default() };
        measure(&fresh, async {
            tracker.handle(&fixture("eventbridge/copy-job-completed.json")).await.unwrap();
        })
        .await
    }));

    let counts = Counts::new();
    let retrier = counts.retrier();
    rows.push((
        "retrier",
        "COPY_JOB FAILED, transient, plan rule lifecycle",
        measure(&counts, async {
            retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
        })
        .await,
    ));
    rows.push((
        "retrier",
        "the same FAILED delivered again",
        measure(&counts, async {
            retrier.handle(&fixture("sns/copy-job-failed.json")).await.unwrap();
        })
        .await,
    ));
    let (request, _) = counts.queue.scheduled().remove(0);
    let body = serde_json::to_string(&request).unwrap();
    rows.push((
        "retrier",
        "retry due (SQS), starts the copy",
        measure(&counts, async {
            retrier.handle(&sqs_event(&[("m".into(), body)])).await.unwrap();
        })
        .await,
    ));

    for routes in [1usize, 2] {
        let counts = Counts::new();
        let table = json!([
            { "sourceVault": "primary", "destinationVaultArn": DR_VAULT },
            { "sourceVault": "primary", "destinationVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:eu" }
        ]);
        let table = serde_json::Value::Array(table.as_array().unwrap()[..routes].to_vec());
        let copier = Copier {
            backup: &counts.backup,
            store: &counts.store,
            routes: RouteTable::from_json(&table.to_string()).unwrap(),
            copy_role: IamRoleArn::parse("arn:aws:iam::123456789012:role/copy").unwrap(),
            sources: SourcePolicy::default(),
        };
        let label =
            if routes == 1 { "BACKUP_JOB COMPLETED (SNS), 1 route" } else { "BACKUP_JOB COMPLETED (SNS), 2 routes" };
        rows.push((
            "copier",
            label,
            measure(&counts, async {
                copier.handle(&fixture("sns/backup-job-completed.json")).await.unwrap();
            })
            .await,
        ));
    }

    println!("| function | event | AWS Backup calls | all AWS calls |");
    println!("|---|---|---|---|");
    for (function, event, (backup, all)) in rows {
        println!("| {function} | {event} | {backup} | {all} |");
    }
}
