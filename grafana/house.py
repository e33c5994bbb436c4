"""The house style of hashwatch's dashboards: the one wrapper around grafanalib 0.7.1.

Each board file (grafana/boards/) calls only what is here, so it reads like a
description of its page: which panels, what they show, their queries. Here
live the shared choices:

- datasources by fixed uid (`PROMETHEUS`, `ALERTMANAGER`, `INFLUXDB`), the same
  uids grafana/provisioning/datasources/hashwatch.yml provisions;
- stable dashboard uids (`UIDS`), dashboard links and data links to the miner
  dashboard;
- units (`UNITS`: Grafana unit ids, plus `suffix:` custom units);
- thresholds, read from the alerting config (hashwatch/app/alerting/config.py),
  so a threshold changed there changes the dashboards too;
- the miner's identity: `miner` in fleet mode, the probed `instance` with /probe
  (docs/metrics.md). `selected(...)` filters a per-miner query to the `$miner`
  variable either way; `listed(...)` gives every row a `miner` column either way;
- only current panel types (`PANEL_TYPES`: timeseries, stat, table, bargauge,
  state-timeline, and Grafana's Alertmanager-backed alertGroups), laid out
  left to right in a 24-column grid.

grafanalib 0.7.1 predates current Grafana: its Stat reduces with "mean" and
takes the unit as `format`, every panel gets maxDataPoints 100, BarGauge writes
Grafana 6's `fieldOptions`, targets carry Graphite leftovers, the dashboard
schemaVersion is 12. `finish()` turns a grafanalib Dashboard into the JSON
current Grafana (schemaVersion 39, Grafana 10.4 to 12) writes itself.

About 460 lines, over the usual 400: the house style is one module on purpose,
so that a board file imports one name and every shared choice is in one place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder
from grafanalib.influxdb import InfluxDBTarget

from hashwatch.app.alerting.config import AlertingConfig

SCHEMA_VERSION = 39
PROMETHEUS = {"type": "prometheus", "uid": "hashwatch-prometheus"}
ALERTMANAGER = {"type": "alertmanager", "uid": "hashwatch-alertmanager"}
INFLUXDB = {"type": "influxdb", "uid": "hashwatch-influxdb"}
DATASOURCES = (PROMETHEUS, ALERTMANAGER, INFLUXDB)
# The alertGroups panel names its Alertmanager by datasource name, not uid.
ALERTMANAGER_NAME = "hashwatch Alertmanager"
DATASOURCE_NAMES = {
    PROMETHEUS["uid"]: "hashwatch Prometheus",
    ALERTMANAGER["uid"]: ALERTMANAGER_NAME,
    INFLUXDB["uid"]: "hashwatch InfluxDB",
}

# slug -> (uid, title). The slug names the JSON file; the uid is the URL (/d/<uid>) and never changes.
DASHBOARDS = {
    "fleet": ("hashwatch-fleet", "hashwatch / Fleet overview"),
    "miner": ("hashwatch-miner", "hashwatch / Miner"),
    "ocean": ("hashwatch-ocean", "hashwatch / Ocean"),
    "profitability": ("hashwatch-profitability", "hashwatch / Profitability"),
    "market": ("hashwatch-market", "hashwatch / Network and market"),
    "alerts": ("hashwatch-alerts", "hashwatch / Alerts"),
    "hashwatch": ("hashwatch-self", "hashwatch / hashwatch itself"),
}
UIDS = {slug: uid for slug, (uid, _) in DASHBOARDS.items()}
TAG = "hashwatch"

PANEL_TYPES = ("timeseries", "stat", "table", "bargauge", "state-timeline", "alertGroups")

# Grafana unit ids used here (Grafana's valueFormats); custom units are "suffix:<text>".
HASHRATE, WATTS, CELSIUS, RATIO, SECONDS, BTC = "Hs", "watt", "celsius", "percentunit", "s", "currencyBTC"
RPM, HERTZ, VOLTS, COUNT, NONE, BYTES, PERCENT = "rotrpm", "hertz", "volt", "short", "none", "bytes", "percent"
OPS = "ops"  # per second
JOULES_PER_TH = "suffix: J/TH"
SAT_PER_VBYTE = "suffix: sat/vB"
DAYS = "suffix: days"
BLOCKS = "suffix: blocks"
UNITS = frozenset({HASHRATE, WATTS, CELSIUS, RATIO, SECONDS, BTC, RPM, HERTZ, VOLTS, COUNT, NONE, BYTES, PERCENT, OPS,
                   "currencyUSD", "currencyEUR", "dateTimeFromNow"})
CUSTOM_UNIT = re.compile(r"^suffix: ?\S.*$")

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"
TABLE_ROWS = 20  # every per-miner table is a topk/bottomk of this many rows


def valid_unit(unit: str) -> bool:
    return unit in UNITS or bool(CUSTOM_UNIT.match(unit))


def steps(base: str, *levels: tuple[float, str]) -> dict[str, Any]:
    """Absolute thresholds: `base` below the first level, then each (value, color) upwards."""
    values = [value for value, _ in levels]
    if values != sorted(values):
        raise ValueError(f"threshold levels must rise: {values}")
    return {"mode": "absolute", "steps": [{"color": base, "value": None}] + [{"color": c, "value": v} for v, c in levels]}


@dataclass(frozen=True)
class Thresholds:
    """The alerting config's thresholds as Grafana thresholds: what colours a value is what the alerts judge."""

    config: AlertingConfig

    def chip_temperature(self) -> dict[str, Any]:
        c = self.config
        return steps(GREEN, (c.chip_temperature_warning_celsius, ORANGE), (c.chip_temperature_critical_celsius, RED))

    def board_temperature(self) -> dict[str, Any]:
        c = self.config
        return steps(GREEN, (c.board_temperature_warning_celsius, ORANGE), (c.board_temperature_critical_celsius, RED))

    def inlet_temperature(self) -> dict[str, Any]:
        return steps(GREEN, (self.config.inlet_temperature_warning_celsius, ORANGE))

    def reject_ratio(self) -> dict[str, Any]:
        return steps(GREEN, (self.config.reject_ratio_warning, ORANGE))

    def hashrate_ratio(self) -> dict[str, Any]:
        """Hashrate over expected: red under hashrate_low_ratio."""
        return steps(RED, (self.config.hashrate_low_ratio, GREEN))

    def margin(self) -> dict[str, Any]:
        return steps(RED, (0.0, ORANGE), (self.config.margin_warning_ratio, GREEN))

    def profit(self) -> dict[str, Any]:
        return steps(RED, (0.0, GREEN))

    def up_ratio(self) -> dict[str, Any]:
        """Share of miners up: red at or under 1 - site_down_ratio (SiteMinersDown), orange below all."""
        return steps(RED, (1 - self.config.site_down_ratio, ORANGE), (1.0, GREEN))

    def age(self, stale_seconds: float) -> dict[str, Any]:
        return steps(GREEN, (stale_seconds, RED))

    def ocean_shortfall(self) -> dict[str, Any]:
        return steps(GREEN, (self.config.ocean_shortfall_ratio, ORANGE))

    def difficulty_rise(self) -> dict[str, Any]:
        return steps(GREEN, (self.config.difficulty_rise_warning_ratio, ORANGE))


