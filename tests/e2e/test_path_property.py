"""The path check's promise, as a property over random misconfigurations (issue 22): `vaultwatch
paths` never says `ok` for a path whose copy then fails for a path cause, and never says `broken`
for a path whose copy completes; `cannot tell` is allowed either way. Each case (a seeded
`random.Random`) sets up the AWS Backup stand-in in strict mode (standin.paths) with 2 to 4 copy
paths drawn from: a missing destination vault; a destination vault access policy missing, denying,
allowing the source (its account, its root, its role, its organization) or another account or
role; the source key AWS managed, customer managed and shared with the destination account, not
shared, or disabled, or the source a logically air-gapped vault; the destination key disabled or
pending deletion; a role without backup:CopyIntoBackupVault, with a Deny of it, or missing; a Vault
Lock (or a logically air-gapped vault's range) that excludes the copy's retention; the
organization's cross-account backup off, the destination account not a member, or no organization;
a resource type AWS Backup does not copy along the path; any combination, and healthy. The check
runs through the real binary from the source account (the organization's management account, which
sees the most) and, in some cases, from the destination account; then one copy per path runs to its
end in the stand-in, and each verdict is held against its copy. Beyond the path's verdict, the
check that names the copy's cause must not say `ok` either. (It found two disagreements, both
fixed: the stand-in's same-account vault policy, and the check's cross-Region copies out of a
logically air-gapped vault.)

VAULTWATCH_PATH_CASES (default 30) cases from seed VAULTWATCH_PATH_SEED (default 2200) on: a failing
case names its seed; `VAULTWATCH_PATH_SEED=<seed> VAULTWATCH_PATH_CASES=1` runs it alone. moto
serves KMS and IAM, the IAM proxy SimulatePrincipalPolicy, the stand-in Organizations
(harness.processes.path_servers), as in test_paths.py."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import asdict, dataclass, field

import boto3
import botocore.exceptions
import pytest

from harness.processes import path_servers
from standin import paths as standin_paths
from standin.state import moto_account
from test_paths import MANAGED_POLICY, TRUST, control, vaultwatch

SOURCE, DR, OUTSIDER = "111111111111", "222222222222", "555555555555"
CASES = int(os.environ.get("VAULTWATCH_PATH_CASES", "30"))
FIRST_SEED = int(os.environ.get("VAULTWATCH_PATH_SEED", "2200"))
SEEDS = list(range(FIRST_SEED, FIRST_SEED + CASES))
# At least this share of (run, path) verdicts must be decided (ok or broken), or the check has
# degraded to `cannot tell`.
DECIDED_AT_LEAST = 0.5

# Where a destination vault is: (account, region, air-gapped).
DESTINATIONS = {
    "same account, cross-Region": (SOURCE, "us-west-2", False),
    "same account and Region": (SOURCE, "us-east-1", False),
    "cross-account and cross-Region": (DR, "us-west-2", False),
    "cross-account, same Region": (DR, "us-east-1", False),
    "air-gapped, same account, cross-Region": (SOURCE, "us-west-2", True),
}
# The KC list of KMS actions a destination account needs on a shared source key (docs/aws-facts.md#iam-for-startcopyjob).
SHARED_KEY_ACTIONS = ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                      "kms:CreateGrant"]
RESOURCES = {
    "EBS": "arn:aws:ec2:us-east-1:{account}:volume/vol-{n:017x}",
    "RDS": "arn:aws:rds:us-east-1:{account}:db:db-{n}",
    "Aurora": "arn:aws:rds:us-east-1:{account}:cluster:cluster-{n}",
    "DocumentDB": "arn:aws:rds:us-east-1:{account}:cluster:docdb-{n}",
    "Neptune": "arn:aws:rds:us-east-1:{account}:cluster:neptune-{n}",
    "EFS": "arn:aws:elasticfilesystem:us-east-1:{account}:file-system/fs-{n:08x}",
    "DynamoDB": "arn:aws:dynamodb:us-east-1:{account}:table/table-{n}",
}


def weighted(rng: random.Random, choices: dict):
    return rng.choices(list(choices), weights=list(choices.values()))[0]


@dataclass
class PathCase:
    """One copy path's configuration: vault `src-N` of 1111 (us-east-1) to `dst-N`."""

    n: int
    destination: str  # a DESTINATIONS key
    exists: bool
    source_air_gapped: bool  # `src-N` is a logically air-gapped vault (same-account paths only)
    source_key: str  # managed | shared | private (key policy names only 1111) | disabled | owned (air-gapped)
    destination_key: str  # managed | enabled | disabled | pending deletion (an air-gapped vault's: owned)
    policy: str  # none | allow root | allow account | allow organization | allow role (the path's) | allow another
    # account | allow another role | deny | allow and deny | deny deletes
    lock: list | None  # [MinRetentionDays, MaxRetentionDays] (either may be None)
    role: str  # a role of 1111 (World.roles): copier | nocopy | denied | ghost (never made)
    resource_type: str
    types_named: bool  # --resource-type given (else the check presumes any type)
    days: int | None  # the copy's DeleteAfterDays (None: none given)

    @property
    def account(self) -> str:
        return DESTINATIONS[self.destination][0]

    @property
    def region(self) -> str:
        return DESTINATIONS[self.destination][1]

    @property
    def air_gapped(self) -> bool:
        return DESTINATIONS[self.destination][2]

    @property
    def cross_account(self) -> bool:
        return self.account != SOURCE

    @property
    def source_arn(self) -> str:
        return f"arn:aws:backup:us-east-1:{SOURCE}:backup-vault:src-{self.n}"

    @property
    def destination_arn(self) -> str:
        return f"arn:aws:backup:{self.region}:{self.account}:backup-vault:dst-{self.n}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{SOURCE}:role/{self.role}"


