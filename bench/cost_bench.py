"""Cost benchmark: a realistic day of an account-region through the REAL
function binaries against the local stack (tests/harness's LocalAws: moto, the AWS Backup stand-in,
the functions under the local Lambda Runtime API), counting what AWS would bill, then priced from
bench/prices-us-east-1.json (prices are inputs, not code).

The day, for N backups (--backups, default 250,500,1000), in 24 simulated hour slots:
  * slot 0: the sweep after midnight, which writes the day before's evidence snapshot; it runs
    last here (at the next midnight, after the day it writes), standing for the next day's slot 0,
    which in a steady state is the same as this day's;
  * slots 1-4, the nightly window: N/4 backups complete in each; PLAN_SHARE of them in the vault
    `planned`, whose backup plan rule has one CopyAction (AWS Backup starts the copy; vaultwatch
    tracks it), the rest in the vault `routed`, whose one route (COPY_ROUTES) has the copier start
    one copy. TRANSIENT_SHARE of the copies fail once with AWS's "being modified" message (the
    retrier retries them; the retry succeeds), PERMANENT_SHARE fail for good ("50 user tags", alerted
    once). Every notification is delivered once, one invocation at a time, until the system is quiet
    (Lambda's asynchronous retries, the retry queue, the copies run to their end); then the slot's
    sweep;
  * slots 5-23: the reconciler's hourly sweep, nothing else.
An uncounted sweep before slot 1 leaves the state a previous day would have (the sweep cursor,
yesterday's evidence).

Counted, per function and per slot: invocations and their duration (local wall time + the AWS calls
made x an assumed in-region latency per service, LATENCY_MS), AWS calls by service and operation
(a counting proxy per function in front of moto and the stand-in: bench/cost_counting.py), DynamoDB
request units from the items' sizes (reads of the whole item around every write), SQS and SNS
64 KB chunks, S3 requests and evidence bytes, the bytes each function logged (its log file, plus
Lambda's platform lines, estimated), the metrics of the EMF lines per hour, the metrics each Metrics
Insights alarm of template.yaml analyzes. KMS requests that SNS, SQS, DynamoDB, CloudWatch Logs and
Lambda make with the stack's keys on the functions' behalf are modelled from AWS's documentation
(docs/cost.md, Assumptions). Each N runs once per METRICS_DETAIL (--detail, default
essential,detailed).

Then: per-backup rates and a linear fit a + b*N of every daily count (linearity printed), monthly
figures for 1,000 and 10,000 backups a day, the organization view's per-sweep cost measured with a
few member accounts (--org-members, default 3,5) and modelled for 100 members x 3 regions.
Writes target/cost/counts-<N>-<detail>.json, target/cost/org.json, target/cost/model.json and, unless
--no-docs, the figures and fixed-charges sections of docs/cost.md.

Run with scripts/cost (release binaries); for development `PYTHONPATH=tests:bench .venv/bin/python
bench/cost_bench.py --binaries target/debug --backups 50`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from cost_counting import (CountingProxy, Index, Usage, emf_documents, emf_metrics, item_size, storage_bytes,
                           usage_total)
from harness import schema
from harness.config import ACCOUNT, DR_VAULT, RECONCILE_PAGE_SIZE, REGION, ROOT
from harness.delivery import Delivery
from harness.events import sns_event
from harness.stack import LocalAws
from harness.template import CfnLoader

# ---------------------------------------------------------------- the scenario's assumptions
SLOTS = 24
NIGHT = (1, 2, 3, 4)
PLAN_SHARE = 0.8
TRANSIENT_SHARE = 0.02
PERMANENT_SHARE = 0.005
TRANSIENT = "Copy job failed because the destination backup vault is being modified. Try again later."
PERMANENT = "The resultant tag set must not have more than 50 user tags."
ROUTES = [{"sourceVault": "routed", "destinationVaultArn": DR_VAULT}]
# The template's ReconcileLookbackHours default (the harness's tests use 1).
LOOKBACK_HOURS = 72
SEED = 24

# ---------------------------------------------------------------- the billing model's assumptions
# Assumed in-region latency of one call, per service (ms): what a call adds to an invocation's
# billed duration in AWS, beyond the function's own time.
LATENCY_MS = {"dynamodb": 5, "sqs": 15, "sns": 15, "backup": 40, "s3": 25, "kms": 10, "organizations": 40,
              "sts": 15, "iam": 40}
DEFAULT_LATENCY_MS = 20
# Cold starts: one per function per hour in which it is invoked, each billed for its init.
COLD_STARTS_PER_ACTIVE_HOUR = 1
# The alert topic's subscribers (template: AlertEmail; a chat channel is AWS Chatbot's HTTPS
# subscription): deliveries per alert published.
ALERT_SUBSCRIBERS = {"email": 1, "https": 1}
# CloudWatch Logs: bytes billed per log event beyond its message (PutLogEvents' batch size rule).
LOG_EVENT_OVERHEAD = 26
# KMS data keys are reused for 5 minutes (SQS's default KmsDataKeyReusePeriodSeconds, SNS's "up to
# 5 minutes", DynamoDB's table key "refreshed once every 5 minutes per client connection with active
# traffic"; CloudWatch Logs: assumed the same): at most 12 windows an hour, activity assumed spread
# over the hour, so a principal active in an hour uses min(12, its requests in it) windows.
KEY_WINDOWS_PER_HOUR = 12
DAYS_PER_MONTH = 30.4
HOURS_PER_MONTH = 730
MODEL_BACKUPS = (1_000, 10_000)
ORG_ACCOUNTS, ORG_REGIONS, ORG_BACKUPS_PER_DAY = 100, 3, 1_000
# Standing AWS charges the model adds (docs/cost.md): the retry queue's event source polls it
# (Lambda's pollers, long polling, 20 s each) even when empty.
ESM_IDLE_RECEIVES_PER_MONTH = 5 * 3 * 60 * 24 * DAYS_PER_MONTH

OUT = ROOT / "target" / "cost"
DOC = ROOT / "docs" / "cost.md"
PRICES = ROOT / "bench" / "prices-us-east-1.json"
FIGURES_BEGIN, FIGURES_END = "<!-- cost-figures:begin -->", "<!-- cost-figures:end -->"
FIXED_BEGIN, FIXED_END = "<!-- cost-fixed:begin -->", "<!-- cost-fixed:end -->"


def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


class TaggedLoader(yaml.SafeLoader):
    """template.yaml with its short-form tags kept: !Equals [a, b] -> {"Fn::Equals": [a, b]}."""


TaggedLoader.add_multi_constructor("!", lambda loader, suffix, node: {
    ("Ref" if suffix == "Ref" else "Condition" if suffix == "Condition" else f"Fn::{suffix}"): (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node, deep=True))})


def deployed_by_default(logical: str) -> bool:
    """Whether template.yaml creates a resource at its parameters' defaults (its Condition, if any,
    evaluated; a condition this cannot evaluate counts as true)."""
    doc = yaml.load((ROOT / "template.yaml").read_text(), Loader=TaggedLoader)
    params = {name: str(p.get("Default", "")) for name, p in doc["Parameters"].items()}

    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            return params.get(x["Ref"], x["Ref"])
        if isinstance(x, dict) and "Fn::Join" in x:
            sep, parts = x["Fn::Join"]
            parts = parts if isinstance(parts, list) else [parts]
            return sep.join(str(value(p)) for p in parts)
        return x

    def holds(expr) -> bool:
        if isinstance(expr, dict):
            if "Condition" in expr:
                return holds(doc["Conditions"][expr["Condition"]])
            if "Fn::Equals" in expr:
                a, b = expr["Fn::Equals"]
                return str(value(a)) == str(value(b))
            if "Fn::Not" in expr:
                (inner,) = expr["Fn::Not"]
                return not holds(inner)
            if "Fn::And" in expr:
                return all(holds(e) for e in expr["Fn::And"])
            if "Fn::Or" in expr:
                return any(holds(e) for e in expr["Fn::Or"])
        raise ValueError(expr)

    condition = doc["Resources"][logical].get("Condition")
    if not condition:
        return True
    try:
        return holds({"Condition": condition})
    except (ValueError, KeyError, TypeError):
        return True


def memory_mb() -> dict[str, int]:
    """Each function's MemorySize (template.yaml: its own, else Globals)."""
    from harness.config import FUNCTIONS, SCHEDULED

    doc = template()
    default = int(doc["Globals"]["Function"].get("MemorySize", 128))
    return {name: int(doc["Resources"][logical]["Properties"].get("MemorySize", default))
            for name, (_, logical) in {**FUNCTIONS, **SCHEDULED}.items()}


