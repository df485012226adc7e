//! The tracking table's schema: its keys, every attribute name, and the conversion between items and
//! records. docs/internals.md's "The tracking table" section names the same keys and attributes in the same
//! order (a test below holds them together).
//!
//! One table, partition key `pk` (string):
//! - `copy#<CopyJobId>`: a copy job's state, timestamps, details, lineage, claims and outcome.
//! - `refusal#<route token>`: a routed copy AWS Backup refused for good.
//! - `reconciler#cursor`: where an unfinished reconciliation sweep stopped.
//! - `incident#<path key>#<cause kind>`: a copy path's incident of one kind of cause (its current
//!   or last episode); `episode#<episode>#point#<recovery point ARN>` and
//!   `episode#<episode>#slot#<n>`: each recovery point an episode affected, once, and numbered
//!   from 1 (so they are read by key, a few at a time, with no index and no item growing).
//!
//! The copies of a recovery point are found through the table's `by-recovery-point` index (on the
//! records' `source_recovery_point_arn`), not kept in a second item that every event would write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::ports::IncidentClaimKind;

use crate::domain::{
    AffectedPoint, AlertKind, Backfill, BackupJobId, BackupVaultArn, ClaimKind, ClaimOutcome, CopyDetails, CopyJobId,
    CopyJobRecord, CopyJobState, Destination, HealedBy, IdempotencyToken, Incident, IncidentId, IncidentKey,
    IncidentState, KmsKeyArn, Lifecycle, Lineage, ListingPlace, PathCauseKind, PathKey, RecoveryPointArn, ResourceArn,
    ResourceType, SweepCursor, SweepPhase, SweepResume, VaultLockState, VaultType, VerifiedSweep,
};

pub type Item = HashMap<String, AttributeValue>;

/// The partition key of every item.
pub const PK: &str = "pk";
/// What an item is (`copy_job`, `routed_copy_refusal`, `sweep_cursor`), for people reading the table.
pub const ITEM_TYPE: &str = "item_type";
pub const UPDATED_AT: &str = "updated_at";

/// `copy#<CopyJobId>`: one copy job.
pub mod copy {
    pub const KIND: &str = "copy_job";
    pub const COPY_JOB_ID: &str = "copy_job_id";
    pub const STATE: &str = "state";
    /// The state's rank: a write moves the state only forward.
    pub const STATE_RANK: &str = "state_rank";
    pub const STATUS_MESSAGE: &str = "status_message";
    // The copy's details, each written once (never overwritten).
    pub const SOURCE_RECOVERY_POINT_ARN: &str = "source_recovery_point_arn";
    pub const SOURCE_VAULT_ARN: &str = "source_vault_arn";
    pub const DESTINATION_VAULT_ARN: &str = "destination_vault_arn";
    pub const DESTINATION_RECOVERY_POINT_ARN: &str = "destination_recovery_point_arn";
    pub const RESOURCE_ARN: &str = "resource_arn";
    pub const RESOURCE_TYPE: &str = "resource_type";
    /// On a job nested in a composite job.
    pub const PARENT_JOB_ID: &str = "parent_job_id";
    /// On a composite job.
    pub const CHILD_JOBS: &str = "child_jobs";
    // What listings and describes report of the destination (vault notifications do not), as AWS
    // spells it: `DestinationVaultType`, `DestinationVaultLockState`, `DestinationEncryptionKeyArn`,
    // `DestinationRecoveryPointLifecycle` (JSON), and the backup job that started the copy.
    pub const DESTINATION_VAULT_TYPE: &str = "destination_vault_type";
    pub const DESTINATION_VAULT_LOCK_STATE: &str = "destination_vault_lock_state";
    pub const DESTINATION_ENCRYPTION_KEY_ARN: &str = "destination_encryption_key_arn";
    pub const DESTINATION_LIFECYCLE: &str = "destination_lifecycle";
    pub const CREATED_BY_BACKUP_JOB_ID: &str = "created_by_backup_job_id";
    // Lineage: the chain of retries a job belongs to.
    pub const ROOT_JOB_ID: &str = "root_job_id";
    pub const ATTEMPT: &str = "attempt";
    pub const RETRY_OF: &str = "retry_of";
    pub const RETRIED_BY: &str = "retried_by";
    /// JSON of the lifecycle vaultwatch asked for, when vaultwatch started the job.
    pub const LIFECYCLE: &str = "lifecycle";
    pub const REQUESTED_AT: &str = "requested_at";
    /// The incident episode whose backfill started the job (its digest).
    pub const BACKFILL_OF: &str = "backfill_of";
    // What vaultwatch decided about the job under its claims, one attribute per decision (written
    // whole by each claim's finishing write): the retry scheduled (its attempt), what was alerted
    // (JSON tagged by `kind`), the composite parent a nested failure was handled with, the copy
    // whose "resolved" message closed the alert. `outcome` says the same in words, for people
    // reading the table; records written before the fields existed have only the words, which are
    // read once for them (`ClaimOutcome::from_note`).
    pub const RETRY_SCHEDULED: &str = "retry_scheduled";
    pub const ALERTED: &str = "alerted";
    pub const HANDLED_WITH_PARENT: &str = "handled_with_parent";
    pub const RESOLVED_BY: &str = "resolved_by";
    /// The path incident the failure was counted in (its thread), when it was not alerted alone.
    pub const INCIDENT: &str = "incident";
    pub const OUTCOME: &str = "outcome";
    // Claims make a side effect happen once: `pending` while it runs (with when it was taken or last
    // renewed, and by whom: the invocation's request id), then `done`. Only the owner finishes,
    // gives back or renews a claim. A pending claim written before claims had owners (no owner
    // attribute) is nobody's: no invocation can finish, give back or renew it, and it is taken over
    // like any other once its lease lapses.
    pub const CLAIM_PENDING: &str = "pending";
    pub const CLAIM_DONE: &str = "done";
    pub const FAILURE_CLAIM: &str = "failure_claim";
    pub const FAILURE_CLAIM_AT: &str = "failure_claim_at";
    pub const FAILURE_CLAIM_OWNER: &str = "failure_claim_owner";
    pub const ALERT_CLAIM: &str = "alert_claim";
    pub const ALERT_CLAIM_AT: &str = "alert_claim_at";
    pub const ALERT_CLAIM_OWNER: &str = "alert_claim_owner";
    pub const RESOLUTION_CLAIM: &str = "resolution_claim";
    pub const RESOLUTION_CLAIM_AT: &str = "resolution_claim_at";
    pub const RESOLUTION_CLAIM_OWNER: &str = "resolution_claim_owner";
}

