"""Running dashboard and cookbook queries against the session demo, waiting (bounded) for data that comes late.

The demo's scripted faults take up to two minutes to raise alerts (and so to
fill alert panels, the webhook's history in InfluxDB, and panels about dead
boards or backup pools). A query that returns nothing is asked again every
couple of seconds until `DATA_DEADLINE_SECONDS` after the demo started; one
that fails with a Prometheus error fails at once (it would never pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from grafana.queries import PROMETHEUS, Answer, Datasources, View

DATA_DEADLINE_SECONDS = 200.0  # after the demo's start: faults' alerts need up to two minutes, plus `for:` slack
VIEW_SECONDS = 300.0  # "the last few minutes", the range panels are asked for
POLL_SECONDS = 2.0


def demo_sources(demo) -> Datasources:
    return Datasources.at(demo.prometheus_url, demo.alertmanager_url, demo.influxdb_url)


_intervals: dict[str, float] = {}


def scrape_interval(sources: Datasources) -> float:
    """The demo Prometheus' global scrape interval (read once)."""
    url = sources.prometheus.url
    if url not in _intervals:
        _intervals[url] = sources.prometheus.scrape_interval() or 15.0
    return _intervals[url]


def view(sources: Datasources) -> View:
    return View(time.time(), VIEW_SECONDS, scrape_interval(sources))


def until_data(demo, ask: Callable[[], Answer]) -> Answer:
    """ask() again until it returns data or the deadline passes; a Prometheus error ends it at once."""
    deadline = max(demo.started_at + DATA_DEADLINE_SECONDS, time.time() + POLL_SECONDS)
    while True:
        answer = ask()
        if answer.error and answer.target.kind == PROMETHEUS:
            return answer
        if (not answer.error and not answer.empty) or time.time() >= deadline:
            return answer
        time.sleep(POLL_SECONDS)
