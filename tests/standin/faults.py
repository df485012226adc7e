"""Fault injection (/_standin/faults): throttling and server errors by rate or by count, latency,
and copy jobs that fail when they run."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from standin.common import ApiError, derive_category


class Faults:
    """Run-time switchable fault injection, deterministic for a given seed. Its state (the rules, the
    random sequence, the counters) is read and changed under its own lock: `before` runs on the
    server's request threads, outside the stand-in's lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._reset()

    def _reset(self) -> None:
        self.throttle_rate = 0.0
        self.server_error_rate = 0.0
        self.latency_ms = 0
        self.operations: set[str] | None = None  # None: every operation
        self.throttle_next: Counter = Counter()
        # {"recoveryPointArn"?, "destinationVaultArn"?, "compositeMemberIdentifier"?, "childIndex"?,
        #  "statusMessage", "messageCategory"?, "count"}
        self.fail_copies: list[dict] = []
        self.random = random.Random(0)  # a `faults` control's "seed" sets another
        self.injected = Counter()

    def configure(self, spec: dict) -> None:
        """Control: /_standin/faults (what `spec` leaves out stays as it was)."""
        with self.lock:
            self._configure(spec)

    def _configure(self, spec: dict) -> None:
        if "seed" in spec:
            self.random = random.Random(spec["seed"])
        self.throttle_rate = spec.get("throttleRate", self.throttle_rate)
        self.server_error_rate = spec.get("serverErrorRate", self.server_error_rate)
        self.latency_ms = spec.get("latencyMs", self.latency_ms)
        if "operations" in spec:
            self.operations = set(spec["operations"]) if spec["operations"] is not None else None
        for operation, count in spec.get("throttleNext", {}).items():
            self.throttle_next[operation] += count
        for rule in spec.get("failCopies", []):
            self.fail_copies.append({"count": 1, **rule})

    def before(self, operation: str) -> None:
        """Raises the injected error for this call, if any; sleeps the injected latency (outside the
        lock: concurrent calls wait side by side, as they would in AWS)."""
        with self.lock:
            if self.operations is not None and operation not in self.operations:
                return
            latency, error = self.latency_ms, self._error(operation)
        if latency:
            time.sleep(latency / 1000)
        if error:
            raise error

    def _error(self, operation: str) -> ApiError | None:
        """The error injected into this call, counted (under the lock)."""
        if self.throttle_next[operation] > 0:
            self.throttle_next[operation] -= 1
            self.injected["throttle"] += 1
            return ApiError(400, "ThrottlingException", "Rate exceeded")
        roll = self.random.random()
        if roll < self.throttle_rate:
            self.injected["throttle"] += 1
            return ApiError(400, "ThrottlingException", "Rate exceeded")
        if roll < self.throttle_rate + self.server_error_rate:
            self.injected["server_error"] += 1
            return ApiError(500, "ServiceUnavailableException", "Service unavailable, try again later", "Server")
        return None

    def counts(self) -> dict:
        """The errors injected so far, by kind."""
        with self.lock:
            return dict(self.injected)

    def copy_failure(self, job: dict, parent: dict | None, child_index: int | None) -> tuple[str, str | None] | None:
        """(status message, message category) a copy job must fail with, consuming one matching rule."""
        with self.lock:
            sources = {job["SourceRecoveryPointArn"]} | ({parent["SourceRecoveryPointArn"]} if parent else set())
            for rule in self.fail_copies:
                if rule.get("recoveryPointArn") is not None and rule["recoveryPointArn"] not in sources:
                    continue
                if rule.get("destinationVaultArn") not in (None, job["DestinationBackupVaultArn"]):
                    continue
                if rule.get("compositeMemberIdentifier") is not None and rule["compositeMemberIdentifier"] != job.get("CompositeMemberIdentifier"):
                    continue
                if rule.get("childIndex") is not None and (child_index is None or rule["childIndex"] != child_index):
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self.fail_copies.remove(rule)
                self.injected["copy_failure"] += 1
                message = rule["statusMessage"]
                return message, rule.get("messageCategory") or derive_category(message)
            return None
