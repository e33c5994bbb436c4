"""`hashwatch demo`: a simulated fleet on loopback and the CGMiner exporter over it.

Everything runs in one event loop and one process, with no hardware, Docker or
internet: the quickest way to see what hashwatch exports.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout

from exporters.cgminer.config import FleetConfig
from exporters.cgminer.server import Exporter
from hashwatch.web import serve, wait_until_stopped
from simulator import SimulatedFleet

from .settings import HashwatchConfig


async def run_demo(
    config: HashwatchConfig, miners: int, listen: str, first_address: str, sim_port: int, duration: float | None
) -> None:
    fleet = SimulatedFleet.build(miners, first_address=first_address, port=sim_port)
    with tempfile.TemporaryDirectory(prefix="hashwatch-demo-") as workdir:
        file_sd = Path(workdir) / "miners.json"
        async with fleet.serve():
            fleet.write_file_sd(file_sd, labels={"site": "demo"})
            cgminer = config.cgminer.model_copy(
                update={
                    "fleet": FleetConfig(file_sd=[str(file_sd)], concurrency=config.cgminer.fleet.concurrency),
                    # /probe of the simulated miners, whatever port they listen on.
                    "allowed_ports": sorted(config.cgminer.ports() | {fleet.port}),
                }
            )
            runner, url = await serve(Exporter(cgminer).app(), listen)
            try:
                print(f"simulated miners: {len(fleet)} on {fleet.targets()[0]} .. {fleet.targets()[-1]}")
                print(f"file_sd targets:  {file_sd}")
                print(f"fleet metrics:    {url}metrics")
                print(f"one miner:        {url}probe?target={fleet.targets()[0]}")
                print(f"landing page:     {url}")
                await _first_scrape(url)
                print("press Ctrl-C to stop", flush=True)
                await wait_until_stopped(duration)
            finally:
                await runner.cleanup()


async def _first_scrape(url: str) -> None:
    """Scrape once and print a one-line summary, proving the whole path works."""
    async with ClientSession(timeout=ClientTimeout(total=30)) as session:
        async with session.get(f"{url}metrics") as response:
            text = await response.text()
    up = sum(1 for line in text.splitlines() if line.startswith("miner_up{") and float(line.rsplit(" ", 1)[1]) == 1)
    total = sum(1 for line in text.splitlines() if line.startswith("miner_up{"))
    print(f"first scrape:     {up}/{total} miners up, {len(text.splitlines())} lines of metrics", flush=True)
