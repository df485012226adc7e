"""The local stack: moto (SNS, SQS, DynamoDB), the AWS Backup stand-in, and the function binaries
(tracker, retrier, copier, and the scheduled reconciler) under a local Lambda Runtime API, wired
the way template.yaml wires them in AWS.

Delivery follows AWS: the vault topic fans out to one subscription per function with the
template's filter policy (moto applies it), each notification reaches its function as an SNSEvent,
a function error is retried twice and then kept in the failure destination (an SQS queue, in
Lambda's destination record format). The retry queue feeds the retrier as SQS events with
ReportBatchItemFailures semantics.

Nothing here waits on the clock: `settle()` delivers until every queue is empty, then lets the
stand-in run the copy jobs that were started, and repeats until nothing moves.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dynamodb_faults import DynamoFaults  # noqa: E402
from lambda_harness import LocalLambda, Outcome  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
# Function name -> (binary, template logical id)
FUNCTIONS = {
    "copier": ("cross-region-copier", "CrossRegionCopierFunction"),
    "tracker": ("copy-job-tracker", "CopyJobTrackerFunction"),
    "retrier": ("copy-job-retrier", "CopyJobRetrierFunction"),
}
# Scheduled functions: no subscription, invoked by an EventBridge schedule.
SCHEDULED = {"reconciler": ("copy-job-reconciler", "CopyJobReconcilerFunction")}
MAX_ROUNDS = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, what: str, timeout: float = 60.0) -> None:
    """Readiness check for a process we started (not test synchronisation)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s")


class CfnLoader(yaml.SafeLoader):
    """Reads template.yaml, keeping CloudFormation short-form tags as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)
))


def template_filter_policies() -> dict[str, dict]:
    """Each function's SNS subscription filter policy, as template.yaml declares it."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    policies = {}
    for name, (_, logical_id) in FUNCTIONS.items():
        events = template["Resources"][logical_id]["Properties"]["Events"]
        sns = [e for e in events.values() if e["Type"] == "SNS"]
        policies[name] = sns[0]["Properties"]["FilterPolicy"]
    return policies


@dataclass
class Invocation:
    function: str
    event: dict
    outcome: Outcome
    attempt: int


