//! The reconciler's daily path check: every path it knows — its copy routes, its backup plans'
//! CopyActions, the paths it saw copies complete on, the paths of its open incidents — checked as
//! `vaultwatch paths` checks them. A
//! broken path's incident opens before any copy on it fails ("found by the path check"; its one
//! alert goes out with the sweep's open incidents), and an open incident whose cause the check finds
//! gone is healed (its message and backfill follow as for a copy that completed on the path).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::paths::{PathChecker, PathsQuery, PathsSummary};
use super::HandlerError;
use crate::domain::{checked_incidents, HealedBy, PathKey, PathReport, PathSpec, PathVerdict};
use crate::ports::{DailyTask, PathFactsApi, TrackingStore};

/// What one day's path check found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathWatchSummary {
    /// Paths checked, and how many came to each verdict.
    pub checked: usize,
    #[serde(flatten)]
    pub verdicts: PathsSummary,
    /// Incidents the check opened (paths found broken with no incident open for that cause).
    pub incidents_found: usize,
    /// Open incidents the check healed.
    pub incidents_cleared: usize,
    /// The paths it healed incidents on (their "healed" messages go out with the sweep's).
    #[serde(skip)]
    pub healed_on: Vec<PathKey>,
}

pub struct PathWatch<F, S> {
    pub checker: PathChecker<F>,
    pub store: S,
}

impl<F: PathFactsApi, S: TrackingStore> PathWatch<F, S> {
    /// The day's check, unless it finished today already (`None`). The day is marked done only
    /// when the check ran to its end, so a check an error stopped is tried on the next sweep.
    pub async fn run_daily(
        &self,
        query: &PathsQuery,
        now: DateTime<Utc>,
    ) -> Result<Option<PathWatchSummary>, HandlerError> {
        let today = now.date_naive();
        if self.store.done_on(DailyTask::PathCheck).await?.is_some_and(|done| done >= today) {
            return Ok(None);
        }
        let summary = self.run(query, now).await?;
        self.store.mark_done_on(DailyTask::PathCheck, today).await?;
        Ok(Some(summary))
    }

    /// Checks the query's paths and the open incidents' paths; opens and heals incidents.
    pub async fn run(&self, query: &PathsQuery, now: DateTime<Utc>) -> Result<PathWatchSummary, HandlerError> {
        let open = self.store.open_incidents().await?;
        let mut query = query.clone();
        query.extra.extend(open.iter().map(PathSpec::of_incident));
        let report = self.checker.check_all(&query).await?;
        report.paths.iter().for_each(log_report);
        // Each path's record: the check's verdict (the worst of the path's reports).
        let mut verdicts: HashMap<PathKey, PathVerdict> = HashMap::new();
        for path in &report.paths {
            let verdict = verdicts.entry(path.spec.path.key()).or_insert(PathVerdict::Ok);
            *verdict = PathVerdict::worst([&*verdict, &path.verdict]);
        }
        for (path, verdict) in &verdicts {
            self.store.note_path_check(path, now, verdict.name()).await?;
        }
        let changes = checked_incidents(&report.paths, &open);
        let mut summary =
            PathWatchSummary { checked: report.paths.len(), verdicts: report.summary, ..PathWatchSummary::default() };
        for finding in &changes.broken {
            let entry = self.store.record_path_failure(finding, now).await?;
            if entry.opened {
                summary.incidents_found += 1;
                tracing::warn!(incident = %entry.incident.id.thread_id(), path = %finding.path, cause = finding.kind.as_str(), found = %finding.status_message, "the path check found a path broken: incident opened");
            }
        }
        for id in &changes.gone {
            if self.store.heal_incident(id, &HealedBy::PathCheck, now).await? {
                summary.incidents_cleared += 1;
                summary.healed_on.push(id.key.path.clone());
                tracing::info!(incident = %id.thread_id(), "incident healed: the path check found its cause gone");
            }
        }
        Ok(summary)
    }
}

/// One line per path: what it came to and, when not ok, why (what to fix, where to run).
fn log_report(report: &PathReport) {
    let path = &report.spec.path;
    match &report.verdict {
        PathVerdict::Ok => tracing::info!(%path, origin = %report.spec.origin, "path check: ok"),
        PathVerdict::Broken { cause, found, fix } => {
            tracing::warn!(%path, origin = %report.spec.origin, cause = cause.as_str(), found, fix, "path check: broken")
        }
        PathVerdict::CannotTell { why, run_in } => {
            tracing::info!(%path, origin = %report.spec.origin, why, run_in = run_in.as_ref().map(|a| a.as_str()), "path check: cannot tell from this account")
        }
    }
}
