"""Retained data stays readable: every resource a template keeps when its stack is deleted or the
resource replaced (DeletionPolicy/UpdateReplacePolicy Retain) keeps the KMS keys that encrypt it too.
A retained table or vault under a key CloudFormation deletes is unreadable once the key's waiting
period ends (docs/aws-facts.md#retained-data-and-its-keys). Checked on template.yaml and on every
companion template in templates/."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from test_iam_lint import TaggedLoader

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "template.yaml", *sorted((ROOT / "templates").glob("*.yaml"))]
KEY_TYPES = {"AWS::KMS::Key", "AWS::KMS::ReplicaKey"}
SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def load(path):
    return yaml.load(path.read_text(), Loader=TaggedLoader)


def referenced(node) -> set[str]:
    """The logical ids a resource's properties name: Ref, Fn::GetAtt and ${...} in Fn::Sub, through
    every other intrinsic (Fn::If's branches included: either may be in force)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= set(SUB_REFERENCE.findall(text))
                if isinstance(value, list):
                    found |= referenced(value[1:])
            else:
                found |= referenced(value)
    elif isinstance(node, list):
        for item in node:
            found |= referenced(item)
    return found


def keys_of(resources, name) -> set[str]:
    """The KMS keys of the template that a resource's properties name, directly or through an alias."""
    keys = set()
    for ref in referenced(resources[name].get("Properties", {})):
        target = resources.get(ref)
        if target is None:
            continue
        if target["Type"] in KEY_TYPES:
            keys.add(ref)
        elif target["Type"] == "AWS::KMS::Alias":
            keys |= {k for k in referenced(target["Properties"]["TargetKeyId"]) if resources.get(k, {}).get("Type") in KEY_TYPES}
    return keys


def retained(resource) -> bool:
    return "Retain" in (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))


def problems(template) -> list[str]:
    resources = template["Resources"]
    found = []
    for name, resource in resources.items():
        if not retained(resource):
            continue
        if resource.get("DeletionPolicy") != "Retain" or resource.get("UpdateReplacePolicy") != "Retain":
            found.append(f"{name} is retained on deletion or on replacement but not on both")
        for key in sorted(keys_of(resources, name)):
            policies = (resources[key].get("DeletionPolicy"), resources[key].get("UpdateReplacePolicy"))
            if policies != ("Retain", "Retain"):
                found.append(f"{name} is retained but its key {key} is not (DeletionPolicy, UpdateReplacePolicy = {policies})")
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_retained_resource_keeps_the_keys_that_encrypt_it(path):
    assert problems(load(path)) == []


def test_the_tracking_table_has_a_retained_key_of_its_own_and_nothing_deleted_shares_it():
    resources = load(ROOT / "template.yaml")["Resources"]
    assert keys_of(resources, "TrackingTable") == {"TrackingTableKey"}
    users = {name for name in resources if name != "TrackingTableKeyAlias" and "TrackingTableKey" in referenced(resources[name].get("Properties", {}))}
    # Only the table (and the output naming the key): a deleted resource has no use for a kept key.
    assert users == {"TrackingTable"}


def test_the_retained_resources_are_the_documented_ones():
    # What stays after `sam delete` (README "Uninstall"): the table and its key, the evidence bucket
    # and its TLS-only policy; in the DR vault template, the vault and its key.
    kept = {path.name: sorted(n for n, r in load(path)["Resources"].items() if retained(r)) for path in TEMPLATES}
    assert kept == {
        "template.yaml": ["EvidenceBucket", "EvidenceBucketPolicy", "TrackingTable", "TrackingTableKey"],
        "central-alerts.yaml": [],
        "dr-vault.yaml": ["AirGappedVault", "StandardVault", "VaultKey"],
    }
    readme = (ROOT / "README.md").read_text()
    uninstall = readme.split("\n## Uninstall\n", 1)[1].split("\n## ", 1)[0]
    for name in ("tracking table", "key", "DR vault", "ScheduleKeyDeletion", "delete-table", "evidence bucket", "Object Lock"):
        assert name.lower() in uninstall.lower(), name


# ---------------------------------------------------------------- the audit can fail

def table_and_key(key_policies=("Retain", "Retain"), table_policies=("Retain", "Retain"), through=None):
    template = load(ROOT / "template.yaml")
    resources = template["Resources"]
    key, table = resources["TrackingTableKey"], resources["TrackingTable"]
    for resource, (deletion, replacement) in ((key, key_policies), (table, table_policies)):
        for policy, value in (("DeletionPolicy", deletion), ("UpdateReplacePolicy", replacement)):
            if value is None:
                resource.pop(policy, None)
            else:
                resource[policy] = value
    if through is not None:
        table["Properties"]["SSESpecification"]["KMSMasterKeyId"] = through
    return template


@pytest.mark.parametrize("key_policies", [(None, None), ("Retain", None), (None, "Retain"), ("Delete", "Retain")])
def test_the_audit_refuses_a_retained_table_whose_key_may_be_deleted(key_policies):
    found = problems(table_and_key(key_policies=key_policies))
    assert [p for p in found if p.startswith("TrackingTable is retained but its key TrackingTableKey is not")], found


@pytest.mark.parametrize("through", [{"Ref": "TrackingTableKey"}, {"Ref": "TrackingTableKeyAlias"},
                                     {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${TrackingTableKey}"},
                                     {"Fn::If": ["HasRoutes", {"Ref": "EventsKey"}, {"Ref": "AWS::NoValue"}]}])
def test_the_audit_follows_every_way_of_naming_the_key(through):
    template = table_and_key(key_policies=(None, None), through=through)
    key = "EventsKey" if "Fn::If" in through else "TrackingTableKey"
    assert [p.split(" (")[0] for p in problems(template)] == [f"TrackingTable is retained but its key {key} is not"]


def test_the_audit_refuses_a_resource_retained_only_half_way():
    assert problems(table_and_key(table_policies=("Retain", None))) == [
        "TrackingTable is retained on deletion or on replacement but not on both"]


def test_the_audit_refuses_todays_mistake_the_table_under_the_stacks_deleted_key():
    template = table_and_key(through={"Fn::GetAtt": ["EventsKey", "Arn"]})
    assert problems(copy.deepcopy(template)) == [
        "TrackingTable is retained but its key EventsKey is not (DeletionPolicy, UpdateReplacePolicy = (None, None))"]


def test_the_table_key_serves_this_account_through_dynamodb_only():
    statements = load(ROOT / "template.yaml")["Resources"]["TrackingTableKey"]["Properties"]["KeyPolicy"]["Statement"]
    administer, through_dynamodb = statements
    assert administer["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert through_dynamodb["Principal"] == {"AWS": "*"}
    assert through_dynamodb["Condition"] == {"StringEquals": {
        "kms:CallerAccount": {"Ref": "AWS::AccountId"},
        "kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}
    assert "kms:ScheduleKeyDeletion" not in through_dynamodb["Action"] and "kms:*" not in through_dynamodb["Action"]
