"""The receiver over HTTP, on a real waitress server: auth, limits, validation, idempotency, pages, metrics."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from alertmanager.receiver.app import Receiver, create_app
from alertmanager.receiver.config import AuthConfig, BasicAuth, WebhookConfig
from hashwatch.config import ConfigError
from tests.support.promtool import check_metrics
from tests.support.wsgi_server import ReceiverThread
from tests.webhook.helpers import AM, alert_payload, body

FIRING = (AM / "webhook_v4_firing_2022_with_truncatedAlerts.json").read_bytes()
TOKEN = "s3cret-token"


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("HW_WEBHOOK_TOKEN", TOKEN)
    return WebhookConfig(db_path=tmp_path / "events.db", auth=AuthConfig(bearer_token_env="HW_WEBHOOK_TOKEN"),
                         max_body_bytes=4096)


@pytest.fixture
def server(config):
    with ReceiverThread(config) as running:
        yield running


def post(server, data: bytes, token: str | None = TOKEN, **headers) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{server.url}/alerts", data=data, headers=headers, timeout=10)


def test_stores_then_recognises_the_repeat(server):
    first = post(server, FIRING)
    assert first.status_code == 200 and first.json()["new_events"] == 1
    assert post(server, FIRING).json()["new_events"] == 0
    events = requests.get(f"{server.url}/api/v1/events", timeout=10).json()["events"]
    assert [e["fingerprint"] for e in events] == ["948c667b1fc76492"]


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_bad_auth_is_401_and_stores_nothing(server, token):
    answer = post(server, FIRING, token=token)
    assert answer.status_code == 401 and "Bearer" in answer.headers["WWW-Authenticate"]
    assert server.receiver.store.count() == 0


def test_basic_auth_from_a_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    auth = AuthConfig(basic=BasicAuth(username="alertmanager", password_file=secret))
    with ReceiverThread(WebhookConfig(db_path=tmp_path / "e.db", auth=auth)) as server:
        good = requests.post(f"{server.url}/alerts", data=FIRING, auth=("alertmanager", "hunter2"), timeout=10)
        bad = requests.post(f"{server.url}/alerts", data=FIRING, auth=("alertmanager", "hunter3"), timeout=10)
        junk = post(server, FIRING, token=None, Authorization="Basic !!!")
    assert (good.status_code, bad.status_code, junk.status_code) == (200, 401, 401)


def test_missing_secret_is_a_config_error_naming_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("HW_NOPE", raising=False)
    with pytest.raises(ConfigError, match="bearer_token_env"):
        WebhookConfig(auth=AuthConfig(bearer_token_env="HW_NOPE")).credentials()
    with pytest.raises(ConfigError, match="password_file"):
        WebhookConfig(auth=AuthConfig(basic=BasicAuth(username="a", password_file=tmp_path / "x"))).credentials()
    with pytest.raises(ValueError, match="exactly one"):
        AuthConfig(bearer_token_env="A", basic=BasicAuth(username="a", password_env="B"))


def test_oversized_body_is_413(server):
    big = body(alert_payload("firing", {"alertname": "Big", "x": "y" * 5000}, "2024-01-01T00:00:00Z"))
    assert post(server, big).status_code == 413
    chunked = post(server, iter([big[:3000], big[3000:]]))  # no Content-Length
    assert chunked.status_code == 413
    assert server.receiver.store.count() == 0


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"not json", "not JSON"), (b"[]", "JSON object"), (b'{"version": "4", "status": "firing"}', "alerts")],
)
def test_malformed_is_400_with_the_reason(server, data, reason):
    answer = post(server, data)
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_ten_concurrent_redeliveries_store_one_event(server):
    got = []
    server.receiver.on_new_events(got.append)
    barrier = threading.Barrier(10)

    def deliver(_):
        barrier.wait()
        return post(server, FIRING)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(deliver, range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sum(a.json()["new_events"] for a in answers) == 1
    assert server.receiver.store.count() == 1
    assert server.receiver.drain() and len(got) == 1 and len(got[0]) == 1


def test_callbacks_run_after_the_commit_and_cannot_fail_the_request(server):
    seen = []

    def broken(events):
        raise RuntimeError("forwarding is down")

    def check(events):  # the events are already in the database when a callback sees them
        seen.append((events[0].status, server.receiver.store.count()))

    server.receiver.on_new_events(broken)
    server.receiver.on_new_events(check)
    labels = {"alertname": "MinerDown", "miner": "m1"}
    assert post(server, body(alert_payload("firing", labels, "2024-01-01T00:00:00Z"))).status_code == 200
    assert post(server, body(alert_payload("firing", labels, "2024-01-01T00:00:00Z"))).status_code == 200
    assert server.receiver.drain()
    assert seen == [("firing", 1)]  # the repeat brought nothing new
    assert server.receiver.callback_errors._value.get() == 1


def test_history_api_filters_and_durations(server):
    labels = {"alertname": "MinerHashrateLow", "severity": "warning", "site": "austin", "miner": "m7"}
    post(server, body(alert_payload("resolved", labels, "2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z")))
    post(server, body(alert_payload("firing", labels, "2024-01-01T10:00:00Z")))
    post(server, body(alert_payload("firing", {**labels, "site": "dallas"}, "2024-01-02T10:00:00Z")))
    api = f"{server.url}/api/v1"
    austin = requests.get(f"{api}/events", params={"site": "austin", "status": "resolved"}, timeout=10).json()
    assert [e["duration_seconds"] for e in austin["events"]] == [300]
    ranged = requests.get(f"{api}/events", params={"since": "2024-01-02T00:00:00Z"}, timeout=10).json()
    assert [e["labels"]["site"] for e in ranged["events"]] == ["dallas"]
    assert len(requests.get(f"{api}/events", params={"limit": 1}, timeout=10).json()["events"]) == 1
    (row,) = requests.get(f"{api}/summary", timeout=10).json()["alerts"]
    assert row == {"alertname": "MinerHashrateLow", "firing": 2, "resolved": 1,
                   "mean_time_to_resolve_seconds": 300.0, "max_time_to_resolve_seconds": 300.0}
    bad = requests.get(f"{api}/events", params={"since": "last tuesday"}, timeout=10)
    assert bad.status_code == 400


def test_the_page_escapes_labels(server):
    evil = {"alertname": "<script>alert(1)</script>", "miner": '"><img src=x onerror=alert(2)>'}
    post(server, body(alert_payload("firing", evil, "2024-01-01T00:00:00Z", annotations={"summary": "<b>x</b>"})))
    page = requests.get(server.url, timeout=10).text
    assert "<script>" not in page and "<img" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_metrics_pass_promtool_and_count(server):
    post(server, FIRING)
    post(server, FIRING)
    post(server, b"{}")
    post(server, FIRING, token="nope")
    text = requests.get(f"{server.url}/metrics", timeout=10)
    assert text.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert check_metrics(text.content) == ""
    for line in (
        'hashwatch_build_info{service="webhook",version="',
        'hashwatch_webhook_notifications_received_total{result="stored"} 1.0',
        'hashwatch_webhook_notifications_received_total{result="duplicate"} 1.0',
        'hashwatch_webhook_notifications_received_total{result="invalid"} 1.0',
        'hashwatch_webhook_notifications_received_total{result="unauthorized"} 1.0',
        'hashwatch_webhook_events_stored_total{status="firing"} 1.0',
        "hashwatch_webhook_duplicates_total 1.0",
        "hashwatch_webhook_request_duration_seconds_count 4.0",
        "process_resident_memory_bytes",
    ):
        assert line in text.text, line
    assert "_created" not in text.text


def test_health_and_readiness(config):
    receiver = Receiver(config)
    client = create_app(receiver).test_client()
    assert client.get("/-/healthy").status_code == 200
    assert client.get("/-/ready").status_code == 503
    assert client.get("/api/v1/events").status_code == 503
    receiver.open()
    assert client.get("/-/ready").status_code == 200
    receiver.close()


def test_answers_fast_while_a_callback_is_slow(server):
    release = threading.Event()
    server.receiver.on_new_events(lambda events: release.wait(10))
    started = time.monotonic()
    assert post(server, FIRING).status_code == 200
    assert time.monotonic() - started < 2
    release.set()
    assert server.receiver.drain()

