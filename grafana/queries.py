"""Every query of the committed dashboards, with Grafana's variables substituted, run as Grafana runs it.

Reads grafana/dashboards/*.json (the files Grafana is provisioned with, not the
Python that generates them), so what is checked is what users get. For each
dashboard: every panel target (rows' nested panels included) and every template
variable. Variables are resolved in order, each to the value the dashboard opens
with: All (expanded as Grafana expands it) where it opens at All, else the first
value its own query returns (`label_values(...)`, `label_values(metric, label)`, `query_result(...)`,
`label_names()`, `metrics(...)`; custom and constant variables from their
text), later ones seeing earlier ones. Built-ins are given the values Grafana
would compute for the view: `$__interval` from the range and the panel's
maxDataPoints (at least the panel's min interval, else the scrape interval),
`$__rate_interval` = max(`$__interval` + scrape interval, 4 x scrape interval),
`$__range` the view's length, and InfluxDB's `$timeFilter`.

A target runs as Grafana would: Prometheus instant when `instant` is set
without `range`, otherwise a range query at the step Grafana picks;
Alertmanager targets (and alert-list panels) as API v2 alert queries; InfluxDB
targets as raw InfluxQL. Used by the panel tests, `hashwatch dashboards
preview` and bench/dashboards.py.

Why over 400 lines: the variable, built-in and target rules above are read
together when Grafana's behaviour is checked against them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .datasources import Alertmanager, DatasourceError, InfluxDB, Prometheus, Series, format_duration, parse_duration

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS, ALERTMANAGER, INFLUXDB = "prometheus", "alertmanager", "influxdb"
# Datasources by the uids of grafana/provisioning/datasources/hashwatch.yml, and by plugin type.
UIDS = {"hashwatch-prometheus": PROMETHEUS, "hashwatch-alertmanager": ALERTMANAGER, "hashwatch-influxdb": INFLUXDB}
TYPES = {"prometheus": PROMETHEUS, "alertmanager": ALERTMANAGER, "influxdb": INFLUXDB,
         "camptocamp-prometheus-alertmanager-datasource": ALERTMANAGER}
NO_QUERIES = {"row", "text", "news", "dashlist"}
NICE = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]")
_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,}]*)')
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|\\]")


class DashboardError(ValueError):
    """A dashboard that cannot be read or whose queries cannot be formed (a variable with no value)."""


def datasource_kind(datasource, default: str = PROMETHEUS) -> str | None:
    """prometheus, alertmanager, influxdb, None for Grafana's own (-- Mixed --, -- Dashboard --), or the default."""
    if datasource in (None, "", "default"):
        return default
    if isinstance(datasource, dict):
        uid, kind = datasource.get("uid"), datasource.get("type")
        if uid in UIDS:
            return UIDS[uid]
        if kind in TYPES:
            return TYPES[kind]
        if kind in ("datasource", "grafana") or str(uid).startswith("-- "):
            return None
        return default if uid is None and kind is None else _unknown(datasource)
    if datasource in UIDS:
        return UIDS[datasource]
    return None if str(datasource).startswith("-- ") else _unknown(datasource)


def _unknown(datasource) -> str:
    raise DashboardError(f"unknown datasource {datasource!r}: expected one of {', '.join(UIDS)}")


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: str  # the title
    panel_id: int
    panel_type: str
    ref: str
    kind: str  # PROMETHEUS, ALERTMANAGER or INFLUXDB
    text: str  # the query with variables, as committed
    instant: bool
    fields: dict  # the target as in the JSON (legendFormat, format, Alertmanager flags, ...)
    max_points: int
    min_interval: float | None

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} [{self.ref}]"


@dataclass(frozen=True)
class Variable:
    dashboard: str
    name: str
    type: str
    kind: str | None
    query: str
    regex: str
    sort: int
    multi: bool
    all_value: str | None = None  # what "All" stands for, when the dashboard opens at All; None otherwise