/// `refusal#<route token>`: a routed copy AWS Backup refused for good.
pub mod refusal {
    pub const KIND: &str = "routed_copy_refusal";
    /// Not `source_recovery_point_arn`: that is the by-recovery-point index key, which lists copies.
    pub const RECOVERY_POINT_ARN: &str = "recovery_point_arn";
    pub const DESTINATION_VAULT_ARN: &str = "destination_vault_arn";
    pub const ERROR: &str = "error";
    pub const REFUSED_AT: &str = "refused_at";
}

/// `reconciler#cursor`: the reconciler's place in an unfinished sweep and the last verified one.
pub mod cursor {
    pub const KEY: &str = "reconciler#cursor";
    pub const KIND: &str = "sweep_cursor";
    pub const WINDOW_START: &str = "window_start";
    /// The sweep's phase: reconciling the listing, or, that done, coverage and copies. Absent (as
    /// the version before wrote the item): the listing.
    pub const SWEEP_PHASE: &str = "sweep_phase";
    /// Reconciling the listing, from its place:
    pub const PHASE_LISTING: &str = "listing";
    pub const NEXT_TOKEN: &str = "next_token";
    /// The last job of the `next_token` page reconciled, when a run stopped inside that page.
    pub const LAST_RECONCILED_JOB: &str = "last_reconciled_job";
    /// Every job reconciled; coverage and copies remain (no place: they need a whole listing).
    pub const PHASE_COPIES: &str = "copies";
    pub const SWEEP_STARTED_AT: &str = "sweep_started_at";
    pub const SWEEP_CLEAN: &str = "sweep_clean";
    pub const VERIFIED_WINDOW_START: &str = "verified_window_start";
    pub const VERIFIED_COMPLETED_BEFORE: &str = "verified_completed_before";
    pub const VERIFIED_FILTERS: &str = "verified_filters";
}

/// `incident#<path key>#<cause kind>`: one copy path's incident of one kind of cause. One item per
/// path and kind holds its current (or last) episode, named by when it opened.
pub mod incident {
    pub const KIND: &str = "path_incident";
    /// The path key (`<source vault ARN> <destination vault ARN> <role ARN or ->`) and the kind.
    pub const PATH: &str = "path";
    pub const CAUSE_KIND: &str = "cause_kind";
    /// When the episode opened: its name (conditions compare it).
    pub const OPENED_AT: &str = "opened_at";
    /// `open` or `healed`.
    pub const STATE: &str = "incident_state";
    pub const OPEN: &str = "open";
    pub const HEALED: &str = "healed";
    /// AWS's words of the failure that opened it, and its category (the cause is classified from them).
    pub const STATUS_MESSAGE: &str = "status_message";
    pub const MESSAGE_CATEGORY: &str = "message_category";
    /// The first recovery point a failure left without its copy (JSON; absent while only the path
    /// check found the path broken).
    pub const FIRST_POINT: &str = "first_point";
    /// The fix the path check named, when the check opened it.
    pub const CHECK_FIX: &str = "check_fix";
    /// Recovery points affected, each counted once.
    pub const AFFECTED: &str = "affected";
    pub const LAST_DIGEST_AT: &str = "last_digest_at";
    pub const HEALED_AT: &str = "healed_at";
    /// The copy job that completed on the path, or `path-check`.
    pub const HEALED_BY: &str = "healed_by";
    // Each message that goes out once per episode has a claim, as a copy job's do.
    pub const OPENED_CLAIM: &str = "opened_claim";
    pub const OPENED_CLAIM_AT: &str = "opened_claim_at";
    pub const OPENED_CLAIM_OWNER: &str = "opened_claim_owner";
    pub const HEALED_CLAIM: &str = "healed_claim";
    pub const HEALED_CLAIM_AT: &str = "healed_claim_at";
    pub const HEALED_CLAIM_OWNER: &str = "healed_claim_owner";
}

