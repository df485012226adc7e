"""template.yaml as data."""

from __future__ import annotations

import yaml

from harness.config import FUNCTIONS, ROOT


class CfnLoader(yaml.SafeLoader):
    """Reads template.yaml, keeping CloudFormation short-form tags as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)
))


def template_filter_policies() -> dict[str, dict]:
    """Each function's SNS subscription filter policy, as template.yaml declares it."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    policies = {}
    for name, (_, logical_id) in FUNCTIONS.items():
        events = template["Resources"][logical_id]["Properties"]["Events"]
        sns = [e for e in events.values() if e["Type"] == "SNS"]
        policies[name] = sns[0]["Properties"]["FilterPolicy"]
    return policies


def template_parameter_default(name: str) -> str:
    """The default of one of template.yaml's parameters, as a string (as CloudFormation passes it)."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    return str(template["Parameters"][name]["Default"])


def template_event_patterns() -> dict[str, dict]:
    """Each function's EventBridge rule pattern (the EventBridge feed), as template.yaml declares it:
    the rule whose one target is the function."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    resources = template["Resources"]
    patterns = {}
    for name, (_, logical_id) in FUNCTIONS.items():
        rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"
                 and [t["Arn"] for t in r["Properties"]["Targets"]] == [f"{logical_id}.Arn"]]
        (rule,) = rules
        patterns[name] = rule["Properties"]["EventPattern"]
    return patterns
