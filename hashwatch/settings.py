"""hashwatch.yml as a whole: one optional section per service."""

from __future__ import annotations

from pydantic import Field

from exporters.cgminer.config import CgminerConfig

from .config import StrictModel


class HashwatchConfig(StrictModel):
    cgminer: CgminerConfig = Field(default_factory=CgminerConfig)
