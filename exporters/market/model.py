"""What market and network sources produce, in base units, None when not reported."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# The fee_rates targets (the `target` label of market_network_fee_rate_sat_per_vbyte),
# the same whichever source is chosen: mempool.space's names, since a block count
# cannot say "economy" or "minimum", while each of your own node's estimates has
# a name here (network.py and bitcoind.py map their sources onto these).
FEE_TARGETS = ("fastest", "30m", "1h", "economy", "minimum")


@dataclass
class PriceQuote:
    """BTC prices from one source."""

    source: str
    prices: dict[str, float] = field(default_factory=dict)  # ISO 4217 code, upper case -> fiat per BTC
    as_of: float | None = None  # unix seconds the source says the prices are from, if it says


@dataclass
class NetworkSnapshot:
    """The Bitcoin network as one source sees it. Every field is optional."""

    source: str
    height: int | None = None  # tip height
    difficulty: float | None = None
    hashrate: float | None = None  # hashes per second (network estimate)
    next_retarget_height: int | None = None
    blocks_until_retarget: int | None = None
    estimated_retarget_time: float | None = None  # unix seconds
    estimated_difficulty_change: float | None = None  # ratio: +0.059 is +5.9 %
    previous_retarget_time: float | None = None  # unix seconds
    average_fees_per_block: float | None = None  # satoshis, over about the last day (144 blocks)
    fee_rates: dict[str, float] = field(default_factory=dict)  # target (one of FEE_TARGETS) -> sat/vB

    def merged(self, other: NetworkSnapshot) -> NetworkSnapshot:
        """Fields of self, filled in from other where self has none."""
        values = {}
        for f in fields(self):
            mine = getattr(self, f.name)
            values[f.name] = mine if mine not in (None, {}) else getattr(other, f.name)
        return NetworkSnapshot(**values)
