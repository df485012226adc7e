//! The tracking table through `aws-sdk-dynamodb`: the store operations. The table's items and
//! attributes are in [`schema`], the expressions in [`expressions`].
//!
//! Every write is a single UpdateItem, most of them conditional: state moves only forward, claims
//! are taken only when free (or abandoned past their lease) and finished, renewed or given back only
//! by their owner, details are never overwritten.

mod expressions;
mod schema;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};

use self::expressions::{
    UpdateExpression, BACKFILL_CLAIM_IS_FREE, BACKFILL_NOT_TOLD_AND_OURS, BACKFILL_SLOT_IS_NEXT, CLAIM_IS_FREE,
    CLAIM_IS_OURS, CLAIM_IS_OURS_AND_PENDING, EPISODE_IS_OPEN, EVIDENCE_STILL_AT, FIRST_DIGEST, INCIDENT_CLAIM_IS_FREE,
    INCIDENT_CLAIM_IS_OURS, INCIDENT_CLAIM_IS_OURS_AND_PENDING, INCIDENT_MAY_OPEN, ITEM_EXISTS, ITEM_IS_NEW,
    LATER_COPY, LATER_DAY, NEXT_DIGEST, NO_EVIDENCE_YET, POINT_STILL_TAKEN_AT, STATE_MOVES_FORWARD,
};
use self::schema::{
    affected, backfill, backfill_claim, backfill_from_item, backfill_key, backfill_vault, backfill_vault_key,
    claim_done, copy, copy_key, copy_path, copy_path_key, cursor, cursor_from_item, cursor_to_item, daily, daily_key,
    detail_attributes, evidence, evidence_key, incident, incident_claim, incident_from_item, incident_key,
    incident_name, number, open_incidents, opened_at, path_record_from_item, point_from_json, point_json, point_key,
    record_from_item, refusal, refusal_key, refusal_token, slot_key, slot_of, state_at, string, timestamp, Item,
    ITEM_TYPE, PK, UPDATED_AT,
};
use super::error::classify;
use crate::domain::evidence::EvidenceHead;
use crate::domain::{
    AffectedPoint, Backfill, BackupVaultArn, Claim, ClaimKind, ClaimOutcome, ClaimOwner, CopyDetails, CopyJobId,
    CopyJobRecord, CopyJobState, HealedBy, IdempotencyToken, Incident, IncidentId, IncidentKey, Ownership,
    PathCauseKind, PathFailure, PathKey, PathRecord, Refusal, SlotSettled, StartedCopy, StateChange, StateUpdate,
    SweepCursor, NOT_COPIED_KEPT,
};
use crate::ports::{AwsError, DailyTask, ErrorClass, IncidentClaim, IncidentClaimKind, IncidentEntry, TrackingStore};

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(sdk: &aws_config::SdkConfig, table: String) -> Self {
        Self { client: Client::new(sdk), table }
    }

    /// Runs an update. When its condition does not hold, the item as it stands comes back in the
    /// same response (ReturnValuesOnConditionCheckFailure), so no second read is needed.
    async fn update(
        &self,
        operation: &'static str,
        key: AttributeValue,
        update: UpdateExpression,
        return_new: bool,
    ) -> Result<Updated, AwsError> {
        let (expression, condition, names, values) = update.build();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, key)
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
    async fn batch_get(&self, keys: Vec<AttributeValue>) -> Result<Vec<Item>, AwsError> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let keys: Vec<_> = chunk.iter().map(|key| HashMap::from([(PK.to_owned(), key.clone())])).collect();
            let mut request =
                Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(
                    |err| AwsError {
                        service: "dynamodb",
                        operation: "BatchGetItem",
                        class: ErrorClass::Permanent,
                        code: None,
                        message: err.to_string(),
                        no_answer: None,
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
                    no_answer: None,
                });
            }
        }
        Ok(items)
    }

    async fn get_item(&self, key: AttributeValue) -> Result<Option<Item>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, key)
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify("dynamodb", "GetItem", err))?;
        Ok(output.item)
    }
}

/// The outcome of a conditional update, with the item it left (or found).
enum Updated {
    Applied(Item),
    ConditionFailed(Item),
}

/// The attributes every write of a copy item keeps current.
fn copy_item(id: &CopyJobId) -> UpdateExpression {
    UpdateExpression::default()
        .set_if_absent(ITEM_TYPE, string(copy::KIND))
        .set_if_absent(copy::COPY_JOB_ID, string(id.as_str()))
        .set(UPDATED_AT, timestamp(Utc::now()))
}

/// A write to a path's item (`path#<path key>`): what every one of them sets.
fn path_item(path: &PathKey) -> UpdateExpression {
    UpdateExpression::default()
        .set(ITEM_TYPE, string(copy_path::KIND))
        .set(UPDATED_AT, timestamp(Utc::now()))
        .set(copy_path::PATH, string(path.as_str()))
}

/// The details the item does not have yet; recorded ones are never overwritten.
fn with_details(write: UpdateExpression, details: &CopyDetails) -> UpdateExpression {
    detail_attributes(details).into_iter().fold(write, |write, (name, value)| write.set_if_absent(name, value))
}

