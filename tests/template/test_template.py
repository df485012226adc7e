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
# Actions on a recovery point (resource type recoveryPoint*, ARN
# arn:${Partition}:${Vendor}:${Region}:*:${ResourceType}:${RecoveryPointId} in the Service
# Authorization Reference: EBS, EC2 and RDS points have ec2/rds ARNs): this region's, of any service.
RECOVERY_POINT_ACTIONS = {"backup:DescribeRecoveryPoint", "backup:StartCopyJob"}
THIS_REGIONS_RECOVERY_POINTS = "arn:${AWS::Partition}:*:${AWS::Region}:*:*"
THIS_ACCOUNTS_VAULTS = "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"
# The functions that copy, and so pass roles and know their grants.
COPYING = {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}


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
        if statement["Effect"] == "Deny":
            # The only Deny: StartCopyJob outside the allowed copy targets (next test).
            assert actions == ["backup:StartCopyJob"] and set(statement["Condition"]) == {"ForAnyValue:ArnNotLike"}, (name, statement)
            continue
        assert statement["Effect"] == "Allow" and "Condition" not in statement or actions == ["iam:PassRole"], (name, statement)
        if statement["Resource"] == "*":
            assert set(actions) <= NO_RESOURCE_LEVEL, (name, statement["Sid"], actions)
        if set(actions) & RECOVERY_POINT_ACTIONS:
            assert len(actions) == 1 and statement["Resource"] == THIS_REGIONS_RECOVERY_POINTS, (name, statement)


def test_recovery_point_actions_are_granted_where_the_code_calls_them():
    granted = {}
    for name, statement in function_statements():
        if statement["Effect"] == "Allow":
            for action in set(as_list(statement["Action"])) & RECOVERY_POINT_ACTIONS:
                granted.setdefault(action, set()).add(name)
    assert granted == {
        "backup:StartCopyJob": COPYING,
        "backup:DescribeRecoveryPoint": {"CopyJobRetrierFunction", "CopyJobReconcilerFunction"},
    }


def test_copies_go_only_to_the_allowed_copy_targets_which_the_code_knows_too():
    # backup:CopyTargets is documented for CopyFromBackupVault, not StartCopyJob: an Allow requiring
    # it would deny every copy, so it appears only in a Deny that is inert when the key is absent.
    denying = [(n, s) for n, s in function_statements() if s["Effect"] == "Deny"]
    assert {n for n, _ in denying} == COPYING
    for name, statement in denying:
        assert as_list(statement["Action"]) == ["backup:StartCopyJob"] and statement["Resource"] == "*", name
        # !If [HasCopyTargets, AllowedCopyTargets, [this account's vaults in any region]]
        condition, chosen, default = statement["Condition"]["ForAnyValue:ArnNotLike"]["backup:CopyTargets"]
        assert (condition, chosen, default) == ("HasCopyTargets", "AllowedCopyTargets", [THIS_ACCOUNTS_VAULTS]), name
    for name, statement in function_statements():
        assert "backup:CopyTargets" not in str(statement.get("Condition")) or statement["Effect"] == "Deny", name
    parameter = TEMPLATE["Parameters"]["AllowedCopyTargets"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert TEMPLATE["Conditions"]["HasCopyTargets"] == [[["", "AllowedCopyTargets"], ""]]


def test_the_copying_functions_know_their_role_and_target_grants():
    globals_ = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for name in COPYING:
        variables = {**globals_, **RESOURCES[name]["Properties"]["Environment"]["Variables"]}
        assert variables["COPY_ROLE_ARN"] == "BackupRoleArn", name
        # BackupRoleArn + PassableRoleArns, as the iam:PassRole grant.
        assert variables["PASSABLE_ROLE_ARNS"] == [",", ["BackupRoleArn", [",", "PassableRoleArns"]]], name
        # The AllowedCopyTargets patterns, comma-separated, else this account's vaults: as the Deny.
        assert variables["COPY_TARGETS"] == ["HasCopyTargets", [",", "AllowedCopyTargets"], THIS_ACCOUNTS_VAULTS], name


def test_pass_role_only_for_the_backup_role_and_only_to_aws_backup():
    passing = [(n, s) for n, s in function_statements() if "iam:PassRole" in as_list(s["Action"])]
    assert {n for n, _ in passing} == {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
    for name, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], name
        # !If [HasPassableRoles, !Split [",", !Join [",", [BackupRoleArn, !Join [",", PassableRoleArns]]]], [BackupRoleArn]]
        condition, with_extra, only_backup_role = statement["Resource"]
        assert condition == "HasPassableRoles" and only_backup_role == ["BackupRoleArn"], name
        assert with_extra == [",", [",", ["BackupRoleArn", [",", "PassableRoleArns"]]]], name
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}, name
    parameter = TEMPLATE["Parameters"]["PassableRoleArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert TEMPLATE["Conditions"]["HasPassableRoles"] == [[["", "PassableRoleArns"], ""]]


def test_the_tracker_and_the_retrier_only_write_the_table():
    for name in ("CopyJobTrackerFunction", "CopyJobRetrierFunction"):
        table = [s for n, s in function_statements() if n == name and s["Resource"] == "TrackingTable.Arn"]
        assert [as_list(s["Action"]) for s in table] == [["dynamodb:UpdateItem"]], name


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


def test_an_alarm_fires_when_the_vault_topic_falls_silent():
    (alarm,) = [r for r in of_type("AWS::CloudWatch::Alarm").values() if r["Properties"]["Dimensions"][0]["Value"] == "VaultEventsTopic.TopicName"]
    properties = alarm["Properties"]
    assert alarm["Condition"] == "AlarmOnSilentVaultTopic"
    assert TEMPLATE["Conditions"]["AlarmOnSilentVaultTopic"] == [["SilentVaultTopicAlarmHours", "0"]]
    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == ("AWS/SNS", "NumberOfMessagesPublished", "Sum")
    assert properties["Dimensions"] == [{"Name": "TopicName", "Value": "VaultEventsTopic.TopicName"}]
    # One-hour periods, as many as the parameter says, every one of them silent.
    assert properties["Period"] == 3600
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == "SilentVaultTopicAlarmHours"
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1)
    # No publication sends no datapoint: missing data is the silence the alarm is for.
    assert properties["TreatMissingData"] == "breaching"
    assert properties["AlarmActions"] == ["AlertTopic"]
    assert "notif" in properties["AlarmDescription"] and "backup" in properties["AlarmDescription"].lower()
    parameter = TEMPLATE["Parameters"]["SilentVaultTopicAlarmHours"]
    # CloudWatch: Period x EvaluationPeriods at most 7 days for periods of an hour or more.
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == ("Number", 36, 0, 168)
    assert parameter["MaxValue"] * properties["Period"] <= 7 * 86400


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


