"""IAM in front of moto, with SimulatePrincipalPolicy, which moto lacks: the proxy answers
SimulatePrincipalPolicy from the stand-in's one policy evaluator (standin.iam_policy) over the
principal's policies as moto holds them, and forwards every other IAM request to moto unchanged.
A Rust `aws-sdk-iam` client reaches it through AWS_ENDPOINT_URL_IAM; the stand-in's role decider
(standin.paths) reads the same policies through the same evaluator, so a simulation and a copy
agree.

Run from tests/: python -m standin.iam_proxy --moto http://127.0.0.1:5000 [--port 0]
Prints "READY <port>" on stdout once listening.

SimulatePrincipalPolicy (IAM API model, botocore iam/2010-05-08, Query protocol, XML namespace
https://iam.amazonaws.com/doc/2010-05-08/): PolicySourceArn (a role; its attached managed and inline
policies), ActionNames.member.N, ResourceArns.member.N (default "*"), ResourcePolicy (one
resource-based policy, evaluated for each resource), ResourceOwner (default: the resource ARN's
account, else the principal's), CallerArn (the principal the resource policy sees; default
PolicySourceArn), PolicyInputList.member.N (further identity policies). Answer:
SimulatePrincipalPolicyResult / EvaluationResults / member {EvalActionName, EvalResourceName,
EvalDecision (allowed | explicitDeny | implicitDeny), MatchedStatements / member {SourcePolicyId,
SourcePolicyType}, MissingContextValues / member (condition keys the evaluator did not have)},
IsTruncated false. A principal that is not an existing role: NoSuchEntity (HTTP 404), IAM's
"The role with name NAME cannot be found." (users and groups are not simulated: InvalidInput).
Within one account an Allow in either the identity or the resource policy suffices; across
accounts both must allow; an explicit Deny in either wins.

It also stands in for KMS's AWS managed key for AWS Backup (AWS_ENDPOINT_URL_KMS): moto knows no
`aws/backup` key, and the stand-in names one per account and region for a vault created without a
key (standin.paths.default_key_arn). DescribeKey of such a key (by its ARN) is answered as KMS
describes an AWS managed key (KMS API model, awsJson1_1 `TrentService.DescribeKey`: KeyMetadata
{AWSAccountId, KeyId, Arn, Enabled, KeyState "Enabled", KeyManager "AWS", KeyUsage, KeySpec,
Origin, Description, CreationDate}); every other KMS request goes to moto, in the account of its signing access key id when that is 12
digits (moto's x-moto-account-id header, added when the request has none).

It also answers STS GetCallerIdentity (AWS_ENDPOINT_URL_STS), which moto answers with its default
account whatever the credentials: the caller's account is the SigV4 access key id when that is 12
digits, as the stand-in reads it (standin.accounts.signing_account). Answer (STS API model, Query
protocol, namespace https://sts.amazonaws.com/doc/2011-06-15/): GetCallerIdentityResult {UserId,
Account, Arn}.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3

from harness.loopback import Connections, LoopbackHandler, LoopbackServer, report_ready
from standin import iam_policy, paths
from standin.accounts import SIGNING_ACCESS_KEY, TWELVE_DIGITS, signing_account
from standin.state import moto_account

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def aws_managed_key(key_id: str) -> dict | None:
    """DescribeKey's answer for the stand-in's AWS managed key for AWS Backup, None for any other key."""
    parts = key_id.split(":")
    if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
        return None
    region, account = parts[3], parts[4]
    if key_id != paths.default_key_arn(account, region):
        return None
    return {"KeyMetadata": {"AWSAccountId": account, "KeyId": parts[5][len("key/"):], "Arn": key_id, "Enabled": True,
                            "KeyState": "Enabled", "KeyManager": "AWS", "KeyUsage": "ENCRYPT_DECRYPT",
                            "KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                            "Origin": "AWS_KMS", "CreationDate": round(time.time(), 3),
                            "Description": "Default key that protects my Backup vaults when no other key is defined"}}


def caller_identity_xml(account: str) -> str:
    return (f'<GetCallerIdentityResponse xmlns="{STS_NAMESPACE}"><GetCallerIdentityResult>'
            f"<UserId>AIDA{account}</UserId><Account>{account}</Account>"
            f"<Arn>arn:aws:iam::{account}:user/operator</Arn></GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>")


class SimulationError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def members(params: dict, name: str) -> list[str]:
    """The values of a Query list parameter (`Name.member.1`, `Name.member.2`, ...), in order."""
    found = {}
    prefix = f"{name}.member."
    for key, values in params.items():
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            found[int(key[len(prefix):])] = values[0]
    return [found[i] for i in sorted(found)]


def simulate(iam, params: dict) -> list[dict]:
    """The EvaluationResults of a SimulatePrincipalPolicy request (`params`: parse_qs of its body)."""
    source = params.get("PolicySourceArn", [None])[0]
    actions = members(params, "ActionNames")
    if not source or not actions:
        raise SimulationError(400, "InvalidInput", "PolicySourceArn and ActionNames are required")
    if ":role/" not in source:
        raise SimulationError(400, "InvalidInput", "Only roles are simulated by this stand-in")
    policies = paths.role_policies(iam, source)
    if policies is None:
        raise SimulationError(404, "NoSuchEntity", f"The role with name {source.split('/')[-1]} cannot be found.")
    sources = {name: kind for name, kind, _ in policies}
    documents = [(name, document) for name, _, document in policies]
    for index, document in enumerate(members(params, "PolicyInputList"), start=1):
        name = f"PolicyInputList.{index}"
        sources[name] = "none"
        documents.append((name, document))
    resource_policy = params.get("ResourcePolicy", [None])[0]
    caller = params.get("CallerArn", [source])[0]
    results = []
    for action in actions:
        for resource in members(params, "ResourceArns") or ["*"]:
            request = iam_policy.Request(action, resource, caller)
            identity = iam_policy.evaluate(documents, request)
            resource_decision = None
            if resource_policy:
                sources["resource-policy"] = "resource"
                resource_decision = iam_policy.evaluate([("resource-policy", resource_policy)], request, resource_based=True)
            owner = params.get("ResourceOwner", [None])[0]
            owner = (owner or "").split(":")[4] if (owner or "").startswith("arn:") else owner
            owner = owner or iam_policy.principal_account(resource) or iam_policy.principal_account(source)
            decision = iam_policy.combine(identity, resource_decision, owner == iam_policy.principal_account(source))
            results.append({"action": action, "resource": resource, "decision": decision.decision,
                            "matched": [(name, sources[name]) for name, _ in decision.matched],
                            "missing": sorted(set(decision.unknown))})
    return results


def result_xml(results: list[dict]) -> str:
    items = []
    for result in results:
        matched = "".join(f"<member><SourcePolicyId>{escape(name)}</SourcePolicyId>"
                          f"<SourcePolicyType>{kind}</SourcePolicyType></member>" for name, kind in result["matched"])
        missing = "".join(f"<member>{escape(key)}</member>" for key in result["missing"])
        items.append(f"<member><EvalActionName>{escape(result['action'])}</EvalActionName>"
                     f"<EvalResourceName>{escape(result['resource'])}</EvalResourceName>"
                     f"<EvalDecision>{result['decision']}</EvalDecision>"
                     f"<MatchedStatements>{matched}</MatchedStatements>"
                     f"<MissingContextValues>{missing}</MissingContextValues></member>")
    return (f'<SimulatePrincipalPolicyResponse xmlns="{NAMESPACE}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(items)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></SimulatePrincipalPolicyResponse>")


def error_xml(err: SimulationError) -> str:
    return (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{err.code}</Code>'
            f"<Message>{escape(err.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")


def make_handler(moto: str):
    upstream = Connections(moto)
    clients: dict[str, object] = {}

    def iam_client(account: str):
        if account not in clients:
            client = boto3.client("iam", region_name="us-east-1", endpoint_url=moto,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            client.meta.events.register("before-sign.*.*", moto_account(account))
            clients[account] = client
        return clients[account]

    class Handler(LoopbackHandler):
        def forward(self, method: str, body: bytes):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            # moto acts in the account its x-moto-account-id header names; a caller signing with a
            # 12-digit access key id (the stand-in's convention) acts in that account, as in AWS.
            signed = SIGNING_ACCESS_KEY.search(self.headers.get("Authorization") or "")
            if signed and TWELVE_DIGITS.match(signed.group(1)) and not any(k.lower() == "x-moto-account-id" for k in headers):
                headers["x-moto-account-id"] = signed.group(1)
            status, payload, answered = upstream.request(method, self.path, body, headers)
            kept = {k: v for k, v in answered
                    if k.lower() not in ("content-length", "content-type", "connection", "transfer-encoding", "server", "date")}
            content_type = next((v for k, v in answered if k.lower() == "content-type"), "text/xml")
            self.send(status, payload, content_type, kept)

        def handle_any(self, method: str):
            body = self.read_body() or b""
            if self.headers.get("X-Amz-Target") == "TrentService.DescribeKey":
                managed = aws_managed_key(str(json.loads(body or b"{}").get("KeyId", "")))
                if managed is not None:
                    return self.send(200, json.dumps(managed).encode(), "application/x-amz-json-1.1",
                                     {"x-amzn-RequestId": str(uuid.uuid4())})
                return self.forward(method, body)
            params = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
            if method == "POST" and params.get("Action", [""])[0] == "GetCallerIdentity":
                xml = caller_identity_xml(signing_account(self.headers.get("Authorization")))
                return self.send(200, xml.encode(), "text/xml", {"x-amzn-RequestId": str(uuid.uuid4())})
            if method != "POST" or params.get("Action", [""])[0] != "SimulatePrincipalPolicy":
                return self.forward(method, body)
            source = params.get("PolicySourceArn", [""])[0]
            account = iam_policy.principal_account(source) or self.headers.get("x-moto-account-id") or "123456789012"
            try:
                xml = result_xml(simulate(iam_client(account), params))
                self.send(200, xml.encode(), "text/xml", {"x-amzn-RequestId": str(uuid.uuid4())})
            except SimulationError as err:
                self.send(err.status, error_xml(err).encode(), "text/xml")

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--moto", required=True, help="moto's endpoint, where every other IAM request goes")
    args = parser.parse_args()
    server = LoopbackServer(make_handler(args.moto), args.host, args.port)
    report_ready(server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
