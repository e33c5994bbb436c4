"""The v4 body: real captures parse; what is missing or wrong is a PayloadError with a reason."""

from __future__ import annotations

import json

import pytest

from alertmanager.receiver.payload import PayloadError, label_fingerprint, parse, parse_time
from tests.webhook.helpers import AM, load


def test_firing_capture_2019_without_fingerprint_or_truncated_alerts():
    notification = parse((AM / "webhook_v4_firing_2019_alertmonitor.json").read_bytes())
    assert notification.status == "firing" and len(notification.alerts) == 3
    alert = notification.alerts[0]
    assert alert.labels["instance"] == "172.29.254.30"
    assert alert.ends_at is None  # Go's zero time
    assert alert.starts_at.isoformat() == "2019-09-27T16:27:56.612666+00:00"  # nanoseconds cut to micro
    assert "\u0026" in alert.generator_url or "&" in alert.generator_url
    assert len({a.key_fingerprint() for a in notification.alerts}) == 3


def test_resolved_capture_and_truncated_alerts():
    resolved = parse((AM / "webhook_v4_resolved_2019_alertmonitor_HANDEDITED.json").read_bytes())
    assert resolved.status == "resolved" and {a.status for a in resolved.alerts} == {"resolved"}
    modern = parse((AM / "webhook_v4_firing_2022_with_truncatedAlerts.json").read_bytes())
    assert modern.truncated_alerts == 0 and modern.group_key == "{}:{}"
    assert modern.alerts[0].fingerprint == "948c667b1fc76492"


def test_fingerprint_computed_as_alertmanager_does():
    # The 2022 capture carries Alertmanager's own fingerprint of its labels.
    data = load("webhook_v4_firing_2022_with_truncatedAlerts.json")
    alert = data["alerts"][0]
    assert label_fingerprint(alert["labels"]) == alert["fingerprint"]
    del alert["fingerprint"]
    assert parse(json.dumps(data).encode()).alerts[0].key_fingerprint() == "948c667b1fc76492"


def test_legacy_payload_with_varying_fraction_digits():
    notification = parse((AM / "webhook_legacy_prom2teams_all_ok_multiple.json").read_bytes())
    assert all(a.status == "resolved" and a.ends_at is not None for a in notification.alerts)


def test_unknown_fields_are_accepted():
    data = load("webhook_v4_firing_2022_with_truncatedAlerts.json")
    data.update(notification_reason="repeat", routeLabels={"a": "b"})
    data["alerts"][0]["somethingNew"] = 1
    assert parse(json.dumps(data).encode()).receiver == "webhook_receiver"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.update(version="3"), "version"),
        (lambda d: d.update(alerts=[]), "alerts"),
        (lambda d: d["alerts"][0].pop("startsAt"), "alerts.0.startsAt"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda d: d["alerts"][0].update(startsAt="0001-01-01T00:00:00Z"), "zero time"),
        (lambda d: d["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda d: d["alerts"][0]["labels"].update(severity=3), "alerts.0.labels.severity"),
        (lambda d: d.update(truncatedAlerts=-1), "truncatedAlerts"),
    ],
)
def test_malformed_payloads_name_the_field(change, reason):
    data = load("webhook_v4_firing_2022_with_truncatedAlerts.json")
    change(data)
    with pytest.raises(PayloadError, match=reason):
        parse(json.dumps(data).encode())


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"\xff\xfe", b"null"])
def test_not_a_json_object(raw):
    with pytest.raises(PayloadError):
        parse(raw)


def test_parse_time():
    assert parse_time("2017-05-09T07:01:37.80371Z").microsecond == 803710
    assert parse_time("2022-10-04T15:32:56.014+02:00").hour == 13
    assert parse_time("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError):
        parse_time("2022-10-04T13:32:56")  # no zone
