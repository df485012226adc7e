"""Audits the companion templates for what README ("Deploy to an organization", "Central DR account")
says of them:

- templates/central-alerts.yaml: only principals of the organization, and the CloudWatch alarms of
  the organization's accounts (cloudwatch.amazonaws.com under aws:SourceOrgID), may publish to the
  topic, and nothing else; the topic is encrypted with the stack's customer-managed key, rotation on;
  that key lets those publishers do exactly what a publisher needs (kms:GenerateDataKey*,
  kms:Decrypt; the alarms only through this account's topics, by the topic ARN in the encryption
  context) and the account root administers it; the e-mail subscription exists only when asked for.
- templates/dr-vault.yaml: one vault, standard or logically air-gapped as VaultType says; only
  principals of the organization may copy into it, and only copy into it; a standard vault is
  encrypted with the stack's key (rotation on, no principal outside the account, kept when the stack
  goes); a logically air-gapped vault has the retention limits AWS Backup accepts (7 to 36500 days).
- both: no wildcard principal without the organization condition, no account id written in, no
  physical name that does not come from the stack name or a parameter, the outputs member stacks need.

Each audit returns the problems it finds in a template; the real templates have none, and each test
below the first breaks a copy of a template in one way and checks that the audit reports it (so that
no check can pass vacuously). Policies are audited as AWS sees them: every deployment of each
template (companion.SCENARIOS) with its intrinsics resolved."""

import re

import botocore.session
import pytest

from companion import (ACCOUNT, ORGANIZATION, PARTITION, REGION, SCENARIOS, TEMPLATES, Deployment, as_list, deployments, load,
                       modified, policy_documents)

ROOT_PRINCIPAL = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
ORG_CONDITION = {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}
# An AWS service acting for a resource of the organization's accounts: a member account's CloudWatch
# alarm publishing to the central topic (docs/aws-facts.md#organization-alert-topic).
SOURCE_ORG_CONDITION = {"StringEquals": {"aws:SourceOrgID": ORGANIZATION}}
ALARMS = {"Service": "cloudwatch.amazonaws.com"}
# The alarms' use of the topic's key: through this account's topics of this region, by the topic ARN
# SNS sets as encryption context (docs/aws-facts.md#encrypted-topics-and-their-publishers).
TOPIC_CONTEXT_CONDITION = {"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:*"}}
SERVICE_CONDITIONS = (SOURCE_ORG_CONDITION, TOPIC_CONTEXT_CONDITION)
# What a publisher to an encrypted topic needs on its key (docs/aws-facts.md#organization-alert-topic).
PUBLISHER_KMS_ACTIONS = {"kms:GenerateDataKey*", "kms:Decrypt"}
# Logically air-gapped vault retention limits (docs/aws-facts.md#logically-air-gapped-vaults).
MIN_RETENTION_FLOOR, MAX_RETENTION_CEILING = 7, 36500
VAULT_TYPES = {"AWS::Backup::BackupVault": "STANDARD", "AWS::Backup::LogicallyAirGappedBackupVault": "LOGICALLY_AIR_GAPPED"}
# Properties that name a resource physically: each must come from the stack name or a parameter.
NAME_PROPERTIES = {"TopicName", "AliasName", "BackupVaultName", "KeyName", "RoleName", "QueueName", "TableName"}


def statements(document):
    return as_list(document.get("Statement", []))


def is_wildcard(principal):
    if principal == "*":
        return True
    return isinstance(principal, dict) and any("*" in as_list(v) for v in principal.values())


def lowered(actions):
    return {a.lower() for a in (actions if isinstance(actions, (set, list)) else [actions])}


# ---------------------------------------------------------------- audits shared by both templates

