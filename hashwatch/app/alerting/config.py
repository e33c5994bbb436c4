"""The `alerting:` section of hashwatch.yml: one place for every selector, threshold and duration.

Rules, alerts and runbooks are generated from it (`hashwatch rules`), in the
spirit of the monitoring mixins' `_config`: a user changes a number here and
regenerates, never edits the rule files. Thresholds that depend on the
hardware can be set per model (`models:`, matched against miner_info's
`model` label by regular expression); the rest of the fleet takes the
defaults.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from hashwatch.config import ConfigSection

Duration = Annotated[str, Field(pattern=r"^([0-9]+(ms|s|m|h|d|w|y))+$")]
Ratio = Annotated[float, Field(ge=0, le=1)]
Celsius = Annotated[float, Field(gt=-50, lt=200)]


class ModelThresholds(ConfigSection):
    """Hardware-dependent thresholds for the miners whose model (or make) matches (regular expressions)."""

    models: list[str] = Field(default_factory=list, description="miner_info model regexes")
    makes: list[str] = Field(default_factory=list, description="miner_info make regexes")
    chip_temperature_warning_celsius: Celsius | None = None
    chip_temperature_critical_celsius: Celsius | None = None
    board_temperature_warning_celsius: Celsius | None = None
    board_temperature_critical_celsius: Celsius | None = None
    fans: bool | None = Field(default=None, description="false: no fan rules (hydro, immersion)")


    @model_validator(mode="after")
    def _matches_something(self) -> "ModelThresholds":
        if not self.models and not self.makes:
            raise ValueError("give `models` or `makes` (or both)")
        return self


def _defaults() -> list[ModelThresholds]:
    return [
        # Water-cooled boards run hotter at the chip and have no fans (docs/metrics.md).
        ModelThresholds(
            models=[".*Hyd.*", ".*Hydro.*", ".*Immersion.*", "U3S21.*H"],
            chip_temperature_warning_celsius=90,
            chip_temperature_critical_celsius=100,
            fans=False,
        ),
        # Whatsminers report their hottest chip, which runs above Bitmain's: a healthy
        # M31S capture reads 89 to 93 °C (older builds name no model, so by make).
        ModelThresholds(makes=["MicroBT"], chip_temperature_warning_celsius=100, chip_temperature_critical_celsius=110),
    ]


class AlertingConfig(ConfigSection):
    # Which series are whose: extra matchers added to every selector, e.g.
    # 'job="miners"' or 'site="north"'. Empty: every miner_* series.
    miner_selector: str = ""
    ocean_selector: str = ""
    market_selector: str = ""
    profitability_selector: str = ""
    # Labels the fleet and site aggregations group by (kept on every alert).
    site_label: str = "site"
    runbook_url: str = "https://github.com/hashwatch/hashwatch/blob/main/docs/runbooks.md"
    dashboard_url: str = "http://localhost:3000/d"

    # miners
    miner_down_for: Duration = "5m"
    hashrate_low_ratio: Ratio = 0.8  # of the expected (nominal) hashrate
    hashrate_low_for: Duration = "15m"
    chip_temperature_warning_celsius: Celsius = 85
    chip_temperature_critical_celsius: Celsius = 95
    board_temperature_warning_celsius: Celsius = 75
    board_temperature_critical_celsius: Celsius = 85
    inlet_temperature_warning_celsius: Celsius = 40
    temperature_for: Duration = "5m"
    fan_stopped_for: Duration = "2m"
    reject_ratio_warning: Ratio = 0.02
    hardware_error_rate_warning: float = Field(1.0, ge=0, description="errors per second")
    models: list[ModelThresholds] = Field(default_factory=_defaults)

    # fleet and site
    fleet_hashrate_drop_ratio: Ratio = 0.2  # a fall of this share within hashrate_drop_window
    hashrate_drop_window: Duration = "30m"
    site_down_ratio: Ratio = 0.5  # this share of a site's miners down at once: one alert
    site_down_for: Duration = "5m"  # how long that share must stay down before SiteMinersDown fires

    # pool
    ocean_shortfall_ratio: float = Field(1.3, gt=1, description="miners' hashrate over what Ocean credits a worker")
    ocean_worker_silent_seconds: float = Field(1800, gt=0)
    ocean_hashrate_step_ratio: Ratio = 0.2  # an hour-on-hour change of the user's Ocean hashrate worth a notice

    # data sources
    source_stale_for: Duration = "15m"
    ocean_stale_seconds: float = Field(1800, gt=0)
    price_stale_seconds: float = Field(900, gt=0)
    network_stale_seconds: float = Field(3600, gt=0)

    # economics
    margin_warning_ratio: float = Field(0.1, ge=-10, le=1)
    difficulty_rise_warning_ratio: float = Field(0.05, ge=0, le=3)
    economics_for: Duration = "1h"

    # how long each condition must hold before its alert fires (`for:`)
    miner_curtailment_advised_for: Duration = "30m"
    difficulty_rise_ahead_for: Duration = "1h"
    fleet_hashrate_drop_for: Duration = "5m"
    site_hashrate_drop_for: Duration = "5m"
    hashwatch_exporter_down_for: Duration = "5m"
    hashwatch_probe_failures_high_for: Duration = "10m"
    miner_hashrate_zero_for: Duration = "10m"
    miner_hashboard_dead_for: Duration = "10m"
    miner_chips_missing_for: Duration = "15m"
    miner_reject_ratio_high_for: Duration = "15m"
    miner_hardware_errors_high_for: Duration = "15m"
    miner_fault_reported_for: Duration = "5m"
    miner_not_mining_for: Duration = "15m"
    miner_pool_down_for: Duration = "5m"
    miner_pool_failover_for: Duration = "10m"
    miner_no_active_pool_for: Duration = "5m"
    ocean_hashrate_shortfall_for: Duration = "1h"
    ocean_worker_silent_for: Duration = "10m"
    market_price_sources_disagree_for: Duration = "30m"
    ledger_failing_for: Duration = "15m"

    # how long an alert keeps firing after its condition clears (flapping)
    keep_firing_for: Duration = "5m"
