//! The reconciler's daily path check: a route whose destination key is disabled is found broken
//! before any copy on it fails (one incident, one alert naming the check's fix, no copy started onto
//! it); the check runs once a day; the next day's check finds the key enabled and heals the incident
//! with one message, and the route's missing copy starts.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use vaultwatch::domain::{
    HealedBy, IamRoleArn, IncidentMessage, IncidentState, KeyFacts, KeyManager, KeyState, KmsKeyArn, PathCauseKind,
    RecoveryPointArn, RouteTable, SimulatedDecision, COPY_INTO_BACKUP_VAULT,
};
use vaultwatch::handlers::deploy_check::ReconcilerFunction;
use vaultwatch::handlers::reconciler::{DailyPathCheck, Reconciler};
use vaultwatch::ports::memory::{
    transient_error, Call, MemoryAlerts, MemoryBackup, MemoryPathFacts, MemoryQueue, MemoryStore,
};
use vaultwatch::ports::TrackingStore;
use vaultwatch_tests::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/copy";
const SOURCE_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111";
const DR_KEY: &str = "arn:aws:kms:us-west-2:123456789012:key/22222222-2222-2222-2222-222222222222";

type Watched = Reconciler<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue, MemoryPathFacts>;

fn set_key(facts: &MemoryPathFacts, arn: &str, state: KeyState) {
    let policy = json!({ "Statement": [{ "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
        "Action": "kms:*", "Resource": "*" }] });
    let key = KeyFacts { arn: KmsKeyArn::parse(arn).unwrap(), state, manager: KeyManager::Customer };
    facts.add_key(key, &policy.to_string());
}

/// A route from `primary` to the DR vault with a backup of the day not yet copied, and the facts
/// the path check reads: both vaults on customer managed keys (the DR one disabled), the route's
/// role allowed to copy into the DR vault.
fn watched(now: DateTime<Utc>) -> Watched {
    let routes = json!([{ "sourceVault": "primary", "destinationVaultArn": DR_VAULT, "resourceTypes": ["EBS"] }]);
    let backup = MemoryBackup::new();
    backup.add_backup_job(completed_backup(
        "BACKUP-1",
        "arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1",
        now - Duration::hours(1),
    ));
    let facts = MemoryPathFacts::new();
    facts.add_vault(crate::paths::keyed(SOURCE_VAULT, SOURCE_KEY));
    facts.add_vault(crate::paths::keyed(DR_VAULT, DR_KEY));
    set_key(&facts, SOURCE_KEY, KeyState::Enabled);
    set_key(&facts, DR_KEY, KeyState::Disabled);
    facts.add_role(&IamRoleArn::parse(ROLE).unwrap(), &[(COPY_INTO_BACKUP_VAULT, SimulatedDecision::Allowed)]);
    let routes = RouteTable::from_json(&routes.to_string()).unwrap();
    let mut reconciler = memory_reconciler(backup, routes, Some(IamRoleArn::parse(ROLE).unwrap()));
    reconciler.path_check = Some(DailyPathCheck { facts, region: "us-east-1".into() });
    reconciler
}

/// The path's record in the tracking table.
async fn noted(store: &MemoryStore, key: &vaultwatch::domain::PathKey) -> vaultwatch::domain::PathRecord {
    store.path_records(std::slice::from_ref(key)).await.unwrap().remove(key).expect("the path's record")
}

fn facts(reconciler: &Watched) -> &MemoryPathFacts {
    &reconciler.path_check.as_ref().unwrap().facts
}

/// The day's check leaves one log line per path: its verdict and, when broken, the cause, what was
/// found and the fix.
#[tokio::test]
async fn the_days_check_logs_each_paths_verdict_with_its_fix() {
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let reconciler = watched(day1);
    let logs = crate::logs::Logs::default();
    logs.during(reconciler.run(day1, || false)).await.unwrap();
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains("\"message\":\"path check: ")).collect();
    let [line] = &lines[..] else { panic!("one line for the one path: {text}") };
    assert!(line.contains("path check: broken") && line.contains("\"cause\":\"kms_key\""), "{line}");
    assert!(line.contains(&format!("enable-key --key-id {DR_KEY}")), "the fix: {line}");
}

