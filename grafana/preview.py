"""Dashboard previews without Grafana: each dashboard's panels drawn from real query results into one PNG.

`hashwatch dashboards preview` runs every query of every committed dashboard
(grafana/queries.py, the same code the panel tests use) against the given
Prometheus, Alertmanager and InfluxDB, then draws each panel where its gridPos
puts it on Grafana's 24-column grid: time series as lines, stats and gauges as
big numbers in their unit and threshold colour, tables as tables, bar gauges as
bars, state timelines as coloured bands, alert lists as lists. A panel with no
data says "No data", as Grafana would. matplotlib (Agg) draws; the PNG is
reduced to a 256-colour palette so the previews committed under docs/previews
stay small.
"""

from __future__ import annotations

import io
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .datasources import Series
from .queries import Answer, Board, Datasources, Evaluation, View, evaluate, load, substitute
from .units import format_value

COLUMN_PX, ROW_PX, WIDTH_PX, DPI = 56, 30, 24 * 56, 72
BACKGROUND, PANEL, TEXT, DIM, GRID = "#111217", "#181b1f", "#d8d9da", "#8e8e8e", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d",
           "#fade2a", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477"]
COLORS = {"green": "#73bf69", "red": "#f2495c", "yellow": "#fade2a", "orange": "#ff9830", "blue": "#5794f2",
          "purple": "#b877d9", "dark-red": "#c4162a", "dark-green": "#37872d", "dark-yellow": "#e0b400",
          "dark-orange": "#fa6400", "text": TEXT, "transparent": PANEL}
MAX_LINES, MAX_ROWS, MAX_BARS = 40, 14, 12


@dataclass
class Rendered:
    path: Path
    panels: int  # panels drawn (rows excluded), as many as the dashboard has
    without_data: list[str]  # "panel title: why"


def _color(name: str | None, index: int = 0) -> str:
    if not name:
        return PALETTE[index % len(PALETTE)]
    return COLORS.get(name, name)


def _defaults(panel: dict) -> dict:
    return (panel.get("fieldConfig") or {}).get("defaults") or {}


def _unit(panel: dict) -> str:
    legacy = ((panel.get("options") or {}).get("fieldOptions") or {}).get("defaults") or {}
    return _defaults(panel).get("unit") or legacy.get("unit") or panel.get("format") or ""


def _threshold_color(panel: dict, value: float | None) -> str | None:
    steps = (_defaults(panel).get("thresholds") or {}).get("steps") or []
    chosen = None
    for step in steps if isinstance(steps, list) else []:
        limit = step.get("value")
        if limit in (None, "null") or (value is not None and value >= float(limit)):
            chosen = step.get("color")
    return _color(chosen) if chosen else None


def _mapped(panel: dict, value: float | None) -> tuple[str | None, str | None]:
    """(text, colour) of a value mapping that applies to the value."""
    for mapping in _defaults(panel).get("mappings") or []:
        options = mapping.get("options") or {}
        if mapping.get("type") == "value" and value is not None:
            for key, result in options.items():
                try:
                    if float(key) == value:
                        return result.get("text"), _color(result.get("color")) if result.get("color") else None
                except ValueError:
                    continue
        if mapping.get("type") == "range" and value is not None:
            low, high = options.get("from"), options.get("to")
            if (low is None or value >= low) and (high is None or value <= high):
                result = options.get("result") or {}
                return result.get("text"), _color(result.get("color")) if result.get("color") else None
    return None, None


