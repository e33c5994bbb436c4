"""The recorded replies the upstreams serve, read as package data, and their times moved to now.

A capture's times say when it was recorded; served as they are, every
exporter would see data years old. `shift` moves a set of times so the
capture reads as if recorded `now`, keeping the intervals between them.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def _text(source: str, name: str) -> str:
    return resources.files("simulator").joinpath("captures", source, name).read_text(encoding="utf-8")


def load(source: str, name: str) -> Any:
    """A fresh copy of a capture (simulator/captures/<source>/<name>), parsed; callers may change it."""
    return copy.deepcopy(_parsed(source, name))


@lru_cache(maxsize=None)
def _parsed(source: str, name: str) -> Any:
    return json.loads(_text(source, name))


def text(source: str, name: str) -> str:
    return _text(source, name)


def iso_seconds(value: str) -> float:
    """Ocean's naive ISO times are UTC."""
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
