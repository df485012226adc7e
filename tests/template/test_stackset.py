"""Audits template.yaml for deployment as a service-managed StackSet to every member account and region
(README, "Deploy to an organization"; docs/aws-facts.md#stacksets), on the template as CloudFormation
runs it: after the SAM transform, which is also what the StackSet is given.

- Every name the template sets is unique to its stack. Which properties are names comes from the
  CloudFormation resource schemas cfn-lint ships (create-only properties named after their type),
  and how far a name must reach from the ARN formats of the Service Authorization Reference
  (parliament's copy): a name in an ARN with a region is per account and region, so the stack's name
  suffices; without a region it is per account, so it needs the region too; without an account it
  is global. The stack's id is unique everywhere. Nothing here lists today's names.
- No account id, region or partition is written in, no ARN names a resource the template does not
  create or get as a parameter, and every name fits its schema when the stack's name is as long as
  CloudFormation allows (a StackSet's stacks are named StackSet-<name>-<uuid>).
- The README's commands deploy what a service-managed StackSet accepts: the processed template, with
  the capabilities it needs and no others, from S3 when it exceeds the inline limit, with each
  function's code read from its own region's bucket (the README's jq command is run here).
"""

import copy
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from parliament import iam_definition
from samtranslator.translator.transform import transform

from test_iam_lint import ROOT, TEMPLATE as LONG_FORM

PSEUDO_STACK = ("AWS::StackName", "AWS::StackId")
# A 12-digit number (an account id), a region name, an ARN with a fixed partition.
ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION = re.compile(r"\b(?:[a-z]{2}|eusc)(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]\b")
FIXED_PARTITION = re.compile(r"\barn:aws(?:-[a-z]+)*:")
# Inline template bodies are limited to 51,200 bytes (CreateStackSet TemplateBody).
INLINE_LIMIT = 51_200


class NoManagedPolicies:
    def load(self):
        return {}


def processed(template=None, region="us-east-1"):
    """The template after the SAM transform (what CloudFormation's change set returns as Processed)."""
    template = copy.deepcopy(template or LONG_FORM)
    # sam package's job; the bucket is one region's, which the README's jq command makes each region's.
    template["Globals"]["Function"]["CodeUri"] = "s3://artifacts/0123456789abcdef"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", region)
        return transform(template, {"BackupRoleArn": "service-role/AWSBackupDefaultServiceRole"}, NoManagedPolicies())


PROCESSED = processed()


# ---------------------------------------------------------------- what is a name, and how far it must reach

def schema(kind):
    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema


def naming_properties(kind):
    """The top-level properties that name a resource of this type: create-only (a new value is a new
    resource) and named after the type (TableName on a Table, Name, ConfigurationName on a
    SlackChannelConfiguration), which leaves out the names of other resources (FunctionName on a
    Permission, LogGroupName on a SubscriptionFilter)."""
    definition = schema(kind)
    type_name = kind.split("::")[2]
    create_only = {p.split("/")[2] for p in definition.get("createOnlyProperties", []) if p.count("/") == 2}
    return {p for p in create_only if p == "Name" or (p.endswith("Name") and p[:-4] and p[:-4] in type_name)}


def nested_names(kind, properties):
    """Names one level down, named after the type (a BackupPlan's BackupPlan.BackupPlanName)."""
    wanted = kind.split("::")[2] + "Name"
    for key, value in properties.items():
        if isinstance(value, dict) and wanted in value:
            yield f"{key}.{wanted}", value[wanted]


def stem(variable):
    return variable.removesuffix("WithPath").removesuffix("Name")


