//! The tracking table through `aws-sdk-dynamodb`.
//!
//! One table, partition key `pk` (string):
//! - `copy#<CopyJobId>`: a copy job's state, timestamps, details, lineage, claims and outcome.
//! - `reconciler#cursor`: where an unfinished reconciliation sweep stopped.
//!
//! The copies of a recovery point are found through the table's `by-recovery-point` index (on the
//! records' `source_recovery_point_arn`), not kept in a second item that every event would write.
//!
//! Every write is a single UpdateItem, most of them conditional: state moves only forward, claims
//! are taken only when free (or abandoned past their lease), details are never overwritten.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};

use super::error::classify;
use crate::domain::{
    BackupVaultArn, Claim, ClaimKind, CopyDetails, CopyJobId, CopyJobRecord, CopyJobState, IdempotencyToken, Lifecycle,
    Lineage, RecoveryPointArn, Refusal, ResourceArn, StartedCopy, StateChange, StateUpdate, SweepCursor, SweepResume,
    VerifiedSweep,
};
use crate::ports::{AwsError, ErrorClass, TrackingStore};

const CLAIM_PENDING: &str = "pending";
const CLAIM_DONE: &str = "done";
/// The item that remembers where an unfinished reconciliation sweep stopped.
const CURSOR_KEY: &str = "reconciler#cursor";

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(sdk: &aws_config::SdkConfig, table: String) -> Self {
        Self { client: Client::new(sdk), table }
    }

    fn copy_key(id: &CopyJobId) -> AttributeValue {
        AttributeValue::S(format!("copy#{id}"))
    }

    /// Runs an update. When its condition does not hold, the item as it stands comes back in the
    /// same response (ReturnValuesOnConditionCheckFailure), so no second read is needed.
    async fn update(
        &self,
        operation: &'static str,
        key: AttributeValue,
        update: Update,
        return_new: bool,
    ) -> Result<Updated, AwsError> {
        let (expression, condition, names, values) = update.build();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key)
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(if return_new { ReturnValue::AllNew } else { ReturnValue::None })
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Updated::Applied(output.attributes.unwrap_or_default())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Updated::ConditionFailed(failed.item.clone().unwrap_or_default()))
                }
                _ => Err(classify("dynamodb", operation, err)),
            },
        }
    }

    /// The items with these keys (absent ones left out). BatchGetItem takes at most 100 keys and
    /// may hand some back unprocessed under load.
    async fn batch_get(&self, keys: Vec<AttributeValue>) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let keys: Vec<_> = chunk.iter().map(|key| HashMap::from([("pk".to_owned(), key.clone())])).collect();
            let mut request =
                Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(
                    |err| AwsError {
                        service: "dynamodb",
                        operation: "BatchGetItem",
                        class: ErrorClass::Permanent,
                        code: None,
                        message: err.to_string(),
                    },
                )?);
            for _ in 0..5 {
                let Some(keys) = request.take() else { break };
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|err| classify("dynamodb", "BatchGetItem", err))?;
                items.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
                request = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            }
            if request.is_some() {
                return Err(AwsError {
                    service: "dynamodb",
                    operation: "BatchGetItem",
                    class: ErrorClass::Transient,
                    code: Some("UnprocessedKeys".into()),
                    message: "keys still unprocessed after 5 tries".into(),
                });
            }
        }
        Ok(items)
    }

    fn refusal_key(token: &IdempotencyToken) -> AttributeValue {
        AttributeValue::S(format!("refusal#{}", token.as_str()))
    }

    async fn get_item(&self, id: &CopyJobId) -> Result<Option<HashMap<String, AttributeValue>>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::copy_key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("dynamodb", "GetItem", err))?;
        Ok(output.item)
    }
}

/// The outcome of a conditional update, with the item it left (or found).
enum Updated {
    Applied(HashMap<String, AttributeValue>),
    ConditionFailed(HashMap<String, AttributeValue>),
}