# --- the miner's identity ---------------------------------------------------------------------------

def selected(template: str) -> str:
    """A per-miner query for the `$miner` variable, in fleet mode and with /probe.

    `@miner` in the template marks where the miner's matchers go, e.g.
    `miner_board_chips{@miner}` or `rate(miner_shares_total{@miner, result="rejected"}[5m])`.
    """
    if "@miner" not in template:
        raise ValueError(f"no @miner in {template!r}")
    fleet = template.replace("@miner", 'miner="$miner"')
    probe = template.replace("@miner", 'instance="$miner", miner=""')
    return f"{fleet}\nor\n{probe}"


def listed(template: str) -> str:
    """A per-miner table query (a topk/bottomk) whose rows all carry the miner in a `miner` label.

    `@miners` marks the matchers: fleet-mode series have `miner`; /probe series
    have only `instance`, copied into `miner` so the table and its link to the
    miner dashboard read the same either way. `$site` filters both.
    """
    if "@miners" not in template:
        raise ValueError(f"no @miners in {template!r}")
    fleet = template.replace("@miners", 'miner!="", site=~"$site"')
    probe = template.replace("@miners", 'miner="", site=~"$site"')
    return f'{fleet}\nor\nlabel_replace({probe}, "miner", "$1", "instance", "(.+)")'


# --- queries ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prom:
    """A PromQL target. Instant for stats, tables and bar gauges (what they show is now), range otherwise."""

    expr: str
    legend: str = ""
    instant: bool | None = None


@dataclass(frozen=True)
class Influx:
    """A raw InfluxQL target (through the InfluxDB datasource, database `hashwatch`)."""

    query: str
    alias: str = ""
    table: bool = False


