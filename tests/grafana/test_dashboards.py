"""The dashboards' JSON, checked without a Grafana: fresh, current panel types, fixed datasources, PromQL that parses,
units Grafana knows, a sane layout, links that land, thresholds from the alerting config, and bounded per-miner queries.

Whether every query returns data on a running stack is tests/grafana/test_panels.py's job.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from grafana import house
from grafana.generate import DIRECTORY, dashboards, outputs, stale, write
from hashwatch.app.alerting.config import AlertingConfig
from tests.support.paths import REPO
from tests.support.promtool import promtool_path

BOARDS = dashboards()
PANELS = [(slug, p) for slug, board in BOARDS.items() for p in board["panels"]]
BUILTINS = {"__rate_interval", "__interval", "__range", "timeFilter", "__url_time_range", "__data", "tag_alertname"}
# Sample values for the variables, so the expressions can be parsed.
SAMPLES = {"$__rate_interval": "2m", "$__interval": "30s", "$__range": "6h", "$site": ".*", "$model": ".*",
           "$miner": "10.0.0.7:4028", "$worker": "s19-01", "$currency": "USD"}
PER_MINER = re.compile(r"(?<![:\w])(miner_[a-z_]+|profitability_miner_[a-z_]+|profitability_curtail_advised)\b")


def _prom_targets(panel):
    return [t for t in panel.get("targets", []) if t["datasource"] == house.PROMETHEUS]


def _substituted(expr: str) -> str:
    for name, value in sorted(SAMPLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    return expr


def test_committed_json_is_what_the_boards_generate():
    assert stale() == [], "run `hashwatch dashboards generate` and commit grafana/dashboards/"


def test_the_staleness_check_sees_a_changed_missing_or_extra_file(tmp_path):
    write(tmp_path, doc=None)
    assert stale(tmp_path, doc=None) == []
    (tmp_path / "fleet.json").write_text("{}\n")
    (tmp_path / "miner.json").unlink()
    (tmp_path / "old.json").write_text("{}\n")
    assert stale(tmp_path, doc=None) == ["fleet.json", "miner.json", "old.json"]


def test_the_reference_in_docs_is_generated_and_checked(tmp_path):
    doc = tmp_path / "dashboards.md"
    doc.write_text("# Dashboards\n\nhand-written part\n\n## The dashboards\n\nold\n")
    assert stale(DIRECTORY, doc=doc) == [str(doc)]
    write(tmp_path / "json", doc=doc)
    assert stale(tmp_path / "json", doc=doc) == []
    text = doc.read_text()
    assert text.startswith("# Dashboards\n\nhand-written part\n\n## The dashboards\n")
    for board in BOARDS.values():
        assert f"`/d/{board['uid']}`" in text
        assert all(p["title"].replace("|", "\\|") in text for p in board["panels"])


def test_uids_and_files_are_stable():
    assert {slug: b["uid"] for slug, b in BOARDS.items()} == {
        "fleet": "hashwatch-fleet", "miner": "hashwatch-miner", "ocean": "hashwatch-ocean",
        "profitability": "hashwatch-profitability", "market": "hashwatch-market", "alerts": "hashwatch-alerts",
        "hashwatch": "hashwatch-self"}
    assert sorted(p.name for p in DIRECTORY.glob("*.json")) == sorted(outputs())
    assert all(json.loads((DIRECTORY / f"{slug}.json").read_text())["uid"] == b["uid"] for slug, b in BOARDS.items())


def test_current_schema_and_panel_types_only():
    for slug, board in BOARDS.items():
        assert board["schemaVersion"] == house.SCHEMA_VERSION >= 39
        assert "rows" not in board, f"{slug}: legacy rows"
    types = {p["type"] for _, p in PANELS}
    assert types <= set(house.PANEL_TYPES), types - set(house.PANEL_TYPES)
    assert not types & {"graph", "singlestat", "table-old", "row", "grafana-piechart-panel"}


def test_every_datasource_is_one_of_the_three_fixed_uids():
    allowed = [dict(d) for d in house.DATASOURCES]
    for slug, panel in PANELS:
        assert panel["datasource"] in allowed, (slug, panel["title"])
        for target in panel.get("targets", []):
            assert target["datasource"] == panel["datasource"], (slug, panel["title"])
    for board in BOARDS.values():
        for var in board["templating"]["list"]:
            assert var["datasource"] == house.PROMETHEUS


def test_provisioned_datasources_are_the_ones_the_dashboards_use():
    provisioned = yaml.safe_load((REPO / "grafana/provisioning/datasources/hashwatch.yml").read_text())["datasources"]
    by_uid = {d["uid"]: d for d in provisioned}
    used = {json.dumps(p["datasource"], sort_keys=True) for _, p in PANELS}
    assert used == {json.dumps(d, sort_keys=True) for d in house.DATASOURCES}
    for ds in house.DATASOURCES:
        assert by_uid[ds["uid"]]["type"] == ds["type"]
        assert by_uid[ds["uid"]]["name"] == house.DATASOURCE_NAMES[ds["uid"]]
    assert by_uid["hashwatch-prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["hashwatch-alertmanager"]["url"] == "http://alertmanager:9093"
    assert by_uid["hashwatch-alertmanager"]["jsonData"]["implementation"] == "prometheus"
    assert by_uid["hashwatch-influxdb"]["url"] == "http://influxdb:8086"
    assert by_uid["hashwatch-influxdb"]["jsonData"]["dbName"] == "hashwatch"
    groups = [p for _, p in PANELS if p["type"] == "alertGroups"]
    assert groups and all(p["options"]["alertmanager"] == by_uid["hashwatch-alertmanager"]["name"] for p in groups)
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/hashwatch.yml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["folder"] == "hashwatch"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/hashwatch"


def test_every_promql_expression_parses(tmp_path):
    """promtool has no expression checker: every query becomes a recording rule and `promtool check rules` parses it."""
    rules, n = [], 0
    for slug, panel in PANELS:
        for target in _prom_targets(panel):
            n += 1
            rules.append({"record": f"dashboard:{slug}:q{n}", "expr": _substituted(target["expr"])})
    for slug, board in BOARDS.items():
        for var in board["templating"]["list"]:
            selector = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"])
            assert selector, var["query"]
            n += 1
            rules.append({"record": f"dashboard:{slug}:v{n}", "expr": _substituted(selector.group(1))})
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run([promtool_path(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert n > 100


def test_promtool_check_catches_a_broken_expression(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b:c", "expr": "sum(rate(x[5m])"}]}]}))
    assert subprocess.run([promtool_path(), "check", "rules", str(path)], capture_output=True, timeout=60).returncode != 0


def test_every_variable_used_is_defined():
    for slug, board in BOARDS.items():
        defined = {v["name"] for v in board["templating"]["list"]}
        texts = [board["title"]]
        for panel in board["panels"]:
            texts += [panel["title"], json.dumps(panel.get("targets", []))]
        used = set(re.findall(r"\$\{?(\w+)", " ".join(texts))) - {"1"}
        assert used - BUILTINS <= defined, (slug, used - BUILTINS - defined)
        for var in board["templating"]["list"]:
            assert set(re.findall(r"\$(\w+)", var["query"])) <= defined, (slug, var["name"])


def test_stats_reduce_to_the_last_value_and_carry_their_unit():
    stats = [(s, p) for s, p in PANELS if p["type"] == "stat"]
    assert len(stats) > 20
    for slug, panel in stats:
        assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"], (slug, panel["title"])
        assert house.valid_unit(panel["fieldConfig"]["defaults"]["unit"]), (slug, panel["title"])
        assert panel["fieldConfig"]["defaults"].get("noValue") in (None, "0"), (slug, panel["title"])


def test_every_unit_is_a_grafana_unit():
    assert not house.valid_unit("hashrate") and house.valid_unit("suffix: J/TH") and house.valid_unit("Hs")
    for slug, panel in PANELS:
        if panel["type"] == "alertGroups":
            continue
        assert house.valid_unit(panel["fieldConfig"]["defaults"]["unit"]), (slug, panel["title"])
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert house.valid_unit(prop["value"]), (slug, panel["title"])


def test_panels_describe_themselves_and_choose_their_data_points():
    for slug, panel in PANELS:
        assert panel["title"] and len(panel["description"]) > 20, (slug, panel["title"])
        assert panel.get("maxDataPoints") != 100, (slug, panel["title"])
        for target in _prom_targets(panel):
            assert target["instant"] == (panel["type"] in ("stat", "table", "bargauge")), (slug, panel["title"])
            assert target["range"] == (not target["instant"])
            assert target["refId"]


def test_panel_ids_are_unique_and_the_grid_has_no_overlap():
    for slug, board in BOARDS.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), slug
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, (slug, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, (slug, panel["title"], cells.get((x, y)))
                    cells[(x, y)] = panel["title"]


def test_layout_refuses_a_bad_width_and_places_left_to_right():
    with pytest.raises(ValueError):
        house.layout([house.Panel(None, 25, 4)])
    placed = house.layout([house.Panel(None, 12, 4), house.Panel(None, 12, 8), house.Panel(None, 6, 4)])
    assert [pos for _, pos in placed] == [{"x": 0, "y": 0, "w": 12, "h": 4}, {"x": 12, "y": 0, "w": 12, "h": 8},
                                          {"x": 0, "y": 8, "w": 6, "h": 4}]


def _urls(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "url" and isinstance(value, str):
                yield value
            else:
                yield from _urls(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _urls(item)


def test_every_link_lands_on_a_dashboard_that_exists():
    uids = {b["uid"] for b in BOARDS.values()}
    seen = 0
    for slug, board in BOARDS.items():
        assert board["links"], f"{slug} links nowhere"
        for url in _urls({"links": board["links"], "panels": board["panels"]}):
            target = re.match(r"^/d/([\w-]+)", url)
            assert target and target.group(1) in uids, (slug, url)
            seen += 1
    miner_links = [u for _, p in PANELS for u in _urls(p) if "var-miner=${__data.fields.miner}" in u]
    assert len(miner_links) >= 5  # the fleet's and profitability's tables of miners drill down


def test_tables_of_miners_drill_down_and_are_bounded():
    for slug, panel in PANELS:
        for target in _prom_targets(panel):
            if PER_MINER.search(target["expr"]) and panel["type"] == "table" and "$miner" not in target["expr"]:
                assert re.search(r"\b(topk|bottomk)\(", target["expr"]), (slug, panel["title"])


def _unbounded_per_miner(expr: str) -> bool:
    """A per-miner series read over a range with neither the $miner variable nor a topk/bottomk bound."""
    return bool(PER_MINER.search(expr)) and "$miner" not in expr and not re.search(r"\b(topk|bottomk)\(", expr)


def test_no_per_miner_range_query_without_a_variable_or_a_bound():
    assert _unbounded_per_miner("max(miner_temperature_celsius)")
    assert not _unbounded_per_miner('miner_up{miner="$miner"}')
    assert not _unbounded_per_miner("fleet:miner_hashrate_hashes_per_second:sum")
    assert not _unbounded_per_miner("topk(20, miner_up)")
    offenders = [(slug, p["title"]) for slug, p in PANELS if slug != "hashwatch"
                 for t in _prom_targets(p) if not t["instant"] and _unbounded_per_miner(t["expr"])]
    assert offenders == []


def test_fleet_and_profitability_graphs_read_recorded_or_aggregated_series_only():
    """At 10,000 miners a range query over raw per-miner series is slow: these dashboards' graphs read none."""
    for slug in ("fleet", "profitability"):
        for panel in BOARDS[slug]["panels"]:
            for target in _prom_targets(panel):
                if not target["instant"]:
                    assert not PER_MINER.search(target["expr"]), (slug, panel["title"], target["expr"])


