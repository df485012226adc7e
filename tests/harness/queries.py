"""What happened: the alerts published, the failure destination, the tracking table, the copy jobs
AWS Backup lists."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING

from harness import schema

if TYPE_CHECKING:
    from harness.processes import Endpoints
    from harness.resources import Resources


def plain(item: dict) -> dict:
    """A DynamoDB item as plain Python values."""
    out = {}
    for name, value in item.items():
        (kind, raw), = value.items()
        out[name] = int(raw) if kind == "N" else set(raw) if kind == "SS" else raw
    return out


def emf_documents_in(lines) -> list[dict]:
    """The EMF documents among log lines: JSON objects with an `_aws` member."""
    documents = []
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


class Queries:
    """Reading what happened. Only `take_alerts()` and `take_failures()` consume what they read."""

    def __init__(self, endpoints: Endpoints, resources: Resources, functions: dict):
        self.endpoints, self.resources, self.functions = endpoints, resources, functions
        # Alerts received from the alert inbox and not yet taken, oldest first.
        self._alerts: list[dict] = []

    def take_alerts(self) -> list[dict]:
        """The alerts (and "resolved" messages) published and not taken yet, oldest first; they are
        the caller's now: the next call returns only later ones. Each is the alert topic's SNS
        envelope as its SQS subscription receives it. With `MessageStructure: json` that is the
        `default` message, the AWS Chatbot custom notification a chat channel's HTTPS subscription
        gets too; `Notification` is it parsed, and `Email` is the `email` message, what e-mail
        subscribers get (read from what moto recorded of the Publish: moto delivers no e-mail)."""
        alerts = self.peek_alerts()
        self._alerts = []
        return alerts

    def peek_alerts(self) -> list[dict]:
        """What `take_alerts()` would return, left for it: looking does not consume."""
        sqs = self.endpoints.client("sqs")
        received = []
        while messages := sqs.receive_message(QueueUrl=self.resources.alert_inbox, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.resources.alert_inbox, ReceiptHandle=message["ReceiptHandle"])
        if received:
            published = self.published_to(self.resources.alert_topic)
            for alert in received:
                alert["Notification"] = json.loads(alert["Message"])
                alert["Published"] = published[alert["MessageId"]]
                alert["Email"] = alert["Published"]["email"]
            self._alerts += received
        return list(self._alerts)

    def published_to(self, topic_arn: str) -> dict[str, dict]:
        """Message id -> the `Message` of each Publish to the topic, as sent: with `MessageStructure:
        json`, the object of a message per protocol. From moto's model data (its
        `Topic.sent_notifications`: id, message, subject, attributes, group)."""
        with urllib.request.urlopen(f"{self.endpoints.moto_url}/moto-api/data.json", timeout=10) as response:
            topics = json.load(response)["sns"]["Topic"]
        (topic,) = [t for t in topics if t["arn"] == topic_arn]
        published = {}
        for message_id, message, *_ in topic["sent_notifications"]:
            try:
                published[message_id] = json.loads(message)
            except json.JSONDecodeError:
                published[message_id] = {"default": message}
        return published

    def emf_documents(self) -> list[dict]:
        """Every CloudWatch Embedded Metric Format line the functions wrote to stdout so far (what
        CloudWatch Logs would turn into metrics), in the order each function wrote them."""
        documents = []
        for function in self.functions.values():
            function.log.flush()
            with open(function.log_path, encoding="utf-8", errors="replace") as log:
                documents.extend(emf_documents_in(log))
        return documents

    def metric_totals(self, function: str, metric: str, **dimensions) -> float:
        """The sum of one metric's values a function wrote, under exactly these extra dimensions."""
        total = 0.0
        for document in self.emf_documents():
            if document.get("Function") != function or metric not in document:
                continue
            names = set(document["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) - {"Function"}
            if names == set(dimensions) and all(document[k] == v for k, v in dimensions.items()):
                total += document[metric]
        return total

    def failures(self) -> list[dict]:
        """The failure destination's records (left in the queue: looking does not consume)."""
        messages = self.endpoints.client("sqs").receive_message(QueueUrl=self.resources.failure_queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def take_failures(self) -> list[dict]:
        """The failure destination's records, taken: deleted from the queue, so that they are the
        caller's and neither `failures()` nor a later test sees them."""
        sqs = self.endpoints.client("sqs")
        taken = []
        while messages := sqs.receive_message(QueueUrl=self.resources.failure_queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                taken.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.resources.failure_queue, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def table_items(self) -> list[dict]:
        dynamodb = self.endpoints.client("dynamodb")
        items, start = [], None
        while True:
            page = dynamodb.scan(TableName=self.resources.table, **({"ExclusiveStartKey": start} if start else {}))
            items += [plain(item) for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def copy_record(self, copy_job_id: str) -> dict | None:
        item = self.endpoints.client("dynamodb").get_item(TableName=self.resources.table, Key=schema.copy_key(copy_job_id)).get("Item")
        return plain(item) if item else None

    def copies_of(self, recovery_point: str) -> list[tuple[str, str]]:
        """(destination vault, state) of each tracked copy of a recovery point, sorted: the
        by-recovery-point index, queried as an operator would."""
        index, key = schema.recovery_point_index()
        copy = schema.copy_attributes()
        page = self.endpoints.client("dynamodb").query(
            TableName=self.resources.table, IndexName=index, KeyConditionExpression=f"{key} = :rp",
            ExpressionAttributeValues={":rp": {"S": recovery_point}},
        )
        return sorted((item[copy.DESTINATION_VAULT_ARN], item[copy.STATE]) for item in map(plain, page["Items"]))

    def copy_jobs(self, **filters) -> list[dict]:
        """ListCopyJobs with `filters`, every page."""
        backup = self.endpoints.client("backup")
        jobs, token = [], None
        while True:
            page = backup.list_copy_jobs(**filters, **({"NextToken": token} if token else {}))
            jobs += page["CopyJobs"]
            token = page.get("NextToken")
            if not token:
                return jobs
