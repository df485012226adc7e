"""Delivery as AWS does it. The vault topic fans out to one subscription per function with the
template's filter policy (moto applies it); each notification reaches its function as an SNSEvent;
a function error is retried twice and then kept in the failure destination (an SQS queue, in
Lambda's destination record format). With the EventBridge feed (Settings.event_source), each of the
template's rules delivers the events moto matched to it to its function the same way, as the event
itself (EventBridge invokes Lambda asynchronously too). The retry queue feeds the retrier as SQS
events with ReportBatchItemFailures semantics.

With both feeds a pass hands over every feed's events in the order `feed_order` says (a test may
change it): "sns-first" (the default), "eventbridge-first", "interleaved" (one of each feed in turn)
or "shuffled:<seed>".

Nothing here waits on the clock: `settle()` delivers until every queue is empty, then lets the
stand-in run the copy jobs that were started, and repeats until nothing moves.

By default one invocation runs at a time, in the order the queues give them (what the end-to-end
tests reason about). With LocalAws(concurrency={function: n}) a pass is concurrent, as Lambda
runs a burst: each function has up to n execution environments (harness.lambda_runtime.LambdaPool)
fed by a worker pool of n, every notification waiting in a subscription is handed to its function's
pool at once (SNS's asynchronous invocation: the message is Lambda's from then on), and the retry
queue is polled by `retry_queue_concurrency` pollers, each taking a batch of up to 10 only when it
can run it (the event source mapping's MaximumConcurrency). A failed asynchronous invocation is
retried in a later pass (Lambda waits a minute, then two: a stack with a simulated clock can hold
it that long), not at once. A pass ends when every invocation it started has ended; a pass that
found nothing to deliver means the system is quiet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.config import Settings
from harness.events import eventbridge_event, failure_record, scheduled_event, sns_event, sqs_event
from harness.lambda_runtime import Outcome

if TYPE_CHECKING:
    from harness.processes import Endpoints
    from harness.resources import Resources

MAX_ROUNDS = 500
# Lambda's asynchronous invocation: the first attempt and two retries, one minute and then two
# minutes later (in concurrent delivery; one at a time, the retries follow at once).
ASYNC_ATTEMPTS = 3
ASYNC_RETRY_DELAYS = (60, 120)
# The retry queue's visibility timeout in the template (a concurrent poller's batch stays invisible
# while it waits for and runs its invocation).
RETRY_QUEUE_VISIBILITY = 180


@dataclass
class Invocation:
    function: str
    event: dict
    outcome: Outcome
    attempt: int


class Delivery:
    """Events to the functions as Lambda hands them over, until the system is quiet. `advance` is
    AWS Backup's side of settling: it runs the started copy jobs and returns the ones that moved."""

    def __init__(self, endpoints: Endpoints, resources: Resources, functions: dict, settings: Settings,
                 advance: Callable[[], list]):
        self.endpoints, self.resources, self.functions, self.settings = endpoints, resources, functions, settings
        self.advance = advance
        # How many times each notification reaches its function (a test may change it for a while).
        self.duplicate_deliveries = 1
        # In which order one pass hands over the two feeds' events (see the module's docstring).
        self.feed_order = "sns-first"
        self.invocations: list[Invocation] = []
        # Concurrent delivery's state (made in `_worker_pools`): the worker pools, asynchronous
        # invocations to retry, and the locks of that list and of the retry queue's receives.
        self._pools: dict[str, ThreadPoolExecutor] | None = None

    def invoke_async(self, name: str, event: dict) -> Outcome:
        """Lambda's asynchronous invocation: up to 3 attempts, then the failure destination."""
        function = self.functions[name]
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            outcome = function.invoke(event)
            self._record(Invocation(name, event, outcome, attempt))
            if outcome.ok:
                return outcome
        record = failure_record(event, function.arn, outcome.request_id, outcome.payload, ASYNC_ATTEMPTS)
        self.endpoints.client("sqs").send_message(QueueUrl=self.resources.failure_queue, MessageBody=json.dumps(record))
        return outcome

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        if self.settings.on_invocation:
            self.settings.on_invocation(invocation)

    def _receive(self, url: str, visibility: int = 30) -> list[dict]:
        return self.endpoints.client("sqs").receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility, AttributeNames=["All"],
        ).get("Messages", [])

    def _deliver_retries(self) -> int:
        messages = self._receive(self.resources.retry_queue)
        if not messages:
            return 0
        return self._run_retry_batch(messages)

    def _run_retry_batch(self, messages: list[dict]) -> int:
        """One SQS event of the retry queue's messages to the retrier; ReportBatchItemFailures."""
        event = sqs_event(messages, "vaultwatch-retries")
        outcome = self.functions["retrier"].invoke(event)
        self._record(Invocation("retrier", event, outcome, 1))
        failed = {f["itemIdentifier"] for f in outcome.payload.get("batchItemFailures", [])} if outcome.ok else {m["MessageId"] for m in messages}
        sqs = self.endpoints.client("sqs")
        for message in messages:
            if message["MessageId"] in failed:
                # Visible again at once (no waiting in tests); SQS's redrive policy counts receives.
                sqs.change_message_visibility(QueueUrl=self.resources.retry_queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=self.resources.retry_queue, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def deliveries_of(self) -> int:
        """How many times the next notification reaches its function (SNS delivers at least once)."""
        return self.duplicate_deliveries

    def deliver(self) -> int:
        """One pass over every subscription queue, every rule's queue and the retry queue. Returns
        messages handled."""
        if self.settings.concurrency:
            return self._deliver_concurrently()
        sqs = self.endpoints.client("sqs")
        pending = []  # (feed, function, event, queue, message)
        for feed, queues, event_of in self._feeds():
            for name, url in queues.items():
                for message in self._receive(url):
                    pending.append((feed, name, event_of(message), url, message))
        for _, name, event, url, message in self.in_feed_order(pending):
            for _ in range(self.duplicate_deliveries):
                self.invoke_async(name, event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(pending) + self._deliver_retries()

    def _feeds(self):
        """(feed, function -> queue, the event Lambda builds from a message) of each feed."""
        return (("sns", self.resources.subscription_queues, sns_event),
                ("eventbridge", self.resources.rule_queues, eventbridge_event))

    def in_feed_order(self, pending: list[tuple]) -> list[tuple]:
        """`pending` (each item's first member its feed) in `feed_order`; within a feed, as received."""
        order = self.feed_order
        sns = [item for item in pending if item[0] == "sns"]
        eventbridge = [item for item in pending if item[0] == "eventbridge"]
        if order == "sns-first":
            return sns + eventbridge
        if order == "eventbridge-first":
            return eventbridge + sns
        if order == "interleaved":
            mixed = []
            for index in range(max(len(sns), len(eventbridge))):
                mixed += eventbridge[index:index + 1] + sns[index:index + 1]
            return mixed
        if order.startswith("shuffled:"):
            import random

            mixed = list(pending)
            random.Random(int(order.split(":", 1)[1])).shuffle(mixed)
            return mixed
        raise ValueError(f"unknown feed_order {order!r}")

    # ------------------------------------------------------------------ concurrent delivery
    def _worker_pools(self) -> dict[str, ThreadPoolExecutor]:
        pools = self._pools
        if pools is None:
            self._async_retries, self._retry_lock, self._retry_receive = [], threading.Lock(), threading.Lock()
            pools = self._pools = {
                name: ThreadPoolExecutor(self.settings.concurrency.get(name, 1), thread_name_prefix=f"deliver-{name}")
                for name in {**self.resources.subscription_queues, **self.resources.rule_queues}
            }
            pools["retry queue"] = ThreadPoolExecutor(self.settings.retry_queue_concurrency, thread_name_prefix="retry-queue")
        return pools

    def stop(self) -> None:
        for pool in (self._pools or {}).values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools = None

    def _invoke_async_attempt(self, name: str, event: dict, attempt: int) -> None:
        """Concurrent delivery: one attempt of an asynchronous invocation. A failed attempt is
        retried later (`retry_async_later`), not at once: a duplicate delivery that finds its
        twin's work in progress must not use up its attempts while the twin is still running; the
        last failure goes to the failure destination."""
        function = self.functions[name]
        outcome = function.invoke(event)
        self._record(Invocation(name, event, outcome, attempt))
        if outcome.ok:
            return
        if attempt < ASYNC_ATTEMPTS:
            self.retry_async_later(name, event, attempt + 1, ASYNC_RETRY_DELAYS[attempt - 1])
            return
        record = failure_record(event, function.arn, outcome.request_id, outcome.payload, ASYNC_ATTEMPTS)
        self.endpoints.client("sqs").send_message(QueueUrl=self.resources.failure_queue, MessageBody=json.dumps(record))

    def retry_async_later(self, name: str, event: dict, attempt: int, delay: int) -> None:
        """Schedules attempt `attempt` of an asynchronous invocation, due `delay` seconds later in
        AWS. Here: in the next pass, once every invocation in flight has ended (no clock waits); a
        stack with a simulated clock may hold it for `delay` (then `due_async_retry`)."""
        self.due_async_retry(name, event, attempt)

    def due_async_retry(self, name: str, event: dict, attempt: int) -> None:
        self._worker_pools()
        with self._retry_lock:
            self._async_retries.append((name, event, attempt))

    def _take_notifications(self, name: str, url: str) -> list[dict]:
        """Every notification waiting for `name`'s subscription, taken off it (the direct topic's,
        or received from its queue and deleted in batches)."""
        if self.endpoints.direct_topic is not None:
            return self.endpoints.direct_topic.take(name)
        return self._take_queued(url)

    def _take_queued(self, url: str) -> list[dict]:
        """Every message waiting in queue `url`, received and deleted in batches."""
        sqs, taken = self.endpoints.client("sqs"), []
        while messages := self._receive(url):
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
            taken += messages
        return taken

    def _receive_retries(self) -> list[dict]:
        # One receive at a time: moto's ReceiveMessage is not atomic across its threads.
        with self._retry_receive:
            return self._receive(self.resources.retry_queue, RETRY_QUEUE_VISIBILITY)

    def _poll_retry_queue(self, messages: list[dict]) -> int:
        """One poller of the retry queue's event source: `messages` first, then a batch at a time
        until the queue is empty."""
        handled = 0
        while messages:
            handled += self._run_retry_batch(messages)
            messages = self._receive_retries()
        return handled

    def _deliver_concurrently(self) -> int:
        pools = self._worker_pools()
        invocations = []
        with self._retry_lock:
            retries, self._async_retries = self._async_retries, []
        for name, event, attempt in retries:
            invocations.append(pools[name].submit(self._invoke_async_attempt, name, event, attempt))
        handled = len(retries)
        for name, url in self.resources.subscription_queues.items():
            for message in self._take_notifications(name, url):
                for _ in range(self.deliveries_of()):
                    invocations.append(pools[name].submit(self._invoke_async_attempt, name, sns_event(message), 1))
                handled += 1
        for name, url in self.resources.rule_queues.items():
            for message in self._take_queued(url):
                for _ in range(self.deliveries_of()):
                    invocations.append(pools[name].submit(self._invoke_async_attempt, name, eventbridge_event(message), 1))
                handled += 1
        # The event source scales out from one poller as it finds messages (an empty queue costs one receive).
        pollers = []
        for _ in range(self.settings.retry_queue_concurrency):
            messages = self._receive_retries()
            if not messages:
                break
            pollers.append(pools["retry queue"].submit(self._poll_retry_queue, messages))
        for invocation in invocations:
            invocation.result()
        return handled + sum(poller.result() for poller in pollers)

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

    def reconcile(self, at: float | None = None) -> Outcome:
        """One scheduled run of the reconciler, with the event EventBridge sends (at `at`, seconds
        since the epoch: now by default)."""
        event = scheduled_event(at)
        outcome = self.functions["reconciler"].invoke(event)
        self._record(Invocation("reconciler", event, outcome, 1))
        return outcome
