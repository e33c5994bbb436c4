"""Normalized miner status -> Prometheus metric families.

One collector class per metric group, each built for one scrape's results. In
probe mode there is one miner and no identifying label (Prometheus adds
`instance`); in fleet mode every sample carries `miner` plus the target's labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .exposition import Family, label_prefix, render as render_families

from .model import MinerStatus
from .scrape import ScrapeResult


@dataclass
class MinerSample:
    """One miner's scrape result with the labels that identify it."""

    label_values: tuple[str, ...]
    result: ScrapeResult


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
    """One metric group. `values` below is a miner's escaped label prefix."""

    def __init__(self, samples: Sequence[MinerSample], prefixes: Sequence[str]):
        self.samples = samples
        self.prefixes = prefixes

    def _up(self) -> Iterator[tuple[str, MinerStatus]]:
        for sample, prefix in zip(self.samples, self.prefixes):
            if sample.result.status is not None:
                yield prefix, sample.result.status

    def gauge(self, name: str, doc: str, *extra: str) -> Family:
        return Family(name, "gauge", doc, extra)

    def counter(self, name: str, doc: str, *extra: str) -> Family:
        return Family(name, "counter", doc, extra)

    def collect(self) -> Iterable[Family]:
        raise NotImplementedError


class ScrapeCollector(_Group):
    """miner_up, the error reason and scrape duration: present for every target."""

    def collect(self) -> Iterable[Family]:
        up = self.gauge("miner_up", "1 if the miner answered and its replies parsed, else 0.")
        error = self.gauge(
            "miner_scrape_error", "1 with the reason why the last scrape of this miner failed.", "reason"
        )
        duration = self.gauge("miner_scrape_duration_seconds", "Time spent scraping the miner.")
        for sample, values in zip(self.samples, self.prefixes):
            result = sample.result
            up.add(values, 1.0 if result.up else 0.0)
            if not result.up:
                error.add(values, 1.0, result.error_reason)
            duration.add(values, result.duration_seconds)
        yield from (up, error, duration)


class IdentityCollector(_Group):
    def collect(self) -> Iterable[Family]:
        info = self.gauge("miner_info", "Make, model and firmware of the miner.", "make", "model", "firmware", "firmware_version")
        mining = self.gauge("miner_mining", "1 when the firmware reports it is mining, 0 when paused or sleeping.")
        for values, status in self._up():
            info.add(values, 1.0, status.make, status.model, status.firmware, status.firmware_version)
            if status.mining is not None:
                mining.add(values, 1.0 if status.mining else 0.0)
        yield from (info, mining)


class HashrateCollector(_Group):
    def collect(self) -> Iterable[Family]:
        total = self.gauge("miner_hashrate_hashes_per_second", "Current hashrate as reported by the miner.")
        average = self.gauge(
            "miner_hashrate_average_hashes_per_second", "Average hashrate since the mining process started."
        )
        expected = self.gauge(
            "miner_expected_hashrate_hashes_per_second", "Nominal hashrate the firmware expects."
        )
        board = self.gauge("miner_board_hashrate_hashes_per_second", "Hashrate of one hashboard.", "board")
        board_expected = self.gauge(
            "miner_board_expected_hashrate_hashes_per_second", "Nominal hashrate of one hashboard.", "board"
        )
        chips = self.gauge("miner_board_chips", "ASIC chips answering on the hashboard.", "board")
        chips_expected = self.gauge("miner_board_expected_chips", "ASIC chips the hashboard should have.", "board")
        for values, status in self._up():
            total.add(values, status.hashrate)
            average.add(values, status.hashrate_average)
            expected.add(values, status.expected_hashrate)
            for b in status.boards:
                board.add(values, b.hashrate, b.index)
                board_expected.add(values, b.expected_hashrate, b.index)
                chips.add(values, b.chips, b.index)
                chips_expected.add(values, b.expected_chips, b.index)
        yield from (total, average, expected, board, board_expected, chips, chips_expected)


class BoardElectricalCollector(_Group):
    def collect(self) -> Iterable[Family]:
        frequency = self.gauge("miner_board_frequency_hertz", "Average chip clock of the hashboard.", "board")
        voltage = self.gauge("miner_board_voltage_volts", "Supply voltage of the hashboard.", "board")
        power = self.gauge("miner_board_power_watts", "Power drawn by the hashboard.", "board")
        errors = self.counter("miner_board_hardware_errors", "Hardware errors counted on the hashboard.", "board")
        for values, status in self._up():
            for b in status.boards:
                frequency.add(values, b.frequency_hz, b.index)
                voltage.add(values, b.voltage_volts, b.index)
                power.add(values, b.power_watts, b.index)
                errors.add(values, b.hardware_errors, b.index)
        yield from (frequency, voltage, power, errors)