fn timestamp(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn string(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

/// Builds an UpdateItem expression with placeholders for every name and value.
#[derive(Default)]
struct Update {
    sets: Vec<String>,
    removes: Vec<String>,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Update {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(mut self, attribute: &str, value: AttributeValue) -> Self {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets.push(format!("{name} = {value}"));
        self
    }

    /// Sets the attribute only if the item does not have it yet.
    fn set_if_absent(mut self, attribute: &str, value: AttributeValue) -> Self {
        let (name, value) = (self.name(attribute), self.value(value));
        self.sets.push(format!("{name} = if_not_exists({name}, {value})"));
        self
    }

    fn set_opt(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set(attribute, value),
            None => self,
        }
    }

    fn set_if_absent_opt(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set_if_absent(attribute, value),
            None => self,
        }
    }

    fn remove(mut self, attribute: &str) -> Self {
        let name = self.name(attribute);
        self.removes.push(name);
        self
    }

    /// `condition` with `{name}` for attribute names and `{0}`, `{1}`... for `values`.
    fn condition(mut self, condition: &str, attributes: &[&str], values: Vec<AttributeValue>) -> Self {
        let mut text = condition.to_owned();
        for attribute in attributes {
            let placeholder = self.name(attribute);
            text = text.replace(&format!("{{{attribute}}}"), &placeholder);
        }
        for (index, value) in values.into_iter().enumerate() {
            let placeholder = self.value(value);
            text = text.replace(&format!("{{{index}}}"), &placeholder);
        }
        self.condition = Some(text);
        self
    }

    fn with_details(self, details: &CopyDetails) -> Self {
        self.set_if_absent_opt(
            "source_recovery_point_arn",
            details.source_recovery_point.as_ref().map(|a| string(a.as_str())),
        )
        .set_if_absent_opt("source_vault_arn", details.source_vault.as_ref().map(|a| string(a.as_str())))
        .set_if_absent_opt("destination_vault_arn", details.destination_vault.as_ref().map(|a| string(a.as_str())))
        .set_if_absent_opt(
            "destination_recovery_point_arn",
            details.destination_recovery_point.as_ref().map(|a| string(a.as_str())),
        )
        .set_if_absent_opt("resource_arn", details.resource.as_ref().map(|a| string(a.as_str())))
        .set_if_absent_opt("resource_type", details.resource_type.clone().map(string))
        .set_if_absent_opt("parent_job_id", details.parent_job.as_ref().map(|id| string(id.as_str())))
        .set_if_absent_opt("child_jobs", details.child_jobs.map(number))
    }

    fn for_copy_job(self, id: &CopyJobId) -> Self {
        self.set_if_absent("item_type", string("copy_job"))
            .set_if_absent("copy_job_id", string(id.as_str()))
            .set("updated_at", timestamp(Utc::now()))
    }

    fn build(self) -> (String, Option<String>, HashMap<String, String>, HashMap<String, AttributeValue>) {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        (clauses.join(" "), self.condition, self.names, self.values)
    }
}

/// Reads a stored item back into a record; attributes that do not parse are treated as absent.
fn record_from_item(item: &HashMap<String, AttributeValue>) -> CopyJobRecord {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let n = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u32>().ok());
    let lineage = s("root_job_id").and_then(|root| CopyJobId::parse(root).ok()).map(|root| Lineage {
        root,
        attempt: n("attempt").unwrap_or(0),
        retry_of: s("retry_of").and_then(|id| CopyJobId::parse(id).ok()),
    });
    CopyJobRecord {
        id: s("copy_job_id").and_then(|id| CopyJobId::parse(id).ok()),
        state: s("state").and_then(|state| CopyJobState::parse(state).ok()),
        status_message: s("status_message").map(str::to_owned),
        details: CopyDetails {
            source_recovery_point: s("source_recovery_point_arn").and_then(|a| RecoveryPointArn::parse(a).ok()),
            source_vault: s("source_vault_arn").and_then(|a| BackupVaultArn::parse(a).ok()),
            destination_vault: s("destination_vault_arn").and_then(|a| BackupVaultArn::parse(a).ok()),
            destination_recovery_point: s("destination_recovery_point_arn")
                .and_then(|a| RecoveryPointArn::parse(a).ok()),
            resource: s("resource_arn").and_then(|a| ResourceArn::parse(a).ok()),
            resource_type: s("resource_type").map(str::to_owned),
            parent_job: s("parent_job_id").and_then(|id| CopyJobId::parse(id).ok()),
            child_jobs: n("child_jobs"),
        },
        lineage,
        lifecycle: s("lifecycle").and_then(|json| serde_json::from_str::<Lifecycle>(json).ok()),
        retried_by: s("retried_by").and_then(|id| CopyJobId::parse(id).ok()),
        outcome: s("outcome").map(str::to_owned),
        failure_handled: s(ClaimKind::FailureHandling.attribute()) == Some(CLAIM_DONE),
    }
}

