"""The `cgminer:` section of hashwatch.yml."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, field_validator

from hashwatch.config import ConfigSection, cidr_networks

from .client import DEFAULT_PORT, split_target
from .labels import LABEL_NAME_PATTERN, target_label_problem

# Private ranges and loopback: enough for a farm's LAN, while /probe cannot be
# turned into a scanner of the internet.
DEFAULT_ALLOWED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "fc00::/7", "::1/128")

Seconds = Annotated[float, Field(gt=0, le=300)]
LabelName = Annotated[str, Field(pattern=LABEL_NAME_PATTERN)]


class MinerTarget(ConfigSection):
    target: str
    labels: dict[LabelName, str] = Field(default_factory=dict)

    @field_validator("target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        split_target(value)
        return value

    @field_validator("labels")
    @classmethod
    def _allowed_names(cls, value: dict[str, str]) -> dict[str, str]:
        problems = [f"label {name}: {problem}" for name in value if (problem := target_label_problem(name))]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class FleetConfig(ConfigSection):
    """Fleet mode: scrape these miners on every request to /metrics."""

    miners: list[MinerTarget] = Field(default_factory=list)
    file_sd: list[str] = Field(default_factory=list, description="Prometheus file_sd JSON/YAML files (globs allowed)")
    concurrency: int = Field(default=256, ge=1, le=20000)
    timeout_seconds: Seconds = 10.0
    workers: int = Field(
        default=1, ge=1, le=64, description="processes scraping the fleet; above ~3,000 miners, one per CPU core"
    )


class CgminerConfig(ConfigSection):
    default_port: int = Field(default=DEFAULT_PORT, gt=0, lt=65536)
    timeout_seconds: Seconds = Field(default=5.0, description="Upper bound of one probe")
    connect_timeout_seconds: Seconds = 2.0
    max_reply_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    scrape_timeout_offset_seconds: float = Field(default=0.5, ge=0, le=10)
    allowed_targets: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED))
    # /probe contacts only these ports (default: default_port alone), so it cannot
    # be used to tell open ports from closed ones on an allowed host.
    allowed_ports: list[Annotated[int, Field(gt=0, lt=65536)]] | None = Field(
        default=None, min_length=1, description="ports /probe may contact; default: default_port only"
    )
    fleet: FleetConfig = Field(default_factory=FleetConfig)

    _networks = field_validator("allowed_targets")(cidr_networks)

    def ports(self) -> frozenset[int]:
        return frozenset(self.allowed_ports or (self.default_port,))

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n, strict=False) for n in self.allowed_targets]