#[tokio::test]
async fn a_broken_route_is_found_before_its_first_copy_fails_and_healed_when_the_check_finds_it_fixed() {
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let reconciler = watched(day1);

    let first = reconciler.run(day1, || false).await.unwrap();
    let checked = first.path_check.as_ref().expect("the day's check ran");
    assert_eq!((checked.checked, checked.verdicts.broken, checked.incidents_found), (1, 1, 1), "{first:?}");
    assert_eq!((first.incidents_opened, first.broken_paths, first.errors), (1, Some(1), 0), "{first:?}");
    assert_eq!(first.missing_copies_started, 0, "no copy started onto a path found broken");
    assert!(reconciler.backup.started_copies().is_empty());
    let messages = reconciler.alerts.incident_messages();
    let [IncidentMessage::Opened(incident)] = &messages[..] else { panic!("one alert: {messages:?}") };
    assert_eq!(incident.id.key.cause, PathCauseKind::KmsKey);
    assert_eq!((incident.affected, &incident.first), (0, &None));
    assert!(incident.check_fix.as_deref().is_some_and(|fix| fix.contains(DR_KEY)), "{incident:?}");
    assert!(reconciler.alerts.published().is_empty(), "no per-copy alert");
    let key = incident.id.key.path.clone();
    let record = noted(&reconciler.store, &key).await;
    assert_eq!(record.last_check, Some((day1, "broken".to_owned())));

    // Later sweeps of the day: no second check, nothing more said.
    let described = facts(&reconciler).calls(Call::DescribeBackupVault);
    let again = reconciler.run(day1 + Duration::hours(1), || false).await.unwrap();
    assert_eq!((again.path_check.as_ref(), again.incidents_opened), (None, 0), "{again:?}");
    assert_eq!(facts(&reconciler).calls(Call::DescribeBackupVault), described);
    assert_eq!(reconciler.alerts.incident_messages().len(), 1);

    // The key is enabled; the next day's check finds the cause gone: one "healed" message, and the
    // route's missing copy starts.
    set_key(facts(&reconciler), DR_KEY, KeyState::Enabled);
    let day2 = day1 + Duration::days(1);
    let healed = reconciler.run(day2, || false).await.unwrap();
    let checked = healed.path_check.as_ref().expect("the next day's check ran");
    assert_eq!((checked.verdicts.ok, checked.incidents_cleared), (1, 1), "{healed:?}");
    assert_eq!((healed.incidents_healed, healed.broken_paths, healed.missing_copies_started), (1, Some(0), 1));
    let messages = reconciler.alerts.incident_messages();
    let [_, IncidentMessage::Healed { incident, backfill: false }] = &messages[..] else {
        panic!("one healed message, nothing to backfill: {messages:?}")
    };
    assert!(matches!(&incident.state, IncidentState::Healed { by: HealedBy::PathCheck, .. }), "{incident:?}");
    let record = noted(&reconciler.store, &key).await;
    assert_eq!(record.last_check, Some((day2, "ok".to_owned())));
}

#[tokio::test]
async fn a_check_that_cannot_finish_is_tried_again_on_the_next_sweep_of_the_day() {
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let reconciler = watched(day1);
    facts(&reconciler).fail_next(
        Call::DescribeBackupVault,
        1,
        transient_error("backup", "DescribeBackupVault", "ThrottlingException"),
    );
    let first = reconciler.run(day1, || false).await.unwrap();
    assert_eq!((first.path_check.as_ref(), first.errors), (None, 1), "{first:?}");
    assert!(reconciler.alerts.incident_messages().is_empty());
    let second = reconciler.run(day1 + Duration::hours(1), || false).await.unwrap();
    assert_eq!(second.path_check.as_ref().map(|checked| checked.incidents_found), Some(1), "{second:?}");
    assert_eq!(reconciler.alerts.incident_messages().len(), 1);
}

