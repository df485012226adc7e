"""Evidence snapshots end to end: the reconciler binary writes each day's snapshot to an S3 bucket
with compliance-mode Object Lock (moto), once a day however many sweeps run; `vaultwatch evidence
verify` finds the chain whole, then names a rewritten, an altered and a deleted day; Object Lock
refuses to delete a version. The day's page is valid HTML5 for a strict parser, loads nothing, and
renders in a real headless browser with its summary."""

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import html5lib
import pytest
from botocore.exceptions import ClientError

from conftest import EU_VAULT, ROUTES
from harness.config import ACCOUNT, REGION
from harness.resources import EVIDENCE_BUCKET, EVIDENCE_PREFIX
from harness.stack import LocalAws

SCOPE = f"{ACCOUNT}/{REGION}"
DENIED = "AccessDeniedException: Insufficient privileges to perform copy into the destination vault."


def midnight_after(day: datetime, days: int = 1) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=days)


@pytest.fixture(scope="module")
def evidenced():
    """Two routed backups of today, one of whose EU copies fails for good; then the sweeps of the
    next two days."""
    # A window wide enough that tomorrow's first sweep still sees today's backups.
    with LocalAws(max_attempts=1, routes=ROUTES, evidence=True,
                  reconciler_env={"RECONCILE_LOOKBACK_HOURS": "48"}) as stack:
        stack.backup.create_vault("routed")
        stack.backup.create_vault("dr-copy", region="us-west-2", notify=False)
        stack.backup.create_vault("eu-archive", region="eu-west-1", notify=False)
        first = stack.backup.complete_backup("routed", "arn:aws:ec2:us-east-1:111122223333:volume/vol-1")
        stack.backup.fail_next_copy(first["RecoveryPointArn"], DENIED, destination=EU_VAULT)
        stack.backup.complete_backup("routed", "arn:aws:ec2:us-east-1:111122223333:volume/vol-2")
        stack.delivery.settle()
        today = datetime.now(timezone.utc)
        runs = [stack.delivery.reconcile(at=(midnight_after(today) + timedelta(minutes=10, hours=h)).timestamp())
                for h in range(3)]
        next_day = stack.delivery.reconcile(at=(midnight_after(today, 2) + timedelta(minutes=10)).timestamp())
        yield stack, today.date(), runs, next_day


def versions(stack):
    s3 = stack.endpoints.client("s3")
    listed = s3.list_object_versions(Bucket=EVIDENCE_BUCKET, Prefix=f"{EVIDENCE_PREFIX}/")
    return listed.get("Versions", []), listed.get("DeleteMarkers", [])


def key(day, file):
    return f"{EVIDENCE_PREFIX}/{SCOPE}/{day.isoformat()}/{file}"


def test_a_day_is_written_once_by_the_first_sweep_after_midnight_and_the_next_day_links_to_it(evidenced):
    stack, today, runs, next_day = evidenced
    assert all(run.ok for run in runs), [run.payload for run in runs]
    written = [run.payload.get("evidence", []) for run in runs]
    assert [len(w) for w in written] == [1, 0, 0], written
    day = written[0][0]
    assert day["day"] == today.isoformat()
    assert (day["rows"], day["uncovered"]) == (4, 1), day
    assert day["page"] == key(today, "index.html")
    stored, markers = versions(stack)
    assert markers == []
    by_key = {}
    for version in stored:
        by_key.setdefault(version["Key"], []).append(version)
    tomorrow = today + timedelta(days=1)
    files = ["coverage.csv", "coverage.jsonl", "index.html", "manifest.json"]
    assert sorted(by_key) == sorted(key(d, f) for d in (today, tomorrow) for f in files)
    assert all(len(v) == 1 for v in by_key.values()), "each file written once"
    s3 = stack.endpoints.client("s3")
    # Object Lock's default retention applied to what the reconciler wrote.
    head = s3.head_object(Bucket=EVIDENCE_BUCKET, Key=key(today, "manifest.json"))
    assert head["ObjectLockMode"] == "COMPLIANCE", head
    assert head["ObjectLockRetainUntilDate"] > datetime.now(timezone.utc) + timedelta(days=399)
    csv = s3.get_object(Bucket=EVIDENCE_BUCKET, Key=key(today, "coverage.csv"))["Body"].read().decode()
    lines = csv.splitlines()
    assert lines[0].startswith("reportTimePeriodStart,reportTimePeriodEnd,accountId,region,resourceType,")
    assert len(lines) == 5 and sum(",covered," in line for line in lines) == 3
    assert any(",failed," in line and "Insufficient privileges" in line for line in lines), csv
    manifest = json.loads(s3.get_object(Bucket=EVIDENCE_BUCKET, Key=key(tomorrow, "manifest.json"))["Body"].read())
    assert manifest["previousDay"] == today.isoformat()
    assert manifest["previousSha256"] == day["sha256"]
    assert next_day.payload["evidence"][0]["day"] == tomorrow.isoformat()


