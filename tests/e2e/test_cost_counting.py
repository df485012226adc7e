"""The cost benchmark's counting (bench/cost_counting.py, bench/cost_bench.py) checked on its own: the
billing rules on items and requests of known size, the counting proxy on known DynamoDB requests,
and a tiny day (5 backups, one hour with a sweep) through the real binaries, whose counts must be
what the functions are known to do."""

import json

import boto3
import pytest

import cost_bench
from cost_counting import (CountingProxy, Index, chunks, emf_metrics, index_write_units, item_size, metric_hours,
                           number_size, read_units, s3_operation, s3_request_class, signed_service, update_write_units,
                           value_size, write_units)
from harness.config import ACCOUNT, REGION


def test_item_sizes_follow_dynamodb_rules():
    assert number_size("12345") == 4  # 5 significant digits: 3 bytes, plus 1
    assert number_size("100") == 2 and number_size("0.001") == 2  # zeros trimmed
    assert number_size("-1.5") == 3  # 2 digits, 1, and 1 for the sign
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"BOOL": True}) == 1 and value_size({"NULL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    item = {"pk": {"S": "copy#abc"}, "n": {"N": "12345"}, "ok": {"BOOL": False}}
    assert item_size(item) == (2 + 8) + (1 + 4) + (2 + 1)
    assert item_size(None) == 0


def test_request_units_round_up_per_started_unit():
    assert read_units(4096) == 1 and read_units(4097) == 2
    assert read_units(4097, consistent=False) == 1.0 and read_units(100, consistent=False) == 0.5
    assert read_units(0) == 1, "a read of an item that does not exist still costs one unit"
    assert write_units(1) == 1 and write_units(1024) == 1 and write_units(1025) == 2 and write_units(0) == 1
    assert update_write_units(300, 1500) == 2 and update_write_units(2100, 10) == 3, "the larger of before and after"


def test_index_writes_follow_the_gsi_rules():
    index = Index("by-rp", ("rp",), ("rp", "pk", "state"))
    base = {"pk": {"S": "copy#1"}, "other": {"S": "x" * 2000}}
    with_rp = {**base, "rp": {"S": "rp-1"}, "state": {"S": "CREATED"}}
    assert index_write_units(index, None, base) == 0, "not in the index: no index write"
    assert index_write_units(index, base, with_rp) == 1, "a new entry (small: the index holds no 'other')"
    assert index_write_units(index, with_rp, {**with_rp, "other": {"S": "y"}}) == 0, "no projected attribute changed"
    assert index_write_units(index, with_rp, {**with_rp, "state": {"S": "COMPLETED"}}) == 1
    assert index_write_units(index, with_rp, {**with_rp, "rp": {"S": "rp-2"}}) == 2, "a changed key: delete and put"
    assert index_write_units(index, with_rp, base) == 1, "an entry removed"


def test_requests_are_named_and_chunked():
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    assert signed_service(headers) == "dynamodb"
    assert s3_operation("PUT", "/bucket/a/b/c.json") == "PutObject"
    assert s3_operation("GET", "/bucket?versions&prefix=a") == "ListObjectVersions"
    assert s3_operation("GET", "/bucket?list-type=2") == "ListObjectsV2"
    assert s3_request_class("PutObject") == s3_request_class("ListObjectsV2") == "put_list"
    assert s3_request_class("GetObject") == "get" and s3_request_class("DeleteObject") == "free"
    assert chunks(0) == 1 and chunks(64 * 1024) == 1 and chunks(64 * 1024 + 1) == 2


def emf(function: str, metrics: dict, **dims) -> dict:
    names = ["Function", *dims]
    return {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "vaultwatch", "Dimensions": [names],
                                                            "Metrics": [{"Name": m} for m in metrics]}]},
            "Function": function, **dims, **metrics}


def test_metric_hours_count_distinct_dimension_sets_per_hour():
    hour = set()
    for document in [emf("copier", {"CopiesStarted": 1}, DestinationRegion="us-west-2"),
                     emf("copier", {"CopiesStarted": 3}, DestinationRegion="us-west-2"),  # the same metric again
                     emf("copier", {"CopiesStarted": 1}, DestinationRegion="eu-west-1"),  # another region: another metric
                     emf("reconciler", {"AlertsSent": 0, "BrokenPaths": 0})]:
        hour.update(emf_metrics(document))
    assert len(hour) == 4
    assert ("vaultwatch", "CopiesStarted", (("DestinationRegion", "eu-west-1"), ("Function", "copier"))) in hour
    quiet = set(emf_metrics(emf("reconciler", {"AlertsSent": 0, "BrokenPaths": 0})))
    assert metric_hours([hour, quiet, set()]) == 4 + 2


