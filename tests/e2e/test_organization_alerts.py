"""Alerts on an organization's topic in another region (the template's AlertTopicArn,
templates/central-alerts.yaml), end to end through the real binaries: the functions run in
us-east-1 and publish to a topic of eu-west-1. The local SNS (moto), like SNS, finds a topic only
in the region the Publish is sent to, so the alert arrives only if the client publishes in the
topic's region."""

import pytest

from harness.config import REGION
from harness.stack import LocalAws
from test_alerts import alerted_copy

TOPIC_REGION = "eu-west-1"


@pytest.fixture(scope="module")
def organization_stack():
    with LocalAws(max_attempts=1, alert_region=TOPIC_REGION) as stack:
        stack.backup.create_vault("planned")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        yield stack


def test_an_alert_reaches_the_organization_topic_in_another_region(organization_stack, resource):
    stack = organization_stack
    assert stack.resources.alert_topic.split(":")[3] == TOPIC_REGION != REGION
    assert stack.function_env("retrier")["AWS_REGION"] == REGION
    _, job, alert = alerted_copy(stack, resource)
    assert alert["TopicArn"] == stack.resources.alert_topic
    assert alert["MessageAttributes"]["CopyJobId"]["Value"] == job["CopyJobId"]
    assert "failed permanently" in alert["Subject"]
    # Nothing went to the failure destination: the Publish did not fail.
    assert stack.queries.failures() == []
