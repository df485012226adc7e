"""What README.md and docs/aws-facts.md claim about AWS, held to the sources docs/aws-facts.md quotes
(issue 20, items 2 to 4):

- StackSets and the SAM transform: a service-managed StackSet processes the AWS::Serverless transform
  when given a custom execution role template (ExecutionRoleTemplateBody / ExecutionRoleTemplateUrl)
  with CAPABILITY_NAMED_IAM and CAPABILITY_AUTO_EXPAND (botocore 1.44.7 and later); the processed
  template stays the simple route, and either route needs the code in every region. Under
  STRICT_FAILURE_TOLERANCE, MaxConcurrentCount is at most FailureToleranceCount + 1 (the pinned
  botocore's own model says so, and the facts quote it word for word).
- CloudWatch alarms publishing to the organization's topic: documented (SNS's "Allow any CloudWatch
  alarm to publish to a topic in a different account", CloudWatch's aws:SourceOrgID advice), within
  the alarm's region only.
- Cross-account copies: the copying role needs backup:CopyIntoBackupVault in its own policy, not only
  the destination vault's access policy; AWS's managed AWSBackupServiceRolePolicyForBackup has it.

Each check returns the problems it finds; the documents as they are have none, and the last test
feeds each check the wording these documents had before (so that no check passes vacuously)."""

import json
import re
from pathlib import Path

import botocore.session
import pytest

from harness.markdown import section

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "docs" / "aws-facts.md"


class Documentation:
    """The README and the docs pages its sections moved to, read as one text (each claim's section
    is found by its heading, wherever it lives)."""

    PAGES = [ROOT / "README.md", ROOT / "docs" / "organization.md", ROOT / "docs" / "operations.md"]

    @classmethod
    def read_text(cls) -> str:
        return "\n".join(page.read_text() for page in cls.PAGES)


README = Documentation


def prose(text: str, heading: str) -> str:
    """The `## heading` section with whitespace collapsed (claims wrap across lines)."""
    return " ".join(section(text, heading).split())


def bold_paragraph(text: str, title: str) -> str:
    """A README paragraph or list item that starts with a bold title, up to the next one."""
    start = text.index(f"**{title}")
    rest = text[start:]
    end = re.search(r"\n(?:- |\d+\. |\n)\*\*", rest[2:])
    return " ".join((rest[:end.start() + 2] if end else rest).split())


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- StackSets and the SAM transform

FALSE_STACKSET_CLAIMS = [
    # README, before: "Service-managed StackSets run no macros, AWS::Serverless included, whatever the
    # capabilities (CAPABILITY_AUTO_EXPAND does not help)".
    r"run no macros",
    r"CAPABILITY_AUTO_EXPAND` does not help",
    # docs/aws-facts.md, before: "cannot be a service-managed StackSet's template, with or without".
    r"cannot be a service-managed StackSet's template",
]


