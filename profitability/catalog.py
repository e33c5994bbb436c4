"""The ASIC catalog: nominal hashrate and wall power of current SHA-256 miners.

The profitability exporter uses it twice: to estimate the power of a miner that does
not report its own (looked up by the make and model the CGMiner exporter puts in
miner_info), and to export a "calculator" series, the expected profit per day of
every catalog model at current network conditions.

The data lives in catalog.yml next to this module; `load_catalog()` reads and
validates it (or another file of the same shape) and raises
hashwatch.config.ConfigError naming the file and the key of the first problem.

Lookups compare names by a key: lower case, without spaces, hyphens, underscores
and dots, and without a leading brand word ("Antminer", "WhatsMiner", "AvalonMiner",
declared per make in the file). So "Antminer S19 Pro", "S19Pro" and "s19 pro" are
one name, and "S19JPRO" (Hiveon) finds "S19j Pro". "+" is kept: M30S, M30S+ and
M30S++ are three machines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from hashwatch.config import ConfigError, StrictModel, read_yaml

__all__ = ["PACKAGED_CATALOG", "Catalog", "Entry", "load_catalog", "name_key", "parse_catalog"]

PACKAGED_CATALOG = Path(__file__).with_name("catalog.yml")

# Every SHA-256 machine since the S9 (~98 J/TH) sits well inside this band; a figure
# outside it is a unit slip (GH/s for TH/s, kW for W), not a real machine.
MIN_J_PER_TH = 5.0
MAX_J_PER_TH = 150.0

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]

_IGNORED = re.compile(r"[\s\-_.]+")
# A trailing hashrate some tools and resellers append: "S19j Pro 104T",
# "S19j Pro (110Th)", "S19j Pro-104TH/s"; the number must be set apart from the name
# ("T21" and "1566" stay whole) unless it follows a letter ("S19jPro104T").
_HASHRATE_SPACED = re.compile(
    r"^(?P<name>.+?)(?:\s+|[-_]|\s*[(\[])\s*\d+(?:\.\d+)?\s*T(?:H(?:/?S)?)?\s*[)\]]?$", re.IGNORECASE
)
_HASHRATE_GLUED = re.compile(r"^(?P<name>.*[^\d\s.])\d+(?:\.\d+)?T(?:H(?:/?S)?)?$", re.IGNORECASE)
# WhatsMiner units report a chip-bin suffix after the model (btminer's DEVDETAILS
# Model / miner_type: "M30S++_VG30", "M50SVH30", "M31SEV10"); on a key it reads
# m<2 digits><letters><pluses>v<letters><digit>...
_WHATSMINER_BIN = re.compile(r"^(?P<name>m\d{2}[a-z]{0,2}\+{0,2})v[a-z]{0,2}\d[0-9a-z]*$")


def _squash(text: str) -> str:
    return _IGNORED.sub("", text).lower()


def name_key(name: str, brands: tuple[str, ...] = ()) -> str:
    """The key two spellings share: "Antminer S19 Pro" -> "s19pro" when "antminer" is a brand.

    brands are squashed brand words, longest first; any number of them may lead
    ("Bitmain Antminer S9" -> "s9"), but a name that is nothing but a brand keeps it.
    """
    key = _squash(name)
    stripped = True
    while stripped:
        stripped = False
        for brand in brands:
            if key.startswith(brand) and len(key) > len(brand):
                key = key[len(brand):]
                stripped = True
                break
    return key


def _brands(makes: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    words = {_squash(word) for make, extra in makes.items() for word in (make, *extra)}
    # Longest first, so "avalonminer" goes before "avalon" eats its head.
    return tuple(sorted((word for word in words if word), key=lambda word: (-len(word), word)))


class Entry(StrictModel):
    """One model at its stock (nominal) operating point."""

    make: Text
    model: Text
    aliases: tuple[Text, ...] = ()
    hashrate_ths: float = Field(gt=0, allow_inf_nan=False)
    power_watts: float = Field(gt=0, allow_inf_nan=False)
    cooling: Literal["air", "hydro", "immersion"]
    released: Month
    source: Text
    note: Text | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.model, *self.aliases)

    @property
    def efficiency_j_per_th(self) -> float:
        """Joules per terahash: watts / (TH/s)."""
        return self.power_watts / self.hashrate_ths

    @property
    def hashrate_hs(self) -> float:
        """Nominal hashrate in H/s, the unit of the exporters' hashrate series."""
        return self.hashrate_ths * 1e12

    @model_validator(mode="after")
    def _plausible_efficiency(self) -> Entry:
        efficiency = self.efficiency_j_per_th
        if not MIN_J_PER_TH <= efficiency <= MAX_J_PER_TH:
            raise PydanticCustomError(
                "implausible_efficiency",
                f"{self.make} {self.model}: {self.power_watts:g} W / {self.hashrate_ths:g} TH/s is "
                f"{efficiency:.4g} J/TH, outside {MIN_J_PER_TH:g}-{MAX_J_PER_TH:g} J/TH "
                "(hashrate_ths given in GH/s or PH/s, or power_watts in kW?)",
            )
        return self


def _problem(key: str, message: str) -> PydanticCustomError:
    # ctx["key"] carries the dotted path of the offending value: a model-level
    # validator's own location would only say "(top level)".
    return PydanticCustomError("catalog", message, {"key": key})


