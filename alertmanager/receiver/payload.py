"""Alertmanager's webhook body (version "4"), validated strictly: what we need must be there.

Required: `version` "4", `status`, `alerts` (each with `status`, `labels`,
`startsAt`). Everything else Alertmanager sends or may add later
(`notification_reason`, `routeLabels`, ...) is accepted and ignored; older
Alertmanagers omit `fingerprint` and `truncatedAlerts`, so those are optional.
A missing fingerprint is computed as Alertmanager does (FNV-1a 64 over the
sorted label names and values, `model.LabelSet.Fingerprint`), so a delivery
with and one without it name the same alert.

`parse(body)` raises `PayloadError` with a one-line reason, which the HTTP
layer returns with status 400.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF
# Go's zero time.Time, which Alertmanager sends for "not set".
_GO_ZERO_YEAR = 1


class PayloadError(ValueError):
    """The body is not an Alertmanager v4 webhook notification; the message says why."""


def label_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set, as the 16 hex digits it sends."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def parse_time(text: str) -> datetime | None:
    """RFC 3339 with any number of fraction digits (Go writes up to 9) to UTC; None for Go's zero time."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, dot, rest = value.partition(".")
    if dot:  # keep 6 fraction digits: Python's datetime has microseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits == 0:
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        value = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    if moment.year <= _GO_ZERO_YEAR:
        return None
    return moment.astimezone(timezone.utc)


class _Lenient(BaseModel):
    """Unknown keys are accepted (Alertmanager adds fields); known ones are type-checked."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Alert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str = ""

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _time(cls, value: object, info: ValidationInfo) -> datetime | None:
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 time string")
        moment = parse_time(value)
        if moment is None and info.field_name == "starts_at":
            raise ValueError("is Go's zero time: an alert always has a start")
        return moment

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        if value and (len(value) > 64 or not all(c in "0123456789abcdef" for c in value.lower())):
            raise ValueError("must be hex digits")
        return value.lower()

    def key_fingerprint(self) -> str:
        return self.fingerprint or label_fingerprint(self.labels)


class Notification(_Lenient):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Alert] = Field(min_length=1)
    group_key: str = Field("", alias="groupKey")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    external_url: str = Field("", alias="externalURL")
    truncated_alerts: int = Field(0, alias="truncatedAlerts", ge=0)


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(body)"
    more = len(error.errors()) - 1
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "")


def parse(body: bytes) -> Notification:
    """The notification in `body`; PayloadError with the reason when it is not one."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"body must be a JSON object, got {type(data).__name__}")
    try:
        return Notification.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(_reason(exc)) from None