def test_show_prints_a_day_and_verify_finds_the_chain_whole(evidenced):
    stack, today, _, _ = evidenced
    shown = stack.vaultwatch("evidence", "show", "--bucket", EVIDENCE_BUCKET, "--date", today.isoformat())
    assert shown.returncode == 0, shown.stderr
    assert "3 covered, 1 uncovered" in shown.stdout and "the scope's first snapshot" in shown.stdout, shown.stdout
    assert "Insufficient privileges" in shown.stdout
    page = stack.vaultwatch("evidence", "show", "--bucket", EVIDENCE_BUCKET, "--date", today.isoformat(),
                            "--file", "html")
    assert page.returncode == 0 and page.stdout.startswith("<!DOCTYPE html>")
    missing = stack.vaultwatch("evidence", "show", "--bucket", EVIDENCE_BUCKET, "--date", "2001-01-01")
    assert missing.returncode == 1 and "no snapshot" in missing.stderr
    verified = stack.vaultwatch("evidence", "verify", "--bucket", EVIDENCE_BUCKET, "--since", "30d")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{SCOPE}: 2 day(s) checked, the chain is whole" in verified.stdout


def page_of(stack, day) -> bytes:
    s3 = stack.endpoints.client("s3")
    first = [v for v in versions(stack)[0] if v["Key"] == key(day, "index.html")][-1]
    return s3.get_object(Bucket=EVIDENCE_BUCKET, Key=first["Key"], VersionId=first["VersionId"])["Body"].read()


def test_the_page_is_valid_html5_and_self_contained(evidenced):
    stack, today, _, _ = evidenced
    page = page_of(stack, today)
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    assert document.find("head/title") is not None
    summary = document.find(".//p[@id='summary']")
    assert "3 covered" in "".join(summary.itertext()) and "1 uncovered" in "".join(summary.itertext())
    assert document.find(".//{http://www.w3.org/2000/svg}svg") is not None, "the 30-day chart, inline"
    for element in document.iter():
        for attribute in ("src", "href"):
            assert attribute not in element.attrib, (element.tag, element.attrib)
    assert document.find(".//script") is None


BROWSER = shutil.which("chromium") or shutil.which("chromium-headless-shell")


@pytest.mark.skipif(BROWSER is None, reason="no headless browser (scripts/setup installs chromium where it can)")
def test_the_page_renders_in_a_headless_browser_with_its_summary(evidenced, tmp_path):
    stack, today, _, _ = evidenced
    path = tmp_path / "index.html"
    path.write_bytes(page_of(stack, today))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    dom = subprocess.run([BROWSER, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "3 covered" in dom.stdout and "1 uncovered" in dom.stdout and "<svg" in dom.stdout
    shot = tmp_path / "page.png"
    taken = subprocess.run([BROWSER, *flags, "--window-size=1200,900", f"--screenshot={shot}", path.as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr[-2000:]
    assert shot.stat().st_size > 10_000, "a rendered page, not a blank one"


def test_object_lock_refuses_a_deletion_and_verify_names_each_edit(evidenced):
    stack, today, _, _ = evidenced
    s3 = stack.endpoints.client("s3")
    tomorrow = today + timedelta(days=1)
    locked = [v for v in versions(stack)[0] if v["Key"] == key(today, "manifest.json")][0]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=EVIDENCE_BUCKET, Key=locked["Key"], VersionId=locked["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # What compliance mode still lets anyone do: a new version, a delete marker.
    s3.put_object(Bucket=EVIDENCE_BUCKET, Key=key(today, "coverage.csv"), Body=b"reportTimePeriodStart\n",
                  ChecksumAlgorithm="CRC32")
    s3.delete_object(Bucket=EVIDENCE_BUCKET, Key=key(tomorrow, "index.html"))
    verified = stack.vaultwatch("evidence", "verify", "--bucket", EVIDENCE_BUCKET)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    out = verified.stdout
    assert f"{SCOPE} {today.isoformat()}: rewritten: coverage.csv" in out, out
    assert f"{SCOPE} {today.isoformat()}: altered: coverage.csv does not hash" in out, out
    assert f"{SCOPE} {tomorrow.isoformat()}: deleted: index.html" in out, out
    assert "3 finding(s)" in out, out