class ThermalCollector(_Group):
    def collect(self) -> Iterable[Family]:
        temperature = self.gauge(
            "miner_temperature_celsius",
            "Temperature by hashboard and sensor (chip, pcb, inlet, outlet); board is empty for miner-level sensors.",
            "board",
            "sensor",
        )
        fan = self.gauge("miner_fan_speed_rpm", "Fan speed.", "fan")
        fan_ratio = self.gauge("miner_fan_speed_ratio", "Fan PWM duty, 0 to 1.", "fan")
        for values, status in self._up():
            for sensor, value in sorted(status.temperatures.items()):
                temperature.add(values, value, "", sensor)
            for b in status.boards:
                for sensor, value in sorted(b.temperatures.items()):
                    temperature.add(values, value, b.index, sensor)
            for f in status.fans:
                fan.add(values, f.rpm, f.index)
                fan_ratio.add(values, f.speed_ratio, f.index)
        yield from (temperature, fan, fan_ratio)


class PowerCollector(_Group):
    def collect(self) -> Iterable[Family]:
        power = self.gauge("miner_power_watts", "Power drawn by the miner as reported by its firmware.")
        limit = self.gauge("miner_power_limit_watts", "Power limit configured on the miner.")
        for values, status in self._up():
            power.add(values, status.power_watts)
            limit.add(values, status.power_limit_watts)
        yield from (power, limit)


class WorkCollector(_Group):
    def collect(self) -> Iterable[Family]:
        shares = self.counter("miner_shares", "Shares submitted since the mining process started, by result.", "result")
        errors = self.counter("miner_hardware_errors", "Hardware errors since the mining process started.")
        best = self.gauge("miner_best_share_difficulty", "Difficulty of the best share found since start.")
        uptime = self.gauge("miner_uptime_seconds", "Seconds since the mining process started.")
        faults = self.gauge("miner_fault", "1 for each fault code the firmware currently reports.", "code")
        for values, status in self._up():
            shares.add(values, status.accepted, "accepted")
            shares.add(values, status.rejected, "rejected")
            shares.add(values, status.stale, "stale")
            errors.add(values, status.hardware_errors)
            best.add(values, status.best_share)
            uptime.add(values, status.uptime_seconds)
            for code in sorted({fault.code for fault in status.faults}):
                faults.add(values, 1.0, code)
        yield from (shares, errors, best, uptime, faults)


class PoolCollector(_Group):
    def collect(self) -> Iterable[Family]:
        up = self.gauge(
            "miner_pool_up", "1 if the miner reports the pool alive, 0 if dead.", "pool", "url", "user", "worker"
        )
        active = self.gauge("miner_pool_active", "1 for the pool currently receiving shares.", "pool")
        priority = self.gauge("miner_pool_priority", "Failover priority of the pool (0 is first).", "pool")
        shares = self.counter("miner_pool_shares", "Shares submitted to the pool, by result.", "pool", "result")
        for values, status in self._up():
            for p in status.pools:
                if p.alive is not None:
                    up.add(values, float(p.alive), p.index, _pool_host(p.url), p.user, p.worker)
                if p.active is not None:
                    active.add(values, float(p.active), p.index)
                priority.add(values, p.priority, p.index)
                shares.add(values, p.accepted, p.index, "accepted")
                shares.add(values, p.rejected, p.index, "rejected")
                shares.add(values, p.stale, p.index, "stale")
        yield from (up, active, priority, shares)


# Label names the collectors use themselves; a fleet target label with one of
# these names would make a family with duplicate label names.
RESERVED_LABELS = frozenset(
    {"miner", "board", "sensor", "fan", "pool", "url", "user", "worker", "result", "reason", "code",
     "make", "model", "firmware", "firmware_version"}
)

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


def collectors_for(samples: Sequence[MinerSample], label_names: Sequence[str]) -> list[_Group]:
    prefixes = [label_prefix(label_names, sample.label_values) for sample in samples]
    return [cls(samples, prefixes) for cls in COLLECTORS]


def render(samples: Sequence[MinerSample], label_names: Sequence[str]) -> bytes:
    """The text exposition of these miners' metrics."""
    return render_families(family for group in collectors_for(samples, label_names) for family in group.collect())
