"""AWS Backup's side of a story: the stand-in's /_standin/ controls (documented in
tests/standin/controls.py), and vaults created through the API as an operator would."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING

import boto3

from harness.config import ACCOUNT, REGION

if TYPE_CHECKING:
    from harness.processes import Endpoints
    from harness.resources import Resources

# The vault events vaultwatch needs (what `vaultwatch notifications` sets up).
VAULT_EVENTS = ["BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"]


class StandIn:
    """Driving the AWS Backup stand-in: its controls, and its API as an operator would call it."""

    def __init__(self, endpoints: Endpoints, resources: Resources):
        self.endpoints, self.resources = endpoints, resources

    def control(self, path: str, body: dict | None = None) -> dict:
        """POSTs `body` to the control endpoint /_standin/`path`; returns its answer."""
        request = urllib.request.Request(
            f"{self.endpoints.backup_url}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def backup_client(self, region: str = REGION, account: str | None = None):
        """An AWS Backup client acting as `account` (the stand-in takes a 12-digit access key id for
        the caller's account, as moto does); the stack's own account when None."""
        if account is None or account == ACCOUNT:
            return self.endpoints.client("backup", region)
        return boto3.client("backup", region_name=region, endpoint_url=self.endpoints.backup_url,
                            aws_access_key_id=account, aws_secret_access_key="testing")

    def create_vault(self, name: str, region: str = REGION, notify: bool | None = None, account: str | None = None) -> str:
        """A vault of `account` (the stack's own when None), created through the API. Its
        notifications go to the stack's vault topic when `notify` (default: only for the stack's own
        account, another account's vault events are not the stack's, and only with the SNS feed: with
        EventSource eventbridge no vault is wired)."""
        backup = self.backup_client(region, account)
        arn = backup.create_backup_vault(BackupVaultName=name)["BackupVaultArn"]
        if notify is None:
            notify = account in (None, ACCOUNT) and self.resources.settings.sns_feed
        if notify:
            backup.put_backup_vault_notifications(BackupVaultName=name, SNSTopicArn=self.resources.vault_topic, BackupVaultEvents=VAULT_EVENTS)
        return arn

    def complete_backup(self, vault: str, resource: str, resource_type: str = "EBS", account: str | None = None, **extra) -> dict:
        """A backup job in `vault` ends (of `account`, the stack's own when None; `region`, ... in `extra`)."""
        if account is not None:
            extra["account"] = account
        return self.control("backup-jobs", {"vault": vault, "resourceArn": resource, "resourceType": resource_type, **extra})

    def bulk(self, vault: str, count: int, account: str | None = None, **spec) -> dict:
        """`count` completed backups in `vault` (of `account`), with copy jobs to `destinations`
        (see the stand-in's `bulk` control) -> {"backups": n, "copies": n}."""
        if account is not None:
            spec["account"] = account
        return self.control("bulk", {"vault": vault, "count": count, **spec})

    def set_organization(self, management: str, members: list[str]) -> dict:
        """The AWS Organization of the stand-in's accounts: its management account sees every
        member's jobs (delegated administrators: the `organization` control)."""
        return self.control("organization", {"managementAccount": management, "members": list(members)})

    def complete_composite_backup(self, vault: str, resource: str, children=2, resource_type: str = "CloudFormation", **extra) -> dict:
        """A composite backup: the parent job (IsParent) with "ChildJobs". `children` is a count or a
        list of {"resourceArn"?, "resourceType"?, "compositeMemberIdentifier"?} (identifiers
        default to Member1..N)."""
        return self.complete_backup(vault, resource, resource_type, composite={"children": children}, **extra)

    def advance(self) -> list[dict]:
        """Runs every unfinished copy job to its end; returns the jobs that moved."""
        return self.control("advance")["moved"]

    def fail_next_copy(self, recovery_point: str, message: str, destination: str | None = None) -> None:
        rule = {"recoveryPointArn": recovery_point, "statusMessage": message}
        if destination:
            rule["destinationVaultArn"] = destination
        self.control("faults", {"failCopies": [rule]})

    def fail_copies(self, message: str, count: int = 1, category: str | None = None, **match) -> None:
        """Fails the next `count` copy jobs matching `match` (recoveryPointArn, destinationVaultArn,
        compositeMemberIdentifier, childIndex) with `message` and MessageCategory `category`
        (derived from the message when None)."""
        rule = {"statusMessage": message, "count": count, **match}
        if category:
            rule["messageCategory"] = category
        self.control("faults", {"failCopies": [rule]})

    def set_recovery_point(self, recovery_point: str, **fields) -> dict:
        """storageClass, status (None clears an override), lifecycle, creationDate (epoch),
        calculatedLifecycle. Returns the point as DescribeRecoveryPoint describes it."""
        return self.control("recovery-points/set", {"recoveryPointArn": recovery_point, **fields})

    def seed_vault_notifications(self, vault: str, events: list[str]) -> None:
        """A notification configuration as an old vault has it, deprecated events included
        (PutBackupVaultNotifications refuses those now), to the stack's vault topic."""
        self.control("vault-notifications/set-raw", {
            "vault": vault, "SNSTopicArn": self.resources.vault_topic, "BackupVaultEvents": events})

    def set_quotas(self, rates: dict[str, tuple[float, float]] | None = None, per_vault: int | None = None,
                   per_region: int | None = None, on_limit: str = "wait", status_message: str | None = None,
                   message_category: str | None = None, manual_clock: bool = False,
                   per_resource: int | None = 1, cross_account_per_resource: int | None = 30) -> None:
        """AWS Backup's quotas (replacing any set before; no argument removes them all): `rates`
        {operation or "*": (per second, burst)}, throttled beyond with ThrottlingException "Rate
        exceeded"; with a cap per destination region or vault, the concurrent copy quotas as the
        stand-in combines them (a copy starts when its resource runs fewer than `per_resource` jobs,
        or a cross-account copy finds fewer than `cross_account_per_resource` of its resource's to
        the region, and the (account, destination region) has fewer than `per_region` running or,
        that reached, its vault fewer than `per_vault`; None: no such cap), a job not admitted
        waiting in CREATED (`on_limit` "wait"), failing with AWS's limit message ("fail"), or
        StartCopyJob refused with LimitExceededException ("refuse"). Under a cap, `advance()` is
        one step of time. `manual_clock`: rates run on `tick_quota_clock`."""
        spec: dict = {"manualClock": manual_clock}
        if rates:
            spec["rates"] = {op: {"perSecond": per_second, "burst": burst} for op, (per_second, burst) in rates.items()}
        copies = {"perDestinationVault": per_vault, "perDestinationRegion": per_region, "onLimit": on_limit,
                  "statusMessage": status_message, "messageCategory": message_category}
        if per_vault is not None or per_region is not None:
            spec["copyJobs"] = {k: v for k, v in copies.items() if v is not None}
            # An explicit null switches a per-resource cap off (absent: AWS's figure).
            spec["copyJobs"].update(perResource=per_resource, crossAccountPerResourceAndRegion=cross_account_per_resource)
        self.control("quotas", spec)

    def clear_quotas(self) -> None:
        self.control("quotas", {})

    def tick_quota_clock(self, seconds: float) -> float:
        """Moves the quotas' manual clock (set_quotas(manual_clock=True)) forward; returns it."""
        return self.control("quotas/clock", {"advanceSeconds": seconds})["now"]

    def quota_counters(self) -> dict:
        """{"throttled": {op: n}, "peakRunning": {"vaults": {arn: n}, "regions": {"ACCOUNT/region": n},
        "resources": {arn: n}, "crossAccount": {"arn -> region": n}}, "limited": {"refused": n,
        "waited": n, "failed": n}, "limitedBy": {outcome: {cap: n}}} since the last reset."""
        answer = self.control("calls")
        return {key: answer[key] for key in ("throttled", "peakRunning", "limited", "limitedBy")}

    def calls(self) -> dict:
        """AWS Backup API calls so far, by operation."""
        return self.control("calls")["calls"]

    def copy_starts(self) -> dict:
        """StartCopyJob calls so far by RecoveryPointArn (a refused one, or one repeating an
        IdempotencyToken, too)."""
        return self.control("calls")["startCopyJobByRecoveryPoint"]
