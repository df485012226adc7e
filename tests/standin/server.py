"""The stand-in's HTTP server. Every request is routed once, by ROUTES: one table from (method,
path) to the AWS Backup operation or the control that answers it. An API call is counted, admitted by the quotas' rates and the faults, its request rebuilt and
validated against the model, answered, and its response checked against the model.

Run from tests/: python -m standin.server --port 0 --sns-endpoint http://127.0.0.1:5000
  [--kms-endpoint URL] [--iam-endpoint URL] [--strict-paths]   (copy paths: standin.paths)
Prints "READY <port>" on stdout once listening.

It also answers AWS Organizations' DescribeOrganization and ListAccounts (standin.organizations)
from its organization, at the same endpoint.
"""

from __future__ import annotations

import argparse
import copy as copying
import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from harness.loopback import LoopbackHandler, LoopbackServer, report_ready
from standin import (accounts, backup_jobs, backup_model, controls, copy_jobs, listings, organizations, plans, recovery_points,
                     summaries, vaults)
from standin.accounts import REQUEST, signing_account
from standin.common import ACCOUNT, DEFAULT_REGION, ApiError, deep_merge, without_nulls
from standin.state import BackupState


@dataclass(frozen=True)
class Route:
    """One kind of request and what answers it: an AWS Backup `operation`, whose handler takes
    (backup, region, params), or a test control (operation None), whose handler takes
    (backup, body, **labels)."""

    method: str
    pattern: re.Pattern
    operation: str | None
    handler: Callable[..., dict]


def api(method: str, path: str, operation: str, handler: Callable[..., dict]) -> Route:
    """`path` is matched against the raw (still percent-encoded) path; its groups are the model's
    URI labels, percent-decoded after matching (a recovery point ARN is one label)."""
    return Route(method, re.compile(f"^{path}$"), operation, handler)


def control(path: str, handler: Callable[..., dict]) -> Route:
    return Route("POST", re.compile(f"^/_standin/{path}$"), None, handler)


