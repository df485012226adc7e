"""The README's short answer on cost against the figures `scripts/cost` wrote into docs/cost.md:
the README quotes them rounded, docs/cost.md is their one home."""

from __future__ import annotations

import re

from harness.config import ROOT

README = ROOT / "README.md"
COST = ROOT / "docs" / "cost.md"


def generated(text: str, name: str) -> str:
    return text[text.index(f"<!-- {name}:begin -->"):text.index(f"<!-- {name}:end -->")]


def dollars(cell: str) -> float:
    return float(re.sub(r"[*$,]", "", cell))


def fixed_rows(cost: str) -> dict[str, float]:
    """Item -> the 1,000-a-day column of the fixed charges table."""
    rows = {}
    for line in generated(cost, "cost-fixed").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("item", "---") and cells[1].lstrip("*").startswith("$"):
            rows[cells[0].strip("*")] = dollars(cells[1])
    return rows


def readme_claims(readme: str) -> tuple[float, float, float]:
    """(usage under, fixed about, dashboard) from the README's sentence on what a stack costs."""
    sentence = " ".join(readme[readme.index("What a\nstack costs"):].split("\n")[:3])
    usage, fixed, dashboard = (float(x) for x in re.findall(r"US\$(\d+(?:\.\d+)?)", sentence)[:3])
    return usage, fixed, dashboard


def cost_claim_problems(readme: str, cost: str) -> list[str]:
    usage, fixed, dashboard = readme_claims(readme)
    essential = re.search(r"`essential`, 1,000 backups a day: \$([\d.,]+) a month", generated(cost, "cost-figures"))
    rows = fixed_rows(cost)
    problems = []
    if dollars(essential.group(1)) >= usage:
        problems.append(f"usage {essential.group(1)} is not under US${usage:g}")
    if rows["Dashboard"] != dashboard:
        problems.append(f"dashboard {rows['Dashboard']} is not US${dashboard:g}")
    without_dashboard = rows["fixed total"] - rows["Dashboard"]
    if round(without_dashboard) != fixed:
        problems.append(f"fixed charges without the dashboard {without_dashboard:.2f} are not about US${fixed:g}")
    return problems


def test_the_readmes_cost_figures_are_docs_costs_rounded():
    assert cost_claim_problems(README.read_text(), COST.read_text()) == []


def test_a_readme_figure_that_no_longer_holds_is_named():
    readme = README.read_text()
    cost = COST.read_text()
    usage, fixed, dashboard = readme_claims(readme)
    stale = readme.replace(f"about US${fixed:g} fixed", "about US$9 fixed", 1)
    assert [p.split(" ")[0] for p in cost_claim_problems(stale, cost)] == ["fixed"]
    dearer = cost.replace("| Dashboard | $3.00 |", "| Dashboard | $4.00 |", 1)
    assert [p.split(" ")[0] for p in cost_claim_problems(readme, dearer)] == ["dashboard", "fixed"]
    pricier = re.sub(r"(`essential`, 1,000 backups a day: )\$[\d.,]+", r"\g<1>$1.20", cost, count=1)
    assert [p.split(" ")[0] for p in cost_claim_problems(readme, pricier)] == ["usage"]