/// Takes a claim for `owner` if it is free or its holder's lease lapsed (before `now - lease`).
fn take_claim(
    id: &CopyJobId,
    kind: ClaimKind,
    owner: &ClaimOwner,
    now: DateTime<Utc>,
    lease: Duration,
) -> UpdateExpression {
    taking(copy_item(id), schema::claim(kind), owner, now, lease).condition(CLAIM_IS_FREE)
}

/// Takes the claim `attributes` keep for `owner`, binding what the claim-is-free conditions use
/// (`:pending`, `:lease_cutoff`: before it, a pending claim is abandoned); the caller adds its
/// condition. One shape for copy jobs', incidents' and backfills' claims.
fn taking(
    write: UpdateExpression,
    attributes: schema::ClaimAttributes,
    owner: &ClaimOwner,
    now: DateTime<Utc>,
    lease: Duration,
) -> UpdateExpression {
    let cutoff = now.timestamp() - i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
    write
        .set_as("claim", attributes.state, string(copy::CLAIM_PENDING))
        .set_as("claim_at", attributes.at, number(now.timestamp()))
        .set_as("claim_owner", attributes.owner, string(owner.as_str()))
        .value("pending", string(copy::CLAIM_PENDING))
        .value("lease_cutoff", number(cutoff))
}

/// Starts `owner`'s pending claim's lease again at `now`.
fn renew_claim(id: &CopyJobId, kind: ClaimKind, owner: &ClaimOwner, now: DateTime<Utc>) -> UpdateExpression {
    let attributes = schema::claim(kind);
    copy_item(id)
        .name("claim", attributes.state)
        .set_as("claim_at", attributes.at, number(now.timestamp()))
        .name("claim_owner", attributes.owner)
        .value("pending", string(copy::CLAIM_PENDING))
        .value("owner", string(owner.as_str()))
        .condition(CLAIM_IS_OURS_AND_PENDING)
}

/// Marks `owner`'s claim done, with the job's outcome (every outcome attribute, set or removed) and
/// the details the item lacks. The owner stays, for people reading the table.
fn finish_claim(
    id: &CopyJobId,
    kind: ClaimKind,
    owner: &ClaimOwner,
    outcome: &ClaimOutcome,
    details: Option<&CopyDetails>,
) -> UpdateExpression {
    let attributes = schema::claim(kind);
    let mut write = copy_item(id).set_as("claim", attributes.state, string(copy::CLAIM_DONE));
    for (attribute, value) in schema::outcome_attributes(outcome) {
        write = match value {
            Some(value) => write.set(attribute, value),
            None => write.remove(attribute, attribute),
        };
    }
    let write =
        write.name("claim_owner", attributes.owner).value("owner", string(owner.as_str())).condition(CLAIM_IS_OURS);
    match details {
        Some(details) => with_details(write, details),
        None => write,
    }
}

/// Gives `owner`'s pending claim back: its state, time and owner go.
fn release_claim(kind: ClaimKind, owner: &ClaimOwner) -> UpdateExpression {
    giving_back(schema::claim(kind), owner).condition(CLAIM_IS_OURS_AND_PENDING)
}

/// Gives back the claim `attributes` keep, binding what the claim-is-ours conditions use
/// (`:pending`, `:owner`); the caller adds its condition.
fn giving_back(attributes: schema::ClaimAttributes, owner: &ClaimOwner) -> UpdateExpression {
    UpdateExpression::default()
        .remove("claim", attributes.state)
        .remove("claim_at", attributes.at)
        .remove("claim_owner", attributes.owner)
        .value("pending", string(copy::CLAIM_PENDING))
        .value("owner", string(owner.as_str()))
}

/// A write conditional on a claim's owner: its condition failing means the claim is another's.
fn ownership(updated: &Updated) -> Ownership {
    match updated {
        Updated::Applied(_) => Ownership::Held,
        Updated::ConditionFailed(_) => Ownership::Lost,
    }
}

/// Opens a new episode of the failure's incident at `now`, unless one is open.
fn open_episode(failure: &PathFailure, now: DateTime<Utc>) -> UpdateExpression {
    use incident::*;
    let key = failure.key();
    let destination = CopyDetails { destination: failure.destination.clone(), ..CopyDetails::default() };
    let mut write = UpdateExpression::default()
        .set(ITEM_TYPE, string(KIND))
        .set(UPDATED_AT, timestamp(now))
        .set(PATH, string(key.path.as_str()))
        .set(CAUSE_KIND, string(key.cause.as_str()))
        .set(OPENED_AT, timestamp(now))
        .set(STATE, string(OPEN))
        .set(STATUS_MESSAGE, string(failure.status_message.as_str()))
        .set(AFFECTED, number(0));
    write = match &failure.message_category {
        Some(category) => write.set(MESSAGE_CATEGORY, string(category.as_str())),
        None => write.remove(MESSAGE_CATEGORY, MESSAGE_CATEGORY),
    };
    write = match &failure.point {
        Some(point) => write.set(FIRST_POINT, point_json(point)),
        None => write.remove(FIRST_POINT, FIRST_POINT),
    };
    write = match &failure.check_fix {
        Some(fix) => write.set(CHECK_FIX, string(fix.as_str())),
        None => write.remove(CHECK_FIX, CHECK_FIX),
    };
    for (name, value) in detail_attributes(&destination) {
        write = write.set(name, value);
    }
    for claim in [IncidentClaimKind::Opened, IncidentClaimKind::Healed].map(incident_claim) {
        write = write.remove(claim.state, claim.state).remove(claim.at, claim.at).remove(claim.owner, claim.owner);
    }
    write
        .remove(LAST_DIGEST_AT, LAST_DIGEST_AT)
        .remove(HEALED_AT, HEALED_AT)
        .remove(HEALED_BY, HEALED_BY)
        .name("pk", PK)
        .value("healed", string(HEALED))
        .condition(INCIDENT_MAY_OPEN)
}

