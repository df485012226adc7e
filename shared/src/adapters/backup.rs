//! AWS Backup through `aws-sdk-backup`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_backup::operation::describe_backup_job::DescribeBackupJobOutput;
use aws_sdk_backup::types;
use aws_sdk_backup::Client;

use super::error::{classify, malformed};
use crate::domain::VaultNotifications;
use crate::domain::{
    BackupJob, BackupJobId, BackupJobState, BackupPlanId, BackupPlanVersion, BackupRuleId, BackupVaultArn, Composite,
    CopyJob, CopyJobId, CopyJobState, DeleteAfterEvent, Destination, DomainError, IamRoleArn, KmsKeyArn, Lifecycle,
    PlanRuleRef, RecoveryPoint, RecoveryPointArn, ResourceArn, ResourceType, StorageClass, VaultLockState, VaultName,
    VaultType,
};
use chrono::{DateTime, Utc};

use crate::domain::{
    AccountId, KeyFacts, KeyGrant, KeyManager, KeyState, OrganizationFacts, SimulatedDecision, Simulation, VaultFacts,
};
use crate::ports::{
    AwsError, BackupApi, BackupJobQuery, CopyJobQuery, Page, PathFactsApi, PlanCopyAction, RoleSimulationRequest,
    StartCopyRequest, Unreadable, VaultNotificationsApi,
};

/// What vaultwatch reads of one plan version: its rules' copy actions (rule id, destination,
/// lifecycle) and the ids of its rules that make continuous backups.
#[derive(Default)]
struct PlanVersion {
    copy_actions: Vec<(String, String, Option<Lifecycle>)>,
    continuous_rules: Vec<String>,
}

type CachedPlan = Arc<PlanVersion>;

pub struct SdkBackup {
    client: Client,
    /// Plan versions are immutable, so their copy actions are cached for the life of the
    /// execution environment: a burst of failures costs one GetBackupPlan per plan version.
    plans: Mutex<HashMap<(String, String), CachedPlan>>,
}

