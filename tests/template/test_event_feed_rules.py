"""The EventSource parameter (README, "Choosing the event feed"; docs/aws-facts.md#eventbridge-feed):
which resources each of its three values deploys, the rules' routing held to the SNS subscriptions'
filter policies, their delivery settings, who may write their dead letters, the silence alarm per
feed, and AWS Backup's events (the reference payloads, AWS's own shapes) matched against the rules'
patterns by moto's EventBridge pattern matcher."""

import copy
import json

import pytest
from moto.events.models import EventPattern

from harness.config import ROOT
from test_iam_lint import deployment
from test_template import ALARM_ACTIONS, RESOURCES, TEMPLATE, THIS_ACCOUNTS_QUEUES, key_statements

FIXTURES = ROOT / "tests" / "fixtures" / "eventbridge"
ROUTES = '[{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:us-west-2:111122223333:backup-vault:dr"}]'
# function -> its rule (and the rule's permission: <rule>Permission)
RULES = {"CopyJobTrackerFunction": "CopyJobTrackerRule", "CopyJobRetrierFunction": "CopyJobRetrierRule",
         "CrossRegionCopierFunction": "CrossRegionCopierRule"}
# The SNS filter policies' EventType -> the EventBridge detail-type of the same jobs.
DETAIL_TYPES = {"COPY_JOB": "Copy Job State Change", "BACKUP_JOB": "Backup Job State Change"}
FEED_RESOURCES = {*RULES.values(), *(f"{rule}Permission" for rule in RULES.values()), "FailureQueuePolicy",
                  "SilentEventBridgeFeedAlarm"}
WIRING = {"VaultNotificationsFunction", "VaultNotificationsLogs", "VaultNotificationsSetup"}


def deployed(overrides):
    """The resources a deployment with `overrides` creates (their conditions hold), and its conditions."""
    _, conditions = deployment(overrides)
    return {name for name, r in RESOURCES.items() if conditions.get(r.get("Condition"), True)}, conditions


@pytest.mark.parametrize("source", ["sns", "eventbridge", "both"])
@pytest.mark.parametrize("routes", [False, True], ids=["no-routes", "routes"])
def test_each_event_source_deploys_its_feeds_and_only_theirs(source, routes):
    overrides = {"EventSource": source, "ExistingVaultNames": ["primary"], "CreateSampleBackupPlan": "true",
                 "SampleDrVaultArn": "arn:aws:backup:us-west-2:111122223333:backup-vault:dr"}
    if routes:
        overrides["CopyRoutes"] = ROUTES
    created, conditions = deployed(overrides)
    sns, eventbridge = source in ("sns", "both"), source in ("eventbridge", "both")
    # The EventBridge feed: a rule and a permission per function (the copier's with the copier), the
    # dead letters' queue policy and key statement, its silence alarm.
    expected_feed = set()
    if eventbridge:
        expected_feed = {"CopyJobTrackerRule", "CopyJobTrackerRulePermission", "CopyJobRetrierRule",
                         "CopyJobRetrierRulePermission", "FailureQueuePolicy", "SilentEventBridgeFeedAlarm"}
        if routes:
            expected_feed |= {"CrossRegionCopierRule", "CrossRegionCopierRulePermission"}
    assert created & FEED_RESOURCES == expected_feed
    assert conditions["UsesEventBridgeFeed"] is eventbridge
    # The SNS feed: the vault wiring (custom resource) and the topic's silence alarm; the sample vault
    # notifies the topic only then. The topic and its subscriptions stay (SAM events are unconditional).
    assert created & WIRING == (WIRING if sns else set())
    assert ("SilentVaultTopicAlarm" in created) is sns
    assert {"VaultEventsTopic", "VaultEventsTopicPolicy", "SampleVault"} <= created
    notifications = RESOURCES["SampleVault"]["Properties"]["Notifications"]
    assert notifications[0] == "UsesSnsFeed" and notifications[2] == "AWS::NoValue"
    assert conditions["UsesSnsFeed"] is sns
    # EventBridge's use of the stack's key, only with its feed.
    assert {c for c, s in key_statements() if s["Principal"].get("Service") == "events.amazonaws.com"} == {"UsesEventBridgeFeed"}
    # The functions themselves are the same in every mode.
    functions = {n for n in created if RESOURCES[n]["Type"] == "AWS::Serverless::Function"}
    assert functions == {"CopyJobTrackerFunction", "CopyJobRetrierFunction", "CopyJobReconcilerFunction",
                         *(["CrossRegionCopierFunction"] if routes else []), *(["VaultNotificationsFunction"] if sns else [])}