impl TrackingStore for DynamoStore {
    async fn apply_state(&self, update: &StateUpdate) -> Result<StateChange, AwsError> {
        let rank = update.state.rank();
        let state_at = format!("{}_at", update.state.as_str().to_ascii_lowercase());
        let write = Update::default()
            .for_copy_job(&update.id)
            .set("state", string(update.state.as_str()))
            .set("state_rank", number(rank))
            .set(&state_at, timestamp(update.at))
            .set_opt("status_message", update.status_message.clone().map(string))
            .with_details(&update.details)
            .condition("attribute_not_exists({state_rank}) OR {state_rank} < {0}", &["state_rank"], vec![number(rank)]);
        Ok(match self.update("UpdateItem", Self::copy_key(&update.id), write, true).await? {
            Updated::Applied(item) => StateChange::Applied(record_from_item(&item)),
            Updated::ConditionFailed(item) => StateChange::Stale(record_from_item(&item)),
        })
    }

    async fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> Result<(), AwsError> {
        let write = Update::default().for_copy_job(id).with_details(details);
        self.update("UpdateItem", Self::copy_key(id), write, false).await?;
        Ok(())
    }

    async fn record_started(&self, copy: &StartedCopy) -> Result<(), AwsError> {
        let lifecycle = copy.lifecycle.map(|l| string(serde_json::to_string(&l).expect("lifecycle serialises")));
        let write = Update::default()
            .for_copy_job(&copy.id)
            .with_details(&copy.details)
            .set("root_job_id", string(copy.lineage.root.as_str()))
            .set("attempt", number(copy.lineage.attempt))
            .set_opt("retry_of", copy.lineage.retry_of.as_ref().map(|id| string(id.as_str())))
            .set_if_absent_opt("lifecycle", lifecycle)
            .set_if_absent("requested_at", timestamp(copy.at))
            // The tracker may have seen the job already; never move its state back.
            .set_if_absent("state", string(CopyJobState::Created.as_str()))
            .set_if_absent("state_rank", number(CopyJobState::Created.rank()));
        self.update("UpdateItem", Self::copy_key(&copy.id), write, false).await?;
        Ok(())
    }

    async fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> Result<(), AwsError> {
        let write = Update::default().for_copy_job(failed).set("retried_by", string(retry.as_str()));
        self.update("UpdateItem", Self::copy_key(failed), write, false).await?;
        Ok(())
    }

    async fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, AwsError> {
        let claim = kind.attribute();
        let claim_at = format!("{claim}_at");
        let cutoff = now.timestamp() - i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
        let write = Update::default()
            .for_copy_job(id)
            .set(claim, string(CLAIM_PENDING))
            .set(&claim_at, number(now.timestamp()))
            .condition(
                &format!("attribute_not_exists({{{claim}}}) OR ({{{claim}}} = {{0}} AND {{{claim_at}}} < {{1}})"),
                &[claim, &claim_at],
                vec![string(CLAIM_PENDING), number(cutoff)],
            );
        Ok(match self.update("UpdateItem", Self::copy_key(id), write, true).await? {
            Updated::Applied(item) => Claim::Acquired(Box::new(record_from_item(&item))),
            Updated::ConditionFailed(item) => {
                let done = item.get(claim).and_then(|v| v.as_s().ok()).is_some_and(|s| s == CLAIM_DONE);
                if done {
                    Claim::AlreadyDone
                } else {
                    Claim::InProgress
                }
            }
        })
    }

