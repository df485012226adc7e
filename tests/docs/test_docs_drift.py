"""The README's tables and the Layout (docs/internals.md) against what exists: every environment
variable the code reads is in the README's variables table (and nothing else is), every template
parameter is in its parameter table with its default, every alarm is in its alarm table as it
behaves, every folder, script and docs page is in the
Layout. Each check is a function of the texts,
so the tests below also show it failing when something is added without its documentation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from harness.config import ROOT
from harness.markdown import section
from harness.template import CfnLoader

README = ROOT / "README.md"
INTERNALS = ROOT / "docs" / "internals.md"
# Where configuration is read: the functions' and the command's configuration, telemetry, metrics,
# the SDK set-up, the binaries.
CONFIG_SOURCES = ["shared/src/config.rs", "shared/src/metrics.rs", "shared/src/telemetry.rs",
                  "shared/src/adapters/**/*.rs", "cli/src/*.rs", "functions/*/src/*.rs"]
# How the code reads a variable: the config reader's methods, std::env, the metrics writer's lookup.
READ = re.compile(r"\b(?:get|required|parsed|number|optional|var|var_os|set|lookup|env)\(\s*\"([A-Z][A-Z0-9_]+)\"")
# Read but not vaultwatch's configuration, each with its reason.
NOT_CONFIGURATION = {
    "AWS_REGION": "set by Lambda (and the SDK's own region variable): the region the function runs in",
    "AWS_PROFILE": "the SDK's profile variable: the command reads it only to name the profile whose SSO session expired",
}


def code_variables(root: Path = ROOT) -> set[str]:
    """The environment variables the code reads, from its non-test source."""
    names = set()
    for pattern in CONFIG_SOURCES:
        for path in root.glob(pattern):
            source = path.read_text().split("#[cfg(test)]")[0]
            names |= set(READ.findall(source))
    return names


def variables_table(readme: str) -> tuple[set[str], set[str]]:
    """The names of the README's environment variables table, and the prefixes of its families (a row
    naming `X`, `X_Y`, ... stands for every `X...`)."""
    text = readme[readme.index("\nEnvironment variables"):]
    text = text[:text.index("\n\n", text.index("| variable |"))]
    names, families = set(), set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first = line.strip("|").split("|")[0]
            found = re.findall(r"`([A-Z][A-Z0-9_]+)`", first)
            names |= set(found)
            if "..." in first:
                families |= set(found)
    return names, families


def undocumented_variables(code: set[str], readme: str) -> set[str]:
    names, families = variables_table(readme)
    return {v for v in code - set(NOT_CONFIGURATION)
            if v not in names and not any(v.startswith(family) for family in families)}


def stale_variables(code: set[str], readme: str) -> set[str]:
    names, families = variables_table(readme)
    return names - code - families


def parameters_table(readme: str) -> dict[str, list[str]]:
    """Parameter name -> its row's cells, from the README's Configuration table."""
    text = section(readme, "Configuration")
    text = text[:text.index("\nEnvironment variables")]
    rows = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            for name in re.findall(r"`(\w+)`", cells[0]):
                rows[name] = cells
    return rows


def shown_default(default) -> str:
    """A default as the table writes it: `(required)` for none, `(empty` (and maybe what empty means)
    for an empty string or list, else in backticks."""
    if default is None:
        return "(required)"
    if default == "" or default == []:
        return "(empty"
    if isinstance(default, list):
        default = ",".join(default)
    return f"`{default}`"


def parameter_problems(parameters: dict, readme: str) -> list[str]:
    rows = parameters_table(readme)
    problems = [f"{name}: not in the table" for name in parameters if name not in rows]
    problems += [f"{name}: in the table, not in the template" for name in rows if name not in parameters]
    for name, parameter in parameters.items():
        if name in rows and not rows[name][1].startswith(shown_default(parameter.get("Default"))):
            problems.append(f"{name}: default {parameter.get('Default')!r}, the table says {rows[name][1]}")
    return problems


def layout(readme: str) -> str:
    text = section(readme, "Layout")
    return text[text.index("```"):text.rindex("```")]


def layout_problems(tracked: list[str], scripts: list[str], readme: str) -> list[str]:
    """What exists and the Layout does not name: a top-level folder, a script, a docs file; and a
    path the Layout names that does not exist."""
    block = layout(readme)
    named = {line.split()[0] for line in block.splitlines()[1:] if line and not line.startswith(" ")}
    folders = {path.split("/")[0] + "/" for path in tracked if "/" in path and not path.startswith(".")}
    problems = [f"folder {folder} not in the Layout" for folder in sorted(folders)
                if not any(name.startswith(folder) for name in named)]
    docs = {path for path in tracked if path.startswith("docs/")}
    problems += [f"{doc} not in the Layout" for doc in sorted(docs) if doc not in named]
    listed = block[block.index("\nscripts/"):]
    listed = listed[:re.search(r"\n\S", listed[1:]).start() + 1] if re.search(r"\n\S", listed[1:]) else listed
    words = set(re.findall(r"[\w.-]+", listed))
    problems += [f"scripts/{script} not in the Layout" for script in sorted(scripts) if script not in words]
    exists = {*folders, *docs, *(p for p in tracked)}
    problems += [f"{path} in the Layout does not exist" for path in sorted(named)
                 if "<" not in path and path not in exists and not any(t.startswith(path) for t in tracked)]
    return problems


def tracked_files() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def template_parameters() -> dict:
    return template()["Parameters"]


def template_resources() -> dict:
    return template()["Resources"]


# The README's alarm rows, by the template's alarm resources they describe.
ALARM_ROWS = {
    "FailureQueueNotEmptyAlarm": "failure destination not empty",
    "RetryDeadLetterQueueNotEmptyAlarm": "retry dead-letter queue not empty",
    "SilentVaultTopicAlarm": "vault topic silent",
    "SilentEventBridgeFeedAlarm": "EventBridge feed silent",
    "CopyLagAlarm": "copy lag",
    "BrokenPathsAlarm": "broken paths",
    "AlertsSentAlarm": "alerts sent",
}


def alarm_rows(readme: str) -> list[str]:
    """The first column of the README's alarm table."""
    text = section(readme, "Dashboard and alarms")
    return [line.strip("|").split("|")[0].strip() for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| alarm |")]


def alarm_problems(resources: dict, readme: str) -> list[str]:
    """Each alarm of the template with its row, each row with its alarm; the silence alarms the only
    ones a missing datapoint breaches and the alerts alarm the only one without actions, as the
    README says."""
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    rows = alarm_rows(readme)
    problems = [f"{name}: no row" for name in alarms if ALARM_ROWS.get(name) not in rows]
    problems += [f"row {row!r}: no alarm" for row in rows if row not in [ALARM_ROWS.get(n) for n in alarms]]
    for name, properties in alarms.items():
        breaching = properties.get("TreatMissingData") == "breaching"
        if breaching != ("silent" in ALARM_ROWS.get(name, "")):
            problems.append(f"{name}: missing data {'breaches' if breaching else 'does not breach'}")
        if ("AlarmActions" in properties) == (name == "AlertsSentAlarm"):
            problems.append(f"{name}: {'has' if 'AlarmActions' in properties else 'has no'} actions")
    return problems


# ---------------------------------------------------------------- the checks, on this repository

def test_every_variable_the_code_reads_is_in_the_readmes_table_and_no_other():
    readme = README.read_text()
    code = code_variables()
    assert len(code) > 20, code
    assert undocumented_variables(code, readme) == set()
    assert stale_variables(code, readme) == set()


def test_every_parameter_is_in_the_readmes_table_with_its_default():
    assert parameter_problems(template_parameters(), README.read_text()) == []


def test_the_reserved_concurrency_parameters_say_what_minus_one_means():
    rows = parameters_table(README.read_text())
    for name in ("CopierReservedConcurrency", "RetrierReservedConcurrency"):
        assert "-1" in rows[name][2], name


def test_every_alarm_is_in_the_readmes_alarm_table_as_it_behaves():
    assert alarm_problems(template_resources(), README.read_text()) == []


def test_the_layout_names_every_folder_script_and_docs_page_that_exists():
    scripts = [path.name for path in (ROOT / "scripts").iterdir() if path.is_file()]
    assert layout_problems(tracked_files(), scripts, INTERNALS.read_text()) == []


def test_no_python_module_edits_its_import_path():
    """bench/ and tests/ import the harness as a package (pytest.ini, PYTHONPATH), never by editing
    sys.path."""
    offenders = [str(path.relative_to(ROOT)) for folder in ("bench", "tests", "scripts")
                 for path in (ROOT / folder).rglob("*.py") if "sys.path.insert" in path.read_text()
                 and path.name != Path(__file__).name]
    assert offenders == []


# ---------------------------------------------------------------- each check fails when it should

def test_a_variable_read_without_its_row_or_a_row_without_its_variable_is_named():
    readme = README.read_text()
    code = code_variables()
    assert undocumented_variables(code | {"NEW_SETTING"}, readme) == {"NEW_SETTING"}
    assert undocumented_variables(code | {"AWS_ENDPOINT_URL_SQS"}, readme) == set(), "a family's member"
    assert stale_variables(code - {"MAX_ATTEMPTS"}, readme) == {"MAX_ATTEMPTS"}


def test_a_parameter_without_its_row_or_with_another_default_is_named():
    parameters = template_parameters()
    readme = README.read_text()
    added = {**parameters, "NewKnob": {"Type": "String", "Default": "on"}}
    assert parameter_problems(added, readme) == ["NewKnob: not in the table"]
    changed = {**parameters, "MaxAttempts": {**parameters["MaxAttempts"], "Default": 7}}
    assert parameter_problems(changed, readme) == [f"MaxAttempts: default 7, the table says {parameters_table(readme)['MaxAttempts'][1]}"]


def test_a_script_folder_or_docs_page_missing_from_the_layout_is_named():
    readme = INTERNALS.read_text()
    tracked = tracked_files()
    scripts = [path.name for path in (ROOT / "scripts").iterdir() if path.is_file()]
    problems = layout_problems([*tracked, "newfolder/x.rs", "docs/new.md"], [*scripts, "bench-new"], readme)
    assert problems == ["folder newfolder/ not in the Layout", "docs/new.md not in the Layout",
                        "scripts/bench-new not in the Layout"]


def test_an_alarm_without_its_row_or_unlike_its_row_is_named():
    resources = template_resources()
    readme = README.read_text()
    quiet = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"TreatMissingData": "notBreaching", "AlarmActions": []}}
    assert alarm_problems({**resources, "NewAlarm": quiet}, readme) == ["NewAlarm: no row"]
    without = {name: r for name, r in resources.items() if name != "BrokenPathsAlarm"}
    assert alarm_problems(without, readme) == ["row 'broken paths': no alarm"]
    lag = resources["CopyLagAlarm"]
    breaching = {**resources, "CopyLagAlarm": {**lag, "Properties": {**lag["Properties"], "TreatMissingData": "breaching"}}}
    assert alarm_problems(breaching, readme) == ["CopyLagAlarm: missing data breaches"]
    alerts = resources["AlertsSentAlarm"]
    acting = {**resources, "AlertsSentAlarm": {**alerts, "Properties": {**alerts["Properties"], "AlarmActions": ["topic"]}}}
    assert alarm_problems(acting, readme) == ["AlertsSentAlarm: has actions"]


def test_the_readme_stays_a_five_minute_read():
    """Everything beyond what it is, trying it, deploying, configuring and removing it lives in docs/."""
    lines = README.read_text().count("\n")
    assert lines <= 300, f"README.md has {lines} lines: move a section to docs/"
    for page in ("operations", "organization", "security", "internals", "testing", "cost"):
        assert f"](docs/{page}.md)" in README.read_text(), page


def test_the_congestion_budget_is_told_with_the_codes_numbers():
    """docs/operations.md is the congestion budget's one home; its numbers are retry.rs's."""
    source = (ROOT / "shared" / "src" / "domain" / "retry.rs").read_text()
    constant = lambda name: int(re.search(rf"const {name}: u32 = (\d+);", source).group(1))  # noqa: E731
    text = " ".join((ROOT / "docs" / "operations.md").read_text().split())
    assert f"congestion budget ({constant('CONGESTION_ATTEMPTS')} retries, or `MaxAttempts` if more" in text
    assert f"up to retry {constant('CONGESTION_LAST_ATTEMPT')} (about a day)" in text
    assert f"{['no', 'one', 'two', 'three', 'four', 'five'][constant('CONGESTION_STEPS_AHEAD')]} doublings longer" in text
