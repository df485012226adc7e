"""The stand-in's one shared state: every vault, plan, recovery point and job, the counters, the
organization, the faults and quotas, under one lock; and what every operation group needs of it
(a vault by name or ARN, publishing a vault notification, invalidating listings)."""

from __future__ import annotations

import threading
from collections import Counter

from standin.accounts import Organization, caller_account
from standin.common import ACCOUNT, VAULT_ARN, iso, not_found
from standin.faults import Faults
from standin.quotas import Quotas

def moto_account(account: str):
    """A botocore before-sign hook: the request acts in `account` in moto."""
    def hook(request, **_):
        request.headers["x-moto-account-id"] = account
    return hook


class BackupState:
    """The service state. All access under one lock; SNS publishing happens outside it."""

    def __init__(self, sns_endpoint: str | None, *, kms_endpoint: str | None = None, iam_endpoint: str | None = None,
                 strict_paths: bool = False, events_endpoint: str | None = None):
        self.lock = threading.RLock()
        self.sns_endpoint = sns_endpoint
        # Where AWS Backup's EventBridge events go (standin.events): moto's EventBridge; None: nowhere.
        self.events_endpoint = events_endpoint
        # Above 0 while a control makes jobs the event path never sees (bulk): no EventBridge event.
        self.events_muted = 0
        self._sns = {}
        # Where the copy paths' deciders read keys and roles (moto); None: every key and role is
        # usable (standin.paths). strict_paths: AWS's defaults enforced from the start (and after reset).
        self.endpoints = {"kms": kms_endpoint, "iam": iam_endpoint}
        self._aws_clients: dict[tuple[str, str, str], object] = {}
        self.strict_default = strict_paths
        self.faults = Faults()
        self.quotas = Quotas()
        self.version = 0  # bumped by changed()
        self.reset()

    def reset(self):
        with self.lock:
            self.vaults: dict[tuple[str, str, str], dict] = {}  # (account, region, name) -> vault
            self.recovery_points: dict[str, dict] = {}  # arn -> point (see recovery_points.new_point)
            self.backup_jobs: dict[str, dict] = {}  # id -> DescribeBackupJobOutput members
            self.copy_jobs: dict[str, dict] = {}  # id -> CopyJob members
            self.copy_order: list[str] = []
            self.children: dict[str, list[str]] = {}  # parent copy job id -> child ids, in order
            # AWS Backup's own copies of temporary recovery points into logically air-gapped vaults:
            # their source is deleted once they complete (DELETE_AFTER_COPY).
            self.system_copies: set[str] = set()
            self.tokens: dict[str, tuple[str, str]] = {}
            self.plans: dict[str, dict] = {}  # plan id -> {"versions": {version: plan}, "latest": version}
            self.calls = Counter()
            self.copy_starts = Counter()  # StartCopyJob calls by RecoveryPointArn
            self.published: list[dict] = []
            self.passable_roles: set[str] | None = None  # None: every role may be passed
            self.corruptions: list[dict] = []  # test-only response corruption {"operation", "merge", "count"}
            self.organization = Organization()  # none: every account sees only its own jobs
            self.strict_paths = self.strict_default  # standin.paths: AWS's defaults enforced too
            self.faults.reset()
            self.quotas.reset()
            # The jobs a listing selects (see listings.selection), reused by its next pages until changed().
            self.listings: dict[tuple, list[dict]] = {}
            self.listed_version = self.version
            self.changed()

    def changed(self) -> None:
        """Called under the lock by whatever adds a job or changes one (once per hold of the lock
        is enough: a listing takes it too): the selections of listings made before are stale."""
        self.version += 1

    # ------------------------------------------------------------------ notifications
    def sns(self, region: str):
        if region not in self._sns:
            import boto3  # only needed when publishing

            self._sns[region] = boto3.client(
                "sns", region_name=region, endpoint_url=self.sns_endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
        return self._sns[region]

    def notify(self, vault: dict, vault_event: str, event_type: str, state: str, job_id: str, start: float, text: str):
        """Publishes a vault notification if the vault is configured for `vault_event`."""
        config = vault.get("notifications")
        if not config or vault_event not in config["BackupVaultEvents"]:
            return
        topic = config["SNSTopicArn"]
        attributes = {
            "EventType": event_type, "State": state, "AccountId": vault.get("account", ACCOUNT), "Id": job_id,
            "StartTime": iso(start),
        }
        record = {"topic": topic, "subject": "Notification from AWS Backup", "message": text, "attributes": attributes}
        with self.lock:
            self.published.append(record)
        if self.sns_endpoint:
            self.sns(topic.split(":")[3]).publish(
                TopicArn=topic, Subject=record["subject"], Message=text,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )

    def aws_client(self, service: str, region: str, account: str | None, endpoint: str | None = None):
        """A client of `service` ("kms", "iam", "events") at its endpoint (`endpoint`, else the one
        configured for it), acting as `account` (moto's header x-moto-account-id names the account a
        request acts in), or None without an endpoint."""
        endpoint = endpoint or self.endpoints.get(service)
        if not endpoint:
            return None
        key = (service, region, account or ACCOUNT)
        client = self._aws_clients.get(key)
        if client is None:
            import boto3  # only needed with an endpoint

            client = boto3.client(service, region_name=region, endpoint_url=endpoint,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            client.meta.events.register("before-sign.*.*", moto_account(account or ACCOUNT))
            self._aws_clients[key] = client
        return client

    # ------------------------------------------------------------------ helpers
    def vault(self, region: str, name: str, context: str, account: str | None = None) -> dict:
        """A vault of `account` (the caller's when None) in `region`, by name."""
        vault = self.vaults.get((account or caller_account(), region, name))
        if vault is None:
            raise not_found(f"Backup vault {name} does not exist in {region}", context)
        return vault

    def vault_by_arn(self, arn: str) -> dict | None:
        match = VAULT_ARN.match(arn or "")
        return match and self.vaults.get((match.group(2), match.group(1), match.group(3)))