/// Binds the episode a write is conditional on.
fn in_episode(write: UpdateExpression, id: &IncidentId) -> UpdateExpression {
    write.name("opened_at", incident::OPENED_AT).value("episode", timestamp(id.opened_at))
}

/// How often a path failure is tried again when the episode it joined healed (and another opened)
/// between its writes.
const EPISODE_RACES: usize = 4;

/// How long a recovery point may stay taken but unnumbered before another writer numbers it: past
/// the longest function timeout, so its first writer is surely gone.
const POINT_ABANDONED_AFTER: Duration = Duration::from_secs(15 * 60);

impl DynamoStore {
    /// Counts the failure's recovery point in `episode` once: a point item (conditional on being
    /// new), a number from the incident's atomic counter, the numbered slot, the number on the
    /// point. A writer stopped between them leaves a point without a slot number, which the next
    /// delivery of the failure numbers (a slot may then stay empty: read as nothing). `None` when
    /// the episode is no longer open.
    async fn add_point(
        &self,
        affected: &AffectedPoint,
        episode: &IncidentId,
        now: DateTime<Utc>,
    ) -> Result<Option<(Item, bool)>, AwsError> {
        let point = point_key(episode, &affected.recovery_point);
        // The failure's copy job takes the point: its own redelivery (the failure's claim makes it
        // the only writer for that job) takes it again at once.
        let writer = affected.copy_job.as_ref().map_or("-", |job| job.as_str()).to_owned();
        let new_point = UpdateExpression::default()
            .set(ITEM_TYPE, string(affected::POINT_KIND))
            .set(UPDATED_AT, timestamp(now))
            .set(affected::TAKEN_AT, number(now.timestamp()))
            .set(affected::TAKEN_BY, string(writer.as_str()))
            .name("pk", PK)
            .condition(ITEM_IS_NEW);
        if let Updated::ConditionFailed(item) = self.update("UpdateItem", point.clone(), new_point, false).await? {
            let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
            let taken_at = item.get(affected::TAKEN_AT).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
            if item.contains_key(affected::SLOT) {
                // Counted before: the incident as it stands.
                let current = self.get_item(incident_key(&episode.key)).await?.unwrap_or_default();
                return Ok((opened_at(&current) == Some(episode.opened_at)).then_some((current, false)));
            }
            // Unnumbered: this failure's own earlier attempt stopped between the writes (take it
            // again), another failure of the point is numbering it now (try later: a success here
            // would let the point go uncounted if that writer then stops), or that writer is gone.
            let ours = s(affected::TAKEN_BY) == Some(writer.as_str()) && writer != "-";
            let abandoned = taken_at.is_some_and(|at| at < now.timestamp() - POINT_ABANDONED_AFTER.as_secs() as i64);
            if !ours && !abandoned {
                return Err(AwsError {
                    service: "dynamodb",
                    operation: "UpdateItem",
                    class: ErrorClass::Transient,
                    code: None,
                    message: "another failure of this recovery point is being counted in the incident".into(),
                    no_answer: None,
                });
            }
            let take = UpdateExpression::default()
                .set(affected::TAKEN_AT, number(now.timestamp()))
                .set(affected::TAKEN_BY, string(writer.as_str()))
                .value("taken", number(taken_at.unwrap_or_default()))
                .condition(POINT_STILL_TAKEN_AT);
            if !matches!(self.update("UpdateItem", point.clone(), take, false).await?, Updated::Applied(_)) {
                return Err(AwsError {
                    service: "dynamodb",
                    operation: "UpdateItem",
                    class: ErrorClass::Transient,
                    code: None,
                    message: "another writer took this recovery point over".into(),
                    no_answer: None,
                });
            }
        }
        let count = UpdateExpression::default()
            .add(incident::AFFECTED, number(1))
            // An incident the path check opened gets its first affected point from the first failure.
            .set_if_absent(incident::FIRST_POINT, point_json(affected))
            .name("incident_state", incident::STATE)
            .value("open", string(incident::OPEN));
        let count = in_episode(count, episode).condition(EPISODE_IS_OPEN);
        let item = match self.update("UpdateItem", incident_key(&episode.key), count, true).await? {
            Updated::Applied(item) => item,
            Updated::ConditionFailed(_) => return Ok(None),
        };
        let slot: u64 =
            item.get(incident::AFFECTED).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        let slot_item = UpdateExpression::default()
            .set(ITEM_TYPE, string(affected::SLOT_KIND))
            .set(UPDATED_AT, timestamp(now))
            .set(affected::POINT, point_json(affected));
        self.update("UpdateItem", slot_key(episode, slot), slot_item, false).await?;
        let numbered = UpdateExpression::default().set(affected::SLOT, number(slot));
        self.update("UpdateItem", point, numbered, false).await?;
        Ok(Some((item, true)))
    }

