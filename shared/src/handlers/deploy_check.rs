//! The reconciler's function: its scheduled sweeps, and the template's `PathCheckAtDeploy`
//! CloudFormation custom resource. On Create, and on an Update (the routes or the role changed), the
//! path check runs once, whatever the day: a broken path's incident opens with its one alert before
//! any copy on it fails, one whose cause is gone heals. It reports by alert and log and always
//! answers SUCCESS: a broken path is something to fix, not a reason to roll a deployment back (and a
//! check that cannot finish is left to the daily one). Delete answers SUCCESS and leaves the
//! incidents as they are.

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest as Request;
use serde_json::Value;

use super::deadline::Deadline;
use super::reconciler::{Reconciler, Summary, SAFETY_MARGIN};
use super::vault_setup::custom_resource::{respond_to, truncated};
use super::HandlerError;
use crate::domain::ClaimOwner;
use crate::ports::{
    AlertSink, BackupApi, CustomResourceResponder, EvidenceSink, NoEvidence, PathFactsApi, RetryQueue, TrackingStore,
};

pub struct ReconcilerFunction<B, S, A, Q, P, R, E = NoEvidence> {
    pub reconciler: Reconciler<B, S, A, Q, P, E>,
    /// Answers the custom resource's requests (the presigned response URL).
    pub responder: R,
}

impl<B, S, A, Q, P, R, E> ReconcilerFunction<B, S, A, Q, P, R, E>
where
    B: BackupApi,
    S: TrackingStore,
    A: AlertSink,
    Q: RetryQueue,
    P: PathFactsApi,
    R: CustomResourceResponder,
    E: EvidenceSink,
{
    /// Lambda entry point: a CloudFormation custom resource request (it names a `ResponseURL`, which
    /// is always answered, so no stack waits on it) is the check at deploy; anything else is a
    /// scheduled sweep ([`Reconciler::handle`]).
    pub async fn handle(&self, payload: &Value, deadline_ms: u64, owner: &ClaimOwner) -> Result<Summary, HandlerError> {
        if payload.get("ResponseURL").is_none() {
            return self.reconciler.handle(payload, deadline_ms, owner).await;
        }
        let deadline = Deadline::before_lambda_deadline(deadline_ms, SAFETY_MARGIN);
        let now = self.reconciler.clock.now();
        let (url, mut response, request) = match serde_json::from_value::<Request>(payload.clone()) {
            Ok(Request::Create(r)) => {
                let physical = format!("vaultwatch-path-check-{}", r.logical_resource_id);
                (r.response_url, respond_to(r.stack_id, r.request_id, r.logical_resource_id, physical), Asked::Check)
            }
            Ok(Request::Update(r)) => (
                r.response_url,
                respond_to(r.stack_id, r.request_id, r.logical_resource_id, r.physical_resource_id),
                Asked::Check,
            ),
            Ok(Request::Delete(r)) => (
                r.response_url,
                respond_to(r.stack_id, r.request_id, r.logical_resource_id, r.physical_resource_id),
                Asked::Delete,
            ),
            // A request that does not parse (or a type CloudFormation adds later): answered, never hung.
            _ => {
                let field = |name: &str| payload.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                let logical = field("LogicalResourceId");
                let physical = payload
                    .get("PhysicalResourceId")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("vaultwatch-path-check-{logical}"), str::to_owned);
                (
                    field("ResponseURL"),
                    respond_to(field("StackId"), field("RequestId"), logical, physical),
                    Asked::Unknown,
                )
            }
        };
        let summary = match request {
            Asked::Check if self.reconciler.path_check.is_none() => {
                response.reason = Some("the path check is off (PathCheck off)".to_owned());
                Summary::default()
            }
            Asked::Check => {
                let summary = self.reconciler.check_paths_now(owner, now, deadline).await;
                tracing::info!(?summary, "path check at deploy");
                response.reason = Some(truncated(&reason(&summary)));
                summary
            }
            Asked::Delete => {
                response.reason = Some("nothing to do: incidents stay as they are".to_owned());
                Summary::default()
            }
            Asked::Unknown => {
                tracing::warn!(request = %payload, "not a custom resource request this function knows; answered SUCCESS");
                response.reason =
                    Some("not a Create, Update or Delete request this function knows: nothing done".to_owned());
                Summary::default()
            }
        };
        self.responder.respond(&url, &response).await?;
        Ok(summary)
    }
}

/// What a request asks of the function.
enum Asked {
    /// Create or Update: check the paths now.
    Check,
    Delete,
    /// A request that does not parse, or a type CloudFormation adds later: answered, nothing done.
    Unknown,
}

/// What the check at deploy found, in a line for CloudFormation's events.
fn reason(summary: &Summary) -> String {
    match &summary.path_check {
        Some(checked) => format!(
            "path check: {} paths, {} ok, {} broken, {} cannot tell from this account; {} incidents opened, {} healed \
             (alerts sent; details in the reconciler's log)",
            checked.checked,
            checked.verdicts.ok,
            checked.verdicts.broken,
            checked.verdicts.cannot_tell,
            checked.incidents_found,
            checked.incidents_cleared,
        ),
        None => "the path check could not finish (see the reconciler's log); the daily check tries again".to_owned(),
    }
}
