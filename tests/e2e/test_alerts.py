"""Alerts people act on, end to end through the real binaries: an alert is one Publish with
`MessageStructure: json` whose `default` message (what the alert topic's SQS subscription and a
chat channel's HTTPS subscription receive) is an AWS Chatbot custom notification that passes the
JSON Schema written from AWS's documented schema (tests/fixtures/chatbot/), and whose `email`
message is the readable text; a manual fix gets exactly one "resolved" message, in the alert's
thread, from the reconciler's next sweep."""

import json
import uuid
import shlex

import botocore.session
from botocore.validate import ParamValidator
from jsonschema import Draft202012Validator

from harness.config import ACCOUNT, ROLE, TESTS
from test_end_to_end import DR_VAULT, LIFECYCLE, PATH_FAILURE, PERMANENT, jobs_for, plan

SCHEMA = json.loads((TESTS / "fixtures/chatbot/custom-notification.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)
KMS_KEY = "arn:aws:kms:us-west-2:123456789012:key/abc"  # the key PATH_FAILURE names


def schema_errors(notification: dict) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in VALIDATOR.iter_errors(notification)]


def attribute(alert: dict, name: str) -> str:
    return alert["MessageAttributes"][name]["Value"]


def alerted_copy(settled, resource) -> tuple[dict, dict, dict]:
    """A plan copy that fails for good (its recovery point's tags): (the backup, its failed copy job, the one alert)."""
    plan_id = plan(settled)
    settled.backup.fail_copies(PERMANENT, destinationVaultArn=DR_VAULT)
    backup = settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()
    (job,) = jobs_for(settled, backup["RecoveryPointArn"])
    assert job["State"] == "FAILED"
    (alert,) = settled.queries.take_alerts()
    return backup, job, alert


def test_an_alert_is_a_chatbot_custom_notification_by_default_and_readable_text_by_email(settled, resource):
    backup, job, alert = alerted_copy(settled, resource)

    # One message per protocol: `default` (SQS and HTTPS subscribers, the Chatbot channel) and `email`.
    assert sorted(alert["Published"]) == ["default", "email"]
    assert alert["Message"] == alert["Published"]["default"]
    assert alert["Subject"] == "vaultwatch: copy to dr-copy failed permanently"
    assert (attribute(alert, "Reason"), attribute(alert, "CopyJobId")) == ("failed permanently", job["CopyJobId"])

    notification = alert["Notification"]
    assert schema_errors(notification) == []
    assert (notification["version"], notification["source"]) == ("1.0", "custom")
    assert notification["id"] == f"vaultwatch-alert-{job['CopyJobId']}"
    metadata, content = notification["metadata"], notification["content"]
    assert metadata["threadId"] == job["CopyJobId"], "the chain's original job"
    assert metadata["eventType"] == "VaultwatchCopyAlert"
    assert content["textType"] == "client-markdown"
    assert "Copy to dr-copy (us-west-2) failed permanently" in content["title"]
    for part in (job["CopyJobId"], backup["RecoveryPointArn"], resource, DR_VAULT, PERMANENT):
        assert part in content["description"], part
    assert f"aws backup start-copy-job --recovery-point-arn {backup['RecoveryPointArn']}" in content["description"]
    # The next steps follow from AWS's message.
    steps = "\n".join(content["nextSteps"])
    assert "remove tags from the resource" in steps and PERMANENT in steps, steps
    assert {"vaultwatch", "permanent failure", "tags"} <= set(content["keywords"])
    assert backup["RecoveryPointArn"] in metadata["relatedResources"]
    assert metadata["additionalContext"]["copyJobId"] == job["CopyJobId"]

    # E-mail subscribers get the readable text, with what to do.
    email = alert["Email"]
    assert email.startswith("An AWS Backup copy failed permanently.\n")
    for part in (f"Copy job:          {job['CopyJobId']}", "Attempts:          1", f"Reason:            {PERMANENT}",
                 "What to do:", "1. The copy would carry more tags than AWS allows", "aws backup start-copy-job"):
        assert part in email, part
    assert "`" not in email and "*Reason" not in email, "plain text, not the chat's markdown"


# The AWS CLI's option -> StartCopyJob's member (the CLI names each option after its member).
CLI_OPTIONS = {"--recovery-point-arn": "RecoveryPointArn", "--source-backup-vault-name": "SourceBackupVaultName",
               "--destination-backup-vault-arn": "DestinationBackupVaultArn", "--iam-role-arn": "IamRoleArn",
               "--lifecycle": "Lifecycle"}


def start_copy_job_params(command: str) -> dict:
    """The StartCopyJob input a command means, split as a POSIX shell splits it; `--lifecycle` in the
    CLI's JSON form."""
    words = shlex.split(command)
    assert words[:3] == ["aws", "backup", "start-copy-job"], words
    options = words[3:]
    assert len(options) % 2 == 0, options
    params = {CLI_OPTIONS[option]: value for option, value in zip(options[::2], options[1::2])}
    if "Lifecycle" in params:
        params["Lifecycle"] = json.loads(params["Lifecycle"])
    return params


def test_the_alerts_command_gives_the_copy_the_lifecycle_the_retry_would_as_start_copy_job_takes_it(settled, resource):
    backup, job, alert = alerted_copy(settled, resource)
    (command,) = [line.strip() for line in alert["Email"].splitlines() if "aws backup start-copy-job" in line]
    assert command in alert["Notification"]["content"]["description"], "the same command in chat"

    params = start_copy_job_params(command)
    shape = botocore.session.get_session().get_service_model("backup").operation_model("StartCopyJob").input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    assert params == {"RecoveryPointArn": backup["RecoveryPointArn"], "SourceBackupVaultName": "planned",
                      "DestinationBackupVaultArn": DR_VAULT, "IamRoleArn": job["IamRoleArn"],
                      "Lifecycle": LIFECYCLE}, "the plan rule's CopyAction lifecycle, as a retry keeps it"


def test_a_manual_fix_gets_exactly_one_resolved_message_in_the_alerts_thread(settled, resource):
    backup, failed, alert = alerted_copy(settled, resource)
    thread = alert["Notification"]["metadata"]["threadId"]

    # The operator fixes the key policy and starts the copy by hand, as the alert says.
    settled.endpoints.client("backup").start_copy_job(
        RecoveryPointArn=backup["RecoveryPointArn"], SourceBackupVaultName="planned",
        DestinationBackupVaultArn=DR_VAULT, IamRoleArn=ROLE,
    )
    settled.delivery.settle()
    (manual,) = [j for j in jobs_for(settled, backup["RecoveryPointArn"]) if j["State"] == "COMPLETED"]
    assert settled.queries.copy_record(manual["CopyJobId"])["state"] == "COMPLETED", "the tracker recorded it"
    assert settled.queries.peek_alerts() == [], "nothing is said before the sweep"

    def in_thread(alerts: list[dict]) -> list[dict]:
        return [a for a in alerts if a["Notification"]["metadata"]["threadId"] == thread]

    sweep = settled.delivery.reconcile()
    assert sweep.ok and sweep.payload["resolved"] >= 1 and sweep.payload["errors"] == 0, sweep.payload
    (resolved,) = in_thread(settled.queries.take_alerts())
    notification = resolved["Notification"]
    assert schema_errors(notification) == []
    assert notification["metadata"]["eventType"] == "VaultwatchCopyResolved"
    assert notification["id"] == f"vaultwatch-resolved-{failed['CopyJobId']}"
    assert "resolved" in notification["content"]["title"] and manual["CopyJobId"] in notification["content"]["description"]
    assert (attribute(resolved, "Reason"), attribute(resolved, "CopyJobId")) == ("resolved", failed["CopyJobId"])
    assert resolved["Subject"] == "vaultwatch: copy to dr-copy resolved"
    assert resolved["Email"].startswith("Resolved: ") and f"Completed copy:    {manual['CopyJobId']}" in resolved["Email"]
    record = settled.queries.copy_record(failed["CopyJobId"])
    assert record["outcome"] == f"alerted: permanent failure; resolved by {manual['CopyJobId']}"
    assert record["resolution_claim"] == "done"

    # The next sweep says nothing more.
    again = settled.delivery.reconcile()
    assert again.ok and again.payload["errors"] == 0, again.payload
    assert in_thread(settled.queries.peek_alerts()) == []


def test_a_broken_path_sends_one_alert_heals_with_one_message_and_is_backfilled(settled):
    """Three nightly backups whose copies to the DR vault fail on its key: one incident alert (chat and
    e-mail), naming the path, AWS's words and the fix. The key is fixed; the next copy on the path
    completes, and the reconciler's sweep tells the incident healed, once, in the same thread; the
    backfill then copies the three recovery points once each, and says so in the thread."""
    plan_id = plan(settled)
    settled.backup.fail_copies(PATH_FAILURE, count=3, destinationVaultArn=DR_VAULT)
    backups = []
    for n in range(3):
        resource = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-path{n}{uuid.uuid4().hex[:10]}"
        backups.append(settled.backup.complete_backup("planned", resource, planId=plan_id))
    settled.delivery.settle()
    for backup in backups:
        (job,) = jobs_for(settled, backup["RecoveryPointArn"])
        assert job["State"] == "FAILED" and settled.queries.copy_record(job["CopyJobId"])["incident"].startswith("incident-")
    (alert,) = settled.queries.take_alerts()
    assert alert["Subject"] == "vaultwatch: copy path to dr-copy broken (KMS key)"
    assert attribute(alert, "Reason") == "path broken" and "CopyJobId" not in alert["MessageAttributes"]
    notification = alert["Notification"]
    assert schema_errors(notification) == []
    thread = notification["metadata"]["threadId"]
    assert thread.startswith("incident-") and notification["metadata"]["eventType"] == "VaultwatchPathIncident"
    steps = "\n".join(notification["content"]["nextSteps"])
    assert KMS_KEY in steps and "not pending deletion" in steps, steps
    email = alert["Email"]
    for part in (":backup-vault:planned", DR_VAULT, PATH_FAILURE, "Affected recovery points:", "What to do:"):
        assert part in email, part
    assert "start-copy-job" not in email, "nothing to copy by hand"

    # The key is fixed: the next night's copy on the path completes; the sweep heals the incident.
    resource = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-pathok{uuid.uuid4().hex[:10]}"
    settled.backup.complete_backup("planned", resource, planId=plan_id)
    settled.delivery.settle()
    settled.delivery.reconcile()
    # The backfill starts a copy of each affected recovery point; each completes (its event reaches
    # the retrier, which closes the backfill when the last has ended).
    settled.delivery.settle()
    healed, backfilled = settled.queries.take_alerts()
    assert healed["Subject"] == "vaultwatch: copy path to dr-copy healed (KMS key)"
    assert healed["Notification"]["metadata"]["threadId"] == thread
    assert "3 recovery points were affected; vaultwatch now copies them again" in healed["Email"], healed["Email"]
    assert backfilled["Subject"] == "vaultwatch: copy path to dr-copy backfilled (KMS key)"
    assert backfilled["Notification"]["metadata"]["threadId"] == thread
    assert "Backfill done: 3 copies made again, 0 already had a copy, 0 recovery points could not be copied" in backfilled["Email"]
    for backup in backups:
        states = sorted(job["State"] for job in jobs_for(settled, backup["RecoveryPointArn"]))
        assert states == ["COMPLETED", "FAILED"], states
    settled.delivery.reconcile()
    settled.delivery.settle()
    assert settled.queries.take_alerts() == [], "told once, copied once"
    for backup in backups:
        assert len(jobs_for(settled, backup["RecoveryPointArn"])) == 2
