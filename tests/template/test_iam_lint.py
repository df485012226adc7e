"""Lints every IAM policy document in template.yaml with parliament (offline: parliament ships its
copy of AWS's IAM database), under the default parameters and under a customised deployment, so both
sides of every !If are linted. Intrinsics are resolved into representative ARNs first, so the linter
sees real ARNs. Any finding fails the test unless ALLOWED below lists it with its reason."""

import json
import re
from pathlib import Path

import pytest
import yaml
from parliament import analyze_policy_string

ROOT = Path(__file__).resolve().parents[2]
PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"

# Findings that are expected, each with why: (document, issue, text the finding's detail contains).
ALLOWED = {
    ("function:CopyJobRetrierFunction", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:passrole"):
        "StartCopyJob needs iam:PassRole; the grant is limited to BackupRoleArn and PassableRoleArns "
        "and to iam:PassedToService backup.amazonaws.com (test_template asserts both).",
    ("function:CrossRegionCopierFunction", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:passrole"):
        "As for the retrier: the role AWS Backup copies with, passed only to AWS Backup.",
    ("function:CopyJobReconcilerFunction", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:passrole"):
        "As for the retrier: the role AWS Backup copies with, passed only to AWS Backup.",
    ("function:CopyJobRetrierFunction", "UNKNOWN_CONDITION_FOR_ACTION", "backup:CopyTargets for action backup:StartCopyJob"):
        "The Service Authorization Reference documents backup:CopyTargets for CopyFromBackupVault only. "
        "The statement is a Deny with ForAnyValue, inert while the key is absent from StartCopyJob's "
        "context and enforcing if AWS supplies it (see the comment in template.yaml).",
    ("function:CrossRegionCopierFunction", "UNKNOWN_CONDITION_FOR_ACTION", "backup:CopyTargets for action backup:StartCopyJob"):
        "As for the retrier: a Deny that is inert unless AWS supplies the key.",
    ("function:CopyJobReconcilerFunction", "UNKNOWN_CONDITION_FOR_ACTION", "backup:CopyTargets for action backup:StartCopyJob"):
        "As for the retrier: a Deny that is inert unless AWS supplies the key.",
    # The key policy is a resource policy, which parliament reads as if it were an identity policy.
    ("KeyPolicy:EventsKey", "RESOURCE_STAR", "kms:"):
        "In a key policy, Resource \"*\" means this key and nothing else (KMS key policies admit no other value).",
    ("KeyPolicy:EventsKey", "PERMISSIONS_MANAGEMENT_ACTIONS", "kms:putkeypolicy"):
        "The account root administers the key (kms:*): KMS's default key policy statement, without which "
        "the key would become unmanageable; IAM policies of the account decide who may use it.",
    ("KeyPolicy:TrackingTableKey", "RESOURCE_STAR", "kms:"):
        "As for the stack's key: in a key policy, Resource \"*\" means this key.",
    ("KeyPolicy:TrackingTableKey", "PERMISSIONS_MANAGEMENT_ACTIONS", "kms:putkeypolicy"):
        "As for the stack's key: the account root administers it. kms:CreateGrant is in DynamoDB's "
        "documented statement, limited to kms:ViaService DynamoDB and kms:CallerAccount this account.",
    ("KeyPolicy:EventsKey", "UNKNOWN_CONDITION_FOR_ACTION", "kms:EncryptionContext:aws:logs:arn for action kms:Describe"):
        "CloudWatch Logs' documented key policy statement for encrypted log groups grants kms:Describe* "
        "under the aws:logs:arn encryption-context condition; kept as documented.",
    # Trust policies name who may assume the role (Principal), never a Resource; parliament reads them
    # as identity policies.
    ("AssumeRolePolicyDocument:SlackChannelRole", "MALFORMED", "neither Resource nor NotResource"):
        "A role's trust policy has a Principal (chatbot.amazonaws.com) and no Resource, by IAM's grammar.",
    ("AssumeRolePolicyDocument:TeamsChannelRole", "MALFORMED", "neither Resource nor NotResource"):
        "As for the Slack channel's role: a trust policy, which has no Resource.",
    ("KeyPolicy:EventsKey", "MISMATCHED_TYPE", "ArnLike requires a value of type Arn"):
        "parliament types kms:EncryptionContext:* as String; CloudWatch Logs documents ArnLike on "
        "kms:EncryptionContext:aws:logs:arn, whose value is a log group ARN pattern.",
}

# Two deployments: the defaults, and one that sets every optional list (the other side of each !If).
SCENARIOS = {
    "defaults": {},
    "customised": {
        "PassableRoleArns": [f"arn:aws:iam::{ACCOUNT}:role/plan-copy-role", f"arn:aws:iam::{ACCOUNT}:role/other-copy-role"],
        "AllowedCopyTargets": ["arn:aws:backup:us-west-2:111122223333:backup-vault:dr-*", f"arn:aws:backup:*:{ACCOUNT}:backup-vault:*"],
        "CopyRoutes": '[{"sourceVault":"primary","destinationVaultArn":"arn:aws:backup:us-west-2:111122223333:backup-vault:dr-1"}]',
        "ExistingVaultNames": ["primary"],
        "AlertEmail": "ops@example.com",
        "CreateSampleBackupPlan": "true",
        "SampleDrVaultArn": "arn:aws:backup:us-west-2:111122223333:backup-vault:dr-1",
        "SlackWorkspaceId": "T0123ABCD",
        "SlackChannelId": "C0123ABCDEF",
        "TeamsTeamId": "74361522-da01-538d-aa2e-ac7918c6bb92",
        "TeamsTenantId": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
        "TeamsChannelId": "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2",
        # Both event feeds: the rules, their dead letters' queue policy and key statement.
        "EventSource": "both",
    },
    # The EventBridge feed alone, without routes (no copier, so no copier rule in the queue policy).
    "eventbridge-feed": {"EventSource": "eventbridge"},
    # A StackSet's stack: the backup role by name, the same value in every account, which each stack
    # turns into its own account's role ARN.
    "stackset-role-name": {"BackupRoleArn": "service-role/AWSBackupDefaultServiceRole"},
    # A member stack publishing its alerts to the organization's topic, another account's in another
    # region (templates/central-alerts.yaml).
    "organization-alerts": {
        "AlertTopicArn": "arn:aws:sns:eu-west-1:444455556666:vaultwatch-org-alerts-AlertTopic-EXAMPLE",
        "AlertTopicKeyArn": "arn:aws:kms:eu-west-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321",
    },
}
REQUIRED = {"BackupRoleArn": f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"}


class TaggedLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags into their long form ({"Fn::Sub": ...}, {"Ref": ...})."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TaggedLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=TaggedLoader)
RESOURCES = TEMPLATE["Resources"]


def physical_name(logical_id):
    return f"vaultwatch-{logical_id}-EXAMPLE"


# AWS::NoValue: the list item or property it stands for is removed.
NO_VALUE = object()


def ref(name, params):
    if name == "AWS::NoValue":
        return NO_VALUE
    pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "vaultwatch", "AWS::URLSuffix": "amazonaws.com"}
    if name in pseudo:
        return pseudo[name]
    if name in params:
        return params[name]
    kind = RESOURCES[name]["Type"]
    return {
        "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{physical_name(name)}",
        "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical_name(name)}",
        "AWS::KMS::Key": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "AWS::IAM::ManagedPolicy": f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{physical_name(name)}",
    }.get(kind, physical_name(name))


def get_att(name, attribute):
    kind = RESOURCES[name]["Type"]
    arns = {
        "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{physical_name(name)}",
        "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{physical_name(name)}",
        "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{physical_name(name)}",
        "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "AWS::Serverless::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{physical_name(name)}",
        "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{physical_name(name)}",
        "AWS::Events::Rule": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{physical_name(name)}",
    }
    if attribute == "Arn":
        return arns[kind]
    if attribute in ("QueueName", "TopicName"):
        return physical_name(name)
    raise KeyError(f"GetAtt {name}.{attribute} is not modelled by this test")


def resolve(node, params, conditions):
    """Evaluates the intrinsics in `node` for one deployment (params, evaluated conditions)."""
    if isinstance(node, list):
        return [r for r in (resolve(item, params, conditions) for item in node) if r is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref":
            return ref(value, params)
        if key == "Fn::GetAtt":
            return get_att(*value)
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            variables = {k: resolve(v, params, conditions) for k, v in variables.items()}

            def substitute(match):
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name:
                    return str(get_att(*name.split(".", 1)))
                return str(ref(name, params))
            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if key == "Fn::Join":
            separator, items = value
            items = resolve(items, params, conditions)
            return separator.join(str(i) for i in items)
        if key == "Fn::Split":
            separator, text = value
            return resolve(text, params, conditions).split(separator)
        if key == "Fn::Select":
            index, items = value
            return resolve(items, params, conditions)[int(index)]
        if key == "Fn::If":
            condition, when_true, when_false = value
            return resolve(when_true if conditions[condition] else when_false, params, conditions)
        if key == "Fn::Equals":
            left, right = resolve(value, params, conditions)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not resolve(value[0], params, conditions)
        if key == "Fn::And":
            return all(resolve(v, params, conditions) for v in value)
        if key == "Fn::Or":
            return any(resolve(v, params, conditions) for v in value)
        if key in ("Condition", "Fn::Condition"):
            return conditions[value]
        if key.startswith("Fn::"):
            raise KeyError(f"{key} is not modelled by this test")
    resolved = {k: resolve(v, params, conditions) for k, v in node.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def deployment(overrides):
    params = {}
    for name, parameter in TEMPLATE["Parameters"].items():
        default = overrides.get(name, REQUIRED.get(name, parameter.get("Default")))
        assert default is not None, f"parameter {name} has no value in this test"
        if parameter["Type"] == "CommaDelimitedList" and isinstance(default, str):
            default = default.split(",")
        params[name] = default
    conditions = {}
    for name, expression in TEMPLATE["Conditions"].items():
        conditions[name] = resolve(expression, params, conditions)
    return params, conditions


def policy_documents(params, conditions):
    """Every policy document in the template: function policies, resource and key policies."""
    documents = {}
    for name, resource in RESOURCES.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            statements = []
            for policy in properties.get("Policies", []):
                assert isinstance(policy, dict) and "Statement" in policy, f"{name}: only inline statements are linted: {policy}"
                statements += policy["Statement"]
            if statements:
                documents[f"function:{name}"] = {"Version": "2012-10-17", "Statement": statements}
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in properties:
                documents[f"{key}:{name}"] = properties[key]
        for key, value in properties.items():
            # ManagedPolicyArns and GuardrailPolicies name policies (the template's own managed policy,
            # linted as its PolicyDocument); inline role Policies would be missed, so none may appear.
            assert key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument") \
                or (key == "Policies" and resource["Type"] == "AWS::Serverless::Function") or "Polic" not in key \
                or key in ("RedrivePolicy", "FilterPolicy", "DeletionPolicy", "UpdateReplacePolicy",
                           "ManagedPolicyArns", "GuardrailPolicies"), \
                f"{name}.{key} looks like a policy this test does not lint"
    return {name: resolve(document, params, conditions) for name, document in documents.items()}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_policy_document_passes_parliament(scenario):
    params, conditions = deployment(SCENARIOS[scenario])
    documents = policy_documents(params, conditions)
    # Five functions with policies, the vault topic policy, the failure queue's policy, the key policy, the chat channels' policy
    # and their roles' trust policies: the extractor found them.
    assert {"function:CopyJobTrackerFunction", "function:CopyJobRetrierFunction", "function:CrossRegionCopierFunction",
            "function:CopyJobReconcilerFunction", "function:VaultNotificationsFunction",
            "PolicyDocument:VaultEventsTopicPolicy", "PolicyDocument:FailureQueuePolicy", "KeyPolicy:EventsKey", "KeyPolicy:TrackingTableKey",
            "PolicyDocument:ChatbotNotificationsPolicy",
            "AssumeRolePolicyDocument:SlackChannelRole", "AssumeRolePolicyDocument:TeamsChannelRole"} <= set(documents)
    unexpected, seen = [], set()
    for name, document in sorted(documents.items()):
        text = json.dumps(document)
        assert "${" not in text and "Fn::" not in text and '"Ref"' not in text, f"unresolved intrinsic in {name}: {text}"
        for finding in analyze_policy_string(text, include_community_auditors=True).findings:
            detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail)
            # Some auditors put what they found in the location (PERMISSIONS_MANAGEMENT_ACTIONS).
            detail = f"{detail} {json.dumps(finding.location)}"
            allowed = [k for k in ALLOWED if k[0] == name and k[1] == finding.issue and k[2].lower() in detail.lower()]
            if allowed:
                seen.update(allowed)
            else:
                unexpected.append((name, finding.issue, detail, finding.location))
    assert not unexpected, "parliament findings:\n" + "\n".join(map(str, unexpected))
    # An allow-list entry that no longer matches anything is stale: remove it.
    assert seen == set(ALLOWED), f"stale allow-list entries: {set(ALLOWED) - seen}"


def test_the_linter_finds_what_it_should():
    """The harness would hide a broken linter: a bad policy must produce findings."""
    bad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "backup:StartCopyJobs", "Resource": "*"},
        {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue"},
    ]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(bad), include_community_auditors=True).findings}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues, issues