# Every request the stand-in answers: AWS Backup's operations at their restJson1 routes (the model's
# requestUri), then the test controls.
ROUTES = [
    api("PUT", r"/copy-jobs", "StartCopyJob", copy_jobs.start_copy_job),
    api("GET", r"/copy-jobs/?", "ListCopyJobs", listings.list_copy_jobs),
    api("GET", r"/copy-jobs/(?P<copyJobId>[^/]+)", "DescribeCopyJob", copy_jobs.describe_copy_job),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)/recovery-points/(?P<recoveryPointArn>[^/]+)",
        "DescribeRecoveryPoint", recovery_points.describe_recovery_point),
    api("GET", r"/backup-jobs/?", "ListBackupJobs", listings.list_backup_jobs),
    api("GET", r"/backup-jobs/(?P<backupJobId>[^/]+)", "DescribeBackupJob", backup_jobs.describe_backup_job),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)", "CreateBackupVault", vaults.create_backup_vault),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)", "DescribeBackupVault", vaults.describe_backup_vault),
    api("PUT", r"/logically-air-gapped-backup-vaults/(?P<backupVaultName>[^/]+)", "CreateLogicallyAirGappedBackupVault",
        vaults.create_air_gapped_vault),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)/notification-configuration",
        "PutBackupVaultNotifications", vaults.put_notifications),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)/notification-configuration",
        "GetBackupVaultNotifications", vaults.get_notifications),
    api("PUT", r"/backup/plans/?", "CreateBackupPlan", plans.create_backup_plan),
    api("GET", r"/backup/plans/?", "ListBackupPlans", plans.list_backup_plans),
    api("GET", r"/backup/plans/(?P<backupPlanId>[^/]+)/?", "GetBackupPlan", plans.get_backup_plan),
    api("PUT", r"/backup/plans/(?P<backupPlanId>[^/]+)/selections/?", "CreateBackupSelection",
        plans.create_backup_selection),
    api("GET", r"/backup/plans/(?P<backupPlanId>[^/]+)/selections/?", "ListBackupSelections",
        plans.list_backup_selections),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)/access-policy", "PutBackupVaultAccessPolicy",
        vaults.put_access_policy),
    api("GET", r"/backup-vaults/(?P<backupVaultName>[^/]+)/access-policy", "GetBackupVaultAccessPolicy",
        vaults.get_access_policy),
    api("DELETE", r"/backup-vaults/(?P<backupVaultName>[^/]+)/access-policy", "DeleteBackupVaultAccessPolicy",
        vaults.delete_access_policy),
    api("PUT", r"/backup-vaults/(?P<backupVaultName>[^/]+)/vault-lock", "PutBackupVaultLockConfiguration", vaults.put_lock),
    api("DELETE", r"/backup-vaults/(?P<backupVaultName>[^/]+)/vault-lock", "DeleteBackupVaultLockConfiguration",
        vaults.delete_lock),
    api("GET", r"/global-settings", "DescribeGlobalSettings", accounts.describe_global_settings),
    api("PUT", r"/global-settings", "UpdateGlobalSettings", accounts.update_global_settings),
    api("GET", r"/audit/copy-job-summaries/?", "ListCopyJobSummaries", summaries.list_copy_job_summaries),
    control("reset", controls.control_reset),
    control("calls", controls.control_calls),
    control("faults", controls.control_faults),
    control("quotas", controls.control_quotas),
    control("quotas/clock", controls.control_quota_clock),
    control("backup-jobs", backup_jobs.complete_backup),
    control("bulk", backup_jobs.bulk),
    control("advance", controls.control_advance),
    control("copy-jobs/(?P<copy_job_id>[^/]+)/transition", controls.control_transition),
    control("recovery-points/set", recovery_points.set_point),
    control("recovery-points/get", recovery_points.get_point),
    control("passable-roles", controls.set_passable_roles),
    control("vault-notifications/set-raw", vaults.set_raw_notifications),
    control("copy-jobs/raw", controls.add_raw_copy_job),
    control("corrupt-response", controls.corrupt_response),
    control("published", controls.control_published),
    control("organization", controls.control_organization),
    control("paths", controls.control_paths),
]
SIGNING_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/backup/aws4_request")


def find_route(method: str, path: str) -> tuple[Route, dict]:
    """The route of a request (`path` still percent-encoded) and its labels, percent-decoded."""
    for route in ROUTES:
        match = route.pattern.match(path)
        if match and route.method == method:
            return route, {k: unquote(v) for k, v in match.groupdict().items()}
    if path.startswith("/_standin/"):
        raise ApiError(404, "UnknownOperationException", f"No control endpoint {unquote(path)}")
    raise ApiError(404, "UnknownOperationException", f"No operation for {method} {unquote(path)}")