@dataclass
class LocalStack:
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
    # The benchmark starts its own function processes.
    start_functions: bool = True
    # Called with each Invocation as it happens (the demo prints its timeline from this).
    on_invocation: object = None

    def start(self) -> "LocalStack":
        self.workdir = Path(tempfile.mkdtemp(prefix="vaultwatch-stack-"))
        self.processes: list[subprocess.Popen] = []
        self.functions: dict[str, LocalLambda] = {}
        self.invocations: list[Invocation] = []
        try:
            self._start_moto()
            # The functions reach DynamoDB through a proxy that can fail chosen writes.
            self.dynamodb_faults = DynamoFaults(self.moto_url)
            self._start_standin()
            self.create_resources()
            if self.start_functions:
                self._start_functions()
        except BaseException:
            self.stop()
            raise
        return self

    # ------------------------------------------------------------------ processes
    def _spawn(self, args: list[str], log_name: str, **kwargs) -> subprocess.Popen:
        log = open(self.workdir / log_name, "ab")
        process = subprocess.Popen(args, stderr=log, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def _start_moto(self) -> None:
        port = free_port()
        moto = Path(sys.executable).parent / "moto_server"
        self._spawn([str(moto), "-H", "127.0.0.1", "-p", str(port)], "moto.log", stdout=subprocess.DEVNULL)
        self.moto_url = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return urllib.request.urlopen(f"{self.moto_url}/moto-api/data.json", timeout=1).status == 200
            except OSError:
                return False

        wait_until(ready, "moto server")

    def _start_standin(self) -> None:
        script = ROOT / "tests" / "standin" / "backup_standin.py"
        process = self._spawn(
            [sys.executable, str(script), "--port", "0", "--sns-endpoint", self.moto_url], "standin.log",
            stdout=subprocess.PIPE, text=True,
        )
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"backup stand-in failed to start: {line!r}")
        self.backup_url = f"http://127.0.0.1:{line.split()[1]}"

    def client(self, service: str, region: str = REGION):
        endpoint = self.backup_url if service == "backup" else self.moto_url
        return boto3.client(
            service, region_name=region, endpoint_url=endpoint,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    # ------------------------------------------------------------------ resources (as in template.yaml)
    def create_resources(self) -> None:
        sns, sqs, dynamodb = self.client("sns"), self.client("sqs"), self.client("dynamodb")
        self.vault_topic = sns.create_topic(Name="backup-vault-events")["TopicArn"]
        self.alert_topic = sns.create_topic(Name="vaultwatch-alerts")["TopicArn"]
        self.table = "vaultwatch-tracking"
        dynamodb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "source_recovery_point_arn", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by-recovery-point",
                "KeySchema": [{"AttributeName": "source_recovery_point_arn", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [
                    "copy_job_id", "state", "destination_vault_arn", "destination_recovery_point_arn"]},
            }],
        )

        def queue(name: str, **attributes) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return url, arn

        self.failure_queue, _ = queue("vaultwatch-failures")
        self.retry_dlq, retry_dlq_arn = queue("vaultwatch-retries-dlq")
        self.retry_queue, _ = queue(
            "vaultwatch-retries",
            RedrivePolicy=json.dumps({"deadLetterTargetArn": retry_dlq_arn, "maxReceiveCount": 5}),
        )
        # One queue per function subscription stands in for SNS's direct Lambda delivery, so the
        # subscription filter policy is applied by SNS (moto) exactly as declared in the template.
        self.subscription_queues = {}
        for name, policy in template_filter_policies().items():
            url, arn = queue(f"sns-to-{name}")
            sns.subscribe(
                TopicArn=self.vault_topic, Protocol="sqs", Endpoint=arn,
                Attributes={"FilterPolicy": json.dumps(policy)},
            )
            self.subscription_queues[name] = url
        self.alert_inbox, alert_inbox_arn = queue("alert-inbox")
        sns.subscribe(TopicArn=self.alert_topic, Protocol="sqs", Endpoint=alert_inbox_arn)

    def function_env(self, name: str) -> dict[str, str]:
        """The environment the template gives function `name`, pointed at the local stack."""
        endpoints = {
            "AWS_ENDPOINT_URL": self.moto_url, "AWS_ENDPOINT_URL_BACKUP": self.backup_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_faults.url,
        }
        common = {
            **CREDENTIALS, **endpoints, "TRACKING_TABLE_NAME": self.table, "RUST_LOG": "info",
            "ALLOWED_TOPIC_ARNS": self.vault_topic, "ALLOWED_ACCOUNT_IDS": ACCOUNT,
            # As the template's Globals: BackupRoleArn, BackupRoleArn + PassableRoleArns, and the
            # default AllowedCopyTargets (this account's vaults in any region).
            "COPY_ROLE_ARN": ROLE, "PASSABLE_ROLE_ARNS": ",".join([ROLE, *self.passable_roles]),
            "COPY_TARGETS": self.copy_targets,
        }
        specific = {
            "copier": {"COPY_ROUTES": json.dumps(self.routes or [{"sourceVault": "unrouted", "destinationVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:none"}]), "COPY_ROLE_ARN": ROLE},
            "tracker": {},
            "retrier": {
                "ALERT_TOPIC_ARN": self.alert_topic, "RETRY_QUEUE_URL": self.retry_queue,
                "MAX_ATTEMPTS": str(self.max_attempts),
                # No waiting in tests: the backoff itself is covered by unit tests.
                "RETRY_BASE_DELAY_SECONDS": "0",
            },
        }
        specific["reconciler"] = {
            **specific["retrier"], "RECONCILE_LOOKBACK_HOURS": "1", "RECONCILE_PAGE_SIZE": str(self.reconcile_page_size),
            "COPY_ROUTES": json.dumps(self.routes), "COPY_ROLE_ARN": ROLE, **self.reconciler_env,
        }
        return {**common, **specific[name]}

    def _start_functions(self) -> None:
        for name, (binary, _) in {**FUNCTIONS, **SCHEDULED}.items():
            path = self.binaries / binary
            if not path.exists():
                raise RuntimeError(f"{path} not found: run `cargo build --bins` first")
            timeout = 300.0 if name in SCHEDULED else 30.0
            function = LocalLambda(name, str(path), self.function_env(name), str(self.workdir / f"{name}.log"), timeout)
            self.functions[name] = function
            function.start()

    def stop(self) -> None:
        for function in getattr(self, "functions", {}).values():
            function.stop()
        if getattr(self, "dynamodb_faults", None):
            self.dynamodb_faults.stop()
        for process in getattr(self, "processes", []):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ the AWS Backup stand-in
    def standin(self, path: str, body: dict | None = None) -> dict:
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
            backup.put_backup_vault_notifications(
                BackupVaultName=name, SNSTopicArn=self.vault_topic,
                BackupVaultEvents=["BACKUP_JOB_COMPLETED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED"],
            )
        return arn

    def complete_backup(self, vault: str, resource: str, resource_type: str = "EBS", **extra) -> dict:
        return self.standin("backup-jobs", {"vault": vault, "resourceArn": resource, "resourceType": resource_type, **extra})

    def fail_next_copy(self, recovery_point: str, message: str, count: int = 1, destination: str | None = None) -> None:
        rule = {"recoveryPointArn": recovery_point, "statusMessage": message, "count": count}
        if destination:
            rule["destinationVaultArn"] = destination
        self.standin("faults", {"failCopies": [rule]})

    def copy_jobs(self, **filters) -> list[dict]:
        backup = self.client("backup")
        jobs, token = [], None
        while True:
            page = backup.list_copy_jobs(**filters, **({"NextToken": token} if token else {}))
            jobs += page["CopyJobs"]
            token = page.get("NextToken")
            if not token:
                return jobs

    # ------------------------------------------------------------------ delivery
    def _receive(self, url: str) -> list[dict]:
        return self.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"],
        ).get("Messages", [])

    @staticmethod
    def sns_event(message: dict) -> dict:
        """The SNSEvent Lambda builds from an SNS notification (SQS carries SNS's JSON envelope)."""
        envelope = json.loads(message["Body"])
        return {"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
            "Sns": {
                "Type": envelope["Type"],
                "MessageId": envelope["MessageId"],
                "TopicArn": envelope["TopicArn"],
                "Subject": envelope.get("Subject"),
                "Message": envelope["Message"],
                "Timestamp": envelope["Timestamp"],
                "SignatureVersion": envelope.get("SignatureVersion", "1"),
                "Signature": envelope.get("Signature", "EXAMPLE"),
                "SigningCertUrl": envelope.get("SigningCertURL", ""),
                "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                "MessageAttributes": envelope.get("MessageAttributes", {}),
            },
        }]}

    def invoke_async(self, name: str, event: dict) -> Outcome:
        """Lambda's asynchronous invocation: up to 3 attempts, then the failure destination."""
        function = self.functions[name]
        for attempt in range(1, 4):
            outcome = function.invoke(event)
            self._record(Invocation(name, event, outcome, attempt))
            if outcome.ok:
                return outcome
        self.client("sqs").send_message(QueueUrl=self.failure_queue, MessageBody=json.dumps({
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": outcome.request_id, "functionArn": f"{function.arn}:$LATEST",
                "condition": "RetriesExhausted", "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": outcome.payload,
        }))
        return outcome

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        if self.on_invocation:
            self.on_invocation(invocation)

    def _deliver_retries(self) -> int:
        messages = self._receive(self.retry_queue)
        if not messages:
            return 0
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:vaultwatch-retries",
            "awsRegion": REGION,
        } for m in messages]}
        outcome = self.functions["retrier"].invoke(event)
        self._record(Invocation("retrier", event, outcome, 1))
        failed = {f["itemIdentifier"] for f in outcome.payload.get("batchItemFailures", [])} if outcome.ok else {m["MessageId"] for m in messages}
        sqs = self.client("sqs")
        for message in messages:
            if message["MessageId"] in failed:
                # Visible again at once (no waiting in tests); SQS's redrive policy counts receives.
                sqs.change_message_visibility(QueueUrl=self.retry_queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=self.retry_queue, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def deliver(self) -> int:
        """One pass over every subscription queue and the retry queue. Returns messages handled."""
        handled = 0
        sqs = self.client("sqs")
        for name, url in self.subscription_queues.items():
            messages = self._receive(url)
            for message in messages:
                for _ in range(self.duplicate_deliveries):
                    self.invoke_async(name, self.sns_event(message))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled + self._deliver_retries()

    def drain(self) -> None:
        """Delivers until every queue is empty, without running any copy job."""
        for _ in range(MAX_ROUNDS):
            if not self.deliver():
                return
        raise RuntimeError("queues did not drain: a delivery loop that never ends")

    def settle(self) -> None:
        """Delivers everything, runs the started copy jobs to their end, and repeats until quiet."""
        for _ in range(MAX_ROUNDS):
            self.drain()
            if not self.standin("advance")["moved"]:
                return
        raise RuntimeError("the system did not settle")

    def reconcile(self) -> Outcome:
        """One scheduled run of the reconciler, with the event EventBridge sends."""
        event = scheduled_event()
        outcome = self.functions["reconciler"].invoke(event)
        self._record(Invocation("reconciler", event, outcome, 1))
        return outcome

    def track(self, jobs: list[dict]) -> None:
        """Writes what the event path would have recorded for `jobs` (ListCopyJobs items), details
        included, failures handled: directly, in batches, since moto takes ~10 ms a conditional
        write and seeding thousands of records is not what a test or benchmark is about."""
        dynamodb = self.client("dynamodb")
        rank = {"CREATED": 0, "RUNNING": 1, "COMPLETED": 2, "FAILED": 2}
        items = []
        for job in jobs:
            item = {
                "pk": {"S": f"copy#{job['CopyJobId']}"}, "item_type": {"S": "copy_job"},
                "copy_job_id": {"S": job["CopyJobId"]}, "state": {"S": job["State"]},
                "state_rank": {"N": str(rank[job["State"]])},
                "source_recovery_point_arn": {"S": job["SourceRecoveryPointArn"]},
                "source_vault_arn": {"S": job["SourceBackupVaultArn"]},
                "destination_vault_arn": {"S": job["DestinationBackupVaultArn"]},
                "resource_arn": {"S": job["ResourceArn"]}, "resource_type": {"S": job["ResourceType"]},
            }
            if job.get("DestinationRecoveryPointArn"):
                item["destination_recovery_point_arn"] = {"S": job["DestinationRecoveryPointArn"]}
            if job["State"] == "FAILED":
                item["failure_claim"] = {"S": "done"}
            items.append({"PutRequest": {"Item": item}})
        for start in range(0, len(items), 25):
            dynamodb.batch_write_item(RequestItems={self.table: items[start:start + 25]})

    # ------------------------------------------------------------------ reading results
    def alerts(self) -> list[dict]:
        sqs = self.client("sqs")
        alerts = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.alert_inbox, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return alerts
            for message in messages:
                alerts.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.alert_inbox, ReceiptHandle=message["ReceiptHandle"])

    def failures(self) -> list[dict]:
        messages = self.client("sqs").receive_message(QueueUrl=self.failure_queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def table_items(self) -> list[dict]:
        dynamodb = self.client("dynamodb")
        items, start = [], None
        while True:
            page = dynamodb.scan(TableName=self.table, **({"ExclusiveStartKey": start} if start else {}))
            items += [plain(item) for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def copy_record(self, copy_job_id: str) -> dict | None:
        item = self.client("dynamodb").get_item(TableName=self.table, Key={"pk": {"S": f"copy#{copy_job_id}"}}).get("Item")
        return plain(item) if item else None

    def copies_of(self, recovery_point: str) -> list[tuple[str, str]]:
        """(destination vault, state) of each tracked copy of a recovery point, sorted: the
        by-recovery-point index, queried as an operator would."""
        page = self.client("dynamodb").query(
            TableName=self.table, IndexName="by-recovery-point",
            KeyConditionExpression="source_recovery_point_arn = :rp",
            ExpressionAttributeValues={":rp": {"S": recovery_point}},
        )
        return sorted((item["destination_vault_arn"], item["state"]) for item in map(plain, page["Items"]))

    def calls(self) -> dict:
        return self.standin("calls")["calls"]

    # --- stand-in controls (AWS Backup semantics)
    # Wrappers of the stand-in's /_standin/ endpoints (tests/standin/backup_standin.py docstring).
    def complete_composite_backup(self, vault: str, resource: str, children=2, resource_type: str = "CloudFormation", **extra) -> dict:
        """A composite backup: the parent job (IsParent) with "ChildJobs". `children` is a count or a
        list of {"resourceArn"?, "resourceType"?, "compositeMemberIdentifier"?} (identifiers
        default to Member1..N)."""
        return self.complete_backup(vault, resource, resource_type, composite={"children": children}, **extra)

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

    def published(self) -> list[dict]:
        """Every vault notification the stand-in published (topic, subject, message, attributes)."""
        return self.standin("published")["published"]


def scheduled_event() -> dict:
    """The event an EventBridge schedule sends (the reconciler ignores its content)."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/vaultwatch-sweep"], "detail": {},
    }


def plain(item: dict) -> dict:
    """A DynamoDB item as plain Python values."""
    out = {}
    for name, value in item.items():
        (kind, raw), = value.items()
        out[name] = int(raw) if kind == "N" else set(raw) if kind == "SS" else raw
    return out


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
