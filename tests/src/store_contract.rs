//! The tracking store's contract, one suite for every store: the in-memory one the behaviour tests
//! use (tests/behaviour/store_contract.rs) and the DynamoDB adapter on moto (tests/behaviour/
//! contract.rs, run by the end-to-end suite). A behaviour test passes only on what both do.

use std::time::Duration;

use chrono::Utc;
use vaultwatch::domain::{
    AlertKind, BackupVaultArn, Claim, ClaimKind, ClaimOutcome, ClaimOwner, CopyDetails, CopyJobId, CopyJobState,
    Lifecycle, Lineage, Ownership, StartedCopy, StateChange, StateUpdate,
};
use vaultwatch::ports::TrackingStore;

use crate::record_of;

/// Every part of the contract, each on a job of its own (`fresh` names a job the store has no
/// record of, from a prefix).
pub async fn all(store: &impl TrackingStore, fresh: impl Fn(&str) -> CopyJobId) {
    states_only_move_forward(store, &fresh("JOB")).await;
    claims_are_exclusive_expire_and_can_be_released(store, &fresh("CLAIM")).await;
    claim_ownership(store, &fresh("OWNED")).await;
    claim_outcome(store, &fresh("OUTCOME")).await;
    incidents(store, fresh("PATH").as_str()).await;
    daily_tasks_move_forward_only(store).await;
    path_records(store, fresh("PATHS").as_str()).await;
    backfill_vault_claims(store, fresh("VAULT").as_str()).await;
}

/// One runner per vault starts backfill copies: the vault's claim is exclusive, lapses with its
/// lease and is given back only by its owner.
pub async fn backfill_vault_claims(store: &impl TrackingStore, unique: &str) {
    let vault =
        BackupVaultArn::parse(&format!("arn:aws:backup:us-west-2:123456789012:backup-vault:bf-{unique}")).unwrap();
    let (a, b) = (ClaimOwner::parse("runner-a").unwrap(), ClaimOwner::parse("runner-b").unwrap());
    let lease = Duration::from_secs(330);
    let now = Utc::now();
    assert!(store.claim_backfill_vault(&vault, &a, now, lease).await.unwrap());
    assert!(!store.claim_backfill_vault(&vault, &b, now, lease).await.unwrap(), "one runner at a time");
    assert_eq!(store.release_backfill_vault(&vault, &b).await.unwrap(), Ownership::Lost, "not b's");
    assert_eq!(store.release_backfill_vault(&vault, &a).await.unwrap(), Ownership::Held);
    assert!(store.claim_backfill_vault(&vault, &b, now, lease).await.unwrap(), "given back");
    let later = now + chrono::Duration::seconds(331);
    assert!(store.claim_backfill_vault(&vault, &a, later, lease).await.unwrap(), "taken over after the lease");
    assert_eq!(store.release_backfill_vault(&vault, &a).await.unwrap(), Ownership::Held);
}

/// A path's record: the latest completed copy (never an earlier one over it) and the last check.
pub async fn path_records(store: &impl TrackingStore, unique: &str) {
    use vaultwatch::domain::{PathKey, PathRecord};
    let path = PathKey::from_stored(&format!(
        "arn:aws:backup:us-east-1:123456789012:backup-vault:{unique} arn:aws:backup:us-west-2:123456789012:backup-vault:dr -"
    ));
    let other = PathKey::from_stored(&format!("{} other", path.as_str()));
    assert!(store.path_records(&[path.clone(), other.clone()]).await.unwrap().is_empty(), "never noted");
    use chrono::SubsecRound;
    let t0 = Utc::now().trunc_subsecs(3);
    let (first, later) = (CopyJobId::parse("COPY-1").unwrap(), CopyJobId::parse("COPY-2").unwrap());
    store.note_path_copy(&path, &later, t0).await.unwrap();
    store.note_path_copy(&path, &first, t0 - chrono::Duration::hours(1)).await.unwrap();
    store.note_path_check(&path, t0, "broken").await.unwrap();
    store.note_path_check(&path, t0 + chrono::Duration::hours(1), "ok").await.unwrap();
    let records = store.path_records(&[path.clone(), other]).await.unwrap();
    let expected = PathRecord {
        last_completed: Some((later, t0)),
        last_check: Some((t0 + chrono::Duration::hours(1), "ok".to_owned())),
    };
    assert_eq!(records.get(&path), Some(&expected), "{records:?}");
    assert_eq!(records.len(), 1);
}

