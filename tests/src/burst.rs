//! A seeded burst simulation: the real handler code (copier, tracker, retrier, reconciler) over
//! in-memory ports, driven the way AWS drives them, with everything that goes wrong in production:
//!
//! - every notification is delivered 1-3 times, in shuffled order, with Lambda's async retries
//!   (3 attempts, then the failure destination);
//! - AWS Backup throttles (10%) and fails with 5xx (2%) per attempt, behind the SDK's standard
//!   retry (3 attempts; see `vaultwatch::adapters::load_sdk_config`); a 5xx on StartCopyJob may come
//!   after the copy was created, as it can in AWS;
//! - copy jobs succeed, fail transiently or fail permanently at random;
//! - the retry queue redelivers failed messages and dead-letters them after 5 receives;
//! - the scheduled reconciler runs when the event path is quiet, as it would hourly.
//!
//! Then it checks the invariants: one copy per (backup, route), retries until success or the cap
//! and never beyond, exactly one alert per permanently failed or exhausted chain, no second copy for
//! the same (recovery point, destination, attempt), and a tracking table equal to AWS's truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use vaultwatch::domain::{
    BackupJob, BackupJobId, BackupJobState, BackupVaultArn, Composite, CopyJob, CopyJobId, CopyJobState, IamRoleArn,
    IdempotencyToken, Lifecycle, PlanRuleRef, RecoveryPoint, RecoveryPointArn, ResourceArn, RetryPolicy, RouteTable,
    SourcePolicy, VaultName,
};
use vaultwatch::handlers::copier::Copier;
use vaultwatch::handlers::reconciler::{Reconciler, SweepSettings};
use vaultwatch::handlers::retrier::{DueRetries, Retrier, RetrierResponse, RetrierSettings};
use vaultwatch::handlers::tracker::Tracker;
use vaultwatch::ports::memory::{MemoryAlerts, MemoryBackup, MemoryQueue, MemoryStore};
use vaultwatch::ports::{AwsError, BackupApi, BackupJobQuery, CopyJobQuery, ErrorClass, Page, StartCopyRequest};

use crate::{sns_notification, sqs_event};

pub const MAX_ATTEMPTS: u32 = 3;
const TRANSIENT: &str = "Copy job failed because the destination backup vault is being modified. Try again later.";
const PERMANENT: &str = "Access denied: the IAM role cannot use the destination KMS key";
const SDK_ATTEMPTS: u32 = 3;

/// Hourly sweeps after the event path went quiet, at most: far above what any burst needs
/// (a handful), far below what a sweep that never settles would run in the test's time.
const MAX_RECONCILER_RUNS: usize = 200;
/// AWS Backup with injected faults, behind the SDK's retry.
pub struct FaultyBackup {
    pub inner: MemoryBackup,
    rng: Mutex<fastrand::Rng>,
    throttle_rate: f64,
    server_error_rate: f64,
    pub injected: Mutex<BTreeMap<&'static str, usize>>,
}

impl FaultyBackup {
    fn new(seed: u64, throttle_rate: f64, server_error_rate: f64) -> Self {
        Self {
            inner: MemoryBackup::new(),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed)),
            throttle_rate,
            server_error_rate,
            injected: Mutex::new(BTreeMap::new()),
        }
    }

    /// One attempt's fate: None to go through, Some(fault) to fail it.
    fn roll(&self) -> Option<&'static str> {
        let roll = self.rng.lock().unwrap().f64();
        let fault = if roll < self.throttle_rate {
            "ThrottlingException"
        } else if roll < self.throttle_rate + self.server_error_rate {
            "ServiceUnavailableException"
        } else {
            return None;
        };
        *self.injected.lock().unwrap().entry(fault).or_default() += 1;
        Some(fault)
    }

    /// The SDK's standard retry: up to three attempts while the error is retryable.
    async fn call<T, F, Fut>(&self, operation: &'static str, mut attempt: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let mut last = None;
        for _ in 0..SDK_ATTEMPTS {
            match self.roll() {
                None => return attempt().await,
                Some(fault) => {
                    // A 5xx may come after the service did the work (the response was lost).
                    if fault == "ServiceUnavailableException" && operation == "StartCopyJob" {
                        let _ = attempt().await;
                    }
                    last = Some(fault);
                }
            }
        }
        Err(AwsError {
            service: "backup",
            operation,
            class: ErrorClass::Transient,
            code: last.map(str::to_owned),
            message: "injected".into(),
            no_answer: None,
        })
    }
}

