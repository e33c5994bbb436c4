"""Firmware families: detection plus one parser module per family."""

from __future__ import annotations

from .base import FirmwareParser

PARSERS: dict[str, type[FirmwareParser]] = {}


def register(cls: type[FirmwareParser]) -> type[FirmwareParser]:
    PARSERS[cls.name] = cls
    return cls


def parser_for(name: str) -> FirmwareParser:
    _load_all()
    return PARSERS.get(name, PARSERS["cgminer"])()


def _load_all() -> None:
    # Imported lazily so each module can register itself without import cycles.
    from . import antminer, avalon, braiins, generic, luxos, vnish, whatsminer  # noqa: F401


__all__ = ["FirmwareParser", "PARSERS", "parser_for", "register"]