@dataclass
class Case:
    seed: int
    organization: str  # on | off | destination outside | none
    paths: list[PathCase]
    from_destination: bool  # the check also runs from 2222, for its paths
    # Filled in when it runs: {account: {n: report}}, {n: outcome}.
    reports: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)

    def describe(self) -> str:
        return json.dumps({"seed": self.seed, "organization": self.organization,
                           "paths": [asdict(p) for p in self.paths]}, indent=1)


def lock_around(rng: random.Random, days: int | None, fits: bool, air_gapped: bool) -> list:
    """A Vault Lock range [min, max] that holds a copy kept `days` (None: indefinitely) or not."""
    low_floor = 7 if air_gapped else 1
    if days is None:
        if fits and not air_gapped:
            return [rng.randint(1, 30), None]  # a minimum alone holds an indefinite copy
        low = rng.randint(low_floor, 30)
        return [low, low + rng.randint(0, 400)]
    if fits:
        low = rng.randint(low_floor, days) if days >= low_floor else None
        high = days + rng.randint(0, 400)
        if not air_gapped and rng.random() < 0.3:
            low, high = rng.choice([(low, None), (None, high)])
        return [low, high]
    if days < low_floor + 1 or rng.random() < 0.5:
        low = days + rng.randint(1, 60)  # the copy is kept too short
        return [max(low, low_floor), None if not air_gapped and rng.random() < 0.5 else low + rng.randint(0, 400)]
    high = rng.randint(low_floor, days - 1)  # kept too long
    return [None if not air_gapped and rng.random() < 0.5 else low_floor, high]


