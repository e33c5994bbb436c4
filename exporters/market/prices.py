"""BTC price sources: decoded replies -> PriceQuote, and how to ask each source.

Pure code, no network: a poller takes a PriceSource from SOURCES, fetches
default_base_url + path(currencies), decodes the JSON and hands it to parse().
Units differ per source (simulator/captures/market/SOURCES.md): CoinCap
writes prices as decimal strings and its timestamp in milliseconds, the others
write numbers and seconds, blockchain.info gives no time at all.

A price that is missing, not a number, zero or negative is left out, never
exported as 0. A reply of unknown shape, or with no usable price at all, raises
ShapeError naming the source, so the poller counts it and keeps the last good
quote. A reply that has prices, just not the requested currencies, is not a
shape problem: it yields an empty quote (a configuration mismatch, not an
outage). A requested price outside PRICE (1e12 or 1e308 per BTC), or a time
outside the plausible unix times, raises ImplausibleValue: the whole reply is
refused, counted as `implausible`, and the last good quote kept.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hashwatch.numbers import Plausible, reading, unix_time
from hashwatch.shape import ShapeError

from .model import PriceQuote

__all__ = [
    "SOURCES",
    "PriceSource",
    "ShapeError",
    "disagreement",
    "parse_blockchain_info",
    "parse_coincap",
    "parse_coingecko",
    "parse_mempool",
]

# A BTC price in any ISO 4217 currency a source quotes: from gold (XAU, about
# 30 troy ounces per BTC in 2025) to the Vietnamese dong (about 3 x 10^9). Below
# or above by a factor of 1,000 or so is a unit mix-up or junk, not a market.
PRICE = Plausible("BTC price", 0.01, 1e11, "currency units per BTC")

# ISO 4217 codes are three letters; used when the caller asks for "every currency"
# and to tell mempool's currency keys from its "time" key.
_ISO_CODE = re.compile(r"[A-Za-z]{3}")


def _codes(currencies: Iterable[str] | None) -> list[str] | None:
    """Requested codes, upper case, without duplicates, in order; None means all.

    Codes are ASCII letters only: they are pasted into a URL query string.
    """
    if currencies is None:
        return None
    if isinstance(currencies, str):  # "usd" would otherwise be read as ["U", "S", "D"]
        currencies = [currencies]
    codes: list[str] = []
    for code in currencies:
        text = str(code).strip()
        if not (text.isascii() and text.isalpha()):
            raise ValueError(f"not a currency code: {code!r}")
        if text.upper() not in codes:
            codes.append(text.upper())
    return codes


def _price(value: Any) -> float | None:
    """A usable price: positive (0 is never a price; mempool.space writes -1 until its feeds answer).

    Magnitude kept, however absurd (see reading()): _quote checks it against PRICE.
    """
    price = reading(value)
    return price if price is not None and price > 0 else None


def _object(document: Any, source: str, what: str = "reply") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ShapeError(f"{source}: {what} is not an object but {type(document).__name__}")
    return document


def _error_hint(document: dict[str, Any]) -> str:
    """The error text some sources send instead of data (CoinGecko "status", CoinCap "error")."""
    status = document.get("status")
    if isinstance(status, dict) and status.get("error_message"):
        return f" ({status['error_message']})"
    if document.get("error"):
        return f" ({document['error']})"
    return ""


def _quote(source: str, offered: dict[str, float], currencies: Iterable[str] | None, as_of: float | None) -> PriceQuote:
    """Keep the requested currencies of what the reply offered; refuse a reply with no price."""
    if not offered:
        raise ShapeError(f"{source}: no usable price in the reply")
    codes = _codes(currencies)
    prices = dict(offered) if codes is None else {code: offered[code] for code in codes if code in offered}
    # Only what is kept is data: a currency nobody asked for is not judged.
    prices = {code: float(PRICE.check(price, f"{source} {code} price")) for code, price in prices.items()}
    return PriceQuote(source=source, prices=prices, as_of=as_of)


def parse_coingecko(document: Any, currencies: Iterable[str] | None = None) -> PriceQuote:
    """CoinGecko /api/v3/simple/price?ids=bitcoin: {"bitcoin": {"usd": 67187.33, "usd_market_cap": ..., "last_updated_at": s}}.

    Only plain currency keys are prices: every optional flag adds a key with an
    underscore (usd_market_cap, usd_24h_vol, usd_24h_change, last_updated_at).
    """
    data = _object(document, "coingecko")
    if "bitcoin" not in data:
        raise ShapeError(f"coingecko: no 'bitcoin' key{_error_hint(data)}")
    entry = _object(data["bitcoin"], "coingecko", "'bitcoin'")
    offered: dict[str, float] = {}
    for key, value in entry.items():
        # Not restricted to three letters: CoinGecko also quotes e.g. "sats" and "bits" if asked.
        if isinstance(key, str) and key.isascii() and key.isalpha():
            price = _price(value)
            if price is not None:
                offered[key.upper()] = price
    return _quote("coingecko", offered, currencies, unix_time(entry.get("last_updated_at"), "coingecko last_updated_at"))


def parse_coincap(document: Any, currencies: Iterable[str] | None = None) -> PriceQuote:
    """CoinCap /v2/assets/bitcoin: {"data": {"priceUsd": "23363.42..."}, "timestamp": ms}. USD only."""
    data = _object(document, "coincap")
    if "data" not in data:
        raise ShapeError(f"coincap: no 'data' key{_error_hint(data)}")
    asset = _object(data["data"], "coincap", "'data'")
    if asset.get("id", "bitcoin") != "bitcoin":  # the asset id is in the path; a wrong one must not pass as BTC
        raise ShapeError(f"coincap: asset is {asset.get('id')!r}, not bitcoin")
    price = _price(asset.get("priceUsd"))
    offered = {"USD": price} if price is not None else {}
    return _quote("coincap", offered, currencies, unix_time(data.get("timestamp"), "coincap timestamp"))


def parse_mempool(document: Any, currencies: Iterable[str] | None = None) -> PriceQuote:
    """mempool.space /api/v1/prices: {"time": s, "USD": 69880, "EUR": 64823, ...}."""
    data = _object(document, "mempool")
    offered: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(key, str) and _ISO_CODE.fullmatch(key):  # "time" is four letters: not a code
            price = _price(value)
            if price is not None:
                offered[key.upper()] = price
    return _quote("mempool", offered, currencies, unix_time(data.get("time"), "mempool time"))


def parse_blockchain_info(document: Any, currencies: Iterable[str] | None = None) -> PriceQuote:
    """blockchain.info /ticker: {"USD": {"15m": ..., "last": 60741.29, "buy": ..., "symbol": "$"}, ...}.

    "last" is the price; the symbol (often non-ASCII) is display only and ignored.
    The ticker carries no time, so as_of is None.
    """
    data = _object(document, "blockchain_info")
    offered: dict[str, float] = {}
    for key, entry in data.items():
        if isinstance(key, str) and _ISO_CODE.fullmatch(key) and isinstance(entry, dict):
            price = _price(entry.get("last"))
            if price is not None:
                offered[key.upper()] = price
    return _quote("blockchain_info", offered, currencies, None)


def _coingecko_path(currencies: Sequence[str]) -> str:
    codes = _codes(currencies)
    if not codes:
        raise ValueError("coingecko: vs_currencies needs at least one currency")
    return f"/api/v3/simple/price?ids=bitcoin&vs_currencies={','.join(c.lower() for c in codes)}&include_last_updated_at=true"


def _fixed_path(path: str) -> Callable[[Sequence[str]], str]:
    """A path that does not depend on the currencies: the source always returns all it has."""

    def build(currencies: Sequence[str]) -> str:
        _codes(currencies)  # still refuse junk codes, so a bad config fails the same way everywhere
        return path

    return build


@dataclass(frozen=True)
class PriceSource:
    """How to ask one price source and read its reply."""

    name: str
    default_base_url: str
    path: Callable[[Sequence[str]], str]  # currencies -> path and query string
    parse: Callable[[Any, Sequence[str]], PriceQuote]  # (decoded reply, currencies) -> quote of those currencies
    default_ttl_seconds: float  # how long a quote is reused: every source is free and rate-limited
    note: str

    def url(self, currencies: Sequence[str], base_url: str | None = None) -> str:
        """The full URL, against default_base_url unless the user points elsewhere (a mirror, a self-hosted mempool)."""
        return (base_url or self.default_base_url).rstrip("/") + self.path(currencies)


SOURCES: dict[str, PriceSource] = {
    source.name: source
    for source in (
        PriceSource(
            name="coingecko",
            default_base_url="https://api.coingecko.com",
            path=_coingecko_path,
            parse=parse_coingecko,
            default_ttl_seconds=60,
            note="Keyless public API, rate-limited; any requested vs_currency, last_updated_at in seconds.",
        ),
        PriceSource(
            name="coincap",
            default_base_url="https://api.coincap.io",
            path=_fixed_path("/v2/assets/bitcoin"),
            parse=parse_coincap,
            default_ttl_seconds=60,
            note="USD only, prices as decimal strings, timestamp in milliseconds; v2 is retired in favour of v3 with an API key.",
        ),
        PriceSource(
            name="mempool",
            default_base_url="https://mempool.space",
            path=_fixed_path("/api/v1/prices"),
            parse=parse_mempool,
            default_ttl_seconds=60,
            note="mempool.space price index: a fixed set of majors (the capture: USD EUR GBP CAD CHF AUD JPY), whole numbers, time in seconds; -1 until its feeds answer.",
        ),
        PriceSource(
            name="blockchain_info",
            default_base_url="https://blockchain.info",
            path=_fixed_path("/ticker"),
            parse=parse_blockchain_info,
            default_ttl_seconds=60,
            note="Ticker of about twenty currencies, the 'last' price of each; no timestamp.",
        ),
    )
}


def disagreement(quotes: Sequence[PriceQuote], currency: str) -> float | None:
    """Largest relative spread (max - min) / median of the quotes that have the currency.

    None when fewer than two quotes have it: one source cannot disagree with itself.
    The median, not the mean, so one wild source does not move the yardstick.
    """
    code = currency.strip().upper()
    values = [price for quote in quotes if (price := _price(quote.prices.get(code))) is not None]
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / statistics.median(values)