impl BackupApi for FaultyBackup {
    async fn describe_copy_job(&self, id: &CopyJobId) -> Result<CopyJob, AwsError> {
        self.call("DescribeCopyJob", || self.inner.describe_copy_job(id)).await
    }
    async fn describe_backup_job(&self, id: &BackupJobId) -> Result<BackupJob, AwsError> {
        self.call("DescribeBackupJob", || self.inner.describe_backup_job(id)).await
    }
    async fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        self.call("GetBackupPlan", || self.inner.copy_action_lifecycle(rule, destination)).await
    }
    async fn plan_copy_destinations(&self, rule: &PlanRuleRef) -> Result<Vec<BackupVaultArn>, AwsError> {
        self.call("GetBackupPlan", || self.inner.plan_copy_destinations(rule)).await
    }
    async fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> Result<bool, AwsError> {
        self.call("GetBackupPlan", || self.inner.makes_continuous_backups(rule)).await
    }
    async fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> Result<Option<RecoveryPoint>, AwsError> {
        self.call("DescribeRecoveryPoint", || self.inner.describe_recovery_point(vault, recovery_point)).await
    }
    async fn start_copy_job(&self, request: &StartCopyRequest) -> Result<CopyJobId, AwsError> {
        self.call("StartCopyJob", || self.inner.start_copy_job(request)).await
    }
    async fn list_copy_jobs(&self, query: &CopyJobQuery, next_token: Option<&str>) -> Result<Page<CopyJob>, AwsError> {
        self.call("ListCopyJobs", || self.inner.list_copy_jobs(query, next_token)).await
    }
    async fn count_failed_copy_jobs(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<std::collections::BTreeMap<String, u64>, AwsError> {
        self.call("ListCopyJobSummaries", || self.inner.count_failed_copy_jobs(since)).await
    }

    async fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> Result<Page<BackupJob>, AwsError> {
        self.call("ListBackupJobs", || self.inner.list_completed_backups(query, next_token)).await
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Function {
    Copier,
    Tracker,
    Retrier,
}

struct Delivery {
    function: Function,
    payload: Value,
    attempt: u32,
}

struct RetryMessage {
    id: String,
    body: String,
    receives: u32,
}

/// The figures a run reports.
#[derive(Debug, Default)]
pub struct Figures {
    pub seed: u64,
    pub backups: usize,
    pub notifications: usize,
    pub deliveries: usize,
    pub duplicates_absorbed: usize,
    pub invocation_errors: usize,
    pub kept_in_failure_destination: usize,
    pub faults_injected: BTreeMap<&'static str, usize>,
    pub copy_jobs: usize,
    pub retries: usize,
    pub alerts: usize,
    pub reconciler_runs: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub wall_time: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed                         {}", self.seed)?;
        writeln!(f, "backups completed            {}", self.backups)?;
        writeln!(f, "notifications published      {}", self.notifications)?;
        writeln!(f, "deliveries (with duplicates) {}", self.deliveries)?;
        writeln!(f, "duplicates absorbed          {}", self.duplicates_absorbed)?;
        writeln!(f, "faults injected              {:?}", self.faults_injected)?;
        writeln!(f, "invocations that failed      {}", self.invocation_errors)?;
        writeln!(f, "kept in failure destination  {}", self.kept_in_failure_destination)?;
        writeln!(f, "copy jobs                    {}", self.copy_jobs)?;
        writeln!(f, "retries started              {}", self.retries)?;
        writeln!(f, "alerts                       {}", self.alerts)?;
        writeln!(f, "reconciler runs              {}", self.reconciler_runs)?;
        writeln!(f, "lost                         {}", self.lost)?;
        writeln!(f, "duplicated                   {}", self.duplicated)?;
        write!(f, "wall time                    {:.2?}", self.wall_time)
    }
}

pub struct Burst {
    rng: fastrand::Rng,
    backup: FaultyBackup,
    store: MemoryStore,
    alerts: MemoryAlerts,
    queue: MemoryQueue,
    routes: RouteTable,
    pending: Vec<Delivery>,
    retry_messages: Vec<RetryMessage>,
    next_message: usize,
    announced: HashSet<CopyJobId>,
    backups: Vec<BackupJob>,
    max_deliveries: usize,
    figures: Figures,
    failures: Vec<String>,
}

const DR1: &str = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-one";
const DR2: &str = "arn:aws:backup:eu-west-1:123456789012:backup-vault:dr-two";
const ROLE: &str = "arn:aws:iam::123456789012:role/vaultwatch-copy";

impl Burst {
    /// AWS's ordinary bad day: 10% throttling, 2% 5xx per attempt.
    pub fn new(seed: u64) -> Self {
        Self::with_fault_rates(seed, 0.10, 0.02)
    }

    /// A worse day, with fault rates of your choosing (per attempt).
    pub fn with_fault_rates(seed: u64, throttle_rate: f64, server_error_rate: f64) -> Self {
        let routes = RouteTable::from_json(
            &json!([
                { "sourceVault": "vault-a", "destinationVaultArn": DR1 },
                { "sourceVault": "vault-a", "destinationVaultArn": DR2, "resourceTypes": ["RDS"] },
                { "sourceVault": "vault-b", "destinationVaultArn": DR1 },
            ])
            .to_string(),
        )
        .expect("valid routes");
        Self {
            rng: fastrand::Rng::with_seed(seed),
            backup: FaultyBackup::new(seed, throttle_rate, server_error_rate),
            store: MemoryStore::new(),
            alerts: MemoryAlerts::new(),
            queue: MemoryQueue::new(),
            routes,
            pending: Vec::new(),
            retry_messages: Vec::new(),
            next_message: 0,
            announced: HashSet::new(),
            backups: Vec::new(),
            max_deliveries: 3,
            figures: Figures { seed, ..Figures::default() },
            failures: Vec::new(),
        }
    }

    /// Each notification is delivered 1..=`max` times (default 3; 1 leaves no duplicate to make up
    /// for an event that exhausted Lambda's retries).
    pub fn deliveries_up_to(mut self, max: usize) -> Self {
        self.max_deliveries = max.max(1);
        self
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::new(MAX_ATTEMPTS, Duration::from_secs(60)).expect("valid policy")
    }

    /// Publishes a notification; SNS delivers it 1-3 times to each subscriber its filter admits.
    fn publish(&mut self, event_type: &str, state: &str, id: &str) {
        self.figures.notifications += 1;
        let payload = sns_notification(event_type, state, id);
        let subscribers: &[Function] = match (event_type, state) {
            ("BACKUP_JOB", "COMPLETED") => &[Function::Copier],
            ("COPY_JOB", "FAILED") => &[Function::Tracker, Function::Retrier],
            ("COPY_JOB", _) => &[Function::Tracker],
            _ => &[],
        };
        for function in subscribers {
            for _ in 0..self.rng.usize(1..=self.max_deliveries) {
                self.pending.push(Delivery { function: *function, payload: payload.clone(), attempt: 1 });
            }
        }
    }

    fn complete_backups(&mut self, count: usize) {
        for index in 0..count {
            let vault = ["vault-a", "vault-b", "vault-c"][index % 3];
            let kind = if self.rng.bool() { "EBS" } else { "RDS" };
            let id = format!("BACKUP-{index:06}");
            let job = BackupJob {
                completed_at: Some(Utc::now()),
                created_by: None,
                lifecycle: None,
                id: BackupJobId::parse(&id).unwrap(),
                state: BackupJobState::Completed,
                recovery_point: Some(
                    RecoveryPointArn::parse(&format!(
                        "arn:aws:backup:us-east-1:123456789012:recovery-point:RP-{index:06}"
                    ))
                    .unwrap(),
                ),
                vault: BackupVaultArn::parse(&format!("arn:aws:backup:us-east-1:123456789012:backup-vault:{vault}"))
                    .unwrap(),
                resource: Some(
                    ResourceArn::parse(&format!("arn:aws:ec2:us-east-1:123456789012:volume/vol-{index:06}")).unwrap(),
                ),
                resource_type: Some(vaultwatch::domain::ResourceType::parse(kind)),
                parent_job: None,
            };
            self.backup.inner.add_backup_job(job.clone());
            self.backups.push(job);
            self.publish("BACKUP_JOB", "COMPLETED", &id);
        }
        self.figures.backups += count;
    }

    /// Whether the invocation succeeded (what it did is checked against AWS's truth at the end).
    async fn invoke(&mut self, delivery: &Delivery) -> bool {
        let sources = SourcePolicy::default();
        match delivery.function {
            Function::Copier => {
                let copier = Copier {
                    backup: &self.backup,
                    routes: self.routes.clone(),
                    copy_role: IamRoleArn::parse(ROLE).unwrap(),
                    sources,
                };
                copier.handle(&delivery.payload).await.is_ok()
            }
            Function::Tracker => Tracker { store: &self.store, sources }.handle(&delivery.payload).await.is_ok(),
            Function::Retrier => self.retrier().handle(&delivery.payload).await.is_ok(),
        }
    }

    fn retry_settings(&self) -> RetrierSettings {
        RetrierSettings { policy: Self::policy(), ..RetrierSettings::default() }
    }

    fn retrier(&self) -> Retrier<&FaultyBackup, &MemoryStore, &MemoryAlerts, &MemoryQueue> {
        Retrier::new(&self.backup, &self.store, &self.alerts, &self.queue, self.retry_settings())
    }

    /// Delivers one pending notification chosen at random (SNS does not keep order).
    async fn deliver_one(&mut self) {
        let index = self.rng.usize(..self.pending.len());
        let delivery = self.pending.swap_remove(index);
        self.figures.deliveries += 1;
        if !self.invoke(&delivery).await {
            self.figures.invocation_errors += 1;
            if delivery.attempt < 3 {
                self.pending.push(Delivery { attempt: delivery.attempt + 1, ..delivery });
            } else {
                self.figures.kept_in_failure_destination += 1;
            }
        }
    }

    /// One SQS batch of due retries, with ReportBatchItemFailures and a redrive after 5 receives.
    async fn deliver_retries(&mut self) {
        for (request, _delay) in self.queue.drain() {
            self.next_message += 1;
            let body = serde_json::to_string(&request).expect("serialisable");
            self.retry_messages.push(RetryMessage { id: format!("msg-{}", self.next_message), body, receives: 0 });
        }
        let take = self.retry_messages.len().min(10);
        let mut batch: Vec<RetryMessage> = self.retry_messages.drain(..take).collect();
        let bodies: Vec<(String, String)> = batch.iter().map(|m| (m.id.clone(), m.body.clone())).collect();
        let response = self.retrier().handle(&sqs_event(&bodies)).await;
        let failed: HashSet<String> = match response {
            Ok(RetrierResponse::DueRetries(DueRetries { response, .. })) => {
                response.batch_item_failures.into_iter().map(|failure| failure.item_identifier).collect()
            }
            Ok(RetrierResponse::Notifications(_)) => unreachable!("an SQS batch gets a batch response"),
            Err(_) => batch.iter().map(|m| m.id.clone()).collect(),
        };
        for mut message in batch.drain(..) {
            message.receives += 1;
            if failed.contains(&message.id) {
                if message.receives < 5 {
                    self.retry_messages.push(message);
                } else {
                    self.figures.kept_in_failure_destination += 1;
                }
            }
        }
    }

    /// AWS Backup runs every unfinished copy job to its end and announces it.
    fn run_copy_jobs(&mut self) -> bool {
        let jobs = self.backup.inner.copy_jobs();
        let mut moved = false;
        for job in jobs {
            if !self.announced.contains(&job.id) {
                self.announced.insert(job.id.clone());
                self.publish("COPY_JOB", "CREATED", job.id.as_str());
                moved = true;
            }
            if job.state.is_terminal() {
                continue;
            }
            let roll = self.rng.f64();
            let (state, message) = if roll < 0.80 {
                (CopyJobState::Completed, None)
            } else if roll < 0.95 {
                (CopyJobState::Failed, Some(TRANSIENT))
            } else {
                (CopyJobState::Failed, Some(PERMANENT))
            };
            self.backup.inner.set_copy_state(&job.id, state, message);
            self.publish("COPY_JOB", state.as_str(), job.id.as_str());
            moved = true;
        }
        moved
    }

    async fn reconcile(&mut self) -> bool {
        self.figures.reconciler_runs += 1;
        let reconciler = Reconciler {
            backup: &self.backup,
            store: &self.store,
            alerts: &self.alerts,
            queue: &self.queue,
            retry: self.retry_settings(),
            sweep: SweepSettings::default(),
            routes: self.routes.clone(),
            copy_role: Some(IamRoleArn::parse(ROLE).unwrap()),
            organization: None,
            path_check: None::<
                vaultwatch::handlers::reconciler::DailyPathCheck<vaultwatch::ports::memory::MemoryPathFacts>,
            >,
            evidence: None::<vaultwatch::handlers::reconciler::EvidenceSettings<vaultwatch::ports::NoEvidence>>,
            clock: std::sync::Arc::new(vaultwatch::ports::WallClock),
        };
        match reconciler.run(Utc::now(), || false).await {
            // A sweep that hit a fault (counted in `errors`, or failing whole) is simply run again.
            Ok(summary) => {
                summary.repaired + summary.retried + summary.alerted + summary.missing_copies_started + summary.errors
                    > 0
            }
            Err(_) => true,
        }
    }

    /// Runs the whole burst and checks the invariants; `Err` lists every violation.
    pub async fn run(mut self, backups: usize) -> Result<Figures, (Figures, Vec<String>)> {
        let started = Instant::now();
        self.complete_backups(backups);
        for _round in 0..100_000 {
            if !self.pending.is_empty() && (self.retry_messages.is_empty() || self.rng.f64() < 0.9) {
                while !self.pending.is_empty() {
                    self.deliver_one().await;
                }
                continue;
            }
            if !self.retry_messages.is_empty() || !self.queue.scheduled().is_empty() {
                self.deliver_retries().await;
                continue;
            }
            if self.run_copy_jobs() {
                continue;
            }
            // The event path is quiet: the hourly reconciler runs, until a sweep finds nothing.
            if !self.reconcile().await {
                break;
            }
            // A sweep that keeps finding work is a violation, not a reason to run for ever.
            if self.figures.reconciler_runs >= MAX_RECONCILER_RUNS {
                self.failures.push(format!("the reconciler still found work after {MAX_RECONCILER_RUNS} runs"));
                break;
            }
        }
        self.figures.wall_time = started.elapsed();
        self.check();
        let figures = self.figures;
        if self.failures.is_empty() {
            Ok(figures)
        } else {
            Err((figures, self.failures))
        }
    }

    fn check(&mut self) {
        let started = self.backup.inner.started_copies();
        let jobs: HashMap<CopyJobId, CopyJob> =
            self.backup.inner.copy_jobs().into_iter().map(|job| (job.id.clone(), job)).collect();
        self.figures.copy_jobs = jobs.len();
        self.figures.faults_injected = self.backup.injected.lock().unwrap().clone();
        // Alerts of chains, and of path incidents (one each).
        self.figures.alerts = self.alerts.published().len() + self.alerts.incident_messages().len();
        self.figures.duplicates_absorbed = self.figures.deliveries.saturating_sub(self.figures.notifications);

        // No chain's attempt (its token: the chain's root and the attempt), no route and no
        // backfill episode started two copies of a (recovery point, destination); and no
        // (recovery point, destination) has two completed copies. A recovery point may have two
        // chains: a healed path's backfill starts a new one after the first ended in the incident.
        let mut per_attempt: HashMap<(RecoveryPointArn, BackupVaultArn, String), usize> = HashMap::new();
        for request in &started {
            let kind = match request.token.as_str() {
                token if token.starts_with("retry-") || token.starts_with("backfill-") => token.to_owned(),
                _ => "route".into(),
            };
            *per_attempt
                .entry((request.recovery_point.clone(), request.destination_vault.clone(), kind))
                .or_default() += 1;
        }
        let mut completed: HashMap<(RecoveryPointArn, BackupVaultArn), usize> = HashMap::new();
        for job in jobs
            .values()
            .filter(|job| job.state == CopyJobState::Completed && !matches!(job.composite, Composite::Child { .. }))
        {
            *completed.entry((job.source_recovery_point.clone(), job.destination_vault.clone())).or_default() += 1;
        }
        let duplicated: usize =
            per_attempt.values().map(|n| n - 1).sum::<usize>() + completed.values().map(|n| n - 1).sum::<usize>();
        self.figures.duplicated = duplicated;
        if duplicated > 0 {
            let twice: Vec<String> = completed
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|((point, vault), n)| {
                    let tokens: Vec<&str> = started
                        .iter()
                        .filter(|r| r.recovery_point == *point && r.destination_vault == *vault)
                        .map(|r| r.token.as_str())
                        .collect();
                    format!("{point} -> {vault}: {n} completed, started with {tokens:?}")
                })
                .chain(
                    per_attempt
                        .iter()
                        .filter(|(_, n)| **n > 1)
                        .map(|((point, vault, kind), n)| format!("{point} -> {vault} {kind}: {n} starts")),
                )
                .collect();
            self.failures
                .push(format!("{duplicated} copies duplicated a (recovery point, destination, attempt): {twice:?}"));
        }

        // Exactly one routed copy per (backup, applicable route).
        let routed: HashMap<(RecoveryPointArn, BackupVaultArn), usize> = started
            .iter()
            .filter(|r| r.token == IdempotencyToken::for_route(&r.recovery_point, &r.destination_vault))
            .fold(HashMap::new(), |mut acc, r| {
                *acc.entry((r.recovery_point.clone(), r.destination_vault.clone())).or_default() += 1;
                acc
            });
        let mut lost = 0;
        for (index, job) in self.backups.iter().enumerate() {
            let rp = job.recovery_point.clone().expect("completed backups have a recovery point");
            let vault = job.vault.vault_name();
            for route in self.routes.routes_for(&vault, job.resource_type.as_ref()) {
                match routed.get(&(rp.clone(), route.destination_vault.clone())) {
                    Some(1) => {}
                    Some(n) => self.failures.push(format!("backup {index}: {n} copies to {}", route.destination_vault)),
                    None => {
                        lost += 1;
                        self.failures.push(format!("backup {index}: no copy to {}", route.destination_vault));
                    }
                }
            }
        }

        // Chains: retries until success or the cap, never beyond; one alert for each chain that ends failed.
        let alerts_per_root =
            self.alerts.published().iter().fold(HashMap::<CopyJobId, usize>::new(), |mut acc, alert| {
                *acc.entry(alert.original_job.clone().expect("retrier alerts name their chain")).or_default() += 1;
                acc
            });
        for (id, job) in &jobs {
            let record = self.store.record(id);
            let lineage = record.as_ref().and_then(|r| r.lineage.clone());
            if lineage.as_ref().is_some_and(|l| l.attempt > MAX_ATTEMPTS) {
                self.failures.push(format!("{id}: attempt beyond the cap"));
            }
            if record.as_ref().and_then(|r| r.state) != Some(job.state) {
                self.failures.push(format!(
                    "{id}: table says {:?}, AWS says {}",
                    record.and_then(|r| r.state),
                    job.state
                ));
                continue;
            }
            let retried_by = record.as_ref().and_then(|r| r.retried_by.clone());
            let root = lineage.map(|l| l.root).unwrap_or_else(|| id.clone());
            let attempt = self.store.record(id).and_then(|r| r.lineage).map_or(0, |l| l.attempt);
            if job.state == CopyJobState::Failed && retried_by.is_none() {
                // The end of a failed chain: it must have exactly one alert.
                let permanent = job.status_message.as_deref() == Some(PERMANENT);
                if !permanent && attempt < MAX_ATTEMPTS {
                    lost += 1;
                    self.failures.push(format!("{id}: transient failure at attempt {attempt} never retried"));
                }
                // A failure of the path is its incident's (one alert per incident, below), not the chain's.
                let expected = usize::from(!permanent);
                if alerts_per_root.get(&root).copied().unwrap_or(0) != expected {
                    self.failures
                        .push(format!("chain {root}: {:?} alerts, expected {expected}", alerts_per_root.get(&root)));
                }
                if permanent && self.store.record(id).and_then(|r| r.outcome.incident).is_none() {
                    self.failures.push(format!("{id}: a path failure not counted in its incident"));
                }
            }
            if job.state == CopyJobState::Completed && alerts_per_root.contains_key(&root) {
                self.failures.push(format!("chain {root} completed but alerted"));
            }
        }
        // Incidents: each alerted exactly once, whatever the number of failures counted in it.
        let opened = self
            .alerts
            .incident_messages()
            .iter()
            .filter(|message| matches!(message, vaultwatch::domain::IncidentMessage::Opened(_)))
            .count();
        let incidents = self.store.incidents();
        if opened != incidents.len() || incidents.iter().any(|incident| !incident.alerted) {
            self.failures.push(format!("{opened} incident alerts for {} incidents", incidents.len()));
        }
        self.figures.retries = started.iter().filter(|r| r.token.as_str().starts_with("retry-")).count();
        self.figures.lost = lost;
    }
}
