"""What the local stack stands for: one account and region, test credentials, the backup role,
and the functions template.yaml declares; and how one is set up (Settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
# The routes of the end-to-end tests and the burst benchmark: vault `routed` copies to two regions.
DR_VAULT = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
EU_VAULT = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:eu-archive"
ROUTES = [
    {"sourceVault": "routed", "destinationVaultArn": DR_VAULT,
     "lifecycle": {"moveToColdStorageAfterDays": 30, "deleteAfterDays": 365}},
    {"sourceVault": "routed", "destinationVaultArn": EU_VAULT, "resourceTypes": ["EBS"]},
]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
# Function name -> (binary, template logical id)
FUNCTIONS = {
    "copier": ("cross-region-copier", "CrossRegionCopierFunction"),
    "tracker": ("copy-job-tracker", "CopyJobTrackerFunction"),
    "retrier": ("copy-job-retrier", "CopyJobRetrierFunction"),
}
# The reconciler's ListCopyJobs page size (RECONCILE_PAGE_SIZE): the API's largest.
RECONCILE_PAGE_SIZE = 1000
# The template's default AllowedCopyTargets: this account's vaults in any region.
COPY_TARGETS = f"arn:aws:backup:*:{ACCOUNT}:backup-vault:*"
# Scheduled functions: no subscription, invoked by an EventBridge schedule.
SCHEDULED = {"reconciler": ("copy-job-reconciler", "CopyJobReconcilerFunction")}


@dataclass
class Settings:
    """How a LocalAws is set up (harness.stack): the template's parameters it stands in for, and how
    the harness runs and delivers."""

    max_attempts: int = 3
    routes: list = field(default_factory=list)
    binaries: Path = ROOT / "target" / "debug"
    # Further variables of the reconciler (e.g. RECONCILE_STATE).
    reconciler_env: dict = field(default_factory=dict)
    # The alert topic's region: the stack's own, or another, as an organization's topic (the
    # template's AlertTopicArn) may be.
    alert_region: str = REGION
    # The benchmark starts its own function processes.
    start_functions: bool = True
    # Called with each Invocation as it happens (the demo prints its timeline from this).
    on_invocation: Callable | None = None
    # Concurrent delivery (harness.delivery): function -> most concurrent invocations (its execution
    # environments); empty: one invocation at a time. The retry queue's pollers (the event source's
    # MaximumConcurrency) apply with it.
    concurrency: dict = field(default_factory=dict)
    retry_queue_concurrency: int = 1
    # The stand-in's vault notifications straight to the subscriptions, filter policies applied by
    # moto's matcher (harness.sns_direct), instead of through moto's topic and SQS queues.
    direct_notifications: bool = False
    # moto without its per-request costs that emulate nothing, DynamoDB's conditional writes atomic
    # (harness.lean_moto); always so with concurrency.
    lean_moto: bool = False
    # The template's EventSource: "sns" (the vault topic; vaults wired to it), "eventbridge" (the
    # template's rules on moto's default event bus, each delivering to a queue per function, which
    # harness.delivery hands over as Lambda's asynchronous invocation; the stand-in puts AWS Backup's
    # events there; no vault wired), or "both".
    event_source: str = "sns"
    # The copy paths' world (harness.processes.path_servers): moto with AWS's managed IAM policies,
    # the IAM proxy (SimulatePrincipalPolicy, STS), the stand-in reading keys and roles there, and
    # the reconciler's daily path check on, reading them.
    copy_paths: bool = False
    # The template's MetricsDetail (its default: essential), the functions' METRICS_DETAIL.
    metrics_detail: str = "essential"
    # The evidence bucket (template's EvidenceBucket): a moto bucket with versioning and compliance-mode
    # Object Lock, and the reconciler writing its daily snapshots to it.
    evidence: bool = False

    def __post_init__(self):
        if self.event_source not in EVENT_SOURCES:
            raise ValueError(f"event_source {self.event_source!r} is not one of {EVENT_SOURCES}")

    @property
    def sns_feed(self) -> bool:
        return self.event_source in ("sns", "both")

    @property
    def eventbridge_feed(self) -> bool:
        return self.event_source in ("eventbridge", "both")


# The template's EventSource values.
EVENT_SOURCES = ("sns", "eventbridge", "both")