def draw_path(rng: random.Random, n: int) -> PathCase:
    destination = weighted(rng, {"same account, cross-Region": 3, "same account and Region": 1,
                                 "cross-account and cross-Region": 3.5, "cross-account, same Region": 1,
                                 "air-gapped, same account, cross-Region": 1.5})
    account, _, air_gapped = DESTINATIONS[destination]
    cross_account = account != SOURCE
    days = None if rng.random() < 0.1 else rng.choice([7, 14, 30, 35, 90, 365])
    if cross_account:
        policy = weighted(rng, {"allow root": 4, "allow account": 3, "allow organization": 3, "allow role": 1, "none": 0.8,
                                "allow another account": 0.4, "allow another role": 0.3, "deny": 0.4,
                                "allow and deny": 0.4})
        source_key = weighted(rng, {"shared": 10, "managed": 1, "private": 1, "disabled": 0.4})
    else:
        policy = weighted(rng, {"none": 8, "deny": 0.8, "deny deletes": 1.2, "allow root": 0.5, "allow role": 0.5})
        source_key = weighted(rng, {"managed": 6, "shared": 2, "private": 1, "disabled": 0.4})
    # Copies out of an air-gapped vault: within the account (across accounts its AWS owned key is a
    # question of its own, left out).
    source_air_gapped = not cross_account and rng.random() < 0.2
    if source_air_gapped:
        source_key = "owned"
    if air_gapped:
        lock = lock_around(rng, days, rng.random() < 0.75, True)
    else:
        kind = weighted(rng, {"none": 7, "fits": 2.5, "excludes": 1})
        lock = None if kind == "none" else lock_around(rng, days, kind == "fits", False)
    return PathCase(
        n=n, destination=destination, exists=rng.random() < 0.93, source_air_gapped=source_air_gapped,
        source_key=source_key,
        destination_key="owned" if air_gapped else weighted(rng, {"managed": 6, "enabled": 3, "disabled": 0.6,
                                                                  "pending deletion": 0.6}),
        policy="none" if air_gapped else policy, lock=lock,
        role=weighted(rng, {"copier": 11, "nocopy": 0.6, "denied": 0.4, "ghost": 0.6}),
        resource_type=weighted(rng, {"EBS": 6, "RDS": 1, "Aurora": 0.7, "DocumentDB": 0.3, "Neptune": 0.3, "EFS": 1.5,
                                     "DynamoDB": 1}),
        types_named=rng.random() < 0.85, days=days,
    )


def draw_case(seed: int) -> Case:
    rng = random.Random(seed)
    organization = weighted(rng, {"on": 8, "off": 1, "destination outside": 0.7, "none": 0.7})
    paths = [draw_path(rng, n) for n in range(rng.randint(2, 4))]
    from_destination = any(p.account == DR for p in paths) and rng.random() < 0.5
    return Case(seed, organization, paths, from_destination)


