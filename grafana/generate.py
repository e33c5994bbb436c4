"""Build every dashboard to JSON and write or check grafana/dashboards/<slug>.json (`hashwatch dashboards generate`).

The JSON is deterministic (sorted keys, 2-space indent, a final newline) so the
committed files change only when a dashboard does, and `--check` can tell a
stale file from a fresh one. Thresholds come from the alerting config: the
committed files are what the default `alerting:` section generates. The
reference part of docs/dashboards.md is generated with them (reference.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hashwatch.app.alerting.config import AlertingConfig

from . import reference
from .boards import BUILDERS
from .house import DASHBOARDS

DIRECTORY = Path(__file__).resolve().parent / "dashboards"


def dashboards(config: AlertingConfig | None = None) -> dict[str, dict[str, Any]]:
    """{slug: dashboard JSON} of every dashboard."""
    config = config or AlertingConfig()
    if set(BUILDERS) != set(DASHBOARDS):
        raise RuntimeError(f"boards and house.DASHBOARDS disagree: {sorted(set(BUILDERS) ^ set(DASHBOARDS))}")
    return {slug: build(config) for slug, build in BUILDERS.items()}


def text(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outputs(config: AlertingConfig | None = None) -> dict[str, str]:
    """{file name: JSON text} of every dashboard."""
    return {f"{slug}.json": text(board) for slug, board in dashboards(config).items()}


def write(directory: Path = DIRECTORY, config: AlertingConfig | None = None, doc: Path | None = reference.DOC) -> list[Path]:
    """The JSON files, and the generated part of docs/dashboards.md (unless `doc` is None)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in outputs(config).items():
        path = directory / name
        path.write_text(content)
        written.append(path)
    if doc is not None and doc.exists():  # an installed wheel has no docs/
        doc.write_text(reference.document(dashboards(config), doc.read_text()))
        written.append(doc)
    return written


def stale(directory: Path = DIRECTORY, config: AlertingConfig | None = None, doc: Path | None = reference.DOC) -> list[str]:
    """Dashboard files missing or different from what is generated, files no dashboard generates, and
    docs/dashboards.md when its generated part is stale."""
    expected = outputs(config)
    out = [name for name, content in expected.items()
           if not (directory / name).exists() or (directory / name).read_text() != content]
    out += sorted(p.name for p in directory.glob("*.json") if p.name not in expected)
    if doc is not None and doc.exists() and doc.read_text() != reference.document(dashboards(config), doc.read_text()):
        out.append(f"docs/{doc.name}" if doc.parent.name == "docs" else str(doc))
    return out
