"""The `## ` sections of a Markdown page: read by the tests that hold the docs to the code, and
rewritten by the benchmarks that record their figures in docs/ (each owns its sections and rows)."""

from __future__ import annotations


def section(document: str, heading: str) -> str:
    """The `## heading` section of `document` (see `sections`); a page without it fails the caller."""
    found = section_of(document, heading)
    if found is None:
        raise KeyError(f"no section `## {heading}`")
    return found


def replace_section(document: str, heading: str, section: str, before: str | None = None) -> str:
    """`document` with its `## heading` section (up to the next `## `) replaced by `section`, or
    with `section` inserted before the `## before` heading (at the end without one)."""
    marker = f"\n## {heading}\n"
    if marker in document:
        head, rest = document.split(marker, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else "\n"
        return head.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n" + tail
    if before and f"\n## {before}\n" in document:
        head, tail = document.split(f"\n## {before}\n", 1)
        return head.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n\n## " + before + "\n" + tail
    return document.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


def sections(document: str) -> list[tuple[str, str]]:
    """The `## ` sections of `document` in order: (heading, the section's text, heading included, up
    to the next `## `)."""
    return [(part.split("\n", 1)[0], f"## {part.rstrip()}\n") for part in f"\n{document}".split("\n## ")[1:]]


def section_of(document: str, heading: str) -> str | None:
    """The first `## heading` section of `document`, if any."""
    return next((text for found, text in sections(document) if found == heading), None)


def replace_row(document: str, first_cell: str, row: str, table_heading: str = "Targets") -> str:
    """`document` with the row of its `## table_heading` table whose first cell starts with
    `first_cell` replaced by `row` (appended to the table without one)."""
    section = section_of(document, table_heading)
    if section is None:
        return document
    lines = section.rstrip("\n").split("\n")
    matching = [i for i, line in enumerate(lines) if line.startswith(f"| {first_cell}")]
    if matching:
        lines[matching[0]] = row
    else:
        last = max(i for i, line in enumerate(lines) if line.startswith("|"))
        lines.insert(last + 1, row)
    return replace_section(document, table_heading, "\n".join(lines) + "\n")
