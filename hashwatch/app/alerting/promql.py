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


def per_model(config: AlertingConfig, field: str, condition: str) -> str:
    """`condition` (with `$threshold` in it) at the fleet default, and at each model override's own value.

    Miners of an overriding model are judged only by its value; a model whose
    override leaves the field unset keeps the default.
    """
    default = getattr(config, field)
    overrides = [m for m in config.models if getattr(m, field) is not None]
    at = lambda value: condition.replace("$threshold", _number(value))  # noqa: E731
    if not overrides:
        return at(default)
    covered = models_regex([r for m in overrides for r in m.models])
    others = series("miner_info", config.miner_selector, f'model=~"{covered}"')
    parts = [f"({at(default)})\nunless on({MINER}) {others}"]
    for override in overrides:
        wanted = series("miner_info", config.miner_selector, f'model=~"{models_regex(override.models)}"')
        parts.append(f"({at(getattr(override, field))})\nand on({MINER}) {wanted}")
    return "\nor\n".join(parts)


def without_models(config: AlertingConfig, flag: str, expr: str) -> str:
    """`expr` except for miners of models whose override sets `flag` to false (e.g. fans on hydro models)."""
    excluded = [r for m in config.models if getattr(m, flag) is False for r in m.models]
    if not excluded:
        return expr
    info = series("miner_info", config.miner_selector, f'model=~"{models_regex(excluded)}"')
    return f"({expr}) unless on({MINER}) {info}"
