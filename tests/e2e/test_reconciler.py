"""The reconciler binary against a stand-in holding thousands of copy jobs, some of which the
event path never saw."""

import importlib.util
import sys
import time
from collections import Counter
from contextlib import contextmanager

import pytest

from conftest import DR_VAULT, EU_VAULT, ROUTES
from harness.config import ROOT
from harness.stack import LocalAws

JOBS = 2500  # three ListCopyJobs pages of 1000 (the reconciler's page size)
UNSEEN = 200  # jobs whose notifications never arrived: nothing in the table
BACKUPS_WITHOUT_COPIES = 10


@pytest.fixture(scope="module")
def quiet_stack():
    """A stack of its own: the sweep's counts are exact only if nothing else is in the window."""
    with LocalAws(max_attempts=3, routes=ROUTES) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("unwired", notify=False)
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        yield stack


def test_a_sweep_over_thousands_of_jobs_repairs_what_the_event_path_missed(quiet_stack):
    stack = quiet_stack
    created = stack.backup.control("bulk", {
        "vault": "unwired", "count": JOBS, "destinations": [DR_VAULT], "seed": 7,
        "states": {"COMPLETED": 0.85, "FAILED": 0.1, "RUNNING": 0.05},
        "statusMessage": "Copy job failed because the destination backup vault is being modified. Try again later.",
    })
    assert created == {"backups": JOBS, "copies": JOBS}
    stack.backup.control("bulk", {"vault": "routed", "count": BACKUPS_WITHOUT_COPIES, "resourceType": "EBS"})
    jobs = stack.queries.copy_jobs()
    seen, unseen = jobs[UNSEEN:], jobs[:UNSEEN]
    stack.resources.track(seen)
    unseen_failed = [j for j in unseen if j["State"] == "FAILED"]
    running = [j for j in jobs if j["State"] == "RUNNING"]
    calls_before = stack.backup.calls().get("ListCopyJobs", 0)

    outcome = stack.delivery.reconcile()
    assert outcome.ok, outcome.payload
    summary = outcome.payload
    assert summary["complete"] and summary["errors"] == 0
    assert (summary["scanned"], summary["pages"]) == (JOBS, 3)
    assert stack.backup.calls()["ListCopyJobs"] - calls_before == 3
    assert summary["repaired"] == UNSEEN, "exactly the jobs the table did not know"
    assert summary["retried"] == len(unseen_failed) > 0, "failures nobody handled, and only those"
    assert summary["alerted"] == 0
    assert summary["missingCopiesStarted"] == 2 * BACKUPS_WITHOUT_COPIES, "routed vault: DR and EU for EBS"
    for job in unseen[:20]:
        assert stack.queries.copy_record(job["CopyJobId"])["state"] == job["State"]
    for job in unseen_failed[:5]:
        assert stack.queries.copy_record(job["CopyJobId"])["outcome"] == "retry 1 scheduled"

    # The retries, the new copies and the running jobs finish. The routed vault's copies are
    # tracked through events; the unwired vault publishes nothing, so its jobs stay as the first
    # sweep saw them...
    stack.delivery.settle()
    retries = [stack.queries.copy_record(job["CopyJobId"])["retried_by"] for job in unseen_failed]
    assert {stack.queries.copy_record(r)["state"] for r in retries} == {"CREATED"}
    assert {j["State"] for j in stack.queries.copy_jobs(ByDestinationVaultArn=EU_VAULT)} == {"COMPLETED"}
    assert len(stack.queries.copy_jobs(ByDestinationVaultArn=EU_VAULT)) == BACKUPS_WITHOUT_COPIES

    # ...until the next sweep brings them in line with the API; the one after finds nothing to do.
    again = stack.delivery.reconcile().payload
    assert again["scanned"] == JOBS + len(unseen_failed) + 2 * BACKUPS_WITHOUT_COPIES
    assert (again["repaired"], again["retried"], again["alerted"], again["missingCopiesStarted"]) == (len(unseen_failed) + len(running), 0, 0, 0)
    for retry in retries[:5]:
        assert stack.queries.copy_record(retry)["state"] == "COMPLETED"
    third = stack.delivery.reconcile().payload
    assert (third["repaired"], third["retried"], third["alerted"], third["missingCopiesStarted"]) == (0, 0, 0, 0)


# ---------------------------------------------------------------- the deadline, against a slow stand-in

SLOW_JOBS = 30  # three ListCopyJobs pages of 10 (the slow stack's page size)
SLOW_BACKUPS = 6  # routed, without copies: 12 missing copies (DR and EU for EBS)


def safety_margin() -> int:
    """The reconciler's SAFETY_MARGIN, as the benchmark reads it from the Rust source."""
    spec = importlib.util.spec_from_file_location("reconciler_sweep", ROOT / "bench" / "reconciler_sweep.py")
    bench = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(bench)
    return bench.safety_margin()


