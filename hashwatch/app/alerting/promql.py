"""Small PromQL builders shared by the rule modules: selectors, miner joins, per-model thresholds.

A miner is identified by `instance` and `miner` together: scraped through
/probe it is the `instance` (and has no `miner` label); in fleet mode it is the
`miner` label (and every miner shares the exporter's `instance`). Joining
`on(instance, miner)` works for both, so every rule does.
"""

from __future__ import annotations

from .config import AlertingConfig

MINER = "instance, miner"


def quoted(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def series(name: str, selector: str = "", *matchers: str) -> str:
    """`name{matchers, selector}`; the braces are left out when there is nothing in them."""
    inside = ", ".join(part for part in (*matchers, selector) if part)
    return f"{name}{{{inside}}}" if inside else name


def models_regex(models: list[str]) -> str:
    return "|".join(models).replace("\\", "\\\\").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _matching(config: AlertingConfig, overrides: list) -> str:
    """miner_info of the miners any of these overrides applies to (by model, or by make)."""
    models = [r for o in overrides for r in o.models]
    makes = [r for o in overrides for r in o.makes]
    parts = [series("miner_info", config.miner_selector, f'{label}=~"{models_regex(values)}"')
             for label, values in (("model", models), ("make", makes)) if values]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def per_model(config: AlertingConfig, field: str, condition: str) -> str:
    """`condition` (with `$threshold` in it) at the fleet default, and at each override's own value.

    Miners an override applies to are judged only by its value; an override
    that leaves the field unset keeps the default for its miners. Overrides
    should not overlap: a miner matching two is judged by both.
    """
    default = getattr(config, field)
    overrides = [m for m in config.models if getattr(m, field) is not None]
    at = lambda value: condition.replace("$threshold", _number(value))  # noqa: E731
    if not overrides:
        return at(default)
    parts = [f"({at(default)})\nunless on({MINER}) {_matching(config, overrides)}"]
    for override in overrides:
        parts.append(f"({at(getattr(override, field))})\nand on({MINER}) {_matching(config, [override])}")
    return "\nor\n".join(parts)


def without_models(config: AlertingConfig, flag: str, expr: str) -> str:
    """`expr` except for miners whose override sets `flag` to false (e.g. fans on hydro models)."""
    excluded = [m for m in config.models if getattr(m, flag) is False]
    if not excluded:
        return expr
    return f"({expr}) unless on({MINER}) {_matching(config, excluded)}"
