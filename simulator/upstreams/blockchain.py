"""A replayed blockchain.info under /blockchain: /ticker (a recorded reply) and /stats (the docs example).

Each currency's prices in the ticker are scaled to the reference in that
currency (prices.py; the recorded cross rate where there is none); the stats' market price follows the reference
and its timestamp (milliseconds) is now. Its network figures (2019's) are the
example's: the demo asks mempool.space first, so they are only a fallback.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from .captures import load
from .prices import currency_factor, reference_usd

TICKER = "blockchain_info_ticker.json"
STATS = "blockchain_info_api_stats_DOCS.json"


def ticker(now: float) -> dict:
    document = load("market", TICKER)
    usd = document["USD"]["last"]
    for code, entry in document.items():
        scale = currency_factor("blockchain_info", code, entry["last"], usd, now)
        for key in ("15m", "last", "buy", "sell"):
            entry[key] = round(entry[key] * scale, 2)
    return document


def stats(now: float) -> dict:
    document = load("market", STATS)
    document["market_price_usd"] = round(reference_usd(now), 2)
    document["timestamp"] = int(now * 1000)
    return document


def routes(clock: Callable[[], float]) -> list[web.RouteDef]:
    async def get_ticker(request: web.Request) -> web.Response:
        # blockchain.info pretty-prints with " : " and keeps the currency symbols as UTF-8.
        body = json.dumps(ticker(clock()), indent=2, separators=(",", " : "), ensure_ascii=False)
        return web.Response(text=body, content_type="application/json")

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats(clock()))

    return [web.get("/blockchain/ticker", get_ticker), web.get("/blockchain/stats", get_stats)]