#[tokio::test]
async fn an_incident_a_failure_opened_is_healed_by_the_check_only_when_the_checks_of_its_cause_say_ok() {
    use vaultwatch::domain::{AffectedPoint, CopyPath, Destination, PathFailure};
    use vaultwatch::ports::TrackingStore;
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let reconciler = watched(day1);
    set_key(facts(&reconciler), DR_KEY, KeyState::Enabled);
    let path = CopyPath {
        source_vault: vault(SOURCE_VAULT),
        destination_vault: vault(DR_VAULT),
        role: Some(IamRoleArn::parse(ROLE).unwrap()),
    };
    let failure = |kind, point: &str| PathFailure {
        path: path.clone(),
        kind,
        status_message: PATH_FAILURE.into(),
        message_category: None,
        point: Some(AffectedPoint {
            recovery_point: RecoveryPointArn::parse(&format!("arn:aws:ec2:us-east-1::snapshot/snap-{point}")).unwrap(),
            copy_job: None,
            resource: None,
            resource_type: Some("EBS".into()),
            lifecycle: None,
            plan_rule: None,
        }),
        destination: Destination::default(),
        check_fix: None,
    };
    // A KMS incident (its checks now ok) and one the check cannot see (iam:PassRole is the starter's).
    for kind in [PathCauseKind::KmsKey, PathCauseKind::PassRole] {
        reconciler
            .store
            .record_path_failure(&failure(kind, "0123456789abcdef0"), day1 - Duration::hours(2))
            .await
            .unwrap();
    }
    let summary = reconciler.run(day1, || false).await.unwrap();
    let checked = summary.path_check.as_ref().unwrap();
    assert_eq!((checked.incidents_cleared, checked.incidents_found), (1, 0), "{summary:?}");
    let incidents = reconciler.store.incidents();
    let state = |kind| incidents.iter().find(|incident| incident.id.key.cause == kind).unwrap().is_open();
    assert!(!state(PathCauseKind::KmsKey) && state(PathCauseKind::PassRole), "{incidents:?}");
}

/// A CloudFormation custom resource request to the reconciler's function.
fn deploy_request(kind: &str) -> serde_json::Value {
    let mut request = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:copy-job-reconciler",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/put-here",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1",
        "RequestId": "req-1",
        "LogicalResourceId": "PathCheckAtDeploy",
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "ResourceProperties": { "CopyRoutes": "[]" },
    });
    if kind != "Create" {
        request["PhysicalResourceId"] = json!("vaultwatch-path-check-PathCheckAtDeploy");
    }
    if kind == "Update" {
        request["OldResourceProperties"] = json!({ "CopyRoutes": "" });
    }
    request
}

type Function = ReconcilerFunction<
    MemoryBackup,
    MemoryStore,
    MemoryAlerts,
    MemoryQueue,
    MemoryPathFacts,
    vaultwatch::ports::memory::MemoryResponder,
>;

fn function(reconciler: Watched) -> Function {
    ReconcilerFunction { reconciler, responder: Default::default() }
}

/// An answer's status as CloudFormation reads it.
fn status<T: serde::Serialize>(response: &T) -> serde_json::Value {
    serde_json::to_value(response).unwrap()["Status"].clone()
}

/// Milliseconds since the epoch of a deadline a minute away.
fn a_minute_away() -> u64 {
    u64::try_from((Utc::now() + Duration::minutes(1)).timestamp_millis()).unwrap()
}