@dataclass
class Board:
    slug: str
    data: dict

    @property
    def title(self) -> str:
        return self.data.get("title", self.slug)

    @property
    def panels(self) -> list[dict]:
        """Every panel Grafana draws: top level and inside rows, rows themselves excluded."""
        found = []
        for panel in self.data.get("panels", []):
            if panel.get("type") == "row":
                found.extend(panel.get("panels", []))
            else:
                found.append(panel)
        return found

    @property
    def variables(self) -> list[Variable]:
        found = []
        for item in self.data.get("templating", {}).get("list", []):
            query = item.get("query", "")
            query = query.get("query", "") if isinstance(query, dict) else query
            kind = datasource_kind(item.get("datasource")) if item.get("type") == "query" else None
            current = (item.get("current") or {}).get("value")
            at_all = item.get("includeAll") and current in ("$__all", ["$__all"])
            found.append(Variable(self.slug, item["name"], item.get("type", "query"), kind, str(query or ""),
                                  item.get("regex") or "", int(item.get("sort") or 0),
                                  bool(item.get("multi") or item.get("includeAll")),
                                  (item.get("allValue") or "") if at_all else None))
        return found

    @property
    def targets(self) -> list[Target]:
        """Every query Grafana would run; a target it could not run is left out and named in `problems`."""
        return self._read()[0]

    @property
    def problems(self) -> list[str]:
        return self._read()[1]

    def _read(self) -> tuple[list[Target], list[str]]:
        found, problems = [], []
        for panel in self.panels:
            if panel.get("type") in NO_QUERIES:
                continue
            title, kind_of_panel = panel.get("title") or f"panel {panel.get('id')}", panel.get("type", "")
            # Without maxDataPoints Grafana asks for one point per pixel: about 80 per grid column on a 1920 px screen.
            max_points = int(panel.get("maxDataPoints") or 80 * (panel.get("gridPos") or {}).get("w", 24))
            interval = str(panel.get("interval") or "").lstrip(">") or None
            common = dict(dashboard=self.slug, panel=title, panel_id=int(panel.get("id") or 0),
                          panel_type=kind_of_panel, max_points=max_points,
                          min_interval=parse_duration(interval) if interval else None)
            if kind_of_panel in ("alertlist", "alertGroups"):  # no targets: the panel asks Alertmanager itself
                options = panel.get("options", {})
                text = options.get("labels") or options.get("alertInstanceLabelFilter") or ""
                found.append(Target(**common, ref="A", kind=ALERTMANAGER, instant=True, fields=options, text=text))
                continue
            panel_kind = datasource_kind(panel.get("datasource"))
            for index, target in enumerate(panel.get("targets", [])):
                if target.get("hide"):
                    continue
                try:
                    found.append(self._target(common, panel_kind, index, target))
                except DashboardError as exc:
                    problems.append(str(exc))
        return found, problems

    def _target(self, common: dict, panel_kind: str | None, index: int, target: dict) -> Target:
        where = f"{self.slug} / {common['panel']}"
        kind = datasource_kind(target.get("datasource"), panel_kind or PROMETHEUS) or panel_kind
        if kind is None:
            raise DashboardError(f"{where}: target {index} names no datasource")
        text = target.get("expr") if kind != INFLUXDB else target.get("query")
        if kind == INFLUXDB and not target.get("rawQuery"):
            raise DashboardError(f"{where}: InfluxDB targets must be raw InfluxQL (rawQuery)")
        if kind == ALERTMANAGER:
            text = target.get("expr") or target.get("filters") or ""
        elif not text:
            raise DashboardError(f"{where}: target {index} has no query")
        instant = kind != PROMETHEUS or (bool(target.get("instant")) and not target.get("range"))
        return Target(**common, ref=target.get("refId") or chr(65 + index), kind=kind, text=str(text),
                      instant=instant, fields=target)


def load(directory: Path = DASHBOARDS) -> list[Board]:
    paths = sorted(Path(directory).glob("*.json"))
    if not paths:
        raise DashboardError(f"no dashboards in {directory}: run `hashwatch dashboards generate`")
    boards = []
    for path in paths:
        try:
            boards.append(Board(path.stem, json.loads(path.read_text())))
        except ValueError as exc:
            raise DashboardError(f"{path}: {exc}") from None
    return boards


