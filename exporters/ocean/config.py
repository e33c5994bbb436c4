"""The `ocean:` section of hashwatch.yml."""

from __future__ import annotations

from pydantic import Field, field_validator

from hashwatch.config import ConfigSection, http_url

from .address import validate_address

DEFAULT_API_URL = "https://api.ocean.xyz/v1"


class IntervalsConfig(ConfigSection):
    """How often each group of endpoints is polled (seconds).

    The lower bound of 0.1 s is for tests against a local server: Ocean itself
    should not be asked more often than the defaults.
    """

    hashrate: float = Field(60, ge=0.1, le=86400, description="user_hashrate, userinfo_full, pool_hashrate")
    workers: float = Field(300, ge=0.1, le=86400, description="user_hashrate_full (every worker, every window)")
    pool: float = Field(300, ge=0.1, le=86400, description="pool_stat")
    earnings: float = Field(900, ge=0.1, le=86400, description="earnpay (earnings and payout history)")
    blocks: float = Field(600, ge=0.1, le=86400, description="blocks found by the pool")


class OceanConfig(ConfigSection):
    addresses: list[str] = Field(default_factory=list, description="payout addresses to watch")
    api_url: str = DEFAULT_API_URL
    timeout_seconds: float = Field(10, gt=0, le=120, description="per HTTP request")
    intervals: IntervalsConfig = Field(default_factory=IntervalsConfig)
    max_backoff_seconds: float = Field(1800, ge=1, le=86400, description="longest wait after repeated failures")
    earnings_since: int = Field(
        0, ge=0, description="unix time from which payout history is summed into ocean_paid_btc_total"
    )

    @field_validator("addresses")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        checked = [validate_address(address) for address in value]
        if len(set(checked)) != len(checked):
            raise ValueError("an address is listed twice")
        return checked

    _url = field_validator("api_url")(lambda value: http_url(value))
