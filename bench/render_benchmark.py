"""Exposition cost in isolation: miner models -> Prometheus text, no network.

    python bench/render_benchmark.py                  # 10,000 S19 Pro miners, best of 5
    python bench/render_benchmark.py --miners 2000 --rounds 9

The models come from parsing the real S19 Pro captures (tests/support/cgminer_fixtures.py), so
every miner has the series a real one has (3 boards, 4 fans, 3 pools). Prints
µs per sample for hashwatch's renderer and for prometheus_client's
generate_latest over the same samples. The best round is reported: on a shared
machine it is the one least disturbed by neighbours.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporters.cgminer.firmware import parser_for  # noqa: E402
from exporters.cgminer.metrics import MinerSample, render  # noqa: E402
from exporters.cgminer.reply import parse_reply  # noqa: E402
from exporters.cgminer.scrape import ScrapeResult  # noqa: E402
from tests.support.cgminer_fixtures import raw  # noqa: E402


def s19_status():
    replies = {
        command: parse_reply(command, json.loads(raw(f"antminer/s19pro_stock_2022_{command}.json")))
        for command in ("version", "summary", "pools", "stats")
    }
    return parser_for("antminer").parse(replies)


def fleet(miners: int) -> list[MinerSample]:
    status = s19_status()
    return [
        MinerSample((f"10.{n // 65536}.{n // 256 % 256}.{n % 256}:4028", f"site{n % 4}"), ScrapeResult(status, duration_seconds=0.05))
        for n in range(miners)
    ]


def best_of(rounds: int, work) -> tuple[float, bytes]:
    best, out = float("inf"), b""
    for _ in range(rounds):
        started = time.process_time()
        out = work()
        best = min(best, time.process_time() - started)
    return best, out


class _Replay:
    """The same samples, handed to prometheus_client as one collector."""

    def __init__(self, text: str):
        self.families = []
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(text):
            rebuilt = GaugeMetricFamily(family.name, family.documentation, labels=None)
            rebuilt.samples = family.samples
            self.families.append(rebuilt)

    def collect(self):
        return self.families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples = fleet(args.miners)
    seconds, text = best_of(args.rounds, lambda: render(samples, ["miner", "site"]))
    count = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Replay(text.decode()))
    reference, _ = best_of(max(1, args.rounds // 2), lambda: generate_latest(registry))
    print(f"{'renderer':<28} {'miners':>7} {'samples':>9} {'best s':>7} {'µs/sample':>9}")
    print(f"{'hashwatch (exposition.py)':<28} {args.miners:>7} {count:>9} {seconds:>7.3f} {seconds * 1e6 / count:>9.2f}")
    print(f"{'prometheus_client':<28} {args.miners:>7} {count:>9} {reference:>7.3f} {reference * 1e6 / count:>9.2f}")


if __name__ == "__main__":
    main()
