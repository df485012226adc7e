"""The AWS Backup stand-in itself (tests/standin), over HTTP: it enforces the API model (requests
refused with Coral's ValidationException wording, responses checked against the output shapes) and
models AWS Backup's documented refusals and shapes (docs/aws-facts.md): continuous backups,
recovery points that cannot be copied, composite jobs, MessageCategory, deprecated vault events,
iam:PassRole, lifecycles. No moto, no function binaries: the stand-in runs alone."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.exceptions
import pytest

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
def test_a_response_outside_the_output_shape_is_a_loud_stand_in_failure(url, server):
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
