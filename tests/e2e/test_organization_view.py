"""The organization view end to end: the stand-in serves three member accounts in two regions (and
an account outside the organization); from the management account, `vaultwatch coverage
--organization` and the reconciler with ORGANIZATION_VIEW report each member's coverage per region,
read-only, and the reconciler writes the organization's totals and (detailed) per-account metrics."""

import json

import pytest

from harness.config import ACCOUNT
from harness.stack import LocalAws

# The stack's own account is the organization's management account.
MANAGEMENT = ACCOUNT
PAYMENTS, SEARCH, LEGACY, OUTSIDER = "111111111111", "222222222222", "333333333333", "555555555555"
DR_ACCOUNT = "444444444444"
CENTRAL_DR = f"arn:aws:backup:us-west-2:{DR_ACCOUNT}:backup-vault:central-dr"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture(scope="module")
def organization():
    env = {"ORGANIZATION_VIEW": "true", "ORGANIZATION_REQUIRED_DESTINATIONS": CENTRAL_DR}
    # Detailed: the per-account metrics too (essential writes the organization's totals only).
    with LocalAws(reconciler_env=env, metrics_detail="detailed") as stack:
        stack.backup.set_organization(MANAGEMENT, members=[PAYMENTS, SEARCH, LEGACY, DR_ACCOUNT])
        stack.backup.create_vault("central-dr", region="us-west-2", account=DR_ACCOUNT)
        for account, region in [(PAYMENTS, "us-east-1"), (PAYMENTS, "eu-west-1"), (SEARCH, "us-east-1"),
                                (LEGACY, "eu-west-1"), (OUTSIDER, "us-east-1")]:
            stack.backup.create_vault("app", region=region, account=account)
        # payments: copied in us-east-1, one copy still running in eu-west-1.
        stack.backup.bulk("app", 2, account=PAYMENTS, region="us-east-1", destinations=[CENTRAL_DR], states={"COMPLETED": 1})
        stack.backup.bulk("app", 1, account=PAYMENTS, region="eu-west-1", destinations=[CENTRAL_DR], states={"RUNNING": 1})
        # search: one failed copy, one backup never copied.
        stack.backup.bulk("app", 1, account=SEARCH, region="us-east-1", destinations=[CENTRAL_DR], states={"FAILED": 1},
                   statusMessage="Access denied: the IAM role cannot use KMS key")
        stack.backup.bulk("app", 1, account=SEARCH, region="us-east-1")
        # legacy: copied, in eu-west-1 only.
        stack.backup.bulk("app", 3, account=LEGACY, region="eu-west-1", destinations=[CENTRAL_DR], states={"COMPLETED": 1})
        # Not in the organization: never listed.
        stack.backup.bulk("app", 2, account=OUTSIDER, region="us-east-1")
        yield stack


def per_account(report: dict) -> dict:
    return {(a["account"], a["region"]): (sum(a["byStatus"].get(s, 0) for s in ("copying", "retrying", "failed", "missing")),
                                          a["failedChains"]) for a in report["accounts"]}


def test_the_management_account_sees_every_member_in_every_region(organization):
    run = organization.vaultwatch("coverage", "--organization", "--since", "1d", "--require-copy-to", CENTRAL_DR,
                                  *[arg for region in REGIONS for arg in ("--region", region)], "--format", "json")
    assert run.returncode == 1, run.stderr  # something is uncovered
    report = json.loads(run.stdout)
    assert per_account(report) == {
        (PAYMENTS, "us-east-1"): (0, 0),
        (PAYMENTS, "eu-west-1"): (1, 0),
        (SEARCH, "us-east-1"): (2, 1),
        (LEGACY, "eu-west-1"): (0, 0),
    }
    statuses = sorted((row["sourceVaultArn"].split(":")[4], row["status"]) for row in report["rows"])
    assert statuses == sorted([(PAYMENTS, "covered")] * 2 + [(PAYMENTS, "copying"), (SEARCH, "failed"),
                                                           (SEARCH, "missing")] + [(LEGACY, "covered")] * 3)
    assert all(row["destination"] == CENTRAL_DR for row in report["rows"])
    # AWS's own counts (ListCopyJobSummaries, AccountId ANY) beside vaultwatch's rows.
    aws = {(a["account"], a["region"]): a["awsFailedCopyJobs"] for a in report["accounts"]}
    assert aws == {(PAYMENTS, "us-east-1"): 0, (PAYMENTS, "eu-west-1"): 0, (SEARCH, "us-east-1"): 1, (LEGACY, "eu-west-1"): 0}
    calls = organization.backup.calls()
    assert calls.get("StartCopyJob", 0) == 0, "read-only"


def test_aws_counts_are_left_out_over_a_window_longer_than_its_14_days_of_summaries(organization):
    before = organization.backup.calls().get("ListCopyJobSummaries", 0)
    run = organization.vaultwatch("coverage", "--organization", "--since", "20d", "--require-copy-to", CENTRAL_DR,
                                  "--region", "us-east-1", "--format", "json")
    report = json.loads(run.stdout)
    assert {a["account"] for a in report["accounts"]} == {PAYMENTS, SEARCH}, run.stderr
    assert all("awsFailedCopyJobs" not in a for a in report["accounts"]), "a 14-day count would be short of 20 days"
    assert organization.backup.calls().get("ListCopyJobSummaries", 0) == before, "not asked"


def test_the_table_leads_with_account_and_region(organization):
    run = organization.vaultwatch("coverage", "--organization", "--since", "1d", "--region", "eu-west-1")
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["account", "region", "recovery_point"], run.stdout
    assert f"account {LEGACY} in eu-west-1: 0 uncovered, 0 failed chains" in run.stdout
    assert SEARCH not in run.stdout, "us-east-1 was not asked for"


def test_a_member_account_may_not_look_at_the_organization(organization):
    run = organization.vaultwatch("coverage", "--organization", "--since", "1d", account=SEARCH)
    assert run.returncode == 3, (run.returncode, run.stdout)
    assert "AccessDeniedException" in run.stderr and run.stdout == ""


def test_the_management_accounts_reconciler_measures_each_member(organization):
    summary = organization.delivery.reconcile().payload
    accounts = {a["account"]: (a["region"], a["failedChains"]) for a in summary["organization"]["accounts"]}
    assert accounts == {PAYMENTS: ("us-east-1", 0), SEARCH: ("us-east-1", 1)}, "its own region only"
    assert organization.queries.metric_totals("reconciler", "FailedCopyChains", AccountId=SEARCH) == 1
    assert organization.queries.metric_totals("reconciler", "UncoveredRecoveryPoints", AccountId=SEARCH) == 2
    assert organization.queries.metric_totals("reconciler", "UncoveredRecoveryPoints", AccountId=PAYMENTS) == 0
    assert not any(d.get("AccountId") == PAYMENTS for d in organization.queries.emf_documents()), \
        "nothing to say about an account with everything covered"
    assert organization.queries.metric_totals("reconciler", "FailedCopyChains", AccountId=OUTSIDER) == 0
    # The organization's totals in this region, over its members.
    assert organization.queries.metric_totals("reconciler", "OrganizationUncoveredRecoveryPoints") == 2
    assert organization.queries.metric_totals("reconciler", "OrganizationFailedCopyChains") == 1
    assert any("OrganizationOldestUncoveredAgeSeconds" in d for d in organization.queries.emf_documents()), \
        "a lag: something waits"
    assert organization.queries.peek_alerts() == [] and organization.backup.calls().get("StartCopyJob", 0) == 0
