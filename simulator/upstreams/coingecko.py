"""A replayed CoinGecko /api/v3/simple/price under /coingecko, from its documentation example.

The example quotes USD only, so only USD is answered (a real CoinGecko would
quote every currency asked for; the market exporter takes the others from
the next source). Optional fields are added when their include_* flag asks.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from .captures import load
from .prices import factor

CAPTURE = "coingecko_simple_price_bitcoin_usd_all_flags_DOCS.json"
SCALED = ("", "_market_cap", "_24h_vol")  # suffixes of fields in currency units


def simple_price(ids: str, vs_currencies: str, flags: set[str], now: float) -> dict:
    recorded = load("market", CAPTURE)["bitcoin"]
    scale = factor("coingecko", recorded["usd"], now)
    answer: dict[str, dict] = {}
    for coin in ids.lower().split(","):
        if coin != "bitcoin":
            continue
        entry: dict[str, float | int] = {}
        for code in vs_currencies.lower().split(","):
            if code not in recorded:
                continue
            entry[code] = round(recorded[code] * scale, 10)
            if "include_market_cap" in flags:
                entry[f"{code}_market_cap"] = round(recorded[f"{code}_market_cap"] * scale, 2)
            if "include_24hr_vol" in flags:
                entry[f"{code}_24h_vol"] = round(recorded[f"{code}_24h_vol"] * scale, 4)
            if "include_24hr_change" in flags:
                entry[f"{code}_24h_change"] = recorded[f"{code}_24h_change"]
        if "include_last_updated_at" in flags:
            entry["last_updated_at"] = int(now)
        answer[coin] = entry
    return answer


def routes(clock: Callable[[], float]) -> list[web.RouteDef]:
    async def price(request: web.Request) -> web.Response:
        query = request.query
        if not query.get("ids") or not query.get("vs_currencies"):
            return web.json_response({"error": "Missing parameter ids or vs_currencies"}, status=400)
        flags = {key for key, value in query.items() if key.startswith("include_") and value.lower() == "true"}
        return web.json_response(simple_price(query["ids"], query["vs_currencies"], flags, clock()))

    return [web.get("/coingecko/api/v3/simple/price", price)]
