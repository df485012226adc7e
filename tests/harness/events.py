"""The events Lambda hands a function, built as Lambda builds them."""

from __future__ import annotations

import json
import time
import uuid

from harness.config import ACCOUNT, REGION


def sns_event(message: dict) -> dict:
    """The SNSEvent Lambda builds from an SNS notification (`message`: an SQS message carrying
    SNS's JSON envelope, as a subscription queue receives it)."""
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


def eventbridge_event(message: dict) -> dict:
    """The event an EventBridge rule hands its Lambda target (`message`: an SQS message of the queue
    standing in for the target, whose body is the matched event, whole, as a target without an input
    transformer receives it)."""
    return json.loads(message["Body"])


def sqs_event(messages: list[dict], queue_name: str) -> dict:
    """The SQSEvent of an event source mapping over the queue `queue_name` (`messages`: as
    ReceiveMessage returns them)."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
        "awsRegion": REGION,
    } for m in messages]}


def scheduled_event(at: float | None = None) -> dict:
    """The event an EventBridge schedule sends at `at` (seconds since the epoch; now by default):
    the reconciler's run is as of its `time`."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)), "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/vaultwatch-sweep"], "detail": {},
    }


def failure_record(event: dict, function_arn: str, request_id: str, error: dict, attempts: int) -> dict:
    """What an asynchronous invocation's failure destination receives once `attempts` failed
    (Lambda's destination record format)."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id, "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": error,
    }
