"""Normalized miner status -> Prometheus metric families.

One collector class per metric group, each built for one scrape's results. In
probe mode there is one miner and no identifying label (Prometheus adds
`instance`); in fleet mode every sample carries `miner` plus the target's labels.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .exposition import Family, assemble, encode, label_prefix

from .model import MinerStatus
from .scrape import ScrapeResult

log = logging.getLogger(__name__)

# The label naming each miner in fleet mode (its address); a target's own labels follow it.
MINER_LABEL = "miner"


@dataclass(slots=True)
class MinerSample:
    """One miner's scrape result with the labels that identify it."""

    label_values: tuple[str, ...]
    result: ScrapeResult


@functools.lru_cache(maxsize=4096)  # a fleet points at a handful of pool URLs
def _pool_host(url: str) -> str:
    """The pool URL without credentials (user:pass@ is sometimes embedded)."""
    try:
        parts = urlsplit(url if "://" in url else f"stratum+tcp://{url}")
    except ValueError:
        return ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")) if host else ""


class _Group:
    """One metric group: its families, filled one miner at a time.

    `values` below is a miner's escaped label prefix. Collectors see a miner
    once and keep nothing of it, so a fleet scrape can drop each miner's
    model as soon as it is rendered.
    """

    def __init__(self) -> None:
        self.families: list[Family] = []

    def gauge(self, name: str, doc: str, *extra: str) -> Family:
        family = Family(name, "gauge", doc, extra)
        self.families.append(family)
        return family

    def counter(self, name: str, doc: str, *extra: str) -> Family:
        family = Family(name, "counter", doc, extra)
        self.families.append(family)
        return family

    def add(self, values: str, result: ScrapeResult) -> None:
        if result.status is not None:
            self.add_status(values, result.status)

    def add_status(self, values: str, status: MinerStatus) -> None:
        raise NotImplementedError


class ScrapeCollector(_Group):
    """miner_up, the error reason and scrape duration: present for every target."""

    def __init__(self) -> None:
        super().__init__()
        self.up = self.gauge("miner_up", "1 if the miner answered and its replies parsed, else 0.")
        self.error = self.gauge(
            "miner_scrape_error", "1 with the reason why the last scrape of this miner failed.", "reason"
        )
        self.duration = self.gauge("miner_scrape_duration_seconds", "Time spent scraping the miner.")

    def add(self, values: str, result: ScrapeResult) -> None:
        self.up.add(values, 1.0 if result.up else 0.0)
        if not result.up:
            self.error.add(values, 1.0, result.error_reason)
        self.duration.add(values, result.duration_seconds)


class IdentityCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.info = self.gauge("miner_info", "Make, model and firmware of the miner.", "make", "model", "firmware", "firmware_version")
        self.mining = self.gauge("miner_mining", "1 when the firmware reports it is mining, 0 when paused or sleeping.")

    def add_status(self, values: str, status: MinerStatus) -> None:
        self.info.add(values, 1.0, status.make, status.model, status.firmware, status.firmware_version)
        if status.mining is not None:
            self.mining.add(values, 1.0 if status.mining else 0.0)


class HashrateCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.total = self.gauge("miner_hashrate_hashes_per_second", "Current hashrate as reported by the miner.")
        self.average = self.gauge(
            "miner_hashrate_average_hashes_per_second", "Average hashrate since the mining process started."
        )
        self.expected = self.gauge(
            "miner_expected_hashrate_hashes_per_second", "Nominal hashrate the firmware expects."
        )
        self.board = self.gauge("miner_board_hashrate_hashes_per_second", "Hashrate of one hashboard.", "board")
        self.board_expected = self.gauge(
            "miner_board_expected_hashrate_hashes_per_second", "Nominal hashrate of one hashboard.", "board"
        )
        self.chips = self.gauge("miner_board_chips", "ASIC chips answering on the hashboard.", "board")
        self.chips_expected = self.gauge("miner_board_expected_chips", "ASIC chips the hashboard should have.", "board")

    def add_status(self, values: str, status: MinerStatus) -> None:
        self.total.add(values, status.hashrate)
        self.average.add(values, status.hashrate_average)
        self.expected.add(values, status.expected_hashrate)
        for b in status.boards:
            self.board.add(values, b.hashrate, b.index)
            self.board_expected.add(values, b.expected_hashrate, b.index)
            self.chips.add(values, b.chips, b.index)
            self.chips_expected.add(values, b.expected_chips, b.index)


class BoardElectricalCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.frequency = self.gauge("miner_board_frequency_hertz", "Average chip clock of the hashboard.", "board")
        self.voltage = self.gauge("miner_board_voltage_volts", "Supply voltage of the hashboard.", "board")
        self.power = self.gauge(
            "miner_board_power_watts",
            "Power drawn by the hashboard; estimated=\"true\" where the firmware estimates it.",
            "board",
            "estimated",
        )
        self.errors = self.counter("miner_board_hardware_errors", "Hardware errors counted on the hashboard.", "board")

    def add_status(self, values: str, status: MinerStatus) -> None:
        for b in status.boards:
            self.frequency.add(values, b.frequency_hz, b.index)
            self.voltage.add(values, b.voltage_volts, b.index)
            self.power.add(values, b.power_watts, b.index, "true" if b.power_estimated else "false")
            self.errors.add(values, b.hardware_errors, b.index)


class ThermalCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.temperature = self.gauge(
            "miner_temperature_celsius",
            "Temperature by hashboard and sensor (chip, pcb, inlet, outlet); board is empty for miner-level sensors.",
            "board",
            "sensor",
        )
        self.fan = self.gauge("miner_fan_speed_rpm", "Fan speed.", "fan")
        self.fan_ratio = self.gauge("miner_fan_speed_ratio", "Fan PWM duty, 0 to 1.", "fan")

    def add_status(self, values: str, status: MinerStatus) -> None:
        for sensor, value in sorted(status.temperatures.items()):
            self.temperature.add(values, value, "", sensor)
        for b in status.boards:
            for sensor, value in sorted(b.temperatures.items()):
                self.temperature.add(values, value, b.index, sensor)
        for f in status.fans:
            self.fan.add(values, f.rpm, f.index)
            self.fan_ratio.add(values, f.speed_ratio, f.index)


class PowerCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.power = self.gauge(
            "miner_power_watts",
            "Power drawn by the miner as reported by its firmware; estimated=\"true\" where the firmware estimates it.",
            "estimated",
        )
        self.limit = self.gauge("miner_power_limit_watts", "Power limit configured on the miner.")

    def add_status(self, values: str, status: MinerStatus) -> None:
        self.power.add(values, status.power_watts, "true" if status.power_estimated else "false")
        self.limit.add(values, status.power_limit_watts)


class WorkCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.shares = self.counter("miner_shares", "Shares submitted since the mining process started, by result.", "result")
        self.errors = self.counter("miner_hardware_errors", "Hardware errors since the mining process started.")
        self.best = self.gauge("miner_best_share_difficulty", "Difficulty of the best share found since start.")
        self.uptime = self.gauge("miner_uptime_seconds", "Seconds since the mining process started.")
        self.faults = self.gauge("miner_fault", "1 for each fault code the firmware currently reports.", "code")

    def add_status(self, values: str, status: MinerStatus) -> None:
        self.shares.add(values, status.accepted, "accepted")
        self.shares.add(values, status.rejected, "rejected")
        self.shares.add(values, status.stale, "stale")
        self.errors.add(values, status.hardware_errors)
        self.best.add(values, status.best_share)
        self.uptime.add(values, status.uptime_seconds)
        for code in sorted({fault.code for fault in status.faults}):
            self.faults.add(values, 1.0, code)