def wildcard_principal_problems(document_name, document):
    problems = []
    for statement in statements(document):
        if "NotPrincipal" in statement and statement.get("Effect") == "Allow":
            problems.append(f"{document_name}: an Allow with NotPrincipal")
        if statement.get("Effect") == "Allow" and is_wildcard(statement.get("Principal")) \
                and statement.get("Condition") != ORG_CONDITION:
            problems.append(f"{document_name}: a wildcard principal without the organization condition "
                            f"({statement.get('Sid')}: {statement.get('Condition')})")
        # A service principal acts for resources of any account: only for the organization's (a topic
        # policy), or only through this account's topics (a key policy).
        if statement.get("Effect") == "Allow" and isinstance(statement.get("Principal"), dict) \
                and "Service" in statement["Principal"] and statement.get("Condition") not in SERVICE_CONDITIONS:
            problems.append(f"{document_name}: a service principal without the organization's or the topic's "
                            f"condition ({statement.get('Sid')}: {statement.get('Condition')})")
    return problems


def account_id_problems(text):
    """No account id written in: the templates name accounts by ${AWS::AccountId} and the organization only."""
    return [f"an account id is written in: {m}" for m in re.findall(r"(?<![\w-])\d{12}(?![\w-])", text)]


def name_problems(template):
    problems = []
    parameters = set(template.get("Parameters", {}))
    for resource_name, resource in template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            if key not in NAME_PROPERTIES:
                continue
            from_parameter = isinstance(value, dict) and value.get("Ref") in parameters
            from_stack = isinstance(value, dict) and "${AWS::StackName}" in str(value.get("Fn::Sub", ""))
            if not (from_parameter or from_stack):
                problems.append(f"{resource_name}.{key} is a fixed name that would collide across stacks: {value}")
    return problems


def org_parameter_problems(template):
    parameter = template["Parameters"].get("OrganizationId", {})
    if parameter.get("AllowedPattern") != "^o-[a-z0-9]{10,32}$" or "Default" in parameter:
        return [f"OrganizationId is not a required organization id parameter: {parameter}"]
    return []


def audit(name, template, per_deployment):
    problems = org_parameter_problems(template) + name_problems(template)
    for scenario, overrides in SCENARIOS[name].items():
        try:
            deployment = Deployment(template, overrides)
        except KeyError as error:  # a Ref or GetAtt of a resource this deployment does not have
            problems.append(f"{scenario}: the template does not deploy: {error}")
            continue
        found = []
        for document_name, document in policy_documents(deployment).items():
            found += wildcard_principal_problems(document_name, document)
        found += per_deployment(deployment)
        problems += [f"{scenario}: {p}" for p in found]
    return problems


# ---------------------------------------------------------------- templates/central-alerts.yaml

