"""The AWS Backup stand-in's listings at scale (tests/standin): a listing selects its jobs once and
its next pages reuse the selection until a job changes (Backup._selected), and a response passes a
cheap model check before the full one (backup_model.conforms). Neither may change what the stand-in
returns or refuses: a job added or changed between two pages shows on the next one, and a malformed
item anywhere in a 1,000-item page is refused with the full check's message. The stand-in runs
alone (no moto, no function binaries)."""

from __future__ import annotations

import json
import random
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from harness.config import ACCOUNT, ROLE
from harness.processes import start_standin
from standin import backup_jobs, backup_model, copy_jobs, listings, vaults
from standin.common import without_nulls
from standin.state import BackupState

DST = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dst"
VOLUME = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-0123456789abcdef0"
PAGE = 1000


@pytest.fixture(scope="module")
def server():
    process, base = start_standin([], stderr=subprocess.PIPE)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def url(server):
    """A fresh stand-in with vault `src` (the default account, us-east-1)."""
    control(server, "reset")
    status, body = request(server, "PUT", "/backup-vaults/src", {})
    assert status == 200, body
    return server


def control(base: str, path: str, body: dict | None = None) -> dict:
    status, reply = request(base, "POST", f"/_standin/{path}", body or {})
    assert status == 200, reply
    return reply


