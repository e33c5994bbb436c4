"""What a rule is: recording rules, alerts (with their runbook), and rule groups.

An Alert carries everything a user sees: its severity, a static summary, a
description template with the values and labels, the runbook section (what to
check, what to do) that docs/runbooks.md is generated from, and an optional
dashboard. Rules are plain data; render.py writes them as Prometheus rule files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("critical", "warning", "info")  # critical pages, warning tickets, info is never paged


@dataclass(frozen=True)
class Recording:
    record: str  # level:metric:operations
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    severity: str
    summary: str  # static: no template in it
    description: str  # a template: {{ $value }}, {{ $labels.x }}
    runbook: str  # markdown: what it means, what to check, what to do
    for_: str = "0s"
    keep_firing_for: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    dashboard: str = ""  # a dashboard uid (grafana/) and its query, overriding the group's

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.name}: severity {self.severity!r} is not one of {SEVERITIES}")
        if "{{" in self.summary:
            raise ValueError(f"{self.name}: the summary is static; values go in the description")

    @property
    def anchor(self) -> str:
        """The runbook section's anchor in docs/runbooks.md (GitHub's heading slug)."""
        return self.name.lower()


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Recording | Alert, ...]
    interval: str = ""  # empty: Prometheus's evaluation_interval
    title: str = ""  # heading of this group's part of docs/runbooks.md
    dashboard: str = ""  # the dashboard its alerts link to (dashboard_url), unless an alert names its own