impl SdkBackup {
    /// AWS Backup of another region than the configuration's (the organization view reads each region).
    pub fn in_region(sdk: &aws_config::SdkConfig, region: &str) -> Self {
        Self::new(&sdk.to_builder().region(aws_config::Region::new(region.to_owned())).build())
    }

    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: Client::new(sdk), plans: Mutex::new(HashMap::new()) }
    }

    async fn plan_version(&self, rule: &PlanRuleRef) -> Result<CachedPlan, AwsError> {
        let key = (rule.plan_id.to_string(), rule.plan_version.to_string());
        if let Some(cached) = self.plans.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(cached.clone());
        }
        let output = self
            .client
            .get_backup_plan()
            .backup_plan_id(rule.plan_id.as_str())
            .version_id(rule.plan_version.as_str())
            .send()
            .await
            .map_err(|err| classify("backup", "GetBackupPlan", err))?;
        let rules = output.backup_plan().map(|plan| plan.rules()).unwrap_or_default();
        let continuous_rules = rules
            .iter()
            .filter(|rule| rule.enable_continuous_backup() == Some(true))
            .filter_map(|rule| rule.rule_id().map(str::to_owned))
            .collect();
        let copy_actions = rules
            .iter()
            .flat_map(|rule| {
                let rule_id = rule.rule_id().unwrap_or_default().to_owned();
                rule.copy_actions().iter().map(move |action| {
                    (
                        rule_id.clone(),
                        action.destination_backup_vault_arn().to_owned(),
                        action.lifecycle().map(lifecycle_from_sdk),
                    )
                })
            })
            .collect();
        let plan = Arc::new(PlanVersion { copy_actions, continuous_rules });
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).insert(key, plan.clone());
        Ok(plan)
    }

    /// The plan version, or `None` when it was deleted (nothing left to learn from it).
    async fn plan_if_any(&self, rule: &PlanRuleRef) -> Result<Option<CachedPlan>, AwsError> {
        match self.plan_version(rule).await {
            Ok(plan) => Ok(Some(plan)),
            Err(err) if err.is_code("ResourceNotFoundException") => {
                tracing::warn!(plan = %rule.plan_id, "backup plan not found");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}

fn lifecycle_from_sdk(lifecycle: &types::Lifecycle) -> Lifecycle {
    Lifecycle {
        move_to_cold_storage_after_days: lifecycle.move_to_cold_storage_after_days(),
        delete_after_days: lifecycle.delete_after_days(),
        opt_in_to_archive_for_supported_resources: lifecycle.opt_in_to_archive_for_supported_resources(),
        delete_after_event: lifecycle.delete_after_event().and_then(|event| DeleteAfterEvent::parse(event.as_str())),
    }
}

/// StartCopyJob's Lifecycle: `DeleteAfterEvent` is output only ("Not valid as an input").
fn lifecycle_to_sdk(lifecycle: &Lifecycle) -> types::Lifecycle {
    let lifecycle = lifecycle.as_input();
    types::Lifecycle::builder()
        .set_move_to_cold_storage_after_days(lifecycle.move_to_cold_storage_after_days)
        .set_delete_after_days(lifecycle.delete_after_days)
        .set_opt_in_to_archive_for_supported_resources(lifecycle.opt_in_to_archive_for_supported_resources)
        .build()
}

/// Reads an operation's response members into domain types; its errors name the operation and the
/// member that is missing or wrong.
struct ResponseReader {
    operation: &'static str,
}

impl ResponseReader {
    fn required<T>(
        &self,
        name: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, DomainError>,
    ) -> Result<T, AwsError> {
        let value = value.ok_or_else(|| malformed("backup", self.operation, format_args!("lacks {name}")))?;
        parse(value).map_err(|err| malformed("backup", self.operation, format_args!("member {name}: {err}")))
    }

    fn optional<T>(
        &self,
        name: &str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T, DomainError>,
    ) -> Result<Option<T>, AwsError> {
        value.filter(|v| !v.is_empty()).map(|_| self.required(name, value, parse)).transpose()
    }
}

fn plan_rule(created_by: Option<&types::RecoveryPointCreator>) -> Option<PlanRuleRef> {
    let created_by = created_by?;
    Some(PlanRuleRef {
        plan_id: BackupPlanId::parse(created_by.backup_plan_id()?).ok()?,
        plan_version: BackupPlanVersion::parse(created_by.backup_plan_version()?).ok()?,
        rule_id: BackupRuleId::parse(created_by.backup_rule_id()?).ok()?,
    })
}

fn copy_job_from_sdk(op: &'static str, job: &types::CopyJob) -> Result<CopyJob, AwsError> {
    let response = ResponseReader { operation: op };
    Ok(CopyJob {
        id: response.required("CopyJobId", job.copy_job_id(), CopyJobId::parse)?,
        state: response.required("State", job.state().map(|s| s.as_str()), CopyJobState::parse)?,
        status_message: job.status_message().map(str::to_owned),
        source_recovery_point: response.required(
            "SourceRecoveryPointArn",
            job.source_recovery_point_arn(),
            RecoveryPointArn::parse,
        )?,
        source_vault: response.required(
            "SourceBackupVaultArn",
            job.source_backup_vault_arn(),
            BackupVaultArn::parse,
        )?,
        destination_vault: response.required(
            "DestinationBackupVaultArn",
            job.destination_backup_vault_arn(),
            BackupVaultArn::parse,
        )?,
        destination_recovery_point: response.optional(
            "DestinationRecoveryPointArn",
            job.destination_recovery_point_arn(),
            RecoveryPointArn::parse,
        )?,
        destination_lifecycle: job.destination_recovery_point_lifecycle().map(lifecycle_from_sdk),
        resource: response.optional("ResourceArn", job.resource_arn(), ResourceArn::parse)?,
        resource_type: job.resource_type().map(ResourceType::parse),
        iam_role: response.optional("IamRoleArn", job.iam_role_arn(), IamRoleArn::parse)?,
        completed_at: job.completion_date().and_then(chrono_time),
        created_by: plan_rule(job.created_by()),
        message_category: job.message_category().filter(|c| !c.is_empty()).map(str::to_owned),
        composite: match response.optional("ParentJobId", job.parent_job_id(), CopyJobId::parse)? {
            Some(parent) => Composite::Child { parent },
            None if job.is_parent() => {
                Composite::Parent { children: job.number_of_child_jobs().and_then(|n| u32::try_from(n).ok()) }
            }
            None => Composite::Single,
        },
        // An id that does not parse is treated as absent: it only narrows what the retrier asks.
        initiated_by: job.created_by_backup_job_id().and_then(|id| BackupJobId::parse(id).ok()),
        destination: Destination {
            vault_type: job.destination_vault_type().filter(|t| !t.is_empty()).map(VaultType::parse),
            lock_state: job.destination_vault_lock_state().filter(|s| !s.is_empty()).map(VaultLockState::parse),
            // Shown to people, never acted on: a key ARN that does not read is left out, not fatal.
            encryption_key: job.destination_encryption_key_arn().and_then(|key| KmsKeyArn::parse(key).ok()),
        },
    })
}

/// What can be read of a listed copy job that does not read whole: its id, and the copy it
/// stands for when both ends are readable.
fn unreadable_copy_job(job: &types::CopyJob, problem: AwsError) -> Unreadable {
    let source = job.source_recovery_point_arn().and_then(|arn| RecoveryPointArn::parse(arn).ok());
    let destination = job.destination_backup_vault_arn().and_then(|arn| BackupVaultArn::parse(arn).ok());
    Unreadable {
        id: job.copy_job_id().and_then(|id| CopyJobId::parse(id).ok()).map(String::from),
        copy: source.zip(destination),
        problem: problem.message,
    }
}

/// The members of a backup job that vaultwatch reads, borrowed from either SDK type. DescribeBackupJob's output and ListBackupJobs'
/// items are different SDK types with the same members: each converts into this, read once below.
struct SdkBackupJob<'a> {
    id: Option<&'a str>,
    state: Option<&'a str>,
    recovery_point: Option<&'a str>,
    vault: Option<&'a str>,
    resource: Option<&'a str>,
    resource_type: Option<&'a str>,
    parent_job: Option<&'a str>,
    completed_at: Option<&'a aws_sdk_backup::primitives::DateTime>,
    created_by: Option<&'a types::RecoveryPointCreator>,
    lifecycle: Option<&'a types::Lifecycle>,
}

/// The same accessors on both SDK types (generated by the SDK from one model shape each).
macro_rules! sdk_backup_job_from {
    ($($sdk:ty),+) => {$(
        impl<'a> From<&'a $sdk> for SdkBackupJob<'a> {
            fn from(job: &'a $sdk) -> Self {
                Self {
                    id: job.backup_job_id(),
                    state: job.state().map(|s| s.as_str()),
                    recovery_point: job.recovery_point_arn(),
                    vault: job.backup_vault_arn(),
                    resource: job.resource_arn(),
                    resource_type: job.resource_type(),
                    parent_job: job.parent_job_id(),
                    completed_at: job.completion_date(),
                    created_by: job.created_by(),
                    lifecycle: job.recovery_point_lifecycle(),
                }
            }
        }
    )+};
}
sdk_backup_job_from!(DescribeBackupJobOutput, types::BackupJob);

