//! The organization view, from the management account: every member account's backups (one
//! ListBackupJobs listing with `ByAccountId` `*`), each member's copies (ListCopyJobs per account),
//! coverage per account and region — and nothing started or written anywhere.

use chrono::{Duration, Utc};
use vaultwatch::domain::{
    AccountId, BackupJob, BackupJobId, BackupJobState, CopyJob, CopyJobState, CoverageStatus, RecoveryPointArn,
    RequiredBy,
};
use vaultwatch::handlers::organization::{OrganizationAssessor, OrganizationSettings};
use vaultwatch::ports::memory::MemoryBackup;
use vaultwatch::ports::AccountScope;
use vaultwatch_tests::*;

const MANAGEMENT: &str = "999999999999";
const PAYMENTS: &str = "111111111111";
const SEARCH: &str = "222222222222";
const LEGACY: &str = "333333333333";
const CENTRAL_DR: &str = "arn:aws:backup:us-west-2:444444444444:backup-vault:central-dr";

fn point(account: &str, name: &str) -> RecoveryPointArn {
    RecoveryPointArn::parse(&format!("arn:aws:backup:us-east-1:{account}:recovery-point:{name}")).unwrap()
}

fn backup(account: &str, name: &str, hours_ago: i64) -> BackupJob {
    BackupJob {
        id: BackupJobId::parse(&format!("BACKUP-{name}")).unwrap(),
        state: BackupJobState::Completed,
        recovery_point: Some(point(account, name)),
        vault: vault(&format!("arn:aws:backup:us-east-1:{account}:backup-vault:primary")),
        resource: None,
        resource_type: Some("EBS".into()),
        parent_job: None,
        completed_at: Some(Utc::now() - Duration::hours(hours_ago)),
        created_by: None,
        lifecycle: None,
    }
}

fn copy(id: &str, of: &BackupJob, to: &str, state: CopyJobState) -> CopyJob {
    let mut job = failed_copy_job();
    job.id = copy_id(id);
    job.source_recovery_point = of.recovery_point.clone().unwrap();
    job.source_vault = of.vault.clone();
    job.destination_vault = vault(to);
    job.state = state;
    job.completed_at = state.is_terminal().then(Utc::now);
    job
}

/// Three member accounts: payments copied to the central DR vault, search with a failed copy and a
/// backup never copied, legacy with a copy under way to its own DR vault only.
fn organization() -> OrganizationAssessor<MemoryBackup> {
    let api = MemoryBackup::new();
    api.set_caller_account(AccountId::parse(MANAGEMENT).unwrap());
    let paid = backup(PAYMENTS, "PAY-1", 5);
    api.add_copy_job(copy("C-PAY", &paid, CENTRAL_DR, CopyJobState::Completed));
    api.add_backup_job(paid);
    let searched = backup(SEARCH, "SEARCH-1", 4);
    api.add_copy_job(copy("C-SEARCH", &searched, CENTRAL_DR, CopyJobState::Failed));
    api.add_backup_job(searched);
    api.add_backup_job(backup(SEARCH, "SEARCH-2", 30));
    let legacy = backup(LEGACY, "LEGACY-1", 2);
    api.add_copy_job(copy("C-LEGACY", &legacy, &format!("{}:dr", legacy_dr()), CopyJobState::Running));
    api.add_backup_job(legacy);
    let mut nested = backup(LEGACY, "LEGACY-CHILD", 2);
    nested.parent_job = Some(BackupJobId::parse("BACKUP-LEGACY-1").unwrap());
    api.add_backup_job(nested);
    let settings = OrganizationSettings { required_destinations: vec![vault(CENTRAL_DR)], max_attempts: 3 };
    OrganizationAssessor { backup: api, settings }
}

fn legacy_dr() -> String {
    format!("arn:aws:backup:us-west-2:{LEGACY}:backup-vault")
}