def arn_formats(kind, prop):
    """The ARN formats whose name variable is this naming property (exact stem first, else a suffix)."""
    service, type_name = kind.split("::")[1].lower(), kind.split("::")[2]
    wanted = stem(type_name + "Name" if prop == "Name" else prop.split(".")[-1])
    formats = [r["arn"] for s in iam_definition if s["prefix"] == service for r in s["resources"]]
    variables = {arn: [stem(v) for v in re.findall(r"\$\{(\w+)\}", arn)] for arn in formats}
    exact = [arn for arn, names in variables.items() if wanted in names]
    return exact or [arn for arn, names in variables.items()
                     if any(n and (n.endswith(wanted) or wanted.endswith(n)) for n in names)]


def reach(kind, prop):
    """How far a name must be unique: "stack" (per account and region), "account" (per account, all
    regions) or "global". Unknown (no ARN format found) counts as global: the strictest."""
    formats = arn_formats(kind, prop)
    if not formats:
        return "global"
    if any("${Account}" not in arn for arn in formats):
        return "global"
    if any("${Region}" not in arn for arn in formats):
        return "account"
    return "stack"


def mentions(value):
    """The pseudo parameters and parameters a (possibly intrinsic) value refers to."""
    found = set()
    if isinstance(value, str):
        found |= set(re.findall(r"\$\{([\w:]+)\}", value))
    elif isinstance(value, list):
        for item in value:
            found |= mentions(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            else:
                found |= mentions(item)
    return found


def names(template):
    """(logical id, type, property, value) of every name the template sets."""
    for logical_id, resource in template["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        for prop in sorted(naming_properties(kind) & set(properties)):
            yield logical_id, kind, prop, properties[prop]
        for prop, value in nested_names(kind, properties):
            yield logical_id, kind, prop, value
    for output_id, output in template.get("Outputs", {}).items():
        if "Export" in output:
            yield f"Outputs.{output_id}", "AWS::CloudFormation::Export", "Name", output["Export"]["Name"]


def name_problems(template):
    problems = []
    for logical_id, kind, prop, value in names(template):
        refs = mentions(value)
        if "AWS::StackId" in refs:
            continue  # the stack's id is unique in every account and region
        needed = {"stack": {"AWS::StackName"}, "account": {"AWS::StackName", "AWS::Region"},
                  "global": {"AWS::StackName", "AWS::Region", "AWS::AccountId"}}[
            "stack" if kind == "AWS::CloudFormation::Export" else reach(kind, prop)]
        if not needed <= refs:
            problems.append(f"{logical_id}.{prop} ({kind}) must include {sorted(needed - refs)} or be left to CloudFormation")
    return problems


# ---------------------------------------------------------------- literals

def leaves(node, path=""):
    """Every string and number in a template part, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, f"{path}[{index}]")
    elif isinstance(node, (str, int)) and not isinstance(node, bool):
        yield path, str(node)


def deployed_parts(template):
    """What CloudFormation evaluates: resources, outputs, conditions, rules, and the parameters'
    defaults and allowed values (not descriptions, patterns or metadata, which are text)."""
    parts = {key: template.get(key, {}) for key in ("Resources", "Outputs", "Conditions", "Rules", "Globals")}
    parts["Parameters"] = {name: {k: v for k, v in p.items() if k in ("Default", "AllowedValues")}
                           for name, p in template.get("Parameters", {}).items()}
    for resource in parts["Resources"].values():
        resource.pop("Metadata", None)
    return parts


def arn_problems(text):
    """An ARN the template builds must name what it creates or is given: a wildcard or a reference in
    its resource part, or AWS's own (account "aws") or the account's root."""
    problems = []
    for arn in re.findall(r"arn:\$\{AWS::Partition\}:[^\s\"',]*", text):
        parts = re.sub(r"\$\{[^}]*\}", "${V}", arn).split(":", 5)
        if len(parts) < 6:
            continue
        account, resource = parts[4], parts[5]
        if "*" in resource or "${" in resource or account == "aws" or resource == "root":
            continue
        problems.append(f"fixed resource in {arn}")
    return problems


def literal_problems(template, partition=True):
    """Literals that tie the template to one account, region or partition. The processed template is
    checked without the partition: the SAM transform writes the partition of the region that
    processes it into the AWS managed policies' ARNs, and a StackSet never leaves its partition."""
    problems = []
    for path, text in leaves(copy.deepcopy(deployed_parts(template))):
        if ACCOUNT_ID.search(text):
            problems.append(f"account id written in at {path}: {text[:80]}")
        if REGION.search(text):
            problems.append(f"region written in at {path}: {text[:80]}")
        if partition and FIXED_PARTITION.search(text):
            problems.append(f"partition written in at {path}: {text[:80]}")
        problems += [f"{p} at {path}" for p in arn_problems(text)]
    return problems


def audit(template):
    return name_problems(processed(template)) + literal_problems(template) + literal_problems(processed(template), partition=False)


# ---------------------------------------------------------------- the template as it is

def test_every_name_is_unique_to_its_stack_in_every_account_and_region():
    found = list(names(PROCESSED))
    # The audit saw the names there are: log groups, the key alias, the dashboard, the chat channels,
    # the sample vault and plan.
    assert {kind for _, kind, _, _ in found} >= {"AWS::Logs::LogGroup", "AWS::KMS::Alias", "AWS::CloudWatch::Dashboard",
                                                  "AWS::Chatbot::SlackChannelConfiguration", "AWS::Backup::BackupVault",
                                                  "AWS::Backup::BackupPlan"}
    assert name_problems(PROCESSED) == []


def test_nothing_account_or_region_specific_is_written_in():
    assert literal_problems(LONG_FORM) == []
    assert literal_problems(PROCESSED, partition=False) == []


def test_the_processed_template_is_the_same_in_every_region_and_for_every_parameter_value():
    # One processed template serves the whole StackSet: the transform puts nothing of the region or
    # of the parameters into it.
    assert processed(region="eu-west-1") == processed(region="us-gov-west-1") == PROCESSED
    template = copy.deepcopy(LONG_FORM)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        other = copy.deepcopy(template)
        other["Globals"]["Function"]["CodeUri"] = "s3://artifacts/0123456789abcdef"
        with_values = transform(other, {"BackupRoleArn": "arn:aws:iam::111122223333:role/r", "CopyRoutes": '[{"a":1}]',
                                        "CopierReservedConcurrency": "-1", "LogLevel": "DEBUG"}, NoManagedPolicies())
    assert with_values == PROCESSED
    assert "Transform" not in PROCESSED


# Worst case for length: the longest stack name CloudFormation allows, shaped like a StackSet's.
UUID = "51af3dc0-da77-11e4-872e-1234567890ab"
STACK_NAME = f"StackSet-{'v' * 82}-{UUID}"
WORST = {"AWS::StackName": STACK_NAME, "AWS::Region": "ap-southeast-5", "AWS::AccountId": "123456789012",
         "AWS::Partition": "aws-iso-b", "AWS::URLSuffix": "amazonaws.com",
         "AWS::StackId": f"arn:aws:cloudformation:ap-southeast-5:123456789012:stack/{STACK_NAME}/{UUID}"}


def evaluate(node):
    """A name's value for the worst-case stack (parameters at their defaults, resources' names long)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [evaluate(item) for item in node]
    (key, value), = node.items()
    if key == "Ref":
        if value in WORST:
            return WORST[value]
        parameter = LONG_FORM["Parameters"].get(value)
        return str(parameter.get("Default", "x" * 64)) if parameter else "r" * 64
    if key == "Fn::Sub":
        text, variables = (value, {}) if isinstance(value, str) else value
        variables = {k: evaluate(v) for k, v in variables.items()}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(variables.get(m.group(1)) or evaluate({"Ref": m.group(1)})), text)
    if key == "Fn::Join":
        return value[0].join(evaluate(value[1]))
    if key == "Fn::Split":
        return evaluate(value[1]).split(value[0])
    if key == "Fn::Select":
        return evaluate(value[1])[int(value[0])]
    if key == "Fn::GetAtt":
        return "g" * 64
    raise KeyError(f"{key} in a name is not modelled by this test")


def constraint(kind, prop):
    definition = schema(kind)
    if "." in prop:
        return {}
    spec = definition["properties"][prop]
    if "$ref" in spec:
        spec = definition["definitions"][spec["$ref"].split("/")[-1]]
    return spec


def test_every_name_fits_its_type_when_the_stack_name_is_as_long_as_a_stacksets():
    checked = 0
    for logical_id, kind, prop, value in names(PROCESSED):
        name = evaluate(value)
        spec = constraint(kind, prop)
        if "maxLength" in spec:
            assert len(name) <= spec["maxLength"], (logical_id, prop, len(name), name)
        if "pattern" in spec:
            assert re.search(spec["pattern"], name), (logical_id, prop, spec["pattern"], name)
        checked += 1
        # AWS Backup's own limits (API model): vault names ^[a-zA-Z0-9\-\_]{2,50}$, plan names 1-50.
        if kind.startswith("AWS::Backup::"):
            assert len(name) <= 50, (logical_id, prop, name)
    assert checked >= 8


# ---------------------------------------------------------------- the audit catches what it should

def mutated(change):
    template = copy.deepcopy(LONG_FORM)
    change(template["Resources"], template)
    return template


MUTATIONS = {
    "a fixed table name": (lambda r, t: r["TrackingTable"]["Properties"].update(TableName="vaultwatch-copies"),
                           "TrackingTable.TableName"),
    "a queue named after a parameter only": (lambda r, t: r["RetryQueue"]["Properties"].update(QueueName={"Ref": "MetricsNamespace"}),
                                             "RetryQueue.QueueName"),
    "an IAM role named after the stack but not the region": (
        lambda r, t: r["SlackChannelRole"]["Properties"].update(RoleName={"Fn::Sub": "${AWS::StackName}-slack"}),
        "SlackChannelRole.RoleName"),
    "a function name": (lambda r, t: r["CopyJobTrackerFunction"]["Properties"].update(FunctionName="vaultwatch-tracker"),
                        "CopyJobTrackerFunction.FunctionName"),
    "a dashboard without the region": (lambda r, t: r["Dashboard"]["Properties"].update(DashboardName={"Fn::Sub": "${AWS::StackName}"}),
                                       "Dashboard.DashboardName"),
    "an alarm name": (lambda r, t: r["AlertsSentAlarm"]["Properties"].update(AlarmName="vaultwatch-alerts"),
                      "AlertsSentAlarm.AlarmName"),
    "a schedule": (lambda r, t: r.update(Nightly={"Type": "AWS::Scheduler::Schedule", "Properties": {
        "Name": "vaultwatch-nightly", "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": {"Fn::GetAtt": ["CopyJobReconcilerFunction", "Arn"]}, "RoleArn": {"Fn::GetAtt": ["SlackChannelRole", "Arn"]}}}}),
                   "Nightly.Name"),
    "a bucket named after the stack and region only": (
        lambda r, t: r.update(Bucket={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}}}),
        "Bucket.BucketName"),
    "an export": (lambda r, t: t["Outputs"]["TrackingTableName"].update(Export={"Name": "vaultwatch-table"}),
                  "Outputs.TrackingTableName.Name"),
    "an account id": (lambda r, t: r["CopyJobTrackerFunction"]["Properties"].setdefault("Environment", {"Variables": {}})["Variables"]
                      .update(ALLOWED_ACCOUNT_IDS="111122223333"), "account id written in"),
    "a region": (lambda r, t: r["Dashboard"]["Properties"].update(DashboardBody={"Fn::Sub": '{"region": "us-east-1"}'}),
                 "region written in"),
    "a partition": (lambda r, t: r["EventsKey"]["Properties"]["KeyPolicy"]["Statement"][0]["Principal"].update(
        AWS={"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}), "partition written in"),
    "a topic that must already exist": (lambda r, t: r["AlertTopic"]["Properties"].update(
        KmsMasterKeyId={"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/existing-key"}),
        "fixed resource"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_audit_refuses(mutation):
    change, expected = MUTATIONS[mutation]
    problems = audit(mutated(change))
    assert any(expected in p for p in problems), problems


def test_names_that_vary_as_they_must_pass():
    def change(resources, template):
        resources["TrackingTable"]["Properties"]["TableName"] = {"Fn::Sub": "${AWS::StackName}-copies"}
        resources["SlackChannelRole"]["Properties"]["RoleName"] = {"Fn::Sub": "${AWS::StackName}-${AWS::Region}-slack"}
        resources["AlertsSentAlarm"]["Properties"]["AlarmName"] = {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "alerts"]]}
        resources["RetryQueue"]["Properties"]["QueueName"] = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    assert audit(mutated(change)) == []


def test_what_is_a_name_and_how_far_it_reaches_comes_from_the_schemas_and_arn_formats():
    assert naming_properties("AWS::DynamoDB::Table") == {"TableName"}
    assert naming_properties("AWS::Scheduler::Schedule") == {"Name"}
    assert naming_properties("AWS::Chatbot::MicrosoftTeamsChannelConfiguration") == {"ConfigurationName"}
    assert naming_properties("AWS::Lambda::Permission") == naming_properties("AWS::Lambda::EventSourceMapping") == set()
    assert naming_properties("AWS::Logs::SubscriptionFilter") == {"FilterName"}
    assert {kind: reach(kind, prop) for kind, prop in (
        ("AWS::SQS::Queue", "QueueName"), ("AWS::Logs::LogGroup", "LogGroupName"), ("AWS::KMS::Alias", "AliasName"),
        ("AWS::IAM::Role", "RoleName"), ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
        ("AWS::CloudWatch::Dashboard", "DashboardName"), ("AWS::Chatbot::SlackChannelConfiguration", "ConfigurationName"),
        ("AWS::S3::Bucket", "BucketName"), ("AWS::Events::Rule", "Name"))} == {
        "AWS::SQS::Queue": "stack", "AWS::Logs::LogGroup": "stack", "AWS::KMS::Alias": "stack",
        "AWS::IAM::Role": "account", "AWS::IAM::ManagedPolicy": "account", "AWS::CloudWatch::Dashboard": "account",
        "AWS::Chatbot::SlackChannelConfiguration": "account", "AWS::S3::Bucket": "global", "AWS::Events::Rule": "stack"}


# ---------------------------------------------------------------- the README's StackSet commands

def organization_section():
    readme = (ROOT / "docs" / "organization.md").read_text()
    section = readme[readme.index("## Deploy to an organization"):]
    return section[:section.index("\n## ", 1)]


def commands(section, verb):
    """Each `aws cloudformation <verb>` command of the section's code blocks, as one argument list."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            if line.strip().startswith(f"aws cloudformation {verb} "):
                found.append(shlex.split(line, comments=True))
    return found


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def required_capabilities(template):
    """What CloudFormation asks of this template: IAM resources, named ones, macros."""
    kinds = {r["Type"] for r in template["Resources"].values()}
    needed = set()
    iam = {k for k in kinds if k.startswith("AWS::IAM::")}
    if iam:
        needed.add("CAPABILITY_IAM")
    if any(naming_properties(r["Type"]) & set(r.get("Properties", {})) for r in template["Resources"].values()
           if r["Type"].startswith("AWS::IAM::")):
        needed.add("CAPABILITY_NAMED_IAM")
    if "Transform" in template:
        needed.add("CAPABILITY_AUTO_EXPAND")
    return needed


def test_the_readme_creates_a_service_managed_stack_set_from_the_processed_template():
    section = organization_section()
    (create,) = commands(section, "create-stack-set")
    assert option(create, "--permission-model") == "SERVICE_MANAGED"
    assert option(create, "--auto-deployment") == "Enabled=true,RetainStacksOnAccountRemoval=false"
    assert option(create, "--call-as") in ("SELF", "DELEGATED_ADMIN")
    # The capabilities the processed template needs, no more: with the default execution role a
    # service-managed StackSet refuses macros even with CAPABILITY_AUTO_EXPAND (the other route, a
    # custom execution role template with CAPABILITY_NAMED_IAM and CAPABILITY_AUTO_EXPAND, is
    # described, not scripted), so the transform is done before, not asked for.
    assert "Transform" in (ROOT / "template.yaml").read_text() and "Transform" not in PROCESSED
    listed = set(create[create.index("--capabilities") + 1:][:3]) & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert listed == required_capabilities(PROCESSED) == {"CAPABILITY_IAM"}
    # Too big to pass inline: from S3.
    assert len(json.dumps(PROCESSED, separators=(",", ":"))) > INLINE_LIMIT
    assert "--template-body" not in create and option(create, "--template-url").startswith("https://")
    # The processed template comes from a change set of the packaged template.
    (get,) = commands(section, "get-template")
    assert option(get, "--template-stage") == "Processed" and option(get, "--change-set-name")
    assert commands(section, "create-change-set") and commands(section, "delete-stack")
    assert "sam build" in section and "sam package" in section


def test_the_readme_targets_organizational_units_and_updates_the_stack_set():
    section = organization_section()
    (instances,) = commands(section, "create-stack-instances")
    assert option(instances, "--deployment-targets").startswith("OrganizationalUnitIds=")
    assert option(instances, "--regions")
    preferences = option(instances, "--operation-preferences")
    assert "FailureTolerance" in preferences and "MaxConcurrent" in preferences
    (update,) = commands(section, "update-stack-set")
    assert option(update, "--template-url").startswith("https://")
    assert {"CAPABILITY_IAM"} <= set(update) and "CAPABILITY_AUTO_EXPAND" not in update
    for command in (commands(section, "create-stack-set")[0], instances, update):
        assert option(command, "--call-as") == option(commands(section, "create-stack-set")[0], "--call-as")


def test_the_readmes_jq_command_reads_each_functions_code_from_its_own_regions_bucket(tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    section = organization_section()
    (line,) = [line for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)
               for line in block.replace("\\\n", " ").splitlines() if line.strip().startswith("jq ")]
    (tmp_path / "processed.json").write_text(json.dumps(PROCESSED))
    subprocess.run(line, shell=True, cwd=tmp_path, check=True, env={**os.environ, "PATH": os.environ["PATH"]})
    stackset = json.loads((tmp_path / "stackset.json").read_text())
    functions = {n: r for n, r in stackset["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 5
    for name, function in functions.items():
        bucket = function["Properties"]["Code"]["S3Bucket"]
        assert isinstance(bucket, dict) and "${AWS::Region}" in bucket["Fn::Sub"], (name, bucket)
    # Everything else as processed, and no region left in it.
    for function in functions.values():
        function["Properties"]["Code"]["S3Bucket"] = "artifacts"
    assert stackset == PROCESSED
    assert literal_problems(json.loads((tmp_path / "stackset.json").read_text()), partition=False) == []


def test_the_facts_behind_the_stackset_commands_are_recorded_with_their_sources():
    facts = (ROOT / "docs" / "aws-facts.md").read_text()
    section = facts[facts.index("## StackSets"):]
    section = " ".join(section[:section.index("\n## ", 1)].split())
    for needed in ("CAPABILITY_AUTO_EXPAND", "don't currently support the use of macros", "SERVICE_MANAGED",
                   "RetainStacksOnAccountRemoval", "DELEGATED_ADMIN", "management account", "FailureTolerance",
                   "MaxConcurrent", "51,200", "same Amazon Web Services Region as your function",
                   "MaximumConcurrency", "100,015"):
        assert needed in section, needed