impl SdkBackupJob<'_> {
    fn read(self, op: &'static str) -> Result<BackupJob, AwsError> {
        let response = ResponseReader { operation: op };
        Ok(BackupJob {
            id: response.required("BackupJobId", self.id, BackupJobId::parse)?,
            state: BackupJobState::parse(self.state.unwrap_or_default()),
            recovery_point: response.optional("RecoveryPointArn", self.recovery_point, RecoveryPointArn::parse)?,
            vault: response.required("BackupVaultArn", self.vault, BackupVaultArn::parse)?,
            resource: response.optional("ResourceArn", self.resource, ResourceArn::parse)?,
            resource_type: self.resource_type.map(ResourceType::parse),
            parent_job: response.optional("ParentJobId", self.parent_job, BackupJobId::parse)?,
            completed_at: self.completed_at.and_then(chrono_time),
            created_by: plan_rule(self.created_by),
            lifecycle: self.lifecycle.map(lifecycle_from_sdk),
        })
    }
}

fn sdk_time(at: DateTime<Utc>) -> aws_sdk_backup::primitives::DateTime {
    aws_sdk_backup::primitives::DateTime::from_millis(at.timestamp_millis())
}

fn chrono_time(at: &aws_sdk_backup::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

impl BackupApi for SdkBackup {
    async fn describe_copy_job(&self, id: &CopyJobId) -> Result<CopyJob, AwsError> {
        const OP: &str = "DescribeCopyJob";
        let output = self
            .client
            .describe_copy_job()
            .copy_job_id(id.as_str())
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))?;
        let job = output.copy_job().ok_or_else(|| malformed("backup", OP, "lacks CopyJob"))?;
        copy_job_from_sdk(OP, job)
    }

    async fn describe_backup_job(&self, id: &BackupJobId) -> Result<BackupJob, AwsError> {
        const OP: &str = "DescribeBackupJob";
        let job = self
            .client
            .describe_backup_job()
            .backup_job_id(id.as_str())
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))?;
        SdkBackupJob::from(&job).read(OP)
    }

    async fn copy_action_lifecycle(
        &self,
        rule: &PlanRuleRef,
        destination: &BackupVaultArn,
    ) -> Result<Option<Lifecycle>, AwsError> {
        // A deleted plan leaves no lifecycle to reuse; the copy goes ahead with the vault's default.
        let plan = self.plan_if_any(rule).await?;
        Ok(plan.and_then(|plan| {
            plan.copy_actions
                .iter()
                .find(|(rule_id, action_destination, _)| {
                    rule_id == rule.rule_id.as_str() && action_destination == destination.as_str()
                })
                .and_then(|(_, _, lifecycle)| *lifecycle)
        }))
    }

    async fn plan_copy_destinations(&self, rule: &PlanRuleRef) -> Result<Vec<BackupVaultArn>, AwsError> {
        let plan = self.plan_if_any(rule).await?;
        let actions = plan.iter().flat_map(|plan| plan.copy_actions.iter());
        actions
            .filter(|(rule_id, _, _)| rule_id == rule.rule_id.as_str())
            .map(|(_, destination, _)| {
                BackupVaultArn::parse(destination).map_err(|err| {
                    malformed("backup", "GetBackupPlan", format_args!("member DestinationBackupVaultArn: {err}"))
                })
            })
            .collect()
    }

    async fn makes_continuous_backups(&self, rule: &PlanRuleRef) -> Result<bool, AwsError> {
        let plan = self.plan_if_any(rule).await?;
        Ok(plan.is_some_and(|plan| plan.continuous_rules.iter().any(|id| id == rule.rule_id.as_str())))
    }

    async fn describe_recovery_point(
        &self,
        vault: &VaultName,
        recovery_point: &RecoveryPointArn,
    ) -> Result<Option<RecoveryPoint>, AwsError> {
        const OP: &str = "DescribeRecoveryPoint";
        let output = match self
            .client
            .describe_recovery_point()
            .backup_vault_name(vault.as_str())
            .recovery_point_arn(recovery_point.as_str())
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))
        {
            Ok(output) => output,
            Err(err) if err.is_code("ResourceNotFoundException") => return Ok(None),
            Err(err) => return Err(err),
        };
        let lifecycle = output.calculated_lifecycle();
        Ok(Some(RecoveryPoint {
            arn: recovery_point.clone(),
            storage_class: output.storage_class().map(|class| StorageClass::parse(class.as_str())),
            status: output.status().map(|status| status.as_str().to_owned()),
            moves_to_cold_at: lifecycle.and_then(|l| l.move_to_cold_storage_at()).and_then(chrono_time),
            deleted_at: lifecycle.and_then(|l| l.delete_at()).and_then(chrono_time),
            created_at: None,
        }))
    }

    async fn start_copy_job(&self, request: &StartCopyRequest) -> Result<CopyJobId, AwsError> {
        const OP: &str = "StartCopyJob";
        let output = self
            .client
            .start_copy_job()
            .recovery_point_arn(request.recovery_point.as_str())
            .source_backup_vault_name(request.source_vault.as_str())
            .destination_backup_vault_arn(request.destination_vault.as_str())
            .iam_role_arn(request.iam_role.as_str())
            .idempotency_token(request.token.as_str())
            .set_lifecycle(request.lifecycle.as_ref().map(lifecycle_to_sdk))
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))?;
        ResponseReader { operation: OP }.required("CopyJobId", output.copy_job_id(), CopyJobId::parse)
    }

    async fn list_copy_jobs(&self, query: &CopyJobQuery, next_token: Option<&str>) -> Result<Page<CopyJob>, AwsError> {
        const OP: &str = "ListCopyJobs";
        let output = self
            .client
            .list_copy_jobs()
            .set_by_account_id(query.account.as_ref().map(|account| account.to_string()))
            .set_by_created_after(query.created_after.map(sdk_time))
            .set_by_destination_vault_arn(query.destination_vault.as_ref().map(|v| v.to_string()))
            .set_by_state(query.state.map(|s| types::CopyJobState::from(s.as_str())))
            .set_by_source_recovery_point_arn(query.source_recovery_point.as_ref().map(|rp| rp.to_string()))
            .set_max_results(query.max_results)
            .set_next_token(next_token.map(str::to_owned))
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))?;
        let mut page = Page::of(Vec::with_capacity(output.copy_jobs().len()), output.next_token().map(str::to_owned));
        for job in output.copy_jobs() {
            match copy_job_from_sdk(OP, job) {
                Ok(job) => page.items.push(job),
                Err(problem) => page.unreadable.push(unreadable_copy_job(job, problem)),
            }
        }
        Ok(page)
    }

    async fn count_failed_copy_jobs(&self, since: DateTime<Utc>) -> Result<BTreeMap<String, u64>, AwsError> {
        const OP: &str = "ListCopyJobSummaries";
        let mut counts = BTreeMap::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_copy_job_summaries()
                .account_id("ANY")
                .state(types::CopyJobStatus::Failed)
                .aggregation_period(types::AggregationPeriod::OneDay)
                .max_results(500)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify("backup", OP, err))?;
            for summary in output.copy_job_summaries() {
                // A day's bucket counts when it ends after `since` (it holds some of the window).
                let in_window = summary.end_time().and_then(chrono_time).is_none_or(|end| end > since);
                if let (Some(account), true) = (summary.account_id(), in_window) {
                    *counts.entry(account.to_owned()).or_default() += summary.count().max(0) as u64;
                }
            }
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(counts);
            }
        }
    }

    async fn list_completed_backups(
        &self,
        query: &BackupJobQuery,
        next_token: Option<&str>,
    ) -> Result<Page<BackupJob>, AwsError> {
        const OP: &str = "ListBackupJobs";
        let output = self
            .client
            .list_backup_jobs()
            .set_by_backup_vault_name(query.vault.as_ref().map(|vault| vault.as_str().to_owned()))
            .set_by_account_id(query.accounts.by_account_id())
            .by_state(types::BackupJobState::Completed)
            .by_created_after(sdk_time(query.since))
            .max_results(1000)
            .set_next_token(next_token.map(str::to_owned))
            .send()
            .await
            .map_err(|err| classify("backup", OP, err))?;
        let mut page = Page::of(Vec::with_capacity(output.backup_jobs().len()), output.next_token().map(str::to_owned));
        for job in output.backup_jobs() {
            match SdkBackupJob::from(job).read(OP) {
                Ok(job) => page.items.push(job),
                Err(problem) => page.unreadable.push(Unreadable {
                    id: job.backup_job_id().and_then(|id| BackupJobId::parse(id).ok()).map(String::from),
                    copy: None,
                    problem: problem.message,
                }),
            }
        }
        Ok(page)
    }
}