/// `incident#open`: the incidents whose episode is open (a string set of their keys without the
/// prefix: as many as paths broken, each by a few kinds at most).
pub mod open_incidents {
    pub const KEY: &str = "incident#open";
    pub const KIND: &str = "open_incidents";
    pub const INCIDENTS: &str = "incidents";
}

/// `path#<path key>`: what the table keeps of a copy path besides its incidents.
pub mod copy_path {
    pub const KIND: &str = "copy_path";
    /// The path key (as on its incidents).
    pub const PATH: &str = "path";
    /// The latest copy noted completed on it, and when.
    pub const LAST_COPY_JOB: &str = "last_copy_job";
    pub const LAST_COPY_AT: &str = "last_copy_at";
    /// When the path check last looked, and its verdict (`ok`, `broken`, `cannot tell`).
    pub const LAST_CHECK_AT: &str = "last_check_at";
    pub const LAST_CHECK: &str = "last_check";
}

pub fn copy_path_key(path: &crate::domain::PathKey) -> AttributeValue {
    AttributeValue::S(format!("path#{}", path.as_str()))
}

/// A path item read back.
pub fn path_record_from_item(item: &Item) -> Option<(crate::domain::PathKey, crate::domain::PathRecord)> {
    use copy_path::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let path = crate::domain::PathKey::from_stored(s(PATH)?);
    let last_completed = match (
        s(LAST_COPY_JOB).and_then(|job| CopyJobId::parse(job).ok()),
        s(LAST_COPY_AT).and_then(parse_timestamp),
    ) {
        (Some(job), Some(at)) => Some((job, at)),
        _ => None,
    };
    let last_check = match (s(LAST_CHECK_AT).and_then(parse_timestamp), s(LAST_CHECK)) {
        (Some(at), Some(verdict)) => Some((at, verdict.to_owned())),
        _ => None,
    };
    Some((path, crate::domain::PathRecord { last_completed, last_check }))
}

/// `daily#<task>`: the last day (UTC) a daily task of the reconciler finished.
pub mod daily {
    pub const KIND: &str = "daily_task";
    /// `YYYY-MM-DD`: ISO dates order as strings, so a condition keeps it from moving back.
    pub const DONE_ON: &str = "done_on";
}

/// `episode#<episode>#point#<recovery point ARN>` and `episode#<episode>#slot#<n>`: a recovery point
/// an incident's episode affected (`<episode>` is [`crate::domain::IncidentId::digest`]).
pub mod affected {
    pub const POINT_KIND: &str = "incident_point";
    pub const SLOT_KIND: &str = "incident_slot";
    /// On the point item: when its writer took it (epoch seconds), until it numbers it, and which
    /// failed copy job's failure that writer counts (its redelivery takes the point again at once).
    pub const TAKEN_AT: &str = "taken_at";
    pub const TAKEN_BY: &str = "taken_by";
    /// On the point item: the slot it was numbered into (absent until then).
    pub const SLOT: &str = "slot";
    /// On the slot item: the recovery point and what copying it needs (JSON).
    pub const POINT: &str = "point";
}

/// `backfill#<episode>`: a healed episode's backfill; `backfill#active`: the episodes whose
/// backfill is not finished (a string set: as many as paths healed and not yet backfilled).
pub mod backfill {
    pub const KIND: &str = "incident_backfill";
    // The episode (`path`, `cause_kind`, `opened_at` as on the incident item), then:
    pub const SLOTS: &str = "slots";
    pub const NEXT_SLOT: &str = "next_slot";
    pub const STARTED: &str = "started";
    pub const COVERED: &str = "covered";
    pub const NOT_COPYABLE: &str = "not_copyable";
    /// JSON list of the first recovery points that cannot be copied any more, and why.
    pub const NOT_COPIED: &str = "not_copied";
    /// String set of the backfill copies started and not yet ended.
    pub const IN_FLIGHT: &str = "in_flight";
    pub const TOLD: &str = "told";
    pub const BACKFILL_CLAIM: &str = "backfill_claim";
    pub const BACKFILL_CLAIM_AT: &str = "backfill_claim_at";
    pub const BACKFILL_CLAIM_OWNER: &str = "backfill_claim_owner";
    pub const ACTIVE_KEY: &str = "backfill#active";
    pub const ACTIVE_KIND: &str = "active_backfills";
    /// On `backfill#active`: the active episodes' digests.
    pub const EPISODES: &str = "episodes";
}

pub fn daily_key(task: crate::ports::DailyTask) -> AttributeValue {
    AttributeValue::S(format!("daily#{}", task.as_str()))
}