def legend(answer: Answer, series: Series) -> str:
    """The series' name as Grafana shows it: legendFormat with {{label}} filled, else the metric selector."""
    form = answer.target.fields.get("legendFormat") or answer.target.fields.get("alias") or ""
    labels = {k: v for k, v in series.labels.items() if not k.startswith("__") or k == "__name__"}
    if form and form != "__auto":
        out = form
        for key, value in labels.items():  # Prometheus {{label}}, InfluxDB $tag_label and $col
            out = out.replace("{{" + key + "}}", value).replace("{{ " + key + " }}", value)
            out = out.replace(f"$tag_{key}", value).replace(f"[[tag_{key}]]", value)
        out = re.sub(r"\{\{\s*\w+\s*\}\}", "", out)  # a label the series lacks: Grafana shows nothing
        return " ".join(out.replace("$col", labels.get("field", "")).split())
    name = labels.pop("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}" if inner else name or answer.query


def _reduce(panel: dict, series: Series) -> float | None:
    calcs = ((panel.get("options") or {}).get("reduceOptions") or {}).get("calcs") or ["lastNotNull"]
    values = [v for v in series.values if v is not None]
    if not values:
        return None
    calc = calcs[0]
    return {"mean": lambda: sum(values) / len(values), "max": lambda: max(values), "min": lambda: min(values),
            "sum": lambda: sum(values), "first": lambda: values[0], "firstNotNull": lambda: values[0],
            "count": lambda: float(len(values))}.get(calc, lambda: values[-1])()


def _named(panel: dict, answers: list[Answer]) -> list[tuple[str, Series, Answer]]:
    return [(legend(a, s), s, a) for a in answers for s in a.series if s.has_data()]


def _no_data(ax, text: str = "No data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=DIM, fontsize=12, transform=ax.transAxes)


def _draw_timeseries(ax, panel, answers, view: View) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    unit, decimals = _unit(panel), _defaults(panel).get("decimals")
    named = _named(panel, answers)
    for index, (name, series, _) in enumerate(named[:MAX_LINES]):
        times = [datetime.fromtimestamp(t) for t in series.times]
        values = [math.nan if v is None else v for v in series.values]
        ax.plot(times, values, color=PALETTE[index % len(PALETTE)], linewidth=1.2,
                label=name[:48] if index < 6 else None, marker="o" if len(times) == 1 else None, markersize=3)
    ax.set_xlim(datetime.fromtimestamp(view.start), datetime.fromtimestamp(view.end))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit, decimals)))
    ax.grid(color=GRID, linewidth=0.5)
    ax.tick_params(colors=DIM, labelsize=7)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if not named:
        return _no_data(ax)
    more = f"{len(named)} series, 6 named" if len(named) > 6 else None
    ax.legend(fontsize=6.5, loc="upper left", ncol=3, frameon=False, labelcolor=TEXT, handlelength=1.2,
              columnspacing=0.8, title=more, title_fontsize=6.5).get_title().set_color(DIM)


def _draw_stat(ax, panel, answers) -> None:
    ax.axis("off")
    named = _named(panel, answers)
    if not named:
        return _no_data(ax)
    unit, decimals = _unit(panel), _defaults(panel).get("decimals")
    shown = named[:6]
    for index, (name, series, _) in enumerate(shown):
        value = _reduce(panel, series)
        text, mapped_color = _mapped(panel, value)
        color = mapped_color or _threshold_color(panel, value) or PALETTE[0]
        x = (index + 0.5) / len(shown)
        size = max(10, min(30, 60 / len(shown)))
        ax.text(x, 0.45, text or format_value(value, unit, decimals), ha="center", va="center", color=color,
                fontsize=size, fontweight="bold", transform=ax.transAxes)
        if len(named) > 1:
            ax.text(x, 0.9, name[:28], ha="center", va="top", color=DIM, fontsize=7, transform=ax.transAxes)
    if len(named) > len(shown):
        ax.text(1, 0, f"+{len(named) - len(shown)} more", ha="right", va="bottom", color=DIM, fontsize=7,
                transform=ax.transAxes)


def _cell(value) -> str:
    return str(value) if len(str(value)) <= 30 else str(value)[:29] + "…"


def _table_rows(panel, answers) -> tuple[list[str], list[list[str]]]:
    """Header and rows as Grafana's table shows them: labels as columns, a value column per query
    ("Value", or "Value #A".. merged on equal labels with the merge transformation), then organize's
    excludeByName and renameByName."""
    unit, decimals = _unit(panel), _defaults(panel).get("decimals")
    transformations = {t.get("id"): t.get("options") or {} for t in panel.get("transformations") or []}
    organize = transformations.get("organize", {})
    hidden, renamed = organize.get("excludeByName") or {}, organize.get("renameByName") or {}
    several = len(answers) > 1
    rows: dict[tuple, dict] = {}
    for number, answer in enumerate(answers):
        for index, series in enumerate(answer.series):
            labels = {k: v for k, v in series.labels.items() if k not in ("__name__", "__summary__", "__row__")}
            if answer.target.kind == "alertmanager":
                labels["since"] = format_value(series.times[0], "dateTimeFromNow")
            elif answer.target.kind == "influxdb":
                labels = {"Time": time.strftime("%Y-%m-%d %H:%M", time.localtime(series.times[-1])), **labels}
            merge = "merge" in transformations and answer.target.kind == "prometheus"
            key = tuple(sorted(labels.items())) if merge else (number, index)
            row = rows.setdefault(key, dict(labels))
            if answer.target.kind != "alertmanager" and "__row__" not in series.labels:
                column = labels.get("field", "Value") if answer.target.kind == "influxdb" else "Value"
                row[f"{column} #{answer.target.ref}" if several else column] = format_value(series.last(), unit, decimals)
    columns: list[str] = []
    for row in rows.values():
        columns += [c for c in row if c not in columns and not hidden.get(c) and c != "field"]
    header = [renamed.get(c, c.strip("_")) for c in columns]
    return header, [[_cell(row.get(c, "")) for c in columns] for row in rows.values()]


