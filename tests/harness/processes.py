"""The stack's servers: moto, the AWS Backup stand-in, the DynamoDB fault proxy (a thread of this
process), each started on a free loopback port and stopped with the stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from harness.config import REGION, TESTS, Settings
from harness.dynamodb_faults import DynamoFaults

# The stand-in runs as `python -m standin.server` from tests/ (its package's parent).
STANDIN = [sys.executable, "-m", "standin.server"]


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


def start_standin(args: list[str], **popen) -> tuple[subprocess.Popen, str]:
    """Starts the AWS Backup stand-in on a free port with `args`; returns the process and its URL
    once it listens. `popen`: further subprocess.Popen arguments (stdout is the READY line's pipe)."""
    process = subprocess.Popen([*STANDIN, "--port", "0", *args], cwd=TESTS, stdout=subprocess.PIPE, text=True, **popen)
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        raise RuntimeError(f"backup stand-in failed to start: {line!r}")
    return process, f"http://127.0.0.1:{line.split()[1]}"


class Endpoints:
    """The stack's servers, each started on a free loopback port: moto (SNS, SQS, DynamoDB), the
    DynamoDB fault proxy in front of it (a thread of this process), the direct SNS topic (with
    `direct_notifications`) and the AWS Backup stand-in; their URLs, and one client per service and
    region, shared."""

    def __init__(self, settings: Settings, workdir: Path):
        self.settings, self.workdir = settings, workdir
        self.processes: list[subprocess.Popen] = []
        self.dynamodb_faults: DynamoFaults | None = None
        # With direct_notifications: the SNS endpoint the stand-in publishes to (a harness.sns_direct.DirectTopic).
        self.direct_topic = None
        self._clients: dict[tuple[str, str], object] = {}
        self._clients_lock = threading.Lock()

    def start(self) -> Endpoints:
        self._start_moto()
        # The functions reach DynamoDB through a proxy that can fail chosen writes.
        self.dynamodb_faults = DynamoFaults(self.dynamodb_url)
        self._start_standin()
        return self

    def _log(self, name: str):
        return open(self.workdir / name, "ab")

    def _start_moto(self) -> None:
        port = free_port()
        self.moto_url = f"http://127.0.0.1:{port}"
        # Where DynamoDB requests go: moto's endpoint, or with lean_moto (the same moto without its
        # per-request costs that emulate nothing) its DynamoDB-only endpoint, same backend, each
        # conditional write atomic, which concurrent delivery needs.
        self.dynamodb_url = self.moto_url
        if self.settings.lean_moto or self.settings.concurrency:
            dynamodb_port = free_port()
            moto, cwd = [sys.executable, "-m", "harness.lean_moto", "--dynamodb-port", str(dynamodb_port)], TESTS
            self.dynamodb_url = f"http://127.0.0.1:{dynamodb_port}"
        else:
            moto, cwd = [str(Path(sys.executable).parent / "moto_server")], None
        process = subprocess.Popen([*moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                   stderr=self._log("moto.log"), start_new_session=True, cwd=cwd)
        self.processes.append(process)

        def ready():
            try:
                return urllib.request.urlopen(f"{self.moto_url}/moto-api/data.json", timeout=1).status == 200
            except OSError:
                return False

        wait_until(ready, "moto server")

    def _start_standin(self) -> None:
        sns = self.moto_url
        if self.settings.direct_notifications:
            # The stand-in's notifications go straight to the subscriptions (imported here: it loads moto).
            from harness.sns_direct import DirectTopic

            self.direct_topic = DirectTopic(self.moto_url)
            sns = self.direct_topic.url
        process, self.backup_url = start_standin(["--sns-endpoint", sns], stderr=self._log("standin.log"),
                                                 start_new_session=True)
        self.processes.append(process)

    def client(self, service: str, region: str = REGION):
        """A client of the stack's `service` in `region`, made once and shared (botocore clients are
        thread-safe; making one costs ~10 ms, more than most calls through it)."""
        key = (service, region)
        client = self._clients.get(key)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(key)
                if client is None:
                    endpoint = self.backup_url if service == "backup" else self.moto_url
                    client = self._clients[key] = boto3.client(
                        service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(max_pool_connections=64),
                    )
        return client

    def stop(self) -> None:
        if self.dynamodb_faults:
            self.dynamodb_faults.stop()
        if self.direct_topic:
            self.direct_topic.stop()
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
