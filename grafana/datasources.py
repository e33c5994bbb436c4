"""The three datasources the dashboards read, asked over HTTP the way Grafana asks them.

Grafana does not run on the machines that test hashwatch, so the dashboard
tests, the preview and the benchmark put Grafana's questions to the real
servers themselves: Prometheus (instant and range queries, label values),
Alertmanager (API v2 alerts) and InfluxDB 1.x (InfluxQL over /query). Only the
standard library is used: the preview runs wherever hashwatch is installed.
A datasource that answers with an error raises DatasourceError with its
message, never an empty result.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import yaml


class DatasourceError(RuntimeError):
    """A datasource refused a query or could not be reached."""


@dataclass
class Series:
    """One line of data: labels, and values at times (unix seconds); None where there is no value."""

    labels: dict[str, str]
    times: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)

    def last(self) -> float | None:
        return next((v for v in reversed(self.values) if v is not None), None)

    def has_data(self) -> bool:
        return any(v is not None for v in self.values)


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _get(url: str, params: dict | list, timeout: float) -> object:
    query = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(f"{url}?{query}" if query else url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        try:
            body = json.loads(body).get("error", body)
        except (ValueError, AttributeError):
            pass
        raise DatasourceError(f"HTTP {exc.code} from {url}: {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DatasourceError(f"{url}: {getattr(exc, 'reason', exc)}") from None


class Prometheus:
    def __init__(self, url: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _api(self, path: str, params: dict | list) -> object:
        answer = _get(f"{self.url}/api/v1/{path}", params, self.timeout)
        if answer.get("status") != "success":
            raise DatasourceError(f"{answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    @staticmethod
    def _series(data: dict) -> list[Series]:
        kind, result = data["resultType"], data["result"]
        if kind in ("scalar", "string"):
            return [Series({}, [float(result[0])], [_number(result[1])])]
        if kind == "vector":
            return [Series(item["metric"], [float(item["value"][0])], [_number(item["value"][1])]) for item in result]
        return [
            Series(item["metric"], [float(t) for t, _ in item["values"]], [_number(v) for _, v in item["values"]])
            for item in result
        ]

    def instant(self, expr: str, at: float) -> list[Series]:
        return self._series(self._api("query", {"query": expr, "time": f"{at:.3f}"}))

    def range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._series(self._api("query_range", params))

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}"}
        if match:
            params["match[]"] = match
        return list(self._api(f"label/{urllib.parse.quote(label, safe='')}/values", params))

    def label_names(self, match: str | None, start: float, end: float) -> list[str]:
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}", **({"match[]": match} if match else {})}
        return list(self._api("labels", params))

    def scrape_interval(self) -> float | None:
        """The global scrape interval from the server's own configuration (Grafana's `timeInterval`)."""
        config = yaml.safe_load(self._api("status/config", {})["yaml"]) or {}
        interval = (config.get("global") or {}).get("scrape_interval")
        return parse_duration(interval) if interval else None


class Alertmanager:
    def __init__(self, url: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def alerts(self, filters: list[str] = (), receiver: str | None = None, active: bool = True,
               silenced: bool = False, inhibited: bool = False) -> list[dict]:
        params: list[tuple[str, str]] = [("filter", f) for f in filters]
        params += [("active", str(active).lower()), ("silenced", str(silenced).lower()),
                   ("inhibited", str(inhibited).lower())]
        if receiver:
            params.append(("receiver", receiver))
        answer = _get(f"{self.url}/api/v2/alerts", params, self.timeout)
        if not isinstance(answer, list):
            raise DatasourceError(f"{self.url}/api/v2/alerts: expected a list, got {type(answer).__name__}")
        return answer


class InfluxDB:
    """InfluxDB 1.x (or 2.x's v1 compatibility API): InfluxQL over /query."""

    def __init__(self, url: str, database: str = "hashwatch", timeout: float = 30):
        self.url = url.rstrip("/")
        self.database = database
        self.timeout = timeout

    def query(self, influxql: str) -> list[Series]:
        answer = _get(f"{self.url}/query", {"db": self.database, "q": influxql, "epoch": "ms"}, self.timeout)
        series: list[Series] = []
        for statement in answer.get("results", []):
            if "error" in statement:
                raise DatasourceError(f"InfluxDB: {statement['error']}")
            for block in statement.get("series", []):
                columns, rows = block["columns"], block["values"]
                tags = {**block.get("tags", {}), "__name__": block.get("name", "")}
                if any(isinstance(value, str) for row in rows for value in row[1:]):
                    # Rows of text (a table of events): one Series per row, its columns as labels.
                    for row in rows:
                        cells = {c: str(v) for c, v in zip(columns[1:], row[1:]) if v is not None}
                        series.append(Series({**tags, **cells, "__row__": "1"}, [row[0] / 1000], [1.0]))
                    continue
                times = [row[0] / 1000 for row in rows]
                for index, column in enumerate(columns[1:], start=1):
                    values = [_number(row[index]) for row in rows]
                    series.append(Series({**tags, "field": column}, times, values))
        return series


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text: str) -> float:
    """'1m30s' -> 90.0; a plain number is seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """Seconds as Grafana writes an interval: 90 -> '90s', 300 -> '5m', 0.5 -> '500ms'."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"
