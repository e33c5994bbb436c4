"""The `profitability:` section of hashwatch.yml."""

from __future__ import annotations

from pydantic import Field, field_validator

from hashwatch.config import ConfigSection, currency_code, http_url
from hashwatch.ledger import LedgerConfig

from .tariffs import Tariff

LEDGER_KEY = "profitability.ledger"  # where the ledger's section sits in hashwatch.yml, for its error messages


class SiteConfig(ConfigSection):
    tariff: Tariff | None = Field(None, description="this site's electricity price; the default tariff otherwise")
    power_cap_watts: float | None = Field(None, gt=0, description="curtailment advice keeps the site under this")


class HardwareConfig(ConfigSection):
    """What a model cost you, for payback days."""

    model: str
    make: str = ""
    price: float = Field(gt=0, description="in the profitability currency")


class ProfitabilityConfig(ConfigSection):
    prometheus_url: str = "http://127.0.0.1:9090"
    query_timeout_seconds: float = Field(10, gt=0, le=120)
    interval_seconds: float = Field(60, ge=0.1, le=3600, description="how often inputs are read from Prometheus")
    currency: str = Field("USD", description="revenue, cost and profit are in this currency")
    pool_fee: float = Field(0.02, ge=0, lt=1, description="fraction the pool keeps (Ocean: 0.02)")
    tariff: Tariff | None = Field(None, description="electricity price for sites without their own")
    sites: dict[str, SiteConfig] = Field(default_factory=dict)
    site_label: str = Field("site", description="the label that names a miner's site")
    hardware: list[HardwareConfig] = Field(default_factory=list)
    max_input_age_seconds: float = Field(900, gt=0, le=86400 * 30, description="older price or network data is treated as missing")
    catalog_file: str | None = Field(None, description="your own ASIC catalog (YAML); the packaged one otherwise")
    ledger: LedgerConfig | None = Field(None, description="long-term history in InfluxDB; off when not set")

    _currency = field_validator("currency")(lambda value: currency_code(value))
    _url = field_validator("prometheus_url")(lambda value: http_url(value))
    _ledger = field_validator("ledger")(lambda value: value.at(LEDGER_KEY) if value is not None else None)

    def tariff_for(self, site: str) -> Tariff | None:
        chosen = self.sites.get(site)
        return chosen.tariff if chosen is not None and chosen.tariff is not None else self.tariff

    def hardware_price(self, make: str, model: str) -> float | None:
        for item in self.hardware:
            if item.model.lower() == model.lower() and (not item.make or item.make.lower() == make.lower()):
                return item.price
        return None
