"""Memory a hostile fleet can make the CGMiner exporter hold: padded identity replies over /probe.

    python bench/hostile_memory.py                 # 200 look-alike stock Antminers, 3.9 MB of padding each
    python bench/hostile_memory.py --miners 50 --padding 1000000

Each miner answers like the recorded stock S19 Pro, but its `version` reply (an
identity reply the exporter remembers between scrapes) carries a padding field.
The exporter runs as its own process (`hashwatch cgminer`); every miner is
probed twice, and the exporter's RSS is read from /proc before, after the
probes, and after a pause. Prints one table row per stage.
"""

from __future__ import annotations

import argparse
import json
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cgminer_fixtures import raw  # noqa: E402

FILES = {
    "version": "antminer/s19pro_stock_2022_version.json",
    "summary": "antminer/s19pro_stock_2022_summary.json",
    "pools": "antminer/s19pro_stock_2022_pools.json",
    "stats": "antminer/s19pro_stock_2022_stats.json",
}
INVALID = "errors/antminer_s21_invalid_command.json"


def serve_miners(count: int, padding: int) -> tuple[list[socketserver.TCPServer], int]:
    replies = {command: raw(path).decode() for command, path in FILES.items()}
    pad = f'"Type": "Antminer S19 Pro", "Pad": "{"x" * padding}"'
    replies["version"] = replies["version"].replace('"Type": "Antminer S19 Pro"', pad)
    encoded = {command: text.encode() + b"\x00" for command, text in replies.items()}
    invalid = raw(INVALID) + b"\x00"

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data = self.request.recv(65536)
            try:
                command = json.loads(data.rstrip(b"\x00")).get("command", "")
            except ValueError:
                command = ""
            self.request.sendall(encoded.get(command, invalid))

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    servers, port = [], 0
    for n in range(count):
        server = socketserver.ThreadingTCPServer((f"127.66.{n // 250}.{n % 250 + 1}", port), Handler)
        server.daemon_threads = True
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers, port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miners", type=int, default=200)
    parser.add_argument("--padding", type=int, default=3_900_000, help="bytes of padding in each version reply")
    args = parser.parse_args()
    servers, port = serve_miners(args.miners, args.padding)
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "hashwatch.yml"
        config.write_text(json.dumps({"cgminer": {
            "allowed_targets": ["127.66.0.0/16"], "allowed_ports": [port], "timeout_seconds": 10,
        }}))
        exporter = subprocess.Popen(
            [sys.executable, "-m", "hashwatch.app", "cgminer", "--config.file", str(config),
             "--web.listen-address", "127.0.0.1:29893", "--log.level", "error"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        try:
            assert exporter.stdout is not None and "serving on" in exporter.stdout.readline()
            rows = [("started", rss_mb(exporter.pid))]
            targets = [f"127.66.{n // 250}.{n % 250 + 1}:{port}" for n in range(args.miners)]
            up = 0
            for _ in range(2):
                for target in targets:
                    text = requests.get("http://127.0.0.1:29893/probe", params={"target": target}, timeout=30).text
                    up += "miner_up 1" in text
            rows.append((f"after {2 * args.miners} probes ({up} up)", rss_mb(exporter.pid)))
            time.sleep(2)
            rows.append(("2 s later", rss_mb(exporter.pid)))
        finally:
            exporter.terminate()
            exporter.wait(10)
            for server in servers:
                server.shutdown()
    print(f"{args.miners} miners, {args.padding:,} bytes of padding in each version reply")
    print(f"{'stage':32} {'exporter RSS MB':>16}")
    for stage, rss in rows:
        print(f"{stage:32} {rss:16.0f}")


if __name__ == "__main__":
    main()
