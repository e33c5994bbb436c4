"""Electricity prices: a flat rate or a time-of-use schedule, per site, in any currency.

A schedule is a list of periods (weekdays and an hour range in the site's time
zone); the first period that covers the moment gives the rate, and the flat
`rate` covers the rest. A range may cross midnight ("22:00-06:00"). PUE, the
overhead for cooling and infrastructure, multiplies the miners' own power.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from hashwatch.config import ConfigSection, currency_code

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not HH:MM")
    if hours == "24" and minutes == "00":
        return time.max
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00 to 24:00)")
    return time(int(hours), int(minutes))


class Period(ConfigSection):
    """One time-of-use period, e.g. {hours: "17:00-21:00", weekdays: [mon, tue, wed, thu, fri], rate: 0.21}."""

    hours: str = Field(description='"HH:MM-HH:MM" in the site\'s time zone; may cross midnight')
    weekdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    rate: float = Field(ge=0, description="price per kWh")

    @field_validator("hours")
    @classmethod
    def _range(cls, value: str) -> str:
        start, dash, end = value.partition("-")
        if not dash:
            raise ValueError(f"{value!r} is not a range like 22:00-06:00")
        if _clock(start) == _clock(end):
            raise ValueError(f"{value!r} is empty; use 00:00-24:00 for the whole day")
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [day.strip().lower()[:3] for day in value]
        unknown = [day for day in days if day not in WEEKDAYS]
        if unknown or not days:
            raise ValueError(f"weekdays must be among {', '.join(WEEKDAYS)}")
        return days

    def covers(self, local: datetime) -> bool:
        start_text, _, end_text = self.hours.partition("-")
        start, end, now = _clock(start_text), _clock(end_text), local.time()
        day = WEEKDAYS[local.weekday()]
        if start < end:
            return day in self.weekdays and start <= now < end
        # Across midnight: the evening part belongs to this weekday, the morning part to the previous one.
        if now >= start:
            return day in self.weekdays
        previous = WEEKDAYS[(local.weekday() - 1) % 7]
        return now < end and previous in self.weekdays


class Tariff(ConfigSection):
    currency: str = "USD"
    rate: float | None = Field(None, ge=0, description="flat price per kWh, and the price outside every period")
    periods: list[Period] = Field(default_factory=list, description="time-of-use periods, first match wins")
    timezone: str = "UTC"
    pue: float = Field(1.0, ge=1, le=3, description="site overhead: total power / miners' power")

    _currency = field_validator("currency")(lambda value: currency_code(value))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Oslo)") from None
        return value

    @model_validator(mode="after")
    def _some_price(self) -> Tariff:
        if self.rate is None and not self.periods:
            raise ValueError("give a flat `rate`, `periods`, or both")
        return self

    def rate_at(self, moment: datetime) -> float | None:
        """Price per kWh at `moment` (aware datetime); None when no period covers it and there is no flat rate."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        for period in self.periods:
            if period.covers(local):
                return period.rate
        return self.rate