    /// Adds an incident to `incident#open`, or takes it out.
    async fn mark_open(&self, key: &IncidentKey, open: bool) -> Result<(), AwsError> {
        let member = AttributeValue::Ss(vec![incident_name(key)]);
        let write = UpdateExpression::default().set(ITEM_TYPE, string(open_incidents::KIND));
        let write = match open {
            true => write.add(open_incidents::INCIDENTS, member),
            false => write.delete(open_incidents::INCIDENTS, member),
        };
        self.update("UpdateItem", string(open_incidents::KEY), write, false).await?;
        Ok(())
    }

    /// An incident write conditional on its episode and a claim: the claim's outcome.
    async fn incident_claim_write(&self, id: &IncidentId, write: UpdateExpression) -> Result<Ownership, AwsError> {
        Ok(ownership(&self.update("UpdateItem", incident_key(&id.key), in_episode(write, id), false).await?))
    }
}

impl TrackingStore for DynamoStore {
    async fn apply_state(&self, update: &StateUpdate) -> Result<StateChange, AwsError> {
        let write = copy_item(&update.id)
            .set(copy::STATE, string(update.state.as_str()))
            .set(copy::STATE_RANK, number(update.state.rank()))
            .set(&state_at(update.state), timestamp(update.at))
            .set_opt(copy::STATUS_MESSAGE, update.status_message.clone().map(string));
        let write = with_details(write, &update.details).condition(STATE_MOVES_FORWARD);
        Ok(match self.update("UpdateItem", copy_key(&update.id), write, true).await? {
            Updated::Applied(item) => StateChange::Applied(record_from_item(&item)),
            Updated::ConditionFailed(item) => StateChange::Stale(record_from_item(&item)),
        })
    }

    async fn fill_details(&self, id: &CopyJobId, details: &CopyDetails) -> Result<(), AwsError> {
        self.update("UpdateItem", copy_key(id), with_details(copy_item(id), details), false).await?;
        Ok(())
    }

    async fn record_started(&self, started: &StartedCopy) -> Result<(), AwsError> {
        let lifecycle = started.lifecycle.as_ref().map(schema::lifecycle_json);
        let write = with_details(copy_item(&started.id), &started.details)
            .set(copy::ROOT_JOB_ID, string(started.lineage.root.as_str()))
            .set(copy::ATTEMPT, number(started.lineage.attempt))
            .set_opt(copy::RETRY_OF, started.lineage.retry_of.as_ref().map(|id| string(id.as_str())))
            .set_if_absent_opt(copy::LIFECYCLE, lifecycle)
            .set_if_absent(copy::REQUESTED_AT, timestamp(started.at))
            .set_if_absent_opt(copy::BACKFILL_OF, started.backfill_of.clone().map(string))
            // The tracker may have seen the job already; never move its state back.
            .set_if_absent(copy::STATE, string(CopyJobState::Created.as_str()))
            .set_if_absent(copy::STATE_RANK, number(CopyJobState::Created.rank()));
        self.update("UpdateItem", copy_key(&started.id), write, false).await?;
        Ok(())
    }

    async fn link_retry(&self, failed: &CopyJobId, retry: &CopyJobId) -> Result<(), AwsError> {
        let write = copy_item(failed).set(copy::RETRIED_BY, string(retry.as_str()));
        self.update("UpdateItem", copy_key(failed), write, false).await?;
        Ok(())
    }

    async fn claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, AwsError> {
        Ok(match self.update("UpdateItem", copy_key(id), take_claim(id, kind, owner, now, lease), true).await? {
            Updated::Applied(item) => Claim::Acquired(Box::new(record_from_item(&item))),
            Updated::ConditionFailed(item) if claim_done(&item, kind) => Claim::AlreadyDone,
            Updated::ConditionFailed(_) => Claim::InProgress,
        })
    }

