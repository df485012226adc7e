//! Benchmark: copy path incidents at scale, in memory (the real retrier and reconciler logic over the
//! in-memory ports). `cargo run --release -p vaultwatch-bench --bin paths -- [FAILURES] [BACKFILL]
//! [CONCURRENCY]` (defaults 10,000, 10,000 and 5). Prints the figures for docs/performance.md; exits
//! 1 when an expectation fails:
//! - FAILURES copy failures on 3 broken paths (16 at a time, as concurrent retriers) send 3 alerts;
//! - after healing, the backfill of BACKFILL recovery points on one path never holds more than
//!   CONCURRENCY backfill copies in flight, copies each once, and is covered within 10% of the
//!   minimum that the concurrency and a copy's duration allow (each copy takes one simulated hour;
//!   the next starts on the COPY_JOB event of one that ended).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use vaultwatch::domain::{
    BackupVaultArn, ClaimOwner, CopyJob, CopyJobId, CopyJobState, HealedBy, IamRoleArn, IncidentMessage,
    RecoveryPointArn,
};
use vaultwatch::handlers::retrier::{Retrier, RetrierSettings};
use vaultwatch::ports::memory::{Call, MemoryAlerts, MemoryBackup, MemoryClock, MemoryQueue, MemoryStore};
use vaultwatch::ports::TrackingStore;

const SOURCE: &str = "arn:aws:backup:us-east-1:123456789012:backup-vault:primary";
const ROLE: &str = "arn:aws:iam::123456789012:role/backup";
/// Three broken paths: a disabled key, a vault access policy, a Vault Lock range (AWS's words).
const PATHS: [(&str, &str); 3] = [
    ("arn:aws:backup:us-west-2:123456789012:backup-vault:dr", "Access denied: the IAM role cannot use KMS key arn:aws:kms:us-west-2:123456789012:key/abc"),
    ("arn:aws:backup:eu-west-1:444455556666:backup-vault:central", "Access Denied trying to call AWS Backup service"),
    ("arn:aws:backup:us-east-2:123456789012:backup-vault:locked", "Copy job failed. The retention specified in the job is not within the range specified for the target Backup Vault."),
];

type Model = Retrier<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue>;

fn vault(arn: &str) -> BackupVaultArn {
    BackupVaultArn::parse(arn).expect("a vault ARN")
}

fn failed_job(n: usize, destination: &str, message: &str) -> CopyJob {
    CopyJob {
        id: CopyJobId::parse(&format!("FAILED-{n:06}")).unwrap(),
        state: CopyJobState::Failed,
        status_message: Some(message.to_owned()),
        source_recovery_point: RecoveryPointArn::parse(&format!(
            "arn:aws:backup:us-east-1:123456789012:recovery-point:RP-{n:06}"
        ))
        .unwrap(),
        source_vault: vault(SOURCE),
        destination_vault: vault(destination),
        destination_recovery_point: None,
        destination_lifecycle: None,
        resource: None,
        resource_type: Some("EBS".into()),
        iam_role: IamRoleArn::parse(ROLE).ok(),
        created_by: None,
        completed_at: None,
        message_category: None,
        composite: Default::default(),
        initiated_by: None,
        destination: Default::default(),
    }
}

fn event(state: &str, id: &CopyJobId) -> Value {
    vaultwatch_tests::copy_event(state, id.as_str())
}

