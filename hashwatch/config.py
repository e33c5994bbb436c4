"""Loading hashwatch.yml: YAML validated by typed models, with errors that name the key.

Every service has its own section in one file; a wrong or unknown key anywhere is
an error naming the file and the dotted path of the key, never silently ignored.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are validated.

    No number may be infinite or NaN (`.inf`, `.nan` in YAML): no setting means
    "forever", and an infinite timeout or interval only fails later, at run time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ConfigSection(StrictModel):
    """A section of hashwatch.yml: as StrictModel, and values are taken as written,
    never converted (pydantic strict mode): `true` is not the port 1, `"10"` is
    not a number, `4028.5` is not an integer. An integer is still a valid float.
    Fields that are naturally written as strings (paths) opt out with Field(strict=False).
    """

    model_config = ConfigDict(strict=True)


def currency_code(value: str) -> str:
    """An ISO 4217 code, upper case ("usd" -> "USD"); ValueError otherwise (for field validators)."""
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as USD")
    return code


def cidr_networks(value: list[str]) -> list[str]:
    """Each entry a CIDR network such as 10.0.0.0/8 (host bits allowed); ValueError otherwise (for field validators)."""
    for network in value:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is not a CIDR network such as 10.0.0.0/8") from None
    return value


def http_url(value: str) -> str:
    """An http(s) URL without a trailing slash; ValueError otherwise (for field validators)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file and key."""


_YAML_KINDS = {
    bool: "a boolean (true/false)", int: "an integer", float: "a decimal number", str: "a string",
    type(None): "nothing (null)", list: "a list", dict: "a mapping",
}


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _format(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] in ("int_type", "float_type") and _numeric_text(item["input"]):
            # Quoted, or PyYAML's YAML 1.1 reading 1e3 (no dot) as text; a number is no secret.
            message = (
                f"{item['msg']}, got the string {item['input']!r}: "
                "write it unquoted, with a dot before any exponent (1.0e3, not 1e3)"
            )
        elif item["type"].endswith("_type") and type(item["input"]) in _YAML_KINDS:
            # What was written, by kind only: the value may be a secret.
            message = f"{item['msg']}, got {_YAML_KINDS[type(item['input'])]}"
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


class YamlKeyError(yaml.YAMLError):
    """A problem with one key of a YAML document, found while loading it."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key or '(top level)'}: {problem}")
        self.key, self.problem = key, problem


def _dotted(path: list[str], most: int = 6) -> str:
    return ".".join(path[:most]) + (".(...)" if len(path) > most else "")


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing what it would otherwise accept silently or crash on.

    - A key given twice in one mapping: YAML says keys are unique, PyYAML keeps the
      last one without a word. (A key from a `<<:` merge may still be overridden.)
    - Nesting deeper than `max_depth`: PyYAML's composer recurses once per level, so
      100,000 `[` would end in RecursionError. No hashwatch setting is nested half as deep.

    Both raise YamlKeyError naming the dotted key and the line.
    """

    max_depth = 50

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._key_path: list[str] = []  # where the composer is, as dotted-key parts
        self._depth = 0
        self._mapping_paths: dict[yaml.Node, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # `index` is the key node for a mapping's value, the position for a list item.
        part = index.value if isinstance(index, yaml.ScalarNode) else index if isinstance(index, int) else None
        if part is not None:
            self._key_path.append(str(part))
        if self._depth >= self.max_depth:
            line = self.peek_event().start_mark.line + 1
            raise YamlKeyError(_dotted(self._key_path), f"nested more than {self.max_depth} levels deep (line {line})")
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.MappingNode):
                self._mapping_paths.setdefault(node, ".".join(self._key_path))
            return node
        finally:
            self._depth -= 1
            if part is not None:
                self._key_path.pop()

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.get(key)
                except TypeError:  # an unhashable key: SafeLoader says so below
                    continue
                if seen is not None:
                    parent = self._mapping_paths.get(node, "")
                    dotted = f"{parent}.{key}" if parent else str(key)
                    lines = f"lines {seen.line + 1} and {key_node.start_mark.line + 1}"
                    raise YamlKeyError(dotted, f"duplicate key: given twice, on {lines}")
                first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str = "config file") -> Any:
    """A YAML file's data; ConfigError naming the file when it cannot be read or parsed.

    The file must be UTF-8; a key given twice, or absurdly deep nesting, is an error.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None
    try:
        return yaml.load(text, Loader=ConfigLoader)  # a SafeLoader: no arbitrary objects
    except YamlKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        where = f" (line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1})" if exc.problem_mark else ""
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_config(model: type[Model], path: str | Path | None) -> Model:
    """Read and validate a YAML file; no path means all defaults."""
    if path is None:
        return parse_config(model, {}, "<defaults>")
    path = Path(path)
    return parse_config(model, read_yaml(path), str(path))
