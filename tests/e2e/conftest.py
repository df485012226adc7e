import uuid

import pytest

from harness.config import ACCOUNT, DR_VAULT, EU_VAULT, ROUTES  # noqa: F401 (the tests import them from here)
from harness.stack import LocalAws



@pytest.fixture(scope="session")
def stack():
    """One local stack for the session: vaults `routed` (copier routes to two regions) and
    `planned` (copies come from a plan rule's CopyAction). Tests use fresh resources each."""
    with LocalAws(max_attempts=3, routes=ROUTES) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("planned")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        yield stack


@pytest.fixture
def resource():
    return f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{uuid.uuid4().hex[:17]}"


@pytest.fixture
def settled(stack):
    """The stack with nothing in flight before and after the test, and nothing in its failure
    destination when it starts. A test takes the failure records it provokes
    (`queries.take_failures()`): one it leaves is an error of that test, not of a later one."""
    stack.delivery.settle()
    stack.queries.take_alerts()  # an earlier test's, not this one's
    stack.queries.take_failures()  # an earlier test's (one that failed before taking them)
    yield stack
    stack.delivery.settle()
    assert stack.queries.failures() == [], "the test left failure records: it takes those it provokes"