impl VaultNotificationsApi for SdkBackup {
    async fn vault_exists(&self, vault: &VaultName) -> Result<bool, AwsError> {
        match self.client.describe_backup_vault().backup_vault_name(vault.as_str()).send().await {
            Ok(_) => Ok(true),
            Err(err) => {
                let err = classify("backup", "DescribeBackupVault", err);
                if err.is_code("ResourceNotFoundException") {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn get_notifications(&self, vault: &VaultName) -> Result<Option<VaultNotifications>, AwsError> {
        match self.client.get_backup_vault_notifications().backup_vault_name(vault.as_str()).send().await {
            Ok(output) => Ok(output.sns_topic_arn().map(|topic| VaultNotifications {
                topic: topic.to_owned(),
                events: output.backup_vault_events().iter().map(|e| e.as_str().to_owned()).collect(),
            })),
            Err(err) => {
                let err = classify("backup", "GetBackupVaultNotifications", err);
                // The vault exists (checked first): not found means no configuration yet.
                if err.is_code("ResourceNotFoundException") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn put_notifications(&self, vault: &VaultName, notifications: &VaultNotifications) -> Result<(), AwsError> {
        self.client
            .put_backup_vault_notifications()
            .backup_vault_name(vault.as_str())
            .sns_topic_arn(&notifications.topic)
            .set_backup_vault_events(Some(
                notifications.events.iter().map(|e| types::BackupVaultEvent::from(e.as_str())).collect(),
            ))
            .send()
            .await
            .map_err(|err| classify("backup", "PutBackupVaultNotifications", err))?;
        Ok(())
    }
}

/// The path check's reads: AWS Backup and KMS in each vault's (key's) region, STS for the caller's
/// account, IAM's policy simulator and Organizations (global services: the configured region's
/// clients reach their endpoints).
pub struct SdkPathFacts {
    sdk: aws_config::SdkConfig,
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    organizations: aws_sdk_organizations::Client,
    /// One AWS Backup client per region asked about.
    clients: Mutex<HashMap<String, Client>>,
    /// One KMS client per region asked about.
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
}

impl SdkPathFacts {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            sts: aws_sdk_sts::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            organizations: aws_sdk_organizations::Client::new(sdk),
            clients: Mutex::new(HashMap::new()),
            kms: Mutex::new(HashMap::new()),
        }
    }

    fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let mut clients = self.kms.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                aws_sdk_kms::Client::new(
                    &self.sdk.to_builder().region(aws_config::Region::new(region.to_owned())).build(),
                )
            })
            .clone()
    }

    fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                Client::new(&self.sdk.to_builder().region(aws_config::Region::new(region.to_owned())).build())
            })
            .clone()
    }

    /// The configured region's client (DescribeGlobalSettings).
    fn home(&self) -> Client {
        self.client(&self.sdk.region().map(ToString::to_string).unwrap_or_default())
    }
}