def test_resolution_gives_the_backup_roles_and_targets_per_deployment():
    params, conditions = deployment(SCENARIOS["customised"])
    retrier = policy_documents(params, conditions)["function:CopyJobRetrierFunction"]["Statement"]
    pass_role = next(s for s in retrier if s["Action"] == ["iam:PassRole"])
    assert pass_role["Resource"] == [REQUIRED["BackupRoleArn"], *SCENARIOS["customised"]["PassableRoleArns"]]
    params, conditions = deployment(SCENARIOS["defaults"])
    retrier = policy_documents(params, conditions)["function:CopyJobRetrierFunction"]["Statement"]
    pass_role = next(s for s in retrier if s["Action"] == ["iam:PassRole"])
    assert pass_role["Resource"] == [REQUIRED["BackupRoleArn"]]
    deny = next(s for s in retrier if s["Effect"] == "Deny")
    assert deny["Condition"] == {"ForAnyValue:ArnNotLike": {"backup:CopyTargets": [f"arn:aws:backup:*:{ACCOUNT}:backup-vault:*"]}}


def test_a_backup_role_given_by_name_is_the_role_of_the_stacks_own_account():
    params, conditions = deployment(SCENARIOS["stackset-role-name"])
    assert conditions["BackupRoleIsAName"]
    own_role = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
    for function in ("CopyJobRetrierFunction", "CrossRegionCopierFunction", "CopyJobReconcilerFunction"):
        statements = policy_documents(params, conditions)[f"function:{function}"]["Statement"]
        pass_role = next(s for s in statements if s["Action"] == ["iam:PassRole"])
        assert pass_role["Resource"] == [own_role], function
    variables = resolve(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"], params, conditions)
    assert variables["COPY_ROLE_ARN"] == own_role
    assert [role for role in variables["PASSABLE_ROLE_ARNS"].split(",") if role] == [own_role]
    # An ARN is taken as it is, and both forms pass the parameter's pattern.
    params, conditions = deployment(SCENARIOS["defaults"])
    assert not conditions["BackupRoleIsAName"]
    assert resolve(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"], params, conditions)["COPY_ROLE_ARN"] == REQUIRED["BackupRoleArn"]
    pattern = re.compile(TEMPLATE["Parameters"]["BackupRoleArn"]["AllowedPattern"])
    for good in (REQUIRED["BackupRoleArn"], "service-role/AWSBackupDefaultServiceRole", "vaultwatch-backup", "arn:aws-cn:iam::123456789012:role/r"):
        assert pattern.fullmatch(good), good
    for bad in ("", "arn:aws:iam::123456789012:user/u", "arn:aws:iam::ACCOUNT:role/r", "role:name", "/leading-slash"):
        assert not pattern.fullmatch(bad), bad


def test_resolution_gives_the_alert_topic_and_its_key_per_deployment():
    for scenario in ("defaults", "organization-alerts"):
        params, conditions = deployment(SCENARIOS[scenario])
        documents = policy_documents(params, conditions)
        stack_key = get_att("EventsKey", "Arn")
        for function in ("CopyJobRetrierFunction", "CopyJobReconcilerFunction"):
            statements = {s["Sid"]: s for s in documents[f"function:{function}"]["Statement"]}
            if scenario == "defaults":
                # As before the parameters existed: the stack's topic, the stack's key alone.
                assert statements["Alerts"]["Resource"] == ref("AlertTopic", params), function
                assert statements["EncryptedTopicsAndQueues"]["Resource"] == [stack_key], function
            else:
                organization = SCENARIOS[scenario]
                assert statements["Alerts"]["Resource"] == organization["AlertTopicArn"], function
                assert statements["EncryptedTopicsAndQueues"]["Resource"] == [stack_key, organization["AlertTopicKeyArn"]], function