@pytest.fixture(scope="module")
def slow_stack():
    """A stack of its own, with pages of 10: the runs' counts are exact only if nothing else is in the window."""
    with LocalAws(max_attempts=3, routes=ROUTES, reconciler_env={"RECONCILE_PAGE_SIZE": "10"}) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("unwired", notify=False)
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        yield stack


@contextmanager
def reconciler_timeout(stack, seconds: float):
    """The reconciler's function timeout (its invocations' deadline) set to `seconds` meanwhile."""
    function = stack.functions["reconciler"]
    before, function.timeout = function.timeout, seconds
    try:
        yield
    finally:
        function.timeout = before


def timed_reconcile(stack, timeout: float):
    """One reconciler run with `timeout` to its deadline: (summary, seconds it took). Lambda (the
    harness) ends a run that overruns its deadline: then the outcome is an error."""
    with reconciler_timeout(stack, timeout):
        started = time.monotonic()
        outcome = stack.delivery.reconcile()
        took = time.monotonic() - started
    assert outcome.ok, f"{outcome.payload} after {took:.1f} s of {timeout} s"
    return outcome.payload, took


def cursor_item(stack) -> dict:
    return stack.endpoints.client("dynamodb").get_item(TableName=stack.resources.table, Key={"pk": {"S": "reconciler#cursor"}})["Item"]


def test_runs_with_a_short_deadline_stop_in_time_with_their_cursor_saved_and_the_next_finishes(slow_stack):
    stack = slow_stack
    margin = safety_margin()
    stack.backup.control("bulk", {"vault": "unwired", "count": SLOW_JOBS, "destinations": [DR_VAULT], "seed": 3})
    stack.backup.control("bulk", {"vault": "routed", "count": SLOW_BACKUPS, "resourceType": "EBS"})
    try:
        # Each ListCopyJobs and StartCopyJob takes 1.5 s. The listing alone (three pages) outlasts
        # a run's 2.5 s of work: the first run stops in it and saves its place. Checking only
        # before each page, it went on to the twelve missing copies, until Lambda ended it.
        stack.backup.control("faults", {"latencyMs": 1500, "operations": ["ListCopyJobs", "StartCopyJob"]})
        first, took = timed_reconcile(stack, margin + 2.5)
        assert took < margin + 2.5 and not first["complete"], first
        assert first["scanned"] < SLOW_JOBS and first["errors"] == 0, first
        cursor = cursor_item(stack)
        assert cursor["sweep_phase"] == {"S": "listing"} and cursor["sweep_clean"] == {"BOOL": True}, cursor

        # The second takes up at that place (not at the first page), reconciles the rest, lists the
        # window again for coverage and copies, and stops in the missing-copy pass.
        listed = stack.backup.calls()["ListCopyJobs"]
        second, took = timed_reconcile(stack, margin + 12)
        assert took < margin + 12 and not second["complete"] and second["errors"] == 0, second
        if "next_token" in cursor:
            assert stack.backup.calls()["ListCopyJobs"] - listed <= 2 + 3, "continued, not started over"
        assert first["repaired"] + second["repaired"] <= SLOW_JOBS, (first, second)
        swept = [job["CopyJobId"] for job in stack.queries.copy_jobs() if job["SourceBackupVaultArn"].endswith(":unwired")]
        assert len(swept) == SLOW_JOBS
        assert {stack.queries.copy_record(job)["state"] for job in swept} == {"COMPLETED"}, "every record in line"
        assert cursor_item(stack)["sweep_phase"] == {"S": "copies"}
        assert second["missingCopiesStarted"] < 2 * SLOW_BACKUPS, second
    finally:
        stack.backup.control("faults", {"latencyMs": 0, "operations": None})
    # The third lists the copies started so far and starts the others: each one once.
    third, _ = timed_reconcile(stack, 300)
    assert third["complete"] and third["missingCopyPass"] == "ran" and third["errors"] == 0, third
    assert third["repaired"] == 0, "the copies phase reconciles nothing"
    assert "window_start" not in cursor_item(stack), "the sweep is finished"
    routed = [job for job in stack.queries.copy_jobs() if job["SourceBackupVaultArn"].endswith(":backup-vault:routed")]
    pairs = Counter((job["SourceRecoveryPointArn"], job["DestinationBackupVaultArn"]) for job in routed)
    assert len(pairs) == 2 * SLOW_BACKUPS and set(pairs.values()) == {1}, pairs
    again = stack.delivery.reconcile().payload
    assert again["missingCopiesStarted"] == 0 and "missing" not in again["coverage"]["byStatus"], again