/// A daily task's day moves forward only. Days long past, so a table shared with other tests keeps
/// today's tasks due.
pub async fn daily_tasks_move_forward_only(store: &impl TrackingStore) {
    use vaultwatch::ports::DailyTask;
    let task = DailyTask::PathCheck;
    let day = |n: u32| chrono::NaiveDate::from_ymd_opt(2001, 1, n).unwrap();
    match store.done_on(task).await.unwrap() {
        None => {
            assert!(store.mark_done_on(task, day(2)).await.unwrap());
            assert_eq!(store.done_on(task).await.unwrap(), Some(day(2)));
            assert!(!store.mark_done_on(task, day(2)).await.unwrap(), "done that day already");
            assert!(!store.mark_done_on(task, day(1)).await.unwrap(), "never back");
            assert!(store.mark_done_on(task, day(3)).await.unwrap());
            assert_eq!(store.done_on(task).await.unwrap(), Some(day(3)));
        }
        Some(done) => {
            assert!(!store.mark_done_on(task, done).await.unwrap());
            assert!(!store.mark_done_on(task, done.pred_opt().unwrap()).await.unwrap());
            assert_eq!(store.done_on(task).await.unwrap(), Some(done));
        }
    }
}

fn update(id: &CopyJobId, state: CopyJobState) -> StateUpdate {
    StateUpdate { id: id.clone(), state, at: Utc::now(), status_message: None, details: CopyDetails::default() }
}

fn lifecycle(cold: i64, delete: i64) -> Lifecycle {
    Lifecycle { move_to_cold_storage_after_days: Some(cold), delete_after_days: Some(delete), ..Lifecycle::default() }
}

/// A state moves only forward (terminal states share the top rank: the first recorded wins); details
/// are filled once and never overwritten; starting a job never moves its state back.
pub async fn states_only_move_forward(store: &impl TrackingStore, id: &CopyJobId) {
    assert!(matches!(store.apply_state(&update(id, CopyJobState::Running)).await.unwrap(), StateChange::Applied(_)));
    assert!(
        matches!(store.apply_state(&update(id, CopyJobState::Created)).await.unwrap(), StateChange::Stale(r) if r.state == Some(CopyJobState::Running))
    );
    assert!(matches!(store.apply_state(&update(id, CopyJobState::Running)).await.unwrap(), StateChange::Stale(_)));
    let StateChange::Applied(record) = store.apply_state(&update(id, CopyJobState::Failed)).await.unwrap() else {
        panic!()
    };
    assert_eq!(record.state, Some(CopyJobState::Failed));
    assert!(
        matches!(store.apply_state(&update(id, CopyJobState::Completed)).await.unwrap(), StateChange::Stale(r) if r.state == Some(CopyJobState::Failed))
    );

    // Details are filled once and never overwritten; starting a job never moves its state back.
    let vault = BackupVaultArn::parse("arn:aws:backup:us-west-2:123456789012:backup-vault:dr").unwrap();
    let details = CopyDetails {
        destination_vault: Some(vault.clone()),
        resource_type: Some("EBS".into()),
        ..CopyDetails::default()
    };
    store.fill_details(id, &details).await.unwrap();
    let other = CopyDetails { resource_type: Some("RDS".into()), ..CopyDetails::default() };
    store.fill_details(id, &other).await.unwrap();
    let lineage =
        Lineage::original(&CopyJobId::parse("ROOT").unwrap()).next_attempt(&CopyJobId::parse("ROOT").unwrap());
    store
        .record_started(&StartedCopy {
            id: id.clone(),
            details: CopyDetails::default(),
            lineage: lineage.clone(),
            lifecycle: Some(lifecycle(30, 365)),
            at: Utc::now(),
            backfill_of: None,
        })
        .await
        .unwrap();
    store.link_retry(id, &CopyJobId::parse("NEXT").unwrap()).await.unwrap();
    let record = record_of(store, id).await;
    assert_eq!(record.state, Some(CopyJobState::Failed));
    assert_eq!(record.details.resource_type, Some(vaultwatch::domain::ResourceType::Ebs));
    assert_eq!(record.details.destination_vault, Some(vault));
    assert_eq!(record.lineage, Some(lineage));
    assert_eq!(record.lifecycle, Some(lifecycle(30, 365)));
    assert_eq!(record.retried_by.unwrap().as_str(), "NEXT");
}