def central_alerts_deployment_problems(d):
    problems = []
    topics = d.of_type("AWS::SNS::Topic")
    keys = d.of_type("AWS::KMS::Key")
    if set(topics) != {"AlertTopic"} or len(keys) != 1:
        return [f"expected one topic (AlertTopic) and one key, found {sorted(topics)} and {sorted(keys)}"]
    (key_name, key), = keys.items()
    topic_arn = d.ref("AlertTopic")
    key_arn = d.get_att(key_name, "Arn")
    if topics["AlertTopic"]["Properties"].get("KmsMasterKeyId") not in (key_arn, d.ref(key_name)):
        problems.append("the topic is not encrypted with the stack's key")
    if key["Properties"].get("EnableKeyRotation") is not True:
        problems.append("key rotation is off")

    key_policy = key["Properties"]["KeyPolicy"]
    if not any(s.get("Effect") == "Allow" and s.get("Principal") == {"AWS": ROOT_PRINCIPAL} and as_list(s["Action"]) == ["kms:*"]
               for s in statements(key_policy)):
        problems.append("the account root does not administer the key")
    publishers = [s for s in statements(key_policy) if s.get("Effect") == "Allow" and s.get("Principal") != {"AWS": ROOT_PRINCIPAL}]
    for s in publishers:
        if not (is_wildcard(s.get("Principal")) or s.get("Principal") == ALARMS) \
                or lowered(s["Action"]) - lowered(PUBLISHER_KMS_ACTIONS):
            problems.append(f"a key policy statement allows more than the organization's publishers need: {s}")
    if not any(lowered(s["Action"]) == lowered(PUBLISHER_KMS_ACTIONS) and s.get("Condition") == ORG_CONDITION for s in publishers):
        problems.append("the organization's publishers cannot use the key (kms:GenerateDataKey*, kms:Decrypt)")
    if not any(s.get("Principal") == ALARMS and lowered(s["Action"]) == lowered(PUBLISHER_KMS_ACTIONS)
               and s.get("Condition") == TOPIC_CONTEXT_CONDITION for s in publishers):
        problems.append("the organization's CloudWatch alarms cannot use the key (kms:GenerateDataKey*, kms:Decrypt)")

    topic_policies = d.of_type("AWS::SNS::TopicPolicy")
    if [p["Properties"]["Topics"] for p in topic_policies.values()] != [[topic_arn]]:
        problems.append("the topic has no policy of its own")
    topic_statements = [s for p in topic_policies.values() for s in statements(p["Properties"]["PolicyDocument"])]
    for s in topic_statements:
        if s.get("Effect") == "Allow" and (lowered(s["Action"]) != {"sns:publish"} or as_list(s.get("Resource")) != [topic_arn]):
            problems.append(f"the topic policy allows more than sns:Publish on the topic: {s}")
    if not any(s.get("Effect") == "Allow" and lowered(s["Action"]) == {"sns:publish"} and is_wildcard(s.get("Principal"))
               and s.get("Condition") == ORG_CONDITION for s in topic_statements):
        problems.append("no principal of the organization may publish")
    if not any(s.get("Effect") == "Allow" and lowered(s["Action"]) == {"sns:publish"} and s.get("Principal") == ALARMS
               and s.get("Condition") == SOURCE_ORG_CONDITION for s in topic_statements):
        problems.append("the organization's CloudWatch alarms cannot publish")

    subscriptions = d.of_type("AWS::SNS::Subscription")
    wanted = [{"TopicArn": topic_arn, "Protocol": "email", "Endpoint": d.params["AlertEmail"]}] if d.params["AlertEmail"] else []
    if [s["Properties"] for s in subscriptions.values()] != wanted:
        problems.append(f"the e-mail subscription does not follow AlertEmail: {[s['Properties'] for s in subscriptions.values()]}")

    if d.outputs != {"AlertTopicArn": topic_arn, "AlertKeyArn": key_arn}:
        problems.append(f"the outputs are not the topic ARN and the key ARN: {d.outputs}")
    return problems


def central_alerts_problems(template, text=None):
    return audit("central-alerts", template, central_alerts_deployment_problems) + account_id_problems(
        TEMPLATES["central-alerts"].read_text() if text is None else text)


# ---------------------------------------------------------------- templates/dr-vault.yaml

def vault_name_pattern():
    """AWS Backup's vault name pattern, from the API model (CreateBackupVault and the air-gapped one agree)."""
    model = botocore.session.get_session().get_service_model("backup")
    patterns = {model.operation_model(op).input_shape.members["BackupVaultName"].metadata["pattern"]
                for op in ("CreateBackupVault", "CreateLogicallyAirGappedBackupVault")}
    assert len(patterns) == 1, patterns
    return patterns.pop()


