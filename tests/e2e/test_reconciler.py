"""The reconciler binary against a stand-in holding thousands of copy jobs the event path never saw."""

import pytest

from conftest import DR_VAULT, EU_VAULT, ROUTES
from stack import LocalStack

# Three pages of 100. moto's DynamoDB takes ~20 ms a write, so the thousands-of-jobs sweeps live in
# the behaviour tests (tests/behaviour/reconciler.rs) and the paging contract test.
PAGE_SIZE = 100
JOBS = 250
BACKUPS_WITHOUT_COPIES = 10


@pytest.fixture(scope="module")
def quiet_stack():
    """A stack of its own: the sweep's counts are exact only if nothing else is in the window."""
    with LocalStack(max_attempts=3, routes=ROUTES, reconcile_page_size=PAGE_SIZE) as stack:
        stack.create_vault("routed")
        stack.create_vault("unwired", notify=False)
        stack.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.create_vault("eu-archive", region="eu-west-1", notify=False)
        yield stack


def test_a_sweep_repairs_retries_and_starts_missing_copies_then_finds_nothing_to_do(quiet_stack):
    stack = quiet_stack
    created = stack.standin("bulk", {
        "vault": "unwired", "count": JOBS, "destinations": [DR_VAULT], "seed": 7,
        "states": {"COMPLETED": 0.85, "FAILED": 0.1, "RUNNING": 0.05},
        "statusMessage": "Copy job failed because the destination backup vault is being modified. Try again later.",
    })
    assert created == {"backups": JOBS, "copies": JOBS}
    stack.standin("bulk", {"vault": "routed", "count": BACKUPS_WITHOUT_COPIES, "resourceType": "EBS"})
    failed = stack.copy_jobs(ByState="FAILED")
    running = stack.copy_jobs(ByState="RUNNING")
    calls_before = stack.calls().get("ListCopyJobs", 0)

    outcome = stack.reconcile()
    assert outcome.ok, outcome.payload
    summary = outcome.payload
    assert summary["complete"] and summary["errors"] == 0
    assert summary["scanned"] == JOBS and summary["pages"] == 3
    assert summary["repaired"] == JOBS, "every job the event path never saw is now tracked"
    assert summary["retried"] == len(failed) > 0
    assert summary["alerted"] == 0
    assert summary["missingCopiesStarted"] == 2 * BACKUPS_WITHOUT_COPIES, "routed vault: DR and EU for EBS"
    assert stack.calls()["ListCopyJobs"] - calls_before == 3

    for job in failed[:5]:
        record = stack.copy_record(job["CopyJobId"])
        assert record["state"] == "FAILED" and record["outcome"] == "retry 1 scheduled"

    # The retries, the new copies and the jobs that were running finish. The routed vault's copies
    # are tracked through events; the unwired vault publishes nothing, so its jobs stay as the
    # first sweep saw them...
    stack.settle()
    retries = [stack.copy_record(job["CopyJobId"])["retried_by"] for job in failed]
    assert {stack.copy_record(r)["state"] for r in retries} == {"CREATED"}
    assert len(stack.copy_jobs(ByDestinationVaultArn=EU_VAULT)) == BACKUPS_WITHOUT_COPIES
    assert {j["State"] for j in stack.copy_jobs(ByDestinationVaultArn=EU_VAULT)} == {"COMPLETED"}

    # ...until the next sweep brings them in line with the API.
    again = stack.reconcile().payload
    assert again["scanned"] == JOBS + len(failed) + 2 * BACKUPS_WITHOUT_COPIES
    assert (again["repaired"], again["retried"], again["alerted"], again["missingCopiesStarted"]) == (len(failed) + len(running), 0, 0, 0)
    for retry in retries[:5]:
        assert stack.copy_record(retry)["state"] == "COMPLETED"
    third = stack.reconcile().payload
    assert (third["repaired"], third["retried"], third["alerted"], third["missingCopiesStarted"]) == (0, 0, 0, 0)
