"""The vaultwatch demo: a realistic story played through the real function binaries against the
local stack (moto + the AWS Backup stand-in). Deploys nothing; prints what each function did and
ends with the tracking table, the alerts, a coverage report and the metrics the functions wrote. Run it with `scripts/demo` (which puts tests/ on the import path for
the harness).
"""

from __future__ import annotations

import json
import signal
import sys
import time

from harness.config import ACCOUNT, ROLE
from harness.delivery import Invocation
from harness.stack import LocalAws

DR = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
EU = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:eu-archive"
ROUTES = [{"sourceVault": "primary", "destinationVaultArn": EU, "resourceTypes": ["RDS"],
           "lifecycle": {"deleteAfterDays": 2555}}]
LIFECYCLE = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}
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
        return (f"scanned {payload['scanned']}, repaired {payload['repaired']}, retried {payload['retried']}, "
                f"alerted {payload['alerted']}, missing copies started {payload['missingCopiesStarted']}, "
                f"details filled {payload['detailsFilled']}, resolved {payload.get('resolved', 0)}")
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
            parts.append(f"retry {outcome['attempt']} scheduled; ALERT sent ({outcome['alerted']})")
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
                gauge = metric.get("Unit") == "Seconds" or name == "UncoveredRecoveryPoints"
                totals[key] = document[name] if gauge else totals.get(key, 0) + document[name]
    print("\nMetrics written (CloudWatch Embedded Metric Format; counts summed, gauges as last written):")
    for (function, name), value in sorted(totals.items()):
        print(f"  {function:<11} {name:<45} {value:g}")


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the stack's processes are stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("vaultwatch demo: local AWS (moto + AWS Backup stand-in), real function binaries\n")
    with LocalAws(max_attempts=3, routes=ROUTES, on_invocation=on_invocation) as stack:
        say("setup", "vaults primary (us-east-1), dr-copy (us-west-2), eu-archive (eu-west-1)")
        stack.backup.create_vault("primary")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        plan_id = stack.endpoints.client("backup").create_backup_plan(BackupPlan={
            "BackupPlanName": "daily-with-dr-copy",
            "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "primary",
                       "ScheduleExpression": "cron(0 3 * * ? *)",
                       "CopyActions": [{"DestinationBackupVaultArn": DR, "Lifecycle": LIFECYCLE}]}],
        })["BackupPlanId"]
        say("setup", "plan daily-with-dr-copy: copy to dr-copy, cold after 30 days, delete after 365")
        say("setup", "copier route: RDS backups in primary also go to eu-archive")

        print("\n1. A web server volume is backed up; the plan copies it to the DR region.")
        stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-web01", "EBS", planId=plan_id)
        run_until_quiet(stack)

        print("\n2. A database volume's DR copy fails transiently; vaultwatch retries it with the plan's lifecycle.")
        stack.backup.fail_copies("Copy job failed because the destination backup vault is being modified. Try again later.", destinationVaultArn=DR)
        stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-db01", "EBS", planId=plan_id)
        run_until_quiet(stack)

        print("\n3. An RDS database: the plan copy succeeds, the routed copy to eu-archive fails for good.")
        stack.backup.fail_copies("Access denied: the IAM role cannot use the destination KMS key", destinationVaultArn=EU)
        orders = stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders", "RDS", planId=plan_id)
        run_until_quiet(stack)

        print("\n4. SNS delivers a notification twice: nothing is copied twice.")
        stack.delivery.duplicate_deliveries = 2
        stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:billing", "RDS", planId=plan_id)
        run_until_quiet(stack)
        stack.delivery.duplicate_deliveries = 1

        print("\n5. A point-in-time (continuous) RDS backup: AWS Backup does not copy those on demand, so the")
        print("   route to eu-archive asks nothing of it.")
        stack.backup.complete_backup("primary", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:ledger", "RDS", continuous=True)
        run_until_quiet(stack)

        print("\n6. A DR copy fails while its source has already moved to cold storage: a retry could never")
        print("   work, so the operator hears it now, once, with the reason.")
        stack.backup.fail_copies("Copy job failed. Try again later.", destinationVaultArn=DR)
        cold = stack.backup.complete_backup("primary", f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-archive01", "EBS", planId=plan_id)
        stack.backup.set_recovery_point(cold["RecoveryPointArn"], storageClass="COLD")
        say("AWS Backup", f"recovery point {short(cold['RecoveryPointArn'])} moved to cold storage")
        run_until_quiet(stack)

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

        print("\n9. The operator fixes the key policy and starts the failed copy again by hand (the alert gave the")
        print("   command); the next sweep posts one 'resolved' message in the alert's thread.")
        manual = stack.endpoints.client("backup").start_copy_job(
            RecoveryPointArn=orders["RecoveryPointArn"], SourceBackupVaultName="primary", DestinationBackupVaultArn=EU,
            IamRoleArn=ROLE)
        say("operator", f"aws backup start-copy-job ... -> copy {short(manual['CopyJobId'])}")
        for job in stack.backup.advance():
            say("AWS Backup", f"copy {short(job['CopyJobId'])} -> {short(job['DestinationBackupVaultArn'])} {job['State']}")
        stack.delivery.drain()
        stack.delivery.reconcile()

        print_table(stack)
        alerts = stack.queries.take_alerts()
        print(f"\nAlerts and resolutions published: {len(alerts)}")
        for alert in alerts:
            print(f"  {alert['Subject']}")
            print("    " + "\n    ".join(readable(alert["Message"]).strip().splitlines()))
        calls = stack.backup.calls()
        print("\nAWS Backup API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
        print_coverage(stack)
        print_metrics(stack)
        print_organization(stack)
    print("\nAll local processes stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