def dr_vault_deployment_problems(d):
    problems = []
    vaults = {n: r for n, r in d.resources.items() if r["Type"] in VAULT_TYPES}
    if len(vaults) != 1:
        return [f"expected one vault, found {sorted(vaults)}"]
    (vault_name, vault), = vaults.items()
    properties = vault["Properties"]
    vault_arn = d.get_att(vault_name, "BackupVaultArn")
    if VAULT_TYPES[vault["Type"]] != d.params["VaultType"]:
        problems.append(f"VaultType {d.params['VaultType']} deploys a {vault['Type']}")
    if properties.get("BackupVaultName") != d.params["VaultName"]:
        problems.append("the vault is not named VaultName")
    if d.raw_resources[vault_name].get("DeletionPolicy") != "Retain":
        problems.append("the vault is not retained when the stack is deleted")

    access = [s for s in statements(properties.get("AccessPolicy", {})) if s.get("Effect") == "Allow"]
    for s in access:
        if lowered(s["Action"]) != {"backup:copyintobackupvault"} or as_list(s.get("Resource")) != [vault_arn]:
            problems.append(f"the access policy allows more than backup:CopyIntoBackupVault into the vault: {s}")
    if not any(is_wildcard(s.get("Principal")) and s.get("Condition") == ORG_CONDITION for s in access):
        problems.append("no principal of the organization may copy into the vault")

    keys = d.of_type("AWS::KMS::Key")
    if vault["Type"] == "AWS::Backup::BackupVault":
        if len(keys) != 1:
            return problems + [f"expected one key for the standard vault, found {sorted(keys)}"]
        (key_name, key), = keys.items()
        key_arn = d.get_att(key_name, "Arn")
        if properties.get("EncryptionKeyArn") != key_arn:
            problems.append("the standard vault is not encrypted with the stack's key")
        if key["Properties"].get("EnableKeyRotation") is not True:
            problems.append("key rotation is off")
        if any(d.raw_resources[key_name].get(policy) != "Retain" for policy in ("DeletionPolicy", "UpdateReplacePolicy")):
            problems.append("the vault's key is not retained when the stack is deleted or the key replaced")
        key_statements = statements(key["Properties"]["KeyPolicy"])
        if [s.get("Principal") for s in key_statements if s.get("Effect") == "Allow"] != [{"AWS": ROOT_PRINCIPAL}] \
                or not any(as_list(s["Action"]) == ["kms:*"] for s in key_statements):
            problems.append(f"the vault's key is not administered by the account root alone: {key_statements}")
        wanted_outputs = {"VaultArn": vault_arn, "VaultKeyArn": key_arn}
    else:
        if keys:
            problems.append(f"the air-gapped vault (an AWS owned key) comes with a key of the stack: {sorted(keys)}")
        low, high = properties.get("MinRetentionDays"), properties.get("MaxRetentionDays")
        if (low, high) != (d.params["MinRetentionDays"], d.params["MaxRetentionDays"]):
            problems.append(f"the air-gapped vault's retention is not MinRetentionDays/MaxRetentionDays: {low}, {high}")
        wanted_outputs = {"VaultArn": vault_arn}
    if d.outputs != wanted_outputs:
        problems.append(f"the outputs are not {sorted(wanted_outputs)}: {d.outputs}")
    return problems


def dr_vault_parameter_problems(template):
    problems = []
    parameters = template["Parameters"]
    if parameters["VaultName"].get("AllowedPattern") != vault_name_pattern():
        problems.append(f"VaultName's pattern is not AWS Backup's: {parameters['VaultName'].get('AllowedPattern')}")
    if sorted(parameters["VaultType"].get("AllowedValues", [])) != sorted(VAULT_TYPES.values()):
        problems.append(f"VaultType does not offer both vault types: {parameters['VaultType'].get('AllowedValues')}")
    for name in ("MinRetentionDays", "MaxRetentionDays"):
        p = parameters[name]
        if p.get("Type") != "Number" or p.get("MinValue", 0) < MIN_RETENTION_FLOOR or p.get("MaxValue", 10**9) > MAX_RETENTION_CEILING \
                or not MIN_RETENTION_FLOOR <= p.get("Default", 0) <= MAX_RETENTION_CEILING:
            problems.append(f"{name} does not keep to the air-gapped vault's limits (7 to 36500 days): {p}")
    return problems


def dr_vault_problems(template, text=None):
    return dr_vault_parameter_problems(template) + audit("dr-vault", template, dr_vault_deployment_problems) + account_id_problems(
        TEMPLATES["dr-vault"].read_text() if text is None else text)


AUDITS = {"central-alerts": central_alerts_problems, "dr-vault": dr_vault_problems}


# ---------------------------------------------------------------- the templates as they are

@pytest.mark.parametrize("name", sorted(AUDITS))
def test_the_companion_template_has_the_properties_the_readme_claims(name):
    assert AUDITS[name](load(name)) == []


