//! EventBridge events from `aws.backup` ("Copy Job State Change", "Backup Job State Change").

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use serde_json::Value;

use super::{BackupJobEvent, CopyJobEvent, JobEvent, Notification, Origin, ParseError};
use crate::domain::{
    AccountId, BackupJobId, BackupJobState, BackupVaultArn, CopyDetails, CopyJobId, CopyJobState, DeleteAfterEvent,
    DomainError, IamRoleArn, JobKind, Lifecycle, RecoveryPointArn, ResourceArn, ResourceType,
};

pub(super) fn parse_eventbridge_event(payload: Value, at: &str) -> Result<Notification, ParseError> {
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(payload).map_err(|err| ParseError::envelope(at, &err))?;
    if event.source != "aws.backup" {
        return Err(ParseError::invalid(at, DomainError::invalid("source", "is not aws.backup")));
    }
    let account = event.account.as_deref().map(AccountId::parse).transpose().map_err(|e| ParseError::invalid(at, e))?;
    let detail = Detail { at, value: &event.detail };
    // The source recovery point appears only in resources[].
    let first_resource = event.resources.as_ref().and_then(|resources| resources.first()).map(String::as_str);

    let job = match event.detail_type.as_str() {
        "Copy Job State Change" => match detail.string("copyJobId") {
            Some(id) => JobEvent::Copy(CopyJobEvent {
                id: CopyJobId::parse(id).map_err(|e| detail.invalid(e))?,
                state: CopyJobState::parse(detail.required("state")?).map_err(|e| detail.invalid(e))?,
                status_message: detail.string("statusMessage").map(str::to_owned),
                details: CopyDetails {
                    source_recovery_point: first_resource
                        .map(RecoveryPointArn::parse)
                        .transpose()
                        .map_err(|e| detail.invalid(e))?,
                    source_vault: detail.parsed("sourceBackupVaultArn", BackupVaultArn::parse)?,
                    destination_vault: detail.parsed("destinationBackupVaultArn", BackupVaultArn::parse)?,
                    // A string on COMPLETED, an empty object on FAILED/RUNNING.
                    destination_recovery_point: detail
                        .parsed("destinationRecoveryPointArn", RecoveryPointArn::parse)?,
                    resource: detail.parsed("resourceArn", ResourceArn::parse)?,
                    resource_type: detail.string("resourceType").map(ResourceType::parse),
                    parent_job: detail.parsed("parentJobId", CopyJobId::parse)?,
                    child_jobs: detail
                        .value
                        .get("numberOfChildJobs")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok()),
                    // The destination's type, lock and key come from listings and describes.
                    ..CopyDetails::default()
                },
            }),
            None => JobEvent::Ignored { kind: JobKind::Copy, reason: "copy job event without copyJobId".into() },
        },
        "Backup Job State Change" => JobEvent::Backup(BackupJobEvent {
            id: BackupJobId::parse(detail.required("backupJobId")?).map_err(|e| detail.invalid(e))?,
            state: BackupJobState::parse(detail.required("state")?),
            recovery_point: first_resource.map(RecoveryPointArn::parse).transpose().map_err(|e| detail.invalid(e))?,
            vault: detail.parsed("backupVaultArn", BackupVaultArn::parse)?,
            resource: detail.parsed("resourceArn", ResourceArn::parse)?,
            resource_type: detail.string("resourceType").map(ResourceType::parse),
            iam_role: detail.parsed("iamRoleArn", IamRoleArn::parse)?,
            parent_job: detail.parsed("parentJobId", BackupJobId::parse)?,
            lifecycle: detail.lifecycle("recoveryPointLifecycle"),
            is_parent: detail.value.get("isParent").and_then(Value::as_bool),
        }),
        other => JobEvent::Ignored {
            kind: JobKind::Other(other.chars().take(64).collect()),
            reason: "EventBridge detail-type is not handled".into(),
        },
    };
    Ok(Notification {
        origin: Origin::EventBridge { id: event.id },
        account,
        time: event.time.unwrap_or_else(Utc::now),
        event: job,
    })
}

struct Detail<'a> {
    at: &'a str,
    value: &'a Value,
}

impl<'a> Detail<'a> {
    /// A non-empty string field; anything else (absent, `{}`, a number) counts as absent.
    fn string(&self, name: &str) -> Option<&'a str> {
        self.value.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<&'a str, ParseError> {
        self.string(name).ok_or_else(|| ParseError::missing(&format!("{}.detail", self.at), name))
    }

    fn parsed<T>(&self, name: &str, parse: fn(&str) -> Result<T, DomainError>) -> Result<Option<T>, ParseError> {
        self.string(name).map(parse).transpose().map_err(|e| self.invalid(e))
    }

    /// A lifecycle object (`deleteAfterEvent` and the days, camelCase like the rest of the detail).
    /// Only what reads as a lifecycle is kept: an unknown event or a non-number is left out.
    fn lifecycle(&self, name: &str) -> Option<Lifecycle> {
        let value = self.value.get(name)?.as_object()?;
        let days = |key: &str| value.get(key).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        Some(Lifecycle {
            move_to_cold_storage_after_days: days("moveToColdStorageAfterDays"),
            delete_after_days: days("deleteAfterDays"),
            opt_in_to_archive_for_supported_resources: value
                .get("optInToArchiveForSupportedResources")
                .and_then(Value::as_bool),
            delete_after_event: value.get("deleteAfterEvent").and_then(Value::as_str).and_then(DeleteAfterEvent::parse),
        })
    }

    fn invalid(&self, source: DomainError) -> ParseError {
        ParseError::invalid(&format!("{}.detail", self.at), source)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_copy_job_events_details_are_read_whole() {
        let event = json!({
            "version": "0", "id": "e-1", "detail-type": "Copy Job State Change", "source": "aws.backup",
            "account": "123456789012", "time": "2026-11-20T03:41:02Z", "region": "us-east-1",
            "resources": ["arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1"],
            "detail": {
                "copyJobId": "COPY-CHILD", "state": "FAILED", "statusMessage": "failed",
                "resourceArn": "arn:aws:ec2:us-east-1:123456789012:volume/vol-1", "resourceType": "EBS",
                "parentJobId": "COPY-PARENT", "numberOfChildJobs": 3,
                "sourceBackupVaultArn": "arn:aws:backup:us-east-1:123456789012:backup-vault:primary",
                "destinationBackupVaultArn": "arn:aws:backup:us-west-2:123456789012:backup-vault:dr"
            }
        });
        let notification = parse_eventbridge_event(event, "test").unwrap();
        let JobEvent::Copy(copy) = notification.event else { panic!("a copy job event") };
        let details = copy.details;
        assert_eq!(
            details.resource.map(|r| r.to_string()).as_deref(),
            Some("arn:aws:ec2:us-east-1:123456789012:volume/vol-1")
        );
        assert_eq!(details.resource_type, Some(ResourceType::parse("EBS")));
        assert_eq!(details.parent_job, Some(CopyJobId::parse("COPY-PARENT").unwrap()));
        assert_eq!(details.child_jobs, Some(3));
        assert_eq!(
            details.source_recovery_point.map(|p| p.to_string()).as_deref(),
            Some("arn:aws:backup:us-east-1:123456789012:recovery-point:RP-1")
        );
    }
}
