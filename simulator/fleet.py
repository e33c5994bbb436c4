"""A fleet of simulated miners: addresses, Prometheus file_sd targets, and ways to run it.

    fleet = SimulatedFleet.build(300, first_address="127.77.0.1", port=0)
    with FleetThread(fleet):            # synchronous tests: own loop in a daemon thread
        fleet.targets()                 # ["127.77.0.1:40123", ...]
    async with fleet.serve():           # inside an existing event loop
        ...
    fleet.set_fault({"fault": "board_dead", "board": 1}, ["127.77.0.1"])   # see faults.py
    fleet.clear_faults()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .faults import FaultError, FaultSpec, Offline, parse_fault
from .miner import Clock, CommandJournal, MinerState, SimulatedMiner
from .profiles import PROFILES, Profile, get_profile
from .server import MinerServer

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def fleet_addresses(first_address: str, count: int) -> Iterator[str]:
    """`count` consecutive loopback addresses from `first_address`, skipping x.x.x.0 and x.x.x.255.

    Those two host parts look like network/broadcast addresses in a /24 and
    confuse people and tools, although loopback would accept them.
    """
    address = ipaddress.IPv4Address(first_address)
    made = 0
    while made < count:
        if address not in LOOPBACK:
            raise ValueError(f"simulated miners need loopback (127.0.0.0/8) addresses; ran out at {address}")
        if address.packed[3] not in (0, 255):
            yield str(address)
            made += 1
        address += 1


def miner_seed(fleet_seed: int, index: int) -> int:
    """A stable per-miner seed: same fleet seed and position, same noise sequence."""
    digest = hashlib.blake2b(f"{fleet_seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SimulatedFleet:
    def __init__(self, miners: Sequence[SimulatedMiner], port: int = 4028, journal: CommandJournal | None = None):
        self.miners = list(miners)
        self.by_address: dict[str, SimulatedMiner] = {}
        for miner in self.miners:
            if miner.address in self.by_address:
                raise ValueError(f"two simulated miners share {miner.address}")
            if ipaddress.ip_address(miner.address) not in LOOPBACK:
                raise ValueError(f"simulated miner address {miner.address} is not loopback")
            self.by_address[miner.address] = miner
        self.port = port  # 0 until served means "pick a free port"; then the real one
        self.journal = journal if journal is not None else CommandJournal()
        self._servers: list[MinerServer] = []  # told when a miner goes offline or comes back

    @classmethod
    def build(
        cls,
        count: int,
        profiles: Sequence[str | Profile] | None = None,
        first_address: str = "127.10.0.1",
        port: int = 4028,
        seed: int = 0,
        *,
        latency: float = 0.0,
        clock: Clock = time.time,
    ) -> SimulatedFleet:
        """`count` miners on consecutive addresses, profiles assigned round-robin (default: all)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        names = list(profiles) if profiles else list(PROFILES)
        chosen = [name if isinstance(name, Profile) else get_profile(name) for name in names]
        miners = [
            SimulatedMiner(
                address,
                chosen[index % len(chosen)],
                miner_seed(seed, index),
                state=MinerState(latency=latency),
                clock=clock,
            )
            for index, address in enumerate(fleet_addresses(first_address, count))
        ]
        return cls(miners, port=port)

    def __len__(self) -> int:
        return len(self.miners)

    def miner(self, address: str) -> SimulatedMiner:
        return self.by_address[address]

    # -- faults --

    def _resolve(self, addresses: Iterable[str] | None) -> list[SimulatedMiner]:
        if addresses is None:
            return self.miners
        chosen = []
        for address in addresses:
            miner = self.by_address.get(address)
            if miner is None:
                raise FaultError(f"miners: {address} is not a simulated miner")
            chosen.append(miner)
        return chosen

    def set_fault(self, fault: FaultSpec | Mapping[str, Any], addresses: Iterable[str]) -> list[str]:
        """Start `fault` on these miners, all or none: raises FaultError before changing any."""
        spec = fault if isinstance(fault, FaultSpec) else parse_fault(dict(fault))
        miners = self._resolve(addresses)
        for miner in miners:
            spec.check(miner.profile)
        for miner in miners:
            miner.set_fault(spec)
        changed = [miner.address for miner in miners]
        if isinstance(spec, Offline):
            self._offline_changed(changed)
        return changed

    def clear_faults(self, addresses: Iterable[str] | None = None, names: Iterable[str] | None = None) -> list[str]:
        """End faults (by name or key; all when names is None) on these miners (default: all).

        Returns the miners that had one. A reboot is an event, not a state: it stays done.
        """
        wanted = None if names is None else list(names)
        cleared = [miner.address for miner in self._resolve(addresses) if miner.clear_faults(wanted)]
        if cleared:
            self._offline_changed(cleared)
        return cleared

    def faults(self) -> dict[str, list[dict[str, Any]]]:
        """address -> its active faults, for the miners that have any."""
        return {miner.address: [f.public() for f in miner.faults] for miner in self.miners if miner.faults}

    def _offline_changed(self, addresses: list[str]) -> None:
        for server in list(self._servers):
            server.offline_changed(addresses)

    def targets(self) -> list[str]:
        return [f"{miner.address}:{self.port}" for miner in self.miners]

    def file_sd(self, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Prometheus file_sd groups, one per profile, labelled make/model/firmware/profile.

        Extra `labels` are added to every group and win over the profile's.
        """
        groups: dict[str, dict[str, Any]] = {}
        for miner in self.miners:
            group = groups.get(miner.profile.name)
            if group is None:
                group_labels = {**miner.profile.labels(), **{k: str(v) for k, v in (labels or {}).items()}}
                group = groups[miner.profile.name] = {"targets": [], "labels": group_labels}
            group["targets"].append(f"{miner.address}:{self.port}")
        return list(groups.values())

    def write_file_sd(self, path: str | os.PathLike[str], labels: Mapping[str, str] | None = None) -> Path:
        """Write file_sd JSON atomically: Prometheus watches the file and must never read half of it."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.file_sd(labels), indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    def server(self, *, bind: str = "0.0.0.0", per_address: bool = False, idle_timeout: float = 5.0) -> MinerServer:
        return MinerServer(
            self.by_address,
            self.port,
            bind=bind,
            per_address=per_address,
            journal=self.journal,
            idle_timeout=idle_timeout,
        )

    @contextlib.asynccontextmanager
    async def serve(
        self, *, bind: str = "0.0.0.0", per_address: bool = False, idle_timeout: float = 5.0
    ) -> AsyncIterator[MinerServer]:
        """Listen for the whole fleet while the block runs; self.port is the real port inside."""
        server = self.server(bind=bind, per_address=per_address, idle_timeout=idle_timeout)
        self.port = await server.start()
        self._servers.append(server)
        try:
            yield server
        finally:
            self._servers.remove(server)
            await server.close()


class FleetThread:
    """Runs a fleet on its own event loop in a daemon thread, for synchronous code (pytest fixtures).

    start() returns once the fleet listens (and raises if it could not);
    stop() closes every socket and joins the thread.
    """

    def __init__(self, fleet: SimulatedFleet, **serve_options: Any):
        self.fleet = fleet
        self._options = serve_options
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> FleetThread:
        if self._thread is not None:
            raise RuntimeError("FleetThread already started")
        self._thread = threading.Thread(target=self._run, name="simulated-fleet", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulated fleet did not start listening in time")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already gone
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("simulated fleet did not stop in time")
        self._thread = None

    def __enter__(self) -> FleetThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); the thread just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.fleet.serve(**self._options):
            self._ready.set()
            await self._stop.wait()