class Catalog(StrictModel):
    """The validated catalog: makes with their brand words, and the models."""

    makes: dict[Text, tuple[Text, ...]]
    models: tuple[Entry, ...]

    _brands: tuple[str, ...] | None = PrivateAttr(default=None)
    _index: dict[str, tuple[Entry, ...]] | None = PrivateAttr(default=None)
    _make_keys: dict[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        # Checked here, not as a length constraint on the field: pydantic would also
        # report "at least 1 item" whenever any single entry is invalid.
        if not self.models:
            raise _problem("models", "the catalog lists no models")
        owner: dict[str, str] = {}
        for make, words in self.makes.items():
            for position, word in [(None, make), *enumerate(words)]:
                key = _squash(word)
                where = f"makes.{make}" if position is None else f"makes.{make}.{position}"
                if not key:
                    raise _problem(where, f"{word!r} has no letters or digits")
                if owner.get(key, make) != make:
                    raise _problem(where, f"{word!r} is already a brand of {owner[key]}")
                owner[key] = make
        brands = _brands(self.makes)
        seen: dict[str, tuple[int, str]] = {}
        for index, entry in enumerate(self.models):
            if entry.make not in self.makes:
                raise _problem(
                    f"models.{index}.make",
                    f"{entry.make!r} is not declared under makes ({', '.join(self.makes)})",
                )
            paths = [f"models.{index}.model"] + [f"models.{index}.aliases.{j}" for j in range(len(entry.aliases))]
            for path, name in zip(paths, entry.names):
                key = name_key(name, brands)
                if not key:
                    raise _problem(path, f"{name!r} has no letters or digits")
                if key in owner:
                    raise _problem(path, f"{name!r} is only a make or brand name")
                first = seen.setdefault(key, (index, path))
                # The same entry may spell one name twice; two entries may not share one,
                # or a lookup could not tell them apart.
                if first[0] != index:
                    other = self.models[first[0]]
                    raise _problem(
                        path,
                        f"{name!r} is also {first[1]} ({other.make} {other.model}); "
                        "names and aliases must be unique (compared ignoring case, spaces, "
                        "hyphens, dots and a leading brand word)",
                    )
        return self

    def model_post_init(self, context: Any, /) -> None:
        # Built once, up front: the catalog is immutable, and two equal catalogs
        # then also compare equal (pydantic's == includes private attributes).
        # model_construct (no validation) runs this too.
        self._tables()

    def _tables(self) -> tuple[tuple[str, ...], dict[str, tuple[Entry, ...]], dict[str, str]]:
        if self._index is None or self._brands is None or self._make_keys is None:
            brands = _brands(self.makes)
            index: dict[str, tuple[Entry, ...]] = {}
            for entry in self.models:
                for key in dict.fromkeys(name_key(name, brands) for name in entry.names):
                    index[key] = (*index.get(key, ()), entry)
            make_keys = {_squash(word): make for make, words in self.makes.items() for word in (make, *words)}
            self._brands, self._index, self._make_keys = brands, index, make_keys
        return self._brands, self._index, self._make_keys

    def _keys(self, model: str, brands: tuple[str, ...]) -> list[str]:
        """Keys to try: as given, then without a hashrate and/or chip-bin suffix, longest first."""
        text = model.strip()
        forms = [text]
        match = _HASHRATE_SPACED.match(text) or _HASHRATE_GLUED.match(text)
        if match:
            forms.append(match.group("name"))
        keys = []
        for form in forms:
            key = name_key(form, brands)
            keys.append(key)
            chip_bin = _WHATSMINER_BIN.match(key)
            if chip_bin:
                keys.append(chip_bin.group("name"))
        # Longest first: the key that drops least of what the miner said is the most
        # specific ("M50SVH30 120T" tries m50svh30 before m50s; the bin pattern alone
        # would also swallow the "120T").
        return sorted((key for key in dict.fromkeys(keys) if key), key=len, reverse=True)

    def lookup(self, make: str | None, model: str | None) -> Entry | None:
        """The entry for a miner_info{make, model} pair, or None.

        model matches an entry's model or one of its aliases by name_key (case,
        spaces, hyphens, underscores, dots and a leading brand word ignored). When
        that fails, a trailing hashrate ("S19j Pro 104T", "S19j Pro (110Th)") and/or a
        WhatsMiner chip-bin suffix ("M30S++_VG30") are dropped; the form that keeps
        the most of what the miner said is tried first.

        make narrows the search to that make (its brand words count too, so
        "Antminer" means Bitmain). An empty make (the generic cgminer parser)
        searches all makes; a make the catalog does not declare finds nothing, since
        its models are not ours whatever they are called.

        None also when one form matches two entries. A validated catalog never
        shares a name between entries, so this guards catalogs built without
        validation: the power estimate feeds a cost series, and a plausible wrong
        figure there is worse than an honest "unknown", so the lookup refuses to
        guess rather than take whichever entry comes first in the file.
        """
        if not isinstance(model, str) or not model.strip():
            return None
        brands, index, make_keys = self._tables()
        wanted = None
        if make is not None and make.strip():
            wanted = make_keys.get(_squash(make))
            if wanted is None:
                return None
        for key in self._keys(model, brands):
            found = [entry for entry in index.get(key, ()) if wanted is None or entry.make == wanted]
            if len(found) > 1:
                return None
            if found:
                return found[0]
        return None


def _format(source: str, error: ValidationError) -> str:
    # hashwatch.config's layout ("file: invalid ...", then "  key: message"), with the
    # key of cross-entry problems taken from the error's context.
    lines = [f"{source}: invalid ASIC catalog"]
    for item in error.errors():
        context = item.get("ctx") or {}
        key = context.get("key") or ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_catalog(data: Any, source: str = "<catalog>") -> Catalog:
    """Validate already-loaded YAML data; errors are ConfigError naming source and key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping with makes and models, got {type(data).__name__}"
        )
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from None


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog file; no path means the packaged catalog.yml."""
    source = Path(path) if path is not None else PACKAGED_CATALOG
    return parse_catalog(read_yaml(source, "catalog"), str(source))
