//! What each handler's outcome measures (`crate::metrics`): one home for the mapping from typed
//! outcomes to CloudWatch metrics, so a metric always counts what the function reported doing.

use super::copier::Copied;
use super::reconciler::Summary;
use super::retrier::{FailureHandled, RetrierResponse, RetryStarted};
use super::tracker::Tracked;
use super::{HandlerError, Outcomes, RecordOutcome};
use crate::domain::AlertReason;
use crate::metrics::{Measured, Measurements, Metric};

impl<T: Measured> Measured for Outcomes<T> {
    fn measure(&self, into: &mut Measurements) {
        for outcome in &self.outcomes {
            match outcome {
                RecordOutcome::Handled(handled) => handled.measure(into),
                RecordOutcome::Rejected { .. } => into.add(Metric::NotificationsRejected, 1.0),
                RecordOutcome::Skipped { .. } | RecordOutcome::Failed { .. } => {}
            }
        }
    }
}

impl Measured for HandlerError {
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::Parse(_) => into.add(Metric::MalformedNotifications, 1.0),
            // The first error stands for the others (SNS and EventBridge deliver one record at a time).
            Self::Records { failed, first, .. } if matches!(**first, Self::Parse(_)) => {
                into.add(Metric::MalformedNotifications, *failed as f64)
            }
            _ => {}
        }
    }
}

impl Measured for Copied {
    fn measure(&self, into: &mut Measurements) {
        if let Self::Copies { copies, .. } = self {
            for copy in copies {
                into.add_for_region(Metric::CopiesStarted, copy.destination.region(), 1.0);
            }
        }
    }
}

impl Measured for Tracked {
    fn measure(&self, _: &mut Measurements) {}
}

/// An alert, and its cause: a chain that ran out of attempts, a source that cannot be copied (as
/// coverage says `notCopyable`), or another failure no retry can mend.
fn alerted(into: &mut Measurements, reason: &AlertReason) {
    into.add(Metric::AlertsSent, 1.0);
    let cause = match reason {
        AlertReason::AttemptsExhausted { .. } => Metric::ChainsExhausted,
        AlertReason::NotCopyable(_) => Metric::NotCopyable,
        _ => Metric::PermanentFailures,
    };
    into.add(cause, 1.0);
}

impl Measured for FailureHandled {
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::Alerted { alerted: reason, .. } => alerted(into, reason),
            Self::RetryScheduled { .. } => into.add(Metric::RetriesScheduled, 1.0),
            Self::Escalated { alerted, .. } | Self::Incident { alerted, .. } => {
                if matches!(self, Self::Escalated { .. }) {
                    into.add(Metric::RetriesScheduled, 1.0);
                }
                into.add(Metric::PathFailures, 1.0);
                if *alerted {
                    into.add(Metric::IncidentsOpened, 1.0);
                    into.add(Metric::AlertsSent, 1.0);
                }
            }
            Self::Duplicate { .. } | Self::Nested { .. } => {}
        }
    }
}

impl Measured for RetryStarted {
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::Started { .. } => into.add(Metric::RetriesStarted, 1.0),
            Self::Alerted { alerted: reason, .. } => alerted(into, reason),
        }
    }
}

impl Measured for RetrierResponse {
    fn measure(&self, into: &mut Measurements) {
        match self {
            Self::Notifications(outcomes) => outcomes.measure(into),
            Self::DueRetries(due) => due.started.iter().for_each(|started| started.measure(into)),
        }
    }
}

impl Measured for Summary {
    fn measure(&self, into: &mut Measurements) {
        into.add(Metric::ReconcilerRepaired, self.repaired as f64);
        into.add(Metric::RetriesScheduled, self.retried as f64);
        into.add(Metric::AlertsSent, (self.alerted + self.refused + self.incidents_opened) as f64);
        into.add(Metric::PathFailures, self.path_failures as f64);
        into.add(Metric::IncidentsOpened, self.incidents_opened as f64);
        into.add(Metric::IncidentsResolved, self.incidents_healed as f64);
        into.add(Metric::CopiesBackfilled, self.copies_backfilled as f64);
        into.add(Metric::BrokenPaths, self.broken_paths.unwrap_or(0) as f64);
        into.add(Metric::AlertsResolved, self.resolved as f64);
        into.add(Metric::MissingCopiesStarted, self.missing_copies_started as f64);
        if let Some(coverage) = &self.coverage {
            into.add(Metric::UncoveredRecoveryPoints, coverage.uncovered() as f64);
            for (region, seconds) in &coverage.oldest_uncovered_seconds {
                into.add_for_region(Metric::OldestUncoveredAgeSeconds, region, *seconds as f64);
            }
        }
        if let Some(organization) = &self.organization {
            // The whole organization (in this region), and per member account (the reconciler
            // reads its own region: one entry per account; written only when detailed). A zero
            // is no news (`Metric::zero_is_news`); a lag only where something waits.
            let mut failed_chains = 0;
            for account in &organization.accounts {
                let id = account.account.as_str();
                into.add_for_account(Metric::UncoveredRecoveryPoints, id, account.summary.uncovered() as f64);
                into.add_for_account(Metric::FailedCopyChains, id, account.failed_chains as f64);
                if let Some(oldest) = account.summary.oldest_uncovered_seconds.values().max() {
                    into.add_for_account(Metric::OldestUncoveredAgeSeconds, id, *oldest as f64);
                }
                failed_chains += account.failed_chains;
            }
            into.add(Metric::OrganizationUncoveredRecoveryPoints, organization.summary.uncovered() as f64);
            into.add(Metric::OrganizationFailedCopyChains, failed_chains as f64);
            if let Some(oldest) = organization.summary.oldest_uncovered_seconds.values().max() {
                into.add(Metric::OrganizationOldestUncoveredAgeSeconds, *oldest as f64);
            }
        }
    }
}
