"""Lints every policy document of the companion templates (templates/central-alerts.yaml,
templates/dr-vault.yaml) with parliament, in every deployment of each (companion.SCENARIOS: both
vault types, with and without the e-mail subscription), the way test_iam_lint.py lints template.yaml:
intrinsics resolved into representative ARNs, and any finding fails the test unless ALLOWED lists it
with its reason."""

import json

import pytest
from parliament import analyze_policy_string

from companion import SCENARIOS, deployments, modified, policy_documents

# Findings that are expected, each with why: (template, document, issue, text the finding's detail contains).
KEY_POLICY_RESOURCE = (
    "In a key policy, Resource \"*\" means this key and nothing else (KMS key policies admit no other "
    "value); parliament reads the resource policy as if it were an identity policy.")
KEY_POLICY_ADMIN = (
    "The account root administers the key (kms:*): KMS's default key policy statement, without which the "
    "key would become unmanageable; IAM policies of the account decide who may use it.")
SOURCE_ORG_ID = (
    "aws:SourceOrgID is a global condition key (IAM User Guide, AWS global condition context keys) that "
    "parliament 1.6.4's IAM database predates, so it knows it for no action; CloudWatch's guide documents "
    "it in an alarm topic's policy (docs/aws-facts.md#organization-alert-topic).")
ALLOWED = {
    ("central-alerts", "PolicyDocument:AlertTopicPolicy", "UNKNOWN_CONDITION_FOR_ACTION", "aws:SourceOrgID"): SOURCE_ORG_ID,
    ("central-alerts", "KeyPolicy:AlertKey", "MISMATCHED_TYPE", "ArnLike requires a value of type Arn"): (
        "parliament types kms:EncryptionContext:* as String; the alarms' statement matches the topic ARN "
        "SNS sets as encryption context (aws:sns:topicArn) with ArnLike, as template.yaml's key does."),
    ("central-alerts", "KeyPolicy:AlertKey", "RESOURCE_STAR", "kms:"): KEY_POLICY_RESOURCE,
    ("central-alerts", "KeyPolicy:AlertKey", "PERMISSIONS_MANAGEMENT_ACTIONS", "kms:putkeypolicy"): KEY_POLICY_ADMIN,
    ("dr-vault", "KeyPolicy:VaultKey", "RESOURCE_STAR", "kms:"): KEY_POLICY_RESOURCE,
    ("dr-vault", "KeyPolicy:VaultKey", "PERMISSIONS_MANAGEMENT_ACTIONS", "kms:putkeypolicy"): KEY_POLICY_ADMIN,
}
# The documents each deployment has: the extractor found them all.
EXPECTED_DOCUMENTS = {
    ("central-alerts", "defaults"): {"KeyPolicy:AlertKey", "PolicyDocument:AlertTopicPolicy"},
    ("central-alerts", "with-email"): {"KeyPolicy:AlertKey", "PolicyDocument:AlertTopicPolicy"},
    ("dr-vault", "standard"): {"KeyPolicy:VaultKey", "AccessPolicy:StandardVault"},
    ("dr-vault", "air-gapped"): {"AccessPolicy:AirGappedVault"},
}
DEPLOYMENTS = [(name, scenario) for name in SCENARIOS for scenario in SCENARIOS[name]]


def findings(name, document_name, document):
    """Parliament's findings on one document that ALLOWED does not explain, and the entries that did."""
    text = json.dumps(document)
    assert "${" not in text and "Fn::" not in text and '"Ref"' not in text, f"unresolved intrinsic in {document_name}: {text}"
    unexpected, seen = [], set()
    for finding in analyze_policy_string(text, include_community_auditors=True).findings:
        detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail)
        # Some auditors put what they found in the location (PERMISSIONS_MANAGEMENT_ACTIONS).
        detail = f"{detail} {json.dumps(finding.location)}"
        allowed = [k for k in ALLOWED if k[:3] == (name, document_name, finding.issue) and k[3].lower() in detail.lower()]
        if allowed:
            seen.update(allowed)
        else:
            unexpected.append((name, document_name, finding.issue, detail))
    return unexpected, seen


def test_every_deployment_is_linted():
    assert set(EXPECTED_DOCUMENTS) == set(DEPLOYMENTS)


@pytest.mark.parametrize("name,scenario", DEPLOYMENTS)
def test_every_policy_document_of_the_companion_templates_passes_parliament(name, scenario):
    documents = policy_documents(deployments(name)[scenario])
    assert set(documents) == EXPECTED_DOCUMENTS[(name, scenario)]
    unexpected = []
    for document_name, document in sorted(documents.items()):
        unexpected += findings(name, document_name, document)[0]
    assert not unexpected, "parliament findings:\n" + "\n".join(map(str, unexpected))


def test_no_allow_list_entry_is_stale():
    seen = set()
    for name, scenario in DEPLOYMENTS:
        for document_name, document in policy_documents(deployments(name)[scenario]).items():
            seen |= findings(name, document_name, document)[1]
    assert seen == set(ALLOWED), f"stale allow-list entries: {set(ALLOWED) - seen}"


def test_the_lint_fails_on_a_broken_companion_template():
    """The harness would hide a lint that cannot fail: a misspelt action in the vault's access policy and
    a topic policy granting a KMS action must produce findings."""
    def misspell(template):
        template["Resources"]["StandardVault"]["Properties"]["AccessPolicy"]["Statement"][0]["Action"] = "backup:CopyIntoBackupVaults"
    vault = policy_documents(deployments("dr-vault", modified("dr-vault", misspell))["standard"])
    unexpected, _ = findings("dr-vault", "AccessPolicy:StandardVault", vault["AccessPolicy:StandardVault"])
    assert {issue for _, _, issue, _ in unexpected} == {"UNKNOWN_ACTION"}, unexpected

    def grant_kms_on_the_topic(template):
        template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"] = "kms:Decrypt"
    topic = policy_documents(deployments("central-alerts", modified("central-alerts", grant_kms_on_the_topic))["defaults"])
    unexpected, _ = findings("central-alerts", "PolicyDocument:AlertTopicPolicy", topic["PolicyDocument:AlertTopicPolicy"])
    assert "RESOURCE_MISMATCH" in {issue for _, _, issue, _ in unexpected}, unexpected
