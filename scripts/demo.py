"""The vaultwatch demo: a realistic story played through the real function binaries against the
local stack (moto + the AWS Backup stand-in). Deploys nothing; prints what each function did and
ends with the tracking table, the alerts and their threads' messages, a coverage report and the
metrics the functions wrote. Run it with `scripts/demo` (which puts tests/ on the import path for
the harness).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from datetime import datetime, timedelta, timezone

from harness.config import ACCOUNT, ROLE, ROOT
from harness.delivery import Invocation
from harness.stack import LocalAws

DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
EU = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:eu-archive"
ROUTES = [{"sourceVault": "primary", "destinationVaultArn": EU, "resourceTypes": ["RDS"],
           "lifecycle": {"deleteAfterDays": 2555}}]
LIFECYCLE = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
START = time.monotonic()


def short(value: str | None) -> str:
    """Last part of an ARN or the first block of a job id, for narrow columns."""
    if not value:
        return "-"
    tail = value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return tail[:8] if len(tail) == 36 and tail.count("-") == 4 else tail


def say(who: str, text: str) -> None:
    print(f"  {time.monotonic() - START:6.2f}s  {who:<22} {text}")


def describe_event(invocation: Invocation) -> str:
    if invocation.event.get("detail-type") == "Scheduled Event":
        return "scheduled sweep"
    record = invocation.event["Records"][0]
    if record.get("eventSource") == "aws:sqs":
        request = json.loads(record["body"])
        return f"retry due: attempt {request['lineage']['attempt']} of {short(request['failedJob'])}"
    attributes = {k: v["Value"] for k, v in record["Sns"]["MessageAttributes"].items()}
    return f"{attributes.get('EventType', '?')} {attributes.get('State', '?')} {short(attributes.get('Id'))}"


def describe_outcome(invocation: Invocation) -> str:
    payload = invocation.outcome.payload
    if not invocation.outcome.ok:
        return f"ERROR {payload.get('errorType')}: {payload.get('errorMessage')}"
    if "scanned" in payload:
        # What the sweep did: the counts that are not zero.
        counts = [("repaired", "repaired"), ("detailsFilled", "details filled"), ("retried", "retried"),
                  ("alerted", "alerted"), ("pathFailures", "path failures counted"), ("incidentsOpened", "incidents opened"),
                  ("incidentsHealed", "incidents healed"), ("copiesBackfilled", "backfill copies started"),
                  ("resolved", "resolved"), ("missingCopiesStarted", "missing copies started"), ("errors", "errors")]
        done = [f"{label} {payload[key]}" for key, label in counts if payload.get(key)]
        return f"scanned {payload['scanned']}: " + (", ".join(done) or "nothing to do")
    if "batchItemFailures" in payload:
        return "retry started" if not payload["batchItemFailures"] else f"{len(payload['batchItemFailures'])} to redeliver"
    parts = []
    for outcome in payload.get("outcomes", []):
        # Every outcome is tagged by its kind (`outcome`).
        kind = outcome.get("outcome")
        if kind == "copies":
            parts += [f"started copy {short(c['copyJob'])} -> {short(c['destination'])}" for c in outcome["copies"]] or ["no route"]
        elif kind == "retryScheduled":
            parts.append(f"transient failure: retry {outcome['attempt']} scheduled")
        elif kind == "escalated":
            parts.append(f"retry {outcome['attempt']} scheduled; congestion counted in {outcome['incident']}"
                         + ("; ALERT sent" if outcome["alerted"] else ""))
        elif kind == "incident":
            # A failure of its copy path: counted in the path's incident; the first one alerts.
            verb = "opened" if outcome["opened"] else "counted in"
            parts.append(f"path failure ({outcome['cause']}): {verb} {outcome['incident']}"
                         + ("; ALERT sent" if outcome["alerted"] else ", no alert"))
        elif kind == "notCopyable":
            parts.append(f"nothing to copy: {outcome['reason']}")
        elif kind == "alerted":
            parts.append(f"ALERT sent ({outcome['alerted']})")
        elif kind == "recorded":
            parts.append(f"recorded {outcome['state']}")
        elif kind == "stale":
            parts.append(f"{outcome['state']} already recorded")
        elif kind == "duplicate":
            parts.append("duplicate ignored")
        elif kind == "nested":
            parts.append(f"handled with composite parent {short(outcome['parent'])}")
        elif kind in ("skipped", "rejected"):
            parts.append(f"{kind}: {outcome['reason']}")
    return "; ".join(parts) or json.dumps(payload)


def on_invocation(invocation: Invocation) -> None:
    say(f"λ {invocation.function}", f"{describe_event(invocation):<36} => {describe_outcome(invocation)}")


def run_until_quiet(stack: LocalAws) -> None:
    """Like stack.delivery.settle(), narrating what AWS Backup does between deliveries."""
    while True:
        stack.delivery.drain()
        moved = stack.backup.advance()
        if not moved:
            return
        for job in moved:
            message = f" ({job['StatusMessage']})" if job.get("StatusMessage") else ""
            say("AWS Backup", f"copy {short(job['CopyJobId'])} -> {short(job['DestinationBackupVaultArn'])} {job['State']}{message}")


def print_table(stack: LocalAws) -> None:
    items = stack.queries.table_items()
    copies = sorted((i for i in items if i["item_type"] == "copy_job"), key=lambda i: i.get("requested_at", i.get("updated_at", "")))
    header = f"  {'copy job':<9} {'state':<10} {'resource':<22} {'from -> to':<22} {'attempt':<8} {'retry of':<9} {'outcome'}"
    print("\nTracking table (copy jobs)")
    print(header)
    print("  " + "-" * (len(header) + 8))
    for c in copies:
        route = f"{short(c.get('source_vault_arn'))} -> {short(c.get('destination_vault_arn'))}"
        print(f"  {short(c['copy_job_id']):<9} {c.get('state', '-'):<10} {short(c.get('resource_arn')):<22} {route:<22} "
              f"{c.get('attempt', 0):<8} {short(c.get('retry_of')):<9} {c.get('outcome', '')}")
    print("\nCopies per recovery point (the table's by-recovery-point index)")
    for point in sorted({c["source_recovery_point_arn"] for c in copies if "source_recovery_point_arn" in c}):
        copies_of = ", ".join(f"{short(vault)} {state}" for vault, state in stack.queries.copies_of(point))
        print(f"  {short(point):<9} {copies_of}")


def readable(message: str) -> str:
    """An alert as a person reads it: the chat notification's title, description and next steps
    (what a chat channel shows), or the plain text."""
    try:
        notification = json.loads(message)
    except json.JSONDecodeError:
        return message
    content = notification.get("content", {}) if isinstance(notification, dict) else {}
    if not content:
        return message
    steps = [f"next: {step}" for step in content.get("nextSteps", [])]
    thread = notification.get("metadata", {}).get("threadId", "-")
    return "\n".join([content.get("title", ""), content.get("description", ""), *steps, f"(thread {thread})"])


def thread_of(alert: dict) -> str:
    return alert["Notification"].get("metadata", {}).get("threadId", "-")


def take_alerts(stack: LocalAws, published: list[dict]) -> list[dict]:
    """The alerts published since the last look, added to `published` (the end of the demo prints them)."""
    new = stack.queries.take_alerts()
    published += new
    return new


def failed_records(stack: LocalAws, vault: str) -> list[dict]:
    """The tracking records of the FAILED copies to `vault`, oldest first."""
    return sorted((i for i in stack.queries.table_items() if i["item_type"] == "copy_job" and i.get("state") == "FAILED"
                   and i.get("destination_vault_arn") == vault), key=lambda i: i.get("requested_at", i.get("updated_at", "")))


def incidents(stack: LocalAws) -> list[dict]:
    """The copy path incidents in the tracking table."""
    return [i for i in stack.queries.table_items() if i["item_type"] == "path_incident"]


def print_alerts(alerts: list[dict], shown: set[str]) -> None:
    """Every alert published, and every message posted in an alert's thread, as a chat channel shows
    them; those whose message id is in `shown` were printed in full in the story."""
    threads: dict[str, str] = {}
    for alert in alerts:
        threads.setdefault(thread_of(alert), alert["Subject"])
    replies = len(alerts) - len(threads)
    print(f"\nAlerts and thread messages published: {len(alerts)} ({len(threads)} alerts, each opening a chat thread; "
          f"{replies} later messages in their threads)")
    for alert in alerts:
        opener = threads[thread_of(alert)]
        where = "" if opener == alert["Subject"] else f"  [in the thread of: {opener}]"
        print(f"  {alert['Subject']}{where}")
        if alert["MessageId"] in shown:
            print("    (shown in full above)")
        else:
            print("    " + "\n    ".join(readable(alert["Message"]).strip().splitlines()))


def print_coverage(stack: LocalAws) -> None:
    """The report an auditor asks for: `vaultwatch coverage`, as an operator runs it."""
    print("\nCopy coverage (`vaultwatch coverage --since 1h`): every recovery point and each copy it requires")
    report = stack.vaultwatch("coverage", "--since", "1h", "--format", "json")
    coverage = json.loads(report.stdout)
    print(f"  {'recovery point':<16} {'resource':<9} {'destination':<12} {'required by':<12} {'status':<13} detail")
    for row in coverage["rows"]:
        detail = {"covered": short(row.get("destinationRecoveryPoint")), "retrying": f"attempt {row.get('attempt')} of {row.get('of')}",
                  "failed": ("alerted: " if row.get("alerted") else "alert pending: ") + str(row.get("reason")),
                  "notCopyable": row.get("why", ""), "copying": short(row.get("copyJob"))}.get(row["status"], "")
        print(f"  {short(row['recoveryPoint'])[:16]:<16} {row.get('resourceType') or '-':<9} {short(row['destination']):<12} "
              f"{row['requiredBy']:<12} {row['status']:<13} {detail}")
    summary = coverage["summary"]
    print("  " + ", ".join(f"{count} {status}" for status, count in summary["byStatus"].items()))
    for region, seconds in summary["oldestUncoveredSeconds"].items():
        print(f"  oldest uncovered recovery point in {region}: {seconds} s old")
    print(f"  (exit status {report.returncode}: {'something is uncovered' if report.returncode == 1 else 'all covered'})")


def print_organization(stack: LocalAws) -> None:
    """10. The organization view: this account as the organization's management account, two member
    accounts copying to a central DR account's vault, read from here without touching them."""
    payments, search, dr_account = "111111111111", "222222222222", "444444444444"
    central = f"arn:aws:backup:us-west-2:{dr_account}:backup-vault:central-dr"
    print("\n10. The organization view: this account is the management account of an organization whose")
    print("    members copy to a central DR vault; from here vaultwatch reads every member's jobs (read-only).")
    stack.backup.set_organization(ACCOUNT, members=[payments, search, dr_account])
    stack.backup.create_vault("central-dr", region="us-west-2", account=dr_account)
    for member in (payments, search):
        stack.backup.create_vault("app", account=member)
    stack.backup.bulk("app", 3, account=payments, destinations=[central], states={"COMPLETED": 1})
    stack.backup.bulk("app", 1, account=search, destinations=[central], states={"FAILED": 1},
               statusMessage="Access denied: the destination vault's access policy does not allow this account")
    stack.backup.bulk("app", 1, account=search)
    say("AWS Backup", "payments: 3 backups copied; search: 1 copy failed, 1 backup never copied")
    report = stack.vaultwatch("coverage", "--organization", "--since", "1h", "--require-copy-to", central,
                              "--region", "us-east-1")
    print("   $ vaultwatch coverage --organization --require-copy-to <central-dr> --region us-east-1")
    lines = report.stdout.splitlines()
    for line in lines[lines.index("") + 1:] if "" in lines else lines:
        print(f"   {line}")
    print(f"   (exit status {report.returncode}; the full table has one row per recovery point and account; this")
    print(f"   account's own backups, the story above, are members' too and were never copied to the central vault)")