/// A claim is exclusive per (job, kind) while its lease runs, is taken over once it lapses, can be
/// given back, and once done stays done.
pub async fn claims_are_exclusive_expire_and_can_be_released(store: &impl TrackingStore, id: &CopyJobId) {
    let lease = Duration::from_secs(90);
    let now = Utc::now();
    let (a, b) = (ClaimOwner::parse("request-a").unwrap(), ClaimOwner::parse("request-b").unwrap());
    assert!(matches!(store.claim(id, ClaimKind::Alert, &a, now, lease).await.unwrap(), Claim::Acquired(_)));
    assert_eq!(store.claim(id, ClaimKind::Alert, &b, now, lease).await.unwrap(), Claim::InProgress);
    assert!(
        matches!(store.claim(id, ClaimKind::FailureHandling, &b, now, lease).await.unwrap(), Claim::Acquired(_)),
        "claims are per kind"
    );
    // Abandoned past its lease: taken over.
    let later = now + chrono::Duration::seconds(120);
    assert!(matches!(store.claim(id, ClaimKind::Alert, &b, later, lease).await.unwrap(), Claim::Acquired(_)));
    store.release_claim(id, ClaimKind::Alert, &b).await.unwrap();
    assert!(matches!(store.claim(id, ClaimKind::Alert, &b, later, lease).await.unwrap(), Claim::Acquired(_)));
    let alerted = ClaimOutcome { alerted: Some(AlertKind::PermanentFailure), ..ClaimOutcome::default() };
    assert_eq!(store.finish_claim(id, ClaimKind::Alert, &b, &alerted, None).await.unwrap(), Ownership::Held);
    assert_eq!(
        store.release_claim(id, ClaimKind::Alert, &b).await.unwrap(),
        Ownership::Lost,
        "a done claim stays done"
    );
    assert_eq!(
        store.claim(id, ClaimKind::Alert, &a, later + chrono::Duration::hours(1), lease).await.unwrap(),
        Claim::AlreadyDone
    );
    assert_eq!(record_of(store, id).await.outcome, alerted);
}

