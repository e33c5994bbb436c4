"""The "The dashboards" part of docs/dashboards.md, generated from the dashboard JSON.

Each dashboard's title, uid, file, panel count, description, variables, links
and a table of its panels (title, type, description), so the reference can
never disagree with what Grafana loads: `hashwatch dashboards generate` writes
it with the JSON and `--check` fails when it is stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .queries import Board

DOC = Path(__file__).resolve().parent.parent / "docs" / "dashboards.md"
HEADING = "## The dashboards\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def section(boards: dict[str, dict[str, Any]]) -> str:
    """Markdown for every dashboard, in generation order."""
    titles = {board["uid"]: board["title"].split(" / ", 1)[-1] for board in boards.values()}
    out = [HEADING]
    for slug, board in boards.items():
        panels = Board(slug, board).panels
        name = board["title"].split(" / ", 1)[-1]
        out.append(f"\n### {name} (`/d/{board['uid']}`, grafana/dashboards/{slug}.json, {len(panels)} panels)\n\n")
        out.append(f"{_cell(board.get('description', ''))}\n\n")
        variables = [v for v in board.get("templating", {}).get("list", []) if v.get("type") == "query"]
        if variables:
            listed = "; ".join(f"`{v['name']}` = `{(v.get('query') or {}).get('query') if isinstance(v.get('query'), dict) else v.get('query')}`"
                               for v in variables)
            out.append(f"Variables: {listed}.\n\n")
        links = [titles.get(link["url"].split("/")[2], link["title"]) for link in board.get("links", [])
                 if link.get("url", "").startswith("/d/")]
        if links:
            out.append(f"Links: {', '.join(links)}.\n\n")
        out.append("| panel | type | shows |\n|---|---|---|\n")
        out.extend(f"| {_cell(p.get('title', ''))} | {p.get('type', '')} | {_cell(p.get('description', ''))} |\n"
                   for p in panels)
    return "".join(out)


def document(boards: dict[str, dict[str, Any]], current: str) -> str:
    """docs/dashboards.md with its generated part (from HEADING to the end) replaced."""
    if HEADING not in current:
        raise ValueError(f"{DOC}: no {HEADING.strip()!r} heading to put the generated reference under")
    return current[: current.index(HEADING)] + section(boards)
