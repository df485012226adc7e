//! SNS envelopes (`aws_lambda_events::sns`): the facts are in the MessageAttributes.

use aws_lambda_events::sns::{MessageAttribute, SnsRecord};
use serde_json::Value;
use std::collections::HashMap;

use super::{
    eventbridge, message_text, BackupJobEvent, CopyJobEvent, JobEvent, Notification, Origin, ParseError,
    MAX_MESSAGE_BYTES,
};
use crate::domain::{
    AccountId, BackupJobId, BackupJobState, CopyDetails, CopyJobId, CopyJobState, JobKind, RecoveryPointArn,
    ResourceArn,
};

/// Upper bound on records per event; Lambda delivers one SNS record per invocation.
const MAX_RECORDS: usize = 100;

pub(super) fn parse_sns_event(payload: &Value) -> Result<Vec<Result<Notification, ParseError>>, ParseError> {
    let records = payload
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::missing("SNS event", "Records list"))?;
    if records.len() > MAX_RECORDS {
        return Err(ParseError::Envelope { at: "SNS event".into(), reason: "more than 100 records".into() });
    }
    Ok(records.iter().enumerate().map(|(index, record)| parse_record(index, record)).collect())
}

fn parse_record(index: usize, raw: &Value) -> Result<Notification, ParseError> {
    let at = format!("Records[{index}]");
    // Each record on its own, so one malformed record does not hide the others.
    let record: SnsRecord = serde_json::from_value(raw.clone()).map_err(|err| ParseError::envelope(&at, &err))?;
    let sns = record.sns;
    if sns.message.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLarge { at });
    }
    let origin = Origin::Sns { topic_arn: sns.topic_arn.clone(), message_id: sns.message_id.clone() };

    let Some(event_type) = sns.message_attributes.get("EventType") else {
        // An EventBridge rule that targets the topic sends the whole event as the message.
        if sns.message.trim_start().starts_with('{') {
            let inner: Value = serde_json::from_str(&sns.message)
                .map_err(|err| ParseError::envelope(&format!("{at}.Sns.Message"), &err))?;
            if inner.get("detail-type").is_some() {
                let mut notification =
                    eventbridge::parse_eventbridge_event(inner, &format!("{at}.Sns.Message (EventBridge)"))?;
                notification.origin = origin;
                return Ok(notification);
            }
        }
        return Err(ParseError::missing(
            &at,
            "MessageAttributes.EventType (and the message is not an EventBridge event)",
        ));
    };

    let attributes = Attributes { at: &at, map: &sns.message_attributes };
    let account =
        attributes.optional("AccountId").map(AccountId::parse).transpose().map_err(|e| attributes.invalid(e))?;
    let kind = JobKind::parse(&event_type.value);
    let state = attributes.required("State")?;
    let event = match kind {
        JobKind::Copy => {
            let id = CopyJobId::parse(attributes.required("Id")?).map_err(|e| attributes.invalid(e))?;
            // AWS documents no spelling of a copy job's State attribute (docs/aws-facts.md#sns-notifications):
            // one that is not a CopyJobState is not an error; the handlers ask the API instead.
            match CopyJobState::parse(state) {
                Ok(state) => JobEvent::Copy(CopyJobEvent {
                    id,
                    state,
                    // AWS documents no copy-job message text; facts come from DescribeCopyJob.
                    status_message: None,
                    details: CopyDetails::default(),
                }),
                Err(_) => JobEvent::CopyStateUnknown { id },
            }
        }
        JobKind::Backup => {
            let text = message_text::MessageText::new(&sns.message);
            JobEvent::Backup(BackupJobEvent {
                id: BackupJobId::parse(attributes.required("Id")?).map_err(|e| attributes.invalid(e))?,
                state: BackupJobState::parse(state),
                // The text is optional context: a value that does not parse is treated as absent.
                recovery_point: text.value_after(&["Recovery point ARN"]).and_then(|v| RecoveryPointArn::parse(v).ok()),
                resource: text
                    .value_after(&["Backed up Resource ARN", "Resource ARN"])
                    .and_then(|v| ResourceArn::parse(v).ok()),
                vault: None,
                resource_type: None,
                iam_role: None,
                parent_job: None,
                lifecycle: None,
                is_parent: None,
            })
        }
        kind => JobEvent::Ignored { reason: format!("event type {kind} is not handled"), kind },
    };
    Ok(Notification { origin, account, time: sns.timestamp, event })
}

struct Attributes<'a> {
    at: &'a str,
    map: &'a HashMap<String, MessageAttribute>,
}

impl<'a> Attributes<'a> {
    fn optional(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).map(|attribute| attribute.value.as_str()).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<&'a str, ParseError> {
        self.optional(name).ok_or_else(|| ParseError::missing(self.at, format!("MessageAttributes.{name}")))
    }

    fn invalid(&self, source: crate::domain::DomainError) -> ParseError {
        ParseError::invalid(&format!("{}.Sns.MessageAttributes", self.at), source)
    }
}
