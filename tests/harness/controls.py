"""AWS Backup's side of a story: the stand-in's /_standin/ controls (documented in
tests/standin/backup_standin.py), and vaults created through the API as an operator would."""

from __future__ import annotations

import json
import urllib.request

from harness.config import REGION

# The vault events vaultwatch needs (what `vaultwatch notifications` sets up).
VAULT_EVENTS = ["BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"]


class StandInControls:
    """Part of LocalStack: driving the AWS Backup stand-in."""

    def standin(self, path: str, body: dict | None = None) -> dict:
        """POSTs `body` to the control endpoint /_standin/`path`; returns its answer."""
        request = urllib.request.Request(
            f"{self.backup_url}/_standin/{path}", data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def create_vault(self, name: str, region: str = REGION, notify: bool = True) -> str:
        backup = self.client("backup", region)
        arn = backup.create_backup_vault(BackupVaultName=name)["BackupVaultArn"]
        if notify:
            backup.put_backup_vault_notifications(BackupVaultName=name, SNSTopicArn=self.vault_topic, BackupVaultEvents=VAULT_EVENTS)
        return arn

    def complete_backup(self, vault: str, resource: str, resource_type: str = "EBS", **extra) -> dict:
        return self.standin("backup-jobs", {"vault": vault, "resourceArn": resource, "resourceType": resource_type, **extra})

    def complete_composite_backup(self, vault: str, resource: str, children=2, resource_type: str = "CloudFormation", **extra) -> dict:
        """A composite backup: the parent job (IsParent) with "ChildJobs". `children` is a count or a
        list of {"resourceArn"?, "resourceType"?, "compositeMemberIdentifier"?} (identifiers
        default to Member1..N)."""
        return self.complete_backup(vault, resource, resource_type, composite={"children": children}, **extra)

    def advance(self) -> list[dict]:
        """Runs every unfinished copy job to its end; returns the jobs that moved."""
        return self.standin("advance")["moved"]

    def fail_next_copy(self, recovery_point: str, message: str, count: int = 1, destination: str | None = None) -> None:
        rule = {"recoveryPointArn": recovery_point, "statusMessage": message, "count": count}
        if destination:
            rule["destinationVaultArn"] = destination
        self.standin("faults", {"failCopies": [rule]})

    def fail_copies(self, message: str, count: int = 1, category: str | None = None, **match) -> None:
        """Fails the next `count` copy jobs matching `match` (recoveryPointArn, destinationVaultArn,
        compositeMemberIdentifier, childIndex) with `message` and MessageCategory `category`
        (derived from the message when None)."""
        rule = {"statusMessage": message, "count": count, **match}
        if category:
            rule["messageCategory"] = category
        self.standin("faults", {"failCopies": [rule]})

    def set_recovery_point(self, recovery_point: str, **fields) -> dict:
        """storageClass, status (None clears an override), lifecycle, creationDate (epoch),
        calculatedLifecycle. Returns the point as DescribeRecoveryPoint describes it."""
        return self.standin("recovery-points/set", {"recoveryPointArn": recovery_point, **fields})

    def recovery_point(self, recovery_point: str) -> dict:
        """DescribeRecoveryPoint's body for the point, without an API call counted."""
        return self.standin("recovery-points/get", {"recoveryPointArn": recovery_point})

    def set_passable_roles(self, roles: list[str] | None) -> None:
        """Roles the functions may pass (iam:PassRole); None: every role (the default)."""
        self.standin("passable-roles", {"roles": roles})

    def seed_vault_notifications(self, vault: str, events: list[str], topic: str | None = None, region: str = REGION) -> None:
        """A notification configuration as an old vault has it, deprecated events included
        (PutBackupVaultNotifications refuses those now)."""
        self.standin("vault-notifications/set-raw", {
            "vault": vault, "region": region, "SNSTopicArn": topic or self.vault_topic, "BackupVaultEvents": events})

    def transition_copy_job(self, copy_job_id: str, state: str, message: str | None = None, category: str | None = None) -> dict:
        body = {"state": state}
        if message:
            body["statusMessage"] = message
        if category:
            body["messageCategory"] = category
        return self.standin(f"copy-jobs/{copy_job_id}/transition", body)

    def corrupt_next_response(self, operation: str, merge: dict, count: int = 1) -> None:
        """Test-only: the next `count` responses of `operation` get `merge` deep-merged in; the
        stand-in's response check then answers 500 StandInModelViolation."""
        self.standin("corrupt-response", {"operation": operation, "merge": merge, "count": count})

    def calls(self) -> dict:
        """AWS Backup API calls so far, by operation."""
        return self.standin("calls")["calls"]

    def published(self) -> list[dict]:
        """Every vault notification the stand-in published (topic, subject, message, attributes)."""
        return self.standin("published")["published"]
