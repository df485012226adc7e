//! Parsing AWS Backup notifications into typed events, once, at the edge.
//!
//! Accepted shapes: an SNS event (`Records[].Sns`, any number of records) whose MessageAttributes
//! carry the facts; an EventBridge event (`detail-type` "Copy Job State Change" / "Backup Job State
//! Change"); and an EventBridge event delivered as an SNS message. Unknown event types parse into
//! [`JobEvent::Ignored`] so handlers can skip them with a log line.

mod error;
mod eventbridge;
mod message_text;
mod sns;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use error::ParseError;

use crate::domain::{
    AccountId, BackupJobId, BackupJobState, BackupVaultArn, CopyDetails, CopyJobId, CopyJobState, DomainError,
    IamRoleArn, JobKind, Lifecycle, RecoveryPointArn, ResourceArn, ResourceType, StateUpdate,
};

/// Largest notification we read. AWS Backup's are under 4 KiB; SNS caps messages at 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Where a notification came from, for logs and source verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Sns { topic_arn: String, message_id: String },
    EventBridge { id: Option<String> },
}

/// One AWS Backup job notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub origin: Origin,
    pub account: Option<AccountId>,
    /// When AWS published the notification.
    pub time: DateTime<Utc>,
    pub event: JobEvent,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobEvent {
    Copy(CopyJobEvent),
    /// A copy job event whose State is not one of the API's CopyJobStates (its value is not kept:
    /// it is not trusted input).
    CopyStateUnknown {
        id: CopyJobId,
    },
    Backup(BackupJobEvent),
    /// Restore jobs, unknown event types, and events with nothing to act on.
    Ignored {
        kind: JobKind,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct CopyJobEvent {
    pub id: CopyJobId,
    pub state: CopyJobState,
    pub status_message: Option<String>,
    /// Whatever the event carried (EventBridge carries most of it; SNS none).
    pub details: CopyDetails,
}

impl CopyJobEvent {
    pub fn state_update(&self, at: DateTime<Utc>) -> StateUpdate {
        StateUpdate {
            id: self.id.clone(),
            state: self.state,
            at,
            status_message: self.status_message.clone(),
            details: self.details.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackupJobEvent {
    pub id: BackupJobId,
    pub state: BackupJobState,
    pub recovery_point: Option<RecoveryPointArn>,
    pub vault: Option<BackupVaultArn>,
    pub resource: Option<ResourceArn>,
    pub resource_type: Option<ResourceType>,
    pub iam_role: Option<IamRoleArn>,
    /// The composite backup job this one is nested in, when the event says so.
    pub parent_job: Option<BackupJobId>,
    /// The recovery point's lifecycle, when the event carries it (EventBridge's
    /// `recoveryPointLifecycle`, presumed to mirror the API's member; SNS carries none).
    pub lifecycle: Option<Lifecycle>,
    /// Whether the job is a composite parent, when the event says (EventBridge's `isParent`,
    /// presumed to mirror DescribeBackupJob's `IsParent`, which every job has; SNS carries none).
    pub is_parent: Option<bool>,
}

impl BackupJobEvent {
    /// The event carries what decides whether the backup may be routed: its recovery point, vault
    /// and resource type, and the job record's composite and lifecycle members (`isParent`, and
    /// `recoveryPointLifecycle` for a temporary recovery point). AWS's documented EventBridge
    /// examples have neither of the last two (docs/aws-facts.md#eventbridge-feed): such an event is
    /// checked with DescribeBackupJob, as an SNS notification is, rather than a nested job or a
    /// temporary recovery point being routed like an ordinary backup.
    pub fn decides_routing(&self) -> bool {
        self.recovery_point.is_some()
            && self.vault.is_some()
            && self.resource_type.is_some()
            && self.is_parent.is_some()
            && self.lifecycle.is_some()
    }
}

/// Parses a Lambda event payload. The outer error means the payload is not a notification at all;
/// each inner result is one record, so one bad record does not hide the good ones.
pub fn parse_lambda_event(payload: &Value) -> Result<Vec<Result<Notification, ParseError>>, ParseError> {
    let object = payload.as_object().ok_or(ParseError::NotAnEvent)?;
    if object.contains_key("Records") {
        sns::parse_sns_event(payload)
    } else if object.contains_key("detail-type") {
        Ok(vec![eventbridge::parse_eventbridge_event(payload.clone(), "EventBridge event")])
    } else {
        Err(ParseError::NotAnEvent)
    }
}

/// The time a scheduled invocation is for: the EventBridge event's `time` (ISO 8601, e.g.
/// "2015-10-08T16:53:06Z"), or `None` when the payload has none (a manual invocation, `{}`).
pub fn scheduled_time(payload: &Value) -> Result<Option<DateTime<Utc>>, ParseError> {
    const AT: &str = "scheduled event";
    match payload.get("time") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(time)) => DateTime::parse_from_rfc3339(time)
            .map(|time| Some(time.with_timezone(&Utc)))
            .map_err(|_| ParseError::invalid(AT, DomainError::invalid("time", "is not an ISO 8601 timestamp"))),
        Some(_) => Err(ParseError::invalid(AT, DomainError::invalid("time", "is not a string"))),
    }
}

#[cfg(test)]
mod scheduled_time_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schedules_time_is_read_and_its_absence_is_none() {
        let event = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2015-10-08T16:53:06Z", "detail": {}});
        let expected = DateTime::parse_from_rfc3339("2015-10-08T16:53:06Z").unwrap().with_timezone(&Utc);
        assert_eq!(scheduled_time(&event), Ok(Some(expected)));
        assert_eq!(scheduled_time(&json!({})), Ok(None));
        assert_eq!(scheduled_time(&json!({"time": null})), Ok(None));
        assert!(scheduled_time(&json!({"time": "yesterday"})).is_err());
        assert!(scheduled_time(&json!({"time": 1444322386})).is_err());
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;

    fn event() -> BackupJobEvent {
        BackupJobEvent {
            id: BackupJobId::parse("BACKUP-1").unwrap(),
            state: BackupJobState::Completed,
            recovery_point: Some(
                RecoveryPointArn::parse("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1").unwrap(),
            ),
            vault: Some(BackupVaultArn::parse("arn:aws:backup:us-east-1:123456789012:backup-vault:primary").unwrap()),
            resource: None,
            resource_type: Some(ResourceType::parse("EBS")),
            iam_role: None,
            parent_job: None,
            lifecycle: Some(Lifecycle::default()),
            is_parent: Some(false),
        }
    }

    #[test]
    fn an_event_decides_routing_only_with_every_member_that_decides_it() {
        assert!(event().decides_routing());
        let without: [fn(&mut BackupJobEvent); 5] = [
            |e| e.recovery_point = None,
            |e| e.vault = None,
            |e| e.resource_type = None,
            |e| e.is_parent = None,
            |e| e.lifecycle = None,
        ];
        for (n, remove) in without.iter().enumerate() {
            let mut event = event();
            remove(&mut event);
            assert!(!event.decides_routing(), "member {n} missing");
        }
    }
}
