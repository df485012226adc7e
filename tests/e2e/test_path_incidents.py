"""Copy path incidents at scale, through the real binaries, with the path broken by the AWS Backup
stand-in's own deciders (standin.paths): the destination vault's KMS key disabled in moto, which the
stand-in reads, so every copy on the path fails with AWS's words for it until the key is enabled
again. Fifty nights of failures make one incident alert; the fix heals it with one message and a
backfill that copies each recovery point once, never more than BACKFILL_CONCURRENCY at a time; and
four retrier processes meeting one broken path's failures at once still open one incident."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

from harness import alarms
from harness.config import ACCOUNT
from harness.stack import LocalAws
from standin import paths as standin_paths
from test_end_to_end import LIFECYCLE, jobs_for

NIGHTS = 50
BACKFILL_CONCURRENCY = 5  # the template's default (BackfillConcurrency)


def keyed_vault(stack, name: str) -> tuple[str, str]:
    """A destination vault `name` in us-west-2 encrypted with a customer managed key of moto's:
    (its ARN, the key's id)."""
    key = stack.endpoints.client("kms", "us-west-2").create_key()["KeyMetadata"]
    stack.backup.backup_client("us-west-2").create_backup_vault(BackupVaultName=name, EncryptionKeyArn=key["Arn"])
    return f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:{name}", key["KeyId"]


def nightly_plan(stack, destination: str) -> str:
    """A plan backing up to `planned` every night, its rule's CopyAction to `destination`."""
    return stack.endpoints.client("backup").create_backup_plan(BackupPlan={
        "BackupPlanName": f"nightly-{uuid.uuid4().hex[:8]}",
        "Rules": [{"RuleName": "nightly", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 3 * * ? *)",
                   "Lifecycle": {"DeleteAfterDays": 35},
                   "CopyActions": [{"DestinationBackupVaultArn": destination, "Lifecycle": LIFECYCLE}]}],
    })["BackupPlanId"]


def night(stack, plan_id: str, n: int) -> dict:
    resource = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-night{n:03d}{uuid.uuid4().hex[:6]}"
    return stack.backup.complete_backup("planned", resource, planId=plan_id)


@contextmanager
def unfinished_copies_into(stack, destination: str):
    """The copy jobs into `destination` not yet ended (CREATED or RUNNING), counted before every
    `advance` of the stand-in: jobs end only there and start only between two, so the largest count
    is the most that were ever in flight at once. Yields the list of counts."""
    counts: list[int] = []
    advance = stack.delivery.advance

    def counted_advance():
        counts.append(sum(len(stack.queries.copy_jobs(ByDestinationVaultArn=destination, ByState=state))
                          for state in ("CREATED", "RUNNING")))
        return advance()

    stack.delivery.advance = counted_advance
    try:
        yield counts
    finally:
        stack.delivery.advance = advance


def reconciler_documents(stack) -> list[dict]:
    """The reconciler's EMF documents so far, in the order it wrote them."""
    return [d for d in stack.queries.emf_documents() if d["Function"] == "reconciler"]


def incident_items(stack, destination: str) -> list[dict]:
    return [item for item in stack.queries.table_items()
            if item["pk"].startswith("incident#") and item["pk"] != "incident#open" and destination in item["pk"]]


