"""The JSON Schema of the AWS Chatbot custom notification (tests/fixtures/chatbot/) holds together with
what docs/aws-facts.md quotes of AWS's page: it is a valid JSON Schema, it names exactly the fields of
the documented event schema, AWS's own sample passes it, and what the page rules out fails it. The
end-to-end tests check what the real binaries publish against the same schema."""

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/fixtures/chatbot/custom-notification.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)

# The page's sample notification, as reproduced in docs/aws-facts.md#chatbot-custom-notifications.
SAMPLE = {
    "version": "1.0",
    "source": "custom",
    "id": "c-weihfjdsf",
    "content": {
        "textType": "client-markdown",
        "title": ":warning: Banana Order processing is down!",
        "description": "Banana Order processor application is no longer processing orders. OnCall team has beeen paged.",
        "nextSteps": [
            "Refer to <http://www.example.com|*diagnosis* runbook>",
            "@googlie: Page Jane if error persists over 30 minutes",
            "Check if instance i-04d231f25c18592ea needs to receive an AMI rehydration",
        ],
        "keywords": ["BananaOrderIntake", "Critical", "SRE"],
    },
    "metadata": {
        "threadId": "OrderProcessing-1",
        "summary": "Order Processing Update",
        "eventType": "BananaOrderAppEvent",
        "relatedResources": ["i-04d231f25c18592ea", "i-0c8c31affab6078fb"],
        "additionalContext": {"priority": "critical"},
    },
}


def documented_event_schema() -> dict:
    """The event schema docs/aws-facts.md quotes verbatim from AWS's page, with its String
    placeholders and "..." made JSON."""
    facts = (ROOT / "docs/aws-facts.md").read_text()
    section = facts.split("\n## Chatbot custom notifications\n", 1)[1].split("\n## ", 1)[0]
    quoted = re.search(r"\*\*Event schema\*\* \(verbatim\): `(.*?)`\n", section, re.DOTALL).group(1)
    text = re.sub(r"\s+", " ", quoted)
    text = text.replace(", ...", "").replace(" ... ", " ")
    text = re.sub(r"\bString\b", '"s"', text)
    return json.loads(text)


def fields(value: dict, prefix: str = "") -> set[str]:
    names = set()
    for name, inner in value.items():
        names.add(prefix + name)
        if isinstance(inner, dict) and name != "additionalContext":
            names |= fields(inner, prefix + name + ".")
    return names


def schema_fields(schema: dict, prefix: str = "") -> set[str]:
    names = set()
    for name, inner in schema.get("properties", {}).items():
        names.add(prefix + name)
        if "properties" in inner:
            names |= schema_fields(inner, prefix + name + ".")
    return names


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_names_the_documented_fields_and_nothing_else():
    documented = fields(documented_event_schema())
    # enableCustomActions is documented separately (a secondary source), not in the quoted block.
    assert schema_fields(SCHEMA) - {"metadata.enableCustomActions"} == documented


def test_the_pages_sample_passes():
    assert list(VALIDATOR.iter_errors(SAMPLE)) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda n: n.update(version="2.0"),
        lambda n: n.update(source="aws.backup"),
        lambda n: n.pop("content"),
        lambda n: n["content"].pop("description"),
        lambda n: n["content"].update(textType="markdown"),
        lambda n: n["content"].update(title="x" * 251),
        lambda n: n["content"].update(description="x" * 8001),
        lambda n: n["content"]["nextSteps"].append("x" * 351),
        lambda n: n["content"]["keywords"].append("x" * 76),
        lambda n: n["metadata"]["additionalContext"].update(count=3),
        lambda n: n["metadata"].update(colour="red"),
        lambda n: n.update(detail={}),
    ],
)
def test_what_the_page_rules_out_fails(change):
    notification = json.loads(json.dumps(SAMPLE))
    change(notification)
    assert list(VALIDATOR.iter_errors(notification)) != []
