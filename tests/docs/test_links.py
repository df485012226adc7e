"""Every relative link in the repository's Markdown files resolves: the file exists and, for a link
with a #fragment, the target file has a heading with that anchor (GitHub's slug rules)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split()]


def slug(heading: str) -> str:
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_ goes, x86_64's underscore stays
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {slug(h) for h in HEADING.findall(text)}


def broken_links(paths: list[Path]) -> list[str]:
    broken = []
    for path in paths:
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):  # https:, mailto: ...
                continue
            file_part, _, fragment = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.name} -> {target}"
            if not resolved.exists():
                broken.append(f"{where}: no such file")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                broken.append(f"{where}: no heading #{fragment}")
    return broken


def test_every_relative_markdown_link_resolves():
    files = markdown_files()
    assert len(files) >= 4, files
    assert broken_links(files) == []


def test_headings_slug_as_github_does():
    assert slug("Binary size (stripped, x86_64)") == "binary-size-stripped-x86_64"
    assert slug("Not `metrics_cloudwatch_embedded`") == "not-metrics_cloudwatch_embedded"
    assert slug("The _first_ **run**: 7144c52") == "the-first-run-7144c52"
    assert slug("IAM for StartCopyJob") == "iam-for-startcopyjob"


def test_a_missing_file_or_heading_is_reported(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# IAM for StartCopyJob\n")
    page.write_text("[ok](other.md#iam-for-startcopyjob) [gone](nowhere.md) [bad](other.md#nope) [web](https://x.y/z)\n")
    assert broken_links([page]) == ["page.md -> nowhere.md: no such file", "page.md -> other.md#nope: no heading #nope"]