/// `backfill-vault#<vault ARN>`: the claim of the one runner starting backfill copies into a vault.
pub mod backfill_vault {
    pub const KIND: &str = "backfill_vault";
}

pub fn backfill_vault_key(vault: &crate::domain::BackupVaultArn) -> AttributeValue {
    AttributeValue::S(format!("backfill-vault#{vault}"))
}

/// `evidence#<scope>`: where a scope's chain of evidence snapshots stands (the writer never reads
/// the bucket).
pub mod evidence {
    pub const KIND: &str = "evidence_chain";
    /// The last day written (`YYYY-MM-DD`), its manifest's SHA-256, and the JSON of the last 30
    /// days' totals (the page's chart).
    pub const DAY: &str = "evidence_day";
    pub const SHA256: &str = "evidence_sha256";
    pub const HISTORY: &str = "evidence_history";
}

pub fn evidence_key(scope: &str) -> AttributeValue {
    AttributeValue::S(format!("evidence#{scope}"))
}

pub fn backfill_key(digest: &str) -> AttributeValue {
    AttributeValue::S(format!("backfill#{digest}"))
}

pub fn backfill_claim() -> ClaimAttributes {
    use backfill::*;
    ClaimAttributes { state: BACKFILL_CLAIM, at: BACKFILL_CLAIM_AT, owner: BACKFILL_CLAIM_OWNER }
}

/// Reads a backfill item back; `None` if it is not a whole one.
pub fn backfill_from_item(item: &Item) -> Option<Backfill> {
    use backfill::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let n = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
    let path = PathKey::from_stored(s(incident::PATH)?).path()?;
    let cause = PathCauseKind::parse(s(incident::CAUSE_KIND)?)?;
    let episode = IncidentId { key: IncidentKey { path: path.key(), cause }, opened_at: opened_at(item)? };
    Some(Backfill {
        episode,
        path,
        slots: n(SLOTS)?,
        next_slot: n(NEXT_SLOT)?,
        started: n(STARTED).unwrap_or(0),
        covered: n(COVERED).unwrap_or(0),
        not_copyable: n(NOT_COPYABLE).unwrap_or(0),
        not_copied: s(NOT_COPIED).and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default(),
        in_flight: item
            .get(IN_FLIGHT)
            .and_then(|v| v.as_ss().ok())
            .map(|jobs| jobs.iter().filter_map(|job| CopyJobId::parse(job).ok()).collect())
            .unwrap_or_default(),
        told: item.get(TOLD).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
    })
}

/// The slot number of a slot item (from its key).
pub fn slot_of(item: &Item) -> Option<u64> {
    item.get(PK)?.as_s().ok()?.rsplit_once("#slot#")?.1.parse().ok()
}

pub fn incident_key(key: &IncidentKey) -> AttributeValue {
    AttributeValue::S(format!("incident#{}", incident_name(key)))
}

/// An incident's key without its prefix: its member of `incident#open`.
pub fn incident_name(key: &IncidentKey) -> String {
    format!("{}#{}", key.path.as_str(), key.cause.as_str())
}

pub fn point_key(episode: &IncidentId, point: &RecoveryPointArn) -> AttributeValue {
    AttributeValue::S(format!("episode#{}#point#{point}", episode.digest()))
}

pub fn slot_key(episode: &IncidentId, slot: u64) -> AttributeValue {
    AttributeValue::S(format!("episode#{}#slot#{slot}", episode.digest()))
}

/// The claim attributes of an incident's message.
pub fn incident_claim(kind: IncidentClaimKind) -> ClaimAttributes {
    use incident::*;
    let (state, at, owner) = match kind {
        IncidentClaimKind::Opened => (OPENED_CLAIM, OPENED_CLAIM_AT, OPENED_CLAIM_OWNER),
        IncidentClaimKind::Healed => (HEALED_CLAIM, HEALED_CLAIM_AT, HEALED_CLAIM_OWNER),
    };
    ClaimAttributes { state, at, owner }
}

/// An affected point as its JSON.
pub fn point_json(point: &AffectedPoint) -> AttributeValue {
    string(serde_json::to_string(point).expect("an affected point serialises"))
}

pub fn point_from_json(item: &Item, name: &str) -> Option<AffectedPoint> {
    serde_json::from_str(item.get(name)?.as_s().ok()?).ok()
}

/// When an item's episode opened (the `opened_at` it holds).
pub fn opened_at(item: &Item) -> Option<DateTime<Utc>> {
    parse_timestamp(item.get(incident::OPENED_AT)?.as_s().ok()?)
}

fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|at| at.with_timezone(&Utc))
}

