"""The template's resources in moto (topics, queues, the tracking table), the environment the
template gives each function, pointed at the local stack, and records written to the table as the
event path would have written them."""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

from harness import schema
from harness.config import ACCOUNT, COPY_TARGETS, CREDENTIALS, RECONCILE_PAGE_SIZE, REGION, ROLE, Settings
from harness.template import template_event_patterns, template_filter_policies

if TYPE_CHECKING:
    from harness.processes import Endpoints

TABLE = "vaultwatch-tracking"
EVIDENCE_BUCKET = "vaultwatch-evidence"
# The template's key prefix of the evidence (EVIDENCE_PREFIX is it/<account>/<region>).
EVIDENCE_PREFIX = "coverage-evidence"
EVIDENCE_RETENTION_DAYS = 400


def create_evidence_bucket(s3) -> str:
    """The bucket as template.yaml's EvidenceBucket makes it: Object Lock (which turns versioning
    on) in compliance mode with the default retention."""
    s3.create_bucket(Bucket=EVIDENCE_BUCKET, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=EVIDENCE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=EVIDENCE_BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": EVIDENCE_RETENTION_DAYS}},
    })
    return EVIDENCE_BUCKET


class Resources:
    """What template.yaml creates (in the stack's moto), and how it wires the functions."""

    def __init__(self, endpoints: Endpoints, settings: Settings):
        self.endpoints, self.settings = endpoints, settings

    def create(self) -> Resources:
        client = self.endpoints.client
        sns, sqs, dynamodb = client("sns"), client("sqs"), client("dynamodb")
        self.vault_topic = sns.create_topic(Name="backup-vault-events")["TopicArn"]
        self.alert_topic = client("sns", self.settings.alert_region).create_topic(Name="vaultwatch-alerts")["TopicArn"]
        self.table = TABLE
        # As template.yaml declares it (keys, attributes, the by-recovery-point index).
        dynamodb.create_table(TableName=self.table, **schema.table_definition())

        def queue(name: str, **attributes) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return url, arn

        self.failure_queue, _ = queue("vaultwatch-failures")
        self.retry_dlq, retry_dlq_arn = queue("vaultwatch-retries-dlq")
        self.retry_queue, _ = queue(
            "vaultwatch-retries",
            RedrivePolicy=json.dumps({"deadLetterTargetArn": retry_dlq_arn, "maxReceiveCount": 5}),
        )
        # One queue per function subscription stands in for SNS's direct Lambda delivery, so the
        # subscription filter policy is applied by SNS (moto) exactly as declared in the template.
        self.subscription_queues = {}
        policies = template_filter_policies()
        for name, policy in policies.items():
            url, arn = queue(f"sns-to-{name}")
            sns.subscribe(
                TopicArn=self.vault_topic, Protocol="sqs", Endpoint=arn,
                Attributes={"FilterPolicy": json.dumps(policy)},
            )
            self.subscription_queues[name] = url
        if self.endpoints.direct_topic is not None:
            self.endpoints.direct_topic.route(self.vault_topic, policies)
        if self.settings.evidence:
            self.evidence_bucket = create_evidence_bucket(client("s3"))
        # The EventBridge feed: the template's rules on the default bus, their patterns as declared, each
        # delivering to a queue that stands in for its function target (moto matches every event the
        # stand-in puts against the patterns; harness.delivery invokes the function with what arrives).
        self.rule_queues = {}
        if self.settings.eventbridge_feed:
            events = client("events")
            for name, pattern in template_event_patterns().items():
                url, arn = queue(f"eventbridge-to-{name}")
                events.put_rule(Name=f"vaultwatch-{name}", EventPattern=json.dumps(pattern), State="ENABLED")
                events.put_targets(Rule=f"vaultwatch-{name}", Targets=[{"Id": name, "Arn": arn}])
                self.rule_queues[name] = url
        self.alert_inbox, alert_inbox_arn = queue("alert-inbox")
        client("sns", self.settings.alert_region).subscribe(TopicArn=self.alert_topic, Protocol="sqs", Endpoint=alert_inbox_arn)
        return self

    def function_env(self, name: str) -> dict[str, str]:
        """The environment the template gives function `name`, pointed at the local stack."""
        settings = self.settings
        endpoints = {
            "AWS_ENDPOINT_URL": self.endpoints.moto_url, "AWS_ENDPOINT_URL_BACKUP": self.endpoints.backup_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoints.dynamodb_faults.url,
        }
        common = {
            **CREDENTIALS, **endpoints, "TRACKING_TABLE_NAME": self.table,
            # As the template's LoggingConfig (what Lambda sets from it) and MetricsNamespace.
            "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_LOG_FORMAT": "JSON", "METRICS_NAMESPACE": "vaultwatch",
            "METRICS_DETAIL": settings.metrics_detail,
            "ALLOWED_TOPIC_ARNS": self.vault_topic, "ALLOWED_ACCOUNT_IDS": ACCOUNT,
            # As the template's Globals: BackupRoleArn, BackupRoleArn as the one passable role (no
            # PassableRoleArns), and the default AllowedCopyTargets.
            "COPY_ROLE_ARN": ROLE, "PASSABLE_ROLE_ARNS": ROLE, "COPY_TARGETS": COPY_TARGETS,
        }
        specific = {
            "copier": {"COPY_ROUTES": json.dumps(settings.routes or [{"sourceVault": "unrouted", "destinationVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:none"}]), "COPY_ROLE_ARN": ROLE},
            "tracker": {},
            "retrier": {
                "ALERT_TOPIC_ARN": self.alert_topic, "RETRY_QUEUE_URL": self.retry_queue,
                "MAX_ATTEMPTS": str(settings.max_attempts),
                # No waiting in tests: the backoff itself is covered by unit tests.
                "RETRY_BASE_DELAY_SECONDS": "0",
            },
        }
        specific["reconciler"] = {
            **specific["retrier"], "RECONCILE_LOOKBACK_HOURS": "1", "RECONCILE_PAGE_SIZE": str(RECONCILE_PAGE_SIZE),
            "COPY_ROUTES": json.dumps(settings.routes), "COPY_ROLE_ARN": ROLE,
            # The daily path check reads IAM's policy simulator, which moto lacks: on only in the
            # tests that run the path servers (harness.processes.path_servers) and say so.
            "PATH_CHECK": "off", **settings.reconciler_env,
        }
        if settings.evidence:
            specific["reconciler"].update({
                "EVIDENCE_BUCKET": self.evidence_bucket, "EVIDENCE_PREFIX": f"{EVIDENCE_PREFIX}/{ACCOUNT}/{REGION}",
                "EVIDENCE_ORGANIZATION_PREFIX": f"{EVIDENCE_PREFIX}/organization/{REGION}",
            })
        if settings.copy_paths:
            specific["reconciler"].update({
                "PATH_CHECK": "daily", "AWS_ENDPOINT_URL_IAM": self.endpoints.iam_proxy_url,
                "AWS_ENDPOINT_URL_STS": self.endpoints.iam_proxy_url, "AWS_ENDPOINT_URL_KMS": self.endpoints.iam_proxy_url,
                "AWS_ENDPOINT_URL_ORGANIZATIONS": self.endpoints.backup_url, **settings.reconciler_env,
            })
        return {**common, **specific[name]}

    def track(self, jobs: list[dict]) -> None:
        """Writes what the event path would have recorded for `jobs` (ListCopyJobs items), details
        included, failures handled (harness.schema.tracked_item): directly, in batches, since moto
        takes ~10 ms a conditional write and seeding thousands of records is not what a test or
        benchmark is about."""
        dynamodb = self.endpoints.client("dynamodb")
        items = [{"PutRequest": {"Item": schema.tracked_item(job)}} for job in jobs]
        for start in range(0, len(items), 25):
            dynamodb.batch_write_item(RequestItems={self.table: items[start:start + 25]})
