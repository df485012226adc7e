"""The companion templates (templates/*.yaml) evaluated for one deployment: parameters (with their
defaults), conditions, the resources and outputs those conditions keep, and every intrinsic resolved
into representative values, so that policies can be audited and linted as AWS will see them.

Shared by test_companion_templates.py (the security audit) and test_companion_iam_lint.py (parliament).
Reuses test_iam_lint's loader (short-form tags in their long form) and its representative partition,
region and account."""

import copy
import re
from pathlib import Path

import yaml

from test_iam_lint import ACCOUNT, PARTITION, REGION, TaggedLoader

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {name: ROOT / "templates" / f"{name}.yaml" for name in ("central-alerts", "dr-vault")}
STACK_NAME = "vaultwatch-org"
ORGANIZATION = "o-exampleorg1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
# Parameters without a default, and the deployments each template is evaluated in (every side of each
# condition at least once).
REQUIRED = {"OrganizationId": ORGANIZATION}
SCENARIOS = {
    "central-alerts": {
        "defaults": {},
        "with-email": {"AlertEmail": "ops@example.com"},
    },
    "dr-vault": {
        "standard": {},
        "air-gapped": {"VaultType": "LOGICALLY_AIR_GAPPED", "MinRetentionDays": 30, "MaxRetentionDays": 3650},
    },
}
NO_VALUE = object()


def load(name):
    return yaml.load(TEMPLATES[name].read_text(), Loader=TaggedLoader)


def as_list(value):
    return value if isinstance(value, list) else [value]


class Deployment:
    """One deployment of `template` with `overrides` for its parameters."""

    def __init__(self, template, overrides):
        self.template = template
        self.params = {}
        for name, parameter in template.get("Parameters", {}).items():
            value = overrides.get(name, REQUIRED.get(name, parameter.get("Default")))
            assert value is not None, f"parameter {name} has no value in this deployment"
            self.params[name] = value
        self.conditions = {}
        for name, expression in template.get("Conditions", {}).items():
            self.conditions[name] = self.resolve(expression)
        self.raw_resources = {name: r for name, r in template["Resources"].items() if self.kept(r)}
        self.resources = {name: self.resolve(r) for name, r in self.raw_resources.items()}
        self.outputs = {name: self.resolve(o["Value"]) for name, o in template.get("Outputs", {}).items() if self.kept(o)}

    def kept(self, node):
        return "Condition" not in node or self.conditions[node["Condition"]]

    def of_type(self, kind):
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    # ------------------------------------------------------------ intrinsics
    def physical_name(self, logical_id):
        return f"{STACK_NAME}-{logical_id}-EXAMPLE"

    def resource(self, name):
        if name not in self.template["Resources"]:
            raise KeyError(f"{name} is not a resource of the template")
        if name not in self.raw_resources:
            raise KeyError(f"{name} is not deployed when its condition is false")
        return self.raw_resources[name]

    def ref(self, name):
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                  "AWS::StackName": STACK_NAME, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        kind = self.resource(name)["Type"]
        if kind == "AWS::KMS::Key":
            return KEY_ID
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{self.physical_name(name)}"
        if kind in ("AWS::Backup::BackupVault", "AWS::Backup::LogicallyAirGappedBackupVault"):
            return self.resolve(self.resource(name)["Properties"]["BackupVaultName"])
        if kind == "AWS::KMS::Alias":
            return self.resolve(self.resource(name)["Properties"]["AliasName"])
        return self.physical_name(name)

    def get_att(self, name, attribute):
        kind = self.resource(name)["Type"]
        if (kind, attribute) == ("AWS::KMS::Key", "Arn"):
            return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
        if (kind, attribute) == ("AWS::SNS::Topic", "TopicArn"):
            return self.ref(name)
        if (kind, attribute) == ("AWS::SNS::Topic", "TopicName"):
            return self.physical_name(name)
        if kind in ("AWS::Backup::BackupVault", "AWS::Backup::LogicallyAirGappedBackupVault") and attribute == "BackupVaultArn":
            return f"arn:{PARTITION}:backup:{REGION}:{ACCOUNT}:backup-vault:{self.ref(name)}"
        raise KeyError(f"GetAtt {name}.{attribute} is not modelled by this test")

    def resolve(self, node):
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.get_att(*(value.split(".", 1) if isinstance(value, str) else value))
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                variables = {k: self.resolve(v) for k, v in variables.items()}

                def substitute(match):
                    name = match.group(1)
                    if name in variables:
                        return str(variables[name])
                    if "." in name:
                        return str(self.get_att(*name.split(".", 1)))
                    return str(self.ref(name))
                return re.sub(r"\$\{([^}!]+)\}", substitute, text)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::If":
                condition, when_true, when_false = value
                return self.resolve(when_true if self.conditions[condition] else when_false)
            if key == "Fn::Equals":
                left, right = self.resolve(value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in value)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in value)
            if key in ("Condition", "Fn::Condition"):
                return self.conditions[value]
            if key.startswith("Fn::"):
                raise KeyError(f"{key} is not modelled by this test")
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def deployments(name, template=None):
    """Every deployment of a companion template (the file's, or a modified copy of it)."""
    template = load(name) if template is None else template
    return {scenario: Deployment(template, overrides) for scenario, overrides in SCENARIOS[name].items()}


POLICY_PROPERTIES = ("KeyPolicy", "PolicyDocument", "AccessPolicy")


def policy_documents(deployment):
    """Every policy document of a deployment: key policies, topic policies, vault access policies."""
    documents = {}
    for name, resource in deployment.resources.items():
        for key, value in resource.get("Properties", {}).items():
            if key in POLICY_PROPERTIES:
                documents[f"{key}:{name}"] = value
            else:
                # A policy this module does not know would go unlinted and unaudited.
                assert "Polic" not in key, f"{name}.{key} looks like a policy these tests do not read"
    return documents


def modified(name, change):
    """A deep copy of a companion template with `change` applied to it (to prove a check can fail)."""
    template = copy.deepcopy(load(name))
    change(template)
    return template