def log_retention_days() -> int:
    doc = template()
    days = {r["Properties"].get("RetentionInDays") for r in doc["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"}
    (retention,) = days
    return int(retention)


def evidence_retention_days() -> int:
    return int(template()["Parameters"]["EvidenceRetentionDays"]["Default"])


# ---------------------------------------------------------------- Lambda's platform lines
def platform_lines(function: str, billed_ms: int, init_ms: float | None) -> list[str]:
    """The system log records Lambda writes per invocation in JSON log format at SystemLogLevel INFO
    (platform.start and platform.report; platform.initStart before a cold start's first), shaped
    as the Lambda Developer Guide shows them, for their size."""
    request = "8c3273db-5d4a-4fae-a615-3b31629ecac8"
    at = "2026-12-06T01:23:45.678Z"
    lines = [json.dumps({"time": at, "type": "platform.start", "record": {"requestId": request, "version": "$LATEST"}},
                        separators=(",", ":"))]
    metrics = {"durationMs": billed_ms - 0.123, "billedDurationMs": billed_ms, "memorySizeMB": 128, "maxMemoryUsedMB": 21}
    if init_ms is not None:
        metrics["initDurationMs"] = round(init_ms, 3)
        lines.insert(0, json.dumps({"time": at, "type": "platform.initStart", "record": {
            "initializationType": "on-demand", "phase": "init", "runtimeVersion": "provided:al2023.v100",
            "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "functionName": f"vaultwatch-{function}", "functionVersion": "$LATEST"}}, separators=(",", ":")))
    lines.append(json.dumps({"time": at, "type": "platform.report", "record": {"requestId": request, "metrics": metrics,
                                                                               "status": "success"}}, separators=(",", ":")))
    return lines


# ---------------------------------------------------------------- the stack, counted
@dataclass
class Measured:
    """One invocation."""

    function: str
    slot: int
    wall: float
    usage: Usage
    log: tuple[int, int]  # byte range of the function's log file it wrote
    ok: bool
    payload: dict

    def latency_ms(self) -> float:
        return sum(LATENCY_MS.get(name.split(":", 1)[0], DEFAULT_LATENCY_MS) * count for name, count in self.usage.calls.items())

    def billed_ms(self) -> int:
        """The model of docs/cost.md's Assumptions: local wall time + calls x in-region latency, rounded up to 1 ms."""
        return math.ceil(self.wall * 1000 + self.latency_ms())

    def net_billed_ms(self) -> int:
        """Without the local stand-ins' own time: the function's time outside its requests, plus
        the calls' in-region latency."""
        return math.ceil(max(0.0, self.wall - self.usage.busy_seconds()) * 1000 + self.latency_ms())


class CostDelivery(Delivery):
    """The harness's delivery, one invocation at a time, with the vault topic's notifications taken
    straight from the direct topic's subscriptions (harness.sns_direct: moto's filter policy
    matcher) rather than through moto's topic and a queue per subscription. Counts what SNS
    delivered to each function and the retry queue's batches."""

    def __init__(self, *parts, **options):
        super().__init__(*parts, **options)
        self.sns_deliveries: Counter = Counter()
        self.retry_batches = 0

    def deliver(self) -> int:
        pending = []
        for name in self.resources.subscription_queues:
            for message in self.endpoints.direct_topic.take(name):
                pending.append((name, sns_event(message)))
        for name, event in pending:
            self.sns_deliveries[name] += 1
            self.invoke_async(name, event)
        return len(pending) + self._deliver_retries()

    def _run_retry_batch(self, messages: list[dict]) -> int:
        self.retry_batches += 1
        return super()._run_retry_batch(messages)


class CostStack(LocalAws):
    """LocalAws with a counting proxy in front of moto and the stand-in for each function (its
    AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BACKUP and AWS_ENDPOINT_URL_DYNAMODB), METRICS_DETAIL set,
    and every invocation measured (`measured`), attributed to the current `slot`."""

    def __init__(self, detail: str, **settings):
        settings.setdefault("direct_notifications", True)
        settings.setdefault("lean_moto", True)
        super().__init__(**settings)
        self.detail = detail
        self.proxies: dict[str, CountingProxy] = {}
        self.measured: list[Measured] = []
        self.slot = -1

    def new_delivery(self) -> CostDelivery:
        return CostDelivery(self.endpoints, self.resources, self.functions, self.settings, advance=self.backup.advance)

    def function_env(self, name: str) -> dict[str, str]:
        env = super().function_env(name)
        definition = schema.table_definition()
        keys = [k["AttributeName"] for k in definition["KeySchema"]]
        proxy = self.proxies.get(name) or CountingProxy(
            name, {"backup": self.endpoints.backup_url, "dynamodb": self.endpoints.dynamodb_url}, self.endpoints.moto_url,
            self.endpoints.dynamodb_url, self.resources.table,
            [Index.of(ix, keys) for ix in definition.get("GlobalSecondaryIndexes", [])], keys)
        self.proxies[name] = proxy
        env.update({"AWS_ENDPOINT_URL": proxy.url, "AWS_ENDPOINT_URL_BACKUP": proxy.url,
                    "AWS_ENDPOINT_URL_DYNAMODB": proxy.url, "METRICS_DETAIL": self.detail})
        return env

    def start(self) -> "CostStack":
        super().start()
        for name, function in self.functions.items():
            function.wait_until_polling()
            function.invoke = self._measuring(name, function, function.invoke)
        return self

    def _measuring(self, name: str, function, invoke):
        proxy = self.proxies[name]

        def measured(event: dict):
            before = os.path.getsize(function.log_path)
            proxy.begin()
            started = time.perf_counter()
            outcome = invoke(event)
            wall = time.perf_counter() - started
            usage = proxy.end()
            self.measured.append(Measured(name, self.slot, wall, usage, (before, os.path.getsize(function.log_path)),
                                          outcome.ok, outcome.payload))
            return outcome

        return measured

    def init_ms(self) -> dict[str, float]:
        return {name: (function.init_seconds() or 0.0) * 1000 for name, function in self.functions.items()}

    def stray(self) -> Usage:
        return usage_total(proxy.stray for proxy in self.proxies.values())

    def stop(self) -> None:
        super().stop()
        for proxy in self.proxies.values():
            proxy.stop()


# ---------------------------------------------------------------- the day
def plan(stack: LocalAws) -> str:
    backup = stack.endpoints.client("backup")
    return backup.create_backup_plan(BackupPlan={
        "BackupPlanName": "nightly-with-dr-copy",
        "Rules": [{"RuleName": "nightly", "TargetBackupVaultName": "planned", "ScheduleExpression": "cron(0 1 * * ? *)",
                   "Lifecycle": {"DeleteAfterDays": 35},
                   "CopyActions": [{"DestinationBackupVaultArn": DR_VAULT, "Lifecycle": {"DeleteAfterDays": 365}}]}],
    })["BackupPlanId"]


@dataclass
class Day:
    """Which backups are where and which of their copies fail."""

    n: int
    routed: set = field(default_factory=set)
    transient: set = field(default_factory=set)
    permanent: set = field(default_factory=set)

    @classmethod
    def drawn(cls, n: int, seed: int = SEED) -> "Day":
        rng = random.Random(seed)
        indexes = list(range(n))
        routed = set(rng.sample(indexes, round(n * (1 - PLAN_SHARE))))
        failing = rng.sample(indexes, round(n * TRANSIENT_SHARE) + round(n * PERMANENT_SHARE))
        transient = set(failing[:round(n * TRANSIENT_SHARE)])
        return cls(n, routed, transient, set(failing[len(transient):]))

    def slot_of(self, index: int) -> int:
        return NIGHT[index * len(NIGHT) // self.n]


def next_midnight(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)


def binaries_seen(binaries: Path) -> dict[str, str]:
    """Each function binary's build time and size: what the figures were measured with (the
    binaries can be rebuilt while the benchmark runs; a run compares them before and after)."""
    from harness.config import FUNCTIONS, SCHEDULED

    seen = {}
    for _, (binary, _) in {**FUNCTIONS, **SCHEDULED}.items():
        stat = (binaries / binary).stat()
        seen[binary] = f"{datetime.fromtimestamp(stat.st_mtime, timezone.utc):%Y-%m-%d %H:%M:%S} UTC, {stat.st_size:,} bytes, inode {stat.st_ino}"
    return seen


def run_day(n: int, detail: str, binaries: Path, progress=print) -> dict:
    day = Day.drawn(n)
    before = binaries_seen(binaries)
    started = time.monotonic()
    with CostStack(detail, routes=ROUTES, binaries=binaries, evidence=True,
                   reconciler_env={"RECONCILE_LOOKBACK_HOURS": str(LOOKBACK_HOURS)}) as stack:
        stack.backup.create_vault("planned")
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        plan_id = plan(stack)
        setup = time.monotonic() - started
        sweeps: dict[int, dict] = {}
        vault_publishes: dict[int, int] = {}
        deliveries: dict[int, Counter] = {}
        retry_batches: dict[int, int] = {}

        def in_slot(slot: int, work) -> None:
            stack.slot = slot
            published, delivered, batches = (stack.endpoints.direct_topic.published, Counter(stack.delivery.sns_deliveries),
                                             stack.delivery.retry_batches)
            work()
            vault_publishes[slot] = stack.endpoints.direct_topic.published - published
            deliveries[slot] = Counter(stack.delivery.sns_deliveries) - delivered
            retry_batches[slot] = stack.delivery.retry_batches - batches

        def sweep(slot: int, at: float | None) -> None:
            outcome = stack.delivery.reconcile(at)
            if not outcome.ok:
                raise RuntimeError(f"sweep of slot {slot} failed: {outcome.payload}")
            sweeps[slot] = outcome.payload
            stack.delivery.settle()  # whatever the sweep started or scheduled

        # A previous day's state: the cursor, yesterday's evidence.
        stack.slot = -1
        stack.delivery.reconcile()
        for slot in NIGHT:
            def night(slot=slot):
                for index in (i for i in range(n) if day.slot_of(i) == slot):
                    resource = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-{index:017x}"
                    if index in day.routed:
                        job = stack.backup.complete_backup("routed", resource)
                    else:
                        job = stack.backup.complete_backup("planned", resource, planId=plan_id)
                    if index in day.transient:
                        stack.backup.fail_copies(TRANSIENT, count=1, recoveryPointArn=job["RecoveryPointArn"])
                    elif index in day.permanent:
                        stack.backup.fail_copies(PERMANENT, count=1, recoveryPointArn=job["RecoveryPointArn"])
                stack.delivery.settle()
                sweep(slot, None)

            in_slot(slot, night)
            progress(f"    slot {slot}: {sum(1 for i in range(n) if day.slot_of(i) == slot)} backups, "
                     f"{time.monotonic() - started:.0f} s", flush=True)
        # The quiet hours, then the sweep after midnight: event times after the day's last job (no
        # job is created after them), up to the next midnight, so that the last sweep writes the
        # day's evidence. The night's own sweeps ran at the real time, after the jobs they saw.
        now = datetime.now(timezone.utc)
        midnight = next_midnight(now)
        quiet = [s for s in range(SLOTS) if s not in NIGHT and s != 0]
        span = max(0.0, (midnight - timedelta(minutes=1) - now).total_seconds())
        for k, slot in enumerate(quiet, 1):
            at = now.timestamp() + span * k / (len(quiet) + 1)
            in_slot(slot, lambda slot=slot, at=at: sweep(slot, at))
        in_slot(0, lambda: sweep(0, (midnight + timedelta(minutes=10)).timestamp()))
        wall = time.monotonic() - started

        alerts = stack.queries.take_alerts()
        jobs = stack.queries.copy_jobs()
        items = [item for item in _scan(stack)]
        definition = schema.table_definition()
        keys = [k["AttributeName"] for k in definition["KeySchema"]]
        indexes = [Index.of(ix, keys) for ix in definition.get("GlobalSecondaryIndexes", [])]
        table_bytes, index_bytes = storage_bytes(items, indexes)
        counts = collect(stack, n, detail, binaries, wall, setup, sweeps, vault_publishes, deliveries, retry_batches)
        counts["binaries_seen"] = before
        if binaries_seen(binaries) != before:
            counts["binaries_changed"] = True
            progress(f"  WARNING: the binaries in {binaries} changed during this run: measure again", flush=True)
        counts["outcome"] = {
            "copy_jobs": dict(Counter(j["State"] for j in jobs)), "alerts": len(alerts),
            "expected": {"backups": n, "routed": len(day.routed), "transient": len(day.transient),
                         "permanent": len(day.permanent)},
            "evidence": sweeps[0].get("evidence", []),
            "failed_invocations": sum(1 for m in stack.measured if not m.ok),
            "stray_calls": dict(stack.stray().calls),
        }
        counts["dynamodb_storage"] = {"items": len(items), "table_bytes": table_bytes, "index_bytes": index_bytes,
                                      "item_types": dict(Counter(i.get("item_type", {}).get("S", "?") for i in items)),
                                      "mean_copy_item_bytes": _mean(item_size(i) for i in items
                                                                    if i.get("item_type", {}).get("S") == "copy_job")}
        return counts


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _scan(stack: LocalAws):
    """Every item of the tracking table, as DynamoDB JSON (straight from moto: not counted)."""
    dynamodb, start = stack.endpoints.client("dynamodb"), None
    while True:
        page = dynamodb.scan(TableName=stack.resources.table, **({"ExclusiveStartKey": start} if start else {}))
        yield from page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def read_log(path: str, span: tuple[int, int]) -> list[str]:
    with open(path, "rb") as log:
        log.seek(span[0])
        return log.read(span[1] - span[0]).decode("utf-8", "replace").splitlines()


def collect(stack: CostStack, n: int, detail: str, binaries: Path, wall: float, setup: float, sweeps: dict,
            vault_publishes: dict, deliveries: dict, retry_batches: dict) -> dict:
    """The day's counts, per function and per slot, as JSON-ready data."""
    init_ms = stack.init_ms()
    memory = memory_mb()
    log_paths = {name: function.log_path for name, function in stack.functions.items()}
    counted = [m for m in stack.measured if m.slot >= 0]
    functions = {}
    slots = [{"slot": s, "invocations": {}, "calls": {}, "metrics": [], "log_bytes": 0, "rru": 0.0, "wru": 0.0,
              "vault_topic_publishes": vault_publishes.get(s, 0), "sns_deliveries": dict(deliveries.get(s, {})),
              "retry_batches": retry_batches.get(s, 0)} for s in range(SLOTS)]
    metrics_by_slot = [set() for _ in range(SLOTS)]
    log_sample: dict[str, list[str]] = {}
    for name in stack.functions:
        mine = [m for m in counted if m.function == name]
        usage = usage_total(m.usage for m in mine)
        active = sorted({m.slot for m in mine})
        cold = COLD_STARTS_PER_ACTIVE_HOUR * len(active)
        log_bytes = log_events = platform_bytes = platform_events = 0
        emf_lines = emf_bytes = 0
        messages = Counter()
        gzip_in = bytearray()
        for m in mine:
            lines = read_log(log_paths[name], m.log)
            documents = emf_documents(lines)
            for document in documents:
                metrics_by_slot[m.slot].update(emf_metrics(document))
            emf_lines += len(documents)
            emf_bytes += sum(len(line.encode()) for line in lines if '"_aws"' in line)
            for line in lines:
                try:
                    messages[json.loads(line).get("fields", {}).get("message", "(emf)" if '"_aws"' in line else "?")] += len(line) + 1
                except (json.JSONDecodeError, AttributeError):
                    messages["(not json)"] += len(line) + 1
            log_bytes += m.log[1] - m.log[0]
            log_events += len(lines)
            platform = platform_lines(name, m.billed_ms(), None)
            platform_bytes += sum(len(p) for p in platform)
            platform_events += len(platform)
            if len(gzip_in) < 4_000_000:
                gzip_in += "\n".join(lines + platform).encode() + b"\n"
            slot = slots[m.slot]
            slot["invocations"][name] = slot["invocations"].get(name, 0) + 1
            for call, count in m.usage.calls.items():
                slot["calls"][call] = slot["calls"].get(call, 0) + count
            slot["log_bytes"] += m.log[1] - m.log[0] + sum(len(p) for p in platform)
            slot["rru"] += sum(m.usage.rru.values())
            slot["wru"] += sum(m.usage.wru.values()) + sum(m.usage.gsi_wru.values())
            log_sample.setdefault(name, lines[:3])
        init_extra = platform_lines(name, 1, init_ms[name])[0]
        platform_bytes += cold * len(init_extra)
        platform_events += cold
        billed = sum(m.billed_ms() for m in mine)
        net = sum(m.net_billed_ms() for m in mine)
        gb = memory[name] / 1024
        functions[name] = {
            "invocations": len(mine), "failed": sum(1 for m in mine if not m.ok), "active_slots": active,
            "cold_starts": cold, "init_ms": round(init_ms[name], 3), "memory_mb": memory[name],
            "wall_ms": round(sum(m.wall for m in mine) * 1000, 3), "latency_ms": round(sum(m.latency_ms() for m in mine), 3),
            "billed_ms": billed, "net_billed_ms": net,
            "init_billed_ms": cold * math.ceil(init_ms[name]),
            "gb_seconds": (billed + cold * math.ceil(init_ms[name])) / 1000 * gb,
            "net_gb_seconds": (net + cold * math.ceil(init_ms[name])) / 1000 * gb,
            "usage": usage.as_dict(),
            "calls_by_service": dict(usage.by_service()),
            "log_bytes": log_bytes, "log_events": log_events, "platform_bytes": platform_bytes,
            "platform_events": platform_events, "emf_lines": emf_lines, "emf_bytes": emf_bytes,
            "log_bytes_by_message": dict(messages.most_common(12)),
            "gzip_ratio": (len(gzip.compress(bytes(gzip_in))) / len(gzip_in)) if gzip_in else 0.0,
            "slots": {str(s): sum(1 for m in mine if m.slot == s) for s in active},
            "calls_by_slot": {str(s): dict(usage_total(m.usage for m in mine if m.slot == s).calls) for s in active},
        }
    for slot, metrics in zip(slots, metrics_by_slot):
        slot["metrics"] = sorted(f"{ns}/{name}/" + ",".join(f"{k}={v}" for k, v in dims) for ns, name, dims in metrics)
        slot["metric_count"] = len(metrics)
    total = usage_total(m.usage for m in counted)
    alarms = alarm_metrics(metrics_by_slot)
    return {
        "n": n, "detail": detail, "binaries": str(binaries), "wall_seconds": round(wall, 1), "setup_seconds": round(setup, 1),
        "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit(),
        "scenario": {"slots": SLOTS, "night": list(NIGHT), "plan_share": PLAN_SHARE, "transient_share": TRANSIENT_SHARE,
                     "permanent_share": PERMANENT_SHARE, "lookback_hours": LOOKBACK_HOURS, "routes": ROUTES},
        "functions": functions,
        "slots": slots,
        "totals": {
            "usage": total.as_dict(),
            "metric_hours": sum(len(m) for m in metrics_by_slot),
            "distinct_metrics": len(set().union(*metrics_by_slot)),
            "vault_topic_publishes": sum(vault_publishes.get(s, 0) for s in range(SLOTS)),
            "sns_deliveries": dict(sum((Counter(d) for d in deliveries.values()), Counter())),
            "retry_batches": sum(retry_batches.values()),
        },
        "alarms": alarms,
        "sweeps": {str(k): {key: v.get(key) for key in ("scanned", "pages", "alreadyVerified", "detailsFilled", "repaired",
                                                         "retried", "alerted", "complete", "errors")}
                   for k, v in sorted(sweeps.items())},
        "log_sample": log_sample,
    }


def _commit() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return commit + (" (uncommitted changes)" if dirty else "")


# ---------------------------------------------------------------- Metrics Insights alarms
def insights_alarms() -> list[dict]:
    """template.yaml's alarms whose metric is a Metrics Insights query: name, function, metric,
    the SCHEMA's dimension names and the WHERE's Function, if any."""
    import re

    alarms = []
    for logical, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for metric in resource["Properties"].get("Metrics") or []:
            expression = metric.get("Expression")
            expression = expression if isinstance(expression, str) else (expression or [""])[0] if isinstance(expression, list) else ""
            match = re.search(r"SELECT\s+(\w+)\((\w+)\)\s+FROM\s+SCHEMA\(\"[^\"]*\",\s*([\w\s,]+)\)(?:\s+WHERE\s+Function\s*=\s*'(\w+)')?",
                              expression or "")
            if match:
                alarms.append({"alarm": logical, "statistic": match.group(1), "metric": match.group(2),
                               "dimensions": sorted(d.strip() for d in match.group(3).split(",")), "function": match.group(4)})
    return alarms


def standard_alarms() -> list[str]:
    """template.yaml's alarms on one metric, as deployed at its defaults (EventSource sns: no
    EventBridge silence alarm)."""
    return [logical for logical, resource in template()["Resources"].items()
            if resource["Type"] == "AWS::CloudWatch::Alarm" and not resource["Properties"].get("Metrics")
            and deployed_by_default(logical)]


def alarm_metrics(metrics_by_slot: list[set]) -> dict:
    """For each Metrics Insights alarm: the metrics its query analyzes in each hour (those of its
    metric name and exact dimension set, and function, with data in the last 3 hours: Metrics
    Insights queries the most recent 3 hours), and their mean over the day."""
    result = {}
    for alarm in insights_alarms():
        per_hour = []
        for slot in range(SLOTS):
            window = set().union(*(metrics_by_slot[(slot - k) % SLOTS] for k in range(3)))
            matching = {m for m in window if m[1] == alarm["metric"] and sorted(d for d, _ in m[2]) == alarm["dimensions"]
                        and (alarm["function"] is None or dict(m[2]).get("Function") == alarm["function"])}
            per_hour.append(len(matching))
        # Whether an hour whose query matches nothing is billed for any metric is not stated
        # (docs/aws-facts.md#billing): counted as one.
        billed = [max(1, k) for k in per_hour]
        result[alarm["alarm"]] = {**alarm, "per_hour": per_hour, "mean": sum(billed) / SLOTS}
    return result


# ---------------------------------------------------------------- KMS on the functions' behalf
def kms_on_behalf(counts: dict) -> dict[str, float]:
    """KMS requests SNS, SQS, DynamoDB, CloudWatch Logs and Lambda make with the stack's customer
    managed keys in a day, from each principal's activity per hour (docs/cost.md, Assumptions):
    SNS 2 per publishing principal and data key period, SQS 2 per producing and 1 per consuming
    principal and period, DynamoDB 1 per client connection and period with traffic, CloudWatch Logs
    1 per log stream and period (assumed), Lambda 1 Decrypt of the environment per cold start."""
    windows = lambda events: min(KEY_WINDOWS_PER_HOUR, events)
    requests = Counter()
    for slot in counts["slots"]:
        requests["SNS, vault topic (AWS Backup publishing)"] += 2 * windows(slot["vault_topic_publishes"])
        # The retry queue's consumer: Lambda's poller, under the retrier's role.
        requests["SQS, retry queue (consumer)"] += windows(slot["retry_batches"])
    for name, function in counts["functions"].items():
        connections = max(1, function["usage"]["peak_in_flight"].get("dynamodb", 1))
        for slot, calls in function["calls_by_slot"].items():
            # An invocation is a moment: the windows an hour's use needs are at most its
            # invocations (spread over the hour), and at most its requests.
            invocations = function["slots"][slot]
            publishes = calls.get("sns:Publish", 0)
            sends = calls.get("sqs:SendMessage", 0) + calls.get("sqs:SendMessageBatch", 0)
            ddb = sum(v for k, v in calls.items() if k.startswith("dynamodb:"))
            requests["SNS, alert topic (functions publishing)"] += 2 * windows(min(invocations, publishes))
            requests["SQS, retry queue (producers)"] += 2 * windows(min(invocations, sends))
            requests["DynamoDB, table key"] += connections * windows(min(invocations, ddb))
            requests["CloudWatch Logs, log streams (assumed)"] += windows(invocations)
        requests["Lambda, environment variables"] += function["cold_starts"]
    return {k: v for k, v in requests.items() if v}


# ---------------------------------------------------------------- daily quantities and prices
def daily_quantities(counts: dict) -> dict[str, float]:
    """What a day bills, by price item (bench/prices-us-east-1.json), plus the storage figures."""
    functions = counts["functions"]
    total = counts["totals"]["usage"]
    q = Counter()
    q["lambda_request"] = sum(f["invocations"] for f in functions.values())
    q["lambda_gb_second_arm"] = sum(f["gb_seconds"] for f in functions.values())
    q["net_lambda_gb_second_arm"] = sum(f["net_gb_seconds"] for f in functions.values())
    q["dynamodb_rru"] = sum(total["rru"].values())
    q["dynamodb_wru"] = sum(total["wru"].values()) + sum(total["gsi_wru"].values())
    q["dynamodb_gsi_wru"] = sum(total["gsi_wru"].values())
    sqs = sum(v for k, v in total["billed_requests"].items() if k.startswith("sqs:"))
    # Lambda's event source: a receive and a batch delete per retry batch it handed over.
    q["sqs_request"] = sqs + 2 * counts["totals"]["retry_batches"]
    alert_publishes = sum(total["sns_publishes"].values())
    q["sns_publish"] = sum(v for k, v in total["billed_requests"].items() if k.startswith("sns:")) + counts["totals"]["vault_topic_publishes"]
    q["sns_email_delivery"] = alert_publishes * ALERT_SUBSCRIBERS["email"]
    q["sns_https_delivery"] = alert_publishes * ALERT_SUBSCRIBERS["https"]
    q["sns_lambda_delivery"] = sum(counts["totals"]["sns_deliveries"].values())
    q["s3_put"] = total["s3_request_classes"].get("put_list", 0)
    q["s3_get"] = total["s3_request_classes"].get("get", 0)
    q["evidence_bytes"] = total["s3_put_bytes"]
    q["kms_request"] = sum(kms_on_behalf(counts).values()) + sum(v for k, v in total["calls"].items() if k.startswith("kms:"))
    logs = sum(f["log_bytes"] + f["platform_bytes"] + LOG_EVENT_OVERHEAD * (f["log_events"] + f["platform_events"])
               for f in functions.values())
    q["logs_ingested_gb"] = logs / 1e9
    ratio = _mean(f["gzip_ratio"] for f in functions.values() if f["gzip_ratio"])
    q["logs_stored_gb_steady"] = logs / 1e9 * log_retention_days() * ratio  # GB held at the retention, compressed
    q["metric_hours"] = counts["totals"]["metric_hours"]
    for alarm, figures in counts["alarms"].items():
        q[f"insights_metrics:{alarm}"] = figures["mean"]
    storage = counts["dynamodb_storage"]
    q["dynamodb_bytes_per_day"] = storage["table_bytes"] + storage["index_bytes"]
    q["dynamodb_items_per_day"] = storage["items"]
    return dict(q)


def load_prices() -> dict:
    return json.loads(PRICES.read_text())


def price(prices: dict, item: str) -> float:
    entry = prices["prices"][item]
    return entry["price"] / entry.get("per", 1)


def monthly_usage(q: dict[str, float], prices: dict) -> list[tuple[str, float]]:
    """The usage-based monthly charges of an account-region from its daily quantities."""
    m = DAYS_PER_MONTH
    lines = [
        ("Lambda requests", q["lambda_request"] * m * price(prices, "lambda_request")),
        ("Lambda duration (arm64 GB-s, init included)", q["lambda_gb_second_arm"] * m * price(prices, "lambda_gb_second_arm")),
        ("DynamoDB write request units", q["dynamodb_wru"] * m * price(prices, "dynamodb_wru")),
        ("DynamoDB read request units", q["dynamodb_rru"] * m * price(prices, "dynamodb_rru")),
        ("SQS requests", q["sqs_request"] * m * price(prices, "sqs_request")),
        ("SNS publishes (vault topic by AWS Backup, alerts)", q["sns_publish"] * m * price(prices, "sns_publish")),
        ("SNS alert deliveries (e-mail, chat HTTPS)", (q["sns_email_delivery"] * price(prices, "sns_email_delivery")
                                                       + q["sns_https_delivery"] * price(prices, "sns_https_delivery")) * m),
        ("S3 requests (evidence)", (q["s3_put"] * price(prices, "s3_put") + q["s3_get"] * price(prices, "s3_get")) * m),
        ("KMS requests (on the functions' behalf)", q["kms_request"] * m * price(prices, "kms_request")),
        ("CloudWatch Logs ingestion", q["logs_ingested_gb"] * m * price(prices, "logs_ingestion")),
        ("CloudWatch Logs storage (steady state, retention)", q["logs_stored_gb_steady"] * price(prices, "logs_storage")),
        ("CloudWatch custom metrics (EMF)", q["metric_hours"] * m / HOURS_PER_MONTH * price(prices, "custom_metric_month")),
    ]
    return lines


def fixed_monthly(q: dict[str, float], prices: dict) -> list[tuple[str, float, str]]:
    """The stack's standing monthly charges at its default parameters (with the evidence bucket's
    storage and the Metrics Insights alarms' analyzed metrics from the day's figures)."""
    lines = [
        ("Customer managed KMS keys (EventsKey, TrackingTableKey), first year", 2 * price(prices, "kms_key_month"),
         "2 keys; with automatic rotation each rotation's new key material adds $1/key-month (up to 2 more per key)"),
    ]
    if deployed_by_default("Dashboard"):
        lines.append(("Dashboard", price(prices, "dashboard_month"),
                      "one per stack and region (CreateDashboard, where the template has it); an account's first 3 are in the free tier"))
    for alarm in standard_alarms():
        lines.append((f"{alarm} (standard alarm)", price(prices, "alarm_standard_month"), "one metric"))
    for alarm in insights_alarms():
        analyzed = q.get(f"insights_metrics:{alarm['alarm']}", 0.0)
        lines.append((f"{alarm['alarm']} (Metrics Insights alarm)", analyzed * price(prices, "alarm_insights_metric_month"),
                      f"{analyzed:.2f} metrics analyzed on average"))
    evidence_gb = q["evidence_bytes"] * evidence_retention_days() / 1e9
    lines.append(("Evidence bucket storage (Object Lock, default retention)", evidence_gb * price(prices, "s3_storage_month"),
                  f"{q['evidence_bytes'] / 1e3:,.1f} KB a day x {evidence_retention_days()} days = {evidence_gb * 1000:,.2f} MB"))
    lines.append(("Retry queue's event source polling an idle queue", ESM_IDLE_RECEIVES_PER_MONTH * price(prices, "sqs_request"),
                  f"{ESM_IDLE_RECEIVES_PER_MONTH:,.0f} long-polling receives a month (assumed: 5 pollers, 20 s each)"))
    year = q["dynamodb_bytes_per_day"] * 365 / 1e9
    lines.append(("Tracking table storage after one year (no TTL: it keeps growing) and PITR", year * (
        price(prices, "dynamodb_storage_month") + price(prices, "dynamodb_pitr_month")),
        f"{q['dynamodb_bytes_per_day'] / 1e6:,.2f} MB a day (table and index) x 365 = {year:,.3f} GB"))
    return lines


# ---------------------------------------------------------------- fits
def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares a + b x."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0] if xs[0] else 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def solve(rows: list[list[float]], rhs: list[float]) -> list[float]:
    """Least squares for a small system (normal equations, Gaussian elimination)."""
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    b = [sum(r[i] * y for r, y in zip(rows, rhs)) for i in range(k)]
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(k):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
                b[r] -= f * b[col]
    return [b[i] / a[i][i] if abs(a[i][i]) > 1e-12 else 0.0 for i in range(k)]


def fitted(runs: list[dict]) -> dict:
    """Each daily quantity's fit a + b N over the runs (of one detail level), its per-backup rate at
    the largest N and how far the runs stray from the line."""
    ns = [r["n"] for r in runs]
    quantities = [daily_quantities(r) for r in runs]
    fits = {}
    for key in quantities[0]:
        ys = [q.get(key, 0.0) for q in quantities]
        a, b = linear_fit(ns, ys)
        worst = max((abs(a + b * n - y) / abs(y) for n, y in zip(ns, ys) if y), default=0.0)
        fits[key] = {"values": ys, "a": a, "b": b, "per_backup": ys[-1] / ns[-1], "max_relative_residual": worst}
    return {"n": ns, "fits": fits}


# Quantities that do not grow with the backups beyond what the largest run shows: metrics (their
# dimensions are bounded: function, destination region, member account; never a job) and KMS
# requests (at most one data key per principal per 5 minutes, already reached by the night's hours
# at the measured N). Modelled as their value at the largest N, not extrapolated.
BOUNDED = ("metric_hours", "insights_metrics:", "kms_request")


def at(fit: dict, n: float) -> dict[str, float]:
    return {key: f["values"][-1] if key.startswith(BOUNDED) else max(0.0, f["a"] + f["b"] * n)
            for key, f in fit["fits"].items()}


# ---------------------------------------------------------------- the organization view
CENTRAL_DR = "arn:aws:backup:us-west-2:444444444444:backup-vault:central-dr"


def run_org(members: int, backups: int, binaries: Path, detail: str) -> dict:
    """The management account's reconciler with ORGANIZATION_VIEW over `members` member accounts of
    `backups` backups each (one copy each to the central DR vault, 2% failed): two counted sweeps,
    then the one after midnight (which writes the organization's evidence)."""
    accounts = [f"{100000000000 + i * 1111:012d}" for i in range(1, members + 1)]
    env = {"ORGANIZATION_VIEW": "true", "ORGANIZATION_REQUIRED_DESTINATIONS": CENTRAL_DR,
           "RECONCILE_LOOKBACK_HOURS": str(LOOKBACK_HOURS)}
    with CostStack(detail, binaries=binaries, evidence=True, reconciler_env=env) as stack:
        stack.backup.set_organization(ACCOUNT, members=[*accounts, "444444444444"])
        stack.backup.create_vault("central-dr", region="us-west-2", account="444444444444")
        for i, account in enumerate(accounts):
            stack.backup.create_vault("app", account=account)
            stack.backup.bulk("app", backups, account=account, destinations=[CENTRAL_DR], seed=i,
                              states={"COMPLETED": 0.98, "FAILED": 0.02}, statusMessage=PERMANENT)
        stack.slot = -1
        stack.delivery.reconcile()
        runs = []
        for slot in (1, 2):
            stack.slot = slot
            outcome = stack.delivery.reconcile()
            assert outcome.ok, outcome.payload
            runs.append(outcome.payload)
        stack.slot = 0
        midnight = next_midnight(datetime.now(timezone.utc)) + timedelta(minutes=10)
        last = stack.delivery.reconcile(midnight.timestamp())
        counts = collect(stack, members * backups, detail, binaries, 0.0, 0.0, {}, {}, {}, {})
        sweeps = [m for m in stack.measured if m.function == "reconciler" and m.slot in (1, 2)]
        metrics = set()
        for m in sweeps:
            for document in emf_documents(read_log(stack.functions["reconciler"].log_path, m.log)):
                metrics.update(emf_metrics(document))
        per_account = {metric for metric in metrics if any(d == "AccountId" for d, _ in metric[2])}
        usage = usage_total(m.usage for m in sweeps)
        return {
            "members": members, "backups_per_member": backups, "detail": detail,
            "per_sweep": {
                "wall_ms": sum(m.wall for m in sweeps) * 1000 / len(sweeps),
                "billed_ms": sum(m.billed_ms() for m in sweeps) / len(sweeps),
                "calls": {k: v / len(sweeps) for k, v in usage.calls.items()},
                "rru": sum(usage.rru.values()) / len(sweeps), "wru": (sum(usage.wru.values()) + sum(usage.gsi_wru.values())) / len(sweeps),
                "log_bytes": sum(m.log[1] - m.log[0] for m in sweeps) / len(sweeps),
                "log_events": sum(len(read_log(stack.functions["reconciler"].log_path, m.log)) for m in sweeps) / len(sweeps),
                "metrics": len(metrics), "per_account_metrics": len(per_account),
            },
            "per_account_metric_names": sorted({name for _, name, _ in per_account}),
            "organization_accounts_reported": len((runs[-1].get("organization") or {}).get("accounts", [])),
            "evidence": last.payload.get("evidence", []),
            "evidence_put_bytes": counts["functions"]["reconciler"]["usage"]["s3_put_bytes"],
        }


# ---------------------------------------------------------------- reports
def money(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.995 else f"${x:,.4f}" if x >= 0.00005 else ("$0" if x == 0 else f"${x:.1e}")


def print_counts(counts: dict) -> None:
    print(f"\n  N={counts['n']} METRICS_DETAIL={counts['detail']}: {counts['wall_seconds']} s wall "
          f"(+{counts['setup_seconds']} s setup); outcome {counts['outcome']['copy_jobs']}, {counts['outcome']['alerts']} alerts, "
          f"evidence {[(e['day'], e['rows']) for e in counts['outcome']['evidence']]}")
    print(f"  {'function':<11}{'invocations':>12}{'cold':>6}{'GB-s':>9}{'billed ms':>11}{'log KB':>9}  AWS calls")
    for name, f in counts["functions"].items():
        calls = ", ".join(f"{k} {v}" for k, v in sorted(f["usage"]["calls"].items()))
        print(f"  {name:<11}{f['invocations']:>12}{f['cold_starts']:>6}{f['gb_seconds']:>9.2f}{f['billed_ms']:>11}"
              f"{(f['log_bytes'] + f['platform_bytes']) / 1024:>9.1f}  {calls}")
    total = counts["totals"]["usage"]
    print(f"  DynamoDB: {sum(total['rru'].values()):,.1f} RRU {dict(total['rru'])}, "
          f"{sum(total['wru'].values()):,} WRU {dict(total['wru'])} + {sum(total['gsi_wru'].values()):,} index WRU; "
          f"{total['failed_conditions']} failed conditions; table at day end "
          f"{counts['dynamodb_storage']['items']} items, {counts['dynamodb_storage']['table_bytes'] / 1e6:.2f} MB "
          f"+ index {counts['dynamodb_storage']['index_bytes'] / 1e6:.2f} MB")
    print(f"  SNS: {counts['totals']['vault_topic_publishes']} vault topic publishes, alerts {total['sns_publishes']}, "
          f"deliveries to Lambda {counts['totals']['sns_deliveries']}; SQS sends {total['sqs_sends']}, "
          f"retry batches {counts['totals']['retry_batches']}; S3 {total['s3_request_classes']} {total['s3_put_bytes']:,} bytes")
    print(f"  metrics: {counts['totals']['metric_hours']} metric-hours, {counts['totals']['distinct_metrics']} distinct; "
          f"alarms analyze " + ", ".join(f"{k} {v['mean']:.2f}" for k, v in counts["alarms"].items()))
    print(f"  {'slot':>4}{'invocations':>13}{'AWS calls':>11}{'RRU':>9}{'WRU':>7}{'metrics':>9}{'log KB':>9}")
    for slot in counts["slots"]:
        print(f"  {slot['slot']:>4}{sum(slot['invocations'].values()):>13}{sum(slot['calls'].values()):>11}"
              f"{slot['rru']:>9.1f}{slot['wru']:>7.0f}{slot['metric_count']:>9}{slot['log_bytes'] / 1024:>9.1f}")


def usage_table(rows: list[tuple[str, dict[str, float]]], columns: list[str]) -> str:
    lines = ["| component | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows:
        lines.append(f"| {name} | " + " | ".join(money(values[c]) for c in columns) + " |")
    return "\n".join(lines)


def model(by_detail: dict[str, list[dict]], org: dict[str, list[dict]], prices: dict) -> dict:
    """Monthly figures per account-region (1,000 and 10,000 backups a day, per detail level), and the
    organization's."""
    result = {"account_region": {}, "fits": {}, "org": {}}
    for detail, runs in by_detail.items():
        fit = fitted(sorted(runs, key=lambda r: r["n"]))
        result["fits"][detail] = fit
        for n in MODEL_BACKUPS:
            q = at(fit, n)
            usage = monthly_usage(q, prices)
            fixed = fixed_monthly(q, prices)
            result["account_region"][f"{n}-{detail}"] = {
                "backups_per_day": n, "detail": detail, "quantities": q,
                "usage": dict(usage), "usage_total": sum(v for _, v in usage),
                "fixed": {name: v for name, v, _ in fixed}, "fixed_notes": {name: note for name, _, note in fixed},
                "fixed_total": sum(v for _, v, _ in fixed),
            }
    result["org"] = {detail: organization_model(runs, result, prices) for detail, runs in org.items() if runs}
    return result


def org_backup_calls(members: float, backups: float, page: int = RECONCILE_PAGE_SIZE) -> dict[str, float]:
    """AWS Backup calls of one organization-view sweep (besides the management account's own sweep,
    one page of each listing): ListBackupJobs over the organization (ByAccountId *) in pages, each
    member's ListCopyJobs in pages (one copy per backup), and one ListCopyJobSummaries."""
    return {"backup:ListBackupJobs": 1 + math.ceil(members * backups / page),
            "backup:ListCopyJobs": 1 + members * math.ceil(backups / page), "backup:ListCopyJobSummaries": 1}


def organization_model(org: list[dict], result: dict, prices: dict) -> dict:
    """100 member accounts x 3 regions at 1,000 backups a day each, plus the management account's
    organization view in each region. The view's sweep: its local time, log bytes and evidence bytes
    fitted as a + b M + c M B over the measured runs (M members, B backups each in the window), its
    AWS Backup calls by their pages (org_backup_calls), taken at M = 100 and B = 3 days of backups
    (the 72-hour window); its per-member metrics per member."""
    detail = org[0]["detail"]
    rows = [[1.0, r["members"], r["members"] * r["backups_per_member"]] for r in org]
    members, backups = ORG_ACCOUNTS, ORG_BACKUPS_PER_DAY * LOOKBACK_HOURS / 24
    point = [1.0, members, members * backups]

    def fit(values: list[float], x: list[float]) -> float:
        return max(0.0, sum(c * v for c, v in zip(solve(rows, values), x)))

    local_ms = fit([r["per_sweep"]["wall_ms"] for r in org], point)
    calls = {k: v for k, v in org[-1]["per_sweep"]["calls"].items() if not k.startswith("backup:")}
    calls.update(org_backup_calls(members, backups))
    latency = sum(LATENCY_MS.get(k.split(":", 1)[0], DEFAULT_LATENCY_MS) * v for k, v in calls.items())
    billed_ms = local_ms + latency
    log_bytes = fit([r["per_sweep"]["log_bytes"] for r in org], point)
    log_events = fit([r["per_sweep"]["log_events"] for r in org], point)
    per_member_metrics = org[-1]["per_sweep"]["per_account_metrics"] / org[-1]["members"]
    # The rest of the sweeps' metrics (the organization's totals, the management account's own) do
    # not grow with the members.
    other_metrics = org[-1]["per_sweep"]["metrics"] - org[-1]["per_sweep"]["per_account_metrics"]
    # The organization's evidence: one day's rows (M x backups a day) once a day.
    evidence_rows = [[1.0, r["members"] * r["backups_per_member"]] for r in org]
    evidence = solve(evidence_rows, [r["evidence_put_bytes"] for r in org])
    evidence_day = max(0.0, evidence[0] + evidence[1] * members * ORG_BACKUPS_PER_DAY)
    mem = memory_mb()["reconciler"] / 1024
    sweeps = 24 * DAYS_PER_MONTH
    view = {
        "Lambda (hourly organization sweeps)": sweeps * price(prices, "lambda_request")
        + billed_ms / 1000 * mem * sweeps * price(prices, "lambda_gb_second_arm"),
        "CloudWatch Logs ingestion": (log_bytes + LOG_EVENT_OVERHEAD * log_events) * sweeps / 1e9 * price(prices, "logs_ingestion"),
        "Metrics (per member account, and the totals)": (per_member_metrics * members + other_metrics) * 24 * DAYS_PER_MONTH
        / HOURS_PER_MONTH * price(prices, "custom_metric_month"),
        "Organization evidence (S3 PUTs; storage at the retention)": 4 * DAYS_PER_MONTH * price(prices, "s3_put")
        + evidence_day * evidence_retention_days() / 1e9 * price(prices, "s3_storage_month"),
    }
    member = result["account_region"].get(f"{ORG_BACKUPS_PER_DAY}-{detail}")
    stacks = ORG_ACCOUNTS * ORG_REGIONS
    dashboard = member["fixed"].get("Dashboard", 0.0)
    return {
        "member_fixed_without_dashboards": (member["fixed_total"] - dashboard) * stacks,
        "total_without_member_dashboards": (member["usage_total"] + member["fixed_total"] - dashboard) * stacks
        + (sum(view.values()) + member["fixed_total"]) * ORG_REGIONS,
        "detail": detail, "members": members, "regions": ORG_REGIONS, "backups_in_window": backups,
        "per_sweep": {"local_ms": local_ms, "billed_ms": billed_ms, "calls": calls, "log_bytes": log_bytes},
        "per_member_metrics": per_member_metrics, "view_per_region": view, "evidence_bytes_per_day": evidence_day,
        "sweep_seconds": billed_ms / 1000,
        "member_stacks": stacks, "member_usage": member["usage_total"] * stacks, "member_fixed": member["fixed_total"] * stacks,
        "view_usage": sum(view.values()) * ORG_REGIONS, "management_fixed": member["fixed_total"] * ORG_REGIONS,
        "total": (member["usage_total"] + member["fixed_total"]) * stacks + (sum(view.values()) + member["fixed_total"]) * ORG_REGIONS,
    }


def figures_markdown(runs: list[dict], org: dict[str, list[dict]], result: dict, prices: dict, wall: float) -> str:
    details = sorted(result["fits"], key=lambda d: (d != "essential", d))
    out = []
    largest = max(r["n"] for r in runs)
    head = max(runs, key=lambda r: (r["n"], r["detail"]))
    out.append(f"Measured by `scripts/cost` (`bench/cost_bench.py`) on {head['measured_at']}, commit `{head['commit']}`, "
               f"binaries `{Path(head['binaries']).relative_to(ROOT) if Path(head['binaries']).is_absolute() else head['binaries']}`, "
               f"{os.cpu_count()} cores ({platform.machine()}); {len(runs)} runs "
               f"(N = {', '.join(str(n) for n in sorted({r['n'] for r in runs}))} x METRICS_DETAIL "
               f"{', '.join(details)}) and {sum(map(len, org.values()))} organization-view runs in {wall / 60:.1f} min. Prices: "
               f"`bench/prices-us-east-1.json`, read {prices['read_on']}; free tiers ignored.")
    built = sorted({seen.split(",")[0] for r in runs for seen in r.get("binaries_seen", {}).values()})
    out.append("")
    out.append(f"The binaries were built {', '.join(built)}"
               + (" (a debug build: its durations are longer than the release build's; the counts of requests and "
                  "bytes do not depend on the build)" if "debug" in str(head["binaries"]) else "") + ".")
    changed = [f"N={r['n']} {r['detail']}" for r in runs if r.get("binaries_changed")]
    if changed:
        out.append(f"**The binaries changed during the runs {', '.join(changed)}: measure again.**")
    out.append("")
    # Headline.
    out.append("### Usage-based charges per account-region per month")
    out.append("")
    columns = [f"{n:,}/day {d}" for n in MODEL_BACKUPS for d in details]
    keys = {f"{n:,}/day {d}": f"{n}-{d}" for n in MODEL_BACKUPS for d in details}
    names = list(result["account_region"][keys[columns[0]]]["usage"])
    rows = [(name, {c: result["account_region"][keys[c]]["usage"][name] for c in columns}) for name in names]
    rows.append(("**usage-based total**", {c: result["account_region"][keys[c]]["usage_total"] for c in columns}))
    out.append(usage_table(rows, columns))
    out.append("")
    for d in details:
        one = result["account_region"][f"1000-{d}"]
        top = max(one["usage"].items(), key=lambda kv: kv[1])
        verdict = "under" if one["usage_total"] < 1 else "**over**"
        out.append(f"- `{d}`, 1,000 backups a day: {money(one['usage_total'])} a month, {verdict} the US$1 goal; "
                   f"the largest component is {top[0]} ({money(top[1])}, {top[1] / one['usage_total'] * 100:.0f}%).")
    out.append("")
    for d in details:
        largest_run = max((r for r in runs if r["detail"] == d), key=lambda r: r["n"])
        hours = Counter(m for slot in largest_run["slots"] for m in slot["metrics"])
        out.append(f"- The metrics `{d}` writes (N = {largest_run['n']:,}), hours a day each: "
                   + ", ".join(f"{name.split('/', 1)[1]} {h}" for name, h in hours.most_common()) + ".")
    out.append("")
    out.append("Each figure is a fit a + b·N of the day's counts over the measured N (next table), times 30.4 days; "
               "10,000 backups a day is an extrapolation of the fit. Logs storage is the steady state at the "
               f"template's {log_retention_days()}-day retention. Lambda duration follows the Assumptions' model (local wall time + "
               "calls x latency); without the local stand-ins' own time it would be "
               + ", ".join(f"{money(result['account_region'][f'1000-{d}']['quantities']['net_lambda_gb_second_arm'] * DAYS_PER_MONTH * price(prices, 'lambda_gb_second_arm'))}"
                           f" (`{d}`, 1,000/day)" for d in details) + ".")
    out.append("")
    out.append("### Organization: 100 member accounts x 3 regions, 1,000 backups a day each")
    out.append("")
    orgs = result.get("org") or {}
    if orgs:
        ds = sorted(orgs, key=lambda d: (d != "essential", d))
        out.append("| part | " + " | ".join(f"`{d}`" for d in ds) + " |\n|---" * 1 + "|---" * len(ds) + "|")
        parts = [("member_usage", f"{ORG_ACCOUNTS * ORG_REGIONS} member stacks, usage-based"),
                 ("member_fixed", f"{ORG_ACCOUNTS * ORG_REGIONS} member stacks, fixed charges"),
                 ("view_usage", f"the management account's organization view, {ORG_REGIONS} regions (usage)"),
                 ("management_fixed", f"the management account's {ORG_REGIONS} stacks, fixed charges")]
        for key, label in parts:
            out.append(f"| {label} | " + " | ".join(money(orgs[d][key]) for d in ds) + " |")
        out.append("| **organization total** | " + " | ".join(f"**{money(orgs[d]['total'])}**" for d in ds) + " |")
        out.append("| organization total, member stacks without their dashboards | "
                   + " | ".join(money(orgs[d]["total_without_member_dashboards"]) for d in ds) + " |")
        out.append("")
        for d in ds:
            o = orgs[d]
            out.append(f"- `{d}`: the organization view per region and month: " + ", ".join(f"{k} {money(v)}" for k, v in o["view_per_region"].items())
                       + f". Per sweep at {o['members']} members with {o['backups_in_window']:,.0f} backups each in the "
                       f"{LOOKBACK_HOURS}-hour window: {o['sweep_seconds']:,.1f} s modelled duration"
                       + (" (**over the reconciler's 300 s timeout**: the sweep would continue from its cursor over several runs)"
                          if o["sweep_seconds"] > 300 else "")
                       + f", {sum(v for k, v in o['per_sweep']['calls'].items() if k.startswith('backup:')):,.0f} AWS Backup calls "
                       f"(listing pages), {o['per_member_metrics']:.1f} metrics per member account per sweep; the organization's "
                       f"daily evidence {o['evidence_bytes_per_day'] / 1e6:,.0f} MB.")
        out.append("")
        out.append("| measured run | per sweep: local ms | modelled ms | AWS Backup calls (by the page model) | log bytes | metrics (per account) |\n|---|---|---|---|---|---|")
        for d in ds:
            for r in org[d]:
                s_ = r["per_sweep"]
                modelled = sum(org_backup_calls(r["members"], r["backups_per_member"]).values())
                out.append(f"| `{d}`, {r['members']} members x {r['backups_per_member']} backups | {s_['wall_ms']:,.0f} | {s_['billed_ms']:,.0f} | "
                           f"{sum(v for k, v in s_['calls'].items() if k.startswith('backup:')):,.0f} ({modelled}) | {s_['log_bytes']:,.0f} | "
                           f"{s_['metrics']} ({s_['per_account_metrics']}{': ' + ', '.join(r['per_account_metric_names']) if r['per_account_metric_names'] else ''}) |")
        out.append("")
    # Daily counts and linearity.
    out.append(f"### The measured day: counts, per-backup rates and linearity")
    out.append("")
    for d in details:
        fit = result["fits"][d]
        out.append(f"`METRICS_DETAIL={d}`, N = {', '.join(map(str, fit['n']))}:")
        out.append("")
        out.append("| daily count | " + " | ".join(f"N={n}" for n in fit["n"]) + " | per backup (N=" + str(largest)
                   + ") | fit a + b·N | max deviation from the fit |")
        out.append("|---" * (len(fit["n"]) + 4) + "|")
        for key, f in fit["fits"].items():
            if key.startswith("net_"):
                continue
            out.append(f"| {key} | " + " | ".join(_num(v) for v in f["values"]) + f" | {_num(f['per_backup'])} | "
                       f"{_num(f['a'])} + {_num(f['b'])}·N | {f['max_relative_residual'] * 100:.1f}% |")
        out.append("")
    # Per function.
    out.append(f"Per function at N = {largest} (`{head['detail']}`):")
    out.append("")
    out.append("| function | invocations | cold starts (init ms) | billed ms | GB-s | AWS calls | log bytes (own + platform) |")
    out.append("|---|---|---|---|---|---|---|")
    for name, f in head["functions"].items():
        calls = ", ".join(f"{k} {v:,}" for k, v in sorted(f["usage"]["calls"].items()))
        out.append(f"| {name} | {f['invocations']:,} | {f['cold_starts']} ({f['init_ms']:.1f}) | {f['billed_ms']:,} | "
                   f"{f['gb_seconds']:.2f} | {calls} | {f['log_bytes']:,} + {f['platform_bytes']:,} |")
    out.append("")
    out.append(f"Per hour at N = {largest} (`{head['detail']}`; hours 1-4 hold the night's backups, the sweep of hour 0 "
               "writes the evidence):")
    out.append("")
    out.append("| hour | invocations (copier, tracker, retrier, reconciler) | AWS calls | RRU | WRU | metrics | log KB |")
    out.append("|---|---|---|---|---|---|---|")
    quiet = None
    for slot in head["slots"]:
        inv = slot["invocations"]
        row = (f"{inv.get('copier', 0)}, {inv.get('tracker', 0)}, {inv.get('retrier', 0)}, {inv.get('reconciler', 0)} | "
               f"{sum(slot['calls'].values()):,} | {slot['rru']:,.0f} | {slot['wru']:,.0f} | {slot['metric_count']} | "
               f"{slot['log_bytes'] / 1024:,.1f} |")
        if slot["slot"] > max(NIGHT) + 1:
            if quiet is None:
                quiet = row
                out.append(f"| {slot['slot']}-{SLOTS - 1} (each) | " + row)
            continue
        out.append(f"| {slot['slot']} | " + row)
    out.append("")
    out.append("DynamoDB at N = %d, by function: " % largest + "; ".join(
        f"{name} " + ", ".join([f"{op} {v:,.0f} RRU" for op, v in f["usage"]["rru"].items()]
                               + [f"{op} {v:,} WRU" for op, v in f["usage"]["wru"].items() if v]
                               + [f"index {sum(f['usage']['gsi_wru'].values()):,} WRU"] * bool(sum(f["usage"]["gsi_wru"].values())))
        for name, f in head["functions"].items() if f["usage"]["rru"] or f["usage"]["wru"]) + ".")
    out.append("")
    kms = kms_on_behalf(head)
    out.append("KMS requests on the functions' behalf in that day (model): " + ", ".join(f"{k} {v:,.0f}" for k, v in kms.items()) + ".")
    out.append("")
    out.append("Where the log bytes go (the largest messages, N = %d): " % largest + "; ".join(
        f"{name}: " + ", ".join(f"{msg!r} {b / 1024:,.0f} KB" for msg, b in list(f["log_bytes_by_message"].items())[:3])
        for name, f in head["functions"].items()) + ".")
    out.append("")
    return "\n".join(out)


def fixed_markdown(result: dict, prices: dict) -> str:
    lines = ["| item | 1,000/day | 10,000/day | how |", "|---|---|---|---|"]
    details = sorted(result["fits"], key=lambda d: (d != "essential", d))
    d = "essential" if "essential" in details else details[0]
    one, ten = result["account_region"][f"1000-{d}"], result["account_region"][f"10000-{d}"]
    for name in one["fixed"]:
        lines.append(f"| {name} | {money(one['fixed'][name])} | {money(ten['fixed'][name])} | {one['fixed_notes'][name]} |")
    lines.append(f"| **fixed total** | **{money(one['fixed_total'])}** | **{money(ten['fixed_total'])}** | |")
    return "\n".join(lines)


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.3g}"


def write_doc(figures: str, fixed: str) -> None:
    document = DOC.read_text()
    for begin, end, body in ((FIGURES_BEGIN, FIGURES_END, figures), (FIXED_BEGIN, FIXED_END, fixed)):
        if begin not in document or end not in document:
            raise RuntimeError(f"{DOC} lacks the markers {begin} ... {end}")
        head, rest = document.split(begin, 1)
        _, tail = rest.split(end, 1)
        document = head + begin + "\n" + body.rstrip("\n") + "\n" + end + tail
    DOC.write_text(document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backups", default="250,500,1000", help="backups a day to run, comma-separated")
    parser.add_argument("--detail", default="essential,detailed", help="METRICS_DETAIL values, comma-separated")
    parser.add_argument("--binaries", type=Path, default=ROOT / "target" / "release")
    parser.add_argument("--org-members", default="3,5", help="member accounts of the organization-view runs ('' for none)")
    parser.add_argument("--org-backups", default="40,120", help="backups per member account of those runs")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/cost.md")
    args = parser.parse_args(argv)
    binaries = args.binaries if args.binaries.is_absolute() else (Path.cwd() / args.binaries)
    ns = [int(x) for x in args.backups.split(",") if x]
    details = [d for d in args.detail.split(",") if d]
    OUT.mkdir(parents=True, exist_ok=True)
    prices = load_prices()
    started = time.monotonic()
    by_detail: dict[str, list[dict]] = defaultdict(list)
    runs = []
    for n in ns:
        for detail in details:
            print(f"day: {n} backups, METRICS_DETAIL={detail}, binaries {binaries}", flush=True)
            counts = run_day(n, detail, binaries, progress=print)
            (OUT / f"counts-{n}-{detail}.json").write_text(json.dumps(counts, indent=1, default=list))
            print_counts(counts)
            by_detail[detail].append(counts)
            runs.append(counts)
    org: dict[str, list[dict]] = {}
    org_members = [int(x) for x in args.org_members.split(",") if x]
    org_backups = [int(x) for x in args.org_backups.split(",") if x]
    if org_members:
        # Enough runs to fit a + b M + c M B: the members varied at the first size, then the size.
        plan_ = [(org_members[0], org_backups[0])] + [(m, org_backups[0]) for m in org_members[1:]] \
                + [(org_members[-1], b) for b in org_backups[1:]]
        for detail in details:
            org[detail] = []
            for members, backups in plan_:
                print(f"organization view: {members} members x {backups} backups, METRICS_DETAIL={detail}", flush=True)
                org[detail].append(run_org(members, backups, binaries, detail))
                print(f"  per sweep: {json.dumps({k: v for k, v in org[detail][-1]['per_sweep'].items() if k != 'calls'})}", flush=True)
        (OUT / "org.json").write_text(json.dumps(org, indent=1))
    wall = time.monotonic() - started
    result = model(by_detail, org, prices)
    (OUT / "model.json").write_text(json.dumps(result, indent=1, default=list))
    figures = figures_markdown(runs, org, result, prices, wall)
    fixed = fixed_markdown(result, prices)
    print("\n" + figures + "\n\nFixed monthly charges per stack:\n" + fixed)
    print(f"\ntotal wall time {wall:.0f} s ({wall / 60:.1f} min)")
    if not args.no_docs:
        write_doc(figures, fixed)
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