# ---------------------------------------------------------------------- the world
class World:
    """The servers, and clients made once per (service, account, region)."""

    def __init__(self, urls: dict):
        self.urls = urls
        self._clients: dict[tuple, object] = {}

    def backup(self, account: str, region: str = "us-east-1"):
        key = ("backup", account, region)
        if key not in self._clients:
            self._clients[key] = boto3.client("backup", region_name=region, endpoint_url=self.urls["backup"],
                                              aws_access_key_id=account, aws_secret_access_key="testing")
        return self._clients[key]

    def aws(self, service: str, account: str, region: str = "us-east-1"):
        key = (service, account, region)
        if key not in self._clients:
            client = boto3.client(service, region_name=region, endpoint_url=self.urls["moto"],
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            client.meta.events.register("before-sign.*.*", moto_account(account))
            self._clients[key] = client
        return self._clients[key]

    def control(self, path: str, body: dict | None = None) -> dict:
        return control(self.urls, path, body)

    def roles(self) -> None:
        """Roles of 1111, made once: `copier` with AWS's managed policy, `nocopy` without
        backup:CopyIntoBackupVault, `denied` with the managed policy and a Deny of it."""
        iam = self.aws("iam", SOURCE)
        for name, managed, inline in (
            ("copier", True, None),
            ("nocopy", False, {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["backup:StartCopyJob", "backup:DescribeBackupVault"], "Resource": "*"}]}),
            ("denied", True, {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "backup:CopyIntoBackupVault", "Resource": "arn:aws:backup:*:*:backup-vault:*"}]}),
        ):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
            if managed:
                iam.attach_role_policy(RoleName=name, PolicyArn=MANAGED_POLICY)
            if inline:
                iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))

    def key(self, account: str, region: str, state: str, policy: dict | None = None) -> str:
        """A customer managed key of `account` in `region`, in `state`."""
        kms = self.aws("kms", account, region)
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        key_id = arn.split("/")[-1]  # moto takes the key id
        if policy:
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
        if state == "disabled":
            kms.disable_key(KeyId=key_id)
        elif state == "pending deletion":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        return arn

    def set_up(self, case: Case) -> str | None:
        """The case's world; returns the organization's id."""
        self.control("reset")
        self.control("paths", {"strict": True})
        org_id = None
        if case.organization != "none":
            members = [] if case.organization == "destination outside" else [DR]
            self.control("organization", {"managementAccount": SOURCE, "members": members})
            enabled = "false" if case.organization == "off" else "true"
            self.backup(SOURCE).update_global_settings(GlobalSettings={"isCrossAccountBackupEnabled": enabled})
            org_id = self.control("paths")["organizationId"]
        for path in case.paths:
            self.set_up_path(path, org_id)
        return org_id

    def set_up_path(self, path: PathCase, org_id: str | None) -> None:
        if path.source_air_gapped:
            self.backup(SOURCE).create_logically_air_gapped_backup_vault(BackupVaultName=f"src-{path.n}", MinRetentionDays=7,
                                                                         MaxRetentionDays=36500)
            self.set_up_destination(path, org_id)
            return
        source_key = None
        if path.source_key != "managed":
            shared = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DR}:root"}, "Action": SHARED_KEY_ACTIONS,
                 "Resource": "*"}]}
            # "private": the default key policy, which names only its own account.
            source_key = self.key(SOURCE, "us-east-1", "disabled" if path.source_key == "disabled" else "enabled",
                                  None if path.source_key == "private" else shared)
        self.backup(SOURCE).create_backup_vault(BackupVaultName=f"src-{path.n}",
                                                **({"EncryptionKeyArn": source_key} if source_key else {}))
        self.set_up_destination(path, org_id)

    def set_up_destination(self, path: PathCase, org_id: str | None) -> None:
        if not path.exists:
            return
        client = self.backup(path.account, path.region)
        name = f"dst-{path.n}"
        if path.air_gapped:
            low, high = path.lock
            client.create_logically_air_gapped_backup_vault(BackupVaultName=name, MinRetentionDays=low, MaxRetentionDays=high)
            return
        key = {} if path.destination_key == "managed" else {
            "EncryptionKeyArn": self.key(path.account, path.region, path.destination_key)}
        client.create_backup_vault(BackupVaultName=name, **key)
        statement = self.policy(path, org_id)
        if statement:
            client.put_backup_vault_access_policy(BackupVaultName=name, Policy=json.dumps({
                "Version": "2012-10-17", "Statement": statement}))
        if path.lock:
            low, high = path.lock
            client.put_backup_vault_lock_configuration(BackupVaultName=name, **(
                {"MinRetentionDays": low} if low is not None else {}), **({"MaxRetentionDays": high} if high is not None else {}))

    @staticmethod
    def policy(path: PathCase, org_id: str | None) -> list[dict]:
        def allow(principal, **condition) -> dict:
            return {"Effect": "Allow", "Principal": principal, "Action": "backup:CopyIntoBackupVault", "Resource": "*",
                    **({"Condition": condition} if condition else {})}

        deny = {"Effect": "Deny", "Principal": "*", "Action": "backup:CopyIntoBackupVault", "Resource": "*"}
        return {
            "none": [],
            "allow root": [allow({"AWS": f"arn:aws:iam::{SOURCE}:root"})],
            "allow account": [allow({"AWS": SOURCE})],
            # No organization: an id no organization has.
            "allow organization": [allow("*", StringEquals={"aws:PrincipalOrgID": org_id or "o-nosuchorg0"})],
            "allow role": [allow({"AWS": path.role_arn})],
            "allow another account": [allow({"AWS": f"arn:aws:iam::{OUTSIDER}:root"})],
            "allow another role": [allow({"AWS": f"arn:aws:iam::{SOURCE}:role/someone-else"})],
            "deny": [deny],
            "allow and deny": [allow({"AWS": SOURCE}), deny],
            "deny deletes": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Resource": "*",
                              "Action": ["backup:DeleteBackupVault", "backup:DeleteRecoveryPoint"]}],
        }[path.policy]

    # ------------------------------------------------------------------ the check and the copies
    def check(self, account: str, paths: list[PathCase]) -> dict[int, dict]:
        """`vaultwatch paths --path ...` from `account`, one run per (days, resource types): {n: report}."""
        groups: dict[tuple, list[PathCase]] = {}
        for path in paths:
            groups.setdefault((path.days, path.resource_type if path.types_named else None), []).append(path)
        reports = {}
        for (days, resource_type), group in groups.items():
            args = ["--no-plans", "--format", "json"]
            for path in group:
                args += ["--path", path.source_arn, path.destination_arn, path.role_arn]
            if days is not None:
                args += ["--delete-after-days", str(days)]
            if resource_type is not None:
                args += ["--resource-type", resource_type]
            result = vaultwatch(self.urls, account, *args)
            assert result.returncode in (0, 1, 4), f"vaultwatch paths {args}: exit {result.returncode}: {result.stderr}"
            report = json.loads(result.stdout)
            assert report["account"] == account
            by_source = {p["path"]["sourceVault"]: p for p in report["paths"]}
            for path in group:
                reports[path.n] = by_source[path.source_arn]
        return reports

    def copy(self, paths: list[PathCase]) -> dict[int, dict]:
        """A backup of each path's source vault, copied along it and run to its end: {n: outcome}
        ({"state": COMPLETED | FAILED | refused, "message"})."""
        client = self.backup(SOURCE)
        jobs, outcomes = {}, {}
        for path in paths:
            resource = RESOURCES[path.resource_type].format(account=SOURCE, n=path.n + 1)
            point = self.control("backup-jobs", {"vault": f"src-{path.n}", "account": SOURCE, "resourceType": path.resource_type,
                                                 "resourceArn": resource})["RecoveryPointArn"]
            lifecycle = {"Lifecycle": {"DeleteAfterDays": path.days}} if path.days is not None else {}
            try:
                jobs[path.n] = client.start_copy_job(RecoveryPointArn=point, SourceBackupVaultName=f"src-{path.n}",
                                                     DestinationBackupVaultArn=path.destination_arn,
                                                     IamRoleArn=path.role_arn, **lifecycle)["CopyJobId"]
            except botocore.exceptions.ClientError as err:
                error = err.response["Error"]
                outcomes[path.n] = {"state": "refused", "code": error["Code"], "message": error["Message"]}
        self.control("advance")
        for n, job_id in jobs.items():
            job = client.describe_copy_job(CopyJobId=job_id)["CopyJob"]
            outcomes[n] = {"state": job["State"], "message": job.get("StatusMessage")}
        return outcomes

    def run(self, case: Case) -> Case:
        self.set_up(case)
        case.reports[SOURCE] = self.check(SOURCE, case.paths)
        if case.from_destination:
            case.reports[DR] = self.check(DR, [p for p in case.paths if p.account == DR])
        case.outcomes = self.copy(case.paths)
        return case


