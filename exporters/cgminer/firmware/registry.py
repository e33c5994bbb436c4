"""The firmware families known so far: each `firmware/<family>.py` registers its parser here.

A leaf module (it imports only the parser base class), so a family can register
itself without importing the package that loads it.
"""

from __future__ import annotations

from .base import FirmwareParser

PARSERS: dict[str, type[FirmwareParser]] = {}


def register(cls: type[FirmwareParser]) -> type[FirmwareParser]:
    PARSERS[cls.name] = cls
    return cls
