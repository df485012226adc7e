"""Audits template.yaml for what operators trust it with: least-privilege IAM, a vault topic only
AWS Backup may publish to, encryption everywhere, failure destinations and alarms."""

from pathlib import Path

import pytest
import yaml

from harness.config import ROOT
from harness.template import CfnLoader

TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
RESOURCES = TEMPLATE["Resources"]
# Actions that accept no narrower resource than "*" (AWS Backup's Describe and List calls).
NO_RESOURCE_LEVEL = {"backup:DescribeCopyJob", "backup:DescribeBackupJob", "backup:ListCopyJobs", "backup:ListBackupJobs",
                     "backup:ListCopyJobSummaries",
                     # The path check's: AWS Backup's settings and plan listing, the organization's
                     # description and member list, and STS's caller identity (Service Authorization
                     # Reference: no resource types for any of them).
                     "backup:DescribeGlobalSettings", "backup:ListBackupPlans", "organizations:DescribeOrganization",
                     "organizations:ListAccounts", "sts:GetCallerIdentity"}
# Actions on a recovery point (resource type recoveryPoint*, ARN
# arn:${Partition}:${Vendor}:${Region}:*:${ResourceType}:${RecoveryPointId} in the Service
# Authorization Reference: EBS, EC2 and RDS points have ec2/rds ARNs): this region's, of any service.
RECOVERY_POINT_ACTIONS = {"backup:DescribeRecoveryPoint", "backup:StartCopyJob"}
THIS_REGIONS_RECOVERY_POINTS = "arn:${AWS::Partition}:*:${AWS::Region}:*:*"
THIS_ACCOUNTS_VAULTS = "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"
# The functions that copy, and so pass roles and know their grants.
COPYING = {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
# BackupRoleArn as an ARN: the parameter itself, or (a role name, as a StackSet gives it) that role in
# the stack's own account.
BACKUP_ROLE = ["BackupRoleIsAName", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${BackupRoleArn}", "BackupRoleArn"]


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
        assert variables["COPY_ROLE_ARN"] == BACKUP_ROLE, name
        # BackupRoleArn + PassableRoleArns, as the iam:PassRole grant.
        assert variables["PASSABLE_ROLE_ARNS"] == [",", [BACKUP_ROLE, [",", "PassableRoleArns"]]], name
        # The AllowedCopyTargets patterns, comma-separated, else this account's vaults: as the Deny.
        assert variables["COPY_TARGETS"] == ["HasCopyTargets", [",", "AllowedCopyTargets"], THIS_ACCOUNTS_VAULTS], name


def test_pass_role_only_for_the_backup_role_and_only_to_aws_backup():
    passing = [(n, s) for n, s in function_statements() if "iam:PassRole" in as_list(s["Action"])]
    assert {n for n, _ in passing} == {"CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"}
    for name, statement in passing:
        assert as_list(statement["Action"]) == ["iam:PassRole"], name
        # !If [HasPassableRoles, !Split [",", !Join [",", [BackupRole, !Join [",", PassableRoleArns]]]], [BackupRole]]
        condition, with_extra, only_backup_role = statement["Resource"]
        assert condition == "HasPassableRoles" and only_backup_role == [BACKUP_ROLE], name
        assert with_extra == [",", [",", [BACKUP_ROLE, [",", "PassableRoleArns"]]]], name
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}, name
    parameter = TEMPLATE["Parameters"]["PassableRoleArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert TEMPLATE["Conditions"]["HasPassableRoles"] == [[["", "PassableRoleArns"], ""]]


def test_the_tracker_and_the_retrier_only_write_the_table_and_read_by_key():
    # The retrier reads by key: a path incident another writer counted a failure in, whether a copy
    # that ended was a backfill's, the backfills to advance.
    expected = {"CopyJobTrackerFunction": ["dynamodb:UpdateItem"],
                "CopyJobRetrierFunction": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]}
    for name, actions in expected.items():
        table = [s for n, s in function_statements() if n == name and s["Resource"] == "TrackingTable.Arn"]
        assert [as_list(s["Action"]) for s in table] == [actions], name


def test_only_aws_backup_of_this_account_may_publish_to_the_vault_topic():
    policy = RESOURCES["VaultEventsTopicPolicy"]["Properties"]
    assert policy["Topics"] == ["VaultEventsTopic"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "backup.amazonaws.com"}
    assert statement["Action"] == "SNS:Publish"
    # AWS Backup's documented keys for a topic policy: the account, and a vault as the source.
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "AWS::AccountId"},
                                      "ArnLike": {"aws:SourceArn": "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"}}


THIS_ACCOUNTS_TOPICS = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*"
THIS_ACCOUNTS_QUEUES = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"


def key_statements():
    """The stack key's policy statements, each as (condition or None, statement): a statement under
    !If [Condition, statement, AWS::NoValue] is there only when the condition holds."""
    for statement in RESOURCES["EventsKey"]["Properties"]["KeyPolicy"]["Statement"]:
        if isinstance(statement, list):
            condition, present, absent = statement
            assert absent == "AWS::NoValue", statement
            yield condition, present
        else:
            yield None, statement


def test_services_publishing_to_the_encrypted_topics_use_the_key_under_the_topics_encryption_context():
    # The KMS request behind a service's publish carries the topic as encryption context (SNS sets
    # it); AWS documents no aws:Source* key there, and a condition on an absent key silences the topic.
    statements = [s for _, s in key_statements()]
    publishers = {s["Principal"]["Service"]: s for s in statements
                  if s["Principal"].get("Service") in ("backup.amazonaws.com", "cloudwatch.amazonaws.com")}
    assert set(publishers) == {"backup.amazonaws.com", "cloudwatch.amazonaws.com"}
    for service, statement in publishers.items():
        assert statement["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": THIS_ACCOUNTS_TOPICS}}, service
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"], service
    # No service grant of the key rests on a key the request may lack.
    for statement in statements:
        for condition in statement.get("Condition", {}).values():
            assert not [key for key in condition if key.lower().startswith("aws:source")], statement["Sid"]
    # The key policy admits what the topic policy admits: AWS Backup, to the vault topic of this account.
    (topic_statement,) = RESOURCES["VaultEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert topic_statement["Principal"] == publishers["backup.amazonaws.com"]["Principal"]
    assert RESOURCES["VaultEventsTopic"]["Properties"]["KmsMasterKeyId"] == "EventsKey"


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


# What every alarm with an action notifies: the stack's alert topic and, when AlertTopicArn is in the
# stack's region, that topic too (test_the_functions_alert_on_the_organization_topic_when_given_and_
# the_alarms_there_too_in_its_region renders both cases).
ALARM_ACTIONS = ["AlarmsNotifyTheOrganizationTopic", ["AlertTopic", "AlertTopicArn"], ["AlertTopic"]]


def metric_alarms():
    """The alarms on one metric (not the copy lag alarm, which evaluates a query)."""
    return [a for a in of_type("AWS::CloudWatch::Alarm").values() if "MetricName" in a["Properties"]]


def test_alarms_watch_the_failure_destination_the_retry_dead_letters_and_alerts():
    alarms = metric_alarms()
    watched = {(a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]) for a in alarms}
    assert ("ApproximateNumberOfMessagesVisible", "FailureQueue.QueueName") in watched
    assert ("ApproximateNumberOfMessagesVisible", "RetryDeadLetterQueue.QueueName") in watched
    # Alerts: the functions' AlertsSent metric (the alert topic also carries "resolved" messages).
    (query,) = RESOURCES["AlertsSentAlarm"]["Properties"]["Metrics"]
    assert query["Expression"] == 'SELECT SUM(AlertsSent) FROM SCHEMA("${MetricsNamespace}", Function)'


