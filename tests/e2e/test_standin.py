"""The AWS Backup stand-in itself (tests/standin), over HTTP: it enforces the API model (requests
refused with Coral's ValidationException wording, responses checked against the output shapes) and
models AWS Backup's documented refusals and shapes (docs/aws-facts.md): continuous backups,
recovery points that cannot be copied, composite jobs, MessageCategory, deprecated vault events,
iam:PassRole, lifecycles. No moto, no function binaries: the stand-in runs alone."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import botocore.exceptions
import botocore.retries.standard
import pytest
from botocore.config import Config

from harness.config import ACCOUNT, ROLE
from harness.processes import start_standin

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:backup-vault-events"
DST = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dst"
VOLUME = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-0123456789abcdef0"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/app/6c2f5a80-0000-0000-0000-000000000000"
DAY = 86400


@pytest.fixture(scope="module")
def server():
    process, base = start_standin([], stderr=subprocess.PIPE)
    yield base, process
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def url(server):
    """A fresh stand-in with vaults `src` (us-east-1, notifications on) and `dst` (us-west-2)."""
    base, _ = server
    control(base, "reset")
    src = client(base)
    src.create_backup_vault(BackupVaultName="src")
    src.put_backup_vault_notifications(BackupVaultName="src", SNSTopicArn=TOPIC, BackupVaultEvents=[
        "BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"])
    client(base, "us-west-2").create_backup_vault(BackupVaultName="dst")
    return base


def client(base: str, region: str = "us-east-1"):
    return boto3.client("backup", region_name=region, endpoint_url=base,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def control(base: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def raw(base: str, method: str, path: str, body: dict | None = None, query: dict | None = None):
    """(status, x-amzn-ErrorType, body) of a request sent as is, without an SDK's validation."""
    target = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(target, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("x-amzn-ErrorType"), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("x-amzn-ErrorType"), json.loads(err.read())


def error(call) -> tuple[str, str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def backup(base: str, **spec) -> dict:
    return control(base, "backup-jobs", {"vault": "src", "resourceArn": VOLUME, **spec})


def start(base: str, rp: str, role: str = ROLE, **extra) -> dict:
    return client(base).start_copy_job(RecoveryPointArn=rp, SourceBackupVaultName="src", DestinationBackupVaultArn=DST,
                                       IamRoleArn=role, **extra)


def copy_job(base: str, job_id: str) -> dict:
    return client(base).describe_copy_job(CopyJobId=job_id)["CopyJob"]


def published(base: str) -> list[dict]:
    return control(base, "published")["published"]


# ---------------------------------------------------------------------- the model: requests
def test_a_max_results_over_the_models_maximum_is_refused_with_corals_wording(url):
    status, kind, body = raw(url, "GET", "/copy-jobs/", query={"maxResults": "5000"})
    assert (status, kind, body["Code"]) == (400, "ValidationException", "ValidationException")
    assert body["Message"] == (
        "1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000")
    assert set(body) == {"Code", "Message", "Type", "Context"}
    status, _, body = raw(url, "GET", "/copy-jobs/", query={"maxResults": "0"})
    assert status == 400 and body["Message"].endswith("Member must have value greater than or equal to 1")


def test_a_missing_required_member_is_refused_as_null(url):
    rp = backup(url)["RecoveryPointArn"]
    status, kind, body = raw(url, "PUT", "/copy-jobs", {
        "RecoveryPointArn": rp, "SourceBackupVaultName": "src", "DestinationBackupVaultArn": DST})
    assert (status, kind) == (400, "ValidationException")
    assert body["Message"] == (
        "1 validation error detected: Value null at 'iamRoleArn' failed to satisfy constraint: Member must not be null")
    assert control(url, "calls")["calls"]["StartCopyJob"] == 1 and client(url).list_copy_jobs()["CopyJobs"] == []


def test_an_enum_outside_the_model_and_a_pattern_mismatch_are_refused_together(url):
    status, kind, body = raw(url, "GET", "/copy-jobs/", query={"state": "DONE", "accountId": "12345"})
    assert (status, kind) == (400, "ValidationException")
    assert body["Message"].startswith("2 validation errors detected: ")
    assert ("Value 'DONE' at 'byState' failed to satisfy constraint: Member must satisfy enum value set: "
            "[CREATED, RUNNING, COMPLETED, FAILED, PARTIAL]") in body["Message"]
    assert ("Value '12345' at 'byAccountId' failed to satisfy constraint: Member must satisfy regular expression "
            "pattern: ^[0-9]{12}$") in body["Message"]


def test_a_vault_name_outside_the_pattern_is_refused(url):
    status, _, body = raw(url, "PUT", "/copy-jobs", {
        "RecoveryPointArn": "arn:aws:backup:us-east-1:123456789012:recovery-point:X", "SourceBackupVaultName": "a",
        "DestinationBackupVaultArn": DST, "IamRoleArn": ROLE})
    assert status == 400 and body["Code"] == "ValidationException"
    assert "Value 'a' at 'sourceBackupVaultName' failed to satisfy constraint: Member must satisfy regular expression pattern" in body["Message"]


def test_values_of_the_wrong_wire_type_are_serialization_errors(url):
    status, kind, _ = raw(url, "GET", "/copy-jobs/", query={"maxResults": "many"})
    assert (status, kind) == (400, "SerializationException")
    status, kind, _ = raw(url, "PUT", "/copy-jobs", {
        "RecoveryPointArn": "x", "SourceBackupVaultName": "src", "DestinationBackupVaultArn": DST,
        "IamRoleArn": ROLE, "Lifecycle": {"DeleteAfterDays": "35"}})
    assert (status, kind) == (400, "SerializationException")


def test_nested_members_are_validated_with_their_path(url):
    status, _, body = raw(url, "PUT", "/backup/plans/", {"BackupPlan": {"BackupPlanName": "p", "Rules": [
        {"RuleName": "r", "TargetBackupVaultName": "src", "CopyActions": [{"Lifecycle": {"DeleteAfterDays": 35}}]}]}})
    assert status == 400
    assert body["Message"] == (
        "1 validation error detected: Value null at 'backupPlan.rules.1.member.copyActions.1.member.destinationBackupVaultArn' "
        "failed to satisfy constraint: Member must not be null")


def test_what_an_sdk_sends_passes_timestamps_and_filters_included(url):
    backup(url)
    rp = backup(url)["RecoveryPointArn"]
    start(url, rp, IdempotencyToken="token-1")
    backup_client = client(url)
    jobs = backup_client.list_copy_jobs(
        MaxResults=1000, ByCreatedAfter=time.time() - 60, ByCreatedBefore=time.time() + 60, ByState="CREATED",
        ByAccountId=ACCOUNT, ByResourceType="EBS", BySourceRecoveryPointArn=rp, ByDestinationVaultArn=DST)["CopyJobs"]
    assert len(jobs) == 1
    assert backup_client.list_copy_jobs(ByCreatedAfter=time.time() + 60)["CopyJobs"] == []
    assert len(backup_client.list_backup_jobs(ByBackupVaultName="src", MaxResults=1)["BackupJobs"]) == 1


# ---------------------------------------------------------------------- the model: responses
def test_a_response_outside_the_output_shape_is_a_loud_stand_in_failure(url):
    job_id = start(url, backup(url)["RecoveryPointArn"])["CopyJobId"]
    control(url, "corrupt-response", {"operation": "DescribeCopyJob", "merge": {"CopyJob": {"State": "DONE"}}})
    status, kind, body = raw(url, "GET", f"/copy-jobs/{job_id}")
    assert (status, kind) == (500, "StandInModelViolation")
    assert "Value 'DONE' at 'copyJob.state' failed to satisfy constraint: Member must satisfy enum value set" in body["Message"]

    control(url, "corrupt-response", {"operation": "DescribeCopyJob", "merge": {"CopyJob": {"RetryCount": 2}}})
    status, kind, body = raw(url, "GET", f"/copy-jobs/{job_id}")
    assert (status, kind) == (500, "StandInModelViolation") and "RetryCount" in body["Message"]

    control(url, "corrupt-response", {"operation": "ListCopyJobs", "merge": {"CopyJobs": {"CreationDate": "yesterday"}}})
    status, kind, body = raw(url, "GET", "/copy-jobs/")
    assert (status, kind) == (500, "StandInModelViolation") and "CreationDate" in body["Message"]

    assert copy_job(url, job_id)["State"] == "CREATED", "the corruption was used up"
    assert control(url, "calls")["calls"]["StandInModelViolation"] == 3


# ---------------------------------------------------------------------- a. continuous backups
def test_a_continuous_recovery_point_is_not_copied_on_demand(url):
    rp = backup(url, continuous=True)["RecoveryPointArn"]
    assert rp.startswith(f"arn:aws:backup:us-east-1:{ACCOUNT}:recovery-point:continuous:db-")
    code, message, status = error(lambda: start(url, rp))
    assert (code, message, status) == ("InvalidRequestException", "Copy of continuous backups is not supported", 400)


def test_a_plan_copy_of_a_continuous_backup_is_a_snapshot(url):
    plan_id = client(url).create_backup_plan(BackupPlan={"BackupPlanName": "pitr", "Rules": [{
        "RuleName": "continuous", "TargetBackupVaultName": "src", "EnableContinuousBackup": True,
        "Lifecycle": {"DeleteAfterDays": 35}, "CopyActions": [{"DestinationBackupVaultArn": DST}]}]})["BackupPlanId"]
    job = backup(url, planId=plan_id)
    assert ":recovery-point:continuous:" in job["RecoveryPointArn"]
    control(url, "advance")
    (copy,) = client(url).list_copy_jobs(BySourceRecoveryPointArn=job["RecoveryPointArn"])["CopyJobs"]
    assert copy["State"] == "COMPLETED" and copy["CreatedBy"]["BackupPlanId"] == plan_id
    assert ":recovery-point:continuous:" not in copy["DestinationRecoveryPointArn"]


# ---------------------------------------------------------------------- b. recovery points that cannot be copied
def test_describe_recovery_point_reports_the_models_members(url):
    job = backup(url, lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120})
    point = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=job["RecoveryPointArn"])
    assert (point["Status"], point["StorageClass"], point["IsParent"]) == ("COMPLETED", "WARM", False)
    assert point["BackupVaultArn"].endswith(":backup-vault:src") and point["ResourceArn"] == VOLUME
    created = point["CreationDate"].timestamp()
    lifecycle = point["CalculatedLifecycle"]
    assert lifecycle["MoveToColdStorageAt"].timestamp() == pytest.approx(created + 30 * DAY, abs=1)
    assert lifecycle["DeleteAt"].timestamp() == pytest.approx(created + 120 * DAY, abs=1)
    code, _, _ = error(lambda: client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=job["RecoveryPointArn"] + "0"))
    assert code == "ResourceNotFoundException"