#[tokio::test]
async fn at_deploy_the_check_runs_once_alerts_a_broken_path_and_always_answers_success() {
    let owner = vaultwatch::domain::ClaimOwner::parse("deploy-1").unwrap();
    let function = function(watched(Utc::now()));
    let summary = function.handle(&deploy_request("Create"), a_minute_away(), &owner).await.unwrap();
    assert_eq!(summary.path_check.as_ref().map(|checked| checked.incidents_found), Some(1), "{summary:?}");
    assert!(summary.incidents_opened == 1 && summary.complete, "{summary:?}");
    let [(url, response)] = &function.responder.responses()[..] else { panic!("one answer") };
    assert!(url.ends_with("/put-here"));
    assert_eq!(
        (status(response), response.physical_resource_id.as_str()),
        (json!("SUCCESS"), "vaultwatch-path-check-PathCheckAtDeploy")
    );
    let reason = response.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("path check: 1 paths, 0 ok, 1 broken, 0 cannot tell")
            && reason.contains("1 incidents opened"),
        "{reason}"
    );
    let messages = function.reconciler.alerts.incident_messages();
    assert!(matches!(&messages[..], [IncidentMessage::Opened(_)]), "{messages:?}");
    // No copy started: the deploy only checks; the sweep still runs its daily check (the day is not marked).
    assert!(function.reconciler.backup.started_copies().is_empty());

    // An update whose check cannot finish still answers SUCCESS, and says so; a delete does nothing.
    facts(&function.reconciler).fail_next(
        Call::DescribeBackupVault,
        1,
        transient_error("backup", "DescribeBackupVault", "ThrottlingException"),
    );
    let failed = function.handle(&deploy_request("Update"), a_minute_away(), &owner).await.unwrap();
    assert_eq!((failed.path_check.as_ref(), failed.errors), (None, 1), "{failed:?}");
    function.handle(&deploy_request("Delete"), a_minute_away(), &owner).await.unwrap();
    let responses = function.responder.responses();
    assert_eq!(responses.len(), 3);
    assert!(responses.iter().all(|(_, response)| status(response) == json!("SUCCESS")));
    assert!(responses[1].1.reason.as_deref().unwrap().contains("could not finish"), "{:?}", responses[1].1.reason);
    assert_eq!(responses[2].1.reason.as_deref(), Some("nothing to do: incidents stay as they are"));
    assert_eq!(function.reconciler.alerts.incident_messages().len(), 1, "told once");

    // A request that names where to answer but is none CloudFormation sends: answered, nothing done.
    let odd = json!({ "ResponseURL": "https://cloudformation-custom-resource-response.example/put-here",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1", "RequestId": "req-odd" });
    let answered = function.handle(&odd, a_minute_away(), &owner).await.unwrap();
    assert_eq!((answered.path_check.as_ref(), answered.pages), (None, 0), "no sweep: {answered:?}");
    let responses = function.responder.responses();
    let (_, last) = responses.last().unwrap();
    assert_eq!((status(last), last.request_id.as_str()), (json!("SUCCESS"), "req-odd"));
    assert!(last.reason.as_deref().unwrap().starts_with("not a Create, Update or Delete"), "{:?}", last.reason);

    // A scheduled event is a sweep, not an answer to CloudFormation.
    let event = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-12-01T02:00:00Z" });
    let swept = function.handle(&event, a_minute_away(), &owner).await.unwrap();
    assert!(swept.complete && swept.pages == 1 && function.responder.responses().len() == 4, "{swept:?}");
}

#[tokio::test]
async fn with_the_path_check_off_the_deploy_answers_success_and_checks_nothing() {
    let owner = vaultwatch::domain::ClaimOwner::parse("deploy-2").unwrap();
    let mut reconciler = watched(Utc::now());
    let facts = reconciler.path_check.take().unwrap().facts;
    let function = function(reconciler);
    let summary = function.handle(&deploy_request("Create"), a_minute_away(), &owner).await.unwrap();
    assert_eq!((summary.path_check.as_ref(), summary.incidents_opened), (None, 0));
    let [(_, response)] = &function.responder.responses()[..] else { panic!("one answer") };
    assert_eq!(
        (status(response), response.reason.as_deref()),
        (json!("SUCCESS"), Some("the path check is off (PathCheck off)"))
    );
    assert_eq!(facts.calls(Call::DescribeBackupVault), 0);
    assert!(function.reconciler.alerts.incident_messages().is_empty());
}

/// A path no route or plan names, on which the sweep saw a copy complete (one started by hand, or by
/// another tool), is checked too: its destination key disabled since, its incident opens.
#[tokio::test]
async fn a_path_the_sweep_saw_copies_on_is_checked_too() {
    use vaultwatch::domain::{CopyJobState, PathOrigin};
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let mut reconciler = watched(day1);
    reconciler.routes = RouteTable::default();
    let mut copied = failed_copy_job();
    copied.state = CopyJobState::Completed;
    copied.status_message = None;
    copied.destination_vault = vault(DR_VAULT);
    copied.iam_role = Some(IamRoleArn::parse(ROLE).unwrap());
    copied.completed_at = Some(day1 - Duration::hours(1));
    reconciler.backup.add_copy_job(copied);
    let summary = reconciler.run(day1, || false).await.unwrap();
    let checked = summary.path_check.as_ref().expect("the day's check ran");
    assert_eq!((checked.checked, checked.incidents_found), (1, 1), "{summary:?}");
    let messages = reconciler.alerts.incident_messages();
    let [IncidentMessage::Opened(incident)] = &messages[..] else { panic!("{messages:?}") };
    assert_eq!((incident.id.key.cause, incident.path.destination_vault.as_str()), (PathCauseKind::KmsKey, DR_VAULT));
    assert_eq!(PathOrigin::CopyJobs.to_string(), "copy jobs");
}

/// `vaultwatch paths --table`: each path's health from the table, the path's record and its open
/// incidents: broken while one is open, healthy once a copy completed, unknown before either.
#[tokio::test]
async fn the_paths_report_gets_each_paths_health_from_the_table() {
    use vaultwatch::domain::{CopyJobId, PathFailure, PathHealth};
    use vaultwatch::handlers::paths::{add_health, PathChecker, PathsQuery};
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let reconciler = watched(day1);
    let store = MemoryStore::new();
    let query = PathsQuery {
        region: "us-east-1".into(),
        routes: reconciler.routes.clone(),
        route_role: reconciler.copy_role.clone(),
        ..PathsQuery::default()
    };
    let checker = PathChecker { facts: &reconciler.path_check.as_ref().unwrap().facts };
    let health = async || {
        let mut report = checker.check_all(&query).await.unwrap();
        add_health(&mut report, &store).await.unwrap();
        report.paths[0].health.clone()
    };
    assert_eq!(health().await, Some(PathHealth::Unknown));
    let path = checker.check_all(&query).await.unwrap().paths[0].spec.path.clone();
    let job = CopyJobId::parse("COPIED-1").unwrap();
    store.note_path_copy(&path.key(), &job, day1).await.unwrap();
    let Some(PathHealth::Healthy { last_completed_job, .. }) = health().await else { panic!() };
    assert_eq!(last_completed_job, Some(job));
    let found = PathFailure::found_by_check(path, PathCauseKind::KmsKey, "disabled", "enable it");
    store.record_path_failure(&found, day1).await.unwrap();
    assert!(matches!(health().await, Some(PathHealth::Broken { since, .. }) if since == day1));
}

/// The path's record of its latest completed copy cannot be written: counted as an error, and the
/// sweep goes on (the next one notes it).
#[tokio::test]
async fn a_completed_copy_the_table_cannot_note_is_an_error_and_the_sweep_goes_on() {
    use vaultwatch::domain::CopyJobState;
    let day1 = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let mut reconciler = watched(day1);
    reconciler.path_check = None;
    let mut copied = failed_copy_job();
    copied.state = CopyJobState::Completed;
    copied.status_message = None;
    copied.completed_at = Some(day1 - Duration::hours(1));
    reconciler.backup.add_copy_job(copied.clone());
    reconciler.store.fail_next(Call::NotePathCopy, 1, transient_error("dynamodb", "UpdateItem", "ThrottlingException"));
    let first = reconciler.run(day1, || false).await.unwrap();
    assert_eq!((first.errors, first.complete), (1, true), "{first:?}");
    let key = vaultwatch::domain::CopyPath::of(&copied).key();
    assert!(reconciler.store.path_records(std::slice::from_ref(&key)).await.unwrap().is_empty());
    let second = reconciler.run(day1 + Duration::hours(1), || false).await.unwrap();
    assert_eq!(second.errors, 0, "{second:?}");
    assert_eq!(
        noted(&reconciler.store, &key).await.last_completed,
        Some((copied.id.clone(), day1 - Duration::hours(1)))
    );
}