@pytest.fixture(scope="module")
def tiny():
    """A CostStack with 5 backups in its first night hour (4 copied by the plan, 1 routed) and that
    hour's sweep, collected as the benchmark collects a day."""
    with cost_bench.CostStack("detailed", routes=cost_bench.ROUTES, evidence=True,
                              reconciler_env={"RECONCILE_LOOKBACK_HOURS": "72"}) as stack:
        stack.backup.create_vault("planned")
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        plan_id = cost_bench.plan(stack)
        stack.slot = 1
        for index in range(5):
            resource = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-cost{index:04d}"
            if index == 0:
                stack.backup.complete_backup("routed", resource)
            else:
                stack.backup.complete_backup("planned", resource, planId=plan_id)
        stack.delivery.settle()
        assert stack.delivery.reconcile().ok
        counts = cost_bench.collect(stack, 5, "detailed", stack.settings.binaries, 0.0, 0.0, {}, {}, {}, {})
        yield stack, counts


def test_the_tracker_makes_one_update_per_notification_and_is_billed_by_the_item(tiny):
    stack, counts = tiny
    tracker = [m for m in stack.measured if m.function == "tracker"]
    assert len(tracker) == 10, "a CREATED and a COMPLETED notification for each of the 5 copies"
    assert all(dict(m.usage.calls) == {"dynamodb:UpdateItem": 1} for m in tracker), [dict(m.usage.calls) for m in tracker]
    # Each copy's record is under 1 KB, so each write, before and after, is one unit; the tracker
    # writes no recovery point, so nothing reaches the index.
    sizes = [cost_bench.item_size(item) for item in cost_bench._scan(stack) if item.get("item_type", {}).get("S") == "copy_job"]
    assert len(sizes) == 5 and max(sizes) < 1024
    assert all(sum(m.usage.wru.values()) == 1 and sum(m.usage.gsi_wru.values()) == 0 for m in tracker)
    assert counts["functions"]["tracker"]["usage"]["wru"] == {"UpdateItem": 10}
    # The copier: DescribeBackupJob for each backup, StartCopyJob for the routed one only.
    assert counts["functions"]["copier"]["usage"]["calls"] == {"backup:DescribeBackupJob": 5, "backup:StartCopyJob": 1}
    assert counts["functions"]["copier"]["invocations"] == 5 and counts["functions"]["tracker"]["invocations"] == 10


def test_the_hours_metrics_are_the_distinct_dimension_sets_of_its_emf_lines(tiny):
    stack, counts = tiny
    # The harness's own reading of the functions' EMF lines, independent of the benchmark's.
    expected = {(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], m["Name"],
                 tuple(sorted((k, str(d[k])) for k in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])))
                for d in stack.queries.emf_documents() for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    hour = counts["slots"][1]
    assert hour["metric_count"] == len(expected) > 0
    assert counts["totals"]["metric_hours"] == len(expected), "every line was written in hour 1"
    assert any(name.startswith("vaultwatch/CopiesStarted/DestinationRegion=us-west-2") for name in hour["metrics"])


def test_the_proxy_bills_known_dynamodb_requests(tiny):
    stack, _ = tiny
    table = "cost-proxy-check"
    moto = stack.endpoints.client("dynamodb")
    moto.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    proxy = CountingProxy("check", {"dynamodb": stack.endpoints.dynamodb_url}, stack.endpoints.moto_url,
                          stack.endpoints.dynamodb_url, table, [], ["pk"])
    try:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=proxy.url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        usage = proxy.begin()
        # 1,500 bytes: "pk" (2) + "a" (4) + "v" (1) + 1,493 = 1,500: two write units.
        client.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "x" * 1493}})
        assert usage.wru["PutItem"] == 2
        # Grown to 3,000 bytes: the larger of before and after, three units.
        client.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                           ExpressionAttributeValues={":v": {"S": "x" * 2993}})
        assert usage.wru["UpdateItem"] == 3
        # A condition that fails still costs the existing item's units (3,000 bytes: three).
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET w = :w",
                               ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":w": {"S": "y"}})
        assert usage.wru["UpdateItem"] == 6 and usage.failed_conditions == 1
        # Reads: the whole 3,000-byte item is one unit strongly consistent, half eventually; a key
        # without an item costs one unit in a batch too.
        client.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
        client.get_item(TableName=table, Key={"pk": {"S": "a"}})
        client.batch_get_item(RequestItems={table: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "missing"}}],
                                                    "ConsistentRead": True}})
        assert usage.rru == {"GetItem": 1.5, "BatchGetItem": 2.0}
        proxy.end()
        assert dict(usage.calls) == {"dynamodb:PutItem": 1, "dynamodb:UpdateItem": 2, "dynamodb:GetItem": 2,
                                     "dynamodb:BatchGetItem": 1}
        assert json.dumps(usage.as_dict())  # the counts are JSON as the benchmark writes them
    finally:
        proxy.stop()