/// The store's side of claim ownership, for any store (the in-memory one in the behaviour tests,
/// the DynamoDB adapter on moto in the contract tests): only a claim's owner renews, finishes or
/// gives it back; a renewal starts its lease again; a claim taken over after its lease lapsed is
/// its new owner's alone. `id` must name a job the store has no record of.
pub async fn claim_ownership(store: &impl TrackingStore, id: &CopyJobId) {
    use vaultwatch::domain::{Claim, ClaimKind, ClaimOwner, Ownership};
    let lease = std::time::Duration::from_secs(90);
    let now = Utc::now();
    let (a, b) = (ClaimOwner::parse("request-a").unwrap(), ClaimOwner::parse("request-b").unwrap());
    let kind = ClaimKind::FailureHandling;
    assert!(matches!(store.claim(id, kind, &a, now, lease).await.unwrap(), Claim::Acquired(_)));
    assert_eq!(store.renew_claim(id, kind, &b, now).await.unwrap(), Ownership::Lost);
    // A renewal starts the lease again: a claim renewed at +60 s is not abandoned at +120 s.
    let renewed = now + chrono::Duration::seconds(60);
    assert_eq!(store.renew_claim(id, kind, &a, renewed).await.unwrap(), Ownership::Held);
    let later = now + chrono::Duration::seconds(120);
    assert_eq!(store.claim(id, kind, &b, later, lease).await.unwrap(), Claim::InProgress);
    // A outlives its renewed lease: B takes the claim over, and A can no longer act on it.
    let takeover = renewed + chrono::Duration::seconds(91);
    assert!(matches!(store.claim(id, kind, &b, takeover, lease).await.unwrap(), Claim::Acquired(_)));
    assert_eq!(store.renew_claim(id, kind, &a, takeover).await.unwrap(), Ownership::Lost);
    assert_eq!(store.release_claim(id, kind, &a).await.unwrap(), Ownership::Lost);
    assert_eq!(store.claim(id, kind, &a, takeover, lease).await.unwrap(), Claim::InProgress, "B's claim stands");
    let late = ClaimOutcome { alerted: Some(AlertKind::PermanentFailure), ..ClaimOutcome::default() };
    let retry = ClaimOutcome { retry_scheduled: Some(1), ..ClaimOutcome::default() };
    assert_eq!(store.finish_claim(id, kind, &a, &late, None).await.unwrap(), Ownership::Lost);
    let record = record_of(store, id).await;
    assert_eq!((record.outcome, record.failure_handled), (ClaimOutcome::default(), false));
    assert_eq!(store.finish_claim(id, kind, &b, &retry, None).await.unwrap(), Ownership::Held);
    // A finish repeated (its first response lost) is still its owner's; a finished claim is not
    // given back.
    assert_eq!(store.finish_claim(id, kind, &b, &retry, None).await.unwrap(), Ownership::Held);
    assert_eq!(store.release_claim(id, kind, &b).await.unwrap(), Ownership::Lost);
    assert_eq!(store.finish_claim(id, kind, &a, &late, None).await.unwrap(), Ownership::Lost);
    let record = record_of(store, id).await;
    assert_eq!((record.outcome, record.failure_handled), (retry, true));
}

/// The store's side of outcomes, for any store: a claim's finish records the whole outcome its
/// holder leaves, field by field, and a later claim's finish replaces it (an alert after a retry
/// was refused drops the retry; a resolution keeps the alert it resolves). `id` must name a job
/// the store has no record of.
pub async fn claim_outcome(store: &impl TrackingStore, id: &CopyJobId) {
    use vaultwatch::domain::{Claim, ClaimKind, ClaimOwner, NotCopyable};
    let lease = std::time::Duration::from_secs(90);
    let owner = ClaimOwner::parse("request-a").unwrap();
    let finish = async |kind, outcome: &ClaimOutcome| {
        assert!(matches!(store.claim(id, kind, &owner, Utc::now(), lease).await.unwrap(), Claim::Acquired(_)));
        store.finish_claim(id, kind, &owner, outcome, None).await.unwrap();
        record_of(store, id).await.outcome
    };
    let congested = ClaimOutcome {
        retry_scheduled: Some(9),
        alerted: Some(AlertKind::CongestionPersists),
        ..ClaimOutcome::default()
    };
    assert_eq!(finish(ClaimKind::FailureHandling, &congested).await, congested);
    let cold =
        AlertKind::NotCopyable { why: NotCopyable::ColdBeforeRetry { at: "2026-12-07T01:02:03.5Z".parse().unwrap() } };
    let refused = ClaimOutcome { alerted: Some(cold), ..ClaimOutcome::default() };
    assert_eq!(finish(ClaimKind::Alert, &refused).await, refused, "the retry scheduled is gone with the alert");
    let resolved = ClaimOutcome { resolved_by: Some(CopyJobId::parse("MANUAL-1").unwrap()), ..refused };
    assert_eq!(finish(ClaimKind::Resolution, &resolved).await, resolved);
}

