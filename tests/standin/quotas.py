"""AWS Backup's quotas (/_standin/quotas): request rates per operation and the concurrent copy
job caps."""

from __future__ import annotations

import threading
import time
from collections import Counter

from standin.common import ACCOUNT, TERMINAL, VAULT_ARN, ApiError, derive_category, invalid

class Quotas:
    """AWS Backup's quotas, switched on through /_standin/quotas (docs/aws-facts.md, Service quotas
    and Quotas under a burst): request rates per operation (token buckets; beyond them
    ThrottlingException "Rate exceeded", HTTP 400) and the concurrent copy quotas, combined as
    docs/aws-facts.md presumes (AWS does not say how its entries combine). A copy job starts when
      * its resource (ResourceArn) has fewer than `perResource` backup or copy jobs running (AWS: 1),
        for a copy within the resource's account; a cross-account copy has instead at most
        `crossAccountPerResourceAndRegion` cross-account copies of its resource running to its
        destination region (AWS: 30), and
      * its account has fewer than `perDestinationRegion` copies running to the destination region
        (AWS: 100), OR, once that is reached, its destination vault fewer than `perDestinationVault`
        (AWS: 5, "after the limit (entry above) has been reached"). A vault cap without a region cap
        limits alone (as if the region's were always reached), a region cap without a vault cap too.
    Only RUNNING copy jobs (and RUNNING backup jobs, for the per-resource cap) occupy a slot (AWS
    limits running copies; a copy job that waits stays CREATED); parent jobs of composite copies do
    no copying of their own and take none. Without a configuration nothing is limited and the
    stand-in behaves as it always did."""

    LIMIT_MESSAGE = "There are too many copy jobs running for resource."  # [DASH], docs/aws-facts.md
    MODES = ("wait", "refuse", "fail")
    # The copyJobs keys and, for the per-resource ones, their defaults (AWS's figures) whenever a
    # copyJobs configuration is given; an explicit null switches one off.
    CAP_KEYS = {"vault": "perDestinationVault", "region": "perDestinationRegion", "resource": "perResource",
                "crossAccount": "crossAccountPerResourceAndRegion"}
    DEFAULTS = {"resource": 1, "crossAccount": 30}
    PEAKS = {"vault": "vaults", "region": "regions", "resource": "resources", "crossAccount": "crossAccount"}

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.configure({})
        self.throttled: Counter = Counter()
        self.peaks: dict[str, dict[str, int]] = {name: {} for name in self.PEAKS.values()}
        self.refused = 0
        self.waited: set[str] = set()  # ids of copy jobs that waited for a slot at least once
        self.failed = 0
        # By the cap that held a job back: {"refused"|"waited"|"failed": {kind: n}} (a waiting job
        # counted once per kind).
        self.limited_by: dict[str, Counter] = {"refused": Counter(), "waited": Counter(), "failed": Counter()}
        self.waited_by: set[tuple[str, str]] = set()
        # Unfinished, non-parent copy jobs by limited key (job id -> job). Entries are added when a
        # job is created or moves, and dropped when read once the job has ended (or turned parent),
        # so a path that sets a state without telling (bulk seeding) cannot leave a stale slot.
        self.active: dict[tuple, dict[str, dict]] = {}
        # RUNNING backup jobs by resource ARN (a backup job's state never moves in the stand-in).
        self.running_backups: Counter = Counter()

    def configure(self, spec: dict) -> None:
        """Control: /_standin/quotas. The body replaces the whole configuration; {} removes every
        quota. Buckets start full; the manual clock starts at 0."""
        rates = {}
        for operation, rate in (spec.get("rates") or {}).items():
            try:
                rates[operation] = (float(rate["perSecond"]), float(rate["burst"]))
            except (TypeError, KeyError, ValueError):
                rates[operation] = (-1.0, -1.0)
            if min(rates[operation]) < 0:
                raise invalid(f"rates.{operation} needs numbers perSecond >= 0 and burst >= 0", "quotas")
        copies = spec.get("copyJobs")
        configured = isinstance(copies, dict)
        copies = copies if configured else {}
        mode = copies.get("onLimit", "wait")
        if mode not in self.MODES:
            raise invalid(f"copyJobs.onLimit must be one of {', '.join(self.MODES)}", "quotas")
        caps = {kind: copies.get(key, self.DEFAULTS.get(kind)) if configured else None
                for kind, key in self.CAP_KEYS.items()}
        if any(cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1) for cap in caps.values()):
            raise invalid("copyJobs caps must be positive integers (or null: none)", "quotas")
        with self.lock:
            self.rates = rates
            self.manual = bool(spec.get("manualClock"))
            self.manual_now = 0.0
            self.buckets: dict[str, list[float]] = {}  # operation -> [tokens, at]
            self.caps = {kind: cap for kind, cap in caps.items() if cap is not None}
            self.mode = mode
            self.message = copies.get("statusMessage") or self.LIMIT_MESSAGE
            self.category = copies.get("messageCategory") or derive_category(self.message)

    def clock(self) -> float:
        return self.manual_now if self.manual else time.monotonic()

    def tick(self, seconds: float) -> dict:
        """Control: /_standin/quotas/clock, moves the manual clock forward."""
        with self.lock:
            if not self.manual:
                raise invalid("the quota clock is real time; configure manualClock to move it", "quotas/clock")
            if seconds < 0:
                raise invalid("the clock never goes back", "quotas/clock")
            self.manual_now += seconds
            return {"now": self.manual_now}

    # ------------------------------------------------------------------ request rates
    def admit(self, operation: str) -> None:
        """Takes a token of `operation`'s bucket ("*": every operation without its own), or raises
        AWS's throttling error. Each operation has a bucket of its own."""
        with self.lock:
            rate = self.rates.get(operation, self.rates.get("*"))
            if rate is None:
                return
            per_second, burst = rate
            now = self.clock()
            tokens, at = self.buckets.get(operation, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_second)
            if tokens >= 1:
                self.buckets[operation] = [tokens - 1, now]
                return
            self.buckets[operation] = [tokens, now]
            self.throttled[operation] += 1
        # The generic AWS throttling error (not in the Backup model): HTTP 400, ThrottlingException,
        # "Rate exceeded" (docs/aws-facts.md, Service quotas).
        raise ApiError(400, "ThrottlingException", "Rate exceeded")

    # ------------------------------------------------------------------ concurrent copy jobs
    @staticmethod
    def keys(job: dict) -> dict[str, tuple]:
        """The limited keys a copy job counts against, by kind: its destination vault; its account
        with the destination region (the quota is per account outbound to a destination region);
        and its resource: within its account ("resource": backup and copy jobs of that resource),
        or, copied to another account, with the destination region ("crossAccount")."""
        destination = job.get("DestinationBackupVaultArn") or ""
        match = VAULT_ARN.match(destination)
        region, owner = (match.group(1), match.group(2)) if match else ("?", "?")
        account = job.get("AccountId") or ACCOUNT
        keys = {"vault": ("vault", destination), "region": ("region", f"{account}/{region}")}
        resource = job.get("ResourceArn")
        if resource:
            keys["resource" if owner == account else "crossAccount"] = (
                ("resource", resource) if owner == account else ("crossAccount", f"{resource} -> {region}"))
        return keys

    def capped(self) -> bool:
        return bool(self.caps)

    def track(self, job: dict) -> None:
        """Called whenever a copy job is created or moves."""
        if job.get("IsParent") or job.get("State") in TERMINAL:
            for key in self.keys(job).values():
                self.active.get(key, {}).pop(job.get("CopyJobId"), None)
            return
        for key in self.keys(job).values():
            self.active.setdefault(key, {})[job["CopyJobId"]] = job

    def track_backup(self, job: dict) -> None:
        """Called when a backup job is created: a RUNNING one occupies its resource."""
        if job.get("State") == "RUNNING" and not job.get("IsParent"):
            self.running_backups[job["ResourceArn"]] += 1

    def counts(self, states: tuple[str, ...] = ("RUNNING",)) -> Counter:
        """Unfinished non-parent copy jobs in `states`, by key (ended ones are dropped here), and
        the RUNNING backup jobs under their resource's key."""
        result = Counter()
        for key, jobs in self.active.items():
            for job_id, job in list(jobs.items()):
                if job.get("IsParent") or job.get("State") in TERMINAL:
                    del jobs[job_id]
                elif job.get("State") in states:
                    result[key] += 1
        for resource, n in self.running_backups.items():
            result[("resource", resource)] += n
        return result

    def blocked_by(self, keys: dict[str, tuple], counts: Counter) -> str | None:
        """The kind of cap that keeps a job with `keys` from starting ("resource", "crossAccount",
        "region", "vault"), or None when it may start: its resource's cap first, then the region's
        OR, once that is reached, the vault's."""
        for kind in ("resource", "crossAccount"):
            if kind in keys and kind in self.caps and counts[keys[kind]] >= self.caps[kind]:
                return kind
        region_cap, vault_cap = self.caps.get("region"), self.caps.get("vault")
        if region_cap is None and vault_cap is None:
            return None
        if region_cap is not None and counts[keys["region"]] < region_cap:
            return None
        if vault_cap is not None and counts[keys["vault"]] < vault_cap:
            return None
        return "vault" if vault_cap is not None else "region"

    def observe(self) -> None:
        """Records the running jobs now as a peak, where higher."""
        for (kind, name), count in self.counts().items():
            peaks = self.peaks[self.PEAKS[kind]]
            peaks[name] = max(peaks.get(name, 0), count)

    def refusal(self, jobs: list[dict]) -> ApiError | None:
        """In "refuse" mode, StartCopyJob's answer when a copy job it would create (`jobs`, the
        non-parent ones) finds no free slot by the same rule as `advance`, counting every unfinished
        (CREATED or RUNNING) job as running, since a job the stand-in accepts runs at the next
        advance. AWS's wording is not documented."""
        if self.mode != "refuse" or not self.caps:
            return None
        counts = self.counts(("CREATED", "RUNNING"))
        for job in jobs:
            keys = self.keys(job)
            kind = self.blocked_by(keys, counts)
            if kind is None:
                continue
            self.refused += 1
            self.limited_by["refused"][kind] += 1
            name = keys[kind][1]
            what = {"vault": f"copy jobs to destination backup vault {name}",
                    "region": f"copy jobs to destination Region for account {name}",
                    "resource": f"backup and copy jobs for resource {name}",
                    "crossAccount": f"cross-account copy jobs of resource {name}"}[kind]
            return ApiError(400, "LimitExceededException", f"Too many concurrent {what}. Try again later.", context="StartCopyJob")
        return None

    def held_back(self, job_id: str, kind: str) -> None:
        """A job found no slot in an `advance` step, for want of `kind`'s."""
        if self.mode == "fail":
            self.failed += 1
            self.limited_by["failed"][kind] += 1
            return
        self.waited.add(job_id)
        if (job_id, kind) not in self.waited_by:
            self.waited_by.add((job_id, kind))
            self.limited_by["waited"][kind] += 1

    def report(self) -> dict:
        """What the `calls` control adds: throttled calls, peak concurrency, limited copy jobs."""
        with self.lock:
            throttled = dict(self.throttled)
        return {
            "throttled": throttled,
            "peakRunning": {kind: dict(peaks) for kind, peaks in self.peaks.items()},
            "limited": {"refused": self.refused, "waited": len(self.waited), "failed": self.failed},
            "limitedBy": {outcome: dict(kinds) for outcome, kinds in self.limited_by.items()},
        }
