"""template.yaml's Metrics Insights alarms, evaluated over the EMF lines the functions wrote: what
CloudWatch would decide from the metrics those lines make, for one period that holds them all.

Supports what the template's alarms use: one `SELECT FN(metric) FROM SCHEMA("ns", dims) [WHERE
Function = 'x']` query, optionally divided by a number in a metric-math expression, compared with
the alarm's threshold; no datapoint is `TreatMissingData`'s answer. SCHEMA matches exactly the
metrics whose dimension names are the listed ones, as Metrics Insights does."""

from __future__ import annotations

import re

import yaml

from harness.config import ROOT
from harness.template import CfnLoader, template_parameter_default

QUERY = re.compile(r"SELECT (\w+)\((\w+)\) FROM SCHEMA\(\"([^\"]+)\", ([^)]*)\)(?: WHERE Function = '(\w+)')?$")
DIVIDED = re.compile(r"^(\w+) / ([0-9.]+)$")
AGGREGATES = {"SUM": sum, "MAX": max, "MIN": min, "AVG": lambda values: sum(values) / len(values)}
COMPARE = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def essential_metrics() -> set[str]:
    """The metrics MetricsDetail essential writes: `Metric::detail`'s Essential arms in
    shared/src/metrics.rs, by CloudWatch name (the variant's name)."""
    source = (ROOT / "shared" / "src" / "metrics.rs").read_text().split("#[cfg(test)]")[0]
    body = source[source.index("pub fn detail(self)"):]
    body = body[:body.index("\n    }\n")]
    return set(re.findall(r"Self::(\w+)\s*=>\s*MetricsDetail::Essential", body))


def template_alarm(name: str) -> dict:
    """An alarm's properties, as template.yaml declares them."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    return template["Resources"][name]["Properties"]


def query_value(expression: str, documents: list[dict], namespace: str) -> float | None:
    """One Metrics Insights query over EMF documents: None when no metric matches."""
    expression = " ".join(expression.replace("${MetricsNamespace}", namespace).split())
    match = QUERY.match(expression)
    assert match, f"not a query this evaluator reads: {expression}"
    function, metric, schema_namespace, dimensions, only = match.groups()
    names = {d.strip() for d in dimensions.split(",")}
    values = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != schema_namespace or metric not in {m["Name"] for m in directive["Metrics"]}:
                continue
            if any(set(dimension_set) == names for dimension_set in directive["Dimensions"]):
                if only is None or document.get("Function") == only:
                    values.append(float(document[metric]))
    return AGGREGATES[function](values) if values else None


def fires(alarm: dict, documents: list[dict], *, threshold: float | None = None,
          namespace: str = "vaultwatch") -> bool:
    """Whether the alarm is in ALARM for a period holding these documents, at its threshold or the
    one given (a threshold from a parameter is that parameter's default)."""
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
    divided = DIVIDED.match(returned["Expression"])
    if divided:
        value = query_value(queries[divided.group(1)]["Expression"], documents, namespace)
        value = None if value is None else value / float(divided.group(2))
    else:
        value = query_value(returned["Expression"], documents, namespace)
    if value is None:
        assert alarm["TreatMissingData"] == "notBreaching", alarm["TreatMissingData"]
        return False
    if threshold is None:
        # A parameter's name (a Ref) stands for its default.
        given = alarm["Threshold"]
        threshold = float(template_parameter_default(given) if isinstance(given, str) else given)
    limit = threshold
    return COMPARE[alarm["ComparisonOperator"]](value, limit)