def test_fifty_nights_on_a_broken_path_make_one_alert_and_the_fix_backfills_each_once(settled):
    """Fifty nightly backups whose copies into a vault with a disabled key fail, each with AWS's
    message: one incident alert, at most one digest, and the incident counting the fifty recovery
    points. The key is enabled: the next night's copy completes, the sweep tells the incident healed
    once, and the backfill copies the fifty recovery points once each (each has one FAILED and one
    COMPLETED copy job, no more), never more than BACKFILL_CONCURRENCY in flight into the vault,
    and says so once; `vaultwatch coverage` then has every one covered."""
    destination, key_id = keyed_vault(settled, "dr-keyed")
    plan_id = nightly_plan(settled, destination)
    settled.endpoints.client("kms", "us-west-2").disable_key(KeyId=key_id)
    backups = []
    for n in range(NIGHTS):
        backups.append(night(settled, plan_id, n))
        settled.delivery.settle()
    for backup in backups:
        (job,) = jobs_for(settled, backup["RecoveryPointArn"])
        assert (job["State"], job["StatusMessage"]) == ("FAILED", standin_paths.KEY_UNUSABLE), job
        assert settled.queries.copy_record(job["CopyJobId"])["incident"].startswith("incident-")
    alerts = settled.queries.take_alerts()
    opened = [a for a in alerts if a["MessageAttributes"]["Reason"]["Value"] == "path broken"]
    digests = [a for a in alerts if a["MessageAttributes"]["Reason"]["Value"] == "path still broken"]
    assert len(opened) == 1 and len(digests) <= 1 and len(alerts) == len(opened) + len(digests), [a["Subject"] for a in alerts]
    (alert,) = opened
    assert alert["Subject"] == "vaultwatch: copy path to dr-keyed broken (KMS key)"
    assert standin_paths.KEY_UNUSABLE in alert["Email"] and destination in alert["Email"]
    thread = alert["Notification"]["metadata"]["threadId"]
    (incident,) = incident_items(settled, destination)
    assert (incident["incident_state"], incident["affected"]) == ("open", NIGHTS), incident

    # A sweep counts the broken path, and that gauge fires the broken-paths alarm at the default
    # MetricsDetail (essential); it tells no one again.
    written = len(reconciler_documents(settled))
    sweep = settled.delivery.reconcile()
    assert sweep.ok and sweep.payload["brokenPaths"] == 1, sweep.payload
    assert alarms.fires(alarms.template_alarm("BrokenPathsAlarm"), reconciler_documents(settled)[written:])
    settled.delivery.settle()
    assert settled.queries.take_alerts() == []

    # The key is enabled: the next night's copy completes; the sweep heals the incident and starts
    # the backfill, whose copies' events start the next ones until every recovery point is copied.
    settled.endpoints.client("kms", "us-west-2").enable_key(KeyId=key_id)
    healing = night(settled, plan_id, NIGHTS)
    settled.delivery.settle()
    assert [j["State"] for j in jobs_for(settled, healing["RecoveryPointArn"])] == ["COMPLETED"]
    with unfinished_copies_into(settled, destination) as in_flight:
        sweep = settled.delivery.reconcile()
        assert sweep.ok and sweep.payload["errors"] == 0, sweep.payload
        settled.delivery.settle()
    assert max(in_flight) == BACKFILL_CONCURRENCY, in_flight
    starts = settled.backup.copy_starts()
    assert {starts.get(b["RecoveryPointArn"]) for b in backups} == {1}, "one StartCopyJob per recovery point, none repeated"
    healed, backfilled = settled.queries.take_alerts()
    assert healed["Subject"] == "vaultwatch: copy path to dr-keyed healed (KMS key)"
    assert f"{NIGHTS} recovery points were affected" in healed["Email"], healed["Email"]
    assert backfilled["Subject"] == "vaultwatch: copy path to dr-keyed backfilled (KMS key)"
    assert (f"Backfill done: {NIGHTS} copies made again, 0 already had a copy, 0 recovery points could not be copied"
            in backfilled["Email"]), backfilled["Email"]
    assert {healed["Notification"]["metadata"]["threadId"], backfilled["Notification"]["metadata"]["threadId"]} == {thread}
    for backup in backups:
        jobs = jobs_for(settled, backup["RecoveryPointArn"])
        assert sorted(j["State"] for j in jobs) == ["COMPLETED", "FAILED"], jobs
        assert jobs[1]["DestinationRecoveryPointLifecycle"] == LIFECYCLE, "the plan rule's CopyAction lifecycle"

    # Told once, copied once: a later sweep adds nothing; coverage has every backup covered.
    settled.delivery.reconcile()
    settled.delivery.settle()
    assert settled.queries.take_alerts() == []
    assert settled.backup.copy_starts() == starts
    (incident,) = incident_items(settled, destination)
    (healing_copy,) = jobs_for(settled, healing["RecoveryPointArn"])
    assert (incident["incident_state"], incident["healed_by"]) == ("healed", healing_copy["CopyJobId"])
    assert len(settled.queries.copy_jobs(ByDestinationVaultArn=destination)) == 2 * NIGHTS + 1
    report = settled.vaultwatch("coverage", "--since", "1h", "--vault", "planned", "--format", "json")
    rows = {(r["recoveryPoint"], r["destination"]): r for r in json.loads(report.stdout)["rows"]}
    for backup in [*backups, healing]:
        row = rows[(backup["RecoveryPointArn"], destination)]
        assert (row["status"], row["requiredBy"]) == ("covered", "planRule"), row


def test_four_retriers_meeting_one_broken_paths_failures_at_once_open_one_incident():
    """Twelve copies fail on one broken path (its destination key disabled) and their failure events
    reach the retrier at once, four execution environments of it running them side by side: one
    incident, one alert, twelve affected recovery points each counted once."""
    failures = 12
    with LocalAws(max_attempts=3, concurrency={"retrier": 4}) as stack:
        stack.backup.create_vault("planned")
        destination, key_id = keyed_vault(stack, "dr-keyed")
        plan_id = nightly_plan(stack, destination)
        stack.endpoints.client("kms", "us-west-2").disable_key(KeyId=key_id)
        backups = [night(stack, plan_id, n) for n in range(failures)]
        stack.delivery.settle()

        assert len(stack.functions["retrier"].environments) == 4, "the failures ran in four retriers at once"
        for backup in backups:
            (job,) = jobs_for(stack, backup["RecoveryPointArn"])
            assert job["StatusMessage"] == standin_paths.KEY_UNUSABLE, job
        (alert,) = stack.queries.take_alerts()
        assert alert["Subject"] == "vaultwatch: copy path to dr-keyed broken (KMS key)"
        (incident,) = incident_items(stack, destination)
        assert (incident["incident_state"], incident["affected"]) == ("open", failures), incident
        episode_points = [item for item in stack.queries.table_items()
                          if item["pk"].startswith("episode#") and "#point#" in item["pk"]]
        assert sorted(item["pk"].split("#point#")[1] for item in episode_points) == sorted(
            b["RecoveryPointArn"] for b in backups), "each affected recovery point once"
        assert stack.queries.failures() == []
