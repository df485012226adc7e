"""Audits template.yaml for what operators trust it with: least-privilege IAM, a vault topic only
AWS Backup may publish to, encryption everywhere, failure destinations and alarms."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from stack import ROOT, CfnLoader  # noqa: E402

import yaml  # noqa: E402

TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
RESOURCES = TEMPLATE["Resources"]
# Actions that accept no narrower resource than "*" (AWS Backup's Describe and List calls).
NO_RESOURCE_LEVEL = {"backup:DescribeCopyJob", "backup:DescribeBackupJob", "backup:ListCopyJobs", "backup:ListBackupJobs"}
# Recovery points of EBS, EC2 and RDS have ec2/rds ARNs, which AWS Backup's recovery-point resource
# does not match: these take "*", StartCopyJob only with the backup:CopyTargets condition.
RECOVERY_POINT_ACTIONS = {"backup:DescribeRecoveryPoint", "backup:StartCopyJob"}


def of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def as_list(value):
    return value if isinstance(value, list) else [value]


def function_statements():
    for name, function in of_type("AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            for statement in policy["Statement"]:
                yield name, statement


def test_no_wildcard_actions_and_wildcard_resources_only_where_nothing_narrower_exists():
    statements = list(function_statements())
    assert len(statements) > 20
    for name, statement in statements:
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), (name, actions)
        if statement["Resource"] == "*":
            assert set(actions) <= NO_RESOURCE_LEVEL | RECOVERY_POINT_ACTIONS, (name, statement["Sid"], actions)
            if "backup:StartCopyJob" in actions:
                assert actions == ["backup:StartCopyJob"], (name, actions)
                assert set(statement["Condition"]) == {"ForAllValues:ArnLike", "Null"}, (name, statement)
                assert statement["Condition"]["Null"] == {"backup:CopyTargets": "false"}, name


def test_copies_go_only_to_the_allowed_copy_targets_which_the_code_knows_too():
    starting = [(n, s) for n, s in function_statements() if "backup:StartCopyJob" in as_list(s["Action"])]
    assert {n for n, _ in starting} == {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
    for name, statement in starting:
        # !If [HasCopyTargets, AllowedCopyTargets, [this account's vaults in any region]]
        condition, chosen, default = statement["Condition"]["ForAllValues:ArnLike"]["backup:CopyTargets"]
        assert (condition, chosen) == ("HasCopyTargets", "AllowedCopyTargets"), name
        assert default == ["arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"], name
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["COPY_TARGETS"][1:] == [["," , "AllowedCopyTargets"], "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"]
    assert variables["COPY_ROLE_ARN"] == "BackupRoleArn"
    assert variables["PASSABLE_ROLE_ARNS"] == [",", ["BackupRoleArn", [",", "PassableRoleArns"]]]


def test_pass_role_only_for_the_backup_role_and_only_to_aws_backup():
    passing = [(n, s) for n, s in function_statements() if "iam:PassRole" in as_list(s["Action"])]
    assert {n for n, _ in passing} == {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
    for name, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], name
        condition, with_extra, only_backup_role = statement["Resource"]
        assert condition == "HasPassableRoles" and only_backup_role == ["BackupRoleArn"], name
        assert "BackupRoleArn" in str(with_extra) and "PassableRoleArns" in str(with_extra), name
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}, name


def test_only_aws_backup_of_this_account_may_publish_to_the_vault_topic():
    policy = RESOURCES["VaultEventsTopicPolicy"]["Properties"]
    assert policy["Topics"] == ["VaultEventsTopic"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert statement["Action"] == "SNS:Publish"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "AWS::AccountId"}}


def test_the_tracking_table_has_point_in_time_recovery_and_encryption():
    table = RESOURCES["TrackingTable"]
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("kind,key", [("AWS::SNS::Topic", "KmsMasterKeyId"), ("AWS::SQS::Queue", "KmsMasterKeyId"), ("AWS::Logs::LogGroup", "KmsKeyId")])
def test_topics_queues_and_logs_are_encrypted(kind, key):
    resources = of_type(kind)
    assert resources
    for name, resource in resources.items():
        assert resource["Properties"].get(key), name


def test_every_asynchronously_invoked_function_keeps_failed_events():
    on_failure = TEMPLATE["Globals"]["Function"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": "FailureQueue.Arn"}
    assert TEMPLATE["Globals"]["Function"]["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    for name, function in of_type("AWS::Serverless::Function").items():
        assert "EventInvokeConfig" not in function["Properties"], f"{name} overrides the failure destination"
        can_send = any(
            "sqs:SendMessage" in as_list(s["Action"]) and "FailureQueue.Arn" in as_list(s["Resource"])
            for n, s in function_statements() if n == name
        )
        assert can_send, f"{name} cannot write to its failure destination"
    retry_queue = RESOURCES["RetryQueue"]["Properties"]
    assert retry_queue["RedrivePolicy"]["deadLetterTargetArn"] == "RetryDeadLetterQueue.Arn"


def test_alarms_watch_the_failure_destination_the_retry_dead_letters_and_alerts():
    alarms = of_type("AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]) for a in alarms}
    assert ("ApproximateNumberOfMessagesVisible", "FailureQueue.QueueName") in watched
    assert ("ApproximateNumberOfMessagesVisible", "RetryDeadLetterQueue.QueueName") in watched
    assert ("NumberOfMessagesPublished", "AlertTopic.TopicName") in watched


def test_subscriptions_filter_to_each_functions_events():
    def policy(function):
        events = RESOURCES[function]["Properties"]["Events"].values()
        return next(e["Properties"]["FilterPolicy"] for e in events if e["Type"] == "SNS")
    assert policy("CopyJobTrackerFunction") == {"EventType": ["COPY_JOB"]}
    # No filter on State: AWS documents no spelling of it to rely on; the code decides.
    assert policy("CopyJobRetrierFunction") == {"EventType": ["COPY_JOB"]}
    assert policy("CrossRegionCopierFunction") == {"EventType": ["BACKUP_JOB"]}


def test_every_checkov_skip_is_justified_next_to_its_resource():
    skips = [(name, skip) for name, r in RESOURCES.items() for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert len(skip.get("comment", "")) > 40, (name, skip)
