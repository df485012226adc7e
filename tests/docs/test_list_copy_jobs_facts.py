"""ListCopyJobs' filters and ListCopyJobSummaries' window, held to the pinned botocore model (issue 20,
item 8):

- ListCopyJobSummaries counts "copy jobs created or running within the the most recent 14 days" (the
  text since botocore 1.43.78; 30 days before): the code's COPY_JOB_SUMMARY_DAYS, the facts and the
  stand-in say the model's number.
- ListCopyJobs' ByAccountId documents no `*` (ListBackupJobs' does): the stand-in's refusal of it is
  marked an assumption in the stand-in and in docs/aws-facts.md, never presented as AWS's.
- ListCopyJobs' ByParentJobId is quoted as the model has it.

Each check returns the problems it finds; the last test feeds the checks the wording these files
had before (so that no check passes vacuously)."""

import re
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "docs" / "aws-facts.md"
PORTS = ROOT / "shared" / "src" / "ports" / "mod.rs"
MODEL = ROOT / "tests" / "standin" / "backup_model.py"


def plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def backup_model():
    return botocore.session.get_session().get_service_model("backup")


def summary_days() -> int:
    text = plain(backup_model().operation_model("ListCopyJobSummaries").documentation)
    return int(re.search(r"within the the most recent (\d+) days", text).group(1))


def flat(text: str) -> str:
    return " ".join(text.split())


def window_problems(facts: str, ports: str) -> list[str]:
    days = summary_days()
    problems = []
    constant = re.search(r"pub const COPY_JOB_SUMMARY_DAYS: i64 = (\d+);", ports)
    if not constant or int(constant.group(1)) != days:
        problems.append(f"COPY_JOB_SUMMARY_DAYS is not the model's {days} days")
    quote = f"within the the most recent {days} days"
    if quote not in flat(facts):
        problems.append(f"docs/aws-facts.md does not quote {quote!r}")
    if "botocore 1.43.78" not in flat(facts):
        problems.append("docs/aws-facts.md does not name the botocore version that changed the window")
    return problems


def star_problems(facts: str, model_source: str) -> list[str]:
    model = backup_model()
    copy_doc = plain(model.operation_model("ListCopyJobs").input_shape.members["ByAccountId"].documentation)
    backup_doc = plain(model.operation_model("ListBackupJobs").input_shape.members["ByAccountId"].documentation)
    problems = []
    if "*" in copy_doc or "*" not in backup_doc:
        problems.append("the model's ByAccountId texts changed: re-read what `*` means for each listing")
    refused = '("ListCopyJobs", "ByAccountId")' not in model_source
    if refused and "ASSUMPTION: ListCopyJobs `ByAccountId` `*`" not in model_source:
        problems.append("the stand-in refuses ListCopyJobs `*` without saying it is an assumption")
    if refused and "**Assumption of the stand-in:** it refuses `*`" not in flat(facts):
        problems.append("docs/aws-facts.md does not mark the stand-in's refusal of `*` as an assumption")
    return problems


def parent_filter_problems(facts: str) -> list[str]:
    text = plain(backup_model().operation_model("ListCopyJobs").input_shape.members["ByParentJobId"].documentation)
    return [] if f'"{text}"' in flat(facts) else [f"docs/aws-facts.md does not quote ByParentJobId: {text!r}"]


def test_the_summaries_window_is_the_pinned_models():
    assert window_problems(FACTS.read_text(), PORTS.read_text()) == []


def test_the_stand_ins_refusal_of_a_star_for_copy_jobs_is_marked_an_assumption():
    assert star_problems(FACTS.read_text(), MODEL.read_text()) == []


def test_the_parent_job_filter_is_quoted_as_the_model_has_it():
    assert parent_filter_problems(FACTS.read_text()) == []


def test_the_checks_catch_the_wording_these_files_had_before():
    old_facts = ('"This request obtains a list of copy jobs created or running within the the most recent 30 '
                 'days." the stand-in refuses `*` there as the model\'s pattern does')
    old_ports = "pub const COPY_JOB_SUMMARY_DAYS: i64 = 30;"
    assert len(window_problems(old_facts, old_ports)) == 3
    old_model = "DOCUMENTED_VALUES = {\n    (\"ListBackupJobs\", \"ByAccountId\"): {\"*\"},\n}"
    assert len(star_problems(old_facts, old_model)) == 2
    assert len(parent_filter_problems(old_facts)) == 1