def test_points_in_cold_storage_deleted_or_expired_are_refused(url):
    cold, deleted, expired = (backup(url)["RecoveryPointArn"] for _ in range(3))
    control(url, "recovery-points/set", {"recoveryPointArn": cold, "storageClass": "COLD"})
    control(url, "recovery-points/set", {"recoveryPointArn": deleted, "storageClass": "DELETED"})
    control(url, "recovery-points/set", {"recoveryPointArn": expired, "status": "EXPIRED"})
    assert error(lambda: start(url, cold)) == ("InvalidRequestException", "Recovery points in cold storage cannot be copied", 400)
    assert error(lambda: start(url, deleted)) == ("ResourceNotFoundException", f"Recovery point {deleted} not found in vault src", 400)
    assert error(lambda: start(url, expired)) == ("InvalidRequestException", f"Recovery point {expired} is EXPIRED and cannot be copied", 400)
    control(url, "recovery-points/set", {"recoveryPointArn": cold, "storageClass": None})
    assert start(url, cold)["IsParent"] is False, "back in warm storage"


def test_a_lifecycle_moves_a_point_to_cold_storage_and_deletes_it_on_time(url):
    rp = backup(url)["RecoveryPointArn"]
    control(url, "recovery-points/set", {"recoveryPointArn": rp, "lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91},
                                         "creationDate": time.time() - DAY - 60})
    point = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=rp)
    assert point["StorageClass"] == "COLD" and point["Status"] == "COMPLETED"
    assert error(lambda: start(url, rp))[0] == "InvalidRequestException"

    soon = backup(url)["RecoveryPointArn"]
    control(url, "recovery-points/set", {"recoveryPointArn": soon, "lifecycle": {"DeleteAfterDays": 7},
                                         "creationDate": time.time() - 7 * DAY + 3600})
    point = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=soon)
    assert point["StorageClass"] == "WARM"
    assert point["CalculatedLifecycle"]["DeleteAt"].timestamp() == pytest.approx(time.time() + 3600, abs=5)

    gone = backup(url)["RecoveryPointArn"]
    control(url, "recovery-points/set", {"recoveryPointArn": gone, "lifecycle": {"DeleteAfterDays": 7}, "creationDate": time.time() - 8 * DAY})
    point = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=gone)
    assert (point["Status"], point["StorageClass"]) == ("EXPIRED", "DELETED")
    assert error(lambda: start(url, gone))[0] == "ResourceNotFoundException"


# ---------------------------------------------------------------------- c. composite jobs
def composite(url: str, children=3, **spec) -> dict:
    return backup(url, resourceArn=STACK, resourceType="CloudFormation", composite={"children": children}, **spec)


def test_a_composite_backup_has_child_recovery_points(url):
    job = composite(url, children=[{"compositeMemberIdentifier": "Table"}, {"compositeMemberIdentifier": "Volume"}])
    parent = client(url).describe_backup_job(BackupJobId=job["BackupJobId"])
    assert parent["IsParent"] is True and parent["NumberOfChildJobs"] == 2
    children = client(url).list_backup_jobs(ByParentJobId=job["BackupJobId"])["BackupJobs"]
    assert len(children) == 2
    point = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=job["RecoveryPointArn"])
    assert point["IsParent"] is True
    child = client(url).describe_recovery_point(BackupVaultName="src", RecoveryPointArn=children[0]["RecoveryPointArn"])
    assert child["ParentRecoveryPointArn"] == job["RecoveryPointArn"] and child["CompositeMemberIdentifier"] == "Table"
    events = [p["attributes"]["Id"] for p in published(url) if p["attributes"]["EventType"] == "BACKUP_JOB"]
    assert set(events) == {job["BackupJobId"], *(c["BackupJobId"] for c in children)}


def test_a_copy_of_a_composite_point_is_a_parent_job_with_child_jobs(url):
    job = composite(url, children=3)
    started = start(url, job["RecoveryPointArn"])
    assert started["IsParent"] is True
    parent = copy_job(url, started["CopyJobId"])
    assert (parent["IsParent"], parent["NumberOfChildJobs"], parent["ChildJobsInState"]) == (True, 3, {"CREATED": 3})
    children = client(url).list_copy_jobs(ByParentJobId=started["CopyJobId"])["CopyJobs"]
    assert len(children) == 3 and {c["CompositeMemberIdentifier"] for c in children} == {"Member1", "Member2", "Member3"}
    assert all(c["IsParent"] is False and c["ParentJobId"] == started["CopyJobId"] for c in children)
    assert len(client(url).list_copy_jobs()["CopyJobs"]) == 4, "parents and children are listed"

    control(url, "advance")
    parent = copy_job(url, started["CopyJobId"])
    assert (parent["State"], parent["ChildJobsInState"]) == ("COMPLETED", {"COMPLETED": 3})
    assert "DestinationRecoveryPointArn" in parent and "CompletionDate" in parent
    ids = {started["CopyJobId"], *(c["CopyJobId"] for c in children)}
    successful = {p["attributes"]["Id"] for p in published(url) if p["attributes"]["State"] == "COMPLETED" and p["attributes"]["EventType"] == "COPY_JOB"}
    started_events = {p["attributes"]["Id"] for p in published(url) if p["attributes"]["State"] == "CREATED"}
    assert successful == ids and started_events == ids, "notifications for the parent and each child"


def test_a_parent_is_partial_when_some_children_fail_and_failed_when_all_do(url):
    partial = start(url, composite(url, children=3)["RecoveryPointArn"])["CopyJobId"]
    control(url, "faults", {"failCopies": [{"compositeMemberIdentifier": "Member2", "statusMessage": "Access Denied to the KMS key"}]})
    control(url, "advance")
    parent = copy_job(url, partial)
    assert parent["State"] == "PARTIAL" and parent["ChildJobsInState"] == {"COMPLETED": 2, "FAILED": 1}
    assert parent["MessageCategory"] == "AccessDenied" and "1 of 3 child copy jobs did not complete" in parent["StatusMessage"]
    (failed,) = client(url).list_copy_jobs(ByParentJobId=partial, ByState="FAILED")["CopyJobs"]
    assert failed["CompositeMemberIdentifier"] == "Member2"
    failures = [p for p in published(url) if p["attributes"]["State"] in ("FAILED", "PARTIAL")]
    assert {(p["attributes"]["Id"], p["attributes"]["State"]) for p in failures} == {(partial, "PARTIAL"), (failed["CopyJobId"], "FAILED")}

    rp = composite(url, children=2)["RecoveryPointArn"]
    control(url, "faults", {"failCopies": [{"recoveryPointArn": rp, "statusMessage": "Copy job failed.", "count": 2}]})
    failed_parent = start(url, rp)["CopyJobId"]
    control(url, "advance")
    parent = copy_job(url, failed_parent)
    assert parent["State"] == "FAILED" and parent["ChildJobsInState"] == {"FAILED": 2}


