"""Vault notification setup against the AWS Backup stand-in: the `vaultwatch notifications` command,
and the vault-notifications binary as the template's CloudFormation custom resource under the local
Lambda Runtime API."""

import json
import uuid

from harness.cloudformation import response_url
from harness.config import CREDENTIALS, ROOT
from harness.lambda_runtime import LocalLambda

BINARY = str(ROOT / "target" / "debug" / "vault-notifications")
REQUIRED = {"BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"}


def run(stack, *args):
    return stack.vaultwatch("notifications", *args)


def vault(stack, events=None, topic=None) -> str:
    name = f"setup-{uuid.uuid4().hex[:8]}"
    backup = stack.endpoints.client("backup")
    backup.create_backup_vault(BackupVaultName=name)
    if events is not None:
        backup.put_backup_vault_notifications(BackupVaultName=name, SNSTopicArn=topic or stack.resources.vault_topic, BackupVaultEvents=events)
    return name


def notifications(stack, name):
    config = stack.endpoints.client("backup").get_backup_vault_notifications(BackupVaultName=name)
    return config["SNSTopicArn"], set(config["BackupVaultEvents"])


def test_the_command_merges_events_and_is_idempotent(stack):
    name = vault(stack, events=["BACKUP_JOB_STARTED", "RESTORE_JOB_COMPLETED"])
    calls = stack.backup.calls().get("PutBackupVaultNotifications", 0)
    first = run(stack, "--topic-arn", stack.resources.vault_topic, name)
    assert first.returncode == 0, first.stderr
    assert f"{name}: updated" in first.stdout and "keeps BACKUP_JOB_STARTED, RESTORE_JOB_COMPLETED" in first.stdout
    assert notifications(stack, name) == (stack.resources.vault_topic, REQUIRED | {"BACKUP_JOB_STARTED", "RESTORE_JOB_COMPLETED"})
    again = run(stack, "--topic-arn", stack.resources.vault_topic, name)
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert stack.backup.calls()["PutBackupVaultNotifications"] == calls + 1, "the second run wrote nothing"


def test_dry_run_writes_nothing(stack):
    name = vault(stack)
    calls = stack.backup.calls().get("PutBackupVaultNotifications", 0)
    result = run(stack, "--dry-run", "--topic-arn", stack.resources.vault_topic, name)
    assert result.returncode == 0, result.stderr
    assert "would update (dry run)" in result.stdout
    assert stack.backup.calls().get("PutBackupVaultNotifications", 0) == calls


def test_a_conflicting_topic_and_an_unknown_vault_are_refused_clearly(stack):
    other = stack.endpoints.client("sns").create_topic(Name="ops-team")["TopicArn"]
    name = vault(stack, events=["RESTORE_JOB_STARTED"], topic=other)
    result = run(stack, "--topic-arn", stack.resources.vault_topic, name, "no-such-vault")
    assert result.returncode == 1
    assert f"vault {name} already sends its notifications to {other}; refusing to replace them" in result.stderr
    assert "vault no-such-vault does not exist" in result.stderr
    assert notifications(stack, name) == (other, {"RESTORE_JOB_STARTED"})
    replaced = run(stack, "--replace-topic", "--topic-arn", stack.resources.vault_topic, name)
    assert replaced.returncode == 0 and notifications(stack, name)[0] == stack.resources.vault_topic
    usage = run(stack, "primary")
    assert usage.returncode == 2 and "required arguments were not provided:\n  --topic-arn <ARN>" in usage.stderr


def test_the_custom_resource_answers_cloudformation(stack, tmp_path):
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL_BACKUP": stack.endpoints.backup_url}
    function = LocalLambda("vault-notifications", BINARY, env, str(tmp_path / "function.log"))
    with response_url() as (url, answers):
        try:
            function.start()
            name = vault(stack, events=["BACKUP_JOB_STARTED"])
            event = {
                "RequestType": "Create", "ResponseURL": url,
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vaultwatch/1", "RequestId": "r-1",
                "LogicalResourceId": "VaultNotificationSetup", "ResourceType": "Custom::VaultNotifications",
                "ResourceProperties": {"ServiceToken": function.arn, "TopicArn": stack.resources.vault_topic, "VaultNames": [name], "ReplaceTopic": "false"},
            }
            outcome = function.invoke(event)
            assert outcome.ok, outcome.payload
            assert answers[-1]["Status"] == "SUCCESS" and answers[-1]["RequestId"] == "r-1"
            assert notifications(stack, name)[1] == REQUIRED | {"BACKUP_JOB_STARTED"}

            failing = {**event, "RequestId": "r-2", "ResourceProperties": {**event["ResourceProperties"], "VaultNames": ["missing-vault"]}}
            assert function.invoke(failing).ok
            assert answers[-1]["Status"] == "FAILED" and "missing-vault does not exist" in answers[-1]["Reason"]
        finally:
            function.stop()