fn model(clock: &MemoryClock, concurrency: u32) -> Model {
    let mut settings = RetrierSettings::default();
    settings.backfill.concurrency = concurrency;
    Retrier::new(MemoryBackup::new(), MemoryStore::new(), MemoryAlerts::new(), MemoryQueue::new(), settings)
        .with_clock(Arc::new(clock.clone()))
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let failures: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let backfill: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let concurrency: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut problems = Vec::new();
    runtime.block_on(async {
        incidents(failures, &mut problems).await;
        backfilled(backfill, concurrency, &mut problems).await;
    });
    for problem in &problems {
        println!("FAILED: {problem}");
    }
    if problems.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// `failures` failures spread over the three broken paths, handled 16 at a time.
async fn incidents(failures: usize, problems: &mut Vec<String>) {
    let clock = MemoryClock::at(Utc::now());
    let model = model(&clock, 5);
    for n in 0..failures {
        let (destination, message) = PATHS[n % PATHS.len()];
        model.backup.add_copy_job(failed_job(n, destination, message));
    }
    let started = Instant::now();
    let events: Vec<Value> =
        (0..failures).map(|n| event("FAILED", &CopyJobId::parse(&format!("FAILED-{n:06}")).unwrap())).collect();
    let handled: Vec<_> =
        stream::iter(events.iter().map(|event| model.handle(event))).buffer_unordered(16).collect().await;
    let elapsed = started.elapsed();
    let errors = handled.iter().filter(|result| result.is_err()).count();
    let opened = model.alerts.incident_messages().iter().filter(|m| matches!(m, IncidentMessage::Opened(_))).count();
    let per_copy = model.alerts.published().len();
    let incidents = model.store.incidents();
    let counted: u64 = incidents.iter().map(|incident| incident.affected).sum();
    let store_calls = model.store.total_calls();
    println!("{failures} copy failures on {} broken paths, 16 retriers at a time (in memory)", PATHS.len());
    println!("  incidents opened            {}", incidents.len());
    println!("  alerts sent                 {} incident alerts, {per_copy} per-copy alerts", opened);
    println!("  recovery points counted     {counted}");
    println!("  tracking-store calls        {store_calls} ({:.1} per failure)", store_calls as f64 / failures as f64);
    println!(
        "  AWS Backup calls            {} DescribeCopyJob, {} DescribeRecoveryPoint",
        model.backup.calls(Call::DescribeCopyJob),
        model.backup.calls(Call::DescribeRecoveryPoint)
    );
    println!(
        "  wall time                   {:.2?} ({:.0} failures/s)",
        elapsed,
        failures as f64 / elapsed.as_secs_f64()
    );
    if errors > 0 || opened != PATHS.len() || per_copy != 0 || counted != failures as u64 {
        problems.push(format!(
            "incidents: {errors} errors, {opened} incident alerts, {per_copy} per-copy alerts, {counted} counted"
        ));
    }
}

/// The backfill of `points` recovery points on one healed path, each copy an hour long.
async fn backfilled(points: usize, concurrency: u32, problems: &mut Vec<String>) {
    let start: DateTime<Utc> = "2026-12-06T08:00:00Z".parse().unwrap();
    let clock = MemoryClock::at(start - Duration::hours(2));
    let model = model(&clock, concurrency);
    let (destination, message) = PATHS[0];
    for n in 0..points {
        model.backup.add_copy_job(failed_job(n, destination, message));
        model.handle(&event("FAILED", &CopyJobId::parse(&format!("FAILED-{n:06}")).unwrap())).await.expect("handled");
    }
    let incident = model.store.incidents().pop().expect("the incident");
    clock.set(start);
    let owner = ClaimOwner::unique();
    model.store.heal_incident(&incident.id, &HealedBy::PathCheck, start).await.expect("healed");
    model
        .store
        .open_backfill(&vaultwatch::domain::Backfill::of(
            &model.store.incident(&incident.id.key).await.unwrap().unwrap(),
        ))
        .await
        .unwrap();
    let wall = Instant::now();
    let mut started = model.backfiller().run(&owner).await.expect("the first run").started;
    // Each copy ends an hour after it started; its COPY_JOB event starts the next.
    let mut running: BTreeMap<DateTime<Utc>, Vec<CopyJobId>> = BTreeMap::new();
    let mut max_in_flight = 0;
    let mut seen = std::collections::HashSet::new();
    let mut last = start;
    loop {
        for job in model.backup.copy_jobs() {
            if job.state == CopyJobState::Created && seen.insert(job.id.clone()) {
                running.entry(clock_now(&clock) + Duration::hours(1)).or_default().push(job.id);
            }
        }
        max_in_flight = max_in_flight.max(running.values().map(Vec::len).sum::<usize>());
        let Some((at, jobs)) = running.pop_first() else { break };
        clock.set(at);
        last = at;
        for job in jobs {
            model.backup.set_copy_state(&job, CopyJobState::Completed, None);
            model.handle(&event("COMPLETED", &job)).await.expect("the copy's event");
        }
        started = seen.len();
    }
    let elapsed = last - start;
    let minimum = Duration::hours(points.div_ceil(concurrency as usize) as i64);
    let backfilled =
        model.alerts.incident_messages().iter().filter(|m| matches!(m, IncidentMessage::Backfilled { .. })).count();
    let distinct: std::collections::HashSet<_> =
        model.backup.started_copies().iter().map(|c| c.recovery_point.clone()).collect();
    println!("backfill of {points} recovery points after healing, BackfillConcurrency {concurrency}, copies of 1 h (in memory)");
    println!("  copies started              {started} ({} distinct recovery points)", distinct.len());
    println!("  most in flight at once      {max_in_flight}");
    println!(
        "  time to covered             {} h (minimum {} h, {:.1}% over)",
        elapsed.num_hours(),
        minimum.num_hours(),
        100.0 * (elapsed - minimum).num_seconds() as f64 / minimum.num_seconds() as f64
    );
    println!("  \"backfilled\" messages       {backfilled}");
    println!(
        "  tracking-store calls        {} ({:.1} per copy)",
        model.store.total_calls(),
        model.store.total_calls() as f64 / points as f64
    );
    println!("  wall time                   {:.2?}", wall.elapsed());
    if started != points
        || distinct.len() != points
        || max_in_flight > concurrency as usize
        || backfilled != 1
        || elapsed.num_seconds() as f64 > minimum.num_seconds() as f64 * 1.1
    {
        problems.push(format!("backfill: {started} started, {max_in_flight} at most in flight, {elapsed} to covered, {backfilled} messages"));
    }
}

fn clock_now(clock: &MemoryClock) -> DateTime<Utc> {
    use vaultwatch::ports::Clock;
    clock.now()
}