/// A lookup that AWS answers ResourceNotFoundException for: `None`.
fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_code("ResourceNotFoundException") => Ok(None),
        Err(err) => Err(err),
    }
}

impl SdkPathFacts {
    /// The distinct roles of a plan's backup selections (ListBackupSelections, every page); none
    /// for a plan deleted since it was read.
    async fn selection_roles(&self, client: &Client, plan_id: &str) -> Result<Vec<IamRoleArn>, AwsError> {
        const OP: &str = "ListBackupSelections";
        let mut roles: Vec<IamRoleArn> = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = found(
                client
                    .list_backup_selections()
                    .backup_plan_id(plan_id)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|err| classify("backup", OP, err)),
            )?;
            let Some(output) = output else { return Ok(Vec::new()) };
            for selection in output.backup_selections_list() {
                let Some(raw) = selection.iam_role_arn() else { continue };
                let role = IamRoleArn::parse(raw)
                    .map_err(|err| malformed("backup", OP, format_args!("member IamRoleArn: {err}")))?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(roles);
            }
        }
    }
}

impl PathFactsApi for SdkPathFacts {
    async fn caller_account(&self) -> Result<AccountId, AwsError> {
        const OP: &str = "GetCallerIdentity";
        let output = self.sts.get_caller_identity().send().await.map_err(|err| classify("sts", OP, err))?;
        let account = output.account().ok_or_else(|| malformed("sts", OP, "lacks Account"))?;
        AccountId::parse(account).map_err(|err| malformed("sts", OP, format_args!("member Account: {err}")))
    }

