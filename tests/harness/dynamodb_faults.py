"""A pass-through proxy in front of moto's DynamoDB that fails chosen requests the way DynamoDB does
(HTTP 400, ProvisionedThroughputExceededException), so an end-to-end test can break one store
write at one step (moto itself has no fault injection). Runs in the test process, on loopback."""

from __future__ import annotations

import json
import threading

from harness.loopback import Connections, LoopbackHandler, LoopbackServer

AMZ_JSON = "application/x-amz-json-1.0"
THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded (injected)",
}


class DynamoFaults:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.connections = Connections(upstream, timeout=30)
        self.lock = threading.Lock()
        self.rules: list[dict] = []  # {"operation", "contains", "count"}
        self.injected = 0
        proxy = self

        class Handler(LoopbackHandler):
            def do_POST(self):
                body = self.read_body()
                operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                if proxy.should_fail(operation, body.decode("utf-8", "replace")):
                    return self.send(400, json.dumps(THROTTLED).encode(), AMZ_JSON)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                status, data, content_type = proxy.forward(self.path, body, headers)
                self.send(status, data, content_type or AMZ_JSON)

        self.server = LoopbackServer(Handler).serve_in_background()
        self.url = self.server.url

    def forward(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str | None]:
        """One request upstream, on this thread's kept-alive connection."""
        status, data, response_headers = self.connections.request("POST", path, body, headers)
        content_type = next((value for name, value in response_headers if name.lower() == "content-type"), None)
        return status, data, content_type

    def fail(self, operation: str, contains: str, count: int) -> None:
        """The next `count` `operation` requests whose body contains `contains` fail."""
        with self.lock:
            self.rules.append({"operation": operation, "contains": contains, "count": count})

    def should_fail(self, operation: str, body: str) -> bool:
        with self.lock:
            for rule in self.rules:
                if rule["operation"] == operation and rule["contains"] in body:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.rules.remove(rule)
                    self.injected += 1
                    return True
        return False

    def stop(self) -> None:
        self.server.stop()
