# SPDX-License-Identifier: MIT
"""deploy/: the Prometheus alert rules and the Grafana dashboard.

promtool checks the rules and runs them over made-up series; the
dashboard is parsed and every metric it (or a rule) names must be one
that operations.md, "Metrics", lists.
"""
import json
import os
import re
import subprocess

import harness

RULES = os.path.join(harness.ROOT, "deploy", "prometheus", "alerts.yml")
DASHBOARD = os.path.join(harness.ROOT, "deploy", "grafana", "scbridge.json")
OPERATIONS = os.path.normpath(os.path.join(
    harness.ROOT, "..", "shared", "contracts", "operations.md"))
NAME_RE = re.compile(r"\bscbridge_[a-z0-9_]+")

# Series and the alerts they must (and must not) raise; promtool's unit
# test format, one minute per step. promtool compares annotations too, so
# the rules are tested without them (see without_annotations()).
RULE_TESTS = """
rule_files:
  - %(rules)s
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'scbridge_orders{state="needs_attention",instance="a"}'
        values: '2x40'
      - series: 'scbridge_orders{state="needs_attention",instance="b"}'
        values: '2x40'
      - series: 'scbridge_orders_awaiting_payment_overdue{instance="a"}'
        values: '1x40'
      - series: 'scbridge_oldest_job_age_seconds{instance="a"}'
        values: '1000x40'
      - series: 'scbridge_rate_limit_paused{upstream="sellercloud",instance="a"}'
        values: '1x40'
      - series: 'scbridge_rate_limit_paused{upstream="ddi",instance="a"}'
        values: '1x40'
      - series: 'scbridge_poll_interval_seconds{poll="orders",company="163",key="default",instance="a"}'
        values: '60x40'
      - series: 'scbridge_poll_last_success_timestamp_seconds{poll="orders",company="163",key="default",instance="a"}'
        values: '0x40'
      - series: 'scbridge_poll_interval_seconds{poll="items",company="",key="default",instance="a"}'
        values: '60x40'
      - series: 'scbridge_poll_last_success_timestamp_seconds{poll="items",company="",key="default",instance="a"}'
        values: '0+60x40'
    alert_rule_test:
      - eval_time: 10m
        alertname: ScbridgeOrdersNeedAttention
        exp_alerts: []
      - eval_time: 16m
        alertname: ScbridgeOrdersNeedAttention
        exp_alerts:
          - exp_labels:
              severity: warning
      - eval_time: 31m
        alertname: ScbridgeOrdersAwaitingPaymentOverdue
        exp_alerts:
          - exp_labels:
              severity: warning
      - eval_time: 11m
        alertname: ScbridgeOldestJobTooOld
        exp_alerts:
          - exp_labels:
              severity: critical
      - eval_time: 16m
        alertname: ScbridgeSellercloudBudgetExhausted
        exp_alerts:
          - exp_labels:
              severity: warning
      - eval_time: 10m
        alertname: ScbridgePollStale
        exp_alerts:
          - exp_labels:
              severity: warning
              poll: orders
              company: "163"
              key: default
  - interval: 1m
    input_series:
      - series: 'scbridge_poll_interval_seconds{poll="items",company="",key="default",instance="a"}'
        values: '900x200'
      - series: 'scbridge_poll_interval_seconds{poll="orders",company="163",key="eBay",instance="a"}'
        values: '86400x200'
    alert_rule_test:
      - eval_time: 1h
        alertname: ScbridgePollNeverSucceeded
        exp_alerts: []
      - eval_time: 2h5m
        alertname: ScbridgePollNeverSucceeded
        exp_alerts:
          - exp_labels:
              severity: warning
              poll: items
              key: default
"""


def contract_metrics():
    """{name: type} from the Metrics table of operations.md."""
    assert os.path.exists(OPERATIONS), "missing " + OPERATIONS
    out = {}
    with open(OPERATIONS, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\| `(scbridge_[a-z0-9_]+)` \| ([a-z]+)", line)
            if m:
                out[m.group(1)] = m.group(2)
    assert "scbridge_orders_awaiting_payment_overdue" in out, sorted(out)
    return out


def known(name, metrics):
    if name in metrics:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and metrics.get(base) == "histogram":
            return True
    return False


def test_promtool_accepts_the_alert_rules():
    r = subprocess.run(["promtool", "check", "rules", RULES],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def without_annotations(text):
    """The rules file less its annotations blocks (exprs, for, labels
    unchanged); relies on the file's two-space indentation."""
    out, skip_deeper = [], None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if skip_deeper is not None and (not line.strip() or
                                        indent > skip_deeper):
            continue
        skip_deeper = None
        if line.strip() == "annotations:":
            skip_deeper = indent
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def test_alert_rules_fire_on_the_conditions_they_name():
    d = harness.tmpdir()
    rules = os.path.join(d, "alerts.yml")
    with open(RULES, encoding="utf-8") as f:
        stripped = without_annotations(f.read())
    assert "annotations:" not in stripped and "expr:" in stripped
    with open(rules, "w") as f:
        f.write(stripped)
    path = os.path.join(d, "alerts_test.yml")
    with open(path, "w") as f:
        f.write(RULE_TESTS % {"rules": rules})
    r = subprocess.run(["promtool", "test", "rules", path],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_alert_rules_name_only_metrics_of_the_contract():
    metrics = contract_metrics()
    with open(RULES, encoding="utf-8") as f:
        text = f.read()
    names = set(NAME_RE.findall(text))
    for required in ("scbridge_orders_awaiting_payment_overdue",
                     "scbridge_orders",
                     "scbridge_oldest_job_age_seconds",
                     "scbridge_poll_last_success_timestamp_seconds",
                     "scbridge_poll_interval_seconds",
                     "scbridge_rate_limit_paused"):
        assert required in names, required
    unknown = sorted(n for n in names if not known(n, metrics))
    assert not unknown, unknown


def panel_list(panels):
    for p in panels:
        yield p
        yield from panel_list(p.get("panels", []))


def test_dashboard_loads_and_its_panels_query_existing_metrics():
    metrics = contract_metrics()
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    assert dash["uid"] == "scbridge" and dash["title"]
    assert isinstance(dash["schemaVersion"], int)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = list(panel_list(dash["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    used = set()
    queries = 0
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p
        if p["type"] == "row":
            continue
        assert p["title"] and p["targets"], p
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            names = NAME_RE.findall(t["expr"])
            assert names, (p["title"], t["expr"])
            unknown = [n for n in names if not known(n, metrics)]
            assert not unknown, (p["title"], unknown)
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
            used.update(names)
            queries += 1
    assert queries >= 15, queries
    for name in ("scbridge_orders", "scbridge_orders_awaiting_payment_overdue",
                 "scbridge_queue_depth", "scbridge_dead_letters",
                 "scbridge_rate_limit_paused",
                 "scbridge_poll_last_success_timestamp_seconds"):
        assert name in used, name