/// Reads an incident item back; `None` if it is not a whole one.
pub fn incident_from_item(item: &Item) -> Option<Incident> {
    use incident::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let path_key = s(PATH)?;
    let path = PathKey::from_stored(path_key).path()?;
    let cause = PathCauseKind::parse(s(CAUSE_KIND)?)?;
    let id = IncidentId { key: IncidentKey { path: path.key(), cause }, opened_at: opened_at(item)? };
    let state = match s(STATE)? {
        HEALED => IncidentState::Healed {
            at: s(HEALED_AT).and_then(parse_timestamp)?,
            by: s(HEALED_BY).and_then(HealedBy::from_stored)?,
        },
        _ => IncidentState::Open,
    };
    let done = |kind| {
        item.get(incident_claim(kind).state).and_then(|v| v.as_s().ok()).map(String::as_str) == Some(copy::CLAIM_DONE)
    };
    Some(Incident {
        id,
        path,
        status_message: s(STATUS_MESSAGE).unwrap_or_default().to_owned(),
        message_category: s(MESSAGE_CATEGORY).map(str::to_owned),
        first: point_from_json(item, FIRST_POINT),
        destination: record_from_item(item).details.destination,
        check_fix: s(CHECK_FIX).map(str::to_owned),
        affected: item.get(AFFECTED).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
        state,
        alerted: done(IncidentClaimKind::Opened),
        healed_told: done(IncidentClaimKind::Healed),
        last_digest_at: s(LAST_DIGEST_AT).and_then(parse_timestamp),
    })
}

pub fn copy_key(id: &CopyJobId) -> AttributeValue {
    AttributeValue::S(format!("copy#{id}"))
}

pub fn refusal_key(token: &IdempotencyToken) -> AttributeValue {
    AttributeValue::S(format!("refusal#{}", token.as_str()))
}

/// The token of a refusal item's key.
pub fn refusal_token(item: &Item) -> Option<&str> {
    item.get(PK)?.as_s().ok()?.strip_prefix("refusal#")
}

/// `<state>_at`: when the job was seen in that state, e.g. `completed_at`.
pub fn state_at(state: CopyJobState) -> String {
    format!("{}_at", state.as_str().to_ascii_lowercase())
}

/// The attributes that keep one kind of claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimAttributes {
    /// `pending` or `done`.
    pub state: &'static str,
    /// When it was taken or last renewed (epoch seconds).
    pub at: &'static str,
    /// Who holds it (the invocation's request id).
    pub owner: &'static str,
}

/// The claim bookkeeping of one kind of side effect.
pub fn claim(kind: ClaimKind) -> ClaimAttributes {
    let (state, at, owner) = match kind {
        ClaimKind::FailureHandling => (copy::FAILURE_CLAIM, copy::FAILURE_CLAIM_AT, copy::FAILURE_CLAIM_OWNER),
        ClaimKind::Alert => (copy::ALERT_CLAIM, copy::ALERT_CLAIM_AT, copy::ALERT_CLAIM_OWNER),
        ClaimKind::Resolution => (copy::RESOLUTION_CLAIM, copy::RESOLUTION_CLAIM_AT, copy::RESOLUTION_CLAIM_OWNER),
    };
    ClaimAttributes { state, at, owner }
}

