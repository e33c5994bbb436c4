"""The miners of a fleet: static `fleet.miners` plus Prometheus file_sd files, and their labels.

file_sd files (written by `hashwatch discover` or anything else) are re-read
only when their mtime changes, and a broken file keeps serving its last good
version rather than dropping its miners. Each target's labels become the label
values of its samples: `miner` (the address), then every label name any target
of the fleet has, sorted, empty where a target lacks it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from .client import split_target
from .labels import target_label_problem
from .metrics import MINER_LABEL

if TYPE_CHECKING:  # config pulls in pydantic, which fleet workers do not need
    from .config import FleetConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FleetTarget:
    target: str
    labels: tuple[tuple[str, str], ...] = ()  # sorted by name


class FileSDError(ValueError):
    pass


def read_file_sd(path: str) -> list[FleetTarget]:
    """Targets of one Prometheus file_sd file (JSON or YAML list of {targets, labels})."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        groups = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FileSDError(f"{path}: {exc}") from None
    if not isinstance(groups, list):
        raise FileSDError(f"{path}: expected a list of target groups")
    targets: list[FleetTarget] = []
    for number, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
            raise FileSDError(f"{path}: group {number} has no 'targets' list")
        labels = group.get("labels") or {}
        if not isinstance(labels, dict):
            raise FileSDError(f"{path}: group {number} 'labels' is not a mapping")
        # Prometheus' internal labels (__address__, __meta_*) are not exported, and
        # names hashwatch uses itself (make, model, ...) come from the device.
        kept = tuple(sorted((str(k), str(v)) for k, v in labels.items() if target_label_problem(str(k)) is None))
        for target in group["targets"]:
            split_target(str(target))
            targets.append(FleetTarget(str(target), kept))
    return targets


class FleetTargets:
    """The configured miners plus file_sd targets, each file re-read when it changes."""

    def __init__(self, config: FleetConfig):
        self.config = config
        self._file_cache: dict[str, tuple[float, list[FleetTarget]]] = {}

    def read(self) -> list[FleetTarget]:
        """Every target, static miners first; a static miner wins over the same address in a file."""
        found: dict[str, FleetTarget] = {}
        for miner in self.config.miners:
            found[miner.target] = FleetTarget(miner.target, tuple(sorted(miner.labels.items())))
        for pattern in self.config.file_sd:
            for path in sorted(glob.glob(pattern)):
                for target in self._cached_file(path):
                    found.setdefault(target.target, target)
        return list(found.values())

    def _cached_file(self, path: str) -> list[FleetTarget]:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return []
        cached = self._file_cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            targets = read_file_sd(path)
        except FileSDError as exc:
            # Keep serving the last good version of the file rather than dropping miners.
            log.error("file_sd: %s", exc)
            return cached[1] if cached else []
        self._file_cache[path] = (mtime, targets)
        return targets


def label_names_of(targets: Sequence[FleetTarget]) -> list[str]:
    """Label names of a fleet's samples: miner, then every target label, sorted."""
    return [MINER_LABEL, *sorted({name for t in targets for name, _ in t.labels})]


def label_values_of(target: FleetTarget, label_names: Sequence[str]) -> tuple[str, ...]:
    """The target's values for `label_names` (from label_names_of): its address, then its labels."""
    labels = dict(target.labels)
    return (target.target, *(labels.get(name, "") for name in label_names[1:]))