def make_handler(backup: BackupState):
    class Handler(LoopbackHandler):
        def reply(self, status: int, body: dict, headers: dict | None = None):
            # Compact: a 1,000-item page is encoded faster and is smaller on the wire.
            encoded = json.dumps(body, separators=(",", ":")).encode()
            self.send(status, encoded, headers={"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})

        def body(self, raw: bytes | None = None) -> dict:
            raw = self.read_body() if raw is None else raw
            if not raw:
                return {}
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                raise ApiError(400, "SerializationException", "Request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "SerializationException", "Request body must be a JSON object")
            return parsed

        def organizations(self, target: str):
            """AWS Organizations (standin.organizations): awsJson1_1 at POST /."""
            self.read_body()
            caller = signing_account(self.headers.get("Authorization"))
            try:
                body = organizations.answer(backup, target, caller)
                status = 200
            except ApiError as err:
                body, status = {"__type": err.code, "message": err.message}, err.status
            encoded = json.dumps(body, separators=(",", ":")).encode()
            self.send(status, encoded, "application/x-amz-json-1.1", {"x-amzn-RequestId": str(uuid.uuid4())})

        def handle_any(self, method: str):
            url = urlparse(self.path)
            target = self.headers.get("X-Amz-Target") or ""
            if method == "POST" and target.startswith(organizations.TARGET_PREFIX):
                return self.organizations(target)
            REQUEST.account = ACCOUNT  # a control acts for the accounts its body names
            try:
                route, labels = find_route(method, url.path)
                if route.operation is None:
                    return self.reply(200, route.handler(backup, self.body(), **labels))
                return self.reply(200, self.operation(route, labels, url))
            except ApiError as err:
                body = {"Code": err.code, "Message": err.message, "Type": err.kind, "Context": err.context}
                self.reply(err.status, body, {"x-amzn-ErrorType": err.code})

        def operation(self, route: Route, labels: dict, url) -> dict:
            operation = route.operation
            # Read before any refusal: a reply must not leave the request's body unread on the
            # kept-alive connection (the next request would start inside it).
            raw = self.read_body()
            with backup.lock:  # the server is threaded: every count under the state's lock
                backup.calls[operation] += 1
            backup.quotas.admit(operation)  # a request rate beyond its quota: ThrottlingException
            backup.faults.before(operation)
            match = SIGNING_REGION.search(self.headers.get("Authorization", ""))
            region = match.group(1) if match else DEFAULT_REGION
            REQUEST.account = signing_account(self.headers.get("Authorization"))  # the caller's account
            body = self.body(raw)
            try:
                params = backup_model.request_params(operation, labels, parse_qs(url.query, keep_blank_values=True), self.headers, body)
                backup_model.validate_request(operation, params)
            except backup_model.RequestInvalid as err:
                raise ApiError(400, err.code, err.message, context=operation) from None
            return self.checked(operation, route.handler(backup, region, params))

        def checked(self, operation: str, result: dict) -> dict:
            """The response body, after the model check (a violation is a stand-in bug)."""
            result = without_nulls(result)
            with backup.lock:
                for corruption in list(backup.corruptions):
                    if corruption["operation"] == operation:
                        result = deep_merge(copying.deepcopy(result), copying.deepcopy(corruption["merge"]))
                        corruption["count"] -= 1
                        if corruption["count"] <= 0:
                            backup.corruptions.remove(corruption)
                        break
            try:
                backup_model.validate_response(operation, result)
            except backup_model.ModelViolation as err:
                print(f"STAND-IN MODEL VIOLATION: {err}", file=sys.stderr, flush=True)
                with backup.lock:
                    backup.calls["StandInModelViolation"] += 1
                raise ApiError(500, "StandInModelViolation", str(err), "Server", operation) from None
            return result

        def do_GET(self):
            self.handle_any("GET")

        def do_PUT(self):
            self.handle_any("PUT")

        def do_POST(self):
            self.handle_any("POST")

        def do_DELETE(self):
            self.handle_any("DELETE")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sns-endpoint", default=None, help="SNS endpoint to publish vault notifications to")
    parser.add_argument("--kms-endpoint", default=os.environ.get("STANDIN_KMS_ENDPOINT"),
                        help="KMS endpoint (moto) where copies read their vaults' keys (default $STANDIN_KMS_ENDPOINT; "
                             "none: every key is usable)")
    parser.add_argument("--iam-endpoint", default=os.environ.get("STANDIN_IAM_ENDPOINT"),
                        help="IAM endpoint (moto, or standin.iam_proxy) where copies read the role passed (default "
                             "$STANDIN_IAM_ENDPOINT; none: every role may copy)")
    parser.add_argument("--events-endpoint", default=None,
                        help="EventBridge endpoint (moto) to put AWS Backup's job state change events on (standin.events)")
    parser.add_argument("--strict-paths", action="store_true", default=os.environ.get("STANDIN_STRICT_PATHS") == "true",
                        help="enforce AWS's defaults on copy paths from the start (standin.paths; the paths control)")
    args = parser.parse_args()
    backup_model.service_model()  # load the model before accepting requests
    state = BackupState(args.sns_endpoint, kms_endpoint=args.kms_endpoint, iam_endpoint=args.iam_endpoint,
                        strict_paths=args.strict_paths, events_endpoint=args.events_endpoint)
    server = LoopbackServer(make_handler(state), args.host, args.port)
    report_ready(server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
