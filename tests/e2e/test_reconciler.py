"""The reconciler binary against a stand-in holding thousands of copy jobs, some of which the
event path never saw."""

import pytest

from conftest import DR_VAULT, EU_VAULT, ROUTES
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
