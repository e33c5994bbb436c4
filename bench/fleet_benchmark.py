"""Fleet-scale benchmark: simulator and exporter as separate processes on loopback.

    python bench/fleet_benchmark.py                       # 1k, 5k, 10k miners at 0 and 200 ms
    python bench/fleet_benchmark.py --sizes 1000 --latencies 0

Prints one table row per (fleet size, reply latency): fleet scrape wall time and
miners/s, exporter CPU ms per miner, /metrics render time and µs per sample,
bytes, exporter RSS, series per miner by firmware, and /probe throughput with
p50/p99 latency under 200 concurrent probes. Targets are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
MINER = re.compile(r'miner="([^"]+)"')


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(args: list[str], ready: str, timeout: float = 120) -> subprocess.Popen:
    """Start a process and wait (bounded) for a line containing `ready` on its stdout."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"{args[:3]} exited with {process.returncode}")
        if ready in line:
            return process
    process.kill()
    raise TimeoutError(f"{args[:3]} not ready in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def self_metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


async def probe_load(url: str, targets: list[str], seconds: float, workers: int = 200) -> tuple[float, float, float, int]:
    """Probes/s, p50 ms, p99 ms and failures with `workers` probes always in flight."""
    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + seconds
    rng = random.Random(1)
    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                async with session.get(f"{url}/probe", params={"target": rng.choice(targets)}) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200 or not re.search(rb"^miner_up 1(\.0)?$", body, re.MULTILINE):
                    failures += 1

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.monotonic() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies) * 1e3, p99 * 1e3, failures


def run_case(size: int, latency: float, probe_seconds: float, workdir: Path) -> dict:
    file_sd = workdir / f"miners-{size}.json"
    sim_port, exporter_port = 24028, 29891
    simulator = start(
        [sys.executable, "-m", "simulator", "--miners", str(size), "--first-address", "127.20.0.1",
         "--port", str(sim_port), "--file-sd", str(file_sd), "--latency", str(latency)],
        "listening",
    )
    config = workdir / "hashwatch.yml"
    config.write_text(json.dumps({"cgminer": {
        "allowed_targets": ["127.0.0.0/8"], "timeout_seconds": 10,
        "fleet": {"file_sd": [str(file_sd)], "concurrency": 1000, "timeout_seconds": 60},
    }}))
    exporter = start(
        [sys.executable, "-m", "hashwatch.cli", "cgminer", "--config.file", str(config),
         "--web.listen-address", f"127.0.0.1:{exporter_port}", "--log.level", "error"],
        "serving on",
    )
    url = f"http://127.0.0.1:{exporter_port}"
    try:
        import requests

        requests.get(f"{url}/metrics", timeout=120)  # first scrape: firmware detection
        walls, cpus = [], []
        for _ in range(3):
            cpu_before = cpu_seconds(exporter.pid)
            began = time.perf_counter()
            text = requests.get(f"{url}/metrics", timeout=120).text
            walls.append(time.perf_counter() - began)
            cpus.append(cpu_seconds(exporter.pid) - cpu_before)
        after = requests.get(f"{url}/metrics", timeout=120).text  # carries the render time of `text`'s scrape
        render = self_metric(after, "hashwatch_cgminer_fleet_render_duration_seconds")
        fleet_lines = [line for line in text.splitlines() if line.startswith("miner_")]
        up = sum(1 for line in fleet_lines if line.startswith("miner_up{") and float(line.rsplit(" ", 1)[1]) == 1)
        firmware_of = {MINER.search(l).group(1): re.search(r'firmware="([^"]*)"', l).group(1)
                       for l in fleet_lines if l.startswith("miner_info{")}
        per_miner = Counter(MINER.search(l).group(1) for l in fleet_lines if MINER.search(l))
        by_firmware: dict[str, list[int]] = defaultdict(list)
        for miner, count in per_miner.items():
            by_firmware[firmware_of.get(miner, "down")].append(count)
        targets = [t for group in json.loads(file_sd.read_text()) for t in group["targets"]]
        rate, p50, p99, failures = asyncio.run(probe_load(url, targets, probe_seconds))
        wall = statistics.median(walls)
        return {
            "miners": size, "latency_ms": int(latency * 1000), "up": up,
            "scrape_s": wall, "miners_per_s": size / wall, "cpu_ms_per_miner": statistics.median(cpus) * 1000 / size,
            "render_ms": render * 1000, "us_per_sample": render * 1e6 / max(1, len(fleet_lines)),
            "samples": len(fleet_lines), "bytes": len(text.encode()), "rss_mb": rss_mb(exporter.pid),
            "series": {fw: max(v) for fw, v in sorted(by_firmware.items())},
            "probes_per_s": rate, "probe_p50_ms": p50, "probe_p99_ms": p99, "probe_failures": failures,
        }
    finally:
        stop(exporter)
        stop(simulator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--latencies", default="0,0.2")
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = []
    header = (f"{'miners':>7} {'lat ms':>6} {'up':>6} {'scrape s':>8} {'miners/s':>9} {'cpu ms/m':>8} "
              f"{'render ms':>9} {'µs/sample':>9} {'samples':>8} {'MB out':>7} {'RSS MB':>7} "
              f"{'probe/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'fail':>5}")
    print(header, flush=True)
    with tempfile.TemporaryDirectory(prefix="hashwatch-bench-") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            for latency in (float(l) for l in args.latencies.split(",")):
                row = run_case(size, latency, args.probe_seconds, Path(workdir))
                rows.append(row)
                print(f"{row['miners']:>7} {row['latency_ms']:>6} {row['up']:>6} {row['scrape_s']:>8.2f} "
                      f"{row['miners_per_s']:>9.0f} {row['cpu_ms_per_miner']:>8.3f} {row['render_ms']:>9.1f} "
                      f"{row['us_per_sample']:>9.2f} {row['samples']:>8} {row['bytes'] / 1e6:>7.1f} "
                      f"{row['rss_mb']:>7.0f} {row['probes_per_s']:>8.0f} {row['probe_p50_ms']:>7.1f} "
                      f"{row['probe_p99_ms']:>7.1f} {row['probe_failures']:>5}", flush=True)
    print("\nseries per miner by firmware (largest miner of each):")
    for row in rows[:1]:
        for firmware, count in row["series"].items():
            print(f"  {firmware:<12} {count}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
