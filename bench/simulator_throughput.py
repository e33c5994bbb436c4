"""Connections per second the simulator serves, as a separate process, to a separate client process.

    python bench/simulator_throughput.py                      # 10,000 miners, latency 0 and 0.2 s
    python bench/simulator_throughput.py --latency 0.2 --loop asyncio --duration 5

Starts `python -m simulator` (waits for its "listening:" line), then a client
process that opens connections to every miner in turn, `--concurrency` at a
time, each sending one command and reading the reply to EOF, for `--duration`
seconds. Reports connections/s and the simulator's CPU use over the same
window; connections per simulator CPU-second is its capacity on one core even
when the client, not the simulator, is the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (b'{"command":"summary"}', b'{"command":"pools"}', b'{"command":"stats"}')


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class _Probe(asyncio.Protocol):
    def __init__(self, payload: bytes, done: asyncio.Future):
        self.payload, self.done, self.size = payload, done, 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.payload)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.size += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(exc is None and self.size > 0)


async def _client(targets: list[tuple[str, int]], duration: float, warmup: float, concurrency: int, started) -> dict:
    loop = asyncio.get_running_loop()
    counts = {"ok": 0, "failed": 0}
    position = 0
    measuring = False
    start = loop.time()
    end = start + warmup + duration

    async def worker() -> None:
        nonlocal position
        while loop.time() < end:
            host, port = targets[position % len(targets)]
            payload = COMMANDS[position % len(COMMANDS)]
            position += 1
            done = loop.create_future()
            try:
                await loop.create_connection(lambda payload=payload, done=done: _Probe(payload, done), host, port)
                ok = await asyncio.wait_for(done, 10)
            except (OSError, TimeoutError):
                ok = False
            if measuring:
                counts["ok" if ok else "failed"] += 1

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    started.set()  # the parent measures the simulator's CPU over the same window
    await asyncio.sleep(duration)
    measuring = False
    await asyncio.gather(*workers)
    return counts


def _client_process(targets, duration, warmup, concurrency, started, queue) -> None:
    try:
        import uvloop  # the client must outrun the server: give it the fast loop when there is one

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        queue.put(runner.run(_client(targets, duration, warmup, concurrency, started)))


def measure(miners: int, latency: float, loop: str, duration: float, warmup: float, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="simbench-") as workdir:
        file_sd = Path(workdir) / "targets.json"
        server = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--miners", str(miners), "--first-address", "127.20.0.1",
             "--port", "0", "--file-sd", str(file_sd), "--latency", str(latency), "--loop", loop],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            ready = time.monotonic() + 60
            line = ""
            while not line.startswith("listening:"):
                line = server.stdout.readline()  # type: ignore[union-attr]
                if not line or time.monotonic() > ready:
                    raise RuntimeError("the simulator did not start")
            loop_name = line.rsplit("(", 1)[1].split(",")[1].split()[0]
            targets = [
                (t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1]))
                for group in json.loads(file_sd.read_text())
                for t in group["targets"]
            ]
            spawn = multiprocessing.get_context("spawn")
            queue, started = spawn.Queue(), spawn.Event()
            client = spawn.Process(
                target=_client_process, args=(targets, duration, warmup, concurrency, started, queue)
            )
            client.start()
            if not started.wait(warmup + 60):
                raise RuntimeError("the client did not start")
            cpu_before, wall_before = _cpu_seconds(server.pid), time.monotonic()
            time.sleep(duration)
            cpu = _cpu_seconds(server.pid) - cpu_before
            wall = time.monotonic() - wall_before
            counts = queue.get(timeout=duration + 60)
            client.join(30)
        finally:
            server.terminate()
            server.wait(30)
    rate = counts["ok"] / duration
    return {
        "miners": miners, "latency": latency, "loop": loop_name, "concurrency": concurrency,
        "connections_per_second": round(rate), "failed": counts["failed"],
        "simulator_cpu": round(cpu / wall, 2),
        "connections_per_cpu_second": round(counts["ok"] / cpu) if cpu else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", type=int, default=10_000)
    parser.add_argument("--latency", type=float, action="append", help="repeatable (default: 0 and 0.2)")
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], action="append", help="repeatable (default: auto)"
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=0, help="default: 256, or latency x 12,000 when higher")
    args = parser.parse_args()
    for loop in args.loop or ["auto"]:
        for latency in args.latency if args.latency is not None else [0.0, 0.2]:
            concurrency = args.concurrency or max(256, int(latency * 12_000))
            result = measure(args.miners, latency, loop, args.duration, args.warmup, concurrency)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