def test_the_outputs_member_stacks_are_given_exist():
    central = {s: d.outputs for s, d in deployments("central-alerts").items()}
    assert all(set(o) == {"AlertTopicArn", "AlertKeyArn"} for o in central.values()), central
    dr = {s: d.outputs for s, d in deployments("dr-vault").items()}
    assert set(dr["standard"]) == {"VaultArn", "VaultKeyArn"} and set(dr["air-gapped"]) == {"VaultArn"}, dr
    assert dr["standard"]["VaultArn"] == dr["air-gapped"]["VaultArn"] == f"arn:{PARTITION}:backup:{REGION}:{ACCOUNT}:backup-vault:vaultwatch-dr"


# ---------------------------------------------------------------- each check can fail
# (template, what is broken, the change, text the reported problem contains)

def resources(t):
    return t["Resources"]


def set_in(path, value):
    def change(t):
        node = t
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def delete_in(path):
    def change(t):
        node = t
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


TOPIC_STATEMENT = ["Resources", "AlertTopicPolicy", "Properties", "PolicyDocument", "Statement", 0]
ALARMS_TOPIC_STATEMENT = ["Resources", "AlertTopicPolicy", "Properties", "PolicyDocument", "Statement", 1]
ALERT_KEY = ["Resources", "AlertKey", "Properties"]
ALERT_KEY_STATEMENTS = ALERT_KEY + ["KeyPolicy", "Statement"]
STANDARD_STATEMENT = ["Resources", "StandardVault", "Properties", "AccessPolicy", "Statement", 0]
AIR_GAPPED_STATEMENT = ["Resources", "AirGappedVault", "Properties", "AccessPolicy", "Statement", 0]
VAULT_KEY = ["Resources", "VaultKey"]


def add_statement(path, statement):
    def change(t):
        node = t
        for key in path:
            node = node[key]
        node.append(statement)
    return change


