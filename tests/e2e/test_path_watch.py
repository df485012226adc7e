"""The reconciler's daily path check through the real binary, in the copy paths' world (moto's KMS
and IAM with AWS's managed policies, the IAM proxy's SimulatePrincipalPolicy, the stand-in reading
keys and roles there): a route whose destination key is disabled is found broken on the first sweep
of the day, before any copy on it has run — one alert naming the path, what was found and the fix,
and no copy started onto the path; later sweeps that day check nothing again; the next day's check
finds the key enabled and heals the incident with one message in its thread, and the route's copy
starts."""

from __future__ import annotations

import json
import time

import pytest

from harness.cloudformation import response_url
from harness.config import ACCOUNT, ROLE
from harness.stack import LocalAws

SOURCE = "primary-watch"
DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-watch"
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
DAY = 24 * 3600


@pytest.fixture
def stack():
    routes = [{"sourceVault": SOURCE, "destinationVaultArn": DR, "resourceTypes": ["EBS"]}]
    # A lookback of two days: the next day's sweep still sees the backup of the first.
    with LocalAws(copy_paths=True, routes=routes, reconciler_env={"RECONCILE_LOOKBACK_HOURS": "48"}) as stack:
        yield stack


def broken_route(stack) -> str:
    """The stack's role (AWS's managed policy for AWS Backup), the route's vaults, the DR vault on a
    customer managed key that is disabled: its ARN."""
    iam = stack.endpoints.client("iam")
    name = ROLE.rsplit("/", 1)[-1]
    iam.create_role(RoleName=name, Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=name, PolicyArn=MANAGED_POLICY)
    kms = stack.endpoints.client("kms", "us-west-2")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=key.split("/")[-1])
    stack.backup.create_vault(SOURCE)
    stack.backup.backup_client("us-west-2").create_backup_vault(BackupVaultName="dr-watch", EncryptionKeyArn=key)
    return key


def test_a_broken_route_is_found_before_any_copy_and_healed_by_the_next_days_check(stack):
    key = broken_route(stack)
    kms = stack.endpoints.client("kms", "us-west-2")
    backup = stack.backup.complete_backup(SOURCE, f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-0watch00000000000")
    copies = stack.backup.backup_client().list_copy_jobs

    # The first sweep of the day checks the route: broken, one alert, and no copy onto it.
    first = stack.delivery.reconcile()
    assert first.ok, first
    checked = first.payload["pathCheck"]
    assert (checked["broken"], checked["incidentsFound"]) == (1, 1), first.payload
    assert (first.payload["incidentsOpened"], first.payload["brokenPaths"], first.payload["errors"]) == (1, 1, 0)
    assert first.payload["missingCopiesStarted"] == 0
    assert copies(ByDestinationVaultArn=DR)["CopyJobs"] == []
    (alert,) = stack.queries.take_alerts()
    assert alert["Subject"] == "vaultwatch: copy path to dr-watch broken (KMS key)"
    email = alert["Email"]
    assert "Found by:                 the path check, before a copy on the path failed" in email, email
    assert f"the destination vault's key {key} is Disabled" in email, email
    assert f"aws kms enable-key --key-id {key} --region us-west-2" in email, email
    thread = alert["Notification"]["metadata"]["threadId"]

    # `vaultwatch paths` with the table: the route broken, as the incident says.
    health = path_health(stack)
    assert health["verdict"]["status"] == "broken" and health["health"]["health"] == "broken", health
    assert health["health"]["causes"] == ["kms_key"] and health["health"]["affected"] == 0, health

    # Later sweeps of the day: no second check, nothing said.
    again = stack.delivery.reconcile()
    assert again.ok and "pathCheck" not in again.payload and again.payload["errors"] == 0, again.payload
    assert stack.queries.take_alerts() == []

    # The fix; the next day's first sweep finds it and heals the incident, and the copy starts.
    kms.enable_key(KeyId=key.split("/")[-1])
    healed = stack.delivery.reconcile(at=time.time() + DAY)
    assert healed.ok, healed
    assert (healed.payload["pathCheck"]["incidentsCleared"], healed.payload["incidentsHealed"]) == (1, 1), healed.payload
    assert (healed.payload["brokenPaths"], healed.payload["missingCopiesStarted"]) == (0, 1), healed.payload
    (message,) = stack.queries.take_alerts()
    assert message["Subject"] == "vaultwatch: copy path to dr-watch healed (KMS key)"
    assert message["Notification"]["metadata"]["threadId"] == thread
    assert "the path check found the cause gone" in message["Email"], message["Email"]
    (copy,) = copies(ByDestinationVaultArn=DR)["CopyJobs"]
    assert copy["SourceRecoveryPointArn"] == backup["RecoveryPointArn"]
    health = path_health(stack)["health"]
    assert health["health"] == "healthy" and "checkedOkAt" in health and "lastCompletedAt" not in health, health

    # The copy completes; the next sweep notes it: the path's health names it.
    stack.backup.advance()
    stack.delivery.settle()
    assert stack.delivery.reconcile(at=time.time() + DAY).ok
    health = path_health(stack)["health"]
    assert (health["health"], health["lastCompletedJob"]) == ("healthy", copy["CopyJobId"]), health


def test_at_deploy_the_custom_resource_checks_alerts_and_answers_success(stack):
    """CloudFormation's Create of `PathCheckAtDeploy`, sent to the reconciler's function: the route
    is found broken (one alert), CloudFormation is answered SUCCESS with what was found; Delete is
    answered SUCCESS and says nothing."""
    broken_route(stack)
    with response_url() as (url, answers):
        event = {
            "RequestType": "Create", "ResponseURL": url,
            "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/vaultwatch/1", "RequestId": "r-1",
            "LogicalResourceId": "PathCheckAtDeploy", "ResourceType": "AWS::CloudFormation::CustomResource",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:reconciler",
                                   "CopyRoutes": "[]", "BackupRoleArn": ROLE},
        }
        created = stack.functions["reconciler"].invoke(event)
        assert created.ok, created.payload
        (answer,) = answers
        assert (answer["Status"], answer["RequestId"]) == ("SUCCESS", "r-1"), answer
        assert answer["PhysicalResourceId"] == "vaultwatch-path-check-PathCheckAtDeploy"
        assert answer["Reason"].startswith("path check: 1 paths, 0 ok, 1 broken"), answer["Reason"]
        (alert,) = stack.queries.take_alerts()
        assert alert["Subject"] == "vaultwatch: copy path to dr-watch broken (KMS key)"
        deleted = {**event, "RequestType": "Delete", "RequestId": "r-2",
                   "PhysicalResourceId": answer["PhysicalResourceId"]}
        assert stack.functions["reconciler"].invoke(deleted).ok
        assert (answers[-1]["Status"], answers[-1]["RequestId"]) == ("SUCCESS", "r-2")
        assert stack.queries.take_alerts() == []


def path_health(stack) -> dict:
    """The route's report from `vaultwatch paths --table` (the stack's table, its routes and role)."""
    result = stack.vaultwatch("paths", "--no-plans", "--format", "json")
    assert result.returncode in (0, 1, 4), result.stderr
    (route,) = [path for path in json.loads(result.stdout)["paths"] if path["origin"]["kind"] == "route"]
    return route