def _targets(queries: list[Prom | Influx], instant: bool, tabular: bool) -> list[Any]:
    out: list[Any] = []
    for ref, q in zip("ABCDEFGHIJ", queries, strict=False):
        if isinstance(q, Influx):
            out.append(InfluxDBTarget(query=q.query, alias=q.alias, datasource=INFLUXDB, refId=ref,
                                      format="table" if q.table else "time_series"))
            continue
        now = instant if q.instant is None else q.instant
        out.append(g.Target(expr=q.expr, legendFormat=q.legend, refId=ref, instant=now, datasource=PROMETHEUS,
                            format="table" if tabular else "time_series"))
    if len(out) != len(queries):
        raise ValueError("at most 10 queries per panel")
    return out


def _datasource(queries: list[Prom | Influx]) -> dict[str, str]:
    kinds = {type(q) for q in queries}
    if len(kinds) != 1:
        raise ValueError("one datasource per panel")
    return INFLUXDB if kinds == {Influx} else PROMETHEUS


# --- panels -----------------------------------------------------------------------------------------

@dataclass
class Panel:
    """A panel before layout: its grafanalib object, width and height in grid units."""

    obj: Any
    w: int
    h: int
    extra: dict[str, Any] = field(default_factory=dict)


def _common(title: str, description: str, queries: list[Prom | Influx], instant: bool,
            tabular: bool = False) -> dict[str, Any]:
    if not description.strip():
        raise ValueError(f"panel {title!r} needs a description")
    return {
        "title": title,
        "description": description,
        "dataSource": _datasource(queries),
        "targets": _targets(queries, instant, tabular),
        "maxDataPoints": None,
    }


def _defaults(unit: str, thresholds: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    if not valid_unit(unit):
        raise ValueError(f"unknown unit {unit!r}: add it to house.UNITS")
    return {"unit": unit, "thresholds": thresholds or steps(GREEN), **more}


def timeseries(title: str, description: str, queries: list[Prom | Influx], unit: str, *, w: int = 12, h: int = 8,
               thresholds: dict[str, Any] | None = None, stack: bool = False, bars: bool = False,
               minimum: float | None = None) -> Panel:
    custom = {"thresholdsStyle": {"mode": "line" if thresholds else "off"}}
    obj = g.TimeSeries(
        **_common(title, description, queries, instant=False), unit=unit, fillOpacity=20 if stack else 10,
        stacking={"mode": "normal", "group": "A"} if stack else {"mode": "none"}, drawStyle="bars" if bars else "line",
        legendDisplayMode="list", tooltipMode="multi", tooltipSort="desc", showPoints="never",
    )
    return Panel(obj, w, h, {"fieldConfig": {"defaults": {**_defaults(unit, thresholds, min=minimum), "custom": custom}}})


def stat(title: str, description: str, queries: list[Prom], unit: str, *, w: int = 4, h: int = 4,
         thresholds: dict[str, Any] | None = None, decimals: int | None = None, color: str = "value",
         no_value: str | None = None) -> Panel:
    """A single value now. `no_value`: what to show when the query has no result (a count of nothing is 0)."""
    obj = g.Stat(**_common(title, description, queries, instant=True), format=unit, reduceCalc="lastNotNull",
                 graphMode="none", colorMode=color, decimals=decimals)
    defaults = _defaults(unit, thresholds, color={"mode": "thresholds"}, decimals=decimals)
    if no_value is not None:
        defaults["noValue"] = no_value
    return Panel(obj, w, h, {"fieldConfig": {"defaults": defaults}})


def bargauge(title: str, description: str, queries: list[Prom], unit: str, *, w: int = 12, h: int = 8,
             thresholds: dict[str, Any] | None = None, minimum: float | None = 0, maximum: float | None = None) -> Panel:
    obj = g.BarGauge(**_common(title, description, queries, instant=True), format=unit, calc="lastNotNull",
                     displayMode="gradient", min=minimum, max=maximum, thresholds=[])
    return Panel(obj, w, h, {
        "fieldConfig": {"defaults": _defaults(unit, thresholds, min=minimum, max=maximum, color={"mode": "thresholds"})},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                    "valueMode": "color", "namePlacement": "auto", "sizing": "auto", "minVizHeight": 16,
                    "minVizWidth": 8, "maxVizHeight": 300},
    })