# ---------------------------------------------------------------- what the README's Security section says
# Each test below checks one property the README states (sections Security, Deploy, Design decisions);
# test_iam_actions.py checks, independently, that each function's actions are what its code calls.

STACK_KEY = "EventsKey.Arn"
# The README's "What the functions may do", function by function: action -> the resources it lists.
README_GRANTS = {
    "CopyJobTrackerFunction": {
        "dynamodb:UpdateItem": {"TrackingTable.Arn"},
    },
    "CopyJobRetrierFunction": {
        "dynamodb:UpdateItem": {"TrackingTable.Arn"},
        "backup:DescribeCopyJob": {"*"},
        "backup:GetBackupPlan": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-plan:*"},
        "backup:StartCopyJob": {THIS_REGIONS_RECOVERY_POINTS},
        "backup:DescribeRecoveryPoint": {THIS_REGIONS_RECOVERY_POINTS},
        "iam:PassRole": {"HasPassableRoles", "BackupRoleArn", ",", "PassableRoleArns"},
        "sns:Publish": {"AlertTopic"},
        "sqs:SendMessage": {"RetryQueue.Arn"},
    },
    "CrossRegionCopierFunction": {
        "backup:DescribeBackupJob": {"*"},
        "backup:StartCopyJob": {THIS_REGIONS_RECOVERY_POINTS},
        "iam:PassRole": {"HasPassableRoles", "BackupRoleArn", ",", "PassableRoleArns"},
    },
    "VaultNotificationsFunction": {
        "backup:DescribeBackupVault": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-vault:*"},
        "backup:GetBackupVaultNotifications": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-vault:*"},
        "backup:PutBackupVaultNotifications": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-vault:*"},
    },
}
# The reconciler: the retrier's rights plus the listings, the batch read and the cursor item.
README_GRANTS["CopyJobReconcilerFunction"] = {
    **README_GRANTS["CopyJobRetrierFunction"],
    "backup:ListCopyJobs": {"*"},
    "backup:ListBackupJobs": {"*"},
    "dynamodb:BatchGetItem": {"TrackingTable.Arn"},
    "dynamodb:GetItem": {"TrackingTable.Arn"},
    "dynamodb:PutItem": {"TrackingTable.Arn"},
}
# And all of them: the failure destination and the stack's key.
EVERY_FUNCTION_GRANTS = {
    "sqs:SendMessage": {"FailureQueue.Arn"},
    "kms:GenerateDataKey": {STACK_KEY},
    "kms:Decrypt": {STACK_KEY},
}


