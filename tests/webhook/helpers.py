"""Fixture payloads for the webhook tests, and variations of them built in code."""

from __future__ import annotations

import copy
import json

from tests.support.paths import FIXTURES_DIR

AM = FIXTURES_DIR / "alertmanager"


def load(name: str) -> dict:
    return json.loads((AM / name).read_text())


def body(data: dict) -> bytes:
    return json.dumps(data).encode()


def alert_payload(status: str, labels: dict, starts: str, ends: str = "0001-01-01T00:00:00Z",
                  fingerprint: str | None = None, annotations: dict | None = None) -> dict:
    """A v4 notification of one alert, in the 2022 capture's shape."""
    data = copy.deepcopy(load("webhook_v4_firing_2022_with_truncatedAlerts.json"))
    alert = data["alerts"][0]
    alert.update(status=status, labels=labels, startsAt=starts, endsAt=ends, annotations=annotations or {})
    if fingerprint is None:
        alert.pop("fingerprint")
    else:
        alert["fingerprint"] = fingerprint
    data.update(status=status, commonLabels=labels)
    return data
