"""A replayed CoinCap v2 /v2/assets/bitcoin under /coincap, from a recorded sample reply.

Amounts in USD (price, market cap, 24 h volume and VWAP) are scaled to the
reference price and written, as CoinCap does, as decimal strings with 16
fractional digits; the timestamp (milliseconds) is now.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from aiohttp import web

from .captures import load
from .prices import factor

CAPTURE = "coincap_v2_assets_bitcoin.json"
IN_USD = ("priceUsd", "marketCapUsd", "volumeUsd24Hr", "vwap24Hr")


def asset(now: float) -> dict:
    document = load("market", CAPTURE)
    data = document["data"]
    scale = Decimal(repr(factor("coincap", float(data["priceUsd"]), now)))
    for key in IN_USD:
        data[key] = f"{Decimal(data[key]) * scale:.16f}"
    document["timestamp"] = int(now * 1000)
    return document


def routes(clock: Callable[[], float]) -> list[web.RouteDef]:
    async def bitcoin(request: web.Request) -> web.Response:
        return web.json_response(asset(clock()))

    async def other(request: web.Request) -> web.Response:
        return web.json_response({"error": f"{request.match_info['asset']} not found"}, status=404)

    return [web.get("/coincap/v2/assets/bitcoin", bitcoin), web.get("/coincap/v2/assets/{asset}", other)]