def print_metrics(stack: LocalAws) -> None:
    """What CloudWatch would chart: the sums of the metric lines (EMF) the functions wrote."""
    totals: dict[tuple[str, str], float] = {}
    for document in stack.queries.emf_documents():
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                key = (document["Function"], name + (f" ({document['DestinationRegion']})" if "DestinationRegion" in document else ""))
                gauge = metric.get("Unit") == "Seconds" or name.endswith(("UncoveredRecoveryPoints", "BrokenPaths", "FailedCopyChains"))
                totals[key] = document[name] if gauge else totals.get(key, 0) + document[name]
    print("\nMetrics written (CloudWatch Embedded Metric Format; counts summed, gauges as last written). At the")
    print("default MetricsDetail, essential: what the alarms and the dashboard's main rows read, a count only when")
    print("not zero, a region's OldestUncoveredAgeSeconds only while something there waits (docs/cost.md):")
    for (function, name), value in sorted(totals.items()):
        print(f"  {function:<11} {name:<45} {value:g}")
    print(f"  {len(totals)} distinct metrics (name and dimensions). CloudWatch bills each for every hour it is written in:")
    print("  what a month of vaultwatch costs, metrics, requests, logs and fixed charges, is in docs/cost.md.")


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the stack's processes are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("vaultwatch demo: local AWS (moto + AWS Backup stand-in), real function binaries\n")
    # The copy paths' world: KMS keys and IAM roles decide copies as in AWS, and the reconciler checks
    # the paths once a day.
    # The evidence bucket as the template creates it (Object Lock, compliance mode), and the template's
    # default sweep window (72 hours), so the night's sweep still sees the day's backups.
    with LocalAws(max_attempts=3, routes=ROUTES, on_invocation=on_invocation, copy_paths=True, evidence=True,
                  reconciler_env={"RECONCILE_LOOKBACK_HOURS": "72"}) as stack:
        iam = stack.endpoints.client("iam")
        role_name = ROLE.rsplit("/", 1)[-1]
        iam.create_role(RoleName=role_name, Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.attach_role_policy(RoleName=role_name,
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
        say("setup", f"backup role {role_name} (AWS's managed policy for AWS Backup)")
        kms = stack.endpoints.client("kms", "eu-west-1")
        eu_key = kms.create_key(Description="eu-archive")["KeyMetadata"]["Arn"]
        say("setup", "vaults primary (us-east-1), dr-copy (us-west-2), eu-archive (eu-west-1, its own KMS key)")
        stack.backup.create_vault("primary")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.backup_client("eu-west-1").create_backup_vault(BackupVaultName="eu-archive", EncryptionKeyArn=eu_key)
        plan_id = stack.endpoints.client("backup").create_backup_plan(BackupPlan={
            "BackupPlanName": "daily-with-dr-copy",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "primary",
                       "ScheduleExpression": "cron(0 3 * * ? *)",
                       "CopyActions": [{"DestinationBackupVaultArn": DR, "Lifecycle": LIFECYCLE}]}],
        })["BackupPlanId"]
        say("setup", "plan daily-with-dr-copy: copy to dr-copy, cold after 30 days, delete after 365")
        say("setup", "copier route: RDS backups in primary also go to eu-archive")

        # Every alert and thread message, in the order published; the end of the demo prints them.
        published: list[dict] = []
        # Those the story printed in full (by SNS message id).
        shown: set[str] = set()

        print("\n1. A web server volume is backed up; the plan copies it to the DR region.")
        stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-web01", "EBS", planId=plan_id)
        run_until_quiet(stack)

        print("\n2. A database volume's DR copy fails transiently; vaultwatch retries it with the plan's lifecycle.")
        stack.backup.fail_copies("Copy job failed because the destination backup vault is being modified. Try again later.", destinationVaultArn=DR)
        stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-db01", "EBS", planId=plan_id)
        run_until_quiet(stack)
        take_alerts(stack, published)

        print("\n3. A copy path breaks: someone disables eu-archive's KMS key. Three RDS databases are backed up;")
        print("   their plan copies to dr-copy complete, and each routed copy to eu-archive fails on the key. The")
        print("   failure belongs to the path, not to one copy: vaultwatch opens one incident for the path and")
        print("   sends ONE alert; the other failures are counted in it.")
        databases = ("orders", "customers", "inventory")
        kms.disable_key(KeyId=eu_key.split("/")[-1])
        say("KMS", f"key {short(eu_key)} (eu-archive's) disabled")
        for name in databases:
            stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{name}", "RDS", planId=plan_id)
        run_until_quiet(stack)
        alerts = take_alerts(stack, published)
        print(f"   Alerts the operator got: {len(alerts)}, as a chat channel shows it (e-mail subscribers get it as text):")
        for alert in alerts:
            print("     " + "\n     ".join(readable(alert["Message"]).strip().splitlines()))
            shown.add(alert["MessageId"])
        print("   The failed copies' tracking records name the incident they were counted in:")
        for record in failed_records(stack, EU):
            print(f"     copy {short(record['copy_job_id'])} ({short(record.get('resource_arn'))}) FAILED, incident {record.get('incident', '-')}")
        print("   The operator asks which paths are broken and what fixes them: `vaultwatch paths --table` checks")
        print("   every copy path read-only (the vaults, their policies and keys, the role) and names the fix;")
        print("   the health column is the incident's. (The reconciler runs the same check once a day and at")
        print("   deploy: a path broken before its first copy gets its incident and alert then.)")
        checked = stack.vaultwatch("paths", "--no-plans")
        print("     $ vaultwatch paths --no-plans --table <tracking table>")
        print("     " + "\n     ".join(checked.stdout.strip().splitlines()))

        print("\n4. SNS delivers a notification twice: nothing is copied twice. The path is still broken, so the")
        print("   billing database's copy to eu-archive fails too: counted in the incident, no second alert.")
        stack.delivery.duplicate_deliveries = 2
        stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:billing", "RDS", planId=plan_id)
        run_until_quiet(stack)
        stack.delivery.duplicate_deliveries = 1
        alerts = take_alerts(stack, published)
        (incident,) = incidents(stack)
        print(f"   New alerts: {len(alerts)}. The incident is {incident['incident_state']}, with {incident['affected']} "
              f"affected recovery points.")

        print("\n5. A point-in-time (continuous) RDS backup: AWS Backup does not copy those on demand, so the")
        print("   route to eu-archive asks nothing of it.")
        stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:ledger", "RDS", continuous=True)
        run_until_quiet(stack)

        print("\n6. A DR copy fails while its source has already moved to cold storage: a retry could never")
        print("   work, so the operator hears it now, once, with the reason. This failure belongs to its recovery")
        print("   point, not to the path: an alert of its own (printed at the end), no incident.")
        stack.backup.fail_copies("Copy job failed. Try again later.", destinationVaultArn=DR)
        cold = stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-archive01", "EBS", planId=plan_id)
        stack.backup.set_recovery_point(cold["RecoveryPointArn"], storageClass="COLD")
        say("AWS Backup", f"recovery point {short(cold['RecoveryPointArn'])} moved to cold storage")
        run_until_quiet(stack)
        alerts = take_alerts(stack, published)
        print(f"   New alerts: {len(alerts)} ({'; '.join(a['Subject'] for a in alerts) or '-'}). "
              f"Incidents in the table: still {len(incidents(stack))}.")

        print("\n7. A backup made straight to a logically air-gapped vault: AWS Backup takes a temporary recovery")
        print("   point in primary, copies it into the air-gapped vault itself and deletes it. No fault: vaultwatch")
        print("   routes nothing from the temporary point, and coverage counts the air-gapped copy.")
        air_gapped = stack.endpoints.client("backup").create_logically_air_gapped_backup_vault(
            BackupVaultName="vault-locked", MinRetentionDays=7, MaxRetentionDays=3650)["BackupVaultArn"]
        to_air_gapped = stack.endpoints.client("backup").create_backup_plan(BackupPlan={
            "BackupPlanName": "daily-to-air-gapped",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "primary", "ScheduleExpression": "cron(0 4 * * ? *)",
                       "TargetLogicallyAirGappedBackupVaultArn": air_gapped, "Lifecycle": {"DeleteAfterDays": 90}}],
        })["BackupPlanId"]
        locked = stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:payroll", "RDS", planId=to_air_gapped)
        say("AWS Backup", f"temporary recovery point {short(locked['RecoveryPointArn'])} "
                          f"(DeleteAfterEvent {locked['RecoveryPointLifecycle'].get('DeleteAfterEvent')})")
        run_until_quiet(stack)
        take_alerts(stack, published)

        print("\n8. Copies complete but SNS loses their notifications; the hourly reconciler repairs the table.")
        stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-app01", "EBS", planId=plan_id)
        stack.delivery.drain()
        moved = stack.backup.advance()
        for job in moved:
            say("AWS Backup", f"copy {short(job['CopyJobId'])} -> {short(job['DestinationBackupVaultArn'])} {job['State']}")
        stack.endpoints.client("sqs").purge_queue(QueueUrl=stack.resources.subscription_queues["tracker"])
        say("SNS", f"{len(moved)} COPY_JOB SUCCESSFUL notification(s) lost")
        stack.delivery.drain()
        stack.delivery.reconcile()
        take_alerts(stack, published)
        (incident,) = incidents(stack)
        print(f"   The incident is still {incident['incident_state']}: no copy on its path has completed since it opened.")

        print("\n9. The operator runs the fix the check named (enables eu-archive's key). The next night's")
        print("   backup of orders is copied to eu-archive and completes: the path works again. The hourly sweep")
        print("   heals the incident (one 'healed' message in its thread) and backfills it: one copy of each")
        print("   affected recovery point (at most BackfillConcurrency, 5 by default, in flight per destination")
        print("   vault); when they have ended, one 'backfilled' message. Nothing to copy by hand.")
        kms.enable_key(KeyId=eu_key.split("/")[-1])
        say("operator", f"aws kms enable-key --key-id {short(eu_key)}")
        stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders", "RDS", planId=plan_id)
        run_until_quiet(stack)
        stack.delivery.reconcile()
        run_until_quiet(stack)
        say("EventBridge", "an hour later, the next scheduled sweep")
        stack.delivery.reconcile()
        alerts = take_alerts(stack, published)
        print(f"   Messages the operator got: {len(alerts)}")
        for alert in alerts:
            print(f"     {alert['Subject']}  (thread {thread_of(alert)})")
        (incident,) = incidents(stack)
        print(f"   The incident is {incident['incident_state']}. Copies to eu-archive of its {incident['affected']} affected "
              f"recovery points, as AWS Backup lists them:")
        jobs = sorted(stack.queries.copy_jobs(ByDestinationVaultArn=EU), key=lambda job: job["CreationDate"])
        for record in failed_records(stack, EU):
            point = record["source_recovery_point_arn"]
            states = [job["State"] for job in jobs if job["SourceRecoveryPointArn"] == point]
            print(f"     {short(point)} ({short(record.get('resource_arn'))}): {', '.join(states)}")

        print_table(stack)
        print_alerts(published + stack.queries.take_alerts(), shown)
        calls = stack.backup.calls()
        print("\nAWS Backup API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
        print_coverage(stack)
        print_metrics(stack)
        print_organization(stack)

        print("\n11. Past midnight (UTC), the night's first sweep writes the day's copy-coverage evidence: CSV,")
        print("    JSON Lines and one self-contained HTML page, and a manifest chaining the day to the one before")
        print("    by SHA-256, into the evidence bucket (S3 Object Lock, compliance mode). Later sweeps write nothing.")
        midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        for minutes in (10, 70):
            night = stack.delivery.reconcile(at=(midnight + timedelta(minutes=minutes)).timestamp()).payload
            for written in night.get("evidence", []):
                say("reconciler", f"evidence of {written['day']}: {written['rows']} required copies, "
                                  f"{written['uncovered']} uncovered, manifest SHA-256 {written['sha256'][:16]}...")
        verified = stack.vaultwatch("evidence", "verify", "--bucket", stack.resources.evidence_bucket)
        print(f"     $ vaultwatch evidence verify --bucket {stack.resources.evidence_bucket}   (exit {verified.returncode})")
        print("     " + "\n     ".join(verified.stdout.strip().splitlines()))
        page = stack.vaultwatch("evidence", "show", "--bucket", stack.resources.evidence_bucket,
                                "--date", (midnight - timedelta(days=1)).date().isoformat(), "--file", "html")
        out = ROOT / "target" / "demo" / "evidence.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page.stdout)
        print(f"   The day's page, as an auditor opens it: {out} (open it in a browser)")

    print("\nAll local processes stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
