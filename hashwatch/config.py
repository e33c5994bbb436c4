"""Loading hashwatch.yml: YAML validated by typed models, with errors that name the key.

Every service has its own section in one file; a wrong or unknown key anywhere is
an error naming the file and the dotted path of the key, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def currency_code(value: str) -> str:
    """An ISO 4217 code, upper case ("usd" -> "USD"); ValueError otherwise (for field validators)."""
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as USD")
    return code


def http_url(value: str) -> str:
    """An http(s) URL without a trailing slash; ValueError otherwise (for field validators)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file and key."""


def _format(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = item["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_config(model: type[Model], data: Any, source: str = "<config>") -> Model:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from None


def read_yaml(path: Path, what: str = "config file") -> Any:
    """A YAML file's data; ConfigError naming the file when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_config(model: type[Model], path: str | Path | None) -> Model:
    """Read and validate a YAML file; no path means all defaults."""
    if path is None:
        return parse_config(model, {}, "<defaults>")
    path = Path(path)
    return parse_config(model, read_yaml(path), str(path))
