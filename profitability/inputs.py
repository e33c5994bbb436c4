"""The inputs of one evaluation, read from Prometheus together."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .evaluate import MinerInput
from .prometheus import PrometheusReader, Sample

INPUTS_JOB = "prometheus/inputs"  # the poll job that reads them, every interval_seconds

QUERIES = {
    "hashrate": "miner_hashrate_hashes_per_second",
    "power": "miner_power_watts",
    "info": "miner_info",
    "difficulty": "market_network_difficulty",
    "subsidy": "market_network_block_subsidy_btc",
    "fees": "market_network_fees_per_block_average_btc",
    "difficulty_change": "market_network_difficulty_change_estimated_ratio",
    "price": "market_btc_price",
    "price_fetched": "market_btc_price_fetched_timestamp_seconds",
    # When any network source last answered: the age of difficulty, fees and subsidy.
    "network_fetched": 'max(hashwatch_market_source_last_success_timestamp_seconds{endpoint!="price"})',
    # Ocean's side of the reality check: what the pool measured and paid, over every watched address.
    "ocean_hashrate": 'sum(ocean_hashrate_hashes_per_second{window="86400s"})',
    "ocean_earned_per_day": "sum(rate(ocean_earned_btc_total[7d])) * 86400",
}


def identity(labels: dict[str, str]) -> str:
    """A miner is `miner` in fleet mode and `instance` when Prometheus probes it."""
    return labels.get("miner") or labels.get("instance", "")


@dataclass
class Inputs:
    read_at: float
    miners: list[MinerInput]
    difficulty: float | None = None
    subsidy_btc: float | None = None
    fees_btc: float | None = None
    difficulty_change: float | None = None
    network_fetched: float | None = None
    prices: dict[str, float] = field(default_factory=dict)  # currency -> fiat per BTC
    price_fetched: dict[str, float] = field(default_factory=dict)
    ocean_hashrate: float | None = None  # H/s, Ocean's 24 h average
    ocean_earned_per_day: float | None = None  # BTC per day credited by Ocean, over the last 7 days


def _scalar(samples: list[Sample]) -> float | None:
    return samples[0].value if len(samples) == 1 else None  # several series would be ambiguous


def _power(samples: list[Sample]) -> dict[str, tuple[float, bool]]:
    """miner -> (watts, estimated): estimated="true" marks the firmware's own estimate.

    A miner with both (an exporter upgrade leaves the old series for a lookback
    window) is taken at its reading.
    """
    power: dict[str, tuple[float, bool]] = {}
    for sample in samples:
        who = identity(sample.labels)
        estimated = sample.labels.get("estimated") == "true"
        if who not in power or power[who][1] and not estimated:
            power[who] = (sample.value, estimated)
    return power


def _by_currency(samples: list[Sample]) -> dict[str, float]:
    return {s.labels["currency"]: s.value for s in samples if s.labels.get("currency")}


async def read_inputs(reader: PrometheusReader, site_label: str, clock=time.time) -> Inputs:
    names = list(QUERIES)
    results = dict(zip(names, await asyncio.gather(*(reader.query(QUERIES[n]) for n in names))))
    power = _power(results["power"])
    info = {identity(s.labels): s.labels for s in results["info"]}
    miners = []
    for sample in results["hashrate"]:
        who = identity(sample.labels)
        if not who:
            continue
        labels = info.get(who, {})
        watts, estimated = power.get(who, (None, False))
        miners.append(
            MinerInput(who, sample.labels.get(site_label, ""), sample.value, watts,
                       labels.get("make", ""), labels.get("model", ""), estimated)
        )
    return Inputs(
        read_at=clock(),
        miners=sorted(miners, key=lambda m: m.miner),
        difficulty=_scalar(results["difficulty"]),
        subsidy_btc=_scalar(results["subsidy"]),
        fees_btc=_scalar(results["fees"]),
        difficulty_change=_scalar(results["difficulty_change"]),
        network_fetched=_scalar(results["network_fetched"]),
        prices=_by_currency(results["price"]),
        price_fetched=_by_currency(results["price_fetched"]),
        ocean_hashrate=_scalar(results["ocean_hashrate"]),
        ocean_earned_per_day=_scalar(results["ocean_earned_per_day"]),
    )
