"""The shipped Alertmanager config: valid for Debian's Alertmanager 0.25, routes, inhibitions, templates, secrets.

amtool checks the config and resolves routes; inhibitions are asserted on the
parsed YAML (a real Alertmanager runs this config end to end elsewhere).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO
from tests.support.promtool import promtool_path

CONFIG = REPO / "alertmanager" / "alertmanager.yml"
TEMPLATES = REPO / "alertmanager" / "templates"
SECRETS_DIR = "/etc/alertmanager/secrets/"
WEBHOOK_URL = "http://hashwatch-webhook:9895/alerts"
HASHRATE_ALERTS = {"MinerHashrateLow", "MinerHashrateZero", "MinerNotMining", "FleetHashrateDrop", "SiteHashrateDrop"}

MINER_ALERTS = [
    "MinerDown", "MinerHashrateZero", "MinerHashrateLow", "MinerHashboardDead", "MinerChipsMissing",
    "MinerChipTemperatureHigh", "MinerChipTemperatureCritical", "MinerBoardTemperatureHigh",
    "MinerBoardTemperatureCritical", "MinerInletTemperatureHigh", "MinerFanStopped", "MinerRejectRatioHigh",
    "MinerHardwareErrorsHigh", "MinerRebooted", "MinerFaultReported", "MinerNotMining",
    "MinerPoolDown", "MinerPoolFailover", "MinerNoActivePool",
]
# Consequences of an unreachable miner (MinerDown inhibits them).
MINER_DOWN_TARGETS = {
    "MinerHashrateZero", "MinerHashrateLow", "MinerHashboardDead", "MinerChipsMissing",
    "MinerChipTemperatureHigh", "MinerChipTemperatureCritical", "MinerBoardTemperatureHigh",
    "MinerBoardTemperatureCritical", "MinerInletTemperatureHigh", "MinerFanStopped", "MinerRejectRatioHigh",
    "MinerHardwareErrorsHigh", "MinerNotMining", "MinerPoolDown", "MinerPoolFailover", "MinerNoActivePool",
}


def amtool_path() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool not found: run ./scripts/setup (installs Debian's prometheus-alertmanager package)")
    return path


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([amtool_path(), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_amtool_check_config_passes():
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    # The template glob is relative to the config file, so amtool parsed the real templates.
    assert " - 1 templates" in done.stdout


def test_alertmanager_is_0_25():
    """The version the config is checked against; newer keys (webhook url_file, ...) would not load."""
    done = amtool("--version")
    assert "version 0.25." in done.stdout + done.stderr


def route(labels: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    pairs = [f"{name}={value}" for name, value in labels.items()]
    return amtool("config", "routes", "test", f"--config.file={CONFIG}", *extra, *pairs)


def receivers_for(labels: dict[str, str]) -> list[str]:
    done = route(labels)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1].split(",")


MINER = {"instance": "10.0.3.7:4028", "miner": "s19-07", "site": "north", "rack": "r3"}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # critical pages: Slack #hashwatch-paging, email and the webhook (one receiver, three integrations)
        ({"alertname": "MinerDown", "severity": "critical", **MINER}, ["critical"]),
        ({"alertname": "MinerChipTemperatureCritical", "severity": "critical", **MINER}, ["critical"]),
        ({"alertname": "HashwatchExporterDown", "severity": "critical", "job": "hashwatch-ocean"}, ["critical"]),
        ({"alertname": "SiteMinersDown", "severity": "critical", "site": "north"}, ["critical"]),
        # warning: Slack #hashwatch-tickets and the webhook
        ({"alertname": "MinerFanStopped", "severity": "warning", **MINER}, ["warning"]),
        ({"alertname": "OceanDataStale", "severity": "warning"}, ["warning"]),
        # info: never paged, the webhook only
        ({"alertname": "OceanBlockFound", "severity": "info"}, ["hashwatch-webhook"]),
        ({"alertname": "OceanWorkerJoined", "severity": "info", "worker": "s19-07"}, ["hashwatch-webhook"]),
        ({"alertname": "MinerRebooted", "severity": "info", **MINER}, ["hashwatch-webhook"]),
        # Watchdog: the dead man's switch, to the webhook on its own short repeat
        ({"alertname": "Watchdog", "severity": "info"}, ["watchdog"]),
        # no severity (a rule written by hand): not paged
        ({"alertname": "SomethingElse"}, ["hashwatch-webhook"]),
        # hashrate alerts: same receivers, through the curtailment-muted routes
        ({"alertname": "MinerHashrateLow", "severity": "warning", **MINER}, ["warning"]),
        ({"alertname": "FleetHashrateDrop", "severity": "critical"}, ["critical"]),
    ],
)
def test_routes(labels, expected):
    assert receivers_for(labels) == expected
    done = route(labels, f"--verify.receivers={','.join(expected)}")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("alertname", sorted(HASHRATE_ALERTS))
@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_hashrate_alerts_take_the_curtailment_route(alertname, severity, config):
    labels = {"alertname": alertname, "severity": severity, "site": "north"}
    done = route(labels, "--tree")
    assert done.returncode == 0, done.stdout + done.stderr
    matched = [line for line in done.stdout.splitlines() if "receiver:" in line]
    assert len(matched) == 1, done.stdout
    assert "alertname=~" in matched[0] and alertname in matched[0], done.stdout
    assert f"receiver: {severity}" in matched[0]
    # ... and that route, and only routes for hashrate alerts, are muted in `curtailment`.
    muted = [r for r in config["route"]["routes"] if r.get("mute_time_intervals")]
    assert muted and all(r["mute_time_intervals"] == ["curtailment"] for r in muted)
    for r in muted:
        pattern = next(m for m in r["matchers"] if m.startswith("alertname=~"))
        names = re.fullmatch(r'alertname=~"(.*)"', pattern).group(1)
        assert {n for n in MINER_ALERTS + ["FleetHashrateDrop", "SiteHashrateDrop"] if re.fullmatch(names, n)} == HASHRATE_ALERTS
    assert any(alertname in m and f'severity="{severity}"' in " ".join(r["matchers"]) for r in muted for m in r["matchers"])


@pytest.mark.parametrize("alertname", ["MinerDown", "MinerChipTemperatureCritical", "SiteMinersDown"])
def test_other_alerts_are_not_muted_by_curtailment(alertname):
    done = route({"alertname": alertname, "severity": "critical", "site": "north"}, "--tree")
    matched = [line for line in done.stdout.splitlines() if "receiver:" in line]
    assert matched == [matched[0]] and '{severity="critical"}  receiver: critical' in matched[0], done.stdout


def test_curtailment_time_interval_is_defined(config):
    intervals = {t["name"]: t["time_intervals"] for t in config["time_intervals"]}
    assert intervals["curtailment"], "set your curtailment hours in alertmanager.yml"
    assert all(i.get("times") for i in intervals["curtailment"])


def test_grouping_and_watchdog_timing(config):
    assert config["route"]["group_by"] == ["alertname", "site"]
    watchdog = next(r for r in config["route"]["routes"] if r["receiver"] == "watchdog")
    assert watchdog["matchers"] == ['alertname="Watchdog"']
    assert watchdog["repeat_interval"] in ("1m", "2m", "5m")


def integrations(config, name: str) -> dict:
    receiver = next(r for r in config["receivers"] if r["name"] == name)
    return {key: value for key, value in receiver.items() if key.endswith("_configs")}


def test_receivers(config):
    critical = integrations(config, "critical")
    assert set(critical) == {"slack_configs", "email_configs", "webhook_configs"}
    assert [c["channel"] for c in critical["slack_configs"]] == ["#hashwatch-paging"]
    warning = integrations(config, "warning")
    assert set(warning) == {"slack_configs", "webhook_configs"}
    assert [c["channel"] for c in warning["slack_configs"]] == ["#hashwatch-tickets"]
    # info and Watchdog never page: webhook only
    for name in ("hashwatch-webhook", "watchdog"):
        assert set(integrations(config, name)) == {"webhook_configs"}
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["url"] == WEBHOOK_URL
        for slack in receiver.get("slack_configs", []):
            assert {"title", "text"} <= set(slack) and "slack.title" in slack["title"] and "slack.text" in slack["text"]
            assert slack["send_resolved"] is True
        for email in receiver.get("email_configs", []):
            assert "email.subject" in email["headers"]["Subject"] and "email.html" in email["html"]


def test_secrets_are_read_from_files_never_committed(config):
    text = CONFIG.read_text()
    assert "hooks.slack.com" not in text
    assert "smtp_auth_password:" not in text and "api_url:" not in text
    assert config["global"]["smtp_auth_password_file"].startswith(SECRETS_DIR)
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert slack["api_url_file"].startswith(SECRETS_DIR)
        for email in receiver.get("email_configs", []):
            assert "auth_password" not in email
    # docker-compose mounts alertmanager/ at /etc/alertmanager/, and git ignores the secret files.
    files = ["smtp-password", "slack-paging-webhook-url", "slack-tickets-webhook-url"]
    done = subprocess.run(
        ["git", "check-ignore", *(f"alertmanager/secrets/{f}" for f in files)], cwd=REPO, capture_output=True, text=True
    )
    assert done.stdout.split() == [f"alertmanager/secrets/{f}" for f in files], done.stderr


def inhibit_rule(config, source: str) -> list[dict]:
    return [r for r in config["inhibit_rules"] if r["source_matchers"] == [source]]


def names(matcher: str, candidates) -> set[str]:
    """The alert names a single alertname matcher selects (Alertmanager anchors regular expressions)."""
    found = re.fullmatch(r'alertname(=~|=)"(.*)"', matcher)
    assert found, matcher
    operator, value = found.groups()
    if operator == "=":
        return {value} & set(candidates)
    return {c for c in candidates if re.fullmatch(value, c)}


def test_every_inhibit_rule_uses_the_0_25_matcher_syntax(config):
    for rule in config["inhibit_rules"]:
        assert set(rule) == {"source_matchers", "target_matchers", "equal"}, rule


def test_miner_down_inhibits_its_consequences(config):
    (rule,) = inhibit_rule(config, 'alertname="MinerDown"')
    (target,) = rule["target_matchers"]
    assert names(target, MINER_ALERTS) == MINER_DOWN_TARGETS
    assert rule["equal"] == ["instance", "miner"]


def test_site_outage_inhibits_its_miners(config):
    (rule,) = inhibit_rule(config, 'alertname="SiteMinersDown"')
    (target,) = rule["target_matchers"]
    assert names(target, MINER_ALERTS + ["SiteMinersDown", "FleetHashrateDrop"]) == set(MINER_ALERTS)
    assert rule["equal"] == ["site"]


@pytest.mark.parametrize("part", ["Chip", "Board"])
def test_critical_temperature_inhibits_high(config, part):
    (rule,) = inhibit_rule(config, f'alertname="Miner{part}TemperatureCritical"')
    assert rule["target_matchers"] == [f'alertname="Miner{part}TemperatureHigh"']
    assert rule["equal"] == ["instance", "miner"]


def test_critical_inhibits_warning_of_the_same_alert(config):
    (rule,) = inhibit_rule(config, 'severity="critical"')
    assert rule["target_matchers"] == ['severity="warning"']
    assert rule["equal"] == ["alertname", "instance", "miner"]


GROUP = {
    "receiver": "critical",
    "status": "firing",
    "externalURL": "http://localhost:9093",
    "groupLabels": {"alertname": "MinerDown", "site": "north"},
    "commonLabels": {"alertname": "MinerDown", "site": "north", "severity": "critical"},
    "commonAnnotations": {"summary": "A miner does not answer."},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "MinerDown", "severity": "critical", **MINER},
            "annotations": {
                "summary": "A miner does not answer.",
                "description": "s19-07 has not answered for 5 minutes.",
                "runbook_url": "https://example.com/runbooks.md#minerdown",
                "dashboard_url": "http://localhost:3000/d/miner",
            },
            "startsAt": "2024-07-01T15:04:05Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "MinerDown", "severity": "critical", "instance": "10.0.3.8:4028", "site": "north"},
            "annotations": {"summary": "A miner does not answer.", "runbook_url": "https://example.com/runbooks.md#minerdown"},
            "startsAt": "2024-07-01T15:04:05Z",
            "endsAt": "2024-07-01T16:00:00Z",
        },
    ],
}


def render(tmp_path: Path, name: str, data: dict, kind: str = "text") -> str:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    done = amtool(
        "template", "render", f"--template.glob={TEMPLATES}/*.tmpl", f"--template.text={{{{ template \"{name}\" . }}}}",
        f"--template.type={kind}", f"--template.data={path}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_slack_template(tmp_path):
    assert render(tmp_path, "slack.title", GROUP) == "[FIRING:1] MinerDown at north (critical), 1 resolved"
    text = render(tmp_path, "slack.text", GROUP)
    assert "*A miner does not answer.*" in text
    assert "miner s19-07 (10.0.3.7:4028), firing since 2024-07-01 15:04 UTC" in text
    assert "s19-07 has not answered for 5 minutes." in text
    assert "rack=r3" in text and "site=north" in text
    assert "<https://example.com/runbooks.md#minerdown|Runbook>" in text
    assert "<http://localhost:3000/d/miner|Dashboard>" in text
    assert "10.0.3.8:4028, resolved at 2024-07-01 16:00 UTC" in text
    assert render(tmp_path, "slack.color", GROUP) == "danger"
    resolved = {**GROUP, "status": "resolved", "alerts": [GROUP["alerts"][1]]}
    assert render(tmp_path, "slack.title", resolved) == "[RESOLVED] MinerDown at north (critical)"
    assert render(tmp_path, "slack.color", resolved) == "good"


def test_slack_text_caps_large_groups(tmp_path):
    alert = GROUP["alerts"][0]
    many = {**GROUP, "alerts": [{**alert, "labels": {**alert["labels"], "miner": f"m{i}"}} for i in range(25)]}
    text = render(tmp_path, "slack.text", many)
    assert "25 alerts in this group (25 firing); the first 10" in text
    assert text.count(":red_circle:") == 10


def test_email_templates(tmp_path):
    assert render(tmp_path, "email.subject", GROUP) == "[FIRING:1] MinerDown at north (critical), 1 resolved"
    html = render(tmp_path, "email.html", GROUP, kind="html")
    assert "1 firing, 1 resolved in this group." in html
    assert '<a href="https://example.com/runbooks.md#minerdown">Runbook</a>' in html
    assert "RESOLVED" in html and "s19-07 has not answered for 5 minutes." in html
    text = render(tmp_path, "email.text", GROUP)
    assert "Runbook: https://example.com/runbooks.md#minerdown" in text and "[RESOLVED] MinerDown on 10.0.3.8:4028" in text


def test_prometheus_config_with_rules_and_alertmanager(tmp_path):
    """promtool checks the full config, rule files included, laid out as docker-compose mounts them."""
    text = (REPO / "prometheus" / "prometheus.yml").read_text()
    prometheus = yaml.safe_load(text)
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    (target,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    host, port = target.split(":")
    assert host in compose["services"] and f"{port}:{port}" in compose["services"][host]["ports"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in compose["services"]["prometheus"]["volumes"]
    assert "./alertmanager:/etc/alertmanager:ro" in compose["services"]["alertmanager"]["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in compose["services"]["alertmanager"]["command"]

    shutil.copytree(REPO / "prometheus" / "rules", tmp_path / "rules")
    shutil.copytree(REPO / "prometheus" / "miners", tmp_path / "miners")
    (tmp_path / "prometheus.yml").write_text(text.replace("/etc/prometheus/", f"{tmp_path}/"))
    done = subprocess.run(
        [promtool_path(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rule_files = sorted((REPO / "prometheus" / "rules").glob("*.yml"))
    assert rule_files and f"SUCCESS: {len(rule_files)} rule files found" in done.stdout + done.stderr