def table(title: str, description: str, queries: list[Prom | Influx], unit: str = NONE, *, w: int = 12, h: int = 8,
          thresholds: dict[str, Any] | None = None, hide: tuple[str, ...] = (), rename: dict[str, str] | None = None,
          link_miner: bool = False, sort: str | None = None, colored: str | None = None,
          units: dict[str, str] | None = None) -> Panel:
    """A table of instant results (Prometheus, format table) or InfluxQL rows.

    `hide` drops columns, `rename` titles them; the value column(s) are
    "Value" (one query) or "Value #A".. (several, merged on their labels).
    `link_miner`: clicking a row opens the miner dashboard for its `miner`.
    `colored`: a column (after renaming) coloured by `thresholds`; `units`:
    a unit per column (after renaming) where columns differ.
    """
    obj = g.Table(**_common(title, description, queries, instant=True, tabular=True), unit=unit, filterable=True)
    transformations: list[dict[str, Any]] = []
    if len(queries) > 1 and isinstance(queries[0], Prom):
        transformations.append({"id": "merge", "options": {}})
    transformations.append({"id": "organize", "options": {
        "excludeByName": {name: True for name in ("Time", "__name__", "job", *hide)},
        "renameByName": dict(rename or {}), "indexByName": {}}})
    overrides = []
    if link_miner:
        overrides.append({"matcher": {"id": "byName", "options": "miner"}, "properties": [
            {"id": "links", "value": [miner_link("Open the miner dashboard", "${__data.fields.miner}")]}]})
    for column, column_unit in (units or {}).items():
        if not valid_unit(column_unit):
            raise ValueError(f"unknown unit {column_unit!r}: add it to house.UNITS")
        overrides.append({"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": column_unit}]})
    if colored:
        overrides.append({"matcher": {"id": "byName", "options": colored}, "properties": [
            {"id": "custom.cellOptions", "value": {"type": "color-text"}}]})
    options: dict[str, Any] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort:
        options["sortBy"] = [{"displayName": sort, "desc": True}]
    return Panel(obj, w, h, {
        "fieldConfig": {"defaults": _defaults(unit, thresholds, custom={"align": "auto", "cellOptions": {"type": "auto"},
                                                                         "filterable": True, "inspect": False}),
                        "overrides": overrides},
        "options": options,
        "transformations": transformations,
    })


def state_timeline(title: str, description: str, queries: list[Prom], *, w: int = 24, h: int = 8,
                   mappings: list[dict[str, Any]] | None = None, thresholds: dict[str, Any] | None = None) -> Panel:
    obj = g.StateTimeline(**_common(title, description, queries, instant=False), mergeValues=True, rowHeight=0.8,
                          showValue="never", fillOpacity=80)
    return Panel(obj, w, h, {"fieldConfig": {"defaults": _defaults(NONE, thresholds, mappings=mappings or [],
                                                                   color={"mode": "thresholds"})}})