@dataclass(frozen=True)
class View:
    """What the dashboard shows: `seconds` up to `end`, at the datasource's scrape interval."""

    end: float
    seconds: float = 900.0
    scrape_interval: float = 15.0

    @property
    def start(self) -> float:
        return self.end - self.seconds

    def interval(self, target: Target) -> float:
        """Grafana's $__interval: range / maxDataPoints, rounded to a nice value, at least the min interval."""
        raw = self.seconds / max(1, target.max_points)
        nice = min(NICE, key=lambda n: abs(n - raw)) if raw < NICE[-1] else raw
        return max(nice, target.min_interval or self.scrape_interval)

    def rate_interval(self, target: Target) -> float:
        return max(self.interval(target) + self.scrape_interval, 4 * self.scrape_interval)

    def step(self, target: Target) -> float:
        factor = int(target.fields.get("intervalFactor") or 1)
        return max(self.interval(target) * factor, self.seconds / 11000)


def _escape_regex(value: str) -> str:
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value)


def substitute(text: str, values: dict[str, str], view: View, target: Target | None = None,
               multi: frozenset[str] = frozenset()) -> str:
    """`text` with dashboard variables (`$x`, `${x}`, `${x:regex}`, `[[x]]`) and Grafana's built-ins filled in."""
    interval = view.interval(target) if target else view.scrape_interval
    builtins = {
        "__interval": format_duration(interval), "__interval_ms": str(int(interval * 1000)),
        "__rate_interval": format_duration(target and view.rate_interval(target) or 4 * view.scrape_interval),
        "__range": format_duration(view.seconds), "__range_s": str(int(view.seconds)),
        "__range_ms": str(int(view.seconds * 1000)), "__from": str(int(view.start * 1000)),
        "__to": str(int(view.end * 1000)),
        "timeFilter": f"time >= {int(view.start * 1000)}ms and time <= {int(view.end * 1000)}ms",
    }

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        form = match.group(3) or match.group(5)
        if name in builtins:
            return builtins[name]
        if name not in values:
            return match.group(0)  # `$1` in label_replace, or a typo Prometheus will refuse
        value = values[name]
        return _escape_regex(value) if form == "regex" or (name in multi and form != "raw") else value

    return _VARIABLE.sub(replace, text)


@dataclass
class Answer:
    target: Target
    query: str  # as sent: variables substituted (for Alertmanager, the API parameters)
    series: list[Series] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not any(s.has_data() for s in self.series)


@dataclass
class Datasources:
    prometheus: Prometheus
    alertmanager: Alertmanager | None = None
    influxdb: InfluxDB | None = None

    @classmethod
    def at(cls, prometheus: str, alertmanager: str | None = None, influxdb: str | None = None,
           database: str = "hashwatch") -> "Datasources":
        return cls(Prometheus(prometheus), alertmanager and Alertmanager(alertmanager),
                   influxdb and InfluxDB(influxdb, database))


def variable_values(variable: Variable, sources: Datasources, view: View, known: dict[str, str]) -> list[str]:
    """What Grafana would offer for the variable, in its order (regex and sort applied)."""
    query = substitute(variable.query, known, view)
    if variable.type in ("custom", "interval"):
        return [part.strip() for part in query.split(",") if part.strip()]
    if variable.type in ("constant", "textbox"):
        return [query]
    if variable.type != "query":
        return []
    if variable.kind != PROMETHEUS:
        raise DashboardError(f"{variable.dashboard}: variable {variable.name} must query Prometheus")
    prom = sources.prometheus
    if match := re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query, re.S):
        found = prom.label_values(match.group(2), match.group(1).strip(), view.start, view.end)
    elif match := re.fullmatch(r"\s*label_values\(\s*(\w+)\s*\)\s*", query):
        found = prom.label_values(match.group(1), None, view.start, view.end)
    elif match := re.fullmatch(r"\s*label_names\((.*)\)\s*", query, re.S):
        found = prom.label_names(match.group(1).strip() or None, view.start, view.end)
    elif match := re.fullmatch(r"\s*metrics\((.*)\)\s*", query, re.S):
        found = [n for n in prom.label_values("__name__", None, view.start, view.end) if re.search(match.group(1), n)]
    elif match := re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.S):
        found = [f"{s.labels.get('__name__', '')}{{{', '.join(f'{k}={json.dumps(v)}' for k, v in s.labels.items() if k != '__name__')}}} "
                 f"{s.last()} {int(s.times[0] * 1000)}" for s in prom.instant(match.group(1), view.end)]
    else:
        raise DashboardError(f"{variable.dashboard}: variable {variable.name}: unsupported query {variable.query!r}")
    if variable.regex:
        pattern = re.compile(variable.regex.strip("/"))
        found = [(m.group(1) if m.groups() else m.group(0)) for v in found if (m := pattern.search(v))]
    if variable.sort in (1, 2):
        found = sorted(set(found), reverse=variable.sort == 2)
    elif variable.sort in (3, 4):
        found = sorted(set(found), key=lambda v: float(re.sub(r"[^\d.]", "", v) or 0), reverse=variable.sort == 4)
    return list(dict.fromkeys(found))


