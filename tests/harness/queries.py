"""What happened: the alerts published, the failure destination, the tracking table, the copy jobs
AWS Backup lists."""

from __future__ import annotations

import json


def plain(item: dict) -> dict:
    """A DynamoDB item as plain Python values."""
    out = {}
    for name, value in item.items():
        (kind, raw), = value.items()
        out[name] = int(raw) if kind == "N" else set(raw) if kind == "SS" else raw
    return out


class Queries:
    """Part of LocalStack: reading results (only `alerts()` consumes what it reads)."""

    def alerts(self) -> list[dict]:
        """The alerts published since the last call (the alert topic's SNS envelopes)."""
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
        """The failure destination's records (left in the queue)."""
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

    def copy_jobs(self, **filters) -> list[dict]:
        """ListCopyJobs with `filters`, every page."""
        backup = self.client("backup")
        jobs, token = [], None
        while True:
            page = backup.list_copy_jobs(**filters, **({"NextToken": token} if token else {}))
            jobs += page["CopyJobs"]
            token = page.get("NextToken")
            if not token:
                return jobs
