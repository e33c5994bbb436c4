"""Webhook receiver throughput: notifications stored durably per second, and acknowledgement latency.

    python bench/webhook_benchmark.py                    # 3,000 notifications, 32 in flight
    python bench/webhook_benchmark.py --notifications 10000 --concurrency 64

Runs `hashwatch webhook` (waitress, SQLite WAL with synchronous=FULL) as its own process on
loopback and posts Alertmanager v4 notifications of one alert each, every one distinct, from
an asyncio client. A notification counts once the receiver has answered 2xx, which it does
only after the event is committed. Then 10 clients re-deliver one same notification at once,
five rounds: the store must hold it once. Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.processes import ServerProcess  # noqa: E402
PORT = 29895


def notification(n: int) -> bytes:
    labels = {"alertname": "MinerDown", "severity": "critical", "site": "bench", "instance": f"10.9.{n // 250}.{n % 250}:4028"}
    alert = {"status": "firing", "labels": labels, "annotations": {"summary": "A miner does not answer its API."},
             "startsAt": "2026-11-29T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{n:016x}"}
    return json.dumps({
        "version": "4", "groupKey": f"{{}}:{{alertname=\"MinerDown\", site=\"bench\", n=\"{n}\"}}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "hashwatch-webhook", "groupLabels": {"alertname": "MinerDown"},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": [alert],
    }).encode()


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(bodies)
    async with aiohttp.ClientSession(headers={"Content-Type": "application/json"}) as session:

        async def lane() -> None:
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "hashwatch.yml"
        config.write_text(json.dumps({"webhook": {"db_path": str(Path(workdir) / "events.db")}}))
        base = f"http://127.0.0.1:{PORT}"
        receiver = ServerProcess(
            Path(workdir),
            [sys.executable, "-m", "hashwatch.app", "webhook", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{PORT}", "--log.level", "error"],
            f"{base}/-/ready",
            cwd=ROOT,
        )
        try:
            import requests

            bodies = [notification(n) for n in range(args.notifications)]
            started = time.perf_counter()
            latencies = asyncio.run(post_all(f"{base}/alerts", bodies, args.concurrency))
            elapsed = time.perf_counter() - started
            duplicate = notification(10**9)
            for _ in range(5):
                asyncio.run(post_all(f"{base}/alerts", [duplicate] * 10, 10))
            events = requests.get(f"{base}/api/v1/events", params={"limit": 100000}, timeout=60).json()
            events = events.get("events", events) if isinstance(events, dict) else events
            stored_duplicate = sum(1 for e in events if e.get("fingerprint") == f"{10**9:016x}")
        finally:
            receiver.stop()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{'notifications':>13} {'in flight':>9} {'stored/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'stored':>7} {'dup stored':>10}")
    print(f"{args.notifications:>13} {args.concurrency:>9} {len(latencies) / elapsed:>9.0f} "
          f"{statistics.median(latencies) * 1e3:>7.1f} {p99 * 1e3:>7.1f} {len(events):>7} {stored_duplicate:>10}")


if __name__ == "__main__":
    main()
