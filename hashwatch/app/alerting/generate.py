"""Every rule group from one AlertingConfig, and the files `hashwatch rules` writes or checks.

Output (paths relative to the repository or the --output.* flags):
  prometheus/rules/hashwatch-recording.yml   recording rules
  prometheus/rules/hashwatch-alerts.yml      alerting rules
  docs/runbooks.md                           one section per alert
"""

from __future__ import annotations

from pathlib import Path

from . import recording
from .alerts import economics, events, fleet, meta, miners, pools, sources
from .config import AlertingConfig
from .model import Alert, Group
from .render import rules_file, runbooks

ALERT_MODULES = (meta, miners, pools, fleet, sources, economics, events)


def recording_groups(config: AlertingConfig) -> list[Group]:
    return recording.groups(config)


def alert_groups(config: AlertingConfig) -> list[Group]:
    return [module.group(config) for module in ALERT_MODULES]


def outputs(config: AlertingConfig) -> dict[str, str]:
    """{relative path: text} of every generated file."""
    alerts = alert_groups(config)
    names = [r.name for g in alerts for r in g.rules if isinstance(r, Alert)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"alert names defined twice: {duplicates}")
    return {
        "prometheus/rules/hashwatch-recording.yml": rules_file(recording_groups(config), config),
        "prometheus/rules/hashwatch-alerts.yml": rules_file(alerts, config),
        "docs/runbooks.md": runbooks(alerts),
    }


def write(config: AlertingConfig, root: Path) -> list[Path]:
    written = []
    for relative, text in outputs(config).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def stale(config: AlertingConfig, root: Path) -> list[str]:
    """Generated files whose committed text differs from what the config generates."""
    return [
        relative for relative, text in outputs(config).items()
        if not (root / relative).exists() or (root / relative).read_text() != text
    ]
