"""Dashboards and alerts (issue 16 item 2): the Prometheus rules and the Grafana dashboard in
``deploy/`` parse, fire when they should (``promtool test rules``), and name only metrics
the app really exposes.

``promtool`` comes with Debian's ``prometheus`` package (``scripts/test`` installs it when
it can); without it the promtool tests skip, or fail under ``REQUIRE_SERVICES=1``, and the
structural checks below still run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_or_skip

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus-alerts.yml"
ALERT_TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana-reassort.json"
OPERATIONS = ROOT / "docs" / "operations.md"
TOKEN = "jeton-de-supervision-0123456789abcdef"
#: Metric names in a PromQL expression (ours are all ``reassort_…``; ``up`` is Prometheus's own).
METRIC_NAME = re.compile(r"\b(reassort_[a-z0-9_]+|up)\b")
#: What the issue asks the alerts to watch, by the alert that does it.
REQUIRED_ALERTS = {"ReassortDeliveryFailureRate", "ReassortServerErrors", "ReassortShedding", "ReassortLockSpike",
                   "ReassortLatencyP95"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        require_or_skip("promtool absent : apt-get install prometheus (paquet Debian)")
    return path


def rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


@pytest.fixture
def exposed(settings, app) -> set[str]:
    """Every sample name the app's /metrics can carry (families with or without samples yet)."""
    from app import create_app

    settings["METRICS_TOKEN"] = TOKEN
    client = create_app(settings).test_client()
    client.get("/healthz")
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {"up"}
    for family in text_string_to_metric_families(body):
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names


def test_alert_rules_pass_promtool_check():
    result = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_alert_rules_fire_as_their_unit_tests_say():
    result = subprocess.run([promtool(), "test", "rules", ALERT_TESTS.name], cwd=ALERT_TESTS.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_has_a_runbook_section():
    tested = set(re.findall(r"alertname: (\w+)", ALERT_TESTS.read_text(encoding="utf-8")))
    names = {rule["alert"] for rule in rules()}
    assert REQUIRED_ALERTS <= names
    assert names <= tested
    operations = OPERATIONS.read_text(encoding="utf-8")
    for rule in rules():
        assert {"summary", "runbook"} <= rule["annotations"].keys(), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert']}" in operations, f"docs/operations.md ne décrit pas {rule['alert']}"


def test_every_metric_the_alerts_name_exists(exposed):
    named = {name for rule in rules() for name in METRIC_NAME.findall(rule["expr"])}
    assert named and named <= exposed, named - exposed


def test_every_metric_the_dashboard_names_exists(exposed):
    named = {name for expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    assert len(named) >= 10 and named <= exposed, named - exposed


def test_dashboard_is_a_grafana_model_with_one_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"] and {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]


def test_dashboard_expressions_parse_with_promtool(tmp_path):
    # promtool checks PromQL inside rule files: each panel's expression becomes one recording rule.
    document = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:expr{i}", "expr": expr}
                                                           for i, expr in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
