"""Delivery as AWS does it. The vault topic fans out to one subscription per function with the
template's filter policy (moto applies it); each notification reaches its function as an SNSEvent;
a function error is retried twice and then kept in the failure destination (an SQS queue, in
Lambda's destination record format). The retry queue feeds the retrier as SQS events with
ReportBatchItemFailures semantics.

Nothing here waits on the clock: `settle()` delivers until every queue is empty, then lets the
stand-in run the copy jobs that were started, and repeats until nothing moves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.events import failure_record, scheduled_event, sns_event, sqs_event
from harness.lambda_runtime import Outcome

MAX_ROUNDS = 500
# Lambda's asynchronous invocation: the first attempt and two retries.
ASYNC_ATTEMPTS = 3


@dataclass
class Invocation:
    function: str
    event: dict
    outcome: Outcome
    attempt: int


class Delivery:
    """Part of LocalStack: events to the functions, until the system is quiet."""

    def invoke_async(self, name: str, event: dict) -> Outcome:
        """Lambda's asynchronous invocation: up to 3 attempts, then the failure destination."""
        function = self.functions[name]
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            outcome = function.invoke(event)
            self._record(Invocation(name, event, outcome, attempt))
            if outcome.ok:
                return outcome
        record = failure_record(event, function.arn, outcome.request_id, outcome.payload, ASYNC_ATTEMPTS)
        self.client("sqs").send_message(QueueUrl=self.failure_queue, MessageBody=json.dumps(record))
        return outcome

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        if self.on_invocation:
            self.on_invocation(invocation)

    def _receive(self, url: str) -> list[dict]:
        return self.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"],
        ).get("Messages", [])

    def _deliver_retries(self) -> int:
        messages = self._receive(self.retry_queue)
        if not messages:
            return 0
        event = sqs_event(messages, "vaultwatch-retries")
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
                    self.invoke_async(name, sns_event(message))
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
            if not self.advance():
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