def flat(value):
    """The strings in a (possibly intrinsic, nested) value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {s for item in value for s in flat(item)}
    if isinstance(value, dict):
        return {s for item in value.values() for s in flat(item)}
    return set()


def granted(function):
    grants = {}
    for name, statement in function_statements():
        if name == function and statement["Effect"] == "Allow":
            for action in as_list(statement["Action"]):
                grants.setdefault(action, set()).update(flat(statement["Resource"]))
    return grants


@pytest.mark.parametrize("function", sorted(README_GRANTS))
def test_each_function_has_exactly_the_grants_the_readme_lists(function):
    expected = {action: set(resources) for action, resources in README_GRANTS[function].items()}
    for action, resources in EVERY_FUNCTION_GRANTS.items():
        expected.setdefault(action, set()).update(resources)
    assert granted(function) == expected
    assert set(README_GRANTS) == set(of_type("AWS::Serverless::Function"))


def test_one_customer_managed_key_with_rotation_encrypts_topics_queues_table_logs_and_environment():
    (key,) = of_type("AWS::KMS::Key")
    assert key == "EventsKey"
    assert RESOURCES["EventsKey"]["Properties"]["EnableKeyRotation"] is True
    for name in {**of_type("AWS::SNS::Topic"), **of_type("AWS::SQS::Queue")}:
        assert RESOURCES[name]["Properties"]["KmsMasterKeyId"] == "EventsKey", name
    sse = RESOURCES["TrackingTable"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": STACK_KEY}
    for name, group in of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == STACK_KEY, name
    # The functions' environment: the Globals' key, which no function overrides.
    assert TEMPLATE["Globals"]["Function"].get("KmsKeyArn") == STACK_KEY
    for name, function in of_type("AWS::Serverless::Function").items():
        assert "KmsKeyArn" not in function["Properties"], name


def test_the_tracking_table_is_on_demand_and_survives_stack_deletion_and_replacement():
    table = RESOURCES["TrackingTable"]
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_every_function_logs_to_an_encrypted_group_kept_90_days():
    groups = {g["Properties"]["LogGroupName"]: g for g in of_type("AWS::Logs::LogGroup").values()}
    for name, function in of_type("AWS::Serverless::Function").items():
        group = groups.get(f"/aws/lambda/${{{name}}}")
        assert group is not None, f"{name} has no log group of its own (Lambda would create one: no retention, no key)"
        assert group["Properties"]["RetentionInDays"] == 90, name
        assert group.get("Condition") == function.get("Condition"), name


def test_retries_are_dead_lettered_after_five_receives_and_reported_one_by_one():
    redrive = RESOURCES["RetryQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": "RetryDeadLetterQueue.Arn", "maxReceiveCount": 5}
    events = RESOURCES["CopyJobRetrierFunction"]["Properties"]["Events"]
    (due,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert due["Queue"] == "RetryQueue.Arn" and due["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # SQS hides a received message for its visibility timeout: at least the retrier's timeout.
    timeout = RESOURCES["CopyJobRetrierFunction"]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert RESOURCES["RetryQueue"]["Properties"]["VisibilityTimeout"] >= timeout


def test_both_queue_alarms_notify_the_alert_topic_and_the_alerts_alarm_counts_alerts():
    alarms = of_type("AWS::CloudWatch::Alarm").values()
    by_target = {a["Properties"]["Dimensions"][0]["Value"]: a["Properties"] for a in alarms}
    for queue in ("FailureQueue.QueueName", "RetryDeadLetterQueue.QueueName"):
        alarm = by_target[queue]
        assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "ApproximateNumberOfMessagesVisible", "GreaterThanOrEqualToThreshold", 1), queue
        assert alarm.get("AlarmActions") == ["AlertTopic"], queue
    alerts = by_target["AlertTopic.TopicName"]
    assert (alerts["MetricName"], alerts["Statistic"], alerts["Threshold"]) == ("NumberOfMessagesPublished", "Sum", 1)


def test_the_functions_verify_who_published_every_notification():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    # The stack's vault topic, then ExtraAllowedTopicArns; and only this account.
    assert variables["ALLOWED_TOPIC_ARNS"] == [",", ["VaultEventsTopic", [",", "ExtraAllowedTopicArns"]]]
    assert variables["ALLOWED_ACCOUNT_IDS"] == "AWS::AccountId"
    for name, function in of_type("AWS::Serverless::Function").items():
        overrides = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not {"ALLOWED_TOPIC_ARNS", "ALLOWED_ACCOUNT_IDS"} & set(overrides), name


def test_a_claim_outlives_every_function_that_can_hold_one():
    # A claim whose holder crashed is taken over after CLAIM_LEASE_SECONDS, judged by whichever
    # function meets it: the lease must exceed the timeout of every function that takes claims.
    default_timeout = TEMPLATE["Globals"]["Function"]["Timeout"]
    claiming = {name: f["Properties"] for name, f in of_type("AWS::Serverless::Function").items()
                if "CLAIM_LEASE_SECONDS" in f["Properties"].get("Environment", {}).get("Variables", {})}
    assert set(claiming) == {"CopyJobRetrierFunction", "CopyJobReconcilerFunction"}
    longest = max(p.get("Timeout", default_timeout) for p in claiming.values())
    for name, properties in claiming.items():
        assert int(properties["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"]) > longest, name