# ---------------------------------------------------------------------- the property
def causes(outcome: dict) -> set[str] | None:
    """The checks any of which names a failed copy's cause (None: it did not fail)."""
    if outcome["state"] == "COMPLETED":
        return None
    if outcome["state"] == "refused":
        assert outcome["code"] == "ResourceNotFoundException", outcome
        return {"destination_vault"}
    message = outcome["message"] or ""
    named = {
        standin_paths.NOT_SAME_ORGANIZATION: {"organization"},
        standin_paths.CROSS_ACCOUNT_OFF: {"organization"},
        standin_paths.ACCESS_DENIED: {"role", "vault_access_policy"},  # one text for both (docs/aws-facts.md#the-role)
        standin_paths.MANAGED_KEY: {"kms_keys"},
        standin_paths.KEY_UNUSABLE: {"kms_keys"},
        standin_paths.KEY_MISSING: {"kms_keys"},
        standin_paths.RETENTION: {"vault_lock"},
    }.get(message)
    if named is None and message.startswith(standin_paths.ROLE_NOT_ASSUMABLE.split("{")[0]):
        named = {"role"}
    if named is None and message.endswith("Feature is not supported for provided resource type."):
        named = {"resource_types"}
    assert named is not None, f"a copy failed for no path cause: {outcome}"
    return named