    async fn describe_backup_vault(&self, vault: &BackupVaultArn) -> Result<Option<VaultFacts>, AwsError> {
        const OP: &str = "DescribeBackupVault";
        let output = found(
            self.client(vault.region())
                .describe_backup_vault()
                .backup_vault_name(vault.vault_name().as_str())
                .send()
                .await
                .map_err(|err| classify("backup", OP, err)),
        )?;
        let Some(output) = output else { return Ok(None) };
        let response = ResponseReader { operation: OP };
        Ok(Some(VaultFacts {
            arn: response
                .optional("BackupVaultArn", output.backup_vault_arn(), BackupVaultArn::parse)?
                .unwrap_or_else(|| vault.clone()),
            vault_type: output.vault_type().map(|t| VaultType::parse(t.as_str())),
            locked: output.locked().unwrap_or(false),
            min_retention_days: output.min_retention_days(),
            max_retention_days: output.max_retention_days(),
            encryption_key: response.optional("EncryptionKeyArn", output.encryption_key_arn(), KmsKeyArn::parse)?,
        }))
    }

    async fn get_backup_vault_access_policy(&self, vault: &BackupVaultArn) -> Result<Option<String>, AwsError> {
        const OP: &str = "GetBackupVaultAccessPolicy";
        let output = found(
            self.client(vault.region())
                .get_backup_vault_access_policy()
                .backup_vault_name(vault.vault_name().as_str())
                .send()
                .await
                .map_err(|err| classify("backup", OP, err)),
        )?;
        Ok(output.and_then(|output| output.policy().map(str::to_owned)))
    }

