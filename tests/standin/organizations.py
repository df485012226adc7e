"""AWS Organizations, as far as the path check reads it, answered from the stand-in's one
Organization (standin.accounts, the `organization` control): DescribeOrganization and ListAccounts
at the stand-in's own endpoint (`AWS_ENDPOINT_URL_ORGANIZATIONS`), so that the organization a copy
meets and the one `vaultwatch paths` reads are the same (moto's Organizations gives accounts random
ids and cannot hold the stand-in's). docs/aws-facts.md#organization.

Protocol (botocore organizations/2016-11-28 model): awsJson1_1, POST /, X-Amz-Target
`AWSOrganizationsV20161128.<Operation>`; errors `{"__type": code, "message": text}`.
    DescribeOrganization  any member account: {"Organization": {Id, Arn, FeatureSet, MasterAccountArn,
                          MasterAccountId, MasterAccountEmail, AvailablePolicyTypes}}; an account in
                          no organization: AWSOrganizationsNotInUseException
    ListAccounts          the management account (or a delegated administrator): {"Accounts": [{Id,
                          Arn, Email, Name, Status, JoinedMethod, JoinedTimestamp}]}, one page; a
                          member account: AccessDeniedException
The errors' wordings are moto's (AWS's are presumed the same; not documented in the model).
"""

from __future__ import annotations

from standin.common import ApiError, now

TARGET_PREFIX = "AWSOrganizationsV20161128."
NOT_IN_USE = "Your account is not a member of an organization."
ACCESS_DENIED = "You don't have permissions to access this resource."


def organization_arn(org) -> str:
    return f"arn:aws:organizations::{org.management}:organization/{org.org_id}"


def account_arn(org, account: str) -> str:
    return f"arn:aws:organizations::{org.management}:account/{org.org_id}/{account}"


def describe_organization(org, caller: str) -> dict:
    if org.management is None or caller not in org.members:
        raise ApiError(400, "AWSOrganizationsNotInUseException", NOT_IN_USE)
    return {"Organization": {
        "Id": org.org_id, "Arn": organization_arn(org), "FeatureSet": "ALL",
        "MasterAccountArn": account_arn(org, org.management), "MasterAccountId": org.management,
        "MasterAccountEmail": f"management+{org.management}@example.com", "AvailablePolicyTypes": []}}


def list_accounts(org, caller: str) -> dict:
    if org.management is None or caller not in org.members:
        raise ApiError(400, "AWSOrganizationsNotInUseException", NOT_IN_USE)
    if not org.monitors(caller):
        raise ApiError(400, "AccessDeniedException", ACCESS_DENIED)
    joined = now()
    return {"Accounts": [{
        "Id": account, "Arn": account_arn(org, account), "Email": f"account+{account}@example.com", "Name": account,
        "Status": "ACTIVE", "JoinedMethod": "CREATED" if account == org.management else "INVITED",
        "JoinedTimestamp": joined} for account in sorted(org.members)]}


OPERATIONS = {"DescribeOrganization": describe_organization, "ListAccounts": list_accounts}


def answer(backup, target: str, caller: str) -> dict:
    """The answer to an Organizations request (`target`: its X-Amz-Target) from `caller`."""
    operation = target[len(TARGET_PREFIX):]
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise ApiError(400, "UnknownOperationException", f"The stand-in does not serve Organizations {operation}")
    with backup.lock:
        backup.calls[operation] += 1
        return handler(backup.organization, caller)