def test_thresholds_follow_the_alerting_config():
    def chip_steps(boards):
        panel = next(p for p in boards["miner"]["panels"] if p["title"] == "Chip temperature")
        return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    default = AlertingConfig()
    assert chip_steps(BOARDS) == [None, default.chip_temperature_warning_celsius, default.chip_temperature_critical_celsius]
    changed = dashboards(AlertingConfig(chip_temperature_warning_celsius=81, reject_ratio_warning=0.05))
    assert chip_steps(changed) == [None, 81, default.chip_temperature_critical_celsius]
    assert changed != BOARDS
    assert '"value": 0.05' in json.dumps(changed["fleet"]) and '"value": 0.05' not in json.dumps(BOARDS["fleet"])
    with pytest.raises(ValueError):
        house.steps("green", (2, "red"), (1, "orange"))


def test_every_recorded_series_a_dashboard_reads_is_a_rule():
    rules = yaml.safe_load((REPO / "prometheus/rules/hashwatch-recording.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"]}
    texts = [t["expr"] for _, p in PANELS for t in _prom_targets(p)]
    texts += [v["query"] for b in BOARDS.values() for v in b["templating"]["list"]]
    used = {name for text in texts for name in re.findall(r"\b[a-z]+:[a-z_]+:[a-z0-9_]+\b", text)}
    assert used and used <= recorded, used - recorded


