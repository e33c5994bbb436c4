"""The `market:` section of hashwatch.yml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from hashwatch.config import ConfigSection, currency_code, http_url

PriceSourceName = Literal["coingecko", "coincap", "mempool", "blockchain_info"]
NetworkSourceName = Literal["mempool", "blockchain_info"]


class _SourceConfig(ConfigSection):
    """What every public source has: another host serving the same API, and a timeout."""

    base_url: str | None = Field(None, description="another host serving the same API, e.g. your own mempool")
    timeout_seconds: float = Field(10, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value) if value is not None else None


class PriceSourceConfig(_SourceConfig):
    name: PriceSourceName
    ttl_seconds: float = Field(60, ge=0.1, le=86400, description="how long a price is reused before asking again")


class NetworkSourceConfig(_SourceConfig):
    name: NetworkSourceName
    interval_seconds: float = Field(120, ge=0.1, le=86400)


class BitcoindConfig(ConfigSection):
    """Your own Bitcoin Core node over JSON-RPC; preferred over public APIs when set."""

    url: str = "http://127.0.0.1:8332"
    cookie_file: str | None = Field(None, description="<datadir>/.cookie; re-read when the node restarts")
    user: str | None = None
    password: str | None = None
    interval_seconds: float = Field(120, ge=0.1, le=86400)
    timeout_seconds: float = Field(10, gt=0, le=120)
    fee_blocks: int = Field(144, ge=1, le=2016, description="blocks averaged for fees per block")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> BitcoindConfig:
        if (self.cookie_file is None) == (self.user is None):
            raise ValueError("give either cookie_file or user and password")
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        return self


def _default_price_sources() -> list[PriceSourceConfig]:
    return [PriceSourceConfig(name=name) for name in ("coingecko", "coincap", "mempool", "blockchain_info")]


def _default_network_sources() -> list[NetworkSourceConfig]:
    return [NetworkSourceConfig(name=name) for name in ("mempool", "blockchain_info")]


class MarketConfig(ConfigSection):
    currencies: list[str] = Field(default_factory=lambda: ["USD", "EUR", "GBP", "CAD", "JPY"])
    price_sources: list[PriceSourceConfig] = Field(
        default_factory=_default_price_sources, description="in order of preference: the first fresh one is used"
    )
    network_sources: list[NetworkSourceConfig] = Field(default_factory=_default_network_sources)
    bitcoind: BitcoindConfig | None = None
    max_age_seconds: float = Field(
        900, gt=0, description="a source's value older than this is stale: the next source is used instead"
    )
    disagreement_ratio: float = Field(0.02, gt=0, lt=1, description="spread between price sources flagged as disagreement")
    max_backoff_seconds: float = Field(1800, ge=1, le=86400)

    @field_validator("currencies")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        codes = [currency_code(code) for code in value]
        if not codes or len(set(codes)) != len(codes):
            raise ValueError("list each currency once, at least one")
        return codes

    @field_validator("price_sources", "network_sources")
    @classmethod
    def _distinct(cls, value: list) -> list:
        names = [source.name for source in value]
        if len(set(names)) != len(names):
            raise ValueError("a source is listed twice")
        return value