def disagreements(case: Case) -> list[tuple[int, str]]:
    """What the check said that the copies contradict: (path, one line naming the seed) each."""
    found = []
    for account, reports in case.reports.items():
        for n, report in reports.items():
            outcome = case.outcomes[n]
            named = causes(outcome)
            verdict = report["verdict"]["status"]
            statuses = {c["check"]: c["status"] for c in report["checks"]}
            where = f"seed {case.seed} path {n} (from {account}): verdict {verdict}, copy {outcome}"
            if named is None and verdict == "broken":
                found.append((n, f"{where}: broken, but the copy completed: {report['verdict']}"))
            if named is not None and verdict == "ok":
                found.append((n, f"{where}: ok, but the copy failed"))
            if named is not None and all(statuses[c] == "ok" for c in named):
                found.append((n, f"{where}: {' and '.join(sorted(named))} ok, but the copy failed for that cause: {statuses}"))
    return found


def cases():
    for seed in SEEDS:
        yield pytest.param(seed, id=str(seed))


@pytest.fixture(scope="module")
def campaign():
    """Every case, run once when first asked for: {seed: the case, run}."""
    with path_servers() as urls:
        world = World(urls)
        world.roles()
        done: dict[int, Case] = {}

        def run(seed: int) -> Case:
            if seed not in done:
                done[seed] = world.run(draw_case(seed))
            return done[seed]

        yield run


@pytest.mark.parametrize("seed", list(cases()))
def test_the_check_never_says_ok_for_a_path_whose_copy_fails_nor_broken_for_one_whose_copy_completes(campaign, seed):
    """Per case: no path's verdict contradicted by its copy."""
    case = campaign(seed)
    found = disagreements(case)
    again = f"\nthe case (VAULTWATCH_PATH_SEED={seed} VAULTWATCH_PATH_CASES=1):\n{case.describe()}"
    assert not found, "\n".join(line for _, line in found) + again


def test_most_verdicts_are_decided_and_each_kind_occurs(campaign):
    """Over every case: how many verdicts were ok, broken and cannot tell, and how many copies
    completed; the check must decide (ok or broken) at least DECIDED_AT_LEAST of them, and the cases
    must have produced each verdict and both outcomes, so that the property was tested at all."""
    tally, copies = Counter(), Counter()
    for seed in SEEDS:
        case = campaign(seed)
        for account, reports in case.reports.items():
            for n, report in reports.items():
                completed = case.outcomes[n]["state"] == "COMPLETED"
                tally[(report["verdict"]["status"], "completed" if completed else "failed")] += 1
                tally[report["verdict"]["status"]] += 1
                tally["from " + ("source" if account == SOURCE else "destination")] += 1
        copies.update("completed" if o["state"] == "COMPLETED" else "failed" for o in case.outcomes.values())
    total = tally["ok"] + tally["broken"] + tally["cannotTell"]
    summary = (f"{len(SEEDS)} cases from seed {FIRST_SEED}: {total} verdicts ({tally['from source']} from the source "
               f"account, {tally['from destination']} from the destination): ok {tally['ok']}, broken {tally['broken']}, "
               f"cannot tell {tally['cannotTell']} (cannot tell of copies that completed "
               f"{tally[('cannotTell', 'completed')]}, failed {tally[('cannotTell', 'failed')]}); "
               f"copies: {copies['completed']} completed, {copies['failed']} failed")
    print(summary)
    assert (tally["ok"] + tally["broken"]) >= DECIDED_AT_LEAST * total, summary
    if len(SEEDS) >= 10:
        assert tally["ok"] and tally["broken"] and copies["completed"] and copies["failed"], summary