/// A path's incident, for any store: the first failure opens it, each recovery point is counted
/// once however often it fails and however many writers meet at once, another kind of cause is
/// another incident, each episode's messages are claimed once, and digests are recorded once per
/// due time. `unique` makes the path one the store has not seen.
pub async fn incidents(store: &impl TrackingStore, unique: &str) {
    use chrono::SubsecRound;
    use vaultwatch::domain::{
        AffectedPoint, CopyPath, Destination, IamRoleArn, IncidentId, PathCauseKind, PathFailure, RecoveryPointArn,
    };
    use vaultwatch::ports::{IncidentClaim, IncidentClaimKind};

    let vault = |region: &str, name: &str| {
        BackupVaultArn::parse(&format!("arn:aws:backup:{region}:123456789012:backup-vault:{name}-{unique}")).unwrap()
    };
    let path = CopyPath {
        source_vault: vault("us-east-1", "primary"),
        destination_vault: vault("us-west-2", "dr"),
        role: Some(IamRoleArn::parse("arn:aws:iam::123456789012:role/backup").unwrap()),
    };
    let failure = |point: &str, kind| PathFailure {
        path: path.clone(),
        kind,
        status_message: "Unable to access KMS key: the key is disabled.".into(),
        message_category: None,
        point: Some(AffectedPoint {
            recovery_point: RecoveryPointArn::parse(&format!("arn:aws:ec2:us-east-1::snapshot/snap-{point}")).unwrap(),
            copy_job: CopyJobId::parse(&format!("JOB-{point}")).ok(),
            resource: None,
            resource_type: Some("EBS".into()),
            lifecycle: Some(lifecycle(30, 365)),
            plan_rule: None,
        }),
        destination: Destination::default(),
        check_fix: None,
    };
    let t0 = Utc::now().trunc_subsecs(3);
    let kms = PathCauseKind::KmsKey;

    let first = store.record_path_failure(&failure("a", kms), t0).await.unwrap();
    assert!(first.opened && first.added, "{first:?}");
    assert_eq!((first.incident.affected, first.incident.id.opened_at), (1, t0));
    assert!(first.incident.is_open() && !first.incident.alerted);
    assert_eq!(first.incident.first, failure("a", kms).point);
    assert_eq!(first.incident.path, path);
    let id = first.incident.id.clone();

    let again = store.record_path_failure(&failure("a", kms), t0 + chrono::Duration::seconds(1)).await.unwrap();
    assert!(!again.opened && !again.added, "the same recovery point counts once: {again:?}");
    assert_eq!((again.incident.affected, &again.incident.id), (1, &id));

    // Writers meeting on the path at once: one episode, each point counted once. Two failures of a
    // point (two copy jobs) may meet: the one that finds the other numbering it is told to try again
    // (a transient error: the failure is delivered again), as a redelivery would.
    let points: Vec<String> = (0..8).map(|n| format!("p{n}")).collect();
    let twice = points.iter().map(|point| (point, "")).chain(points.iter().map(|point| (point, "-again")));
    let entries = futures_util::future::join_all(twice.map(|(point, again)| {
        let mut failure = failure(point, kms);
        failure.point.as_mut().unwrap().copy_job = CopyJobId::parse(&format!("JOB-{point}{again}")).ok();
        async move {
            loop {
                match store.record_path_failure(&failure, t0 + chrono::Duration::seconds(2)).await {
                    Ok(entry) => break entry,
                    Err(err) if err.is_transient() => tokio::task::yield_now().await,
                    Err(err) => panic!("{err}"),
                }
            }
        }
    }))
    .await;
    assert!(entries.iter().all(|entry| !entry.opened && entry.incident.id == id));
    assert_eq!(entries.iter().filter(|entry| entry.added).count(), 8);
    let incident = store.incident(&id.key).await.unwrap().expect("the incident");
    assert_eq!(incident.affected, 9);

    // Another kind of cause on the same path is another incident.
    let denied = store.record_path_failure(&failure("a", PathCauseKind::Access), t0).await.unwrap();
    assert!(denied.opened && denied.added && denied.incident.id != id);

    // The path check's finding opens an incident with nothing affected yet, once; the first failure
    // that joins it is its first affected recovery point, and the check's fix stays.
    let found = PathFailure::found_by_check(path.clone(), PathCauseKind::VaultAccessPolicy, "no policy", "add it");
    let checked = store.record_path_failure(&found, t0).await.unwrap();
    assert!(checked.opened && !checked.added, "{checked:?}");
    assert_eq!((checked.incident.affected, &checked.incident.first), (0, &None));
    assert_eq!(checked.incident.check_fix.as_deref(), Some("add it"));
    let found_again = store.record_path_failure(&found, t0 + chrono::Duration::days(1)).await.unwrap();
    assert!(!found_again.opened && found_again.incident.id == checked.incident.id, "{found_again:?}");
    let joining = failure("b", PathCauseKind::VaultAccessPolicy);
    let joined = store.record_path_failure(&joining, t0 + chrono::Duration::days(1)).await.unwrap();
    assert!(!joined.opened && joined.added && joined.incident.id == checked.incident.id, "{joined:?}");
    assert_eq!((joined.incident.affected, &joined.incident.first), (1, &joining.point));
    assert_eq!(joined.incident.check_fix.as_deref(), Some("add it"));
    assert!(store.open_incidents().await.unwrap().iter().any(|incident| incident.id == checked.incident.id));

    // The opening alert, once per episode.
    let lease = Duration::from_secs(330);
    let (a, b) = (ClaimOwner::parse("request-a").unwrap(), ClaimOwner::parse("request-b").unwrap());
    let claim = async |owner| store.claim_incident(&id, IncidentClaimKind::Opened, owner, t0, lease).await.unwrap();
    assert!(matches!(claim(&a).await, IncidentClaim::Acquired(incident) if incident.id == id));
    assert_eq!(claim(&b).await, IncidentClaim::InProgress);
    assert_eq!(store.finish_incident_claim(&id, IncidentClaimKind::Opened, &b).await.unwrap(), Ownership::Lost);
    assert_eq!(store.finish_incident_claim(&id, IncidentClaimKind::Opened, &a).await.unwrap(), Ownership::Held);
    assert_eq!(claim(&b).await, IncidentClaim::AlreadyDone);
    assert!(store.incident(&id.key).await.unwrap().unwrap().alerted);
    // A claim given back can be taken again; one of another episode is gone.
    let healed_claim =
        async |owner| store.claim_incident(&id, IncidentClaimKind::Healed, owner, t0, lease).await.unwrap();
    assert!(matches!(healed_claim(&a).await, IncidentClaim::Acquired(_)));
    assert_eq!(store.release_incident_claim(&id, IncidentClaimKind::Healed, &b).await.unwrap(), Ownership::Lost);
    assert_eq!(store.release_incident_claim(&id, IncidentClaimKind::Healed, &a).await.unwrap(), Ownership::Held);
    assert!(matches!(healed_claim(&b).await, IncidentClaim::Acquired(_)));
    let other = IncidentId { opened_at: t0 - chrono::Duration::days(1), ..id.clone() };
    let gone = store.claim_incident(&other, IncidentClaimKind::Opened, &a, t0, lease).await.unwrap();
    assert_eq!(gone, IncidentClaim::Gone);

    // Digests: one writer per due time.
    let t1 = t0 + chrono::Duration::hours(24);
    assert!(store.mark_digest(&id, None, t1).await.unwrap());
    assert!(!store.mark_digest(&id, None, t1).await.unwrap(), "already recorded");
    assert!(store.mark_digest(&id, Some(t1), t1 + chrono::Duration::hours(24)).await.unwrap());
    assert!(!store.mark_digest(&other, None, t1).await.unwrap(), "not the current episode");
    let incident = store.incident(&id.key).await.unwrap().unwrap();
    assert_eq!(incident.last_digest_at, Some(t1 + chrono::Duration::hours(24)));

    // Open incidents are listed together (the store may hold others', from other paths).
    let open = store.open_incidents().await.unwrap();
    assert!(open.iter().any(|incident| incident.id == id) && open.iter().all(|incident| incident.is_open()));

    // Healing: once, the episode no longer open; a path's incidents read together.
    let on_path = store.incidents_on(&path.key()).await.unwrap();
    assert_eq!(on_path.len(), 3, "{on_path:?}");
    let by = vaultwatch::domain::HealedBy::Copy(CopyJobId::parse("NEXT-NIGHT").unwrap());
    assert!(store.heal_incident(&id, &by, t1).await.unwrap());
    assert!(!store.heal_incident(&id, &by, t1).await.unwrap(), "healed once");
    let healed = store.incident(&id.key).await.unwrap().unwrap();
    assert_eq!(healed.state, vaultwatch::domain::IncidentState::Healed { at: t1, by });
    assert!(store.open_incidents().await.unwrap().iter().all(|incident| incident.id != id), "no longer open");

    // The backfill: its slots read by number, one runner at a time, each slot settled once.
    backfills(store, &healed).await;
    // Nothing left open for the functions sharing the table (a sweep would tell an untold incident).
    assert!(store.heal_incident(&denied.incident.id, &vaultwatch::domain::HealedBy::PathCheck, t1).await.unwrap());
    assert!(store.heal_incident(&checked.incident.id, &vaultwatch::domain::HealedBy::PathCheck, t1).await.unwrap());
}

