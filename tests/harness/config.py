"""What the local stack stands for: one account and region, test credentials, the backup role,
and the functions template.yaml declares."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
# The routes of the end-to-end tests and the burst benchmark: vault `routed` copies to two regions.
DR_VAULT = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr-copy"
EU_VAULT = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:eu-archive"
ROUTES = [
    {"sourceVault": "routed", "destinationVaultArn": DR_VAULT,
     "lifecycle": {"moveToColdStorageAfterDays": 30, "deleteAfterDays": 365}},
    {"sourceVault": "routed", "destinationVaultArn": EU_VAULT, "resourceTypes": ["EBS"]},
]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
# Function name -> (binary, template logical id)
FUNCTIONS = {
    "copier": ("cross-region-copier", "CrossRegionCopierFunction"),
    "tracker": ("copy-job-tracker", "CopyJobTrackerFunction"),
    "retrier": ("copy-job-retrier", "CopyJobRetrierFunction"),
}
# Scheduled functions: no subscription, invoked by an EventBridge schedule.
SCHEDULED = {"reconciler": ("copy-job-reconciler", "CopyJobReconcilerFunction")}
