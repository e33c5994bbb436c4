"""hashwatch.yml as a whole: one optional section per service."""

from __future__ import annotations

from pydantic import Field

from alertmanager.receiver.config import WebhookConfig
from exporters.cgminer.config import CgminerConfig
from exporters.market.config import MarketConfig
from exporters.ocean.config import OceanConfig
from profitability.config import ProfitabilityConfig

from hashwatch.config import ConfigSection

from .alerting.config import AlertingConfig


class HashwatchConfig(ConfigSection):
    cgminer: CgminerConfig = Field(default_factory=CgminerConfig)
    ocean: OceanConfig = Field(default_factory=OceanConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    profitability: ProfitabilityConfig = Field(default_factory=ProfitabilityConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
