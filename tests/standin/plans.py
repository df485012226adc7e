"""Backup plans: CreateBackupPlan, GetBackupPlan, ListBackupPlans (a plan rule's CopyActions start
copies when a backup job of the rule completes: backup_jobs), and a plan's backup selections:
CreateBackupSelection, ListBackupSelections (each names the role its backups, and the copies of its
plan's rules, pass)."""

from __future__ import annotations

import base64
import copy as copying
import uuid
from typing import TYPE_CHECKING

from standin.accounts import arn_scope, caller_account
from standin.common import not_found, now, validate_lifecycle

if TYPE_CHECKING:
    from standin.state import BackupState


def create_backup_plan(backup: BackupState, region: str, params: dict) -> dict:
    plan = params["BackupPlan"]  # required members checked against the model
    stored_rules = []
    for rule in plan["Rules"]:
        validate_lifecycle(rule.get("Lifecycle"), "CreateBackupPlan")
        for action in rule.get("CopyActions", []):
            validate_lifecycle(action.get("Lifecycle"), "CreateBackupPlan")
        stored_rules.append({**copying.deepcopy(rule), "RuleId": str(uuid.uuid4())})
    plan_id = str(uuid.uuid4())
    version = base64.b64encode(str(uuid.uuid4()).encode()).decode()
    arn = f"arn:aws:backup:{region}:{caller_account()}:backup-plan:{plan_id}"
    created = now()
    with backup.lock:
        backup.plans[plan_id] = {
            "latest": version,
            "versions": {version: {"BackupPlanName": plan["BackupPlanName"], "Rules": stored_rules}},
            "arn": arn,
            "created": created,
        }
    return {"BackupPlanId": plan_id, "BackupPlanArn": arn, "CreationDate": created, "VersionId": version}


def get_backup_plan(backup: BackupState, region: str, params: dict) -> dict:
    plan_id, version = params["BackupPlanId"], params.get("VersionId")
    with backup.lock:
        plan = backup.plans.get(plan_id)
        version = version or (plan and plan["latest"])
        # A plan is the caller's own in this region (its ARN says whose and where).
        if plan is None or version not in plan["versions"] or arn_scope(plan["arn"]) != (caller_account(), region):
            raise not_found("Failed reading Backup plan with provided version", "GetBackupPlan")
        return {
            "BackupPlan": copying.deepcopy(plan["versions"][version]), "BackupPlanId": plan_id,
            "BackupPlanArn": plan["arn"], "VersionId": version, "CreationDate": plan["created"],
        }


def create_backup_selection(backup: BackupState, region: str, params: dict) -> dict:
    plan_id, selection = params["BackupPlanId"], params["BackupSelection"]
    created = now()
    with backup.lock:
        plan = backup.plans.get(plan_id)
        if plan is None or arn_scope(plan["arn"]) != (caller_account(), region):
            raise not_found("Failed reading Backup plan with provided version", "CreateBackupSelection")
        selection_id = str(uuid.uuid4())
        plan.setdefault("selections", {})[selection_id] = {
            "SelectionId": selection_id, "SelectionName": selection["SelectionName"], "BackupPlanId": plan_id,
            "CreationDate": created, "IamRoleArn": selection["IamRoleArn"],
            **({"CreatorRequestId": params["CreatorRequestId"]} if "CreatorRequestId" in params else {}),
        }
    return {"SelectionId": selection_id, "BackupPlanId": plan_id, "CreationDate": created}


def list_backup_selections(backup: BackupState, region: str, params: dict) -> dict:
    """ListBackupSelections of one of the caller's plans in the region (one page)."""
    plan_id = params["BackupPlanId"]
    with backup.lock:
        plan = backup.plans.get(plan_id)
        if plan is None or arn_scope(plan["arn"]) != (caller_account(), region):
            raise not_found("Failed reading Backup plan with provided version", "ListBackupSelections")
        return {"BackupSelectionsList": [dict(selection) for selection in plan.get("selections", {}).values()]}


def list_backup_plans(backup: BackupState, region: str, params: dict) -> dict:
    """ListBackupPlans: the caller's plans in the region, each with its latest version (one page:
    the stand-in's plans are few)."""
    with backup.lock:
        listed = [
            {"BackupPlanArn": plan["arn"], "BackupPlanId": plan_id, "CreationDate": plan["created"],
             "VersionId": plan["latest"], "BackupPlanName": plan["versions"][plan["latest"]]["BackupPlanName"]}
            for plan_id, plan in backup.plans.items() if arn_scope(plan["arn"]) == (caller_account(), region)
        ]
    return {"BackupPlansList": listed}
