"""A local Lambda Runtime API: runs a function's real binary the way Lambda does.

The binary is started with AWS_LAMBDA_RUNTIME_API pointing at this server; it long-polls
GET /2018-06-01/runtime/invocation/next, and posts .../response or .../error per invocation.
`invoke()` hands it one event and waits for the outcome. A crashed process is restarted (a new
execution environment), as Lambda would.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

from harness.config import ACCOUNT, REGION
from harness.loopback import LoopbackHandler, LoopbackServer

API = "/2018-06-01/runtime"


@dataclass
class Outcome:
    ok: bool
    payload: dict  # the response, or {"errorType", "errorMessage"}
    request_id: str


def lambda_environment(name: str, runtime_api_port: int, env: dict[str, str]) -> dict[str, str]:
    """What Lambda puts in a function's environment, pointing at a Runtime API on this port, plus `env`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        **env,
    }


class LocalLambda:
    def __init__(self, name: str, binary: str | list[str], env: dict[str, str], log_path: str, timeout: float = 30.0):
        self.name, self.binary, self.env, self.log_path, self.timeout = name, binary, env, log_path, timeout
        self.events: queue.Queue = queue.Queue()
        self.results: dict[str, queue.Queue] = {}
        self.init_error: dict | None = None
        self.process: subprocess.Popen | None = None
        self.invocations = 0
        # Init time, as Lambda sees it: from spawning the process to its first /next poll.
        self.spawned_at: float | None = None
        self.first_poll_at: float | None = None
        self.polling = threading.Event()
        self.server = LoopbackServer(self._handler()).serve_in_background()
        self.log = open(log_path, "ab")

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"

    def _handler(self):
        harness = self

        class Handler(LoopbackHandler):
            def _body(self) -> dict:
                raw = self.read_body()
                try:
                    return json.loads(raw or b"null") or {}
                except json.JSONDecodeError:
                    return {"raw": raw.decode(errors="replace")}

            def do_GET(self):
                if self.path != f"{API}/invocation/next":
                    return self.send(404, b"{}")
                if harness.first_poll_at is None:
                    harness.first_poll_at = time.perf_counter()
                    harness.polling.set()
                # Bound to this process generation's queue: a poll left over from a crashed
                # process must not take the next environment's events.
                request_id, event = harness.events.get()
                # Lambda-Runtime-Deadline-Ms is a wall-clock date (epoch ms), as the function reads it.
                deadline = int((time.time() + harness.timeout) * 1000)
                self.send(200, json.dumps(event).encode(), headers={
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": harness.arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                })

            def do_POST(self):
                body = self._body()
                if self.path == f"{API}/init/error":
                    harness.init_error = body
                    return self.send(202, b"{}")
                parts = self.path[len(f"{API}/invocation/"):].split("/")
                if len(parts) == 2 and parts[1] in ("response", "error") and parts[0] in harness.results:
                    harness.results[parts[0]].put(Outcome(parts[1] == "response", body, parts[0]))
                    return self.send(202, b"{}")
                self.send(400, b"{}")

        return Handler

    def start(self) -> None:
        env = lambda_environment(self.name, self.server.port, self.env)
        self.init_error = None
        self.events = queue.Queue()
        self.first_poll_at = None
        self.polling.clear()
        self.spawned_at = time.perf_counter()
        command = self.binary if isinstance(self.binary, list) else [self.binary]
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)

    def invoke(self, event: dict) -> Outcome:
        """One synchronous invocation; a crash or init failure is reported as an error outcome."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        request_id = str(uuid.uuid4())
        results: queue.Queue = queue.Queue()
        self.results[request_id] = results
        self.events.put((request_id, event))
        self.invocations += 1
        try:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    return results.get(timeout=0.05)
                except queue.Empty:
                    pass
                crashed = self.process.poll() is not None
                if crashed or time.monotonic() > deadline:
                    # Lambda ends the environment on a crash or a timeout; the next invoke starts a new one.
                    if not crashed:
                        self.process.kill()
                        self.process.wait()
                    kind = "Runtime.InitError" if self.init_error else ("Runtime.ExitError" if crashed else "Sandbox.Timedout")
                    detail = self.init_error or {"errorMessage": f"process exited with {self.process.returncode}"}
                    return Outcome(False, {"errorType": kind, **detail}, request_id)
        finally:
            self.results.pop(request_id, None)

    def wait_until_polling(self, timeout: float = 30.0) -> None:
        """Blocks until the process finished init (its first /next poll); raises if it never does."""
        if not self.polling.wait(timeout):
            raise RuntimeError(f"{self.name} did not poll for an event within {timeout} s")

    def init_seconds(self) -> float | None:
        if self.spawned_at is None or self.first_poll_at is None:
            return None
        return self.first_poll_at - self.spawned_at

    def peak_rss_kib(self) -> int | None:
        """VmHWM of the running process: its peak resident memory so far."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            return None
        return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.server.stop()
        self.log.close()


class LambdaPool:
    """A function with up to `concurrency` execution environments, as Lambda runs one: each
    environment (a LocalLambda: its own Runtime API and process) handles one invocation at a time,
    and concurrency is more environments. `invoke()` may be called from many threads: it takes an
    idle environment (the most recently used first, as Lambda reuses warm ones), starts a new one
    while fewer than `concurrency` exist, and otherwise waits for one to be free (what Lambda does
    with an event over its reserved concurrency: it waits in the asynchronous queue). The
    environments share the function's log file (appends, one line per write)."""

    def __init__(self, name: str, binary: str | list[str], env: dict[str, str], log_path: str, timeout: float = 30.0,
                 concurrency: int = 1):
        if concurrency < 1:
            raise ValueError("a function needs at least one execution environment")
        self.name, self.binary, self.env, self.log_path, self.timeout = name, binary, env, log_path, timeout
        self.concurrency = concurrency
        self.environments: list[LocalLambda] = []
        self.idle: queue.LifoQueue = queue.LifoQueue()
        self.lock = threading.Lock()
        # The first environment: its log handle is the function's (Queries.emf_documents flushes it).
        self.log = self._new_environment().log

    @property
    def arn(self) -> str:
        return self.environments[0].arn

    @property
    def invocations(self) -> int:
        return sum(environment.invocations for environment in self.environments)

    def _new_environment(self) -> LocalLambda:
        environment = LocalLambda(self.name, self.binary, self.env, self.log_path, self.timeout)
        self.environments.append(environment)
        return environment

    def start(self) -> None:
        """Starts the first environment (init, as a deployment's first invocation would); the others
        start on demand."""
        self.environments[0].start()
        self.idle.put(self.environments[0])

    def _acquire(self) -> LocalLambda:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            pass
        with self.lock:
            if len(self.environments) < self.concurrency:
                environment = self._new_environment()
                environment.start()
                return environment
        return self.idle.get()

    def invoke(self, event: dict) -> Outcome:
        environment = self._acquire()
        try:
            return environment.invoke(event)
        finally:
            self.idle.put(environment)

    def wait_until_polling(self, timeout: float = 30.0) -> None:
        self.environments[0].wait_until_polling(timeout)

    def init_seconds(self) -> float | None:
        return self.environments[0].init_seconds()

    def peak_rss_kib(self) -> int | None:
        peaks = [p for p in (environment.peak_rss_kib() for environment in self.environments) if p is not None]
        return max(peaks, default=None)

    def stop(self) -> None:
        for environment in self.environments:
            environment.stop()