    async fn describe_global_settings(&self) -> Result<Option<bool>, AwsError> {
        const OP: &str = "DescribeGlobalSettings";
        let output = self.home().describe_global_settings().send().await.map_err(|err| classify("backup", OP, err))?;
        let setting = output.global_settings().and_then(|settings| settings.get("isCrossAccountBackupEnabled"));
        Ok(setting.and_then(|value| match value.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }))
    }

    async fn list_plan_copy_actions(&self, region: &str) -> Result<Vec<PlanCopyAction>, AwsError> {
        let client = self.client(region);
        let mut plan_ids = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = client
                .list_backup_plans()
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify("backup", "ListBackupPlans", err))?;
            plan_ids
                .extend(output.backup_plans_list().iter().filter_map(|plan| plan.backup_plan_id().map(str::to_owned)));
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
        let mut actions = Vec::new();
        for plan_id in plan_ids {
            const OP: &str = "GetBackupPlan";
            let output = found(
                client
                    .get_backup_plan()
                    .backup_plan_id(&plan_id)
                    .send()
                    .await
                    .map_err(|err| classify("backup", OP, err)),
            )?;
            // Deleted between the listing and now: nothing to check.
            let Some(plan) = output.as_ref().and_then(|output| output.backup_plan()) else { continue };
            let copies = plan.rules().iter().any(|rule| !rule.copy_actions().is_empty());
            let roles = if copies { self.selection_roles(&client, &plan_id).await? } else { Vec::new() };
            for rule in plan.rules() {
                let source_vault = VaultName::parse(rule.target_backup_vault_name())
                    .map_err(|err| malformed("backup", OP, format_args!("member TargetBackupVaultName: {err}")))?;
                for action in rule.copy_actions() {
                    actions.push(PlanCopyAction {
                        plan: plan.backup_plan_name().to_owned(),
                        rule: rule.rule_name().to_owned(),
                        source_vault: source_vault.clone(),
                        destination: BackupVaultArn::parse(action.destination_backup_vault_arn()).map_err(|err| {
                            malformed("backup", OP, format_args!("member DestinationBackupVaultArn: {err}"))
                        })?,
                        lifecycle: action.lifecycle().map(lifecycle_from_sdk),
                        rule_lifecycle: rule.lifecycle().map(lifecycle_from_sdk),
                        roles: roles.clone(),
                    });
                }
            }
        }
        Ok(actions)
    }

    async fn describe_key(&self, key: &KmsKeyArn) -> Result<Option<KeyFacts>, AwsError> {
        const OP: &str = "DescribeKey";
        let output = match self.kms(key.region()).describe_key().key_id(key.as_str()).send().await {
            Ok(output) => output,
            Err(err) => {
                let err = classify("kms", OP, err);
                return if err.is_code("NotFoundException") { Ok(None) } else { Err(err) };
            }
        };
        let metadata = output.key_metadata().ok_or_else(|| malformed("kms", OP, "lacks KeyMetadata"))?;
        let state = metadata.key_state().ok_or_else(|| malformed("kms", OP, "lacks KeyMetadata.KeyState"))?;
        Ok(Some(KeyFacts {
            arn: match metadata.arn() {
                Some(arn) => KmsKeyArn::parse(arn)
                    .map_err(|err| malformed("kms", OP, format_args!("member KeyMetadata.Arn: {err}")))?,
                None => key.clone(),
            },
            state: KeyState::parse(state.as_str()),
            manager: match metadata.key_manager() {
                Some(aws_sdk_kms::types::KeyManagerType::Aws) => KeyManager::Aws,
                _ => KeyManager::Customer,
            },
        }))
    }

    async fn get_key_policy(&self, key: &KmsKeyArn) -> Result<String, AwsError> {
        const OP: &str = "GetKeyPolicy";
        let output = self
            .kms(key.region())
            .get_key_policy()
            .key_id(key.as_str())
            .policy_name("default")
            .send()
            .await
            .map_err(|err| classify("kms", OP, err))?;
        output.policy().map(str::to_owned).ok_or_else(|| malformed("kms", OP, "lacks Policy"))
    }

    async fn list_grants(&self, key: &KmsKeyArn) -> Result<Vec<KeyGrant>, AwsError> {
        const OP: &str = "ListGrants";
        let mut grants = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = self
                .kms(key.region())
                .list_grants()
                .key_id(key.as_str())
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|err| classify("kms", OP, err))?;
            grants.extend(output.grants().iter().map(|grant| KeyGrant {
                grantee: grant.grantee_principal().unwrap_or_default().to_owned(),
                operations: grant.operations().iter().map(|op| op.as_str().to_owned()).collect(),
            }));
            marker = output.next_marker().map(str::to_owned).filter(|_| output.truncated());
            if marker.is_none() {
                return Ok(grants);
            }
        }
    }

    async fn simulate_role(&self, request: &RoleSimulationRequest) -> Result<Option<Vec<Simulation>>, AwsError> {
        const OP: &str = "SimulatePrincipalPolicy";
        let mut simulations = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = match self
                .iam
                .simulate_principal_policy()
                .policy_source_arn(request.role.as_str())
                .set_action_names(Some(request.actions.clone()))
                .resource_arns(request.resource.as_str())
                .set_resource_policy(request.resource_policy.clone())
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(output) => output,
                Err(err) => {
                    let err = classify("iam", OP, err);
                    return if err.is_code("NoSuchEntity") { Ok(None) } else { Err(err) };
                }
            };
            for result in output.evaluation_results() {
                use aws_sdk_iam::types::PolicyEvaluationDecisionType as Decision;
                simulations.push(Simulation {
                    action: result.eval_action_name().to_owned(),
                    resource: result.eval_resource_name().unwrap_or(request.resource.as_str()).to_owned(),
                    decision: match result.eval_decision() {
                        Decision::Allowed => SimulatedDecision::Allowed,
                        Decision::ExplicitDeny => SimulatedDecision::ExplicitDeny,
                        // implicitDeny, or a decision this SDK does not know: not allowed.
                        _ => SimulatedDecision::ImplicitDeny,
                    },
                    matched: result
                        .matched_statements()
                        .iter()
                        .filter_map(|statement| statement.source_policy_id().map(str::to_owned))
                        .collect(),
                    missing_context: result.missing_context_values().to_vec(),
                });
            }
            marker = output.marker().filter(|_| output.is_truncated()).map(str::to_owned);
            if marker.is_none() {
                return Ok(Some(simulations));
            }
        }
    }

    async fn describe_organization(&self) -> Result<Option<OrganizationFacts>, AwsError> {
        const OP: &str = "DescribeOrganization";
        let output = match self.organizations.describe_organization().send().await {
            Ok(output) => output,
            Err(err) => {
                let err = classify("organizations", OP, err);
                return if err.is_code("AWSOrganizationsNotInUseException") { Ok(None) } else { Err(err) };
            }
        };
        let organization = output.organization().ok_or_else(|| malformed("organizations", OP, "lacks Organization"))?;
        let id = organization.id().ok_or_else(|| malformed("organizations", OP, "lacks Organization.Id"))?;
        let management = organization
            .master_account_id()
            .ok_or_else(|| malformed("organizations", OP, "lacks Organization.MasterAccountId"))?;
        Ok(Some(OrganizationFacts {
            id: id.to_owned(),
            management: AccountId::parse(management)
                .map_err(|err| malformed("organizations", OP, format_args!("member MasterAccountId: {err}")))?,
        }))
    }

    async fn list_organization_accounts(&self) -> Result<Vec<AccountId>, AwsError> {
        const OP: &str = "ListAccounts";
        let mut accounts = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .organizations
                .list_accounts()
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| classify("organizations", OP, err))?;
            for account in output.accounts() {
                let id = account.id().ok_or_else(|| malformed("organizations", OP, "an account lacks Id"))?;
                accounts.push(
                    AccountId::parse(id)
                        .map_err(|err| malformed("organizations", OP, format_args!("member Id: {err}")))?,
                );
            }
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(accounts);
            }
        }
    }
}
