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
            assert set(actions) <= NO_RESOURCE_LEVEL, (name, statement["Sid"], actions)


def test_pass_role_only_for_the_backup_role_and_only_to_aws_backup():
    passing = [(n, s) for n, s in function_statements() if "iam:PassRole" in as_list(s["Action"])]
    assert {n for n, _ in passing} == {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
    for name, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], name
        assert statement["Resource"] == "BackupRoleArn", name
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
    assert policy("CopyJobRetrierFunction") == {"EventType": ["COPY_JOB"], "State": ["FAILED"]}
    assert policy("CrossRegionCopierFunction") == {"EventType": ["BACKUP_JOB"], "State": ["COMPLETED"]}


def test_every_checkov_skip_is_justified_next_to_its_resource():
    skips = [(name, skip) for name, r in RESOURCES.items() for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert len(skip.get("comment", "")) > 40, (name, skip)