def test_influxql_panels_read_the_receivers_alert_events():
    influx = [t for _, p in PANELS for t in p.get("targets", []) if t["datasource"] == house.INFLUXDB]
    assert influx and all('FROM "alert_events" WHERE $timeFilter' in t["query"] and t["rawQuery"] for t in influx)


def test_the_cli_checks_and_writes(tmp_path):
    from click.testing import CliRunner

    from hashwatch.app.cli import main

    result = CliRunner().invoke(main, ["dashboards", "generate", "--check"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "hashwatch.yml"
    config.write_text("alerting:\n  board_temperature_warning_celsius: 70\n")
    result = CliRunner().invoke(main, ["dashboards", "generate", "--check", "--config.file", str(config)])
    assert result.exit_code == 1 and "stale: grafana/dashboards/miner.json" in result.output


def test_house_refuses_what_the_style_forbids():
    with pytest.raises(ValueError):
        house.stat("x", "", [house.Prom("up")], house.COUNT)  # no description
    with pytest.raises(ValueError):
        house.stat("x", "a description of it", [house.Prom("up")], "hashes")  # unknown unit
    with pytest.raises(ValueError):
        house.variable("x", "X", "up")  # not label_values
    with pytest.raises(ValueError):
        house.selected("miner_up")  # no @miner
    assert 'miner="$miner"' in house.selected("miner_up{@miner}")
    assert 'instance="$miner", miner=""' in house.selected("miner_up{@miner}")


def test_generated_files_are_deterministic():
    assert outputs() == outputs()
    assert all(Path(DIRECTORY / name).read_text().endswith("}\n") for name in outputs())


def test_every_alert_links_to_a_dashboard_that_exists_with_its_variable():
    """dashboard_url of every generated alert: an existing uid, and only variables that dashboard defines."""
    rules = yaml.safe_load((REPO / "prometheus/rules/hashwatch-alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    boards = {d["uid"]: d for d in dashboards().values()}
    base = AlertingConfig().dashboard_url.rstrip("/") + "/"
    for alert in alerts:
        url = alert["annotations"].get("dashboard_url")
        assert url and url.startswith(base), alert["alert"]
        uid, _, query = url.removeprefix(base).partition("?")
        assert uid in boards, (alert["alert"], uid)
        defined = {v["name"] for v in boards[uid]["templating"]["list"]}
        used = set(re.findall(r"var-([a-z_]+)=", query))
        assert used <= defined, (alert["alert"], used - defined)
    by_name = {a["alert"]: a["annotations"]["dashboard_url"] for a in alerts}
    assert "hashwatch-miner?var-miner=" in by_name["MinerDown"]
    assert "hashwatch-fleet?var-site=" in by_name["SiteMinersDown"]