def request(base: str, method: str, path: str, body: dict | None = None, query: dict | None = None) -> tuple[int, dict]:
    """(status, body) of a request sent as is (unsigned: the default account and region)."""
    target = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(target, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(sent, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def page(base: str, operation: str, token: str | None = None, **query) -> dict:
    path = "/copy-jobs/" if operation == "ListCopyJobs" else "/backup-jobs/"
    status, body = request(base, "GET", path, query={"maxResults": PAGE, **query, **({"nextToken": token} if token else {})})
    assert status == 200, body
    return body


def listing(base: str, operation: str, **query) -> list[dict]:
    """Every item of a fresh listing, page after page."""
    key = "CopyJobs" if operation == "ListCopyJobs" else "BackupJobs"
    items, token = [], None
    while True:
        body = page(base, operation, token, **query)
        items += body[key]
        token = body.get("NextToken")
        if not token:
            return items


def ids(items: list[dict]) -> list[str]:
    return [item["CopyJobId"] for item in items]


# ---------------------------------------------------------------------- a listing's selection is reused, never stale
def test_a_copy_job_created_between_two_pages_is_on_the_next_one(url):
    control(url, "bulk", {"vault": "src", "count": 1500, "destinations": [DST]})
    first = page(url, "ListCopyJobs")
    assert len(first["CopyJobs"]) == PAGE
    added = control(url, "bulk", {"vault": "src", "count": 1, "destinations": [DST]})
    assert added["copies"] == 1
    second = page(url, "ListCopyJobs", first["NextToken"])
    assert len(second["CopyJobs"]) == 501 and "NextToken" not in second
    paged = first["CopyJobs"] + second["CopyJobs"]
    assert ids(paged) == ids(listing(url, "ListCopyJobs")), "the pages are those of a fresh listing"
    # Every page is an API call, counted as before.
    assert control(url, "calls")["calls"]["ListCopyJobs"] == 4


def test_a_copy_job_that_leaves_a_filter_between_two_pages_is_not_on_the_next_one(url):
    control(url, "bulk", {"vault": "src", "count": 1500, "destinations": [DST], "states": {"RUNNING": 1}})
    leaving = ids(listing(url, "ListCopyJobs"))[1200]  # on the second page of RUNNING jobs
    first = page(url, "ListCopyJobs", state="RUNNING")
    control(url, f"copy-jobs/{leaving}/transition", {"state": "COMPLETED"})
    second = page(url, "ListCopyJobs", first["NextToken"], state="RUNNING")
    assert leaving not in ids(second["CopyJobs"])
    assert len(second["CopyJobs"]) == 499 and {job["State"] for job in second["CopyJobs"]} == {"RUNNING"}
    # ...and it joins a listing it now matches.
    assert leaving in ids(listing(url, "ListCopyJobs", state="COMPLETED"))


def test_a_backup_job_completed_between_two_pages_is_on_the_next_one(url):
    control(url, "bulk", {"vault": "src", "count": 1500})
    first = page(url, "ListBackupJobs", state="COMPLETED")
    added = control(url, "backup-jobs", {"vault": "src", "resourceArn": VOLUME})
    second = page(url, "ListBackupJobs", first["NextToken"], state="COMPLETED")
    assert len(second["BackupJobs"]) == 501 and second["BackupJobs"][-1]["BackupJobId"] == added["BackupJobId"]


def test_a_job_changed_between_two_pages_is_listed_as_it_now_is(url):
    control(url, "bulk", {"vault": "src", "count": 1500, "destinations": [DST], "states": {"RUNNING": 1}})
    first = page(url, "ListCopyJobs")
    moved = ids(listing(url, "ListCopyJobs"))[PAGE + 10]
    control(url, f"copy-jobs/{moved}/transition", {"state": "FAILED", "statusMessage": "Access denied"})
    job = next(job for job in page(url, "ListCopyJobs", first["NextToken"])["CopyJobs"] if job["CopyJobId"] == moved)
    assert (job["State"], job["StatusMessage"], job["MessageCategory"]) == ("FAILED", "Access denied", "AccessDenied")


# ---------------------------------------------------------------------- every item is checked against the model
@pytest.mark.parametrize("position", [0, 1, 500, 998, 999])
def test_a_malformed_item_anywhere_in_a_page_is_refused(url, position):
    control(url, "bulk", {"vault": "src", "count": PAGE, "destinations": [DST]})
    items = page(url, "ListCopyJobs")["CopyJobs"]
    items[position]["State"] = "DONE"
    # A list in `merge` replaces the page's list: only this item is malformed.
    control(url, "corrupt-response", {"operation": "ListCopyJobs", "merge": {"CopyJobs": items}})
    status, body = request(url, "GET", "/copy-jobs/", query={"maxResults": PAGE})
    assert (status, body["Code"]) == (500, "StandInModelViolation")
    assert (f"Value 'DONE' at 'copyJobs.{position + 1}.member.state' failed to satisfy constraint: "
            "Member must satisfy enum value set") in body["Message"]

    backups = page(url, "ListBackupJobs")["BackupJobs"]
    backups[position]["CreationDate"] = "yesterday"
    control(url, "corrupt-response", {"operation": "ListBackupJobs", "merge": {"BackupJobs": backups}})
    status, body = request(url, "GET", "/backup-jobs/", query={"maxResults": PAGE})
    assert (status, body["Code"]) == (500, "StandInModelViolation")
    assert f"at 'backupJobs.{position + 1}.member.creationDate'" in body["Message"]

    assert len(page(url, "ListCopyJobs")["CopyJobs"]) == PAGE, "the corruptions were used up"
    assert control(url, "calls")["calls"]["StandInModelViolation"] == 2


def test_a_stored_job_the_model_refuses_is_refused_last_in_a_full_page(url):
    control(url, "bulk", {"vault": "src", "count": PAGE - 1, "destinations": [DST]})
    control(url, "copy-jobs/raw", {"job": {"ResourceType": "not a type!"}})
    status, body = request(url, "GET", "/copy-jobs/", query={"maxResults": PAGE})
    assert (status, body["Code"]) == (500, "StandInModelViolation")
    assert f"at 'copyJobs.{PAGE}.member.resourceType' failed to satisfy constraint: Member must satisfy regular expression" \
        in body["Message"]


# ---------------------------------------------------------------------- the cheap check, in process
BAD_VALUES = [None, True, False, 0, -1, 1.5, float("nan"), float("inf"), 1e12, "", "x", "DONE", "yesterday",
              "2024-01-01T00:00:00Z", [], ["a"], {}, {"a": 1}, (1,), b"x", "1" * 5000, "12345678901", ACCOUNT]


def full_check_passes(operation: str, body: dict) -> bool:
    """validate_response's full check alone (what the cheap one must never contradict)."""
    shape = backup_model.operation_model(operation).output_shape
    try:
        constraints, types = backup_model.botocore_errors(body, shape, unknown_is_error=True)
    except RuntimeError:  # botocore on a timestamp no clock can show: a refusal all the same
        return False
    backup_model.extra_checks(body, shape, "", constraints)
    backup_model._check_timestamps(body, shape, "", types)
    return not constraints and not types


def test_the_cheap_check_passes_nothing_the_full_check_refuses():
    """Random damage to real responses (a member dropped, added, of another type or value, at any
    depth): whenever `conforms` passes a body, the full check passes it too."""
    backup = BackupState(None)
    vaults.create_backup_vault(backup, "us-east-1", {"BackupVaultName": "src"})
    vaults.create_backup_vault(backup, "us-west-2", {"BackupVaultName": "dst"})
    backup_jobs.bulk(backup, {"vault": "src", "count": 6, "destinations": [DST], "states": {"COMPLETED": 1, "FAILED": 1, "RUNNING": 1}})
    # A composite copy: a parent job (ChildJobsInState, a map) and its children.
    composite = backup_jobs.complete_backup(backup, {"vault": "src", "resourceArn": VOLUME, "composite": {"children": 2}})
    parent = copy_jobs.start_copy_job(backup, "us-east-1", {
        "RecoveryPointArn": composite["RecoveryPointArn"], "SourceBackupVaultName": "src", "DestinationBackupVaultArn": DST,
        "IamRoleArn": ROLE})["CopyJobId"]
    responses = [
        ("ListCopyJobs", without_nulls(listings.list_copy_jobs(backup, "us-east-1", {}))),
        ("ListBackupJobs", without_nulls(listings.list_backup_jobs(backup, "us-east-1", {}))),
        ("DescribeCopyJob", without_nulls(copy_jobs.describe_copy_job(backup, "us-east-1", {"CopyJobId": parent}))),
    ]
    rng = random.Random(13)

    def damage(value):
        if isinstance(value, dict) and value:
            value = dict(value)
            name = rng.choice([*value, "NotAMember"])
            roll = rng.random()
            if roll < 0.15:
                value.pop(name, None)
            elif roll < 0.5 or name not in value:
                value[name] = rng.choice(BAD_VALUES)
            else:
                value[name] = damage(value[name])
            return value
        if isinstance(value, list) and value:
            value = list(value)
            index = rng.randrange(len(value))
            value[index] = damage(value[index])
            return value
        return rng.choice(BAD_VALUES)

    for operation, body in responses:
        shape = backup_model.operation_model(operation).output_shape
        assert backup_model.conforms(shape)(body) and full_check_passes(operation, body)
        verdicts = set()
        for _ in range(1500):
            damaged = damage(body)
            cheap, full = backup_model.conforms(shape)(damaged), full_check_passes(operation, damaged)
            assert full or not cheap, (operation, damaged)
            verdicts.add((cheap, full))
        assert {(True, True), (False, False)} <= verdicts, "both kinds of body were met"
