"""What the local stack stands for: one account and region, test credentials, the backup role,
and the functions template.yaml declares."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
# Function name -> (binary, template logical id)
FUNCTIONS = {
    "copier": ("cross-region-copier", "CrossRegionCopierFunction"),
    "tracker": ("copy-job-tracker", "CopyJobTrackerFunction"),
    "retrier": ("copy-job-retrier", "CopyJobRetrierFunction"),
}
# Scheduled functions: no subscription, invoked by an EventBridge schedule.
SCHEDULED = {"reconciler": ("copy-job-reconciler", "CopyJobReconcilerFunction")}
