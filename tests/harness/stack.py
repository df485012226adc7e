"""LocalAws: the local AWS the tests run vaultwatch on. moto (SNS, SQS, DynamoDB), the AWS Backup
stand-in, and the function binaries (tracker, retrier, copier, and the scheduled reconciler) under a
local Lambda Runtime API, wired the way template.yaml wires them in AWS.

    with LocalAws(routes=[...]) as aws:
        aws.backup.create_vault("primary")
        aws.backup.complete_backup("primary", "arn:aws:ec2:...:volume/vol-1")
        aws.delivery.settle()
        aws.queries.take_alerts(), aws.queries.table_items(), aws.queries.copy_jobs()

It is composed of its parts, each given what it uses:

    settings    how it is set up (harness.config.Settings)
    endpoints   the servers and their clients (harness.processes.Endpoints)
    resources   the template's topics, queues and table, each function's environment
                (harness.resources.Resources)
    functions   name -> the function's LocalLambda (or LambdaPool, delivering concurrently)
    backup      AWS Backup's side of a story: the stand-in's controls (harness.controls.StandIn)
    delivery    events to the functions, until quiet (harness.delivery.Delivery)
    queries     what happened: alerts, the failure destination, the table, metrics
                (harness.queries.Queries)

`PYTHONPATH=tests .venv/bin/python -m harness.stack` keeps one up until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.config import CREDENTIALS, FUNCTIONS, ROLE, SCHEDULED, Settings
from harness.controls import StandIn
from harness.delivery import Delivery
from harness.lambda_runtime import LambdaPool, LocalLambda
from harness.processes import Endpoints
from harness.queries import Queries
from harness.resources import Resources


class LocalAws:
    """Started by `start()` (or `with`), stopped by `stop()`. `**settings`: harness.config.Settings'
    fields. A benchmark may override `new_delivery` (a Delivery with other hooks) or
    `function_env`."""

    def __init__(self, **settings):
        self.settings = Settings(**settings)
        self.endpoints: Endpoints | None = None
        self.delivery: Delivery | None = None
        self.functions: dict[str, LocalLambda | LambdaPool] = {}

    def start(self) -> LocalAws:
        self.workdir = Path(tempfile.mkdtemp(prefix="vaultwatch-stack-"))
        try:
            self.endpoints = Endpoints(self.settings, self.workdir)
            self.endpoints.start()
            self.resources = Resources(self.endpoints, self.settings).create()
            self.backup = StandIn(self.endpoints, self.resources)
            self.delivery = self.new_delivery()
            self.queries = Queries(self.endpoints, self.resources, self.functions)
            if self.settings.start_functions:
                self._start_functions()
        except BaseException:
            self.stop()
            raise
        return self

    def new_delivery(self) -> Delivery:
        """The stack's Delivery, made once its endpoints, resources and stand-in controls exist."""
        return Delivery(self.endpoints, self.resources, self.functions, self.settings, advance=self.backup.advance)

    def function_env(self, name: str) -> dict[str, str]:
        """The environment function `name` runs with (the template's, pointed at this stack)."""
        return self.resources.function_env(name)

    def _start_functions(self) -> None:
        for name, (binary, _) in {**FUNCTIONS, **SCHEDULED}.items():
            path = self.settings.binaries / binary
            if not path.exists():
                raise RuntimeError(f"{path} not found: run `cargo build --workspace --bins` first")
            timeout = 300.0 if name in SCHEDULED else 30.0
            log = str(self.workdir / f"{name}.log")
            if self.settings.concurrency:
                # Concurrent delivery: every function may be invoked from several threads.
                function = LambdaPool(name, str(path), self.function_env(name), log, timeout,
                                      self.settings.concurrency.get(name, 1))
            else:
                function = LocalLambda(name, str(path), self.function_env(name), log, timeout)
            self.functions[name] = function
            function.start()

    def vaultwatch(self, *args: str, account: str | None = None) -> subprocess.CompletedProcess:
        """Runs the `vaultwatch` command as an operator would against this stack (its table and
        routes, credentials and endpoints in the environment, outside Lambda); as another account
        when `account` is given (a 12-digit access key id names the caller's account, as in moto)."""
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoints.moto_url,
               "AWS_ENDPOINT_URL_BACKUP": self.endpoints.backup_url, "TRACKING_TABLE_NAME": self.resources.table,
               "COPY_ROUTES": json.dumps(self.settings.routes), "TLS_ROOTS": "system"}
        if account is not None:
            env["AWS_ACCESS_KEY_ID"] = account
        if self.endpoints.iam_proxy_url:
            # The copy paths' world: `vaultwatch paths` reads IAM, STS and KMS through the proxy.
            proxy = self.endpoints.iam_proxy_url
            env.update({"AWS_ENDPOINT_URL_IAM": proxy, "AWS_ENDPOINT_URL_STS": proxy, "AWS_ENDPOINT_URL_KMS": proxy,
                        "AWS_ENDPOINT_URL_ORGANIZATIONS": self.endpoints.backup_url, "COPY_ROLE_ARN": ROLE})
        env.pop("AWS_LAMBDA_RUNTIME_API", None)
        return subprocess.run([str(self.settings.binaries / "vaultwatch"), *args], env=env, capture_output=True,
                              text=True, timeout=120)

    def stop(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        for function in self.functions.values():
            function.stop()
        if self.endpoints is not None:
            self.endpoints.stop()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    """Starts the stack and keeps it up until Ctrl-C, printing the endpoints to use."""
    import argparse

    parser = argparse.ArgumentParser(description="Run the local vaultwatch stack until Ctrl-C.")
    parser.add_argument("--routes", default="[]", help="COPY_ROUTES JSON for the copier")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with LocalAws(routes=json.loads(args.routes)) as aws:
        print(f"AWS_ENDPOINT_URL={aws.endpoints.moto_url}")
        print(f"AWS_ENDPOINT_URL_BACKUP={aws.endpoints.backup_url}")
        print(f"vault topic: {aws.resources.vault_topic}")
        print(f"tracking table: {aws.resources.table}; logs in {aws.workdir}")
        print("Ctrl-C to stop every process.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
