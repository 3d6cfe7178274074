#!/usr/bin/env python3
"""Checks the Grafana dashboard and the Prometheus alert rules against payrail's real metrics.

Used by scripts/deploy-check.sh:

    check_metrics.py dashboard deploy/grafana/payrail.json       # structure a Grafana import needs
    check_metrics.py names METRICS_FILE QUERY_FILE...            # every metric a query uses exists

`names` reads the PromQL of each file (the dashboard's targets and variables, the rules' `expr`),
takes the metric names out of it (not functions, labels, keywords or durations), and wants each one
among the series of METRICS_FILE, a scrape of a running payrail's /metrics. So a renamed metric
breaks the check instead of leaving an empty panel or an alert that can never fire.
"""

import json
import re
import sys

import yaml

# Series Prometheus makes itself for every target; payrail's /metrics cannot show them.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan"}
DATASOURCE_UIDS = {"${DS_PROMETHEUS}", "prometheus"}


def fail(message):
    print(f"check_metrics: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings first: they may hold any character
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors, $__rate_interval included
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])[a-zA-Z_:][\w:]*", expr):
        following = expr[match.end():].lstrip()
        if following.startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def dashboard_queries(dashboard):
    """(where, PromQL) for every target of every panel (rows' nested panels too) and variable."""
    panels = list(dashboard.get("panels", []))
    for panel in list(panels):
        panels.extend(panel.get("panels", []))
    for panel in panels:
        for target in panel.get("targets", []):
            yield f"panel '{panel.get('title')}'", target.get("expr", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", query)
        yield f"variable '{variable.get('name')}'", label_values.group(1) if label_values else query


def rule_queries(rules):
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            yield f"rule '{rule.get('alert') or rule.get('record')}'", rule.get("expr", "")


def check_dashboard(path):
    with open(path, encoding="utf-8") as file:
        dashboard = json.load(file)
    for key in ("title", "uid", "schemaVersion", "panels"):
        if key not in dashboard:
            fail(f"{path}: no '{key}'")
    ids = [panel.get("id") for panel in dashboard["panels"]]
    if None in ids or len(ids) != len(set(ids)):
        fail(f"{path}: every panel needs its own id")
    for panel in dashboard["panels"]:
        if "gridPos" not in panel:
            fail(f"{path}: panel '{panel.get('title')}' has no gridPos")
        if panel["type"] == "row":
            continue
        uid = (panel.get("datasource") or {}).get("uid")
        if uid not in DATASOURCE_UIDS:
            fail(f"{path}: panel '{panel['title']}' uses data source '{uid}', not one of {sorted(DATASOURCE_UIDS)}")
        if not panel.get("targets") or not all(t.get("expr") for t in panel["targets"]):
            fail(f"{path}: panel '{panel['title']}' has a target without a query")
    count = sum(1 for panel in dashboard["panels"] if panel["type"] != "row")
    print(f"{path}: schemaVersion {dashboard['schemaVersion']}, {count} panels")


def scraped_series(path):
    names = set()
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.strip() and not line.startswith("#"):
                names.add(re.match(r"[a-zA-Z_:][\w:]*", line).group())
    return names


def check_names(metrics_path, query_paths):
    exported = scraped_series(metrics_path)
    missing = []
    for path in query_paths:
        with open(path, encoding="utf-8") as file:
            if path.endswith(".json"):
                queries = list(dashboard_queries(json.load(file)))
            else:
                queries = list(rule_queries(yaml.safe_load(file)))
        used = set()
        for where, expr in queries:
            for name in metric_names(expr):
                used.add(name)
                if name not in exported and name not in PROMETHEUS_SERIES:
                    missing.append(f"{path}: {where} uses {name}")
        print(f"{path}: {len(queries)} queries over {', '.join(sorted(used))}")
    if missing:
        fail("metrics missing from payrail's /metrics:\n  " + "\n  ".join(missing))
    print("every metric the dashboard and the alert rules use is exported")


def main(args):
    if len(args) == 2 and args[0] == "dashboard":
        check_dashboard(args[1])
    elif len(args) >= 3 and args[0] == "names":
        check_names(args[1], args[2:])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
