"""A small, faithful AWS Backup stand-in (restJson1), for local tests and the demo.

moto has no copy jobs or vault notifications, so this server implements the slice of the AWS Backup
API vaultwatch uses, with the wire format of the real service (see botocore's backup service-2.json):
routes, query parameters, epoch-second timestamps, error shapes (`x-amzn-ErrorType` header, body
with Code/Message/Type/Context), IdempotencyToken semantics and validation.

The API model is enforced (backup_model.py): every request is rebuilt into the operation's input
parameters and validated against botocore's model (required, types, min/max, patterns, enums); a
violation is refused like AWS does, HTTP 400 `ValidationException` with Coral's wording
("1 validation error detected: Value '5000' at 'maxResults' failed to satisfy constraint: Member
must have value less than or equal to 1000"). Every response body is validated against the output
shape; a violation is a stand-in bug: HTTP 500 `StandInModelViolation`, logged to stderr.

AWS Backup's documented refusals and shapes (docs/aws-facts.md):
  * continuous backups (`arn:aws:backup:REGION:ACCOUNT:recovery-point:continuous:db-...`):
    StartCopyJob refuses them (InvalidRequestException); plan CopyActions still copy them and the
    copy is a snapshot (periodic) recovery point;
  * recovery points in cold storage (InvalidRequestException), deleted (ResourceNotFoundException)
    or EXPIRED/DELETING (InvalidRequestException) are not copied; lifecycle days decide the
    CalculatedLifecycle and, once reached, the storage class (COLD) and deletion (DELETED/EXPIRED);
  * composite backups: a parent recovery point with child recovery points; a copy of it is a parent
    copy job (IsParent, NumberOfChildJobs, ChildJobsInState) with one child copy job per child
    (ParentJobId, CompositeMemberIdentifier); the parent's state follows its children's;
  * failed copy jobs carry StatusMessage, MessageCategory and CompletionDate;
  * PutBackupVaultNotifications refuses the deprecated events of the BackupVaultEvent enum;
  * iam:PassRole is simulated: StartCopyJob with a role the caller may not pass is AccessDenied;
  * Lifecycle -1 ("keep indefinitely"), the 90-day rule only when both values are positive,
    DeleteAfterEvent refused as an input;
  * logically air-gapped vaults (CreateLogicallyAirGappedBackupVault) and backups straight to one:
    a fully managed resource type backs up into it, any other leaves a temporary recovery point
    (RecoveryPointLifecycle DeleteAfterEvent DELETE_AFTER_COPY) that AWS Backup's own copy job
    (CreatedByBackupJobId, DestinationVaultType LOGICALLY_AIR_GAPPED_BACKUP_VAULT) copies into the
    vault, and that is deleted when that copy completes (docs/aws-facts.md, Logically air-gapped
    vaults; the fully managed types and what a failed copy leaves are presumed);
  * accounts and regions: every vault, plan, recovery point and job belongs to one (account,
    region), named in its ARNs; a job's AccountId is its owner's (a copy job's, its source
    account's). A call acts as the account of its SigV4 access key id when that is 12 digits
    (AWS_ACCESS_KEY_ID=111111111111, moto's convention; else 123456789012) in its signing region,
    and sees only that account's resources in that region (Describe* of another's job: not found);
  * the organization view (docs/aws-facts.md, Organization view): ListBackupJobs `ByAccountId` `*`
    (every member's jobs) or a member's id, and ListCopyJobs `ByAccountId` a member's id, from the
    organization's management account or a delegated administrator; any other account's jobs, or
    `*` from anyone else, HTTP 400 AccessDeniedException "You do not have sufficient access to
    perform this action." (presumed); ListCopyJobs `*` fails the model's pattern (ValidationException:
    an ASSUMPTION, AWS documents `*` for ListBackupJobs only and says nothing of it for ListCopyJobs;
    see backup_model.DOCUMENTED_VALUES);
    ListCopyJobSummaries (GET /audit/copy-job-summaries) counts the copy jobs of the last 14 days
    (the model's window since botocore 1.43.78, 30 days before) per period, Region,
    AccountId, State, ResourceType and MessageCategory, honouring AccountId (ANY, AGGREGATE_ALL, an
    id; a member gets its own counts whatever it asks), the ANY/AGGREGATE_ALL of the other
    dimensions, AggregationPeriod, MaxResults (1..500; more is InvalidParameterValueException) and
    NextToken.

  * copy paths (standin.paths, docs/aws-facts.md#copy-paths): when a copy job runs, its path
    decides its fate in order (resource type, organization and its cross-account setting, the role
    read from IAM, the destination vault access policy, the vaults' KMS keys, Vault Lock retention),
    the first failing decider ending it FAILED with AWS's text; the configuration is set and read
    through AWS's APIs (Put/Get/DeleteBackupVaultAccessPolicy, Put/DeleteBackupVaultLockConfiguration,
    CreateBackupVault EncryptionKeyArn, DescribeBackupVault, Describe/UpdateGlobalSettings), keys and
    roles through moto (--kms-endpoint, --iam-endpoint); AWS's defaults only in strict mode;
    SimulatePrincipalPolicy is served by standin.iam_proxy in front of moto's IAM.

On every job transition it publishes the vault's notification to the vault's SNS topic exactly as
AWS Backup does (Subject, text, MessageAttributes EventType/State/AccountId/Id/StartTime), through a
real SNS endpoint (moto), for parent and child jobs alike.

The stand-in is a package of modules over one shared state (state.BackupState), by operation
group:

    common           the default account and region, AWS Backup's errors, timestamps, message
                     categories, lifecycle rules, the model's shapes applied to records
    backup_model     botocore's AWS Backup model as the stand-in enforces it
    accounts         accounts, regions and the organization (who may see whose jobs)
    faults           fault injection (/_standin/faults)
    quotas           request rates and concurrent copy job caps (/_standin/quotas)
    iam_policy       the IAM policy evaluator (vault access, role, key policies; simulations)
    paths            what decides a copy's fate on its path (run by `advance`)
    iam_proxy        SimulatePrincipalPolicy in front of moto's IAM (a server of its own)
    state            BackupState: every vault, plan, point and job, the counters, one lock
    vaults           vaults and their notifications
    plans            backup plans
    recovery_points  recovery points and their lifecycle
    backup_jobs      backup jobs ending (and the plan's copies they start), bulk seeding
    copy_jobs        StartCopyJob, DescribeCopyJob, the copy job state machine, `advance`
    listings         ListCopyJobs, ListBackupJobs
    summaries        ListCopyJobSummaries
    controls         the test controls under /_standin/ (documented there)
    server           the routing table, the HTTP handler (model checks, counters), main

Run from tests/: python -m standin.server --port 0 --sns-endpoint http://127.0.0.1:5000
Prints "READY <port>" on stdout once listening.
"""
