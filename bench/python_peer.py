"""Baseline for the benchmark: the retrier's core (DescribeCopyJob, then StartCopyJob with a
deterministic token) in Python with boto3, under a minimal Lambda Runtime API loop, the way a
Python 3.11 function would run it."""

import json
import os
import urllib.request

import boto3

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
backup = boto3.client("backup")  # built once, during init, like the Rust functions' clients


def handle(event):
    attributes = event["Records"][0]["Sns"]["MessageAttributes"]
    job = backup.describe_copy_job(CopyJobId=attributes["Id"]["Value"])["CopyJob"]
    started = backup.start_copy_job(
        RecoveryPointArn=job["SourceRecoveryPointArn"],
        SourceBackupVaultName=job["SourceBackupVaultArn"].rsplit(":", 1)[1],
        DestinationBackupVaultArn=job["DestinationBackupVaultArn"],
        IamRoleArn=job["IamRoleArn"],
        IdempotencyToken=f"retry-{job['CopyJobId']}-1",
    )
    return {"copyJob": started["CopyJobId"]}


while True:
    with urllib.request.urlopen(f"{API}/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    try:
        body, path = handle(event), "response"
    except Exception as err:  # reported to the runtime, as Lambda's Python runtime does
        body, path = {"errorType": type(err).__name__, "errorMessage": str(err)}, "error"
    request = urllib.request.Request(f"{API}/{request_id}/{path}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).read()