#[tokio::test]
async fn every_member_account_gets_its_rows_and_its_coverage() {
    let assessor = organization();
    let report = assessor.report(Utc::now() - Duration::days(7), Utc::now()).await.unwrap();

    let rows: Vec<(String, String, &str, &str)> = report
        .rows
        .iter()
        .map(|row| {
            let r = &row.requirement;
            let point = r.recovery_point.as_str().rsplit(':').next().unwrap().to_owned();
            (point, r.destination.vault_name().to_string(), r.required_by.label(), row.status.name())
        })
        .collect();
    let expected = [
        ("PAY-1", "central-dr", "organization", "covered"),
        ("SEARCH-2", "central-dr", "organization", "missing"),
        ("SEARCH-1", "central-dr", "organization", "failed"),
        ("LEGACY-1", "dr", "copy job", "copying"),
        ("LEGACY-1", "central-dr", "organization", "missing"),
    ];
    let expected: Vec<(String, String, &str, &str)> =
        expected.iter().map(|(p, v, by, status)| (p.to_string(), v.to_string(), *by, *status)).collect();
    assert_eq!(rows, expected, "nested backups are copied with their parent: no row of their own");

    let accounts: Vec<(&str, &str, usize, usize)> = report
        .accounts
        .iter()
        .map(|a| (a.account.as_str(), a.region.as_str(), a.summary.uncovered(), a.failed_chains))
        .collect();
    assert_eq!(accounts, [(PAYMENTS, "us-east-1", 0, 0), (SEARCH, "us-east-1", 2, 1), (LEGACY, "us-east-1", 2, 0)]);
    let search = &report.accounts[1];
    let age = search.summary.oldest_uncovered_seconds["us-west-2"];
    assert!((30 * 3600 - 5..=30 * 3600 + 5).contains(&age), "the oldest uncovered is 30 hours old: {age}");
    assert_eq!((report.summary.uncovered(), report.failed_chains()), (4, 1));
    let aws_counts: Vec<Option<u64>> = report.accounts.iter().map(|a| a.aws_failed_copy_jobs).collect();
    assert_eq!(aws_counts, [Some(0), Some(1), Some(0)], "AWS's own counts (ListCopyJobSummaries), per account");
    assert!(matches!(&report.rows[2].status, CoverageStatus::Failed { alerted: false, .. }));
    assert_eq!(report.rows[3].requirement.required_by, RequiredBy::CopyJob);
}

#[tokio::test]
async fn it_lists_the_organization_once_and_each_member_once_and_changes_nothing() {
    let assessor = organization();
    assessor.report(Utc::now() - Duration::days(7), Utc::now()).await.unwrap();
    let api = &assessor.backup;

    let backup_queries = api.backup_job_queries();
    assert_eq!(backup_queries.len(), 1);
    assert_eq!(backup_queries[0].accounts, AccountScope::Organization);
    assert_eq!(backup_queries[0].accounts.by_account_id().as_deref(), Some("*"));
    let copy_queries = api.copy_job_queries();
    let copy_accounts: Vec<String> = copy_queries.iter().map(|q| q.account.as_ref().unwrap().to_string()).collect();
    assert_eq!(copy_accounts, [PAYMENTS, SEARCH, LEGACY], "ListCopyJobs one member account at a time");
    for query in &copy_queries {
        assert_eq!(query.created_after, Some(backup_queries[0].since), "the same window as the backups");
        assert_eq!(query.max_results, Some(1000), "the largest page");
    }
    assert_eq!(api.started_copies().len(), 0, "read-only");
    for write in [Call::StartCopyJob, Call::DescribeRecoveryPoint, Call::GetBackupPlan] {
        assert_eq!(api.calls(write), 0, "{write:?}: nothing asked of member accounts beyond the listings");
    }
}