MUTATIONS = [
    ("central-alerts", "publish without the organization condition", delete_in(TOPIC_STATEMENT + ["Condition"]),
     "PolicyDocument:AlertTopicPolicy: a wildcard principal without the organization condition"),
    ("central-alerts", "another organization condition key", set_in(TOPIC_STATEMENT + ["Condition"], {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}),
     "a wildcard principal without the organization condition"),
    ("central-alerts", "a pattern instead of the organization", set_in(TOPIC_STATEMENT + ["Condition"], {"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
     "a wildcard principal without the organization condition"),
    ("central-alerts", "the organization may subscribe too", set_in(TOPIC_STATEMENT + ["Action"], ["sns:Publish", "sns:Subscribe"]),
     "the topic policy allows more than sns:Publish"),
    ("central-alerts", "the topic policy on every topic", set_in(TOPIC_STATEMENT + ["Resource"], "*"),
     "the topic policy allows more than sns:Publish"),
    ("central-alerts", "no publish statement", set_in(TOPIC_STATEMENT + ["Effect"], "Deny"),
     "no principal of the organization may publish"),
    ("central-alerts", "the topic unencrypted", delete_in(["Resources", "AlertTopic", "Properties", "KmsMasterKeyId"]),
     "the topic is not encrypted with the stack's key"),
    ("central-alerts", "key rotation off", set_in(ALERT_KEY + ["EnableKeyRotation"], False), "key rotation is off"),
    ("central-alerts", "no root administrator", delete_in(ALERT_KEY_STATEMENTS + [0]), "the account root does not administer the key"),
    ("central-alerts", "publishers may encrypt anything", set_in(ALERT_KEY_STATEMENTS + [1, "Action"], ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt"]),
     "allows more than the organization's publishers need"),
    ("central-alerts", "publishers without the key", set_in(ALERT_KEY_STATEMENTS + [1, "Action"], ["kms:Decrypt"]),
     "the organization's publishers cannot use the key"),
    ("central-alerts", "the key open to everyone", delete_in(ALERT_KEY_STATEMENTS + [1, "Condition"]),
     "KeyPolicy:AlertKey: a wildcard principal without the organization condition"),
    ("central-alerts", "no alarms statement on the topic", delete_in(ALARMS_TOPIC_STATEMENT),
     "the organization's CloudWatch alarms cannot publish"),
    ("central-alerts", "alarms of any account", delete_in(ALARMS_TOPIC_STATEMENT + ["Condition"]),
     "PolicyDocument:AlertTopicPolicy: a service principal without the organization's or the topic's condition"),
    ("central-alerts", "alarms of one account only", set_in(ALARMS_TOPIC_STATEMENT + ["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}),
     "a service principal without the organization's or the topic's condition"),
    ("central-alerts", "no alarms statement on the key", delete_in(ALERT_KEY_STATEMENTS + [2]),
     "the organization's CloudWatch alarms cannot use the key"),
    ("central-alerts", "the alarms' key grant open to any account", delete_in(ALERT_KEY_STATEMENTS + [2, "Condition"]),
     "KeyPolicy:AlertKey: a service principal without the organization's or the topic's condition"),
    ("central-alerts", "the alarms' key grant by organization", set_in(ALERT_KEY_STATEMENTS + [2, "Condition"], {"StringEquals": {"aws:SourceOrgID": {"Ref": "OrganizationId"}}}),
     "the organization's CloudWatch alarms cannot use the key"),
    ("central-alerts", "the alarms' key grant for any account's topics", set_in(ALERT_KEY_STATEMENTS + [2, "Condition"], {"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": "arn:aws:sns:*"}}),
     "KeyPolicy:AlertKey: a service principal without the organization's or the topic's condition"),
    ("central-alerts", "alarms may encrypt anything", set_in(ALERT_KEY_STATEMENTS + [2, "Action"], ["kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt"]),
     "allows more than the organization's publishers need"),
    ("central-alerts", "another service on the key", set_in(ALERT_KEY_STATEMENTS + [2, "Principal"], {"Service": "events.amazonaws.com"}),
     "allows more than the organization's publishers need"),
    ("central-alerts", "an e-mail subscription nobody asked for", delete_in(["Resources", "AlertEmailSubscription", "Condition"]),
     "the e-mail subscription does not follow AlertEmail"),
    ("central-alerts", "no key output", delete_in(["Outputs", "AlertKeyArn"]), "the outputs are not the topic ARN and the key ARN"),
    ("central-alerts", "a fixed topic name", set_in(["Resources", "AlertTopic", "Properties", "TopicName"], "vaultwatch-alerts"),
     "AlertTopic.TopicName is a fixed name"),
    ("central-alerts", "an organization id with a default", set_in(["Parameters", "OrganizationId", "Default"], "o-exampleorg1"),
     "OrganizationId is not a required organization id parameter"),
    ("dr-vault", "the organization may delete recovery points", set_in(STANDARD_STATEMENT + ["Action"], ["backup:CopyIntoBackupVault", "backup:DeleteRecoveryPoint"]),
     "standard: the access policy allows more than backup:CopyIntoBackupVault"),
    ("dr-vault", "the access policy on every vault", set_in(AIR_GAPPED_STATEMENT + ["Resource"], "*"),
     "air-gapped: the access policy allows more than backup:CopyIntoBackupVault"),
    ("dr-vault", "copy into the air-gapped vault from anywhere", delete_in(AIR_GAPPED_STATEMENT + ["Condition"]),
     "air-gapped: AccessPolicy:AirGappedVault: a wildcard principal without the organization condition"),
    ("dr-vault", "no copy statement", set_in(STANDARD_STATEMENT + ["Effect"], "Deny"),
     "standard: no principal of the organization may copy into the vault"),
    ("dr-vault", "the vault key shared with the organization", add_statement(VAULT_KEY + ["Properties", "KeyPolicy", "Statement"], {
        "Sid": "Org", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}}),
     "the vault's key is not administered by the account root alone"),
    ("dr-vault", "key rotation off", set_in(VAULT_KEY + ["Properties", "EnableKeyRotation"], False), "standard: key rotation is off"),
    ("dr-vault", "the key deleted with the stack", delete_in(VAULT_KEY + ["DeletionPolicy"]), "the vault's key is not retained"),
    ("dr-vault", "the vault deleted with the stack", delete_in(["Resources", "AirGappedVault", "DeletionPolicy"]), "air-gapped: the vault is not retained"),
    ("dr-vault", "the standard vault with the default key", delete_in(["Resources", "StandardVault", "Properties", "EncryptionKeyArn"]),
     "the standard vault is not encrypted with the stack's key"),
    ("dr-vault", "a one-day minimum retention", set_in(["Parameters", "MinRetentionDays", "MinValue"], 1),
     "MinRetentionDays does not keep to the air-gapped vault's limits"),
    ("dr-vault", "a 200-year maximum retention", set_in(["Parameters", "MaxRetentionDays", "MaxValue"], 73000),
     "MaxRetentionDays does not keep to the air-gapped vault's limits"),
    ("dr-vault", "the retention limits not wired", set_in(["Resources", "AirGappedVault", "Properties", "MaxRetentionDays"], 36500),
     "the air-gapped vault's retention is not MinRetentionDays/MaxRetentionDays"),
    ("dr-vault", "both vaults at once", delete_in(["Resources", "AirGappedVault", "Condition"]), "standard: expected one vault"),
    ("dr-vault", "the vault type ignored", set_in(["Conditions", "IsAirGapped"], {"Fn::Equals": ["x", "y"]}),
     "air-gapped: the template does not deploy: 'AirGappedVault is not deployed when its condition is false'"),
    ("dr-vault", "a vault name AWS refuses", set_in(["Parameters", "VaultName", "AllowedPattern"], "^.{1,100}$"),
     "VaultName's pattern is not AWS Backup's"),
    ("dr-vault", "a fixed alias", set_in(["Resources", "VaultKeyAlias", "Properties", "AliasName"], "alias/vaultwatch-dr"),
     "VaultKeyAlias.AliasName is a fixed name"),
    ("dr-vault", "no vault output", delete_in(["Outputs", "VaultArn"]), "the outputs are not"),
    ("dr-vault", "the vault types swapped", lambda t: t["Conditions"].update(
        IsStandard={"Fn::Equals": [{"Ref": "VaultType"}, "LOGICALLY_AIR_GAPPED"]},
        IsAirGapped={"Fn::Equals": [{"Ref": "VaultType"}, "STANDARD"]}),
     "standard: VaultType STANDARD deploys a AWS::Backup::LogicallyAirGappedBackupVault"),
    ("dr-vault", "one vault type only", set_in(["Parameters", "VaultType", "AllowedValues"], ["STANDARD"]),
     "VaultType does not offer both vault types"),
    ("dr-vault", "a key for the air-gapped vault too", delete_in(VAULT_KEY + ["Condition"]),
     "air-gapped: the air-gapped vault (an AWS owned key) comes with a key of the stack"),
    ("dr-vault", "two keys", lambda t: t["Resources"].update(SecondKey=t["Resources"]["VaultKey"]),
     "standard: expected one key for the standard vault"),
    ("dr-vault", "a vault named otherwise", set_in(["Resources", "StandardVault", "Properties", "BackupVaultName"], {"Fn::Sub": "${AWS::StackName}"}),
     "standard: the vault is not named VaultName"),
    ("central-alerts", "a second topic", lambda t: t["Resources"].update(OtherTopic={"Type": "AWS::SNS::Topic", "Properties": {}}),
     "expected one topic (AlertTopic) and one key"),
    ("central-alerts", "the policy on no topic", set_in(["Resources", "AlertTopicPolicy", "Properties", "Topics"], []),
     "the topic has no policy of its own"),
    ("central-alerts", "NotPrincipal", lambda t: t["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0].update(
        NotPrincipal=t["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0].pop("Principal")),
     "an Allow with NotPrincipal"),
]


@pytest.mark.parametrize("name,broken,change,expected", MUTATIONS, ids=[f"{m[0]}: {m[1]}" for m in MUTATIONS])
def test_the_audit_reports_a_broken_template(name, broken, change, expected):
    problems = AUDITS[name](modified(name, change))
    assert any(expected in p for p in problems), f"{broken}: not reported; problems: {problems}"


def test_the_audit_reports_an_account_id_written_in():
    for name, audit_of in AUDITS.items():
        text = TEMPLATES[name].read_text().replace("${AWS::AccountId}", "111122223333", 1)
        assert "an account id is written in: 111122223333" in audit_of(load(name), text), name

