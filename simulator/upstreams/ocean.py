"""A replayed api.ocean.xyz/v1 under /ocean/v1, crediting the simulated fleet's workers.

Shapes are the recorded replies (simulator/captures/ocean/, SOURCES.md there):
user_hashrate, user_hashrate_full, statsnap and earnpay from real 2026
replies, pool_stat from a partial one completed by the hand-built file, and
userinfo_full, pool_hashrate and blocks from the hand-built files (no capture
of those is public). Values: each worker hashes at the rate given for it (the
demo passes the simulated miners' hashrate per pool worker, so Ocean-vs-miner
panels line up), with noise that shrinks with the window, fixed per one-minute
snapshot as Ocean's are; TIDES shares and estimated earnings follow from the
workers' share of the pool's hashrate; the unpaid balance grows at the
expected rate; earnings and payouts are the recorded ones scaled by the
fleet's share of the recorded user's hashrate; every time is moved to now.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .captures import iso, iso_seconds, load

WINDOWS = (60, 300, 600, 1800, 3600, 10800, 43200, 86400)
SHARE = 2**32  # hashes per difficulty-1 share
POOL_FEE = 0.01  # the 2026 pool_stat capture: estimated earnings are 0.99 of the TIDES share (SOURCES.md)
NEWEST_EARNING_AGE = 3 * 3600  # the recorded earnings are moved so the newest is this old
NEWEST_BLOCK_AGE = 20 * 3600


def load_workers(path: str | Path) -> dict[str, float]:
    """{"workers": {name: hashes per second}} from a JSON file; ValueError naming the problem."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    workers = document.get("workers") if isinstance(document, dict) else None
    if not isinstance(workers, dict) or not workers:
        raise ValueError(f"{path}: expected {{\"workers\": {{name: hashrate, ...}}}} with at least one worker")
    for name, rate in workers.items():
        if not name or isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1e21:
            raise ValueError(f"{path}: workers.{name}: expected a hashrate in H/s (0 to 1e21), got {rate!r}")
    return {str(name): float(rate) for name, rate in workers.items()}


def _recorded_workers() -> dict[str, float]:
    result = load("ocean", "user_hashrate_full_TRIMMED_CAPTURE_2026.json")["result"]
    return {name: float(entry[0]["hashrate_3600s"]) for name, entry in result["workers"].items()}


