"""Firmware families: detection plus one parser module per family."""

from __future__ import annotations

from . import antminer, avalon, braiins, generic, luxos, vnish, whatsminer  # noqa: F401  (each registers itself)
from .base import FirmwareParser
from .registry import PARSERS, register


def parser_for(name: str) -> FirmwareParser:
    """The parser of a firmware family; the generic cgminer parser for any other name."""
    return PARSERS.get(name, PARSERS["cgminer"])()


__all__ = ["FirmwareParser", "PARSERS", "parser_for", "register"]