pub fn timestamp(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub fn string(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

/// A lifecycle as its JSON.
pub fn lifecycle_json(lifecycle: &Lifecycle) -> AttributeValue {
    string(serde_json::to_string(lifecycle).expect("a lifecycle serialises"))
}

/// The details as attributes; the absent ones are left out (and never written).
pub fn detail_attributes(details: &CopyDetails) -> Vec<(&'static str, AttributeValue)> {
    let CopyDetails {
        source_recovery_point,
        source_vault,
        destination_vault,
        destination_recovery_point,
        resource,
        resource_type,
        parent_job,
        child_jobs,
        destination: Destination { vault_type, lock_state, encryption_key },
        destination_lifecycle,
        initiated_by,
    } = details;
    [
        (copy::SOURCE_RECOVERY_POINT_ARN, source_recovery_point.as_ref().map(|a| string(a.as_str()))),
        (copy::SOURCE_VAULT_ARN, source_vault.as_ref().map(|a| string(a.as_str()))),
        (copy::DESTINATION_VAULT_ARN, destination_vault.as_ref().map(|a| string(a.as_str()))),
        (copy::DESTINATION_RECOVERY_POINT_ARN, destination_recovery_point.as_ref().map(|a| string(a.as_str()))),
        (copy::RESOURCE_ARN, resource.as_ref().map(|a| string(a.as_str()))),
        (copy::RESOURCE_TYPE, resource_type.as_ref().map(|kind| string(kind.as_str()))),
        (copy::PARENT_JOB_ID, parent_job.as_ref().map(|id| string(id.as_str()))),
        (copy::CHILD_JOBS, child_jobs.map(number)),
        (copy::DESTINATION_VAULT_TYPE, vault_type.as_ref().map(|kind| string(kind.as_str()))),
        (copy::DESTINATION_VAULT_LOCK_STATE, lock_state.as_ref().map(|state| string(state.as_str()))),
        (copy::DESTINATION_ENCRYPTION_KEY_ARN, encryption_key.as_ref().map(|key| string(key.as_str()))),
        (copy::DESTINATION_LIFECYCLE, destination_lifecycle.as_ref().map(lifecycle_json)),
        (copy::CREATED_BY_BACKUP_JOB_ID, initiated_by.as_ref().map(|id| string(id.as_str()))),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect()
}

/// Reads a copy item back into a record; attributes that do not parse are treated as absent.
pub fn record_from_item(item: &Item) -> CopyJobRecord {
    use copy::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let n = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u32>().ok());
    let lineage = s(ROOT_JOB_ID).and_then(|root| CopyJobId::parse(root).ok()).map(|root| Lineage {
        root,
        attempt: n(ATTEMPT).unwrap_or(0),
        retry_of: s(RETRY_OF).and_then(|id| CopyJobId::parse(id).ok()),
    });
    CopyJobRecord {
        id: s(COPY_JOB_ID).and_then(|id| CopyJobId::parse(id).ok()),
        state: s(STATE).and_then(|state| CopyJobState::parse(state).ok()),
        status_message: s(STATUS_MESSAGE).map(str::to_owned),
        details: CopyDetails {
            source_recovery_point: s(SOURCE_RECOVERY_POINT_ARN).and_then(|a| RecoveryPointArn::parse(a).ok()),
            source_vault: s(SOURCE_VAULT_ARN).and_then(|a| BackupVaultArn::parse(a).ok()),
            destination_vault: s(DESTINATION_VAULT_ARN).and_then(|a| BackupVaultArn::parse(a).ok()),
            destination_recovery_point: s(DESTINATION_RECOVERY_POINT_ARN).and_then(|a| RecoveryPointArn::parse(a).ok()),
            resource: s(RESOURCE_ARN).and_then(|a| ResourceArn::parse(a).ok()),
            resource_type: s(RESOURCE_TYPE).map(ResourceType::parse),
            parent_job: s(PARENT_JOB_ID).and_then(|id| CopyJobId::parse(id).ok()),
            child_jobs: n(CHILD_JOBS),
            destination: Destination {
                vault_type: s(DESTINATION_VAULT_TYPE).map(VaultType::parse),
                lock_state: s(DESTINATION_VAULT_LOCK_STATE).map(VaultLockState::parse),
                encryption_key: s(DESTINATION_ENCRYPTION_KEY_ARN).and_then(|a| KmsKeyArn::parse(a).ok()),
            },
            destination_lifecycle: s(DESTINATION_LIFECYCLE).and_then(|json| serde_json::from_str(json).ok()),
            initiated_by: s(CREATED_BY_BACKUP_JOB_ID).and_then(|id| BackupJobId::parse(id).ok()),
        },
        lineage,
        lifecycle: s(LIFECYCLE).and_then(|json| serde_json::from_str::<Lifecycle>(json).ok()),
        retried_by: s(RETRIED_BY).and_then(|id| CopyJobId::parse(id).ok()),
        outcome: outcome_from_item(item),
        failure_handled: s(claim(ClaimKind::FailureHandling).state) == Some(CLAIM_DONE),
        resolution_published: s(claim(ClaimKind::Resolution).state) == Some(CLAIM_DONE),
        backfill_of: s(BACKFILL_OF).map(str::to_owned),
    }
}

/// The outcome attributes of `outcome` (all of them: an absent decision removes its attribute).
pub fn outcome_attributes(outcome: &ClaimOutcome) -> [(&'static str, Option<AttributeValue>); 6] {
    use copy::*;
    let ClaimOutcome { retry_scheduled, alerted, handled_with_parent, resolved_by, incident } = outcome;
    [
        (RETRY_SCHEDULED, retry_scheduled.map(number)),
        (ALERTED, alerted.as_ref().map(|kind| string(serde_json::to_string(kind).expect("an alert kind serialises")))),
        (HANDLED_WITH_PARENT, handled_with_parent.as_ref().map(|id| string(id.as_str()))),
        (RESOLVED_BY, resolved_by.as_ref().map(|id| string(id.as_str()))),
        (INCIDENT, incident.as_ref().map(|thread| string(thread.as_str()))),
        (OUTCOME, (!outcome.is_empty()).then(|| string(outcome.note()))),
    ]
}

/// The outcome an item records: its fields, or, on an item written before they existed, its words.
fn outcome_from_item(item: &Item) -> ClaimOutcome {
    use copy::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let fields = [RETRY_SCHEDULED, ALERTED, HANDLED_WITH_PARENT, RESOLVED_BY, INCIDENT];
    if !fields.iter().any(|name| item.contains_key(*name)) {
        return s(OUTCOME).map(ClaimOutcome::from_note).unwrap_or_default();
    }
    ClaimOutcome {
        retry_scheduled: item.get(RETRY_SCHEDULED).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()),
        // A kind this version does not know (written by a later one) still says it was alerted.
        alerted: s(ALERTED).map(|json| {
            serde_json::from_str::<AlertKind>(json).unwrap_or_else(|_| {
                let value = serde_json::from_str::<serde_json::Value>(json).unwrap_or_default();
                let kind = value["kind"].as_str().unwrap_or("unknown alert");
                AlertKind::Other { label: kind.replace('_', " ") }
            })
        }),
        handled_with_parent: s(HANDLED_WITH_PARENT).and_then(|id| CopyJobId::parse(id).ok()),
        resolved_by: s(RESOLVED_BY).and_then(|id| CopyJobId::parse(id).ok()),
        incident: s(INCIDENT).map(str::to_owned),
    }
}

/// Whether the item's claim of this kind is finished.
pub fn claim_done(item: &Item, kind: ClaimKind) -> bool {
    item.get(claim(kind).state).and_then(|v| v.as_s().ok()).is_some_and(|s| s == copy::CLAIM_DONE)
}

pub fn cursor_from_item(item: &Item) -> SweepCursor {
    use cursor::*;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let at =
        |name: &str| s(name).and_then(|raw| DateTime::parse_from_rfc3339(raw).ok()).map(|at| at.with_timezone(&Utc));
    SweepCursor {
        resume: at(WINDOW_START).zip(at(SWEEP_STARTED_AT)).map(|(window_start, started_at)| SweepResume {
            window_start,
            // Any other phase (none is written) is read as the listing's: reconciling again is harmless.
            phase: match s(SWEEP_PHASE).map(String::as_str) {
                Some(PHASE_COPIES) => SweepPhase::Copies,
                _ => SweepPhase::Listing(ListingPlace {
                    next_token: s(NEXT_TOKEN).cloned(),
                    last_reconciled: s(LAST_RECONCILED_JOB).and_then(|id| CopyJobId::parse(id).ok()),
                }),
            },
            started_at,
            clean: item.get(SWEEP_CLEAN).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        }),
        verified: at(VERIFIED_WINDOW_START).zip(at(VERIFIED_COMPLETED_BEFORE)).map(
            |(window_start, completed_before)| VerifiedSweep {
                window_start,
                completed_before,
                filters: s(VERIFIED_FILTERS).cloned().unwrap_or_default(),
            },
        ),
    }
}

pub fn cursor_to_item(sweep: &SweepCursor, now: DateTime<Utc>) -> Item {
    use cursor::*;
    let mut item: Item = HashMap::from([
        (PK.to_owned(), string(KEY)),
        (ITEM_TYPE.to_owned(), string(KIND)),
        (UPDATED_AT.to_owned(), timestamp(now)),
    ]);
    let mut put = |name: &str, value| item.insert(name.to_owned(), value);
    if let Some(resume) = &sweep.resume {
        put(WINDOW_START, timestamp(resume.window_start));
        put(SWEEP_STARTED_AT, timestamp(resume.started_at));
        put(SWEEP_CLEAN, AttributeValue::Bool(resume.clean));
        match &resume.phase {
            SweepPhase::Listing(ListingPlace { next_token, last_reconciled }) => {
                put(SWEEP_PHASE, string(PHASE_LISTING));
                if let Some(token) = next_token {
                    put(NEXT_TOKEN, string(token.as_str()));
                }
                if let Some(job) = last_reconciled {
                    put(LAST_RECONCILED_JOB, string(job.as_str()));
                }
            }
            SweepPhase::Copies => {
                put(SWEEP_PHASE, string(PHASE_COPIES));
            }
        }
    }
    if let Some(verified) = &sweep.verified {
        put(VERIFIED_WINDOW_START, timestamp(verified.window_start));
        put(VERIFIED_COMPLETED_BEFORE, timestamp(verified.completed_before));
        put(VERIFIED_FILTERS, string(verified.filters.as_str()));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of this file's `&str` constants, in order.
    fn schema_names() -> Vec<&'static str> {
        include_str!("schema.rs")
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub const ")?.split_once(": &str = \"")?.1.strip_suffix("\";"))
            .collect()
    }

    #[test]
    fn the_docs_name_every_key_and_attribute_of_the_schema_in_its_order() {
        let internals = include_str!("../../../../docs/internals.md");
        let section = internals.split("\n## The tracking table\n").nth(1).expect("docs/internals.md has the section");
        let section = section.split("\n## ").next().unwrap_or_default();
        let schema = schema_names();
        let named: Vec<&str> = section.split('`').skip(1).step_by(2).filter(|code| schema.contains(code)).collect();
        assert!(schema.len() > 30, "{schema:?}");
        assert_eq!(named, schema, "docs/internals.md section `The tracking table` vs schema.rs");
    }

    #[test]
    fn an_outcome_survives_the_round_trip_and_words_alone_are_read_as_before() {
        let item_of = |outcome: &ClaimOutcome| -> Item {
            outcome_attributes(outcome).into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect()
        };
        let congested = ClaimOutcome {
            retry_scheduled: Some(9),
            alerted: Some(AlertKind::CongestionPersists),
            resolved_by: CopyJobId::parse("MANUAL-1").ok(),
            ..ClaimOutcome::default()
        };
        let item = item_of(&congested);
        assert_eq!(item[copy::ALERTED], string(r#"{"kind":"congestion_persists"}"#));
        assert_eq!(outcome_from_item(&item), congested);
        assert_eq!(outcome_from_item(&Item::new()), ClaimOutcome::default());
        assert!(item_of(&ClaimOutcome::default()).is_empty(), "nothing decided: no attribute, not even the words");
        // Written by the previous version: only the words.
        let words = HashMap::from([(copy::OUTCOME.to_owned(), string(congested.note()))]);
        assert_eq!(outcome_from_item(&words), congested);
        // Written by a later version, with a kind this one does not know: still alerted.
        let mut later = item_of(&congested);
        later.insert(copy::ALERTED.to_owned(), string(r#"{"kind":"path_broken"}"#));
        let label = "path broken".to_owned();
        assert_eq!(outcome_from_item(&later).alerted, Some(AlertKind::Other { label }));
    }

    #[test]
    fn a_cursor_saved_before_sweeps_had_phases_is_read_as_the_listings_and_each_phase_round_trips() {
        let at = |raw: &str| DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc);
        // The item as the version before wrote it: a page to read next, no place inside it.
        let item: Item = HashMap::from([
            ("pk".to_owned(), string("reconciler#cursor")),
            ("item_type".to_owned(), string("sweep_cursor")),
            ("updated_at".to_owned(), string("2026-12-06T05:00:04.000Z")),
            ("window_start".to_owned(), string("2026-12-03T05:00:00.000Z")),
            ("next_token".to_owned(), string("AAEAAfvC2...page-2")),
            ("sweep_started_at".to_owned(), string("2026-12-06T05:00:00.000Z")),
            ("sweep_clean".to_owned(), AttributeValue::Bool(true)),
            ("verified_window_start".to_owned(), string("2026-12-03T04:00:00.000Z")),
            ("verified_completed_before".to_owned(), string("2026-12-06T03:55:00.000Z")),
            ("verified_filters".to_owned(), string("destination=;state=")),
        ]);
        let cursor = cursor_from_item(&item);
        let resume = cursor.resume.clone().expect("an unfinished sweep");
        assert_eq!(
            resume,
            SweepResume {
                window_start: at("2026-12-03T05:00:00Z"),
                phase: SweepPhase::Listing(ListingPlace {
                    next_token: Some("AAEAAfvC2...page-2".into()),
                    last_reconciled: None
                }),
                started_at: at("2026-12-06T05:00:00Z"),
                clean: true,
            },
            "taken up at the page's first job"
        );
        assert_eq!(cursor.verified.as_ref().map(|v| v.completed_before), Some(at("2026-12-06T03:55:00Z")));

        let place = ListingPlace {
            next_token: Some("AAEAAfvC2...page-2".into()),
            last_reconciled: CopyJobId::parse("BULK-01199").ok(),
        };
        let inside = SweepResume { phase: SweepPhase::Listing(place), ..resume.clone() };
        let saved = SweepCursor { resume: Some(inside), verified: cursor.verified.clone() };
        let item = cursor_to_item(&saved, Utc::now());
        assert_eq!(item.get(cursor::LAST_RECONCILED_JOB), Some(&string("BULK-01199")));
        assert_eq!(cursor_from_item(&item), saved);
        // The next phase has no place: its item keeps none.
        let copies = SweepCursor { resume: Some(SweepResume { phase: SweepPhase::Copies, ..resume }), ..saved };
        let item = cursor_to_item(&copies, Utc::now());
        assert_eq!((item.get(cursor::SWEEP_PHASE), item.get(cursor::NEXT_TOKEN)), (Some(&string("copies")), None));
        assert_eq!(cursor_from_item(&item), copies);
    }

    #[test]
    fn a_record_survives_the_round_trip_through_its_attributes() {
        let details = CopyDetails {
            source_recovery_point: RecoveryPointArn::parse("arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0")
                .ok(),
            resource_type: Some(ResourceType::Ebs),
            child_jobs: Some(3),
            destination: Destination {
                vault_type: Some(VaultType::LogicallyAirGapped),
                lock_state: Some(VaultLockState::Locked),
                encryption_key: KmsKeyArn::parse("arn:aws:kms:us-west-2:123456789012:key/1234abcd").ok(),
            },
            destination_lifecycle: Some(Lifecycle { delete_after_days: Some(35), ..Lifecycle::default() }),
            initiated_by: BackupJobId::parse("BACKUP-1").ok(),
            ..CopyDetails::default()
        };
        let mut item: Item = detail_attributes(&details).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        item.insert(claim(ClaimKind::FailureHandling).state.to_owned(), string(copy::CLAIM_DONE));
        let record = record_from_item(&item);
        assert_eq!(record.details, details);
        assert!(record.failure_handled && !record.resolution_published);
        item.insert(claim(ClaimKind::Resolution).state.to_owned(), string(copy::CLAIM_DONE));
        assert!(record_from_item(&item).resolution_published);
        assert!(claim_done(&item, ClaimKind::FailureHandling) && !claim_done(&item, ClaimKind::Alert));
    }
}
