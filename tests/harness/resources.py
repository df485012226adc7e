"""The template's resources in moto (topics, queues, the tracking table) and the environment the
template gives each function, pointed at the local stack."""

from __future__ import annotations

import json

from harness.config import ACCOUNT, CREDENTIALS, ROLE
from harness.template import template_filter_policies

TABLE = "vaultwatch-tracking"


class Resources:
    """Part of LocalStack: what template.yaml creates, and how it wires the functions."""

    def create_resources(self) -> None:
        sns, sqs, dynamodb = self.client("sns"), self.client("sqs"), self.client("dynamodb")
        self.vault_topic = sns.create_topic(Name="backup-vault-events")["TopicArn"]
        self.alert_topic = self.client("sns", self.alert_region).create_topic(Name="vaultwatch-alerts")["TopicArn"]
        self.table = TABLE
        dynamodb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "source_recovery_point_arn", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by-recovery-point",
                "KeySchema": [{"AttributeName": "source_recovery_point_arn", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [
                    "copy_job_id", "state", "destination_vault_arn", "destination_recovery_point_arn"]},
            }],
        )

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
        if self.direct_topic is not None:
            self.direct_topic.route(self.vault_topic, policies)
        self.alert_inbox, alert_inbox_arn = queue("alert-inbox")
        self.client("sns", self.alert_region).subscribe(TopicArn=self.alert_topic, Protocol="sqs", Endpoint=alert_inbox_arn)

    def function_env(self, name: str) -> dict[str, str]:
        """The environment the template gives function `name`, pointed at the local stack."""
        endpoints = {
            "AWS_ENDPOINT_URL": self.moto_url, "AWS_ENDPOINT_URL_BACKUP": self.backup_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_faults.url,
        }
        common = {
            **CREDENTIALS, **endpoints, "TRACKING_TABLE_NAME": self.table,
            # As the template's LoggingConfig (what Lambda sets from it) and MetricsNamespace.
            "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_LOG_FORMAT": "JSON", "METRICS_NAMESPACE": "vaultwatch",
            "ALLOWED_TOPIC_ARNS": self.vault_topic, "ALLOWED_ACCOUNT_IDS": ACCOUNT,
            # As the template's Globals: BackupRoleArn, BackupRoleArn + PassableRoleArns, and the
            # default AllowedCopyTargets (this account's vaults in any region).
            "COPY_ROLE_ARN": ROLE, "PASSABLE_ROLE_ARNS": ",".join([ROLE, *self.passable_roles]),
            "COPY_TARGETS": self.copy_targets,
        }
        specific = {
            "copier": {"COPY_ROUTES": json.dumps(self.routes or [{"sourceVault": "unrouted", "destinationVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:none"}]), "COPY_ROLE_ARN": ROLE},
            "tracker": {},
            "retrier": {
                "ALERT_TOPIC_ARN": self.alert_topic, "RETRY_QUEUE_URL": self.retry_queue,
                "MAX_ATTEMPTS": str(self.max_attempts),
                # No waiting in tests: the backoff itself is covered by unit tests.
                "RETRY_BASE_DELAY_SECONDS": "0",
            },
        }
        specific["reconciler"] = {
            **specific["retrier"], "RECONCILE_LOOKBACK_HOURS": "1", "RECONCILE_PAGE_SIZE": str(self.reconcile_page_size),
            "COPY_ROUTES": json.dumps(self.routes), "COPY_ROLE_ARN": ROLE, **self.reconciler_env,
        }
        return {**common, **specific[name]}