class OceanReplay:
    def __init__(self, workers: dict[str, float] | None = None, clock: Callable[[], float] = time.time, seed: int = 0):
        self.workers = dict(workers) if workers else _recorded_workers()
        self.clock = clock
        self.seed = seed
        self.started = clock()
        pool = load("ocean", "pool_stat_HANDBUILT.json")["result"]
        pool.update(load("ocean", "pool_stat_PARTIAL_CAPTURE_2026.json")["result"])  # the real values win
        self.pool = pool
        self.pool_rates = load("ocean", "pool_hashrate_HANDBUILT.json")["result"]

    # -- figures --------------------------------------------------------------------------

    def snapshot(self) -> int:
        """Ocean snapshots once a minute: every reply within a minute is the same."""
        return int(self.clock()) // 60 * 60

    def rate(self, worker: str, window: int, snap: int) -> int:
        """The worker's hashrate over `window`, with share noise (larger over short windows)."""
        noise = random.Random(f"{self.seed}:{worker}:{window}:{snap}").gauss(0, 0.04 * math.sqrt(60 / window))
        return max(0, int(self.workers[worker] * (1 + noise)))

    def windows(self, worker: str, snap: int) -> dict[str, str]:
        return {f"hashrate_{w}s": str(self.rate(worker, w, snap)) for w in WINDOWS}

    def user_windows(self, snap: int) -> dict[str, str]:
        """The user's totals: the exact sum of its workers', window by window."""
        return {f"hashrate_{w}s": str(sum(self.rate(name, w, snap) for name in self.workers)) for w in WINDOWS}

    def total(self) -> float:
        return sum(self.workers.values())

    def _pool_hashrate(self) -> float:
        return float(self.pool_rates["pool_86400s"])

    def tides_share(self, hashrate: float) -> float:
        """Shares in the TIDES window of a worker hashing steadily at `hashrate` (its part of the pool's)."""
        return hashrate / self._pool_hashrate() * float(self.pool["current_tides_shares"])

    def earn_next_block(self, hashrate: float) -> float:
        """BTC if the pool found a block now: the TIDES share of the reward, less the fee."""
        share = self.tides_share(hashrate) / float(self.pool["current_tides_shares"])
        return share * float(self.pool["current_estimated_block_reward"]) * (1 - POOL_FEE)

    def unpaid(self) -> float:
        """Grows at the expected rate: pool blocks per second times the user's earning per block."""
        blocks_per_second = self._pool_hashrate() / (float(self.pool["network_difficulty"]) * SHARE)
        return (self.clock() - self.started) * blocks_per_second * self.earn_next_block(self.total())

    def statsnap(self, hashrate_of: Callable[[int], int], hashrate: float, snap: int, kind: str, age: int) -> dict[str, Any]:
        earn = self.earn_next_block(hashrate)
        return {
            "snap_type": kind,
            "snap_ts": str(snap),
            "shares_60s": str(hashrate_of(60) * 60 // SHARE),
            "shares_300s": str(hashrate_of(300) * 300 // SHARE),
            "hashrate_60s": str(hashrate_of(60)),
            "hashrate_300s": str(hashrate_of(300)),
            "lastest_share_ts": str(snap - age),
            "shares_in_tides": str(int(self.tides_share(hashrate))),
            "estimated_earn_next_block": f"{earn:.8f}",
            "estimated_bonus_earn_next_block": "0.00000000",
            "estimated_total_earn_next_block": f"{earn:.8f}",
            "estimated_payout_next_block": f"{earn + self.unpaid():.8f}",
            "unpaid": f"{self.unpaid():.8f}",
        }

    def _user_statsnap(self, snap: int) -> dict[str, Any]:
        def rate(window: int) -> int:
            return sum(self.rate(name, window, snap) for name in self.workers)

        return self.statsnap(rate, self.total(), snap, "user", 1)

    # -- replies --------------------------------------------------------------------------

    def user_hashrate(self) -> dict[str, Any]:
        snap = self.snapshot()
        return {
            "snap_ts": str(snap), "db_ts": str(snap - 180), **self.user_windows(snap),
            "active_worker_count": len(self.workers), "lastest_share_ts": str(snap - 1),
        }

    def user_hashrate_full(self) -> dict[str, Any]:
        snap = self.snapshot()
        return {
            "snap_ts": str(snap), "db_ts": str(snap - 180),
            "workers": {name: [self.windows(name, snap)] for name in self.workers},
            "user_hashrate": self.user_windows(snap),
        }

    def userinfo_full(self) -> dict[str, Any]:
        snap = self.snapshot()
        workers = []
        for index, name in enumerate(self.workers):
            rate = self.workers[name]
            entry = self.statsnap(lambda w, n=name: self.rate(n, w, snap), rate, snap, "worker", 1 + index % 9)
            workers.append({name: entry})
        return {"user_full": self._user_statsnap(snap), "workers": workers}

    def earnpay(self) -> dict[str, Any]:
        """The recorded earnings and payouts, scaled to the fleet and moved so the newest is a few hours old."""
        document = load("ocean", "earnpay_TRIMMED_CAPTURE_2026.json")["result"]
        recorded_user = float(load("ocean", "user_hashrate_CAPTURE_2026.json")["result"]["hashrate_86400s"])
        scale = self.total() / recorded_user
        newest = max(iso_seconds(e["ts"]) for e in document["earnings"])
        shift = self.clock() - NEWEST_EARNING_AGE - newest
        for entry in document["earnings"]:
            entry["ts"] = iso(iso_seconds(entry["ts"]) + shift)
            for key in ("satoshis_net_earned", "fees_colected_satoshis"):
                entry[key] = round(entry[key] * scale)
        for payout in document["payouts"]:
            payout["ts"] = iso(iso_seconds(payout["ts"]) + shift)
            payout["total_satoshis_net_paid"] = round(payout["total_satoshis_net_paid"] * scale)
        now = int(self.clock())
        document["start_ts"], document["end_ts"] = str(now - 30 * 86400), str(now)
        return document

    def pool_stat(self) -> dict[str, Any]:
        return {**self.pool, "snap_ts": str(self.snapshot())}

    def blocks(self) -> dict[str, Any]:
        document = load("ocean", "blocks_HANDBUILT.json")["result"]
        newest = max(iso_seconds(b["ts"]) for b in document["blocks"])
        shift = self.clock() - NEWEST_BLOCK_AGE - newest
        for block in document["blocks"]:
            block["ts"] = iso(iso_seconds(block["ts"]) + shift)
        return document

    # -- HTTP -----------------------------------------------------------------------------

    def routes(self, prefix: str = "/ocean/v1") -> list[web.RouteDef]:
        def reply(build: Callable[[], Any]):
            async def handler(request: web.Request) -> web.Response:
                return web.json_response({"result": build()})

            return handler

        async def ping(request: web.Request) -> web.Response:
            return web.Response(text="PONG")

        async def latest_block(request: web.Request) -> web.Response:
            return web.json_response({"result": {"blocks": self.blocks()["blocks"][:1]}})

        return [
            web.get(f"{prefix}/ping", ping),
            web.get(f"{prefix}/statsnap/{{user}}", reply(lambda: self._user_statsnap(self.snapshot()))),
            web.get(f"{prefix}/userinfo_full/{{user}}", reply(self.userinfo_full)),
            web.get(f"{prefix}/user_hashrate/{{user}}", reply(self.user_hashrate)),
            web.get(f"{prefix}/user_hashrate_full/{{user}}", reply(self.user_hashrate_full)),
            web.get(f"{prefix}/earnpay/{{user}}{{tail:(/.*)?}}", reply(self.earnpay)),
            web.get(f"{prefix}/pool_stat", reply(self.pool_stat)),
            web.get(f"{prefix}/pool_hashrate", reply(lambda: dict(self.pool_rates))),
            web.get(f"{prefix}/blocks{{tail:(/.*)?}}", reply(self.blocks)),
            web.get(f"{prefix}/latest_block", latest_block),
        ]