def _draw_table(ax, panel, answers) -> None:
    ax.axis("off")
    header, rows = _table_rows(panel, answers)
    if not rows:
        return _no_data(ax)
    shown = rows[:MAX_ROWS]
    table = ax.table(cellText=shown, colLabels=header, loc="upper center", cellLoc="left", colLoc="left",
                     bbox=[0, max(0.0, 1 - 0.075 * (len(shown) + 1)), 1, min(1.0, 0.075 * (len(shown) + 1))])
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    for (row, _), cell in table.get_celld().items():
        cell.set_edgecolor(GRID)
        cell.set_facecolor("#22252b" if row == 0 else PANEL)
        cell.get_text().set_color(TEXT if row else "#6e9fff")
    if len(rows) > len(shown):
        ax.text(1, 0, f"{len(rows)} rows, first {len(shown)} shown", ha="right", va="bottom", color=DIM,
                fontsize=7, transform=ax.transAxes)


def _draw_bars(ax, panel, answers) -> None:
    from matplotlib.ticker import FuncFormatter

    named = _named(panel, answers)
    if not named:
        ax.axis("off")
        return _no_data(ax)
    unit, decimals = _unit(panel), _defaults(panel).get("decimals")
    shown = named[:MAX_BARS]
    values = [_reduce(panel, s) or 0.0 for _, s, _ in shown]
    colors = [_threshold_color(panel, v) or PALETTE[i % len(PALETTE)] for i, v in enumerate(values)]
    positions = list(range(len(shown)))[::-1]
    ax.barh(positions, values, color=colors, height=0.7)
    top = _defaults(panel).get("max")
    ax.set_xlim(min(0, min(values)), top if isinstance(top, (int, float)) else max(max(values), 0) * 1.25 or 1)
    for position, value, (name, _, _) in zip(positions, values, shown):
        ax.text(0, position, f" {name[:34]}", va="center", ha="left", color="#111217", fontsize=6.5)
        ax.text(ax.get_xlim()[1], position, format_value(value, unit, decimals), va="center", ha="right",
                color=TEXT, fontsize=7)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit, decimals)))
    ax.tick_params(colors=DIM, labelsize=6.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if len(named) > len(shown):
        ax.set_xlabel(f"{len(named)} bars, first {len(shown)} shown", color=DIM, fontsize=7)


def _draw_timeline(ax, panel, answers, view: View) -> None:
    named = _named(panel, answers)[:MAX_BARS]
    if not named:
        ax.axis("off")
        return _no_data(ax)
    seen: dict[float, str] = {}
    for row, (name, series, answer) in enumerate(reversed(named)):
        step = answer.target and view.step(answer.target)
        for t, value in zip(series.times, series.values):
            if value is None:
                continue
            text, color = _mapped(panel, value)
            color = color or _threshold_color(panel, value) or seen.setdefault(value, PALETTE[len(seen) % len(PALETTE)])
            ax.broken_barh([(t, step)], (row - 0.4, 0.8), facecolors=color, edgecolors="none")
    ax.set_yticks(range(len(named)), [n[:22] for n, _, _ in reversed(named)], fontsize=6.5, color=TEXT)
    ax.set_xlim(view.start, view.end)
    ticks = [view.start + i * view.seconds / 4 for i in range(5)]
    ax.set_xticks(ticks, [time.strftime("%H:%M", time.localtime(t)) for t in ticks])
    ax.tick_params(colors=DIM, labelsize=6.5)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _draw_text(ax, panel) -> None:
    ax.axis("off")
    content = (panel.get("options") or {}).get("content") or panel.get("content") or ""
    lines = [line.strip("#*` ") for line in content.splitlines() if line.strip()][:8]
    ax.text(0.01, 0.95, "\n".join(line[:110] for line in lines), ha="left", va="top", color=TEXT, fontsize=7,
            transform=ax.transAxes, wrap=True)


def draw_panel(ax, panel: dict, answers: list[Answer], view: View) -> None:
    kind = panel.get("type")
    ax.set_facecolor(PANEL)
    if kind == "text":
        return _draw_text(ax, panel)
    errors = [a.error for a in answers if a.error]
    if errors and all(a.error or a.empty for a in answers):
        ax.axis("off")
        return _no_data(ax, "Error: " + errors[0][:80])
    if kind in ("stat", "gauge"):
        _draw_stat(ax, panel, answers)
    elif kind in ("table", "alertlist", "alertGroups", "table-old"):
        _draw_table(ax, panel, answers)
    elif kind == "bargauge":
        _draw_bars(ax, panel, answers)
    elif kind in ("state-timeline", "status-history"):
        _draw_timeline(ax, panel, answers, view)
    else:
        _draw_timeseries(ax, panel, answers, view)


def render(evaluation: Evaluation, view: View, path: Path) -> Rendered:
    """Draw every panel of the evaluated dashboard into `path` (PNG); returns what was drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    board = evaluation.board
    top = 2  # grid rows for the dashboard's title line
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in board.data.get("panels", []) if "gridPos" in p), default=1)
    height_px = (bottom + top) * ROW_PX
    figure = plt.figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor=BACKGROUND)
    values = ", ".join(f"{k}={v}" for k, v in evaluation.values.items())
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(view.end))
    figure.text(0.005, 1 - 0.9 * ROW_PX / height_px, board.title, color=TEXT, fontsize=15, fontweight="bold", va="center")
    figure.text(0.995, 1 - 0.9 * ROW_PX / height_px, f"last {view.seconds / 60:.0f} min to {stamp}   {values}",
                color=DIM, fontsize=8, va="center", ha="right")
    by_panel: dict[int, list[Answer]] = {}
    for answer in evaluation.answers:
        by_panel.setdefault(answer.target.panel_id, []).append(answer)
    drawn, without_data = 0, list(board.problems) + evaluation.problems
    for panel in board.data.get("panels", []):
        if panel.get("type") == "row":
            grid = panel["gridPos"]
            figure.text(0.005, 1 - (grid["y"] + top + 0.6) * ROW_PX / height_px,
                        substitute(panel.get("title", ""), evaluation.values, view), color=TEXT, fontsize=11,
                        fontweight="bold", va="center")
    for panel in board.panels:
        grid = panel["gridPos"]
        left, width = grid["x"] / 24, grid["w"] / 24
        bottom_frac = 1 - (grid["y"] + top + grid["h"]) * ROW_PX / height_px
        gap_x, gap_y = 3 / WIDTH_PX, 3 / height_px
        frame = figure.add_axes((left + gap_x, bottom_frac + gap_y, width - 2 * gap_x,
                                 grid["h"] * ROW_PX / height_px - 2 * gap_y))
        frame.set_facecolor(PANEL)
        frame.set_xticks([])
        frame.set_yticks([])
        for spine in frame.spines.values():
            spine.set_color(GRID)
        title = substitute(panel.get("title", ""), evaluation.values, view)
        frame.text(0.01, 1 - 14 / (grid["h"] * ROW_PX), title, color=TEXT, fontsize=9, fontweight="bold",
                   va="center", transform=frame.transAxes, clip_on=True)
        inner_h = max(0.05, 1 - 30 / (grid["h"] * ROW_PX))
        pos = frame.get_position()
        pad_x = {"timeseries": 44, "state-timeline": 110, "status-history": 110}.get(panel.get("type"), 6) / WIDTH_PX
        ax = figure.add_axes((pos.x0 + pad_x + 0.004, pos.y0 + pos.height * 0.06, pos.width - pad_x - 0.008,
                              pos.height * (inner_h - 0.07)))
        answers = by_panel.get(panel.get("id"), [])
        draw_panel(ax, panel, answers, view)
        drawn += 1
        problems = [a.error for a in answers if a.error] + [f"{a.target.ref} returned no data" for a in answers if a.empty and not a.error]
        if problems and panel.get("type") != "text":
            without_data.append(f"{title}: {problems[0]}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    plt.close(figure)
    buffer.seek(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buffer).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return Rendered(path, drawn, without_data)


def preview(sources: Datasources, output: Path, seconds: float = 900, boards: list[Board] | None = None,
            scrape_interval: float | None = None) -> list[Rendered]:
    """Evaluate and draw every committed dashboard into output/<slug>.png."""
    interval = scrape_interval or sources.prometheus.scrape_interval() or 15.0
    view = View(time.time(), seconds, interval)
    return [render(evaluate(board, sources, view), view, Path(output) / f"{board.slug}.png") for board in boards or load()]
