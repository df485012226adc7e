//! The tracking table's schema: its keys, every attribute name, and the conversion between items and
//! records. The README's "The tracking table" section names the same keys and attributes in the same
//! order (a test below holds them together).
//!
//! One table, partition key `pk` (string):
//! - `copy#<CopyJobId>`: a copy job's state, timestamps, details, lineage, claims and outcome.
//! - `refusal#<route token>`: a routed copy AWS Backup refused for good.
//! - `reconciler#cursor`: where an unfinished reconciliation sweep stopped.
//!
//! The copies of a recovery point are found through the table's `by-recovery-point` index (on the
//! records' `source_recovery_point_arn`), not kept in a second item that every event would write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::{
    BackupVaultArn, ClaimKind, CopyDetails, CopyJobId, CopyJobRecord, CopyJobState, IdempotencyToken, Lifecycle,
    Lineage, ListingPlace, RecoveryPointArn, ResourceArn, SweepCursor, SweepPhase, SweepResume, VerifiedSweep,
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
    // Lineage: the chain of retries a job belongs to.
    pub const ROOT_JOB_ID: &str = "root_job_id";
    pub const ATTEMPT: &str = "attempt";
    pub const RETRY_OF: &str = "retry_of";
    pub const RETRIED_BY: &str = "retried_by";
    /// JSON of the lifecycle vaultwatch asked for, when vaultwatch started the job.
    pub const LIFECYCLE: &str = "lifecycle";
    pub const REQUESTED_AT: &str = "requested_at";
    /// What vaultwatch did about the job, e.g. `retry 2 scheduled`.
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
    } = details;
    [
        (copy::SOURCE_RECOVERY_POINT_ARN, source_recovery_point.as_ref().map(|a| string(a.as_str()))),
        (copy::SOURCE_VAULT_ARN, source_vault.as_ref().map(|a| string(a.as_str()))),
        (copy::DESTINATION_VAULT_ARN, destination_vault.as_ref().map(|a| string(a.as_str()))),
        (copy::DESTINATION_RECOVERY_POINT_ARN, destination_recovery_point.as_ref().map(|a| string(a.as_str()))),
        (copy::RESOURCE_ARN, resource.as_ref().map(|a| string(a.as_str()))),
        (copy::RESOURCE_TYPE, resource_type.clone().map(string)),
        (copy::PARENT_JOB_ID, parent_job.as_ref().map(|id| string(id.as_str()))),
        (copy::CHILD_JOBS, child_jobs.map(number)),
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
            resource_type: s(RESOURCE_TYPE).map(str::to_owned),
            parent_job: s(PARENT_JOB_ID).and_then(|id| CopyJobId::parse(id).ok()),
            child_jobs: n(CHILD_JOBS),
        },
        lineage,
        lifecycle: s(LIFECYCLE).and_then(|json| serde_json::from_str::<Lifecycle>(json).ok()),
        retried_by: s(RETRIED_BY).and_then(|id| CopyJobId::parse(id).ok()),
        outcome: s(OUTCOME).map(str::to_owned),
        failure_handled: s(claim(ClaimKind::FailureHandling).state) == Some(CLAIM_DONE),
        resolution_published: s(claim(ClaimKind::Resolution).state) == Some(CLAIM_DONE),
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
    fn the_readme_names_every_key_and_attribute_of_the_schema_in_its_order() {
        let readme = include_str!("../../../../README.md");
        let section = readme.split("\n## The tracking table\n").nth(1).expect("README has the section");
        let section = section.split("\n## ").next().unwrap_or_default();
        let schema = schema_names();
        let named: Vec<&str> = section.split('`').skip(1).step_by(2).filter(|code| schema.contains(code)).collect();
        assert!(schema.len() > 30, "{schema:?}");
        assert_eq!(named, schema, "README section `The tracking table` vs schema.rs");
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
            resource_type: Some("EBS".into()),
            child_jobs: Some(3),
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
