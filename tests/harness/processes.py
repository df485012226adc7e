"""The stack's servers: moto, the AWS Backup stand-in, the DynamoDB fault proxy (a thread of this
process), each on a loopback port the operating system picks (a process reports its port with a
READY line) and stopped with the stack."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
from botocore.config import Config

from harness.config import REGION, TESTS, Settings
from harness.dynamodb_faults import DynamoFaults

# The stand-in and moto run as modules from tests/ (their packages' parent).
STANDIN = [sys.executable, "-m", "standin.server"]
MOTO = [sys.executable, "-m", "harness.moto_server"]


def start_server(command: list[str], what: str, **popen) -> tuple[subprocess.Popen, list[int]]:
    """Starts a server process that binds port 0 (the operating system picks a free port) and
    prints "READY <port> [<port>...]" on stdout once it listens: a handshake, with nothing to poll
    and no port chosen here that another process could take first. Returns the process and its
    ports. `popen`: further subprocess.Popen arguments (stdout is the READY line's pipe)."""
    process = subprocess.Popen(command, cwd=TESTS, stdout=subprocess.PIPE, text=True, **popen)
    line = process.stdout.readline()  # blocks until the line, or EOF if the process dies first
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        raise RuntimeError(f"{what} failed to start: {line!r}")
    return process, [int(port) for port in line.split()[1:]]


def start_standin(args: list[str], **popen) -> tuple[subprocess.Popen, str]:
    """Starts the AWS Backup stand-in with `args`; returns the process and its URL once it listens."""
    process, (port,) = start_server([*STANDIN, "--port", "0", *args], "backup stand-in", **popen)
    return process, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def path_servers():
    """moto (KMS, IAM with AWS's managed policies), the IAM proxy in front of it (SimulatePrincipalPolicy,
    STS), and a stand-in reading keys from moto and roles through the proxy: the copy paths' world.
    Yields their URLs: `moto`, `proxy`, `backup`."""
    started = []
    try:
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        moto, (moto_port,) = start_server(MOTO, "moto server", env=env, stderr=subprocess.DEVNULL)
        started.append(moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        proxy, (proxy_port,) = start_server([*MOTO[:2], "standin.iam_proxy", "--port", "0", "--moto", moto_url],
                                            "IAM proxy", stderr=subprocess.DEVNULL)
        started.append(proxy)
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        standin, url = start_standin(["--kms-endpoint", moto_url, "--iam-endpoint", proxy_url], stderr=subprocess.DEVNULL)
        started.append(standin)
        yield {"moto": moto_url, "proxy": proxy_url, "backup": url}
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=10)


class Endpoints:
    """The stack's servers, each on a loopback port of its own: moto (SNS, SQS, DynamoDB, and KMS for
    the keys vaults name), the DynamoDB fault proxy in front of it (a thread of this process), the
    direct SNS topic (with `direct_notifications`) and the AWS Backup stand-in; their URLs, and one
    client per service and region, shared."""

    def __init__(self, settings: Settings, workdir: Path):
        self.settings, self.workdir = settings, workdir
        self.processes: list[subprocess.Popen] = []
        self.dynamodb_faults: DynamoFaults | None = None
        # With direct_notifications: the SNS endpoint the stand-in publishes to (a harness.sns_direct.DirectTopic).
        self.direct_topic = None
        # With copy_paths: the IAM proxy (SimulatePrincipalPolicy, STS) in front of moto.
        self.iam_proxy_url: str | None = None
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
        # With lean_moto: the same moto without its per-request costs that emulate nothing, plus
        # its DynamoDB-only endpoint (same backend, each conditional write atomic, which concurrent
        # delivery needs), where DynamoDB requests then go.
        lean = self.settings.lean_moto or bool(self.settings.concurrency)
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"} if self.settings.copy_paths else None
        process, ports = start_server([*MOTO, *(["--lean"] if lean else [])], "moto server",
                                      stderr=self._log("moto.log"), start_new_session=True, env=env)
        self.processes.append(process)
        self.moto_url = f"http://127.0.0.1:{ports[0]}"
        self.dynamodb_url = f"http://127.0.0.1:{ports[1]}" if lean else self.moto_url
        self.iam_proxy_url = None
        if self.settings.copy_paths:
            proxy, (port,) = start_server([*MOTO[:2], "standin.iam_proxy", "--port", "0", "--moto", self.moto_url],
                                          "IAM proxy", stderr=self._log("iam-proxy.log"), start_new_session=True)
            self.processes.append(proxy)
            self.iam_proxy_url = f"http://127.0.0.1:{port}"

    def _start_standin(self) -> None:
        sns = self.moto_url
        if self.settings.direct_notifications:
            # The stand-in's notifications go straight to the subscriptions (imported here: it loads moto).
            from harness.sns_direct import DirectTopic

            self.direct_topic = DirectTopic(self.moto_url)
            sns = self.direct_topic.url
        # The keys a vault names (EncryptionKeyArn) are moto's: a test disables one there and the
        # stand-in's KMS decider fails the vault's copies (standin.paths); a vault without one asks
        # nothing. In the copy paths' world it reads roles through the IAM proxy too.
        iam = ["--iam-endpoint", self.iam_proxy_url] if self.iam_proxy_url else []
        # The EventBridge feed: AWS Backup's job events on moto's default bus, where the template's rules are.
        events = ["--events-endpoint", self.moto_url] if self.settings.eventbridge_feed else []
        process, self.backup_url = start_standin(["--sns-endpoint", sns, "--kms-endpoint", self.moto_url, *iam, *events],
                                                 stderr=self._log("standin.log"), start_new_session=True)
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