def value_text(mapping: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """A value mapping: value -> (text, color)."""
    return [{"type": "value", "options": {v: {"text": t, "color": c, "index": i}
                                          for i, (v, (t, c)) in enumerate(mapping.items())}}]


def alert_groups(title: str, description: str, *, w: int = 24, h: int = 10, labels: str = "") -> Panel:
    """Grafana's Alert groups panel over the provisioned Alertmanager: what is firing now, grouped as routed."""
    if not description.strip():
        raise ValueError(f"panel {title!r} needs a description")
    return Panel(None, w, h, {"type": "alertGroups", "title": title, "description": description, "datasource": ALERTMANAGER,
                              "options": {"alertmanager": ALERTMANAGER_NAME, "expandAll": True, "labels": labels},
                              "targets": []})


# --- links ------------------------------------------------------------------------------------------

def miner_link(title: str, miner: str) -> dict[str, Any]:
    return {"title": title, "targetBlank": False,
            "url": f"/d/{UIDS['miner']}/{UIDS['miner']}?var-miner={miner}&${{__url_time_range}}"}


def links(*slugs: str) -> list[g.DashboardLink]:
    """Links in the dashboard's header to other dashboards (time range kept)."""
    out = []
    for slug in slugs:
        uid, title = DASHBOARDS[slug]
        out.append(g.DashboardLink(title=title.removeprefix("hashwatch / "), type="link", uri=f"/d/{uid}/{uid}",
                                   keepTime=True, icon="dashboard", tooltip=f"Open {title}"))
    return out


# --- variables --------------------------------------------------------------------------------------

def variable(name: str, label: str, query: str, *, all_: bool = False, multi: bool = False,
             regex: str = "") -> g.Template:
    if not query.startswith("label_values("):
        raise ValueError(f"variables use label_values(...): {query!r}")
    return g.Template(name=name, label=label, query=query, dataSource=PROMETHEUS, includeAll=all_, multi=multi,
                      allValue=".*" if all_ else None, default="All" if all_ else None, regex=regex or None,
                      refresh=g.REFRESH_ON_TIME_RANGE_CHANGE, sort=g.SORT_ALPHA_ASC)


# --- the dashboard ----------------------------------------------------------------------------------

def layout(panels: list[Panel]) -> list[tuple[Panel, dict[str, int]]]:
    """Left to right, wrapping at 24 columns; a new line starts under the tallest panel of the line above."""
    placed, x, y, line_h = [], 0, 0, 0
    for p in panels:
        if not 1 <= p.w <= 24:
            raise ValueError(f"panel width {p.w} is not 1..24")
        if x + p.w > 24:
            x, y, line_h = 0, y + line_h, 0
        placed.append((p, {"x": x, "y": y, "w": p.w, "h": p.h}))
        x, line_h = x + p.w, max(line_h, p.h)
    return placed


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


_PANEL_LEFTOVERS = ("cacheTimeout", "editable", "error", "height", "hideTimeOverride", "minSpan", "span", "repeat",
                    "repeatDirection", "maxPerRow", "timeFrom", "timeShift", "transparent", "interval", "columns",
                    "fontSize", "mappings", "color", "maxDataPoints", "links")
_TARGET_LEFTOVERS = ("target", "metric", "step", "intervalFactor", "hide", "interval", "measurement")


def _panel_json(panel: Panel, pos: dict[str, int], panel_id: int) -> dict[str, Any]:
    data = json.loads(json.dumps(panel.obj, cls=DashboardEncoder)) if panel.obj is not None else {}
    for key in _PANEL_LEFTOVERS:
        data.pop(key, None)
    options = data.get("options", {})
    options.pop("fieldOptions", None)  # grafanalib's Grafana 6 BarGauge options
    for key in ("showThresholdLabels", "showThresholdMarkers"):
        options.pop(key, None)
    data.get("fieldConfig", {}).get("defaults", {}).pop("noValue", None)  # grafanalib's Stat says "none"
    _deep_merge(data, json.loads(json.dumps(panel.extra)))
    for target in data.get("targets", []):
        for key in _TARGET_LEFTOVERS:
            target.pop(key, None)
        if "expr" in target:
            target.pop("query", None)  # grafanalib repeats the expression for Graphite
            target["range"] = not target["instant"]
            target["editorMode"] = "code"
        if target["datasource"] == INFLUXDB and not target.get("alias"):
            target.pop("alias", None)
    if "fieldConfig" in data:
        data["fieldConfig"].setdefault("overrides", [])
    data["id"] = panel_id
    data["gridPos"] = pos
    if data.get("type") == "table":
        data["fieldConfig"]["defaults"]["custom"].pop("displayMode", None)  # Grafana 8's; cellOptions now
    if data.get("type") == "stat":
        data["options"]["reduceOptions"]["fields"] = ""
        data["options"].update({"wideLayout": True, "showPercentChange": False, "text": {}})
    return data


def dashboard(slug: str, description: str, panels: list[Panel], *, variables: list[g.Template] = (),
              link_to: tuple[str, ...] = (), time_from: str = "now-6h", refresh: str = "1m") -> dict[str, Any]:
    """The finished dashboard JSON (a dict), as current Grafana would save it."""
    uid, title = DASHBOARDS[slug]
    board = g.Dashboard(title=title, uid=uid, description=description, tags=[TAG], timezone="browser",
                        templating=g.Templating(list=list(variables)), links=links(*link_to), refresh=refresh,
                        time=g.Time(time_from, "now"), graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
                        editable=False, schemaVersion=SCHEMA_VERSION)
    data = json.loads(json.dumps(board, cls=DashboardEncoder))
    for key in ("rows", "style", "sharedCrosshair", "hideControls", "gnetId", "__inputs"):
        data.pop(key, None)
    data["id"] = None
    data["fiscalYearStartMonth"] = 0
    data["liveNow"] = False
    data["weekStart"] = ""
    data["annotations"] = {"list": [{
        "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]}
    for var in data["templating"]["list"]:
        for key in ("tags", "useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count"):
            var.pop(key, None)
            var["current"].pop(key, None)
        var["definition"] = var["query"]
        if var["allValue"] is None:
            var.pop("allValue")
        else:  # "All" selected, as Grafana writes it
            all_ = ["All"], ["$__all"]
            var["current"] = {"selected": True, "text": all_[0], "value": all_[1]} if var["multi"] else \
                {"selected": True, "text": "All", "value": "$__all"}
        if var["regex"] is None:
            var["regex"] = ""
    data["panels"] = [_panel_json(p, pos, i) for i, (p, pos) in enumerate(layout(panels), start=1)]
    return data