def test_the_parameter_offers_the_three_feeds_and_defaults_to_the_vault_notifications():
    parameter = TEMPLATE["Parameters"]["EventSource"]
    assert (parameter["Type"], parameter["Default"], parameter["AllowedValues"]) == ("String", "sns", ["sns", "eventbridge", "both"])
    assert TEMPLATE["Conditions"]["UsesSnsFeed"] == [["EventSource", "eventbridge"]]
    assert TEMPLATE["Conditions"]["UsesEventBridgeFeed"] == [["EventSource", "sns"]]


def sns_filter(function):
    events = RESOURCES[function]["Properties"]["Events"].values()
    return next(e["Properties"]["FilterPolicy"] for e in events if e["Type"] == "SNS")


@pytest.mark.parametrize("function", sorted(RULES))
def test_each_rule_routes_what_the_functions_subscription_routes_to_it(function):
    rule = RESOURCES[RULES[function]]
    # Where the function exists: the copier's rule with the copier.
    function_condition = RESOURCES[function].get("Condition")
    assert rule["Condition"] == ("CopiesFromEventBridge" if function_condition == "HasRoutes" else "UsesEventBridgeFeed")
    properties = rule["Properties"]
    assert properties["State"] == "ENABLED" and "EventBusName" not in properties  # the default bus
    pattern = properties["EventPattern"]
    (event_type,) = sns_filter(function)["EventType"]
    assert pattern["source"] == ["aws.backup"] and pattern["detail-type"] == [DETAIL_TYPES[event_type]]
    if function == "CrossRegionCopierFunction":
        # Completed backups only: the copier acts on nothing else (EventBridge also reports CREATED,
        # PENDING and RUNNING, which BACKUP_JOB_COMPLETED does not).
        assert pattern["detail"] == {"state": ["COMPLETED"]}
    else:
        # Like the SNS filter, no state: the code decides on the state.
        assert set(pattern) == {"source", "detail-type"}
    (target,) = properties["Targets"]
    assert target["Arn"] == f"{function}.Arn"
    # Handing the event to Lambda: retried for as long as Lambda keeps an asynchronous event, then the
    # failure queue (where the functions' own failures go, and its alarm).
    invoke_config = TEMPLATE["Globals"]["Function"]["EventInvokeConfig"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": invoke_config["MaximumEventAgeInSeconds"]}
    assert target["DeadLetterConfig"] == {"Arn": invoke_config["DestinationConfig"]["OnFailure"]["Destination"]}
    permission = RESOURCES[f"{RULES[function]}Permission"]
    assert permission["Condition"] == rule["Condition"]
    assert permission["Properties"] == {"Action": "lambda:InvokeFunction", "FunctionName": f"{function}.Arn",
                                        "Principal": "events.amazonaws.com", "SourceArn": f"{RULES[function]}.Arn"}


def test_every_function_with_a_subscription_has_a_rule():
    subscribed = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"
                  and any(e["Type"] == "SNS" for e in r["Properties"].get("Events", {}).values())}
    assert subscribed == set(RULES)
    rules = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::Events::Rule"}
    assert rules == set(RULES.values())


def test_only_the_stacks_rules_may_dead_letter_into_the_failure_queue():
    policy = RESOURCES["FailureQueuePolicy"]
    assert policy["Condition"] == "UsesEventBridgeFeed"
    assert policy["Properties"]["Queues"] == ["FailureQueue"]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == "FailureQueue.Arn"
    (arns,) = statement["Condition"]["ArnEquals"].values()
    assert list(statement["Condition"]["ArnEquals"]) == ["aws:SourceArn"]
    assert arns == ["CopyJobTrackerRule.Arn", "CopyJobRetrierRule.Arn",
                    ["CopiesFromEventBridge", "CrossRegionCopierRule.Arn", "AWS::NoValue"]]
    # And the key, under the queue's encryption context: this account's queues of this region.
    (key,) = [s for c, s in key_statements() if c == "UsesEventBridgeFeed"]
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert key["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:sqs:arn": THIS_ACCOUNTS_QUEUES}}


