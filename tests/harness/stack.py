"""The local stack: moto (SNS, SQS, DynamoDB), the AWS Backup stand-in, and the function binaries
(tracker, retrier, copier, and the scheduled reconciler) under a local Lambda Runtime API, wired
the way template.yaml wires them in AWS.

    with LocalStack(routes=[...]) as stack:
        stack.create_vault("primary")
        stack.complete_backup("primary", "arn:aws:ec2:...:volume/vol-1")
        stack.settle()
        stack.alerts(), stack.table_items(), stack.copy_jobs()

`PYTHONPATH=tests .venv/bin/python -m harness.stack` keeps one up until Ctrl-C.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import ACCOUNT, REGION, ROOT
from harness.controls import StandInControls
from harness.delivery import Delivery
from harness.processes import Processes
from harness.queries import Queries
from harness.resources import Resources


@dataclass
class LocalStack(Processes, Resources, Delivery, Queries, StandInControls):
    """The stack's settings; its methods come from its parts: starting and stopping (processes),
    the template's resources, delivery to the functions, queries of what happened, and the
    stand-in's controls."""

    max_attempts: int = 3
    routes: list = field(default_factory=list)
    binaries: Path = ROOT / "target" / "debug"
    duplicate_deliveries: int = 1
    reconcile_page_size: int = 1000
    # Further variables of the reconciler (e.g. RECONCILE_STATE).
    reconciler_env: dict = field(default_factory=dict)
    # PassableRoleArns and AllowedCopyTargets of the template.
    passable_roles: list = field(default_factory=list)
    copy_targets: str = f"arn:aws:backup:*:{ACCOUNT}:backup-vault:*"
    # The alert topic's region: the stack's own, or another, as an organization's topic (the
    # template's AlertTopicArn) may be.
    alert_region: str = REGION
    # The benchmark starts its own function processes.
    start_functions: bool = True
    # Called with each Invocation as it happens (the demo prints its timeline from this).
    on_invocation: object = None
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


def main() -> None:
    """Starts the stack and keeps it up until Ctrl-C, printing the endpoints to use."""
    import argparse

    parser = argparse.ArgumentParser(description="Run the local vaultwatch stack until Ctrl-C.")
    parser.add_argument("--routes", default="[]", help="COPY_ROUTES JSON for the copier")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with LocalStack(routes=json.loads(args.routes)) as stack:
        print(f"AWS_ENDPOINT_URL={stack.moto_url}")
        print(f"AWS_ENDPOINT_URL_BACKUP={stack.backup_url}")
        print(f"vault topic: {stack.vault_topic}")
        print(f"tracking table: {stack.table}; logs in {stack.workdir}")
        print("Ctrl-C to stop every process.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
