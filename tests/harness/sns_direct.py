"""An SNS endpoint in front of moto that delivers one topic's notifications straight to the
functions' subscriptions, for a stack whose notifications run into the hundreds of thousands (the
burst benchmark): LocalAws(direct_notifications=True) points the AWS Backup stand-in's publishing
here instead of at moto.

What it keeps of SNS's delivery: each Publish to the vault topic is matched against every
subscription's filter policy as template.yaml declares it, by moto's own matcher (moto.sns.utils.
FilterPolicyMatcher, the code moto applies when it delivers), and each match is handed to that
function's subscription as the notification SNS sends (its JSON envelope: Type, MessageId, TopicArn,
Subject, Message, Timestamp, MessageAttributes {Type, Value}), in publication order. What it leaves
out: the round trip through moto's topic and an SQS queue per subscription (moto signs every
notification with a fresh certificate, and its SQS queues cost time in proportion to their length
per message received: ~10 ms a notification, quadratic in a burst). The signature fields are
placeholders, as no function verifies them. Every other request (another topic, another action)
is passed to moto unchanged.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from datetime import datetime, timezone
from urllib.parse import parse_qs

from moto.sns.utils import FilterPolicyMatcher

from harness.loopback import Connections, LoopbackHandler, LoopbackServer

XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"


def query_message_attributes(form: dict[str, str]) -> dict[str, dict]:
    """MessageAttributes of a query-protocol Publish, as SNS forwards them ({name: {Type, Value}})."""
    attributes, entries = {}, {}
    for key, value in form.items():
        if key.startswith("MessageAttributes.entry."):
            index, _, field = key[len("MessageAttributes.entry."):].partition(".")
            entries.setdefault(index, {})[field] = value
    for entry in entries.values():
        value = entry.get("Value.StringValue", entry.get("Value.BinaryValue"))
        attributes[entry["Name"]] = {"Type": entry["Value.DataType"], "Value": value}
    return attributes


class DirectTopic:
    """Until `route()` names the topic and its subscriptions, every request goes to moto."""

    def __init__(self, upstream: str):
        self.topic_arn: str | None = None
        self.matchers: dict[str, FilterPolicyMatcher] = {}
        self.inboxes: dict[str, deque] = {}
        self.lock = threading.Lock()
        self.published = 0
        self.connections = Connections(upstream, timeout=60)
        topic = self

        class Handler(LoopbackHandler):
            def do_POST(self):
                body = self.read_body()
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                if form.get("Action") == "Publish" and topic.topic_arn and form.get("TopicArn") == topic.topic_arn:
                    message_id = topic.publish(form)
                    reply = (f'<PublishResponse xmlns="{XMLNS}"><PublishResult><MessageId>{message_id}</MessageId>'
                             f'</PublishResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>'
                             f'</ResponseMetadata></PublishResponse>').encode()
                    return self.send(200, reply, "text/xml")
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                status, data, response_headers = topic.connections.request("POST", self.path, body, headers)
                content_type = next((v for k, v in response_headers if k.lower() == "content-type"), "text/xml")
                self.send(status, data, content_type)

        self.server = LoopbackServer(Handler).serve_in_background()
        self.url = self.server.url

    def route(self, topic_arn: str, policies: dict[str, dict]) -> None:
        """Delivers `topic_arn`'s notifications here: to each function of `policies` (its
        subscription's filter policy) whose policy matches."""
        with self.lock:
            self.matchers = {name: FilterPolicyMatcher(policy, None) for name, policy in policies.items()}
            self.inboxes = {name: deque() for name in policies}
            self.topic_arn = topic_arn

    def publish(self, form: dict[str, str]) -> str:
        """One notification to every subscription whose filter policy matches it."""
        message, attributes = form.get("Message", ""), query_message_attributes(form)
        message_id = str(uuid.uuid4())
        envelope = {
            "Type": "Notification", "MessageId": message_id, "TopicArn": self.topic_arn, "Message": message,
            "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-local.pem",
            "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.topic_arn}:local",
        }
        if form.get("Subject"):
            envelope["Subject"] = form["Subject"]
        if attributes:
            envelope["MessageAttributes"] = attributes
        # The shape a subscription queue's message has (what harness.events.sns_event reads).
        delivered = {"MessageId": message_id, "Body": json.dumps(envelope)}
        with self.lock:
            self.published += 1
            for name, matcher in self.matchers.items():
                if matcher.matches(attributes, message):
                    self.inboxes[name].append(delivered)
        return message_id

    def take(self, name: str) -> list[dict]:
        """Every notification for `name`'s subscription so far, oldest first; they are the caller's now."""
        with self.lock:
            messages = list(self.inboxes[name])
            self.inboxes[name].clear()
        return messages

    def pending(self) -> int:
        with self.lock:
            return sum(len(inbox) for inbox in self.inboxes.values())

    def stop(self) -> None:
        self.server.stop()