#[tokio::test]
async fn unreadable_listed_jobs_are_counted_and_regions_combine_into_one_report() {
    let assessor = organization();
    let unreadable =
        |id: &str| vaultwatch::ports::Unreadable { id: Some(id.into()), copy: None, problem: "lacks State".into() };
    assessor.backup.add_unreadable_backup_job(unreadable("BACKUP-BROKEN"));
    assessor.backup.add_unreadable_copy_job(unreadable("COPY-BROKEN"));
    let now = Utc::now();
    let east = assessor.report(now - Duration::days(7), now).await.unwrap();
    // ListCopyJobs gives the unreadable job with each member's first page: three members.
    assert_eq!(east.unreadable, 1 + 3);
    let mut west = organization().report(now - Duration::days(7), now).await.unwrap();
    for account in &mut west.accounts {
        account.region = "eu-west-1".into();
    }
    let combined =
        vaultwatch::handlers::organization::OrganizationReport::combine(vec![east.clone(), west.clone()], now);
    assert_eq!(combined.rows.len(), east.rows.len() + west.rows.len());
    assert_eq!(combined.unreadable, east.unreadable + west.unreadable);
    assert_eq!(combined.failed_chains(), 2, "one per region");
    assert_eq!(combined.summary.uncovered(), east.summary.uncovered() + west.summary.uncovered());
    let order: Vec<(&str, &str)> = combined.accounts.iter().map(|a| (a.account.as_str(), a.region.as_str())).collect();
    assert_eq!(order[..2], [(PAYMENTS, "eu-west-1"), (PAYMENTS, "us-east-1")], "by account, then region");
}

#[tokio::test]
async fn without_required_destinations_only_wanted_copies_are_rows() {
    let mut assessor = organization();
    assessor.settings.required_destinations.clear();
    let report = assessor.report(Utc::now() - Duration::days(7), Utc::now()).await.unwrap();
    let statuses: Vec<&str> = report.rows.iter().map(|row| row.status.name()).collect();
    assert_eq!(statuses, ["covered", "failed", "copying"]);
}

mod reconciler {
    use chrono::Utc;
    use vaultwatch::domain::RouteTable;
    use vaultwatch::handlers::reconciler::Reconciler;
    use vaultwatch::handlers::reconciler::SweepSettings;
    use vaultwatch::handlers::retrier::RetrierSettings;
    use vaultwatch::metrics::{Measured, Measurements, Metric, MetricsDetail};
    use vaultwatch::ports::memory::{MemoryAlerts, MemoryQueue, MemoryStore};

    use super::*;

    /// The management account's reconciler over the organization above, with or without the view.
    fn management_reconciler(
        view: bool,
    ) -> Reconciler<MemoryBackup, MemoryStore, MemoryAlerts, MemoryQueue, vaultwatch::ports::memory::MemoryPathFacts>
    {
        let assessor = organization();
        Reconciler {
            backup: assessor.backup,
            store: MemoryStore::new(),
            alerts: MemoryAlerts::new(),
            queue: MemoryQueue::new(),
            retry: RetrierSettings::default(),
            sweep: SweepSettings::default(),
            routes: RouteTable::default(),
            copy_role: None,
            organization: view.then_some(assessor.settings),
            path_check: None,
            evidence: None,
            clock: std::sync::Arc::new(vaultwatch::ports::WallClock),
        }
    }

