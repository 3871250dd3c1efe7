"""docs/grafana-dashboard.json asks only for what /metrics exports: every metric its queries name is a sample of a
real scrape, every label they group or filter by is a label of it (room and agent when configured)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .test_metrics import scraped as scrape_once
from .test_metrics import two_agents

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def queries(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        if isinstance(node.get("definition"), str):
            found.append(node["definition"])
        return found + [q for value in node.values() for q in queries(value)]
    if isinstance(node, list):
        return [q for value in node for q in queries(value)]
    return []


def names_in(query: str) -> tuple[set[str], set[str]]:
    """The metric names of a PromQL query, and the labels it groups by, filters on or asks the values of."""
    metrics = set(re.findall(r"\b(usage_\w+)", query))
    labels = {label for group in re.findall(r"by \(([^)]*)\)", query) for label in re.split(r"\s*,\s*", group)}
    labels |= set(re.findall(r"(\w+)=~?\"", query)) | set(re.findall(r"label_values\(\w+, (\w+)\)", query))
    return metrics, labels - {""}


async def test_every_query_of_the_grafana_dashboard_names_what_metrics_exports(db_url):
    await two_agents(db_url)
    scraped = await scrape_once(db_url, metrics={"labels": ["room", "agent"]})
    exported_labels = {name for samples in scraped.values() for key in samples for name, _ in key}
    dashboard = json.loads(DASHBOARD.read_text())
    found = queries(dashboard["panels"]) + queries(dashboard["templating"])
    assert len(found) >= 10
    unknown = []
    for query in found:
        metrics, labels = names_in(query)
        assert metrics, query
        unknown += [f"{query}: metric {m}" for m in metrics - set(scraped)]
        unknown += [f"{query}: label {label}" for label in labels - exported_labels]
    assert unknown == []
    assert {"room", "agent", "le", "type"} <= exported_labels