def resolve(board: Board, sources: Datasources, view: View, missing: list[str] | None = None) -> dict[str, str]:
    """Every variable of the dashboard at the value it opens with: "All" where the dashboard opens at All
    (its allValue, or every value as a regex alternation, as Grafana expands it), else the first value its
    query returns.

    A variable without a value raises DashboardError, or with `missing` given is
    named there and left unset (its queries then fail, as they would in Grafana).
    """
    values: dict[str, str] = {}
    for variable in board.variables:
        if variable.type in ("datasource", "adhoc"):
            continue
        found = variable_values(variable, sources, view, values)
        if found and variable.all_value is not None:
            values[variable.name] = variable.all_value or "(" + "|".join(map(_escape_regex, found)) + ")"
            continue
        if found:
            values[variable.name] = found[0]
            continue
        problem = f"{board.slug}: variable ${variable.name} ({variable.query}) has no value"
        if missing is None:
            raise DashboardError(problem)
        missing.append(problem)
    return values


def _alert_series(alerts: list[dict]) -> list[Series]:
    series = []
    for alert in alerts:
        started = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")).timestamp()
        state = (alert.get("status") or {}).get("state", "")
        series.append(Series({**alert.get("labels", {}), "__state__": state,
                              "__summary__": (alert.get("annotations") or {}).get("summary", "")}, [started], [1.0]))
    return series


def run(target: Target, sources: Datasources, values: dict[str, str], view: View,
        multi: frozenset[str] = frozenset()) -> Answer:
    """Ask the target's datasource what Grafana would ask; errors are in the Answer, never raised."""
    query = substitute(target.text, values, view, target, multi)
    answer = Answer(target, query)
    began = time.perf_counter()
    try:
        if target.kind == PROMETHEUS:
            prom = sources.prometheus
            answer.series = (prom.instant(query, view.end) if target.instant
                             else prom.range(query, view.start, view.end, view.step(target)))
        elif target.kind == ALERTMANAGER:
            if sources.alertmanager is None:
                raise DatasourceError("no Alertmanager given")
            filters = [name + op + (value if value.startswith('"') else json.dumps(value.strip()))
                       for name, op, value in _MATCHER.findall(query)]
            flags = {k: bool(target.fields.get(k, d)) for k, d in (("active", True), ("silenced", False), ("inhibited", False))}
            answer.query = f"/api/v2/alerts filter={filters} {flags}"
            answer.series = _alert_series(sources.alertmanager.alerts(filters, target.fields.get("receiver") or None, **flags))
        else:
            if sources.influxdb is None:
                raise DatasourceError("no InfluxDB given")
            answer.series = sources.influxdb.query(query)
    except DatasourceError as exc:
        answer.error = str(exc)
    answer.seconds = time.perf_counter() - began
    return answer


@dataclass
class Evaluation:
    board: Board
    values: dict[str, str]
    answers: list[Answer]
    problems: list[str] = field(default_factory=list)


def multi_valued(board: Board) -> frozenset[str]:
    """Variables whose one chosen value is regex-escaped when substituted (not those at All: already a regex)."""
    return frozenset(v.name for v in board.variables if v.multi and v.all_value is None)


def evaluate(board: Board, sources: Datasources, view: View) -> Evaluation:
    """Every query of the board; variables without a value are named in `problems`, not raised."""
    problems: list[str] = []
    values = resolve(board, sources, view, problems)
    multi = multi_valued(board)
    return Evaluation(board, values, [run(t, sources, values, view, multi) for t in board.targets], problems)
