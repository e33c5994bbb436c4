"""Every replayed upstream in one aiohttp application, with an index page and health endpoints.

    /ocean/v1/...      api.ocean.xyz/v1           /coingecko/...  api.coingecko.com
    /coincap/...       api.coincap.io             /mempool/...    mempool.space
    /blockchain/...    blockchain.info and api.blockchain.info

Point an exporter's base URL at `<this server>/<name>` (Ocean: `/ocean/v1`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from .blockchain import routes as blockchain_routes
from .coincap import routes as coincap_routes
from .coingecko import routes as coingecko_routes
from .mempool import routes as mempool_routes
from .ocean import OceanReplay

INDEX = """hashwatch replayed upstreams: recorded replies of Ocean.xyz and the market APIs, times moved to now.

  /ocean/v1/...     api.ocean.xyz/v1 (user_hashrate, user_hashrate_full, userinfo_full, statsnap, earnpay,
                    pool_stat, pool_hashrate, blocks, ping)
  /coingecko/...    /api/v3/simple/price
  /coincap/...      /v2/assets/bitcoin
  /mempool/...      /api/v1/prices, /api/v1/difficulty-adjustment, /api/blocks/tip/height, /api/v1/mining/...
  /blockchain/...   /ticker, /stats

What is recorded and what moves: docs/demo.md.
"""


def upstreams_app(workers: dict[str, float] | None = None, clock: Callable[[], float] = time.time) -> web.Application:
    app = web.Application()
    app.add_routes(OceanReplay(workers, clock).routes())
    for routes in (coingecko_routes, coincap_routes, mempool_routes, blockchain_routes):
        app.add_routes(routes(clock))

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=INDEX)

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="hashwatch upstreams are healthy.\n")

    app.add_routes([web.get("/", index), web.get("/-/healthy", healthy), web.get("/-/ready", healthy)])
    return app


# The market exporter's source names and the path each is replayed under.
SOURCE_PATHS = {"coingecko": "coingecko", "coincap": "coincap", "mempool": "mempool", "blockchain_info": "blockchain"}
NETWORK_SOURCES = ("mempool", "blockchain_info")


def client_settings(base_url: str, price: dict | None = None, network: dict | None = None) -> dict:
    """What points hashwatch's Ocean and market clients at replays served at `base_url`: Ocean's `api_url`
    and the market's `price_sources` and `network_sources` (each source with the extra keys given)."""
    base_url = base_url.rstrip("/")
    return {
        "ocean_api_url": f"{base_url}/ocean/v1",
        "price_sources": [{"name": n, "base_url": f"{base_url}/{p}", **(price or {})} for n, p in SOURCE_PATHS.items()],
        "network_sources": [{"name": n, "base_url": f"{base_url}/{SOURCE_PATHS[n]}", **(network or {})}
                            for n in NETWORK_SOURCES],
    }
