"""Grafana's units, as the dashboard previews print them: `Hs` as TH/s, `watt` as kW, `percentunit` as %.

Only the units hashwatch's dashboards use are spelled out; `suffix:X` and
`prefix:X` custom units work as in Grafana, and any other unit id is printed
after the number as it is, so an unknown unit is visible rather than hidden.
"""

from __future__ import annotations

import math
import time

SI = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")]
# unit id -> the symbol printed after an SI prefix
SCALED = {"Hs": "H/s", "hertz": "Hz", "watt": "W", "volt": "V", "bytes": "B", "decbytes": "B", "short": "",
          "watth": "Wh", "joule": "J", "reqps": " req/s", "ops": " ops/s", "pps": " p/s", "sishort": ""}
FIXED = {"celsius": " °C", "rpm": " rpm", "kwatt": " kW", "kwatth": " kWh", "percent": "%", "none": "", "": "",
         "currencyUSD": "$", "currencyEUR": "€", "currencyGBP": "£", "currencyBTC": " BTC", "currencyJPY": "¥"}
PREFIXED = {"currencyUSD", "currencyEUR", "currencyGBP", "currencyJPY"}


def _decimals(value: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{value:.{decimals}f}"
    magnitude = abs(value)
    if magnitude == 0 or magnitude >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _scaled(value: float, symbol: str, decimals: int | None) -> str:
    for size, prefix in SI:
        if abs(value) >= size:
            return f"{_decimals(value / size, decimals)} {prefix}{symbol}".rstrip()
    return f"{_decimals(value, decimals)} {symbol}".rstrip()


def duration(seconds: float) -> str:
    magnitude = abs(seconds)
    for size, name in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if magnitude >= size:
            return f"{seconds / size:.1f} {name}".replace(".0 ", " ")
    return f"{seconds * 1000:.0f} ms"


def format_value(value: float | None, unit: str | None = None, decimals: int | None = None) -> str:
    """One value as Grafana would print it with this unit; None is "No data", as Grafana says."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "No data"
    unit = unit or ""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit in SCALED:
        return _scaled(value, SCALED[unit], decimals)
    if unit == "percentunit":
        return f"{_decimals(value * 100, decimals)}%"
    if unit in PREFIXED:
        return f"{'-' if value < 0 else ''}{FIXED[unit]}{_scaled(abs(value), '', decimals).replace(' ', '')}"
    if unit in FIXED:
        return f"{_decimals(value, decimals)}{FIXED[unit]}"
    if unit in ("s", "dtdurations", "dthms"):
        return duration(value)
    if unit == "ms":
        return duration(value / 1000)
    if unit == "d":
        return duration(value * 86400)
    if unit in ("dateTimeFromNow", "dateTimeAsIso", "dateTimeAsSystem"):
        value = value / 1000 if value > 1e11 else value  # Grafana's date units take milliseconds
        if unit != "dateTimeFromNow":
            return time.strftime("%Y-%m-%d %H:%M", time.gmtime(value))
        ago = time.time() - value
        return f"{duration(abs(ago))} {'ago' if ago >= 0 else 'from now'}"
    if unit.startswith("suffix:"):
        return f"{_decimals(value, decimals)}{unit[7:]}"
    if unit.startswith("prefix:"):
        return f"{unit[7:]}{_decimals(value, decimals)}"
    if unit.startswith("currency"):
        return f"{_scaled(value, '', decimals)} {unit[8:]}"
    return f"{_decimals(value, decimals)} {unit}"