class PoolCollector(_Group):
    def __init__(self) -> None:
        super().__init__()
        self.up = self.gauge(
            "miner_pool_up", "1 if the miner reports the pool alive, 0 if dead.", "pool", "url", "user", "worker"
        )
        self.active = self.gauge("miner_pool_active", "1 for the pool currently receiving shares.", "pool")
        self.priority = self.gauge("miner_pool_priority", "Failover priority of the pool (0 is first).", "pool")
        self.shares = self.counter("miner_pool_shares", "Shares submitted to the pool, by result.", "pool", "result")

    def add_status(self, values: str, status: MinerStatus) -> None:
        for p in status.pools:
            if p.alive is not None:
                self.up.add(values, float(p.alive), p.index, _pool_host(p.url), p.user, p.worker)
            if p.active is not None:
                self.active.add(values, float(p.active), p.index)
            self.priority.add(values, p.priority, p.index)
            self.shares.add(values, p.accepted, p.index, "accepted")
            self.shares.add(values, p.rejected, p.index, "rejected")
            self.shares.add(values, p.stale, p.index, "stale")


COLLECTORS: tuple[type[_Group], ...] = (
    ScrapeCollector,
    IdentityCollector,
    HashrateCollector,
    BoardElectricalCollector,
    ThermalCollector,
    PowerCollector,
    WorkCollector,
    PoolCollector,
)


class Renderer:
    """Scrape results -> exposition text, one miner at a time.

    Each family's lines are packed into bytes every COMPACT_EVERY miners, so a
    10,000-miner fleet is held as a few dozen buffers, not millions of strings
    and miner models.
    """

    COMPACT_EVERY = 256

    def __init__(self, label_names: Sequence[str]):
        self.label_names = tuple(label_names)
        self.groups = [cls() for cls in COLLECTORS]
        self.families = [family for group in self.groups for family in group.families]
        self.chunks: list[list[bytes]] = [[] for _ in self.families]
        self.miners = 0

    def add(self, label_values: Sequence[str], result: ScrapeResult) -> None:
        values = label_prefix(self.label_names, label_values)
        try:
            for group in self.groups:
                group.add(values, result)
        except Exception as exc:  # one miner's odd value must never cost another miner or the page
            self._drop_last(values)
            log.warning("cannot render miner %s: %s: %s", label_values, type(exc).__name__, exc)
            failed = ScrapeResult(None, "internal_error", f"cannot render: {type(exc).__name__}", result.duration_seconds)
            for group in self.groups:
                group.add(values, failed)
        self.miners += 1
        if self.miners % self.COMPACT_EVERY == 0:
            self._compact()

    def _drop_last(self, values: str) -> None:
        """Remove the lines of the miner being added: the last lines of each family that carry its labels.

        Found after the fact instead of marked before each miner, which would cost
        every miner of a fleet for a failure that (values being checked) should not
        happen. Fleet mode labels every line with the miner's unique prefix; without
        labels (/probe) a renderer holds one miner, so all of its lines are this one's.
        """
        for family in self.families:
            if not values:
                family.lines.clear()
                continue
            lines, opening = family.lines, f"{family.name}{{{values}"
            while lines and lines[-1].startswith(opening) and lines[-1][len(opening)] in ",}":
                lines.pop()

    def _compact(self) -> None:
        for family, chunks in zip(self.families, self.chunks):
            if family.lines:
                chunks.append(encode(family.body()))
                family.lines = []

    def parts(self) -> list[list[bytes]]:
        """Each family's sample lines (no header) in HEADERS order, as a list of pieces."""
        self._compact()
        return self.chunks


_FAMILIES = Renderer(()).families

# HELP/TYPE lines do not depend on the data: built once, in family order.
HEADERS: tuple[bytes, ...] = tuple(family.header().encode() for family in _FAMILIES)

# Label names hashwatch's own metrics use: `miner` and every family's own
# labels, read from the collectors. A fleet target label with one of these
# names would give a family two labels of the same name (see labels.py).
RESERVED_LABELS: frozenset[str] = frozenset({MINER_LABEL, *(name for family in _FAMILIES for name in family.extra)})


def render(samples: Sequence[MinerSample], label_names: Sequence[str]) -> bytes:
    """The text exposition of these miners' metrics."""
    renderer = Renderer(label_names)
    for sample in samples:
        renderer.add(sample.label_values, sample.result)
    return assemble(HEADERS, [[b"".join(parts) for parts in renderer.parts()]])