def test_a_fault_rule_can_target_a_child_by_index_and_a_plan_copies_composites_too(url):
    plan_id = client(url).create_backup_plan(BackupPlan={"BackupPlanName": "stack", "Rules": [{
        "RuleName": "daily", "TargetBackupVaultName": "src",
        "CopyActions": [{"DestinationBackupVaultArn": DST, "Lifecycle": {"DeleteAfterDays": 35}}]}]})["BackupPlanId"]
    control(url, "faults", {"failCopies": [{"childIndex": 0, "statusMessage": "Rate exceeded"}]})
    job = composite(url, children=2, planId=plan_id)
    (parent,) = [j for j in client(url).list_copy_jobs()["CopyJobs"] if j["IsParent"]]
    assert parent["SourceRecoveryPointArn"] == job["RecoveryPointArn"] and parent["CreatedBy"]["BackupPlanId"] == plan_id
    control(url, "advance")
    children = client(url).list_copy_jobs(ByParentJobId=parent["CopyJobId"])["CopyJobs"]
    assert [c["State"] for c in children] == ["FAILED", "COMPLETED"]
    assert [c["MessageCategory"] for c in children] == ["MISCELLANEOUS", "SUCCESS"], "no documented category for throttling"
    assert copy_job(url, parent["CopyJobId"])["State"] == "PARTIAL"


# ---------------------------------------------------------------------- d. MessageCategory, h. failed job fields
def test_failed_copy_jobs_carry_message_category_status_message_and_completion(url):
    first, second, third = (backup(url)["RecoveryPointArn"] for _ in range(3))
    control(url, "faults", {"failCopies": [
        {"recoveryPointArn": first, "statusMessage": "Copy job failed: invalid lifecycle", "messageCategory": "InvalidParameters"},
        {"recoveryPointArn": second, "statusMessage": "Access denied: the IAM role cannot use the destination KMS key"},
        {"recoveryPointArn": third, "statusMessage": "Copy job failed because the destination backup vault is being modified. Try again later."},
    ]})
    ids = [start(url, rp)["CopyJobId"] for rp in (first, second, third)]
    control(url, "advance")
    jobs = [copy_job(url, i) for i in ids]
    assert [j["State"] for j in jobs] == ["FAILED"] * 3
    assert [j.get("MessageCategory") for j in jobs] == ["InvalidParameters", "AccessDenied", "MISCELLANEOUS"]
    assert all(j["StatusMessage"] and j["CompletionDate"] for j in jobs)
    (by_category,) = client(url).list_copy_jobs(ByMessageCategory="AccessDenied")["CopyJobs"]
    assert by_category["CopyJobId"] == ids[1]


# ---------------------------------------------------------------------- e. deprecated vault events
def test_deprecated_vault_events_are_refused_but_old_configurations_still_read(url):
    code, message, status = error(lambda: client(url).put_backup_vault_notifications(
        BackupVaultName="src", SNSTopicArn=TOPIC, BackupVaultEvents=["BACKUP_JOB_COMPLETED", "BACKUP_JOB_SUCCESSFUL"]))
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Please select from the following list of notifications BACKUP_JOB_STARTED, BACKUP_JOB_COMPLETED, RESTORE_JOB_STARTED")
    assert "BACKUP_JOB_SUCCESSFUL" not in message

    control(url, "vault-notifications/set-raw", {"vault": "src", "SNSTopicArn": TOPIC,
                                                 "BackupVaultEvents": ["BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED", "COPY_JOB_FAILED"]})
    config = client(url).get_backup_vault_notifications(BackupVaultName="src")
    assert config["BackupVaultEvents"] == ["BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED", "COPY_JOB_FAILED"]


# ---------------------------------------------------------------------- f. iam:PassRole
def test_a_role_the_caller_may_not_pass_is_access_denied(url):
    rp = backup(url)["RecoveryPointArn"]
    other = f"arn:aws:iam::{ACCOUNT}:role/team-plan-role"
    control(url, "passable-roles", {"roles": [ROLE]})
    assert error(lambda: start(url, rp, role=other)) == (
        "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/vaultwatch-function/session is not authorized to perform: "
        f"iam:PassRole on resource: {other}", 403)
    assert start(url, rp)["CopyJobId"]
    control(url, "passable-roles", {"roles": None})
    assert start(url, rp, role=other)["CopyJobId"]


# ---------------------------------------------------------------------- g. lifecycle
def test_lifecycles_keep_indefinitely_the_90_day_rule_and_archive_opt_in(url):
    rp = backup(url)["RecoveryPointArn"]
    for lifecycle in ({"MoveToColdStorageAfterDays": -1, "DeleteAfterDays": -1}, {"MoveToColdStorageAfterDays": -1, "DeleteAfterDays": 35},
                      {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": -1}, {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120}):
        assert start(url, rp, Lifecycle=lifecycle)["CopyJobId"], lifecycle
    assert error(lambda: start(url, rp, Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100})) == (
        "InvalidParameterValueException",
        "Invalid lifecycle. DeleteAfterDays must be at least 90 days greater than MoveToColdStorageAfterDays", 400)
    assert error(lambda: start(url, rp, Lifecycle={"DeleteAfterDays": 0}))[0] == "InvalidParameterValueException"
    assert error(lambda: start(url, rp, Lifecycle={"DeleteAfterDays": 35, "DeleteAfterEvent": "DELETE_AFTER_COPY"})) == (
        "InvalidParameterValueException", "Invalid lifecycle. DeleteAfterEvent is not valid as an input", 400)

    archive = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365, "OptInToArchiveForSupportedResources": True}
    job_id = start(url, rp, Lifecycle=archive)["CopyJobId"]
    assert copy_job(url, job_id)["DestinationRecoveryPointLifecycle"] == archive
    control(url, "advance")
    copied = copy_job(url, job_id)["DestinationRecoveryPointArn"]
    point = client(url, "us-west-2").describe_recovery_point(BackupVaultName="dst", RecoveryPointArn=copied)
    assert point["Lifecycle"] == archive and point["SourceBackupVaultArn"].endswith(":backup-vault:src")


def test_idempotency_tokens_return_the_same_job_and_refuse_other_parameters(url):
    rp = backup(url)["RecoveryPointArn"]
    first = start(url, rp, IdempotencyToken="t-1")
    assert start(url, rp, IdempotencyToken="t-1")["CopyJobId"] == first["CopyJobId"]
    assert error(lambda: start(url, rp, IdempotencyToken="t-1", Lifecycle={"DeleteAfterDays": 10}))[0] == "InvalidRequestException"


def test_start_copy_job_calls_are_counted_by_recovery_point_a_repeated_token_and_a_refusal_too(url):
    first, second = backup(url)["RecoveryPointArn"], backup(url)["RecoveryPointArn"]
    job = start(url, first, IdempotencyToken="t-1")["CopyJobId"]
    assert start(url, first, IdempotencyToken="t-1")["CopyJobId"] == job
    start(url, second)
    gone = f"arn:aws:backup:us-east-1:{ACCOUNT}:recovery-point:gone"
    assert error(lambda: start(url, gone))[0] == "ResourceNotFoundException"
    assert control(url, "calls")["startCopyJobByRecoveryPoint"] == {first: 2, second: 1, gone: 1}
    control(url, "reset")
    assert control(url, "calls")["startCopyJobByRecoveryPoint"] == {}


# ---------------------------------------------------------------------- i. quotas (docs/aws-facts.md, Service quotas)
DST2 = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dst2"
EU = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:eu"
LIMIT_MESSAGE = "There are too many copy jobs running for resource."
NO_LIMITS = {"refused": 0, "waited": 0, "failed": 0}


def quotas(base: str, **spec) -> None:
    control(base, "quotas", spec)


VOLUMES = itertools.count(1)


def own_backup(base: str, **spec) -> str:
    """The recovery point of a completed backup of a volume of its own: the copies of one resource
    run one at a time (the per-resource quota), which tests of the other quotas keep out of the way."""
    volume = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{next(VOLUMES):017x}"
    return backup(base, resourceArn=volume, **spec)["RecoveryPointArn"]


