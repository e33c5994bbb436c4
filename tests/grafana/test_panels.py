"""Every panel of every committed dashboard shows data on the demo: no "No data" on a healthy stack.

For each dashboard in grafana/dashboards/*.json, every template variable's
query and every panel target runs against the session demo (`demo_stack`: the
simulated fleet with scripted faults, the exporters on replayed upstreams,
Prometheus with the rules, Alertmanager, the webhook receiver and InfluxDB),
with the variables substituted as Grafana would (grafana/queries.py): each
variable at the value the dashboard opens with (All where it opens at All,
else the first value its own query returns). Prometheus targets run as
the panel runs them (instant or range over the last few minutes), the
Alertmanager panels as API v2 alert queries, the InfluxDB panels as InfluxQL
with `$timeFilter`. A failure names the dashboard, the panel and the query.
The last test renders the previews and checks one PNG per dashboard with every
panel drawn.
"""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner
from PIL import Image

from grafana.queries import (DASHBOARDS, INFLUXDB, PROMETHEUS, DashboardError, load, multi_valued, resolve, run,
                             variable_values)
from hashwatch.app.cli import main
from tests.support.dashboard_queries import DATA_DEADLINE_SECONDS, demo_sources, until_data, view

# The demo's start and its faults' alerts (up to two minutes) may fall within one test.
pytestmark = pytest.mark.timeout(300)

BOARDS = load(DASHBOARDS)
VARIABLES = [(board, variable) for board in BOARDS for variable in board.variables]


TARGETS = [(board, target) for board in BOARDS for target in board.targets]


@pytest.fixture(scope="module")
def sources(demo_stack):
    return demo_sources(demo_stack)


_resolved: dict[str, dict[str, str]] = {}


def values_of(board, sources, demo) -> dict[str, str]:
    """The board's variables at their first values, resolved once per session (waiting, bounded, for the
    first scrapes and rule evaluations of a demo that has just started)."""
    deadline = demo.started_at + DATA_DEADLINE_SECONDS
    while board.slug not in _resolved:
        try:
            _resolved[board.slug] = resolve(board, sources, view(sources))
        except DashboardError:
            if time.time() >= deadline:
                raise
            time.sleep(2)
    return _resolved[board.slug]


def test_every_dashboard_has_queries():
    assert [p for board in BOARDS for p in board.problems] == []
    assert {b.slug for b in BOARDS} >= {"fleet", "miner", "ocean", "profitability", "market", "alerts", "hashwatch"}
    for board in BOARDS:
        assert [t for b, t in TARGETS if b is board], f"{board.slug} has no queries"


@pytest.mark.parametrize(("board", "variable"), VARIABLES, ids=[f"{b.slug}-${v.name}" for b, v in VARIABLES])
def test_variable_query_offers_values(board, variable, sources, demo_stack):
    known = values_of(board, sources, demo_stack)
    found = variable_values(variable, sources, view(sources), known)
    assert found, f"{board.slug}: variable ${variable.name} ({variable.query}) offers no value"


@pytest.mark.parametrize(("board", "target"), TARGETS, ids=[f"{b.slug}-{t.panel}-{t.ref}" for b, t in TARGETS])
def test_panel_query_returns_data(board, target, sources, demo_stack):
    if target.kind == INFLUXDB and demo_stack.influxdb_url is None:
        pytest.skip("the demo runs without InfluxDB (influxd not installed)")
    values = values_of(board, sources, demo_stack)
    multi = multi_valued(board)
    answer = until_data(demo_stack, lambda: run(target, sources, values, view(sources), multi))
    where = f"{board.slug} / {target.panel!r} [{target.ref}, {target.kind}, {'instant' if target.instant else 'range'}]"
    assert answer.error is None, f"{where}: {answer.error}\nquery: {answer.query}"
    if answer.empty:
        answer, values = other_choice(board, target, sources, values, multi)
    assert not answer.empty, f"{where}: no data\nquery: {answer.query}\nvariables: {values}"


def other_choice(board, target, sources, values, multi):
    """A panel about one miner (or worker, currency) may be empty for the first one because its firmware
    does not report that measurement (never 0 for "not reported"): then it must show data for another
    value the variable offers. Every value is tried at most once, in the variable's order."""
    answer = None
    for variable in board.variables:
        if variable.all_value is not None or variable.type != "query" or f"${variable.name}" not in target.text:
            continue
        for value in variable_values(variable, sources, view(sources), values)[1:]:
            chosen = {**values, variable.name: value}
            answer = run(target, sources, chosen, view(sources), multi)
            assert answer.error is None, f"{target.name} at ${variable.name}={value}: {answer.error}"
            if not answer.empty:
                return answer, chosen
    return answer or run(target, sources, values, view(sources), multi), values


def test_range_panels_ask_for_a_range_and_tables_for_an_instant():
    """What the test runs is what Grafana runs: stats, tables and bar gauges instant, the rest over a range."""
    for board, target in TARGETS:
        if target.kind != PROMETHEUS:
            continue
        if target.panel_type in ("stat", "table", "bargauge"):
            assert target.instant, f"{target.name}: a {target.panel_type} shows now: set instant"
        elif target.panel_type in ("timeseries", "state-timeline"):
            assert not target.instant, f"{target.name}: a {target.panel_type} shows a range"


def test_preview_renders_every_panel_of_every_dashboard(demo_stack, tmp_path):
    # Run alone, the demo may not have raised its alerts yet: wait (bounded) as the panel tests do.
    time.sleep(max(0.0, demo_stack.started_at + DATA_DEADLINE_SECONDS - time.time()))
    args = ["dashboards", "preview", "--prometheus", demo_stack.prometheus_url, "--output", str(tmp_path),
            "--range", "5m"]
    args += ["--alertmanager", demo_stack.alertmanager_url]
    if demo_stack.influxdb_url:
        args += ["--influxdb", demo_stack.influxdb_url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    drawn = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+): \S+\.png, (\d+) panels", result.output, re.M)}
    for board in BOARDS:
        path = tmp_path / f"{board.slug}.png"
        assert path.stat().st_size > 20_000, f"{path}: {path.stat().st_size} bytes, too small to show panels"
        assert path.stat().st_size < 400_000, f"{path}: {path.stat().st_size} bytes"
        with Image.open(path) as image:
            width, height = image.size
        bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board.panels)
        assert width == 24 * 56 and height >= bottom * 30, (board.slug, image.size)
        assert drawn.get(board.slug) == len(board.panels), (board.slug, drawn, result.output)
