"""Where every piece of the demo listens, and the simulated fleet it watches.

Every service has a fixed port on one loopback host (`--host`), the ports a
real installation uses, so the URLs in the docs work as printed. Miners get
consecutive loopback addresses from `--first-address`, port 4028 each (`--miner-port`), and
alternate between two sites with different electricity tariffs.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass, field

from simulator import SimulatedFleet

PORTS = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "webhook": 9895,
    "cgminer": 9891,
    "ocean": 9892,
    "market": 9893,
    "profitability": 9894,
    "influxdb": 8086,
    "grafana": 3000,
    "upstreams": 9880,
    "simulator": 9899,  # the simulator's fault control API (docs/simulator.md)
}
INFLUXDB_RPC_PORT = 8088  # influxd's backup/restore listener, on the demo host too
MINER_PORT = 4028
SITES = ("north", "south")


class DemoError(Exception):
    """Something that stops the demo, said in one or a few lines."""


@dataclass(frozen=True)
class Miner:
    address: str
    port: int
    profile: str
    labels: dict[str, str]
    site: str

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass
class Layout:
    host: str
    first_address: str
    miner_count: int
    miner_port: int = MINER_PORT
    miners: list[Miner] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            if ipaddress.ip_address(self.host) not in ipaddress.ip_network("127.0.0.0/8"):
                raise DemoError(f"--host {self.host}: the demo listens on loopback only (127.0.0.0/8)")
        except ValueError:
            raise DemoError(f"--host {self.host}: not an IPv4 address") from None
        try:
            fleet = SimulatedFleet.build(self.miner_count, first_address=self.first_address, port=self.miner_port)
        except ValueError as exc:
            raise DemoError(f"--first-address {self.first_address}: {exc}") from None
        self.miners = [
            Miner(m.address, self.miner_port, m.profile.name, m.profile.labels(), SITES[index % len(SITES)])
            for index, m in enumerate(fleet.miners)
        ]
        if self.host in {m.address for m in self.miners}:
            raise DemoError(f"--host {self.host} is also a simulated miner's address: pick another --first-address")

    def url(self, name: str) -> str:
        return f"http://{self.host}:{PORTS[name]}"

    def address(self, name: str) -> str:
        return f"{self.host}:{PORTS[name]}"

    def file_sd(self) -> list[dict]:
        """Prometheus file_sd groups: one per profile and site, labelled like `hashwatch discover` would."""
        groups: dict[tuple[str, str], dict] = {}
        for miner in self.miners:
            group = groups.setdefault(
                (miner.profile, miner.site), {"targets": [], "labels": {**miner.labels, "site": miner.site}}
            )
            group["targets"].append(miner.target)
        return list(groups.values())

    def check_ports_free(self, names: list[str]) -> None:
        """DemoError naming the first port someone else holds (services, influxd's RPC port, miners' 4028)."""
        wanted = [(self.host, PORTS[name], name) for name in names]
        if "influxdb" in names:
            wanted.append((self.host, INFLUXDB_RPC_PORT, "influxdb (its RPC port)"))
        wanted += [(m.address, m.port, f"simulated miner {m.address}") for m in self.miners]
        for host, port, what in wanted:
            problem = port_problem(host, port)
            if problem:
                raise DemoError(f"port {port} on {host} ({what}) is {problem}: stop what uses it, or pick another --host"
                                + (" / --first-address / --miner-port" if what.startswith("simulated") else ""))


def port_problem(host: str, port: int) -> str | None:
    """None if (host, port) can be listened on; else why not ("in use", ...)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do: a port left in TIME_WAIT by the last run is free; one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None
