"""The generated rules: fresh, valid, every alert and recording rule unit-tested with promtool.

`prometheus/rules/tests/*_test.yml` are promtool unit tests written by hand
against the committed rule files; these checks make sure they cover every rule:
for each alert a case where it fires (with its labels and annotations, the
runbook_url included) and a near miss where it stays silent.
"""

from __future__ import annotations

import subprocess

import yaml

from hashwatch.app.alerting.config import AlertingConfig, ModelThresholds
from hashwatch.app.alerting.generate import alert_groups, outputs, recording_groups, stale
from hashwatch.app.alerting.model import Alert, Recording
from tests.support.paths import REPO
from tests.support.promtool import promtool_path

RULES = REPO / "prometheus" / "rules"
UNIT_TESTS = sorted((RULES / "tests").glob("*_test.yml"))


def _alerts() -> list[Alert]:
    return [r for g in alert_groups(AlertingConfig()) for r in g.rules if isinstance(r, Alert)]


def _recordings() -> list[Recording]:
    return [r for g in recording_groups(AlertingConfig()) for r in g.rules if isinstance(r, Recording)]


def test_committed_files_are_what_the_default_config_generates():
    assert stale(AlertingConfig(), REPO) == [], "run `hashwatch rules` and commit the result"


def test_promtool_checks_the_rule_files():
    done = subprocess.run(
        [promtool_path(), "check", "rules", *map(str, sorted(RULES.glob("*.yml")))], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass():
    assert UNIT_TESTS
    done = subprocess.run(
        [promtool_path(), "test", "rules", *map(str, UNIT_TESTS)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


def _unit_cases() -> list[dict]:
    cases = []
    for path in UNIT_TESTS:
        cases += yaml.safe_load(path.read_text()).get("tests", [])
    return cases


def test_every_alert_has_a_firing_case_and_a_near_miss():
    fired, silent = set(), set()
    for case in _unit_cases():
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else silent).add(check["alertname"])
            for expected in check.get("exp_alerts") or []:
                assert "runbook_url" in expected.get("exp_annotations", {}), (check["alertname"], case["name"])
    names = {a.name for a in _alerts()}
    assert names - fired == set(), "alerts never tested firing"
    assert names - {"Watchdog"} - silent == set(), "alerts without a near miss"


def test_every_recording_rule_is_tested():
    exprs = " ".join(t["expr"] for case in _unit_cases() for t in case.get("promql_expr_test", []))
    untested = [r.record for r in _recordings() if r.record not in exprs]
    assert untested == []


def test_every_alert_is_documented_and_labelled():
    runbooks = outputs(AlertingConfig())["docs/runbooks.md"]
    for alert in _alerts():
        assert alert.severity in ("critical", "warning", "info")
        assert f"### {alert.name}\n" in runbooks and alert.runbook.strip()
        assert "{{" in alert.description or alert.name == "Watchdog", f"{alert.name}: the description carries values"


def test_per_model_thresholds_change_only_those_models():
    default = {a.name: a.expr for a in _alerts()}
    custom = AlertingConfig(models=[ModelThresholds(models=["S19.*"], chip_temperature_critical_celsius=77, fans=False)])
    changed = {a.name: a.expr for g in alert_groups(custom) for a in g.rules if isinstance(a, Alert)}
    differing = {name for name in default if default[name] != changed[name]}
    assert differing, "a per-model threshold changed no rule"
    assert all('model=~"S19.*"' in changed[name] for name in differing)