def test_an_alarm_fires_when_the_vault_topic_falls_silent():
    (alarm,) = [r for r in metric_alarms() if r["Properties"]["Dimensions"][0]["Value"] == "VaultEventsTopic.TopicName"]
    properties = alarm["Properties"]
    assert alarm["Condition"] == "AlarmOnSilentVaultTopic"
    # Off at 0 hours, and without the SNS feed (EventSource eventbridge: nothing publishes to the topic).
    assert TEMPLATE["Conditions"]["AlarmOnSilence"] == [["SilentVaultTopicAlarmHours", "0"]]
    assert TEMPLATE["Conditions"]["AlarmOnSilentVaultTopic"] == ["AlarmOnSilence", "UsesSnsFeed"]
    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == ("AWS/SNS", "NumberOfMessagesPublished", "Sum")
    assert properties["Dimensions"] == [{"Name": "TopicName", "Value": "VaultEventsTopic.TopicName"}]
    # One-hour periods, as many as the parameter says, every one of them silent.
    assert properties["Period"] == 3600
    assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == "SilentVaultTopicAlarmHours"
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1)
    # No publication sends no datapoint: missing data is the silence the alarm is for.
    assert properties["TreatMissingData"] == "breaching"
    assert properties["AlarmActions"] == ALARM_ACTIONS
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
        "dynamodb:GetItem": {"TrackingTable.Arn"},
        "dynamodb:BatchGetItem": {"TrackingTable.Arn"},
        "backup:DescribeCopyJob": {"*"},
        "backup:DescribeBackupJob": {"*"},
        "backup:ListCopyJobs": {"*"},
        "backup:GetBackupPlan": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-plan:*"},
        "backup:StartCopyJob": {THIS_REGIONS_RECOVERY_POINTS},
        "backup:DescribeRecoveryPoint": {THIS_REGIONS_RECOVERY_POINTS},
        "iam:PassRole": {"HasPassableRoles", *BACKUP_ROLE, ",", "PassableRoleArns"},
        # !If [UsesOrganizationAlertTopic, AlertTopicArn, AlertTopic]: the organization's topic when
        # given, and then its key besides the stack's (test_organization_alert_topic_* below).
        "sns:Publish": {"UsesOrganizationAlertTopic", "AlertTopicArn", "AlertTopic"},
        "kms:GenerateDataKey": {"UsesOrganizationAlertTopic", "AlertTopicKeyArn", "AWS::NoValue"},
        "kms:Decrypt": {"UsesOrganizationAlertTopic", "AlertTopicKeyArn", "AWS::NoValue"},
        "sqs:SendMessage": {"RetryQueue.Arn"},
    },
    "CrossRegionCopierFunction": {
        "backup:DescribeBackupJob": {"*"},
        "backup:StartCopyJob": {THIS_REGIONS_RECOVERY_POINTS},
        "iam:PassRole": {"HasPassableRoles", *BACKUP_ROLE, ",", "PassableRoleArns"},
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
    "backup:ListCopyJobSummaries": {"*"},
    "dynamodb:BatchGetItem": {"TrackingTable.Arn"},
    "dynamodb:GetItem": {"TrackingTable.Arn"},
    "dynamodb:PutItem": {"TrackingTable.Arn"},
    # The daily path check, read-only.
    "backup:DescribeBackupVault": {"arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"},
    "backup:GetBackupVaultAccessPolicy": {"arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"},
    "backup:DescribeGlobalSettings": {"*"},
    "backup:ListBackupPlans": {"*"},
    "backup:ListBackupSelections": {"arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-plan:*"},
    "organizations:DescribeOrganization": {"*"},
    "organizations:ListAccounts": {"*"},
    "sts:GetCallerIdentity": {"*"},
    "kms:DescribeKey": {"arn:${AWS::Partition}:kms:*:*:key/*"},
    "kms:GetKeyPolicy": {"arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
    "kms:ListGrants": {"arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
    "iam:SimulatePrincipalPolicy": {"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"},
    # The daily evidence snapshots: new objects under the prefix of the created or the given bucket.
    "s3:PutObject": {
        "arn:${AWS::Partition}:s3:::${Bucket}/coverage-evidence/*",
        "CreatesEvidenceBucket",
        "EvidenceBucket",
        "EvidenceBucketName",
    },
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


def test_customer_managed_keys_with_rotation_encrypt_topics_queues_logs_environment_and_the_table():
    # The stack's key for what goes with the stack; the table's own key, retained with it
    # (test_retained_data.py).
    assert set(of_type("AWS::KMS::Key")) == {"EventsKey", "TrackingTableKey"}
    for key in of_type("AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True
    for name in {**of_type("AWS::SNS::Topic"), **of_type("AWS::SQS::Queue")}:
        assert RESOURCES[name]["Properties"]["KmsMasterKeyId"] == "EventsKey", name
    sse = RESOURCES["TrackingTable"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": "TrackingTableKey.Arn"}
    assert RESOURCES["TrackingTableKey"]["DeletionPolicy"] == RESOURCES["TrackingTableKey"]["UpdateReplacePolicy"] == "Retain"
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
    # Each function's LoggingConfig names a log group of the template (else Lambda would create
    # /aws/lambda/<name>: no retention, no key), one group per function.
    paired = {}
    for name, function in of_type("AWS::Serverless::Function").items():
        group_id = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert group_id in of_type("AWS::Logs::LogGroup"), f"{name} does not log to a log group of its own"
        group = RESOURCES[group_id]
        assert group["Properties"]["RetentionInDays"] == 90, name
        assert group.get("Condition") == function.get("Condition"), name
        # Named after the stack (not the function, which would make the two refer to each other),
        # under /aws/lambda/, where the key policy lets CloudWatch Logs use the key.
        log_group_name = group["Properties"]["LogGroupName"]
        assert log_group_name.startswith("/aws/lambda/${AWS::StackName}/"), (name, log_group_name)
        assert f"${{{name}}}" not in log_group_name, name
        paired[group_id] = name
    assert set(paired) == set(of_type("AWS::Logs::LogGroup")), "a log group no function writes to"


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
    alarms = metric_alarms()
    by_target = {a["Properties"]["Dimensions"][0]["Value"]: a["Properties"] for a in alarms}
    for queue in ("FailureQueue.QueueName", "RetryDeadLetterQueue.QueueName"):
        alarm = by_target[queue]
        assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "ApproximateNumberOfMessagesVisible", "GreaterThanOrEqualToThreshold", 1), queue
        assert alarm.get("AlarmActions") == ALARM_ACTIONS, queue
    alerts = RESOURCES["AlertsSentAlarm"]["Properties"]
    (query,) = alerts["Metrics"]
    (function, metric, namespace, dimensions), = SELECT.findall(query["Expression"])
    assert (function, metric, namespace, dimensions) == ("SUM", code_metrics()["AlertsSent"], "${MetricsNamespace}", "Function")
    assert code_metrics()["AlertsSent"] in function_metrics()
    assert (alerts["Threshold"], alerts["ComparisonOperator"], alerts["TreatMissingData"]) == (1, "GreaterThanOrEqualToThreshold", "notBreaching")
    # No action: it would notify the topic whose alerts it counts.
    assert "AlarmActions" not in alerts


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
        variables = properties["Environment"]["Variables"]
        # The functions check the lease against the longest timeout they are told of: the true one.
        assert int(variables["CLAIM_HOLDER_MAX_TIMEOUT_SECONDS"]) == longest, name
        assert int(variables["CLAIM_LEASE_SECONDS"]) > longest, name


# ---------------------------------------------------------------- metrics, logging, dashboard, alarms, chat, SAR
# What the template promises about observability (README, "Dashboard and alarms"), each checked against
# the code that has to keep the promise: metric names and dimensions from shared/src/metrics.rs and
# handlers/measured.rs, log levels from shared/src/telemetry.rs, alert log lines from the handlers.

import copy  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tomllib  # noqa: E402

# A sibling test module: pytest puts each test file's folder (tests/template) on the import path.
from test_iam_lint import NO_VALUE, TEMPLATE as LONG_FORM, deployment  # noqa: E402

from harness.alarms import essential_metrics  # noqa: E402

SHARED = ROOT / "shared" / "src"
DOCS = ROOT / "docs" / "aws-facts.md"


def rust(path: Path) -> str:
    """A Rust source without its #[cfg(test)] module (what it does, not what its tests say)."""
    return path.read_text().split("#[cfg(test)]")[0]


def code_metrics() -> dict[str, str]:
    """Metric variant -> CloudWatch name, from the match arms of `Metric::name`."""
    source = rust(SHARED / "metrics.rs")
    body = source[source.index("pub fn name(self)"):]
    body = body[:body.index("\n    }\n")]
    arms = dict(re.findall(r"Self::(\w+)\s*=>\s*\"(\w+)\"", body))
    assert len(arms) >= 12, arms
    return arms


def regional_metrics() -> set[str]:
    """The metrics the code writes per destination region (Function + DestinationRegion)."""
    variants = set(re.findall(r"add_for_region\(\s*Metric::(\w+)", rust(SHARED / "handlers" / "measured.rs")))
    return {code_metrics()[v] for v in variants}


def account_metrics() -> set[str]:
    """The metrics the code writes per member account (Function + AccountId: the organization view)."""
    variants = set(re.findall(r"add_for_account\(\s*Metric::(\w+)", rust(SHARED / "handlers" / "measured.rs")))
    return {code_metrics()[v] for v in variants}


def function_metrics() -> set[str]:
    """The metrics the code writes per function alone: those measured.rs names outside its per-region
    and per-account calls."""
    source = rust(SHARED / "handlers" / "measured.rs")
    alone = re.sub(r"add_for_(?:region|account)\(\s*Metric::\w+", "", source)
    return {code_metrics()[v] for v in re.findall(r"\bMetric::([A-Z]\w*)", alone)}


def render(node, params, conditions):
    """The value of `node` in one deployment: parameters and conditions resolved, resources replaced
    by markers (`<Name>` for a Ref, `<Name.Attr>` for a GetAtt) that the tests look for; an
    AWS::NoValue list item is left out."""
    if isinstance(node, list):
        return [r for r in (render(item, params, conditions) for item in node) if r is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" and value == "AWS::NoValue":
            return NO_VALUE
        if key == "Ref":
            return str(params[value]) if value in params else f"<{value}>"
        if key == "Fn::GetAtt":
            return f"<{'.'.join(value) if isinstance(value, list) else value}>"
        if key == "Fn::If":
            condition, when_true, when_false = value
            return render(when_true if conditions[condition] else when_false, params, conditions)
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            variables = {k: render(v, params, conditions) for k, v in variables.items()}

            def substitute(match):
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                return str(params[name]) if name in params else f"<{name}>"
            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    return {k: render(v, params, conditions) for k, v in node.items()}


# Deployments that switch each optional alarm on and off.
ALARM_SCENARIOS = {
    "defaults": {},
    "no-silence-alarm": {"SilentVaultTopicAlarmHours": 0},
    "no-lag-alarm": {"CopyLagThresholdHours": 0},
    "neither": {"SilentVaultTopicAlarmHours": 0, "CopyLagThresholdHours": 0},
    # The feeds' silence alarms: the EventBridge feed's instead of the topic's, and both.
    "eventbridge-feed": {"EventSource": "eventbridge"},
    "both-feeds": {"EventSource": "both"},
    "both-feeds-no-silence-alarm": {"EventSource": "both", "SilentVaultTopicAlarmHours": 0},
    # Every metric the code writes, with the dashboard rows that show the detailed ones.
    "detailed": {"MetricsDetail": "detailed"},
}


def dashboard(scenario):
    params, conditions = deployment(ALARM_SCENARIOS[scenario])
    body = render(LONG_FORM["Resources"]["Dashboard"]["Properties"]["DashboardBody"], params, conditions)
    return json.loads(body), params, conditions


def metric_expressions(board):
    for widget in board["widgets"]:
        if widget["type"] == "metric":
            for entry in widget["properties"]["metrics"]:
                for item in entry:
                    if isinstance(item, dict) and "expression" in item:
                        yield widget, item["expression"]


SEARCH = re.compile(r"SEARCH\('\{(\"[^\"]+\"|[^,\"]+),([^}]*)\} MetricName=\"(\w+)\"', '(\w+)', (\d+)\)")
SELECT = re.compile(r"SELECT (\w+)\((\w+)\) FROM SCHEMA\(\"([^\"]+)\", ([^)]*)\)")


def referenced_metrics(board):
    """(namespace, metric name, dimension names) of every metric the dashboard's expressions read."""
    found = []
    for _, expression in metric_expressions(board):
        for namespace, dimensions, name, _, _ in SEARCH.findall(expression):
            found.append((namespace.strip('"'), name, frozenset(d.strip() for d in dimensions.split(","))))
        for _, name, namespace, dimensions in SELECT.findall(expression):
            found.append((namespace, name, frozenset(d.strip() for d in dimensions.split(","))))
    return found


def test_the_metrics_namespace_reaches_every_function_and_defaults_as_the_code_does():
    parameter = TEMPLATE["Parameters"]["MetricsNamespace"]
    source = rust(SHARED / "metrics.rs")
    assert '"METRICS_NAMESPACE"' in source
    (code_default,) = re.findall(r"unwrap_or_else\(\|\| \"([^\"]+)\"", source)
    assert parameter["Default"] == code_default == "vaultwatch"
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("vaultwatch") and pattern.match("team/vaultwatch-prod")
    assert not pattern.match("AWS/Backup") and not pattern.match('quote"d') and not pattern.match("")
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"] == "MetricsNamespace"
    for name, function in of_type("AWS::Serverless::Function").items():
        assert "METRICS_NAMESPACE" not in function["Properties"].get("Environment", {}).get("Variables", {}), name


def transformed(monkeypatch, overrides=None):
    """The template as CloudFormation receives it after the SAM transform (Globals merged in)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(LONG_FORM)
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"  # sam package's job
    params = {"BackupRoleArn": "arn:aws:iam::123456789012:role/backup", **(overrides or {})}
    return transform(template, params, NoManagedPolicies())


def test_every_function_logs_json_at_the_log_level_to_its_own_group(monkeypatch):
    out = transformed(monkeypatch)["Resources"]
    functions = {n: r for n, r in out.items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(functions) == set(of_type("AWS::Serverless::Function"))
    for name, function in functions.items():
        config = function["Properties"]["LoggingConfig"]
        group = RESOURCES[name]["Properties"]["LoggingConfig"]["LogGroup"]
        assert config == {"LogFormat": "JSON", "ApplicationLogLevel": {"Ref": "LogLevel"},
                          "SystemLogLevel": "INFO", "LogGroup": {"Ref": group}}, name
        variables = function["Properties"]["Environment"]["Variables"]
        # The level reaches the code as AWS_LAMBDA_LOG_LEVEL; a template RUST_LOG would override it.
        assert "RUST_LOG" not in variables and variables["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}, name


def test_the_log_level_parameter_offers_exactly_the_levels_the_code_reads():
    parameter = TEMPLATE["Parameters"]["LogLevel"]
    telemetry = rust(SHARED / "telemetry.rs")
    assert 'env("AWS_LAMBDA_LOG_LEVEL")' in telemetry
    body = telemetry[telemetry.index("fn lambda_log_level"):]
    levels = set(re.findall(r"\"([A-Z]+)\"", body[:body.index("\n}\n")]))
    # Lambda's application log levels (ApplicationLogLevel), each one the code maps to a filter.
    assert set(parameter["AllowedValues"]) == levels == {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
    assert parameter["Default"] == "INFO"
    # Lambda counts a JSON line without "level" as INFO and drops it above INFO: the EMF lines carry
    # the configured level, so they are kept at any.
    metrics = rust(SHARED / "metrics.rs")
    assert 'set("AWS_LAMBDA_LOG_LEVEL")' in metrics and 'document["level"]' in metrics
    assert "EMF" in parameter["Description"]


def test_the_copy_lag_alarm_follows_its_parameter_and_reads_what_the_reconciler_writes():
    alarm = RESOURCES["CopyLagAlarm"]
    properties = alarm["Properties"]
    assert alarm["Condition"] == "AlarmOnCopyLag"
    assert TEMPLATE["Conditions"]["AlarmOnCopyLag"] == [["CopyLagThresholdHours", "0"]]
    parameter = TEMPLATE["Parameters"]["CopyLagThresholdHours"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 24, 0)
    # A sweep sees only its lookback window: the threshold's range stays inside the lookback's.
    assert parameter["MaxValue"] <= TEMPLATE["Parameters"]["ReconcileLookbackHours"]["MaxValue"]
    assert (properties["Threshold"], properties["ComparisonOperator"]) == ("CopyLagThresholdHours", "GreaterThanThreshold")
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == ALARM_ACTIONS
    assert "Namespace" not in properties and "MetricName" not in properties
    query, hours = properties["Metrics"]
    (function, metric, namespace, dimensions), = SELECT.findall(" ".join(query["Expression"].split()))
    assert (function, namespace) == ("MAX", "${MetricsNamespace}")
    assert metric == code_metrics()["OldestUncoveredAgeSeconds"] and metric in regional_metrics()
    assert {d.strip() for d in dimensions.split(",")} == {"DestinationRegion", "Function"}
    # Only the reconciler writes it, under the function name its main gives the metrics writer.
    (writer,) = re.findall(r"MetricsWriter::from_env\(\"(\w+)\"\)", (ROOT / "functions/copy-job-reconciler/src/main.rs").read_text())
    assert f"WHERE Function = '{writer}'" in query["Expression"]
    assert query["ReturnData"] is False and hours["ReturnData"] is True
    # Seconds (the metric's unit) to the parameter's hours.
    assert hours["Expression"] == f"{query['Id']} / 3600"
    assert code_metrics()["OldestUncoveredAgeSeconds"] == "OldestUncoveredAgeSeconds"
    assert re.search(r'Self::OldestUncoveredAgeSeconds\b[^=]*=> "Seconds"', rust(SHARED / "metrics.rs"))
    # Metrics Insights alarms evaluate only the last three hours.
    assert query["Period"] * properties["EvaluationPeriods"] <= 3 * 3600
    assert properties["DatapointsToAlarm"] <= properties["EvaluationPeriods"]


@pytest.mark.parametrize("scenario", sorted(ALARM_SCENARIOS))
def test_the_dashboard_parses_and_lays_out_its_widgets(scenario):
    board, _, _ = dashboard(scenario)
    cells = set()
    for widget in board["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"widgets overlap at {(x, y)}"
                cells.add((x, y))
        if widget["type"] in ("metric", "log"):
            assert widget["properties"]["region"] == "<AWS::Region>", widget
    assert {w["type"] for w in board["widgets"]} == {"text", "alarm", "metric", "log"}
    name = RESOURCES["Dashboard"]["Properties"]["DashboardName"]
    # One dashboard per stack and region (dashboard names are global in an account).
    assert "${AWS::StackName}" in name and "${AWS::Region}" in name


def test_the_dashboard_shows_every_metric_the_code_writes_under_its_dimensions():
    board, _, _ = dashboard("detailed")
    namespace_ = TEMPLATE["Parameters"]["MetricsNamespace"]["Default"]
    ours = [(name, dims) for namespace, name, dims in referenced_metrics(board) if namespace == namespace_]
    assert {name for name, _ in ours} == set(code_metrics().values())
    for name, dimensions in ours:
        written = {frozenset({"Function"})} if name in function_metrics() else set()
        if name in regional_metrics():
            written.add(frozenset({"Function", "DestinationRegion"}))
        if name in account_metrics():
            written.add(frozenset({"Function", "AccountId"}))
        assert dimensions in written, (name, dimensions, written)
    # Every metric the code writes per member account has its organization graph.
    assert {name for name, dims in ours if "AccountId" in dims} >= account_metrics() - {"OldestUncoveredAgeSeconds"}


def test_essential_metrics_are_what_the_alarms_and_the_default_dashboard_read():
    """MetricsDetail essential (the default) writes what the alarms and the dashboard's main rows
    read, and nothing they do not; the per-account graph is detailed's (the code writes per member
    account only then)."""
    assert TEMPLATE["Parameters"]["MetricsDetail"]["Default"] == "essential"
    assert TEMPLATE["Parameters"]["MetricsDetail"]["AllowedValues"] == ["essential", "detailed"]
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["METRICS_DETAIL"] == "MetricsDetail"
    assert '"METRICS_DETAIL"' in rust(SHARED / "metrics.rs")
    essential = essential_metrics()
    source = rust(SHARED / "metrics.rs")
    details = source[source.index("pub fn detail(self)"):]
    assert set(re.findall(r"Self::(\w+)\s*=>\s*MetricsDetail::", details[:details.index("\n    }\n")])) == set(code_metrics()), \
        "every metric has its detail"
    namespace_ = TEMPLATE["Parameters"]["MetricsNamespace"]["Default"]
    board, _, _ = dashboard("defaults")
    shown = {(name, dims) for namespace, name, dims in referenced_metrics(board) if namespace == namespace_}
    assert {name for name, _ in shown} == essential
    assert all("AccountId" not in dims for _, dims in shown)
    alarmed = set()
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        for query in alarm["Properties"].get("Metrics", []):
            alarmed |= {metric for _, metric, _, _ in SELECT.findall(" ".join(str(query.get("Expression", "")).split()))}
    assert alarmed == {"AlertsSent", "BrokenPaths", "OldestUncoveredAgeSeconds"} and alarmed <= essential
    detailed, _, _ = dashboard("detailed")
    assert len(detailed["widgets"]) > len(board["widgets"]), "detailed adds its rows"


def test_the_dashboard_is_optional():
    parameter = TEMPLATE["Parameters"]["CreateDashboard"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])
    assert TEMPLATE["Conditions"]["CreatesDashboard"] == [{"Ref": "CreateDashboard"}, "true"] or \
        TEMPLATE["Conditions"]["CreatesDashboard"] == ["CreateDashboard", "true"]
    assert RESOURCES["Dashboard"]["Condition"] == "CreatesDashboard"
    assert TEMPLATE["Outputs"]["DashboardName"]["Condition"] == "CreatesDashboard"
    # Nothing else refers to it: the stack deploys whole without it.
    others = {name: body for name, body in RESOURCES.items() if name != "Dashboard"}
    assert "Dashboard" not in json.dumps(others).replace("DashboardBody", "")


def aws_backup_metrics_documented() -> set[str]:
    text = DOCS.read_text()
    section = text[text.index("## CloudWatch alarms and dashboards"):]
    section = section[:section.index("\n## ", 1)]
    return set(re.findall(r"`(NumberOf\w+)`", section))


def test_the_dashboard_reads_aws_backups_documented_copy_job_metrics():
    board, _, _ = dashboard("defaults")
    backup = [(name, dims) for namespace, name, dims in referenced_metrics(board) if namespace == "AWS/Backup"]
    documented = aws_backup_metrics_documented()
    assert {"NumberOfCopyJobsCompleted", "NumberOfCopyJobsFailed"} <= documented
    assert {name for name, _ in backup} >= {"NumberOfCopyJobsCompleted", "NumberOfCopyJobsFailed"}
    for name, dimensions in backup:
        assert name in documented and name.startswith("NumberOfCopyJobs"), name
        # AWS Backup publishes them per vault (and per vault and resource type): the per-vault set.
        assert dimensions == {"BackupVaultName"}, (name, dimensions)


@pytest.mark.parametrize("scenario", sorted(ALARM_SCENARIOS))
def test_the_dashboard_shows_every_alarm_of_the_deployment(scenario):
    board, params, conditions = dashboard(scenario)
    (widget,) = [w for w in board["widgets"] if w["type"] == "alarm"]
    shown = {re.fullmatch(r"<(\w+)\.Arn>", arn).group(1) for arn in widget["properties"]["alarms"]}
    deployed = {n for n, r in of_type("AWS::CloudWatch::Alarm").items() if conditions.get(r.get("Condition"), True)}
    assert shown == deployed
    (lag,) = [w for w in board["widgets"] if "Copy lag" in w["properties"].get("title", "")]
    lines = lag["properties"].get("annotations", {}).get("horizontal", [])
    if conditions["AlarmOnCopyLag"]:
        assert [line["value"] for line in lines] == [params["CopyLagThresholdHours"]]
    else:
        assert lines == []


def logged_messages() -> dict[str, str]:
    """The message of every tracing event in the handlers -> the text of its macro call."""
    calls = {}
    for path in (SHARED / "handlers").rglob("*.rs"):
        for call in re.findall(r"tracing::\w+!\((.*?)\);", rust(path), flags=re.S):
            messages = re.findall(r"\"([^\"]+)\"\s*$", call.strip())
            if messages:
                calls[messages[0]] = call
    return calls


def test_the_dashboards_alert_list_queries_the_lines_the_code_logs_when_it_alerts():
    board, _, _ = dashboard("defaults")
    (widget,) = [w for w in board["widgets"] if w["type"] == "log"]
    query = widget["properties"]["query"]
    sources = re.findall(r"SOURCE '([^']+)'", query)
    assert sources == ["<CopyJobRetrierLogs>", "<CopyJobReconcilerLogs>"]
    # The functions that publish alerts (sns:Publish on the alert topic) log to those groups.
    publishers = {n for n, s in function_statements() if "sns:Publish" in as_list(s["Action"])}
    assert {RESOURCES[n]["Properties"]["LoggingConfig"]["LogGroup"] for n in publishers} == {"CopyJobRetrierLogs", "CopyJobReconcilerLogs"}
    messages = re.findall(r"fields\.message = \"([^\"]+)\"", query)
    calls = logged_messages()
    assert "alert published" in messages
    for message in messages:
        assert message in calls, f"no handler logs {message!r}"
    # The columns are fields those log lines carry (JSON logs: tracing's fields under "fields").
    columns = set(re.findall(r"fields\.(\w+) as", query)) - {"message"}
    assert columns
    for column in columns:
        assert any(re.search(rf"\b{column}\b", calls[m]) for m in messages), column


# ---- the organization's alert topic (README, "Deploy to an organization")

ORGANIZATION_TOPIC = "arn:aws:sns:eu-west-1:444455556666:vaultwatch-org-alerts-AlertTopic-1A2B3C4D5E6F"
ORGANIZATION_KEY = "arn:aws:kms:eu-west-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321"
# The organization's topic in the stack's own region (test_iam_lint's REGION, us-east-1).
ORGANIZATION_TOPIC_HERE = "arn:aws:sns:us-east-1:444455556666:vaultwatch-org-alerts-AlertTopic-9Z8Y7X6W5V4U"
ORGANIZATION_KEY_HERE = "arn:aws:kms:us-east-1:444455556666:key/1111dcba-09fe-87dc-65ba-ab0987654321"
ALERT_TOPIC_SCENARIOS = {
    "own-topic": {},
    "organization-topic": {"AlertTopicArn": ORGANIZATION_TOPIC, "AlertTopicKeyArn": ORGANIZATION_KEY},
    "organization-topic-same-region": {"AlertTopicArn": ORGANIZATION_TOPIC_HERE, "AlertTopicKeyArn": ORGANIZATION_KEY_HERE},
}
PUBLISHERS = {"CopyJobRetrierFunction", "CopyJobReconcilerFunction"}


def test_the_organization_alert_topic_parameters_are_optional_checked_and_go_together():
    topic, key = TEMPLATE["Parameters"]["AlertTopicArn"], TEMPLATE["Parameters"]["AlertTopicKeyArn"]
    assert (topic["Type"], topic["Default"], key["Type"], key["Default"]) == ("String", "", "String", "")
    for parameter, good, bad in (
        (topic, [ORGANIZATION_TOPIC, "arn:aws-us-gov:sns:us-gov-west-1:444455556666:alerts"],
         ["arn:aws:sns:eu-west-1:444455556666:alerts.fifo", "arn:aws:sqs:eu-west-1:444455556666:alerts",
          "arn:aws:sns:eu-west-1:444455556666:alerts:sub-id", "alerts"]),
        (key, [ORGANIZATION_KEY, "arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab"],
         ["arn:aws:kms:eu-west-1:444455556666:alias/vaultwatch-org-alerts-key", "0987dcba-09fe-87dc-65ba-ab0987654321"]),
    ):
        pattern = re.compile(parameter["AllowedPattern"])
        assert pattern.fullmatch(""), parameter
        assert all(pattern.fullmatch(value) for value in good), parameter
        assert not any(pattern.fullmatch(value) for value in bad), parameter
    # A topic without its key could not be published to; a key without a topic means nothing.
    rule = TEMPLATE["Rules"]["OrganizationAlertTopicNeedsItsKey"]
    either = [[["AlertTopicArn", ""]], [["AlertTopicKeyArn", ""]]]
    assert rule["RuleCondition"] == either
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == either
    assert TEMPLATE["Conditions"]["UsesOrganizationAlertTopic"] == [["AlertTopicArn", ""]]
    for scenario, overrides in ALERT_TOPIC_SCENARIOS.items():
        _, conditions = deployment(overrides)
        assert conditions["UsesOrganizationAlertTopic"] is (scenario != "own-topic")
        # The alarms notify it only in its own region: CloudWatch refuses an alarm action in another.
        assert conditions["AlarmsNotifyTheOrganizationTopic"] is (scenario == "organization-topic-same-region")


@pytest.mark.parametrize("scenario", sorted(ALERT_TOPIC_SCENARIOS))
def test_the_functions_alert_on_the_organization_topic_when_given_and_the_alarms_there_too_in_its_region(scenario):
    params, conditions = deployment(ALERT_TOPIC_SCENARIOS[scenario])
    resources = render(LONG_FORM["Resources"], params, conditions)
    outputs = render(LONG_FORM["Outputs"], params, conditions)
    central = scenario != "own-topic"
    organization_topic = ALERT_TOPIC_SCENARIOS[scenario].get("AlertTopicArn")
    alert_topic = organization_topic if central else "<AlertTopic>"
    # Without the parameters, exactly what the stack did before they existed.
    keys = ["<EventsKey.Arn>", ALERT_TOPIC_SCENARIOS[scenario]["AlertTopicKeyArn"]] if central else ["<EventsKey.Arn>"]
    for name in PUBLISHERS:
        properties = resources[name]["Properties"]
        assert properties["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == alert_topic, name
        statements = {s["Sid"]: s for s in properties["Policies"][0]["Statement"]}
        assert statements["Alerts"]["Action"] == ["sns:Publish"] and statements["Alerts"]["Resource"] == alert_topic, name
        encryption = statements["EncryptedTopicsAndQueues"]
        assert encryption["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"] and encryption["Resource"] == keys, name
    # Nothing else publishes, and nothing publishes to the stack's topic when the alerts go elsewhere.
    publishing = {n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"
                  for s in r["Properties"].get("Policies", [{"Statement": []}])[0]["Statement"]
                  if "sns:Publish" in as_list(s["Action"])}
    assert publishing == PUBLISHERS
    # The stack's topic stays, for the alarms and its own subscribers; the organization's topic gets
    # them too when it is in the stack's region (CloudWatch refuses an action in another region;
    # central-alerts.yaml admits cloudwatch.amazonaws.com for the organization's accounts by
    # aws:SourceOrgID: docs/aws-facts.md#organization-alert-topic).
    assert "Condition" not in RESOURCES["AlertTopic"]
    actions = [r["Properties"]["AlarmActions"] for r in resources.values()
               if r["Type"] == "AWS::CloudWatch::Alarm" and "AlarmActions" in r["Properties"]]
    alarm_topics = ["<AlertTopic>", organization_topic] if scenario == "organization-topic-same-region" else ["<AlertTopic>"]
    assert len(actions) == 6 and all(a == alarm_topics for a in actions), actions
    # No alarm action outside the stack's region, whatever the parameters.
    for topics in actions:
        assert all(t == "<AlertTopic>" or t.split(":")[3] == "us-east-1" for t in topics), topics
    assert resources["AlertEmailSubscription"]["Properties"]["TopicArn"] == "<AlertTopic>"
    for name in ("SlackChannel", "TeamsChannel"):
        assert resources[name]["Properties"]["SnsTopicArns"] == ["<AlertTopic>"]
    # The outputs: where alerts go, and (only then) where the alarms go.
    assert outputs["AlertTopicArn"]["Value"] == alert_topic
    assert TEMPLATE["Outputs"]["AlarmTopicArn"]["Condition"] == "UsesOrganizationAlertTopic"
    assert outputs["AlarmTopicArn"]["Value"] == "<AlertTopic>"
    # The organization's topic may be in another region: the code publishes in the topic's region.
    sns = rust(SHARED / "adapters" / "sns.rs")
    assert "topic.region()" in sns and "in_region_of(sdk, &topic)" in sns


@pytest.mark.parametrize("scenario", sorted(ALERT_TOPIC_SCENARIOS))
def test_the_sam_transform_takes_either_alert_topic(monkeypatch, scenario):
    out = transformed(monkeypatch, ALERT_TOPIC_SCENARIOS[scenario])["Resources"]
    for name in PUBLISHERS:
        variables = out[name]["Properties"]["Environment"]["Variables"]
        assert variables["ALERT_TOPIC_ARN"] == {"Fn::If": ["UsesOrganizationAlertTopic", {"Ref": "AlertTopicArn"}, {"Ref": "AlertTopic"}]}


# ---- chat channels

CHAT_SCENARIOS = {
    "none": ({}, set()),
    "slack": ({"SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123ABCDEF"}, {"HasSlackChannel"}),
    "teams": ({"TeamsTeamId": "74361522-da01-538d-aa2e-ac7918c6bb92", "TeamsTenantId": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
               "TeamsChannelId": "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2"}, {"HasTeamsChannel"}),
}
CHAT_SCENARIOS["both"] = ({**CHAT_SCENARIOS["slack"][0], **CHAT_SCENARIOS["teams"][0]}, {"HasSlackChannel", "HasTeamsChannel"})
CHAT_TYPES = {"AWS::Chatbot::SlackChannelConfiguration", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
              "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"}


@pytest.mark.parametrize("scenario", sorted(CHAT_SCENARIOS))
def test_chat_channels_exist_only_when_their_parameters_are_set(scenario):
    overrides, expected = CHAT_SCENARIOS[scenario]
    for name, value in overrides.items():
        assert re.fullmatch(TEMPLATE["Parameters"][name]["AllowedPattern"], value), name
    _, conditions = deployment(overrides)
    assert {c for c in ("HasSlackChannel", "HasTeamsChannel") if conditions[c]} == expected
    created = {n for n, r in RESOURCES.items() if r["Type"] in CHAT_TYPES and conditions[r["Condition"]]}
    expected_resources = set()
    if "HasSlackChannel" in expected:
        expected_resources |= {"SlackChannel", "SlackChannelRole"}
    if "HasTeamsChannel" in expected:
        expected_resources |= {"TeamsChannel", "TeamsChannelRole"}
    if expected:
        expected_resources.add("ChatbotNotificationsPolicy")
    assert created == expected_resources
    # The parameters' defaults leave every chat resource out, and each one has a condition.
    for name, resource in RESOURCES.items():
        if resource["Type"] in CHAT_TYPES:
            assert resource.get("Condition") in ("HasSlackChannel", "HasTeamsChannel", "HasChatChannel"), name


def test_each_chat_channel_has_its_own_notifications_only_role_as_role_and_guardrail():
    policy = RESOURCES["ChatbotNotificationsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in policy for a in as_list(s["Action"])}
    assert all(a.startswith("cloudwatch:") and a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions), actions
    assert all("*" not in a for a in actions) and all(s["Effect"] == "Allow" for s in policy)
    for channel, role in (("SlackChannel", "SlackChannelRole"), ("TeamsChannel", "TeamsChannelRole")):
        properties = RESOURCES[channel]["Properties"]
        assert properties["IamRoleArn"] == f"{role}.Arn"
        # Without GuardrailPolicies, AdministratorAccess would be the channel's ceiling.
        assert properties["GuardrailPolicies"] == ["ChatbotNotificationsPolicy"]
        assert properties["UserRoleRequired"] is False
        assert properties["SnsTopicArns"] == ["AlertTopic"]
        assert RESOURCES[channel]["Condition"] == RESOURCES[role]["Condition"]
        role_properties = RESOURCES[role]["Properties"]
        (trust,) = role_properties["AssumeRolePolicyDocument"]["Statement"]
        assert trust == {"Effect": "Allow", "Principal": {"Service": "chatbot.amazonaws.com"}, "Action": "sts:AssumeRole"}
        assert role_properties["ManagedPolicyArns"] == ["ChatbotNotificationsPolicy"]
        assert "Policies" not in role_properties and "RoleName" not in role_properties
    slack, teams = RESOURCES["SlackChannel"]["Properties"], RESOURCES["TeamsChannel"]["Properties"]
    assert slack["ConfigurationName"] != teams["ConfigurationName"]
    # Unique per stack (its id) and region, in Chatbot's 128 characters whatever the stack's name.
    for name in (slack["ConfigurationName"], teams["ConfigurationName"]):
        assert "AWS::Region" in flat(name) and "AWS::StackId" in flat(name)


def test_only_publishers_and_encrypters_use_the_key_so_chat_subscribers_need_nothing():
    # SNS decrypts a message when it delivers it: a subscriber (Chatbot, e-mail) needs no key access.
    # Who publishes to the encrypted alert topic: the functions (their own kms grants) and CloudWatch
    # alarms, which the key policy lets use the key.
    statements = [s for _, s in key_statements()]
    services = {s["Principal"].get("Service") for s in statements if "Service" in s["Principal"]}
    # No sns.amazonaws.com: no queue of the stack is an SNS subscription (SNS uses a queue's key only
    # to deliver into it), and subscribers of a topic need nothing on its key. EventBridge writes the
    # dead letters of the EventBridge feed's rules into the failure queue (only with that feed).
    assert services == {"backup.amazonaws.com", "cloudwatch.amazonaws.com", "logs.${AWS::Region}.amazonaws.com",
                        "events.amazonaws.com"}
    conditional = {s["Principal"].get("Service"): c for c, s in key_statements() if c}
    assert conditional == {"events.amazonaws.com": "UsesEventBridgeFeed"}
    alarming = [s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert alarming and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(alarming[0]["Action"])
    assert any(flat(r["Properties"].get("AlarmActions")) >= {"AlertTopic"} for r in of_type("AWS::CloudWatch::Alarm").values())


# ---- Serverless Application Repository

def sar_lists():
    """From docs/aws-facts.md: the template's resource types the SAR's list has, and lacks."""
    text = DOCS.read_text()
    section = text[text.index("## Serverless Application Repository"):]
    section = section[:section.index("\n## ", 1)]
    listed = re.search(r"listed: (.*?)\.\n", section, flags=re.S).group(1)
    unlisted = re.search(r"not listed: (.*?)\.\n", section, flags=re.S).group(1)
    return set(re.findall(r"`(AWS::[\w:]+)`", listed)), set(re.findall(r"`(AWS::[\w:]+)`", unlisted))


def test_the_serverless_application_repository_metadata_is_complete_and_consistent():
    app = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    version = tomllib.loads((ROOT / "shared" / "Cargo.toml").read_text())["package"]["version"]
    assert app["SpdxLicenseId"] == cargo["workspace"]["package"]["license"] == "Apache-2.0"
    assert app["SemanticVersion"] == version
    assert (ROOT / app["LicenseUrl"]).is_file() and "Apache License" in (ROOT / app["LicenseUrl"]).read_text()
    assert (ROOT / app["ReadmeUrl"]).is_file()
    for key in ("HomePageUrl", "SourceCodeUrl"):
        assert app[key].startswith("https://"), key
    # CreateApplication's constraints.
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", app["Name"])
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"]) and len(app["Author"]) <= 127
    assert 1 <= len(app["Description"]) <= 256
    assert len(app["Labels"]) <= 10 and all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in app["Labels"])


def test_the_resource_types_the_serverless_application_repository_lacks_are_the_documented_ones():
    listed, unlisted = sar_lists()
    used = {r["Type"] for r in RESOURCES.values()}
    assert used <= listed | unlisted, f"classify in docs/aws-facts.md: {used - listed - unlisted}"
    assert not listed & unlisted
    assert not any(t.startswith("Custom::") for t in used), "the SAR refuses Custom:: types"
    readme = (ROOT / "docs" / "operations.md").read_text()
    section = readme[readme.index("## Publish to the Serverless Application Repository"):]
    section = section.split("\n## ", 2)[0] if section.count("\n## ") else section
    assert set(re.findall(r"`(AWS::[\w:]+)`", section)) >= used & unlisted


# ---- bursts: the copier's and the retrier's concurrency (README, Configuration; docs/aws-facts.md#stacksets)

from test_iam_lint import resolve  # noqa: E402

# function -> (its reserved-concurrency parameter, the condition that reserves it)
RESERVED = {
    "CrossRegionCopierFunction": ("CopierReservedConcurrency", "ReservesCopierConcurrency"),
    "CopyJobRetrierFunction": ("RetrierReservedConcurrency", "ReservesRetrierConcurrency"),
}


def lambda_model_range(shape, member):
    """(min, max) of a member in botocore's Lambda model: AWS's own limits."""
    import botocore.session
    model = botocore.session.get_session().get_service_model("lambda")
    metadata = model.shape_for(shape).members[member].metadata
    return metadata.get("min"), metadata.get("max")


def retry_queue_source():
    (source,) = [e["Properties"] for e in RESOURCES["CopyJobRetrierFunction"]["Properties"]["Events"].values() if e["Type"] == "SQS"]
    return source


def test_the_copier_and_the_retrier_reserve_their_concurrency_by_parameter_which_minus_one_turns_off():
    minimum_reserved, _ = lambda_model_range("PutFunctionConcurrencyRequest", "ReservedConcurrentExecutions")
    assert minimum_reserved == 0  # 0 is a valid reservation: it throttles every invocation
    for function, (name, condition) in RESERVED.items():
        parameter = TEMPLATE["Parameters"][name]
        pattern = re.compile(parameter["AllowedPattern"])
        assert parameter["Type"] == "String" and pattern.fullmatch(parameter["Default"]), name
        # -1 means unreserved; 0 (which would stop the function) and anything not a plain integer are refused.
        assert pattern.fullmatch("-1") and pattern.fullmatch("25") and pattern.fullmatch("1000"), name
        for bad in ("0", "00", "-0", "-2", "", "1.5", "05", "ten", "10000"):
            assert not pattern.fullmatch(bad), (name, bad)
        assert "-1" in parameter["Description"] or "-1" in parameter["ConstraintDescription"], name
        assert TEMPLATE["Conditions"][condition] == [[name, "-1"]]
        assert RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"] == [condition, name, "AWS::NoValue"], function
        for value, expected in ((parameter["Default"], int(parameter["Default"])), ("7", 7), ("-1", None)):
            params, conditions = deployment({name: value})
            reserved = resolve(LONG_FORM["Resources"][function]["Properties"], params, conditions).get("ReservedConcurrentExecutions")
            # Off: the property is left out (AWS::NoValue), so the function is unreserved.
            assert (None if reserved is None else int(reserved)) == expected, (function, value)
    # The defaults: copier 5, retrier 10, of which the retry queue may take 5.
    assert TEMPLATE["Parameters"]["CopierReservedConcurrency"]["Default"] == "5"
    assert TEMPLATE["Parameters"]["RetrierReservedConcurrency"]["Default"] == "10"


def test_the_retry_queue_caps_its_own_concurrency_below_the_retriers_reservation():
    # Maximum concurrency on the SQS event source is the knob for an SQS-fed function: Lambda polls no
    # more batches than it may run. A reservation alone lets the pollers take messages the function
    # cannot run: throttled, back in the queue after the visibility timeout, counted towards maxReceiveCount.
    parameter = TEMPLATE["Parameters"]["RetryQueueMaximumConcurrency"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == lambda_model_range("ScalingConfig", "MaximumConcurrency") == (2, 1000)
    assert parameter["Type"] == "Number"
    assert retry_queue_source()["ScalingConfig"] == {"MaximumConcurrency": "RetryQueueMaximumConcurrency"}
    # The notifications share the reservation: the defaults leave them room beside the due retries.
    assert parameter["Default"] < int(TEMPLATE["Parameters"]["RetrierReservedConcurrency"]["Default"])
    # A reserved retrier needs at least the event source's minimum (2): its pattern refuses 1.
    assert not re.fullmatch(TEMPLATE["Parameters"]["RetrierReservedConcurrency"]["AllowedPattern"], "1")
    # Lambda's advice for throttled batches: a visibility timeout of six times the function's timeout.
    timeout = RESOURCES["CopyJobRetrierFunction"]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert RESOURCES["RetryQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_throttled_notifications_wait_six_hours_then_land_in_the_failure_queue():
    # SNS invokes asynchronously: Lambda queues the event and retries a throttled one for up to
    # MaximumEventAgeInSeconds (at most 6 hours), then hands it to the on-failure destination.
    config = TEMPLATE["Globals"]["Function"]["EventInvokeConfig"]
    assert config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": "FailureQueue.Arn"}
    for function in RESERVED:
        events = RESOURCES[function]["Properties"]["Events"].values()
        assert any(e["Type"] == "SNS" and e["Properties"]["Topic"] == "VaultEventsTopic" for e in events), function


def test_the_sam_transform_passes_the_concurrency_settings_through(monkeypatch):
    out = transformed(monkeypatch, {"CopyRoutes": '[{"sourceVault":"a"}]'})["Resources"]
    for function, (name, condition) in RESERVED.items():
        assert out[function]["Properties"]["ReservedConcurrentExecutions"] == {"Fn::If": [condition, {"Ref": name}, {"Ref": "AWS::NoValue"}]}
    (mapping,) = [r["Properties"] for r in out.values()
                  if r["Type"] == "AWS::Lambda::EventSourceMapping" and r["Properties"]["FunctionName"] == {"Ref": "CopyJobRetrierFunction"}]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "RetryQueueMaximumConcurrency"}}
    # The reconciler's and the vault wiring's single execution stay as they were.
    for function in ("CopyJobReconcilerFunction", "VaultNotificationsFunction"):
        assert out[function]["Properties"]["ReservedConcurrentExecutions"] == 1