    async fn renew_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
    ) -> Result<Ownership, AwsError> {
        let updated = self.update("UpdateItem", copy_key(id), renew_claim(id, kind, owner, now), false).await?;
        Ok(ownership(&updated))
    }

    async fn finish_claim(
        &self,
        id: &CopyJobId,
        kind: ClaimKind,
        owner: &ClaimOwner,
        outcome: &ClaimOutcome,
        details: Option<&CopyDetails>,
    ) -> Result<Ownership, AwsError> {
        let write = finish_claim(id, kind, owner, outcome, details);
        Ok(ownership(&self.update("UpdateItem", copy_key(id), write, false).await?))
    }

    async fn release_claim(&self, id: &CopyJobId, kind: ClaimKind, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        Ok(ownership(&self.update("UpdateItem", copy_key(id), release_claim(kind, owner), false).await?))
    }

    async fn get_many(&self, ids: &[CopyJobId]) -> Result<HashMap<CopyJobId, CopyJobRecord>, AwsError> {
        let items = self.batch_get(ids.iter().map(copy_key).collect()).await?;
        Ok(items.iter().map(record_from_item).filter_map(|record| Some((record.id.clone()?, record))).collect())
    }

    async fn load_cursor(&self) -> Result<SweepCursor, AwsError> {
        Ok(self.get_item(string(cursor::KEY)).await?.as_ref().map(cursor_from_item).unwrap_or_default())
    }

    async fn refused(&self, tokens: &[IdempotencyToken]) -> Result<HashSet<IdempotencyToken>, AwsError> {
        if tokens.is_empty() {
            return Ok(HashSet::new());
        }
        let items = self.batch_get(tokens.iter().map(refusal_key).collect()).await?;
        let stored: HashSet<&str> = items.iter().filter_map(refusal_token).collect();
        Ok(tokens.iter().filter(|token| stored.contains(token.as_str())).cloned().collect())
    }

    async fn record_refusal(&self, refused: &Refusal) -> Result<(), AwsError> {
        // The first refusal is kept: a later one changes nothing.
        let write = UpdateExpression::default()
            .set_if_absent(ITEM_TYPE, string(refusal::KIND))
            .set_if_absent(refusal::RECOVERY_POINT_ARN, string(refused.recovery_point.as_str()))
            .set_if_absent(refusal::DESTINATION_VAULT_ARN, string(refused.destination_vault.as_str()))
            .set_if_absent(refusal::ERROR, string(refused.error.as_str()))
            .set_if_absent(refusal::REFUSED_AT, timestamp(refused.at));
        self.update("UpdateItem", refusal_key(&refused.token), write, false).await?;
        Ok(())
    }

    async fn record_path_failure(&self, failure: &PathFailure, now: DateTime<Utc>) -> Result<IncidentEntry, AwsError> {
        let key = failure.key();
        for _ in 0..EPISODE_RACES {
            let (item, opened) =
                match self.update("UpdateItem", incident_key(&key), open_episode(failure, now), true).await? {
                    Updated::Applied(item) => (item, true),
                    Updated::ConditionFailed(item) => (item, false),
                };
            let Some(opened_at) = opened_at(&item) else { continue };
            let episode = IncidentId { key: key.clone(), opened_at };
            let Some(point) = &failure.point else {
                // The path check's finding: the episode, and no recovery point to count.
                if opened {
                    self.mark_open(&key, true).await?;
                }
                match incident_from_item(&item) {
                    Some(incident) => return Ok(IncidentEntry { incident, opened, added: false }),
                    None => continue,
                }
            };
            let Some((item, added)) = self.add_point(point, &episode, now).await? else { continue };
            if added {
                // Written with every new point (not only the opening one): a writer stopped before
                // it is made good by the next.
                self.mark_open(&key, true).await?;
            }
            if let Some(incident) = incident_from_item(&item) {
                return Ok(IncidentEntry { incident, opened, added });
            }
        }
        Err(AwsError {
            service: "dynamodb",
            operation: "UpdateItem",
            class: ErrorClass::Transient,
            code: None,
            message: format!(
                "the incident's episode kept changing while a failure was added to it ({})",
                key.path.as_str()
            ),
            no_answer: None,
        })
    }

    async fn incident(&self, key: &IncidentKey) -> Result<Option<Incident>, AwsError> {
        Ok(self.get_item(incident_key(key)).await?.as_ref().and_then(incident_from_item))
    }

    async fn incidents_on(&self, path: &PathKey) -> Result<Vec<Incident>, AwsError> {
        let keys = PathCauseKind::ALL.map(|cause| incident_key(&IncidentKey { path: path.clone(), cause }));
        Ok(self.batch_get(keys.to_vec()).await?.iter().filter_map(incident_from_item).collect())
    }

    async fn heal_incident(&self, id: &IncidentId, by: &HealedBy, at: DateTime<Utc>) -> Result<bool, AwsError> {
        let write = UpdateExpression::default()
            .set(incident::STATE, string(incident::HEALED))
            .set(incident::HEALED_AT, timestamp(at))
            .set(incident::HEALED_BY, string(by.as_stored()))
            .set(UPDATED_AT, timestamp(at))
            .value("open", string(incident::OPEN));
        let write = in_episode(write, id).condition(EPISODE_IS_OPEN);
        let healed =
            matches!(self.update("UpdateItem", incident_key(&id.key), write, false).await?, Updated::Applied(_));
        if healed {
            self.mark_open(&id.key, false).await?;
        }
        Ok(healed)
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, AwsError> {
        let Some(open) = self.get_item(string(open_incidents::KEY)).await? else { return Ok(Vec::new()) };
        let names = open.get(open_incidents::INCIDENTS).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        let keys = names.iter().map(|name| AttributeValue::S(format!("incident#{name}"))).collect();
        let mut incidents: Vec<Incident> =
            self.batch_get(keys).await?.iter().filter_map(incident_from_item).filter(Incident::is_open).collect();
        incidents.sort_by_key(|incident| incident.id.opened_at);
        Ok(incidents)
    }

    async fn claim_incident(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<IncidentClaim, AwsError> {
        let attributes = incident_claim(kind);
        let write =
            taking(UpdateExpression::default(), attributes, owner, now, lease).condition(INCIDENT_CLAIM_IS_FREE);
        Ok(match self.update("UpdateItem", incident_key(&id.key), in_episode(write, id), true).await? {
            Updated::Applied(item) => match incident_from_item(&item) {
                Some(incident) => IncidentClaim::Acquired(Box::new(incident)),
                None => IncidentClaim::Gone,
            },
            Updated::ConditionFailed(item) if opened_at(&item) != Some(id.opened_at) => IncidentClaim::Gone,
            Updated::ConditionFailed(item)
                if item.get(attributes.state).and_then(|v| v.as_s().ok()).map(String::as_str)
                    == Some(copy::CLAIM_DONE) =>
            {
                IncidentClaim::AlreadyDone
            }
            Updated::ConditionFailed(_) => IncidentClaim::InProgress,
        })
    }

    async fn finish_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        let attributes = incident_claim(kind);
        let write = UpdateExpression::default()
            .set_as("claim", attributes.state, string(copy::CLAIM_DONE))
            .name("claim_owner", attributes.owner)
            .value("owner", string(owner.as_str()));
        self.incident_claim_write(id, write.condition(INCIDENT_CLAIM_IS_OURS)).await
    }

    async fn release_incident_claim(
        &self,
        id: &IncidentId,
        kind: IncidentClaimKind,
        owner: &ClaimOwner,
    ) -> Result<Ownership, AwsError> {
        let write = giving_back(incident_claim(kind), owner).condition(INCIDENT_CLAIM_IS_OURS_AND_PENDING);
        self.incident_claim_write(id, write).await
    }

    async fn open_backfill(&self, started: &Backfill) -> Result<(), AwsError> {
        use backfill::*;
        let digest = started.episode.digest();
        let write = UpdateExpression::default()
            .set_if_absent(ITEM_TYPE, string(KIND))
            .set_if_absent(incident::PATH, string(started.episode.key.path.as_str()))
            .set_if_absent(incident::CAUSE_KIND, string(started.episode.key.cause.as_str()))
            .set_if_absent(incident::OPENED_AT, timestamp(started.episode.opened_at))
            .set_if_absent(SLOTS, number(started.slots))
            .set_if_absent(NEXT_SLOT, number(started.next_slot))
            .set_if_absent(STARTED, number(0))
            .set_if_absent(NOT_COPYABLE, number(0))
            .set_if_absent(TOLD, AttributeValue::Bool(false))
            .set(UPDATED_AT, timestamp(Utc::now()));
        let item = match self.update("UpdateItem", backfill_key(&digest), write, true).await? {
            Updated::Applied(item) | Updated::ConditionFailed(item) => item,
        };
        // A finished backfill opened again (its healed message retried) stays finished.
        if item.get(TOLD).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false) {
            return Ok(());
        }
        let register = UpdateExpression::default()
            .set(ITEM_TYPE, string(ACTIVE_KIND))
            .add(EPISODES, AttributeValue::Ss(vec![digest]));
        self.update("UpdateItem", string(ACTIVE_KEY), register, false).await?;
        Ok(())
    }

    async fn active_backfills(&self) -> Result<Vec<Backfill>, AwsError> {
        let Some(active) = self.get_item(string(backfill::ACTIVE_KEY)).await? else { return Ok(Vec::new()) };
        let digests = active.get(backfill::EPISODES).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        let items = self.batch_get(digests.iter().map(|digest| backfill_key(digest)).collect()).await?;
        Ok(items.iter().filter_map(backfill_from_item).collect())
    }

    async fn claim_backfill(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Backfill>, AwsError> {
        let write = taking(UpdateExpression::default(), backfill_claim(), owner, now, lease)
            .name("pk", PK)
            .condition(BACKFILL_CLAIM_IS_FREE);
        Ok(match self.update("UpdateItem", backfill_key(&episode.digest()), write, true).await? {
            Updated::Applied(item) => backfill_from_item(&item),
            Updated::ConditionFailed(_) => None,
        })
    }

    async fn release_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        let write = giving_back(backfill_claim(), owner).condition(CLAIM_IS_OURS_AND_PENDING);
        Ok(ownership(&self.update("UpdateItem", backfill_key(&episode.digest()), write, false).await?))
    }

    async fn settle_backfill_slot(
        &self,
        episode: &IncidentId,
        owner: &ClaimOwner,
        slot: u64,
        settled: &SlotSettled,
    ) -> Result<Ownership, AwsError> {
        use backfill::*;
        let write = UpdateExpression::default()
            .set_as("next", NEXT_SLOT, number(slot + 1))
            .value("slot", number(slot))
            .set(UPDATED_AT, timestamp(Utc::now()))
            .name("claim_owner", backfill_claim().owner)
            .value("owner", string(owner.as_str()));
        let write = match settled {
            SlotSettled::Started(job) => {
                write.add(STARTED, number(1)).add(IN_FLIGHT, AttributeValue::Ss(vec![job.as_str().to_owned()]))
            }
            SlotSettled::NotCopyable(why) => {
                // The list grows only to NOT_COPIED_KEPT: the caller's state after this slot says so.
                let write = write.add(NOT_COPYABLE, number(1));
                match self.get_item(backfill_key(&episode.digest())).await?.as_ref().and_then(backfill_from_item) {
                    Some(current) if current.not_copied.len() < NOT_COPIED_KEPT => {
                        let mut list = current.not_copied;
                        list.push(why.clone());
                        write.set(NOT_COPIED, string(serde_json::to_string(&list).expect("a list serialises")))
                    }
                    _ => write,
                }
            }
            SlotSettled::Covered(_) => write.add(COVERED, number(1)),
            SlotSettled::Empty => write,
        };
        let write = write.condition(BACKFILL_SLOT_IS_NEXT);
        Ok(ownership(&self.update("UpdateItem", backfill_key(&episode.digest()), write, false).await?))
    }

    async fn backfill_copy_ended(&self, episode_digest: &str, job: &CopyJobId) -> Result<(), AwsError> {
        let write = UpdateExpression::default()
            .delete(backfill::IN_FLIGHT, AttributeValue::Ss(vec![job.as_str().to_owned()]))
            .name("pk", PK)
            .condition(ITEM_EXISTS);
        self.update("UpdateItem", backfill_key(episode_digest), write, false).await?;
        Ok(())
    }

    async fn finish_backfill(&self, episode: &IncidentId, owner: &ClaimOwner) -> Result<bool, AwsError> {
        let digest = episode.digest();
        let write = UpdateExpression::default()
            .set(backfill::TOLD, AttributeValue::Bool(true))
            .name("claim_owner", backfill_claim().owner)
            .value("owner", string(owner.as_str()))
            .value("not_told", AttributeValue::Bool(false))
            .condition(BACKFILL_NOT_TOLD_AND_OURS);
        if !matches!(self.update("UpdateItem", backfill_key(&digest), write, false).await?, Updated::Applied(_)) {
            return Ok(false);
        }
        let unregister = UpdateExpression::default().delete(backfill::EPISODES, AttributeValue::Ss(vec![digest]));
        self.update("UpdateItem", string(backfill::ACTIVE_KEY), unregister, false).await?;
        Ok(true)
    }

    async fn affected_slots(
        &self,
        episode: &IncidentId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, AffectedPoint)>, AwsError> {
        if from > to {
            return Ok(Vec::new());
        }
        let items = self.batch_get((from..=to).map(|slot| slot_key(episode, slot)).collect()).await?;
        let mut slots: Vec<(u64, AffectedPoint)> =
            items.iter().filter_map(|item| Some((slot_of(item)?, point_from_json(item, affected::POINT)?))).collect();
        slots.sort_by_key(|(slot, _)| *slot);
        Ok(slots)
    }

    async fn mark_digest(
        &self,
        id: &IncidentId,
        previous: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, AwsError> {
        let write = UpdateExpression::default()
            .set(incident::LAST_DIGEST_AT, timestamp(now))
            .name("incident_state", incident::STATE)
            .value("open", string(incident::OPEN));
        let write = match previous {
            Some(previous) => write.value("previous", timestamp(previous)).condition(NEXT_DIGEST),
            None => write.condition(FIRST_DIGEST),
        };
        Ok(self.incident_claim_write(id, write).await? == Ownership::Held)
    }

    async fn claim_backfill_vault(
        &self,
        vault: &BackupVaultArn,
        owner: &ClaimOwner,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, AwsError> {
        let write = taking(UpdateExpression::default(), backfill_claim(), owner, now, lease)
            .set(ITEM_TYPE, string(backfill_vault::KIND))
            .condition(CLAIM_IS_FREE);
        Ok(matches!(self.update("UpdateItem", backfill_vault_key(vault), write, false).await?, Updated::Applied(_)))
    }

    async fn release_backfill_vault(&self, vault: &BackupVaultArn, owner: &ClaimOwner) -> Result<Ownership, AwsError> {
        let write = giving_back(backfill_claim(), owner).condition(CLAIM_IS_OURS_AND_PENDING);
        Ok(ownership(&self.update("UpdateItem", backfill_vault_key(vault), write, false).await?))
    }

    async fn note_path_copy(&self, path: &PathKey, job: &CopyJobId, at: DateTime<Utc>) -> Result<(), AwsError> {
        let write = path_item(path)
            .set(copy_path::LAST_COPY_JOB, string(job.as_str()))
            .set(copy_path::LAST_COPY_AT, timestamp(at))
            .condition(LATER_COPY);
        // A later copy noted already: nothing to do.
        self.update("UpdateItem", copy_path_key(path), write, false).await?;
        Ok(())
    }

    async fn note_path_check(&self, path: &PathKey, at: DateTime<Utc>, verdict: &str) -> Result<(), AwsError> {
        let write =
            path_item(path).set(copy_path::LAST_CHECK_AT, timestamp(at)).set(copy_path::LAST_CHECK, string(verdict));
        self.update("UpdateItem", copy_path_key(path), write, false).await?;
        Ok(())
    }

    async fn path_records(&self, paths: &[PathKey]) -> Result<HashMap<PathKey, PathRecord>, AwsError> {
        let keys = paths.iter().map(copy_path_key).collect();
        Ok(self.batch_get(keys).await?.iter().filter_map(path_record_from_item).collect())
    }

    async fn done_on(&self, task: DailyTask) -> Result<Option<NaiveDate>, AwsError> {
        let item = self.get_item(daily_key(task)).await?;
        let day = item.as_ref().and_then(|item| item.get(daily::DONE_ON)).and_then(|v| v.as_s().ok());
        Ok(day.and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()))
    }

    async fn mark_done_on(&self, task: DailyTask, day: NaiveDate) -> Result<bool, AwsError> {
        let write = UpdateExpression::default()
            .set(ITEM_TYPE, string(daily::KIND))
            .set(UPDATED_AT, timestamp(Utc::now()))
            .set(daily::DONE_ON, string(day.format("%Y-%m-%d").to_string()))
            .condition(LATER_DAY);
        Ok(matches!(self.update("UpdateItem", daily_key(task), write, false).await?, Updated::Applied(_)))
    }

    async fn evidence_head(&self, scope: &str) -> Result<Option<EvidenceHead>, AwsError> {
        let Some(item) = self.get_item(evidence_key(scope)).await? else { return Ok(None) };
        let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
        let (Some(day), Some(sha256)) =
            (s(evidence::DAY).and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()), s(evidence::SHA256))
        else {
            return Ok(None);
        };
        let history = s(evidence::HISTORY).and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
        Ok(Some(EvidenceHead { day, sha256: sha256.to_owned(), history }))
    }

    async fn advance_evidence(
        &self,
        scope: &str,
        from: Option<NaiveDate>,
        to: &EvidenceHead,
    ) -> Result<bool, AwsError> {
        let history = serde_json::to_string(&to.history).unwrap_or_else(|_| "[]".to_owned());
        let write = UpdateExpression::default()
            .set(ITEM_TYPE, string(evidence::KIND))
            .set(UPDATED_AT, timestamp(Utc::now()))
            .set(evidence::SHA256, string(&to.sha256))
            .set(evidence::HISTORY, string(history));
        let write = match from {
            None => write.set(evidence::DAY, string(to.day.format("%Y-%m-%d").to_string())).condition(NO_EVIDENCE_YET),
            Some(from) => write
                .set(evidence::DAY, string(to.day.format("%Y-%m-%d").to_string()))
                .value("from", string(from.format("%Y-%m-%d").to_string()))
                .condition(EVIDENCE_STILL_AT),
        };
        Ok(matches!(self.update("UpdateItem", evidence_key(scope), write, false).await?, Updated::Applied(_)))
    }

    async fn save_cursor(&self, sweep: &SweepCursor) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(cursor_to_item(sweep, Utc::now())))
            .send()
            .await
            .map_err(|err| classify("dynamodb", "PutItem", err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `#name` and `:value` a write's condition uses is bound by the write (DynamoDB refuses
    /// the request otherwise), and every binding is used.
    fn assert_bound(
        write: UpdateExpression,
    ) -> (String, String, HashMap<String, String>, HashMap<String, AttributeValue>) {
        let (expression, condition, names, values) = write.build();
        let condition = condition.expect("a conditional write");
        for (at, sigil) in condition.match_indices(['#', ':']) {
            let rest = &condition[at + 1..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let placeholder = format!("{sigil}{}", &rest[..end]);
            assert!(
                names.contains_key(&placeholder) || values.contains_key(&placeholder),
                "{placeholder} in {condition}"
            );
        }
        for placeholder in names.keys().chain(values.keys()) {
            assert!(
                expression.contains(placeholder.as_str()) || condition.contains(placeholder.as_str()),
                "{placeholder} unused"
            );
        }
        (expression, condition, names, values)
    }

    #[test]
    fn a_claim_is_written_with_its_owner_and_only_its_owner_closes_renews_or_releases_it() {
        let id = CopyJobId::parse("JOB").unwrap();
        let owner = ClaimOwner::parse("request-a").unwrap();
        let now = Utc::now();
        let owner_value = AttributeValue::S("request-a".into());

        let (_, condition, names, values) =
            assert_bound(take_claim(&id, ClaimKind::Alert, &owner, now, Duration::from_secs(330)));
        assert_eq!(condition, CLAIM_IS_FREE);
        assert_eq!(names["#claim_owner"], "alert_claim_owner");
        assert_eq!(values[":claim_owner"], owner_value);

        let (expression, condition, names, values) = assert_bound(renew_claim(&id, ClaimKind::Alert, &owner, now));
        assert_eq!(condition, "#claim = :pending AND #claim_owner = :owner");
        assert!(expression.contains("#claim_at = :claim_at"), "{expression}");
        assert_eq!((names["#claim"].as_str(), names["#claim_owner"].as_str()), ("alert_claim", "alert_claim_owner"));
        assert_eq!(values[":owner"], owner_value);
        assert_eq!(values[":claim_at"], AttributeValue::N(now.timestamp().to_string()));

        let retry = ClaimOutcome { retry_scheduled: Some(1), ..ClaimOutcome::default() };
        let (expression, condition, names, values) =
            assert_bound(finish_claim(&id, ClaimKind::FailureHandling, &owner, &retry, None));
        assert_eq!(condition, "#claim_owner = :owner");
        assert!(expression.contains("#claim = :claim"), "{expression}");
        // The whole outcome: the decision made is set, the others removed (an earlier holder's go).
        assert_eq!(values[":retry_scheduled"], AttributeValue::N("1".into()));
        assert_eq!(values[":outcome"], AttributeValue::S("retry 1 scheduled".into()));
        assert!(expression.ends_with("REMOVE #alerted, #handled_with_parent, #resolved_by, #incident"), "{expression}");
        assert_eq!(names["#claim_owner"], "failure_claim_owner");
        assert_eq!(values[":claim"], AttributeValue::S("done".into()));
        assert_eq!(values[":owner"], owner_value);

        let (expression, condition, names, values) = assert_bound(release_claim(ClaimKind::Resolution, &owner));
        assert_eq!(condition, "#claim = :pending AND #claim_owner = :owner");
        assert_eq!(expression, "REMOVE #claim, #claim_at, #claim_owner");
        assert_eq!(names["#claim_owner"], "resolution_claim_owner");
        assert_eq!(values[":owner"], owner_value);
    }

    #[test]
    fn a_failed_condition_on_the_owner_means_the_claim_is_another_invocations() {
        assert_eq!(ownership(&Updated::Applied(Item::new())), Ownership::Held);
        assert_eq!(ownership(&Updated::ConditionFailed(Item::new())), Ownership::Lost);
    }
}