    #[tokio::test]
    async fn the_management_accounts_reconciler_reports_each_member_and_measures_it_per_account() {
        let reconciler = management_reconciler(true);
        let summary = reconciler.run(Utc::now(), || false).await.unwrap();

        let organization = summary.organization.as_ref().expect("the organization view ran");
        let accounts: Vec<(&str, usize, usize)> = organization
            .accounts
            .iter()
            .map(|a| (a.account.as_str(), a.summary.uncovered(), a.failed_chains))
            .collect();
        assert_eq!(accounts, [(PAYMENTS, 0, 0), (SEARCH, 2, 1), (LEGACY, 2, 0)]);
        assert_eq!(summary.scanned, 0, "its own sweep lists its own account: no member's job is reconciled");
        assert_eq!(reconciler.backup.started_copies().len(), 0);
        assert!(reconciler.alerts.published().is_empty() && reconciler.queue.scheduled().is_empty());
        assert_eq!(reconciler.store.calls(Call::ApplyState), 0, "nothing written for member accounts");

        let mut measured = Measurements::default();
        summary.measure(&mut measured);
        assert_eq!(measured.get_for_account(Metric::UncoveredRecoveryPoints, SEARCH), Some(2.0));
        assert_eq!(measured.get_for_account(Metric::FailedCopyChains, SEARCH), Some(1.0));
        assert_eq!(measured.get_for_account(Metric::FailedCopyChains, PAYMENTS), None, "none failed: not measured");
        assert_eq!(measured.get_for_account(Metric::UncoveredRecoveryPoints, PAYMENTS), None, "nothing uncovered");
        assert_eq!(measured.get_for_account(Metric::OldestUncoveredAgeSeconds, PAYMENTS), None, "nothing waits");
        let oldest = measured.get_for_account(Metric::OldestUncoveredAgeSeconds, SEARCH).unwrap();
        assert!((30.0 * 3600.0 - 5.0..=30.0 * 3600.0 + 5.0).contains(&oldest), "{oldest}");
        // The organization's totals, over its members: 4 uncovered, 1 failed chain, the oldest.
        assert_eq!(measured.get(Metric::OrganizationUncoveredRecoveryPoints, None), Some(4.0));
        assert_eq!(measured.get(Metric::OrganizationFailedCopyChains, None), Some(1.0));
        assert_eq!(measured.get(Metric::OrganizationOldestUncoveredAgeSeconds, None), Some(oldest));

        // Per member account only when detailed; the totals at either detail.
        let documents = measured.emf("vaultwatch", "reconciler", Utc::now(), MetricsDetail::Detailed);
        let by_account = documents.iter().find(|d| d["AccountId"] == SEARCH).expect("an AccountId document");
        assert_eq!(
            by_account["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["Function", "AccountId"])
        );
        let essential = measured.emf("vaultwatch", "reconciler", Utc::now(), MetricsDetail::Essential);
        assert!(essential.iter().all(|d| d.get("AccountId").is_none()), "{essential:?}");
        for documents in [&documents, &essential] {
            let whole = documents.iter().find(|d| d.get("AccountId").is_none()).expect("the function's document");
            assert_eq!(whole["OrganizationUncoveredRecoveryPoints"], 4.0);
            assert_eq!(whole["OrganizationFailedCopyChains"], 1.0);
        }
    }

    #[tokio::test]
    async fn the_management_accounts_reconciler_writes_the_organizations_evidence_under_its_own_scope() {
        use vaultwatch::domain::evidence::{day_bounds, Manifest, EVIDENCE_COLUMNS};
        use vaultwatch::handlers::reconciler::EvidenceSettings;
        use vaultwatch::ports::memory::MemoryEvidence;

        let bucket = MemoryEvidence::new();
        let base = management_reconciler(true);
        let reconciler = Reconciler {
            backup: base.backup,
            store: base.store,
            alerts: base.alerts,
            queue: base.queue,
            retry: base.retry,
            sweep: SweepSettings { lookback: std::time::Duration::from_secs(7 * 24 * 3600), ..base.sweep },
            routes: base.routes,
            copy_role: None,
            organization: base.organization,
            path_check: None::<
                vaultwatch::handlers::reconciler::DailyPathCheck<vaultwatch::ports::memory::MemoryPathFacts>,
            >,
            evidence: Some(EvidenceSettings {
                sink: &bucket,
                prefix: "coverage-evidence/999999999999/us-east-1".into(),
                organization_prefix: "coverage-evidence/organization/us-east-1".into(),
            }),
            clock: base.clock,
        };
        // The run after midnight that follows the organization's last backup: that backup's day is
        // the one written.
        let report = organization().report(Utc::now() - Duration::days(7), Utc::now()).await.unwrap();
        let last = report.rows.iter().map(|row| row.requirement.completed_at).max().unwrap();
        let now = day_bounds(last.date_naive()).1 + Duration::minutes(30);
        let summary = reconciler.run(now, || false).await.unwrap();
        let yesterday = now.date_naive().pred_opt().unwrap();
        assert_eq!(summary.evidence.len(), 2, "{summary:?}");
        assert!(summary.evidence.iter().all(|w| w.day == yesterday));
        let latest = bucket.latest();
        let key = format!("coverage-evidence/organization/us-east-1/{yesterday}/manifest.json");
        let manifest: Manifest = serde_json::from_slice(&latest[&key]).unwrap();
        assert_eq!(manifest.scope, "organization/us-east-1");
        // The organization's rows of backups completed yesterday, every member's.
        let (start, end) = day_bounds(yesterday);
        let expected: Vec<&str> = report
            .rows
            .iter()
            .filter(|row| (start..end).contains(&row.requirement.completed_at))
            .map(|row| row.requirement.source_vault_arn.account())
            .collect();
        assert!(!expected.is_empty());
        let totals = &manifest.totals;
        assert_eq!(totals.covered + totals.uncovered + totals.other, expected.len());
        let csv = String::from_utf8(latest[&key.replace("manifest.json", "coverage.csv")].clone()).unwrap();
        let accounts: Vec<&str> = csv.lines().skip(1).map(|line| line.split(',').nth(2).unwrap()).collect();
        assert_eq!(csv.lines().next().unwrap(), EVIDENCE_COLUMNS.join(","));
        let mut sorted_expected = expected.clone();
        sorted_expected.sort_unstable();
        let mut sorted_accounts = accounts.clone();
        sorted_accounts.sort_unstable();
        assert_eq!(sorted_accounts, sorted_expected);
        assert!(manifest.open_incidents.is_empty(), "member stacks keep their own incidents");
    }

    #[tokio::test]
    async fn without_the_organization_view_the_reconciler_lists_only_its_own_account() {
        let reconciler = management_reconciler(false);
        let summary = reconciler.run(Utc::now(), || false).await.unwrap();
        assert_eq!(summary.organization, None);
        assert!(reconciler.backup.backup_job_queries().iter().all(|q| q.accounts == AccountScope::Caller));
        assert!(reconciler.backup.copy_job_queries().iter().all(|q| q.account.is_none()));
    }
}

#[tokio::test]
async fn aws_counts_are_asked_for_only_over_the_14_days_aws_keeps_copy_job_summaries() {
    let assessor = organization();
    let now = Utc::now();
    // ListCopyJobSummaries counts "copy jobs created or running within the the most recent 14 days"
    // (botocore >= 1.43.78): over 20 days its count would be short, so it is not asked for.
    let long = assessor.report(now - Duration::days(20), now).await.unwrap();
    assert_eq!(assessor.backup.calls(Call::ListCopyJobSummaries), 0, "not asked over a window AWS does not keep");
    assert!(long.accounts.iter().all(|a| a.aws_failed_copy_jobs.is_none()), "no undercount reported");
    assert_eq!(long.failed_chains(), 1, "vaultwatch's own rows stand");
    let short = assessor.report(now - Duration::days(13), now).await.unwrap();
    assert_eq!(assessor.backup.calls(Call::ListCopyJobSummaries), 1);
    let aws_counts: Vec<Option<u64>> = short.accounts.iter().map(|a| a.aws_failed_copy_jobs).collect();
    assert_eq!(aws_counts, [Some(0), Some(1), Some(0)]);
}

#[test]
fn the_summaries_cover_a_window_from_the_first_of_the_14_utc_days_ending_today() {
    use vaultwatch::ports::copy_job_summaries_cover;
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let now = at("2026-01-20T10:00:00Z");
    assert!(copy_job_summaries_cover(at("2026-01-07T00:00:00Z"), now), "13 days before today's midnight");
    assert!(copy_job_summaries_cover(now - Duration::hours(72), now));
    assert!(!copy_job_summaries_cover(at("2026-01-06T23:59:59Z"), now), "a 15th calendar day");
    assert!(!copy_job_summaries_cover(now - Duration::days(14), now), "14 × 24 hours reaches into the 15th day");
}
