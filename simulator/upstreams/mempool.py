"""A replayed mempool.space API under /mempool, from a 2024 capture and the documentation examples.

Which file answers which path, and what is changed when serving:

  /api/v1/prices                       capture; prices scaled to the reference, `time` now
  /api/v1/difficulty-adjustment        capture; its times moved to now (the retarget stays 1606 blocks ahead)
  /api/blocks/tip/height               the capture's own tip: nextRetargetHeight - remainingBlocks (837050),
                                       not the docs example's 698767, so height, retarget and subsidy agree
  /api/v1/mining/hashrate/3d           docs example; timestamps moved to now
  /api/v1/mining/reward-stats/144      docs example
  /api/v1/fees/recommended             capture
  /api/v1/mining/blocks/fees/24h       docs example; timestamps moved to now
  /api/v1/mining/difficulty-adjustments/1m  docs example; timestamps moved to now
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from .captures import load
from .prices import factor

PREFIX = "/mempool/api"


def price_index(now: float) -> dict[str, Any]:
    document = load("market", "mempool_v1_prices.json")
    scale = factor("mempool", document["USD"], now)
    answer: dict[str, Any] = {"time": int(now)}
    answer.update({code: round(value * scale) for code, value in document.items() if code != "time"})
    return answer


def difficulty_adjustment(now: float) -> dict[str, Any]:
    document = load("market", "mempool_v1_difficulty_adjustment.json")
    recorded_ms = document["estimatedRetargetDate"] - document["remainingTime"]  # the moment it was recorded
    shift_ms = int(now * 1000) - recorded_ms
    document["estimatedRetargetDate"] += shift_ms
    document["previousTime"] += shift_ms // 1000
    return document


def tip_height() -> int:
    document = load("market", "mempool_v1_difficulty_adjustment.json")
    return document["nextRetargetHeight"] - document["remainingBlocks"]


def _moved(points: list, now: float, key: Callable[[Any], int], put: Callable[[Any, int], None]) -> list:
    """Chart points with their times moved so the newest is now."""
    shift = int(now) - max(key(point) for point in points)
    for point in points:
        put(point, key(point) + shift)
    return points


def hashrate(now: float) -> dict[str, Any]:
    document = load("market", "mempool_v1_mining_hashrate_3d_DOCS.json")
    shift = int(now) - max(point["timestamp"] for point in document["hashrates"])
    for point in (*document["hashrates"], *document["difficulty"]):
        point["timestamp"] += shift
    return document


def block_fees(now: float) -> list:
    points = load("market", "mempool_v1_mining_blocks_fees_DOCS_truncated.json")
    return _moved(points, now, lambda p: p["timestamp"], lambda p, t: p.__setitem__("timestamp", t))


def difficulty_adjustments(now: float) -> list:
    entries = load("market", "mempool_v1_mining_difficulty_adjustments_1m_DOCS.json")
    return _moved(entries, now, lambda e: e[0], lambda e, t: e.__setitem__(0, t))


def routes(clock: Callable[[], float]) -> list[web.RouteDef]:
    def json_of(build: Callable[[float], Any]):
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(build(clock()))

        return handler

    def recorded(name: str):
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(load("market", name))

        return handler

    async def height(request: web.Request) -> web.Response:
        return web.Response(text=str(tip_height()), content_type="text/plain")

    return [
        web.get(f"{PREFIX}/v1/prices", json_of(price_index)),
        web.get(f"{PREFIX}/v1/difficulty-adjustment", json_of(difficulty_adjustment)),
        web.get(f"{PREFIX}/blocks/tip/height", height),
        web.get(f"{PREFIX}/v1/mining/hashrate/3d", json_of(hashrate)),
        web.get(f"{PREFIX}/v1/mining/reward-stats/144", recorded("mempool_v1_mining_reward_stats_DOCS.json")),
        web.get(f"{PREFIX}/v1/fees/recommended", recorded("mempool_v1_fees_recommended.json")),
        web.get(f"{PREFIX}/v1/mining/blocks/fees/24h", json_of(block_fees)),
        web.get(f"{PREFIX}/v1/mining/difficulty-adjustments/1m", json_of(difficulty_adjustments)),
    ]