def once(base: str):
    """A client that makes one attempt per call (no SDK retries), to see each answer as it is."""
    return boto3.client("backup", region_name="us-east-1", endpoint_url=base, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


def start_to(base: str, rp: str, destination: str, backup_client=None, **extra) -> str:
    return (backup_client or client(base)).start_copy_job(
        RecoveryPointArn=rp, SourceBackupVaultName="src", DestinationBackupVaultArn=destination, IamRoleArn=ROLE,
        **extra)["CopyJobId"]


def more_vaults(base: str) -> None:
    client(base, "us-west-2").create_backup_vault(BackupVaultName="dst2")
    client(base, "eu-west-1").create_backup_vault(BackupVaultName="eu")


def throttling(response: dict) -> bool:
    """Whether botocore's standard retry mode takes this error response for throttling."""
    context = botocore.retries.standard.RetryContext(attempt_number=1, parsed_response=response)
    return botocore.retries.standard.ThrottledRetryableChecker().is_retryable(context)


def running(base: str) -> Counter:
    jobs = client(base).list_copy_jobs(ByState="RUNNING")["CopyJobs"]
    return Counter(j["DestinationBackupVaultArn"] for j in jobs if not j["IsParent"])


def test_without_quotas_nothing_is_limited_and_empty_quotas_remove_them(url):
    ids = [start(url, backup(url)["RecoveryPointArn"])["CopyJobId"] for _ in range(4)]
    backup_client = once(url)
    for _ in range(30):
        backup_client.list_copy_jobs()
    moved = control(url, "advance")["moved"]
    assert {m["CopyJobId"] for m in moved} == set(ids) and {m["State"] for m in moved} == {"COMPLETED"}
    answer = control(url, "calls")
    assert (answer["throttled"], answer["limited"]) == ({}, NO_LIMITS)

    quotas(url, rates={"ListCopyJobs": {"perSecond": 0, "burst": 0}}, copyJobs={"perDestinationVault": 1, "onLimit": "refuse"})
    assert error(lambda: once(url).list_copy_jobs())[0] == "ThrottlingException"
    quotas(url)  # {}: no quota left
    once(url).list_copy_jobs()
    more = [start(url, backup(url)["RecoveryPointArn"])["CopyJobId"] for _ in range(3)]
    assert {m["CopyJobId"] for m in control(url, "advance")["moved"]} == set(more), "one advance runs every job again"

    quotas(url, rates={"*": {"perSecond": 0, "burst": 0}})
    control(url, "reset")
    assert once(url).list_copy_jobs()["CopyJobs"] == [], "reset removes the quotas"
    assert control(url, "calls")["throttled"] == {}


def test_a_quota_configuration_is_checked(url):
    for spec in ({"rates": {"ListCopyJobs": {"perSecond": -1, "burst": 1}}}, {"rates": {"ListCopyJobs": {"burst": 1}}},
                 {"copyJobs": {"perDestinationVault": 0}}, {"copyJobs": {"perDestinationRegion": 2, "onLimit": "drop"}},
                 {"copyJobs": {"perDestinationRegion": 2, "perResource": 0}},
                 {"copyJobs": {"perDestinationRegion": 2, "crossAccountPerResourceAndRegion": "30"}},
                 {"copyJobs": {"perResource": True}}):
        with pytest.raises(urllib.error.HTTPError) as caught:
            control(url, "quotas", spec)
        assert caught.value.code == 400, spec
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(url, "quotas/clock", {"advanceSeconds": 1})
    assert caught.value.code == 400, "only a manual clock moves"


def test_calls_beyond_a_rate_are_throttled_with_awss_error_shape(url):
    rp = backup(url)["RecoveryPointArn"]
    job_id = start(url, rp)["CopyJobId"]
    quotas(url, manualClock=True, rates={
        op: {"perSecond": 1, "burst": 2} for op in ("StartCopyJob", "DescribeCopyJob", "ListCopyJobs")})
    backup_client = once(url)
    for _ in range(2):
        assert backup_client.describe_copy_job(CopyJobId=job_id)["CopyJob"]["CopyJobId"] == job_id
    assert error(lambda: backup_client.describe_copy_job(CopyJobId=job_id)) == ("ThrottlingException", "Rate exceeded", 400)
    status, kind, body = raw(url, "GET", f"/copy-jobs/{job_id}")
    assert (status, kind) == (400, "ThrottlingException")
    assert body == {"Code": "ThrottlingException", "Message": "Rate exceeded", "Type": "Client", "Context": ""}

    # A bucket per operation; operations without a rate are not limited.
    backup_client.list_copy_jobs()
    backup_client.list_copy_jobs()
    assert error(lambda: backup_client.list_copy_jobs())[0] == "ThrottlingException"
    start_to(url, rp, DST, backup_client)
    start_to(url, rp, DST, backup_client)
    assert error(lambda: start_to(url, rp, DST, backup_client)) == ("ThrottlingException", "Rate exceeded", 400)
    for _ in range(5):
        backup_client.describe_recovery_point(BackupVaultName="src", RecoveryPointArn=rp)

    # The bucket refills at its rate and holds at most its burst.
    assert control(url, "quotas/clock", {"advanceSeconds": 1}) == {"now": 1.0}
    backup_client.describe_copy_job(CopyJobId=job_id)
    assert error(lambda: backup_client.describe_copy_job(CopyJobId=job_id))[0] == "ThrottlingException"
    control(url, "quotas/clock", {"advanceSeconds": 60})
    backup_client.describe_copy_job(CopyJobId=job_id)
    backup_client.describe_copy_job(CopyJobId=job_id)
    assert error(lambda: backup_client.describe_copy_job(CopyJobId=job_id))[0] == "ThrottlingException"

    answer = control(url, "calls")
    assert answer["throttled"] == {"DescribeCopyJob": 4, "ListCopyJobs": 1, "StartCopyJob": 1}
    assert answer["calls"]["DescribeCopyJob"] == 9, "throttled calls are calls too"


def test_botocore_takes_the_throttling_error_for_throttling_and_retries_it(url, monkeypatch):
    quotas(url, manualClock=True, rates={"ListCopyJobs": {"perSecond": 0, "burst": 0}})
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        once(url).list_copy_jobs()
    assert throttling(caught.value.response)
    # The standard retry mode retries it up to max_attempts (its backoff made instant here).
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    retrying = boto3.client("backup", region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        retrying.list_copy_jobs()
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert control(url, "calls")["throttled"] == {"ListCopyJobs": 1 + 3}


def test_start_copy_job_beyond_the_cap_is_refused_with_limit_exceeded(url):
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationVault": 2, "onLimit": "refuse"})
    backup_client = once(url)
    points = [own_backup(url) for _ in range(4)]
    first = start_to(url, points[0], DST, backup_client, IdempotencyToken="first")
    start_to(url, points[1], DST, backup_client)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        start_to(url, points[2], DST, backup_client)
    response = caught.value.response
    refusal = f"Too many concurrent copy jobs to destination backup vault {DST}. Try again later."
    assert (response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "LimitExceededException", refusal, 400)
    assert throttling(response), "botocore's standard retry counts LimitExceededException as throttling"
    status, kind, body = raw(url, "PUT", "/copy-jobs", {
        "RecoveryPointArn": points[2], "SourceBackupVaultName": "src", "DestinationBackupVaultArn": DST, "IamRoleArn": ROLE})
    assert (status, kind, body) == (400, "LimitExceededException", {
        "Code": "LimitExceededException", "Message": refusal, "Type": "Client", "Context": "StartCopyJob"})
    assert start_to(url, points[0], DST, backup_client, IdempotencyToken="first") == first, "a retry of an accepted request"
    other = start_to(url, points[2], DST2, backup_client)

    control(url, "advance")
    assert running(url) == {DST: 2, DST2: 1}
    assert error(lambda: start_to(url, points[3], DST, backup_client))[0] == "LimitExceededException", "RUNNING jobs hold the slots"
    control(url, "advance")
    assert copy_job(url, other)["State"] == "COMPLETED"
    start_to(url, points[3], DST, backup_client)
    assert control(url, "calls")["limited"] == {"refused": 3, "waited": 0, "failed": 0}
    assert len(client(url).list_copy_jobs(ByDestinationVaultArn=DST)["CopyJobs"]) == 3


def test_copy_jobs_beyond_the_cap_wait_in_created_and_run_as_slots_free(url):
    quotas(url, copyJobs={"perDestinationVault": 2})
    ids = [start(url, own_backup(url))["CopyJobId"] for _ in range(5)]
    steps = []
    while control(url, "advance")["moved"]:
        steps.append([copy_job(url, i)["State"] for i in ids])
    assert steps == [
        ["RUNNING", "RUNNING", "CREATED", "CREATED", "CREATED"],
        ["COMPLETED", "COMPLETED", "RUNNING", "RUNNING", "CREATED"],
        ["COMPLETED"] * 4 + ["RUNNING"],
        ["COMPLETED"] * 5,
    ]
    assert all(copy_job(url, i)["MessageCategory"] == "SUCCESS" for i in ids)
    counters = control(url, "calls")
    assert {kind: counters["peakRunning"][kind] for kind in ("vaults", "regions")} == {
        "vaults": {DST: 2}, "regions": {f"{ACCOUNT}/us-west-2": 2}}
    assert counters["limited"] == {"refused": 0, "waited": 3, "failed": 0}
    events = Counter((p["attributes"]["Id"], p["attributes"]["State"]) for p in published(url)
                     if p["attributes"]["EventType"] == "COPY_JOB")
    assert events == Counter({(i, s): 1 for i in ids for s in ("CREATED", "COMPLETED")}), "one start, one end each"


def test_copy_jobs_without_a_slot_fail_with_awss_limit_message(url):
    quotas(url, copyJobs={"perDestinationVault": 1, "onLimit": "fail"})
    ids = [start(url, own_backup(url))["CopyJobId"] for _ in range(3)]
    control(url, "advance")
    jobs = [copy_job(url, i) for i in ids]
    assert [j["State"] for j in jobs] == ["RUNNING", "FAILED", "FAILED"]
    assert all(j["StatusMessage"] == LIMIT_MESSAGE and j["MessageCategory"] == "MISCELLANEOUS" and "CompletionDate" in j
               for j in jobs[1:])
    failed = {p["attributes"]["Id"] for p in published(url) if p["attributes"]["State"] == "FAILED"}
    assert failed == set(ids[1:])
    control(url, "advance")
    assert copy_job(url, ids[0])["State"] == "COMPLETED"
    assert control(url, "calls")["limited"] == {"refused": 0, "waited": 0, "failed": 2}

    # The message and category are configurable (AWS's name for the category is not published).
    quotas(url, copyJobs={"perDestinationVault": 1, "onLimit": "fail", "messageCategory": "STAND_IN_LIMIT"})
    more = [start(url, own_backup(url))["CopyJobId"] for _ in range(2)]
    control(url, "advance")
    (limited,) = client(url).list_copy_jobs(ByMessageCategory="STAND_IN_LIMIT")["CopyJobs"]
    assert limited["CopyJobId"] == more[1] and limited["StatusMessage"] == LIMIT_MESSAGE


def test_a_cap_per_account_and_destination_region_spans_its_vaults(url):
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationRegion": 3})
    west = [start_to(url, own_backup(url), [DST, DST2][n % 2]) for n in range(6)]
    eu = [start_to(url, own_backup(url), EU) for _ in range(2)]
    control(url, "advance")
    assert [copy_job(url, i)["State"] for i in west] == ["RUNNING"] * 3 + ["CREATED"] * 3
    assert [copy_job(url, i)["State"] for i in eu] == ["RUNNING"] * 2, "another region has slots of its own"
    while control(url, "advance")["moved"]:
        assert sum(n for vault, n in running(url).items() if ":us-west-2:" in vault) <= 3
    assert {copy_job(url, i)["State"] for i in west + eu} == {"COMPLETED"}
    peaks = control(url, "calls")["peakRunning"]
    assert {kind: peaks[kind] for kind in ("vaults", "regions")} == {
        "vaults": {DST: 2, DST2: 2, EU: 2}, "regions": {f"{ACCOUNT}/us-west-2": 3, f"{ACCOUNT}/eu-west-1": 2}}


def test_a_burst_never_runs_more_copy_jobs_than_the_rule_admits(url):
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationVault": 3, "perDestinationRegion": 5})
    plan_id = client(url).create_backup_plan(BackupPlan={"BackupPlanName": "burst", "Rules": [{
        "RuleName": "nightly", "TargetBackupVaultName": "src",
        "CopyActions": [{"DestinationBackupVaultArn": DST}, {"DestinationBackupVaultArn": DST2}]}]})["BackupPlanId"]
    control(url, "faults", {"failCopies": [{"destinationVaultArn": DST2, "statusMessage": "Copy job failed.", "count": 2}]})
    for _ in range(20):
        own_backup(url, planId=plan_id)
    parent = start(url, composite(url, children=4)["RecoveryPointArn"])["CopyJobId"]
    steps = 0
    while control(url, "advance")["moved"]:
        jobs = [j for j in client(url).list_copy_jobs(ByState="RUNNING")["CopyJobs"] if not j["IsParent"]]
        assert max(Counter(j["ResourceArn"] for j in jobs).values(), default=0) <= 1, "one job at a time per resource"
        now = Counter(j["DestinationBackupVaultArn"] for j in jobs)
        # The region's 5 whatever their vaults, then only vaults below their 3: at most 5 + 3 with two vaults.
        assert sum(now.values()) <= 5 + 3 and max(now.values(), default=0) <= 5, now
        steps += 1
    jobs = client(url).list_copy_jobs()["CopyJobs"]
    assert len(jobs) == 20 * 2 + 1 + 4
    assert Counter(j["State"] for j in jobs if not j["IsParent"]) == {"COMPLETED": 42, "FAILED": 2}
    assert copy_job(url, parent)["State"] == "COMPLETED"
    assert steps >= 44 // 8
    counters = control(url, "calls")
    # First step: the 5 first copies to dst (each backup's second copy, to dst2, waits for its
    # resource), then, the region's 5 reached, 3 to dst2 (below its vault cap): 8. The next step
    # starts those second copies, 5 to dst2 under the region's cap. A vault runs more than its 3
    # while the region has slots (the old, independent vault cap kept each vault at 3, the region at 5).
    assert counters["peakRunning"]["regions"] == {f"{ACCOUNT}/us-west-2": 8}
    assert counters["peakRunning"]["vaults"] == {DST: 5, DST2: 5}
    assert set(counters["peakRunning"]["resources"].values()) == {1}
    assert counters["limited"]["failed"] == 0 and counters["limited"]["waited"] > 0
    assert set(counters["limitedBy"]["waited"]) == {"resource", "vault"}


def test_the_vault_cap_applies_only_once_the_region_cap_is_reached(url):
    """AWS: 'Concurrent copies per destination backup vault in account after the limit (entry
    above) has been reached' (docs/aws-facts.md, Quotas under a burst): the region's copies start
    whatever their vault; past them, a vault still below its cap starts one more."""
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationRegion": 2, "perDestinationVault": 1})
    to_dst = [start_to(url, own_backup(url), DST) for _ in range(3)]
    to_dst2 = [start_to(url, own_backup(url), DST2) for _ in range(2)]
    to_eu = start_to(url, own_backup(url), EU)
    state = lambda job_id: copy_job(url, job_id)["State"]
    control(url, "advance")
    assert [state(i) for i in to_dst] == ["RUNNING", "RUNNING", "CREATED"], "the region's 2, though the vault's cap is 1"
    assert [state(i) for i in to_dst2] == ["RUNNING", "CREATED"], "the region's 2 reached: a vault below its cap starts one"
    assert state(to_eu) == "RUNNING", "another region has slots of its own"
    control(url, "advance")
    assert [state(i) for i in to_dst + to_dst2] == ["COMPLETED", "COMPLETED", "RUNNING", "COMPLETED", "RUNNING"]
    control(url, "advance")
    assert {state(i) for i in to_dst + to_dst2 + [to_eu]} == {"COMPLETED"}
    counters = control(url, "calls")
    assert counters["peakRunning"]["regions"] == {f"{ACCOUNT}/us-west-2": 3, f"{ACCOUNT}/eu-west-1": 1}
    assert counters["peakRunning"]["vaults"] == {DST: 2, DST2: 1, EU: 1}
    assert counters["limited"] == {"refused": 0, "waited": 2, "failed": 0}
    assert counters["limitedBy"]["waited"] == {"vault": 2}


def test_refuse_and_fail_follow_the_same_rule(url):
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationRegion": 2, "perDestinationVault": 1, "onLimit": "refuse"})
    backup_client = once(url)
    start_to(url, own_backup(url), DST, backup_client)
    start_to(url, own_backup(url), DST, backup_client)
    assert error(lambda: start_to(url, own_backup(url), DST, backup_client)) == (
        "LimitExceededException", f"Too many concurrent copy jobs to destination backup vault {DST}. Try again later.", 400)
    start_to(url, own_backup(url), DST2, backup_client)
    assert error(lambda: start_to(url, own_backup(url), DST2, backup_client))[0] == "LimitExceededException"
    rp = backup(url)["RecoveryPointArn"]
    start_to(url, rp, EU, backup_client)
    assert error(lambda: start_to(url, rp, EU, backup_client)) == (
        "LimitExceededException", f"Too many concurrent backup and copy jobs for resource {VOLUME}. Try again later.", 400)
    assert control(url, "calls")["limitedBy"]["refused"] == {"vault": 2, "resource": 1}

    control(url, "reset")
    client(url).create_backup_vault(BackupVaultName="src")
    client(url, "us-west-2").create_backup_vault(BackupVaultName="dst")
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationRegion": 2, "perDestinationVault": 1, "onLimit": "fail"})
    ids = [start_to(url, own_backup(url), DST) for _ in range(3)]
    rp = backup(url)["RecoveryPointArn"]
    same = [start_to(url, rp, EU) for _ in range(2)]
    control(url, "advance")
    assert [copy_job(url, i)["State"] for i in ids + same] == ["RUNNING", "RUNNING", "FAILED", "RUNNING", "FAILED"]
    assert {copy_job(url, i)["StatusMessage"] for i in (ids[2], same[1])} == {LIMIT_MESSAGE}
    assert control(url, "calls")["limitedBy"]["failed"] == {"vault": 1, "resource": 1}


def test_a_second_copy_of_a_resource_waits_in_created_until_the_first_ends(url):
    """AWS: 'Only one backup or copy job can run at a time for a given resource. Additional copy
    jobs for the same resource remain in CREATED status until the running job completes.'"""
    more_vaults(url)
    quotas(url, copyJobs={"perDestinationRegion": 100, "perDestinationVault": 5})
    rp = backup(url)["RecoveryPointArn"]
    first, second, third = start_to(url, rp, DST), start_to(url, rp, EU), start_to(url, rp, DST2)
    other = start_to(url, own_backup(url), DST)
    steps = []
    while control(url, "advance")["moved"]:
        steps.append([copy_job(url, i)["State"] for i in (first, second, third, other)])
    assert steps == [
        ["RUNNING", "CREATED", "CREATED", "RUNNING"],
        ["COMPLETED", "RUNNING", "CREATED", "COMPLETED"],
        ["COMPLETED", "COMPLETED", "RUNNING", "COMPLETED"],
        ["COMPLETED"] * 4,
    ]
    counters = control(url, "calls")
    assert counters["peakRunning"]["resources"][VOLUME] == 1
    assert counters["limited"] == {"refused": 0, "waited": 2, "failed": 0}
    assert counters["limitedBy"]["waited"] == {"resource": 2}
    events = Counter((p["attributes"]["Id"], p["attributes"]["State"]) for p in published(url)
                     if p["attributes"]["EventType"] == "COPY_JOB")
    assert events == Counter({(i, s): 1 for i in (first, second, third, other) for s in ("CREATED", "COMPLETED")})

    # A RUNNING backup job of the resource holds its copies back too; null lifts the cap.
    backup(url, state="RUNNING")
    waiting, free = start_to(url, rp, DST), start_to(url, own_backup(url), DST)
    control(url, "advance")
    assert [copy_job(url, i)["State"] for i in (waiting, free)] == ["CREATED", "RUNNING"]
    quotas(url, copyJobs={"perDestinationRegion": 100, "perResource": None})
    control(url, "advance")
    assert copy_job(url, waiting)["State"] == "RUNNING"
    both = [start_to(url, rp, DST2) for _ in range(2)]
    control(url, "advance")
    assert [copy_job(url, i)["State"] for i in both] == ["RUNNING", "RUNNING"]


def test_cross_account_copies_of_a_resource_have_their_own_cap_per_destination_region(url):
    """AWS: 'Concurrent cross-account copies that can be made of the same resource to the same
    destination Region — 30'. Presumed (docs/aws-facts.md): they are not held by the per-resource
    1, which counts the resource's jobs within its account."""
    quotas(url, copyJobs={"perDestinationRegion": 100, "crossAccountPerResourceAndRegion": 2})
    accounts = ("222222222222", "333333333333", "444444444444")
    for account in accounts:
        as_account(url, account, "us-west-2").create_backup_vault(BackupVaultName="dr")
    as_account(url, accounts[0], "eu-west-1").create_backup_vault(BackupVaultName="dr")
    rp = backup(url)["RecoveryPointArn"]
    cross = [start_to(url, rp, f"arn:aws:backup:us-west-2:{account}:backup-vault:dr") for account in accounts]
    cross_eu = start_to(url, rp, f"arn:aws:backup:eu-west-1:{accounts[0]}:backup-vault:dr")
    same_account = start_to(url, rp, DST)
    control(url, "advance")
    assert [copy_job(url, i)["State"] for i in cross] == ["RUNNING", "RUNNING", "CREATED"]
    assert copy_job(url, cross_eu)["State"] == "RUNNING", "another destination region"
    assert copy_job(url, same_account)["State"] == "RUNNING", "the per-resource 1 counts the account's own jobs"
    control(url, "advance")
    assert copy_job(url, cross[2])["State"] == "RUNNING"
    peaks = control(url, "calls")["peakRunning"]
    assert peaks["crossAccount"] == {f"{VOLUME} -> us-west-2": 2, f"{VOLUME} -> eu-west-1": 1}
    assert peaks["resources"] == {VOLUME: 1}


# ---------------------------------------------------------------------- j. accounts, regions, the organization view
# (docs/aws-facts.md, Organization view). Accounts act through their 12-digit access key id.
MANAGEMENT, PAYMENTS, SEARCH, MONITORING, OUTSIDER = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"
CENTRAL_DR = f"arn:aws:backup:us-west-2:{MONITORING}:backup-vault:central-dr"
DENIED = ("AccessDeniedException", "You do not have sufficient access to perform this action.", 400)


def as_account(base: str, account: str, region: str = "us-east-1"):
    return boto3.client("backup", region_name=region, endpoint_url=base,
                        aws_access_key_id=account, aws_secret_access_key="testing")


def member_backup(base: str, account: str, region: str = "us-east-1", resource_type: str = "EBS") -> dict:
    return control(base, "backup-jobs", {"vault": "primary", "account": account, "region": region, "resourceType": resource_type,
                                         "resourceArn": f"arn:aws:ec2:{region}:{account}:volume/vol-{account[:4]}{resource_type.lower()}"})


def copy_to_central_dr(base: str, account: str, rp: str, region: str = "us-east-1") -> str:
    return as_account(base, account, region).start_copy_job(
        RecoveryPointArn=rp, SourceBackupVaultName="primary", DestinationBackupVaultArn=CENTRAL_DR,
        IamRoleArn=f"arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole")["CopyJobId"]


def every_page(call, key: str, **params) -> list[dict]:
    items, token = [], None
    while True:
        page = call(**params, **({"NextToken": token} if token else {}))
        items += page[key]
        token = page.get("NextToken")
        if not token:
            return items


@pytest.fixture
def org(url):
    """An organization: management 1111, delegated administrator 4444 (owns the central DR vault in
    us-west-2), members 2222 and 3333; 5555 is outside it. In us-east-1: 1111 one EBS backup copied,
    2222 an EBS backup copied and an RDS backup whose copy failed (access denied), 3333 an EBS backup
    whose copy is still CREATED, 5555 an EBS backup copied. In eu-west-1: 2222 an EBS backup copied,
    3333 a backup without copy."""
    organization = control(url, "organization", {"managementAccount": MANAGEMENT, "delegatedAdministrators": [MONITORING],
                                                  "members": [PAYMENTS, SEARCH]})
    assert organization == {"managementAccount": MANAGEMENT, "delegatedAdministrators": [MONITORING],
                            "members": [MANAGEMENT, PAYMENTS, SEARCH, MONITORING]}
    as_account(url, MONITORING, "us-west-2").create_backup_vault(BackupVaultName="central-dr")
    for account in (MANAGEMENT, PAYMENTS, SEARCH, OUTSIDER):
        for region in ("us-east-1", "eu-west-1"):
            as_account(url, account, region).create_backup_vault(BackupVaultName="primary")
    jobs = {"backups": {}, "copies": {}}
    for account, region, resource_type in ((MANAGEMENT, "us-east-1", "EBS"), (PAYMENTS, "us-east-1", "EBS"),
                                           (PAYMENTS, "us-east-1", "RDS"), (OUTSIDER, "us-east-1", "EBS"),
                                           (PAYMENTS, "eu-west-1", "EBS")):
        job = member_backup(url, account, region, resource_type)
        jobs["backups"][(account, region, resource_type)] = job
        if (account, resource_type) == (PAYMENTS, "RDS"):
            control(url, "faults", {"failCopies": [{"recoveryPointArn": job["RecoveryPointArn"],
                                                    "statusMessage": "Access Denied trying to call AWS Backup service"}]})
        jobs["copies"][(account, region, resource_type)] = copy_to_central_dr(url, account, job["RecoveryPointArn"], region)
    control(url, "advance")
    jobs["backups"][(SEARCH, "eu-west-1", "EBS")] = member_backup(url, SEARCH, "eu-west-1")
    job = member_backup(url, SEARCH)
    jobs["backups"][(SEARCH, "us-east-1", "EBS")] = job
    jobs["copies"][(SEARCH, "us-east-1", "EBS")] = copy_to_central_dr(url, SEARCH, job["RecoveryPointArn"])  # CREATED
    return url, jobs


def test_every_account_sees_only_its_own_resources_in_the_signing_region(org):
    url, jobs = org
    for (account, region, _), job in jobs["backups"].items():
        assert job["AccountId"] == account
        assert job["BackupVaultArn"] == f"arn:aws:backup:{region}:{account}:backup-vault:primary"
        assert job["RecoveryPointArn"].startswith(f"arn:aws:backup:{region}:{account}:recovery-point:")
    for account in (MANAGEMENT, PAYMENTS, SEARCH, OUTSIDER):
        for region in ("us-east-1", "eu-west-1"):
            backup = as_account(url, account, region)
            listed = backup.list_backup_jobs()["BackupJobs"]
            assert sorted(j["BackupJobId"] for j in listed) == sorted(
                job["BackupJobId"] for (a, r, _), job in jobs["backups"].items() if (a, r) == (account, region)), (account, region)
            copies = backup.list_copy_jobs()["CopyJobs"]
            assert sorted(j["CopyJobId"] for j in copies) == sorted(
                job_id for (a, r, _), job_id in jobs["copies"].items() if (a, r) == (account, region)), (account, region)
            assert backup.list_backup_jobs(ByAccountId=account)["BackupJobs"] == listed  # its own id: the same
    # The stack's own account (the "testing" key) and the destination account own none of these jobs.
    assert client(url).list_backup_jobs()["BackupJobs"] == client(url).list_copy_jobs()["CopyJobs"] == []
    assert as_account(url, MONITORING, "us-west-2").list_copy_jobs()["CopyJobs"] == []
    # Another account's job, or one's own from another region, is not found; nor is another's vault.
    payments_copy = jobs["copies"][(PAYMENTS, "us-east-1", "EBS")]
    assert as_account(url, PAYMENTS).describe_copy_job(CopyJobId=payments_copy)["CopyJob"]["AccountId"] == PAYMENTS
    for caller, region in ((MANAGEMENT, "us-east-1"), (PAYMENTS, "eu-west-1")):
        assert error(lambda: as_account(url, caller, region).describe_copy_job(CopyJobId=payments_copy))[0] == "ResourceNotFoundException"
        assert error(lambda: as_account(url, caller, region).describe_backup_job(
            BackupJobId=jobs["backups"][(PAYMENTS, "us-east-1", "EBS")]["BackupJobId"]))[0] == "ResourceNotFoundException"
    assert error(lambda: client(url).describe_backup_vault(BackupVaultName="primary"))[0] == "ResourceNotFoundException"
    assert as_account(url, SEARCH).describe_backup_vault(BackupVaultName="primary")["BackupVaultArn"] == (
        f"arn:aws:backup:us-east-1:{SEARCH}:backup-vault:primary")


def test_a_copy_job_belongs_to_its_source_account_and_its_copy_to_the_destination(org):
    url, jobs = org
    job = as_account(url, PAYMENTS, "eu-west-1").describe_copy_job(CopyJobId=jobs["copies"][(PAYMENTS, "eu-west-1", "EBS")])["CopyJob"]
    assert (job["AccountId"], job["State"]) == (PAYMENTS, "COMPLETED")
    assert job["SourceBackupVaultArn"] == f"arn:aws:backup:eu-west-1:{PAYMENTS}:backup-vault:primary"
    assert job["DestinationBackupVaultArn"] == CENTRAL_DR
    assert job["DestinationRecoveryPointArn"].startswith(f"arn:aws:backup:us-west-2:{MONITORING}:recovery-point:")
    copied = as_account(url, MONITORING, "us-west-2").describe_recovery_point(
        BackupVaultName="central-dr", RecoveryPointArn=job["DestinationRecoveryPointArn"])
    assert copied["SourceBackupVaultArn"] == job["SourceBackupVaultArn"] and copied["BackupVaultArn"] == CENTRAL_DR


def test_the_management_account_and_a_delegated_administrator_list_every_members_backups_with_a_star(org):
    url, jobs = org
    for caller in (MANAGEMENT, MONITORING):
        for region in ("us-east-1", "eu-west-1"):
            listed = every_page(as_account(url, caller, region).list_backup_jobs, "BackupJobs", ByAccountId="*", MaxResults=2)
            expected = {job["BackupJobId"]: account for (account, r, _), job in jobs["backups"].items()
                        if r == region and account != OUTSIDER}
            assert {j["BackupJobId"]: j["AccountId"] for j in listed} == expected, (caller, region)
            assert all(f":{region}:" in j["BackupVaultArn"] for j in listed)
        # One member's, by its id; with the other filters as usual.
        rds = as_account(url, caller).list_backup_jobs(ByAccountId=PAYMENTS, ByResourceType="RDS")["BackupJobs"]
        assert [j["BackupJobId"] for j in rds] == [jobs["backups"][(PAYMENTS, "us-east-1", "RDS")]["BackupJobId"]]
    # The management account's listing without ByAccountId is still its own.
    assert {j["AccountId"] for j in as_account(url, MANAGEMENT).list_backup_jobs()["BackupJobs"]} == {MANAGEMENT}


def test_members_and_outsiders_are_refused_other_accounts_jobs(org):
    url, _ = org
    for caller, target in ((PAYMENTS, SEARCH), (PAYMENTS, MANAGEMENT), (PAYMENTS, "*"), (OUTSIDER, "*"),
                           (OUTSIDER, PAYMENTS), (MANAGEMENT, OUTSIDER), (MONITORING, OUTSIDER)):
        backup = as_account(url, caller)
        assert error(lambda: backup.list_backup_jobs(ByAccountId=target)) == DENIED, (caller, target)
        if target != "*":
            assert error(lambda: backup.list_copy_jobs(ByAccountId=target)) == DENIED, (caller, target)
    status, kind, body = raw(url, "GET", "/backup-jobs/", query={"accountId": "*"})  # unsigned: the default account
    assert (status, kind, body["Message"]) == (400, "AccessDeniedException", DENIED[1])
    # Without an organization nobody sees anyone else's jobs.
    assert control(url, "organization", {}) == {"managementAccount": None, "delegatedAdministrators": [], "members": []}
    assert error(lambda: as_account(url, MANAGEMENT).list_backup_jobs(ByAccountId="*")) == DENIED
    assert error(lambda: as_account(url, MANAGEMENT).list_copy_jobs(ByAccountId=PAYMENTS)) == DENIED


def test_copy_jobs_are_listed_one_member_at_a_time_and_a_star_is_refused_by_the_models_pattern(org):
    # The refusal of `*` is an ASSUMPTION (tests/standin/backup_model.py, DOCUMENTED_VALUES): AWS
    # documents `*` for ListBackupJobs only and neither accepts nor refuses it for ListCopyJobs.
    url, jobs = org
    for caller in (MANAGEMENT, MONITORING):
        for account in (MANAGEMENT, PAYMENTS, SEARCH):
            listed = as_account(url, caller).list_copy_jobs(ByAccountId=account)["CopyJobs"]
            assert sorted(j["CopyJobId"] for j in listed) == sorted(
                job_id for (a, r, _), job_id in jobs["copies"].items() if (a, r) == (account, "us-east-1")), (caller, account)
            assert {j["AccountId"] for j in listed} == {account} and {j["DestinationBackupVaultArn"] for j in listed} == {CENTRAL_DR}
    failed = as_account(url, MANAGEMENT).list_copy_jobs(ByAccountId=PAYMENTS, ByState="FAILED")["CopyJobs"]
    assert [(j["ResourceType"], j["MessageCategory"]) for j in failed] == [("RDS", "AccessDenied")]
    eu = as_account(url, MANAGEMENT, "eu-west-1").list_copy_jobs(ByAccountId=PAYMENTS)["CopyJobs"]
    assert [j["CopyJobId"] for j in eu] == [jobs["copies"][(PAYMENTS, "eu-west-1", "EBS")]]
    assert as_account(url, MANAGEMENT, "eu-west-1").list_copy_jobs(ByAccountId=SEARCH)["CopyJobs"] == []
    code, message, status = error(lambda: as_account(url, MANAGEMENT).list_copy_jobs(ByAccountId="*"))
    assert (code, status) == ("ValidationException", 400)
    assert message == ("1 validation error detected: Value '*' at 'byAccountId' failed to satisfy constraint: "
                       "Member must satisfy regular expression pattern: ^[0-9]{12}$")
    # ListBackupJobs' documented `*` is the only value its pattern lets through.
    assert error(lambda: as_account(url, MANAGEMENT).list_backup_jobs(ByAccountId="ANY"))[0] == "ValidationException"


def summary_rows(backup, **params) -> list[tuple]:
    rows = every_page(backup.list_copy_job_summaries, "CopyJobSummaries", **params)
    return sorted((r.get("AccountId"), r["State"], r.get("ResourceType"), r.get("MessageCategory"), r["Count"]) for r in rows)


def test_copy_job_summaries_count_per_account_with_any_and_sum_with_aggregate_all(org):
    url, _ = org
    per_account = [(MANAGEMENT, "COMPLETED", "EBS", "SUCCESS", 1), (PAYMENTS, "COMPLETED", "EBS", "SUCCESS", 1),
                   (PAYMENTS, "FAILED", "RDS", "AccessDenied", 1), (SEARCH, "CREATED", "EBS", None, 1)]
    for caller in (MANAGEMENT, MONITORING):
        backup = as_account(url, caller)
        answer = backup.list_copy_job_summaries(AccountId="ANY", AggregationPeriod="SEVEN_DAYS")
        assert answer["AggregationPeriod"] == "SEVEN_DAYS"
        assert {r["Region"] for r in answer["CopyJobSummaries"]} == {"us-east-1"}
        assert all(r["EndTime"] - r["StartTime"] == timedelta(days=7) for r in answer["CopyJobSummaries"])
        assert summary_rows(backup, AccountId="ANY") == per_account  # the outsider's copy is not counted
        assert summary_rows(backup, AccountId="AGGREGATE_ALL") == [
            (None, "COMPLETED", "EBS", "SUCCESS", 2), (None, "CREATED", "EBS", None, 1), (None, "FAILED", "RDS", "AccessDenied", 1)]
        assert summary_rows(backup, AccountId="AGGREGATE_ALL", State="AGGREGATE_ALL", ResourceType="AGGREGATE_ALL",
                            MessageCategory="AGGREGATE_ALL") == [(None, "AGGREGATE_ALL", "AGGREGATE_ALL", "AGGREGATE_ALL", 4)]
        assert summary_rows(backup, AccountId="ANY", State="AGGREGATE_ALL", MessageCategory="AGGREGATE_ALL") == [
            (MANAGEMENT, "AGGREGATE_ALL", "EBS", "AGGREGATE_ALL", 1), (PAYMENTS, "AGGREGATE_ALL", "EBS", "AGGREGATE_ALL", 1),
            (PAYMENTS, "AGGREGATE_ALL", "RDS", "AGGREGATE_ALL", 1), (SEARCH, "AGGREGATE_ALL", "EBS", "AGGREGATE_ALL", 1)]
        assert summary_rows(backup, AccountId="ANY", State="FAILED") == [(PAYMENTS, "FAILED", "RDS", "AccessDenied", 1)]
        assert summary_rows(backup, AccountId="ANY", MessageCategory="ACCESSDENIED") == [(PAYMENTS, "FAILED", "RDS", "AccessDenied", 1)]
        assert summary_rows(backup, AccountId=PAYMENTS, ResourceType="EBS") == [(PAYMENTS, "COMPLETED", "EBS", "SUCCESS", 1)]
        assert summary_rows(backup) == [row for row in per_account if row[0] == caller]  # its own account
        assert summary_rows(as_account(url, caller, "eu-west-1"), AccountId="ANY") == [(PAYMENTS, "COMPLETED", "EBS", "SUCCESS", 1)]
        assert error(lambda: backup.list_copy_job_summaries(AccountId=OUTSIDER)) == DENIED
    # A member, or an account outside the organization, gets its own counts whatever it asks.
    for caller in (PAYMENTS, OUTSIDER):
        own = summary_rows(as_account(url, caller))
        assert own and {row[0] for row in own} == {caller}
        for asked in ("ANY", "AGGREGATE_ALL", SEARCH):
            assert summary_rows(as_account(url, caller), AccountId=asked) == own, (caller, asked)


def test_copy_job_summaries_by_day_page_and_refuse_more_than_500_results(org):
    url, _ = org
    backup = as_account(url, MANAGEMENT)
    daily = backup.list_copy_job_summaries(AccountId="ANY", AggregationPeriod="ONE_DAY")
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    assert daily["AggregationPeriod"] == "ONE_DAY" and len(daily["CopyJobSummaries"]) == 4
    assert {(r["StartTime"], r["EndTime"]) for r in daily["CopyJobSummaries"]} == {(today, today + timedelta(days=1))}
    assert backup.list_copy_job_summaries(AccountId="ANY")["AggregationPeriod"] == "FOURTEEN_DAYS"
    first = backup.list_copy_job_summaries(AccountId="ANY", MaxResults=3)
    assert len(first["CopyJobSummaries"]) == 3 and first["NextToken"]
    rest = backup.list_copy_job_summaries(AccountId="ANY", MaxResults=3, NextToken=first["NextToken"])
    assert len(rest["CopyJobSummaries"]) == 1 and "NextToken" not in rest
    assert error(lambda: backup.list_copy_job_summaries(AccountId="ANY", MaxResults=501))[:3:2] == ("InvalidParameterValueException", 400)
    assert error(lambda: backup.list_copy_job_summaries(NextToken="bm9wZQ=="))[0] == "InvalidParameterValueException"
    assert error(lambda: backup.list_copy_job_summaries(AccountId="12345"))[0] == "ValidationException"
    assert backup.list_copy_job_summaries(AccountId="ANY", MaxResults=500)["CopyJobSummaries"]


def test_copy_job_summaries_count_only_the_last_14_days(url):
    """The model since botocore 1.43.78: "copy jobs created or running within the the most recent 14
    days" (30 before); ONE_DAY "The daily job count for the prior 14 days". ListCopyJobs documents no
    such window and still lists the older job."""
    for days in (15, 13, 3):
        control(url, "bulk", {"vault": "src", "count": 1, "destinations": [DST], "states": {"FAILED": 1},
                              "ageMinutes": days * 24 * 60})
    backup = client(url)

    def failed(period: str) -> int:
        rows = every_page(backup.list_copy_job_summaries, "CopyJobSummaries", State="FAILED", AggregationPeriod=period)
        return sum(row["Count"] for row in rows)

    assert (failed("ONE_DAY"), failed("FOURTEEN_DAYS"), failed("SEVEN_DAYS")) == (2, 2, 1)
    daily = every_page(backup.list_copy_job_summaries, "CopyJobSummaries", State="FAILED", AggregationPeriod="ONE_DAY")
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    assert min(row["StartTime"] for row in daily) >= today - timedelta(days=13), "the 14 UTC days ending today"
    assert len(backup.list_copy_jobs(ByState="FAILED")["CopyJobs"]) == 3


def test_the_organization_control_refuses_what_is_not_an_organization(url):
    for body in ({"members": [PAYMENTS]}, {"managementAccount": "1234"}, {"managementAccount": MANAGEMENT, "members": ["x"]},
                 {"managementAccount": MANAGEMENT, "delegatedAdministrators": [MANAGEMENT]}):
        status, kind, _ = raw(url, "POST", "/_standin/organization", body)
        assert (status, kind) == (400, "InvalidParameterValueException"), body
    control(url, "organization", {"managementAccount": MANAGEMENT, "members": [PAYMENTS]})
    control(url, "reset")  # forgets the organization too
    assert error(lambda: as_account(url, MANAGEMENT).list_backup_jobs(ByAccountId=PAYMENTS)) == DENIED


def test_concurrent_calls_are_each_counted_and_each_injected_fault_once(url):
    """The server answers on many threads at once: every call counted, each queued throttle
    injected exactly once and counted once, as the `calls` control reports them."""
    control(url, "faults", {"throttleNext": {"DescribeBackupVault": 150}})
    threads, per_thread = 8, 50

    def describe(_) -> Counter:
        seen = Counter()
        for _ in range(per_thread):
            status, kind, _ = raw(url, "GET", "/backup-vaults/src")
            seen[(status, kind)] += 1
        return seen

    with ThreadPoolExecutor(threads) as pool:
        answers = sum(pool.map(describe, range(threads)), Counter())
    assert answers == {(200, None): threads * per_thread - 150, (400, "ThrottlingException"): 150}
    counted = control(url, "calls")
    assert counted["calls"]["DescribeBackupVault"] == threads * per_thread
    assert counted["injected"] == {"throttle": 150}