/// A healed episode's backfill, for any store (`healed` has 9 affected recovery points).
async fn backfills(store: &impl TrackingStore, healed: &vaultwatch::domain::Incident) {
    use vaultwatch::domain::{Backfill, NotBackfilled, SlotSettled};
    let id = &healed.id;
    let lease = Duration::from_secs(330);
    let (a, b) = (ClaimOwner::parse("runner-a").unwrap(), ClaimOwner::parse("runner-b").unwrap());
    let slots = store.affected_slots(id, 1, 20).await.unwrap();
    assert_eq!(slots.iter().map(|(slot, _)| *slot).collect::<Vec<_>>(), (1..=9).collect::<Vec<_>>());
    assert!(store.affected_slots(id, 3, 2).await.unwrap().is_empty());

    store.open_backfill(&Backfill::of(healed)).await.unwrap();
    store.open_backfill(&Backfill::of(healed)).await.unwrap();
    let active = store.active_backfills().await.unwrap();
    let ours: Vec<_> = active.iter().filter(|backfill| backfill.episode == *id).collect();
    assert_eq!(ours.len(), 1, "opened once: {active:?}");
    assert_eq!((ours[0].slots, ours[0].next_slot, ours[0].started), (9, 1, 0));

    let now = Utc::now();
    let held = store.claim_backfill(id, &a, now, lease).await.unwrap().expect("free");
    assert_eq!(held.next_slot, 1);
    assert!(store.claim_backfill(id, &b, now, lease).await.unwrap().is_none(), "one runner at a time");
    let job = CopyJobId::parse("BACKFILL-1").unwrap();
    let started = SlotSettled::Started(job.clone());
    assert_eq!(store.settle_backfill_slot(id, &b, 1, &started).await.unwrap(), Ownership::Lost, "not b's");
    assert_eq!(store.settle_backfill_slot(id, &a, 1, &started).await.unwrap(), Ownership::Held);
    assert_eq!(store.settle_backfill_slot(id, &a, 1, &started).await.unwrap(), Ownership::Lost, "settled once");
    let gone = NotBackfilled { recovery_point: slots[1].1.recovery_point.clone(), why: "deleted".into() };
    let not_copyable = SlotSettled::NotCopyable(gone.clone());
    assert_eq!(store.settle_backfill_slot(id, &a, 2, &not_copyable).await.unwrap(), Ownership::Held);
    assert_eq!(store.settle_backfill_slot(id, &a, 3, &SlotSettled::Empty).await.unwrap(), Ownership::Held);
    assert_eq!(store.release_backfill(id, &a).await.unwrap(), Ownership::Held);
    let held = store.claim_backfill(id, &b, now, lease).await.unwrap().expect("given back");
    assert_eq!((held.next_slot, held.started, held.not_copyable), (4, 1, 1));
    assert_eq!(held.in_flight.iter().collect::<Vec<_>>(), [&job]);
    assert_eq!(held.not_copied, [gone]);

    store.backfill_copy_ended(&id.digest(), &job).await.unwrap();
    assert!(!store.finish_backfill(id, &a).await.unwrap(), "not a's");
    assert!(store.finish_backfill(id, &b).await.unwrap());
    assert!(!store.finish_backfill(id, &b).await.unwrap(), "told once");
    assert!(store.active_backfills().await.unwrap().iter().all(|backfill| backfill.episode != *id), "no longer active");
    let ended = store.claim_backfill(id, &a, now + chrono::Duration::hours(1), lease).await.unwrap().unwrap();
    assert!(ended.in_flight.is_empty() && ended.told);
}