    async fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        outcome: &str,
        details: Option<&CopyDetails>,
    ) -> Result<(), AwsError> {
        let mut write = Update::default()
            .for_copy_job(id)
            .set(kind.attribute(), string(CLAIM_DONE))
            .set("outcome", string(outcome));
        if let Some(details) = details {
            write = write.with_details(details);
        }
        self.update("UpdateItem", Self::copy_key(id), write, false).await?;
        Ok(())
    }

    async fn release_claim(&self, id: &CopyJobId, kind: ClaimKind) -> Result<(), AwsError> {
        let claim = kind.attribute();
        let write = Update::default()
            .remove(claim)
            .remove(&format!("{claim}_at"))
            // Only a pending claim is given back; a finished one stays finished.
            .condition(&format!("{{{claim}}} = {{0}}"), &[claim], vec![string(CLAIM_PENDING)]);
        self.update("UpdateItem", Self::copy_key(id), write, false).await?;
        Ok(())
    }

    async fn get(&self, id: &CopyJobId) -> Result<Option<CopyJobRecord>, AwsError> {
        Ok(self.get_item(id).await?.as_ref().map(record_from_item))
    }

    async fn get_many(&self, ids: &[CopyJobId]) -> Result<HashMap<CopyJobId, CopyJobRecord>, AwsError> {
        let items = self.batch_get(ids.iter().map(Self::copy_key).collect()).await?;
        Ok(items.iter().map(record_from_item).filter_map(|record| Some((record.id.clone()?, record))).collect())
    }

    async fn load_cursor(&self) -> Result<SweepCursor, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", string(CURSOR_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("dynamodb", "GetItem", err))?;
        let Some(item) = output.item else { return Ok(SweepCursor::default()) };
        let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let at = |name: &str| {
            s(name).and_then(|raw| DateTime::parse_from_rfc3339(raw).ok()).map(|at| at.with_timezone(&Utc))
        };
        Ok(SweepCursor {
            resume: at("window_start").zip(at("sweep_started_at")).map(|(window_start, started_at)| SweepResume {
                window_start,
                next_token: s("next_token").cloned(),
                started_at,
                clean: item.get("sweep_clean").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
            }),
            verified: at("verified_window_start").zip(at("verified_completed_before")).map(
                |(window_start, completed_before)| VerifiedSweep {
                    window_start,
                    completed_before,
                    filters: s("verified_filters").cloned().unwrap_or_default(),
                },
            ),
        })
    }

    async fn refused(&self, tokens: &[IdempotencyToken]) -> Result<HashSet<IdempotencyToken>, AwsError> {
        if tokens.is_empty() {
            return Ok(HashSet::new());
        }
        let items = self.batch_get(tokens.iter().map(Self::refusal_key).collect()).await?;
        let stored: HashSet<&str> =
            items.iter().filter_map(|item| item.get("pk")?.as_s().ok()?.strip_prefix("refusal#")).collect();
        Ok(tokens.iter().filter(|token| stored.contains(token.as_str())).cloned().collect())
    }

    async fn record_refusal(&self, refusal: &Refusal) -> Result<(), AwsError> {
        // The first refusal is kept: a later one changes nothing.
        let write = Update::default()
            .set_if_absent("item_type", string("routed_copy_refusal"))
            // Not `source_recovery_point_arn`: that is the by-recovery-point index key, which lists copies.
            .set_if_absent("recovery_point_arn", string(refusal.recovery_point.as_str()))
            .set_if_absent("destination_vault_arn", string(refusal.destination_vault.as_str()))
            .set_if_absent("error", string(refusal.error.as_str()))
            .set_if_absent("refused_at", timestamp(refusal.at));
        self.update("UpdateItem", Self::refusal_key(&refusal.token), write, false).await?;
        Ok(())
    }

    async fn save_cursor(&self, cursor: &SweepCursor) -> Result<(), AwsError> {
        let mut item = HashMap::from([
            ("pk".to_owned(), string(CURSOR_KEY)),
            ("item_type".to_owned(), string("sweep_cursor")),
            ("updated_at".to_owned(), timestamp(Utc::now())),
        ]);
        if let Some(resume) = &cursor.resume {
            item.insert("window_start".to_owned(), timestamp(resume.window_start));
            item.insert("sweep_started_at".to_owned(), timestamp(resume.started_at));
            item.insert("sweep_clean".to_owned(), AttributeValue::Bool(resume.clean));
            if let Some(token) = &resume.next_token {
                item.insert("next_token".to_owned(), string(token.as_str()));
            }
        }
        if let Some(verified) = &cursor.verified {
            item.insert("verified_window_start".to_owned(), timestamp(verified.window_start));
            item.insert("verified_completed_before".to_owned(), timestamp(verified.completed_before));
            item.insert("verified_filters".to_owned(), string(verified.filters.as_str()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| classify("dynamodb", "PutItem", err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_expressions_use_placeholders_for_everything() {
        let (expression, condition, names, values) = Update::default()
            .set("state", string("RUNNING"))
            .set_if_absent("resource_type", string("EBS"))
            .remove("alert_claim")
            .condition("attribute_not_exists({state_rank}) OR {state_rank} < {0}", &["state_rank"], vec![number(1)])
            .build();
        assert_eq!(
            expression,
            "SET #state = :v0, #resource_type = if_not_exists(#resource_type, :v1) REMOVE #alert_claim"
        );
        assert_eq!(condition.as_deref(), Some("attribute_not_exists(#state_rank) OR #state_rank < :v2"));
        assert_eq!(names["#state"], "state");
        assert_eq!(values.len(), 3);
    }
}