def test_an_alarm_fires_when_the_eventbridge_feed_falls_silent():
    alarm = RESOURCES["SilentEventBridgeFeedAlarm"]
    assert alarm["Condition"] == "AlarmOnSilentEventBridgeFeed"
    assert TEMPLATE["Conditions"]["AlarmOnSilentEventBridgeFeed"] == ["AlarmOnSilence", "UsesEventBridgeFeed"]
    properties = alarm["Properties"]
    # MatchedEvents with RuleName alone: the default bus's rule (docs/aws-facts.md#eventbridge-feed).
    assert (properties["Namespace"], properties["MetricName"], properties["Statistic"]) == ("AWS/Events", "MatchedEvents", "Sum")
    assert properties["Dimensions"] == [{"Name": "RuleName", "Value": "CopyJobTrackerRule"}]
    silent_topic = RESOURCES["SilentVaultTopicAlarm"]["Properties"]
    # The same hours, periods and missing-data treatment as the topic's alarm.
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData"):
        assert properties[key] == silent_topic[key], key
    assert properties["AlarmActions"] == ALARM_ACTIONS
    assert "rule" in properties["AlarmDescription"] and "describe-rule" in properties["AlarmDescription"]


# ---------------------------------------------------------------- AWS Backup's events against the patterns

def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def state_variant(event, state, **detail):
    """The same job in another state, as the DG's examples show it (RUNNING: no recovery point yet)."""
    variant = copy.deepcopy(event)
    variant["detail"].update(state=state, **detail)
    if state != "COMPLETED" and variant["detail-type"] == "Backup Job State Change":
        variant["resources"] = []
    return variant


def matching_rules(event):
    return {name for name, rule in RULES.items()
            if EventPattern.load(json.dumps(RESOURCES[rule]["Properties"]["EventPattern"])).matches_event(event)}


EVENTS = {
    "backup-job-completed": (lambda: fixture("backup-job-completed.json"), {"CrossRegionCopierFunction"}),
    "backup-job-running": (lambda: state_variant(fixture("backup-job-completed.json"), "RUNNING"), set()),
    "backup-job-failed": (lambda: state_variant(fixture("backup-job-completed.json"), "FAILED"), set()),
    "copy-job-completed": (lambda: fixture("copy-job-completed.json"), {"CopyJobTrackerFunction", "CopyJobRetrierFunction"}),
    "copy-job-failed": (lambda: fixture("copy-job-failed.json"), {"CopyJobTrackerFunction", "CopyJobRetrierFunction"}),
    "copy-job-running": (lambda: state_variant(fixture("copy-job-failed.json"), "RUNNING"), {"CopyJobTrackerFunction", "CopyJobRetrierFunction"}),
    # Another AWS Backup event on the same bus, and another service's with the same detail-type.
    "recovery-point-state": (lambda: {**fixture("backup-job-completed.json"), "detail-type": "Recovery Point State Change"}, set()),
    "not-aws-backup": (lambda: {**fixture("copy-job-failed.json"), "source": "my.app"}, set()),
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_aws_backups_events_match_exactly_the_rules_of_the_functions_that_handle_them(name):
    event, expected = EVENTS[name]
    assert matching_rules(event()) == expected


def test_the_pattern_check_fails_a_wrong_pattern_or_a_wrong_event():
    # A misspelt detail-type, a state the events do not spell so, an event without its detail-type:
    # none matches, so neither a broken rule nor a broken event passes unnoticed.
    event = fixture("backup-job-completed.json")
    pattern = RESOURCES["CrossRegionCopierRule"]["Properties"]["EventPattern"]
    assert EventPattern.load(json.dumps(pattern)).matches_event(event)
    for broken in ({**pattern, "detail-type": ["Backup Job State Changed"]}, {**pattern, "detail": {"state": ["Completed"]}}):
        assert not EventPattern.load(json.dumps(broken)).matches_event(event)
    assert not EventPattern.load(json.dumps(pattern)).matches_event({k: v for k, v in event.items() if k != "detail-type"})