def stackset_problems(readme: str, facts: str) -> list[str]:
    problems = []
    organization = prose(readme, "Deploy to an organization")
    stacksets = prose(facts, "StackSets")
    for name, text in (("README", organization), ("aws-facts", stacksets)):
        for claim in FALSE_STACKSET_CLAIMS:
            if re.search(claim, text):
                problems.append(f"{name} says a service-managed StackSet cannot take the SAM transform ({claim!r})")
        for needed in ("ExecutionRoleTemplate", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"):
            if needed not in text.replace("execution-role-template", "ExecutionRoleTemplate"):
                problems.append(f"{name} does not name the custom execution role route ({needed})")
    transform = bold_paragraph(readme, "The SAM transform") if "**The SAM transform" in readme else ""
    if "simple route" not in transform or "processed template" not in transform or "code in every region" not in transform:
        problems.append("README does not keep the processed template as the simple route, with the code in every region either way")
    # The model version the facts cite for the new text: one that has it (1.44.7 or later).
    versions = re.findall(r"botocore \*\*(1\.(\d+)\.(\d+))\*\*", stacksets)
    if not any((int(minor), int(patch)) >= (44, 7) for _, minor, patch in versions):
        problems.append(f"aws-facts cites no botocore version with ExecutionRoleTemplateBody (1.44.7+): {versions}")
    if "stacksets-custom-execution-role" not in stacksets:
        problems.append("aws-facts does not cite the User Guide's custom execution role page")
    return problems


def max_concurrent_text() -> str:
    """The pinned botocore's MaxConcurrentCount text, without its markup."""
    model = botocore.session.get_session().get_service_model("cloudformation")
    shape = model.shape_for("StackSetOperationPreferences").members["MaxConcurrentCount"]
    return squash(re.sub(r"<[^>]+>", "", shape.documentation))


STRICT_SENTENCE = ("MaxConcurrentCount is at most one more than the FailureToleranceCount if you're using "
                   "STRICT_FAILURE_TOLERANCE.")


def concurrency_problems(readme: str, facts: str) -> list[str]:
    problems = []
    stacksets = prose(facts, "StackSets").replace("`", "")
    if STRICT_SENTENCE not in stacksets:
        problems.append("aws-facts does not quote MaxConcurrentCount's limit under STRICT_FAILURE_TOLERANCE")
    organization = prose(readme, "Deploy to an organization")
    if "STRICT_FAILURE_TOLERANCE" not in organization or "FailureToleranceCount` + 1" not in organization:
        problems.append("README does not say that concurrency is at most the failure tolerance + 1 by default")
    return problems


def test_the_stackset_route_and_its_facts_are_the_current_models():
    assert stackset_problems(README.read_text(), FACTS.read_text()) == []


def test_the_strict_failure_tolerance_limit_is_quoted_from_the_model_and_told_in_the_readme():
    # The sentence is in the pinned botocore's model, and the facts quote it as it is.
    assert STRICT_SENTENCE in max_concurrent_text()
    assert concurrency_problems(README.read_text(), FACTS.read_text()) == []


# ---------------------------------------------------------------- alarms to the organization's topic

def alarm_problems(readme: str, facts: str) -> list[str]:
    problems = []
    topic = prose(facts, "Organization alert topic")
    for needed, why in (
        ("Allow any CloudWatch alarm to publish to a topic in a different account", "SNS's cross-account alarm example"),
        ("Notify_Users_Alarm_Changes", "CloudWatch's confused deputy advice"),
        ("aws:SourceOrgID", "the organization condition for service principals"),
        ("Invalid region", "the refusal of an alarm action in another region"),
    ):
        if needed not in topic:
            problems.append(f"aws-facts (Organization alert topic) lacks {why}: {needed!r}")
    if re.search(r"cloudwatch\.amazonaws\.com`\)\s*cannot publish to the central topic", topic):
        problems.append("aws-facts says member accounts' alarms cannot publish to the central topic")
    if "**The alarms stay on the stack's topic.**" in readme:
        problems.append("README says the alarms stay on the stack's topic")
    return problems


def test_the_alarms_publishing_to_the_organization_topic_is_documented_with_its_region_limit():
    assert alarm_problems(README.read_text(), FACTS.read_text()) == []


# ---------------------------------------------------------------- the copying role's own grant

KC_SENTENCE = ("add the backup:CopyIntoBackupVault action to your AWS Identity and Access Management (IAM) "
               "identity-based policy and destination vault access policy")


def copy_role_problems(readme: str, facts: str) -> list[str]:
    problems = []
    cross_account = prose(facts, "Cross-account copy to a DR vault")
    if KC_SENTENCE not in cross_account or "backup-resolve-access-denied-error" not in cross_account:
        problems.append("aws-facts does not quote the KC: the role's own policy needs backup:CopyIntoBackupVault")
    if "AWSBackupServiceRolePolicyForBackup" not in cross_account:
        problems.append("aws-facts does not say AWS's managed backup role policy has backup:CopyIntoBackupVault")
    dr = prose(readme, "Central DR account")
    role_item = re.search(r"3\. \*\*The backup role's own grants\*\*(.*?)4\. \*\*", dr)
    if not role_item or "backup:CopyIntoBackupVault" not in role_item.group(1) \
            or "AWSBackupServiceRolePolicyForBackup" not in role_item.group(1):
        problems.append("README Central DR account does not ask the backup role for backup:CopyIntoBackupVault")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|[^|]*\|(.*)\|$", readme, flags=re.M)}
    for parameter in ("BackupRoleArn", "PassableRoleArns"):
        if "backup:CopyIntoBackupVault" not in rows.get(parameter, ""):
            problems.append(f"README's {parameter} row does not say the role needs backup:CopyIntoBackupVault")
    return problems


def test_the_copying_roles_need_copy_into_backup_vault_in_their_own_policy():
    assert copy_role_problems(README.read_text(), FACTS.read_text()) == []


def test_aws_managed_backup_service_role_policy_grants_copy_into_backup_vault():
    # moto ships AWS's managed policies (moto/iam/aws_managed_policies.py): the claim checked against them.
    policies = pytest.importorskip("moto.iam.aws_managed_policies")
    policy = json.loads(policies.aws_managed_policies_data)["AWSBackupServiceRolePolicyForBackup"]
    statements = policy["Document"]["Statement"]
    granting = [s for s in statements if s["Effect"] == "Allow"
                and "backup:CopyIntoBackupVault" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert [s["Resource"] for s in granting] == ["arn:aws:backup:*:*:backup-vault:*"], granting
    # The version the facts quote is the one checked here.
    assert f"({policy['DefaultVersionId']})" in prose(FACTS.read_text(), "Cross-account copy to a DR vault")


# ---------------------------------------------------------------- the event feeds' delivery guarantees

# AWS's words each document must quote (docs/aws-facts.md#eventbridge-feed, README "Choosing the event
# feed"): AWS Backup's events are best effort, EventBridge's retries, the rules' metric, SNS's guarantee.
FEED_QUOTES = {
    "AWS Backup's events are best effort (DG)": "AWS Backup emits events to EventBridge in a best-effort manner every 5 minutes.",
    "the events reference's delivery type": "Delivery type: Best effort",
    "what best effort means": "in some rare cases an event might not be delivered",
    "EventBridge's retries": "EventBridge retries sending the event for 24 hours and up to 185 times",
    "the rule's metric": "If RuleName is specified, the number of events that matched with a specific rule.",
    "SNS standard topics' guarantee": "A message is delivered at least once, but occasionally more than one copy of a message is delivered.",
    "the CREATED copy event without its id": "The CREATED example has no `copyJobId`",
}
# What AWS does not say, said as if it did.
FALSE_FEED_CLAIMS = [
    r"AWS Backup[^.|]*\b(?:durabl[ey]|guarantees?|guaranteed)\b",
    r"EventBridge[^.|]*(?:exactly once|never (?:loses|drops))",
]


def feed_problems(readme: str, facts: str) -> list[str]:
    problems = []
    feed = prose(facts, "EventBridge feed") if "## EventBridge feed\n" in facts else ""
    for what, quote in FEED_QUOTES.items():
        if quote not in feed:
            problems.append(f"aws-facts (EventBridge feed) does not quote {what}: {quote!r}")
    if "https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html" not in feed:
        problems.append("aws-facts does not cite the DG's EventBridge page")
    choosing = prose(readme, "Choosing the event feed") if "## Choosing the event feed\n" in readme else ""
    for needed in ("Best effort", "185 times", "delivered at least once", "aws-facts.md#eventbridge-feed"):
        if needed not in choosing:
            problems.append(f"README (Choosing the event feed) does not give {needed!r}")
    for claim in FALSE_FEED_CLAIMS:
        for name, text in (("README", choosing), ("aws-facts", feed)):
            if re.search(claim, text):
                problems.append(f"{name} claims a delivery guarantee AWS does not document ({claim!r})")
    return problems


def test_the_event_feeds_guarantees_are_aws_words_with_their_sources():
    assert feed_problems(README.read_text(), FACTS.read_text()) == []


# ---------------------------------------------------------------- each check can fail

BEFORE_README = """## Choosing the event feed

`eventbridge` is the reliable feed: AWS Backup guarantees its events reach EventBridge, exactly once.

## Deploy to an organization

- **No SAM transform.** Service-managed StackSets run no macros, `AWS::Serverless` included, whatever
  the capabilities (`CAPABILITY_AUTO_EXPAND` does not help): they take the template as CloudFormation
  processes it.

**Create the StackSet and its stacks.** The operation preferences set how many accounts at once and how
many failures stop a region; auto-deployment ignores them.

- **The alarms stay on the stack's topic.** A CloudWatch alarm publishes as the service principal.

## Central DR account

3. **The backup role's KMS grants** (`BackupRoleArn` and `PassableRoleArns`): it must be allowed to
   use the source keys.
4. **Where copies may go.**

| `BackupRoleArn` | (required) | IAM role AWS Backup assumes to copy. |
| `PassableRoleArns` | (empty) | Further roles the functions may pass to AWS Backup. |
"""

BEFORE_FACTS = """## EventBridge feed

- **Delivery.** AWS Backup delivers its events to EventBridge durably, at least once, and EventBridge
  never loses them.

## Organization alert topic

- **`aws:PrincipalOrgID`**: the topic and key policies admit the organization's IAM principals (the
  member stacks' function roles); a member account's CloudWatch alarms (`cloudwatch.amazonaws.com`)
  cannot publish to the central topic.

## Cross-account copy to a DR vault

- **The vault access policy**: KC access-denied: "you must allow the backup:CopyIntoBackupVault action
  on your destination backup vault access policy".

## StackSets

Sources: **CloudFormation API model**, botocore 1.43.127.

- **Transforms (macros) and `--capabilities`.** "StackSets with service-managed permissions don't
  currently support the use of macros in templates." → `template.yaml` cannot be a service-managed
  StackSet's template, with or without `CAPABILITY_AUTO_EXPAND`; its processed form can.
- **Operation preferences.** `ConcurrencyMode` `STRICT_FAILURE_TOLERANCE` (the default; lowers
  concurrency as failures come) or `SOFT_FAILURE_TOLERANCE`.
"""


@pytest.mark.parametrize("check,expected", [
    (stackset_problems, "says a service-managed StackSet cannot take the SAM transform"),
    (stackset_problems, "does not name the custom execution role route (ExecutionRoleTemplate)"),
    (stackset_problems, "cites no botocore version with ExecutionRoleTemplateBody"),
    (concurrency_problems, "does not quote MaxConcurrentCount's limit"),
    (concurrency_problems, "README does not say that concurrency is at most the failure tolerance + 1"),
    (alarm_problems, "says member accounts' alarms cannot publish to the central topic"),
    (alarm_problems, "README says the alarms stay on the stack's topic"),
    (alarm_problems, "lacks SNS's cross-account alarm example"),
    (copy_role_problems, "does not quote the KC"),
    (copy_role_problems, "README Central DR account does not ask the backup role"),
    (copy_role_problems, "README's PassableRoleArns row does not say"),
    (feed_problems, "does not quote AWS Backup's events are best effort"),
    (feed_problems, "does not quote EventBridge's retries"),
    (feed_problems, "README (Choosing the event feed) does not give 'Best effort'"),
    (feed_problems, "README claims a delivery guarantee AWS does not document"),
    (feed_problems, "aws-facts claims a delivery guarantee AWS does not document"),
], ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_each_check_reports_the_wording_the_documents_had_before(check, expected):
    problems = check(BEFORE_README, BEFORE_FACTS)
    assert any(expected in p for p in problems), problems
