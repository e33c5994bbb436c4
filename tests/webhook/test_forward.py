"""Forwarding: matchers, channel payloads, the outbox's retries, max_age, dedupe and restarts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alertmanager.receiver.channels import check_template, ntfy, render, teams, webhook
from alertmanager.receiver.forward import ForwardConfig, forwarder, parse_matcher
from alertmanager.receiver.outbox import Deliverer, Outbox, OutboxCollector, Target
from hashwatch.config import ConfigError, parse_config
from tests.support.paths import REPO
from tests.support.processes import free_port


@dataclass
class Event:
    fingerprint: str = "abc123"
    status: str = "firing"
    starts_at: str = "2024-05-01T10:00:00Z"
    ends_at: str | None = None
    alertname: str = "MinerDown"
    severity: str = "critical"
    labels: dict = field(default_factory=lambda: {"alertname": "MinerDown", "severity": "critical", "site": "north"})
    annotations: dict = field(
        default_factory=lambda: {"summary": "miner 7 down", "description": "no reply", "runbook_url": "https://rb/7"}
    )


class Destination:
    """An HTTP server on 127.0.0.1 answering from a script (status, headers), then 200."""

    def __init__(self, port: int = 0, script: list[tuple[int, dict]] | None = None):
        self.script = list(script or [])
        self.requests: list[tuple[float, dict, bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append((time.monotonic(), dict(self.headers), body))
                status, headers = owner.script.pop(0) if owner.script else (200, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()



# -- matchers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, labels, expected",
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity!="info"', {"severity": "warning"}, True),
        ('severity!="info"', {}, True),
        ('site=~"north|south"', {"site": "south"}, True),
        ('site=~"north|south"', {"site": "northeast"}, False),  # anchored
        ('site=~"north"', {"site": "the north"}, False),
        ('site!~"lab.*"', {"site": "lab-2"}, False),
        ('site!~"lab.*"', {"site": "north"}, True),
        ('team=""', {}, True),  # a missing label is the empty string
        ('team=~".+"', {}, False),
        ("  severity = critical ", {"severity": "critical"}, True),  # unquoted, spaces
        (r'msg="say \"hi\""', {"msg": 'say "hi"'}, True),
    ],
)
def test_matchers(text, labels, expected):
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["severity", '="x"', 'a=="x"', 'a=~"("', 'a="unclosed', "1a=x", 'a="x" b="y"'])
def test_bad_matchers_are_refused(text):
    with pytest.raises(ValueError):
        parse_matcher(text)


def test_config_validates_matchers_templates_urls_and_names(tmp_path):
    good = {"destinations": [{"name": "t", "kind": "teams", "url": "https://x/y", "matchers": ['a="b"']}]}
    assert parse_config(ForwardConfig, good).destinations[0].max_age_seconds == 86400
    for bad in (
        {"name": "t", "kind": "teams", "url": "https://x", "matchers": ['a=~"("']},
        {"name": "t", "kind": "teams", "url": "https://x", "template": "{labels.__class__}"},
        {"name": "t", "kind": "teams", "url": "https://x", "template": "{secret}"},
        {"name": "t", "kind": "slack", "url": "https://x"},
        {"name": "t", "kind": "teams"},
        {"name": "t", "kind": "teams", "url": "ftp://x"},
        {"name": "t", "kind": "teams", "url": "https://x", "max_age_seconds": "60"},
    ):
        with pytest.raises(ConfigError):
            parse_config(ForwardConfig, {"destinations": [bad]})
    twice = {"destinations": [good["destinations"][0], good["destinations"][0]]}
    with pytest.raises(ConfigError, match="unique"):
        parse_config(ForwardConfig, twice)
    secret = tmp_path / "url"
    secret.write_text("https://hooks.example/abc\n")
    cfg = parse_config(ForwardConfig, {"destinations": [{"name": "s", "kind": "ntfy", "url_file": str(secret)}]})
    assert cfg.targets()["s"].url == "https://hooks.example/abc"
    secret.write_text("not a url")
    with pytest.raises(ConfigError, match="url_file"):
        cfg.targets()


# -- channels ---------------------------------------------------------------------------


def test_template_rendering():
    text = render("[{status}] {alertname} {labels}: {summary} / {description} -> {runbook_url}", Event())
    assert text == "[firing] MinerDown alertname=MinerDown, severity=critical, site=north: miner 7 down / no reply -> https://rb/7"
    for bad in ("{0}", "{labels[x]}", "{summary!a}", "{summary:d}", "{"):
        with pytest.raises(ValueError):
            check_template(bad)


def test_teams_is_an_adaptive_card_message():
    message = teams(Event(), "miner 7 down")
    data = json.loads(message.body)
    assert message.headers["Content-Type"] == "application/json"
    assert data["type"] == "message"
    (attachment,) = data["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == "[FIRING] MinerDown" and card["body"][1]["text"] == "miner 7 down"
    assert {"title": "site", "value": "north"} in card["body"][2]["facts"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open runbook", "url": "https://rb/7"}]
    no_runbook = json.loads(teams(Event(annotations={}), "x").body)["attachments"][0]["content"]
    assert "actions" not in no_runbook


def test_ntfy_headers():
    message = ntfy(Event(), "miner 7 down")
    assert message.body == b"miner 7 down"
    assert message.headers["Title"] == "[FIRING] MinerDown"
    assert message.headers["Priority"] == "5"
    assert message.headers["Tags"] == "warning,critical"
    assert message.headers["Click"] == "https://rb/7"
    assert ntfy(Event(severity="warning"), "x").headers["Priority"] == "4"
    assert ntfy(Event(severity="info"), "x").headers["Priority"] == "3"
    resolved = ntfy(Event(status="resolved"), "x").headers
    assert resolved["Priority"] == "2" and resolved["Tags"].startswith("white_check_mark")
    assert ntfy(Event(alertname="Mineur arrêté"), "x").headers["Title"].startswith("=?UTF-8?B?")
    assert "Click" not in ntfy(Event(annotations={}), "x").headers


def test_webhook_is_the_event_as_json():
    data = json.loads(webhook(Event(), "text").body)
    assert data == {
        "fingerprint": "abc123", "status": "firing", "alertname": "MinerDown", "severity": "critical",
        "starts_at": "2024-05-01T10:00:00Z", "ends_at": "",
        "labels": Event().labels, "annotations": Event().annotations, "text": "text",
    }


# -- forwarder and outbox ------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """The receiver's own event shape: epoch-second times, alertname and severity only in labels."""

    fingerprint: str
    status: str
    starts_at: float
    ends_at: float | None
    labels: dict
    annotations: dict
    superseded: bool = False


def test_events_shaped_like_the_receivers_store(tmp_path):
    labels = {"alertname": "HashrateLow", "severity": "critical", "site": "north"}
    event = StoredEvent("f1", "firing", 1714557600.0, None, labels, {"summary": "low"})
    data = json.loads(webhook(event, render("{alertname}/{severity}/{starts_at}", event)).body)
    assert data["alertname"] == "HashrateLow" and data["severity"] == "critical"
    assert data["starts_at"] == "2024-05-01T10:00:00Z" and data["text"] == "HashrateLow/critical/2024-05-01T10:00:00Z"
    assert ntfy(event, "x").headers["Priority"] == "5"
    outbox = Outbox(tmp_path / "o.db")
    callback = forwarder(_config("http://127.0.0.1:9/x"), outbox)
    assert callback([event]) == 1
    late = StoredEvent("f2", "firing", 1714557600.0, None, labels, {}, superseded=True)
    assert callback([late]) == 0


def _config(url: str, **extra) -> ForwardConfig:
    destinations = [
        {"name": "crit", "kind": "webhook", "url": url, "matchers": ['severity="critical"'], **extra},
        {"name": "south", "kind": "ntfy", "url": url, "matchers": ['site=~"south|west"']},
    ]
    return parse_config(ForwardConfig, {"destinations": destinations})


def test_routing_and_duplicate_enqueue_is_a_no_op(tmp_path):
    outbox = Outbox(tmp_path / "o.db")
    callback = forwarder(_config("http://127.0.0.1:9/x"), outbox, clock=lambda: 1000.0)
    assert callback([Event()]) == 1  # critical, north: only "crit"
    assert callback([Event()]) == 0  # Alertmanager sent it again
    assert callback([Event(severity="warning", labels={"site": "west"})]) == 1
    assert callback([Event(status="resolved")]) == 1  # a new status is a new message
    assert outbox.counts()["pending"] == 3
    assert outbox.enqueue("crit", b"x", {}, "k", 60) is True
    assert outbox.enqueue("crit", b"y", {}, "k", 60) is False
    row = next(r for r in outbox.due(10, 2000.0) if r.destination == "crit")
    assert len(row.headers["Idempotency-Key"]) == 32


def test_down_then_429_then_500_then_delivered_once(tmp_path):
    port = free_port()  # nothing listens yet: connection refused
    clock = [1000.0]
    outbox = Outbox(tmp_path / "o.db", clock=lambda: clock[0])
    url = f"http://127.0.0.1:{port}/hook"
    deliverer = Deliverer(outbox, {"d": Target(url, 2.0)}, backoff_base=10, jitter=0.2, rng=random.Random(1))
    outbox.enqueue("d", b'{"a":1}', {"Content-Type": "application/json"}, "key", 3600)

    deliverer.run_once()
    state, attempts, next_at, error = outbox.state_of("key")
    assert (state, attempts) == ("pending", 1) and "Refused" in error
    assert 1000 + 8 <= next_at <= 1000 + 12  # base 10 ± 20 %
    clock[0] = next_at - 0.5
    assert deliverer.run_once() == 0  # not due yet

    destination = Destination(port, [(429, {"Retry-After": "7"}), (500, {})])
    try:
        clock[0] = next_at
        deliverer.run_once()
        _, attempts, next_at_2, error = outbox.state_of("key")
        assert attempts == 2 and next_at_2 == clock[0] + 7 and error == "HTTP 429"  # Retry-After, no jitter
        clock[0] = next_at_2
        deliverer.run_once()
        _, attempts, next_at_3, _ = outbox.state_of("key")
        assert attempts == 3 and clock[0] + 32 <= next_at_3 <= clock[0] + 48  # 10 × 2² ± 20 %
        clock[0] = next_at_3
        deliverer.run_once()
        assert outbox.state_of("key")[0] == "sent"
        clock[0] += 10_000
        deliverer.run_once()
        assert [r[2] for r in destination.requests] == [b'{"a":1}'] * 3  # 429, 500, 200: one delivery
    finally:
        destination.close()
    assert outbox.forwarded["d"] == 1 and outbox.retries["d"] == 3 and outbox.failed["d"] == 0


def test_the_thread_retries_with_real_time_and_stops(tmp_path):
    destination = Destination(script=[(503, {}), (500, {})])
    try:
        outbox = Outbox(tmp_path / "o.db")
        deliverer = Deliverer(outbox, {"d": Target(destination.url, 2.0)}, backoff_base=0.1, poll_interval=0.02)
        outbox.enqueue("d", b"hello", {}, "k", 60)
        deliverer.start()
        deadline = time.monotonic() + 10
        while outbox.counts()["sent"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        deliverer.stop()
        assert outbox.counts() == {"pending": 0, "sent": 1, "failed": 0}
        times = [r[0] for r in destination.requests]
        assert len(times) == 3
        assert times[1] - times[0] >= 0.08 - 0.01 and times[2] - times[1] >= 0.16 - 0.02  # 0.1, 0.2 ± 20 %
    finally:
        destination.close()


def test_failing_past_max_age_is_marked_failed_and_counted(tmp_path):
    clock = [0.0]
    outbox = Outbox(tmp_path / "o.db", clock=lambda: clock[0])
    calls = []

    def send(url, body, headers, timeout):
        calls.append(clock[0])
        from alertmanager.receiver.outbox import Outcome

        return Outcome(503)

    deliverer = Deliverer(outbox, {"d": Target("http://x", 1.0)}, backoff_base=10, jitter=0, send=send)
    outbox.enqueue("d", b"x", {}, "k", max_age=100)
    for _ in range(10):
        deliverer.run_once()
        _, _, next_at, _ = outbox.state_of("k")
        clock[0] = max(clock[0], next_at)
    assert calls == [0, 10, 30, 70]  # the next would be at 150, past the 100 s max_age
    state, attempts, _, error = outbox.state_of("k")
    assert state == "failed" and attempts == 4 and "max_age" in error
    assert outbox.failed["d"] == 1

    registry = CollectorRegistry()
    registry.register(OutboxCollector(outbox, ["d", "idle"]))
    text = generate_latest(registry).decode()
    assert 'hashwatch_webhook_forward_failed_total{destination="d"} 1.0' in text
    assert 'hashwatch_webhook_forward_retries_total{destination="d"} 3.0' in text
    assert 'hashwatch_webhook_forwarded_total{destination="idle"} 0.0' in text
    assert "hashwatch_webhook_outbox_depth 0.0" in text and "hashwatch_webhook_outbox_failed 1.0" in text


def test_a_4xx_or_an_unknown_destination_fails_at_once(tmp_path):
    destination = Destination(script=[(400, {})])
    try:
        outbox = Outbox(tmp_path / "o.db")
        deliverer = Deliverer(outbox, {"d": Target(destination.url, 2.0)})
        outbox.enqueue("d", b"x", {}, "k1", 60)
        outbox.enqueue("gone", b"x", {}, "k2", 60)
        deliverer.run_once()
        assert outbox.state_of("k1")[0] == "failed" and outbox.state_of("k1")[3] == "HTTP 400"
        assert outbox.state_of("k2")[0] == "failed" and "no longer configured" in outbox.state_of("k2")[3]
        assert len(destination.requests) == 1
    finally:
        destination.close()


_CHILD = """
import sys, time
from alertmanager.receiver.forward import ForwardConfig, forwarder
from alertmanager.receiver.outbox import Deliverer, Outbox
from hashwatch.config import parse_config
from tests.webhook.test_forward import Event
cfg = parse_config(ForwardConfig, {"destinations": [{"name": "d", "kind": "webhook", "url": sys.argv[2]}]})
outbox = Outbox(sys.argv[1])
forwarder(cfg, outbox)([Event(fingerprint=f"f{i}") for i in range(20)])
Deliverer(outbox, cfg.targets(), batch=5).run_once()
print("ready", flush=True)
time.sleep(60)
"""


def test_kill_9_then_restart_delivers_every_row_exactly_once(tmp_path):
    destination = Destination()
    try:
        path = tmp_path / "o.db"
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), destination.url],
            cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert child.stdout.readline().strip() == "ready"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        assert len(destination.requests) == 5

        outbox = Outbox(path)  # the restart: the same notification again, then delivery
        cfg = parse_config(ForwardConfig, {"destinations": [{"name": "d", "kind": "webhook", "url": destination.url}]})
        assert forwarder(cfg, outbox)([Event(fingerprint=f"f{i}") for i in range(20)]) == 0
        assert outbox.counts() == {"pending": 15, "sent": 5, "failed": 0}
        deliverer = Deliverer(outbox, cfg.targets(), batch=7)
        while deliverer.run_once():
            pass
        fingerprints = sorted(json.loads(body)["fingerprint"] for _, _, body in destination.requests)
        assert fingerprints == sorted(f"f{i}" for i in range(20))
        keys = [headers["Idempotency-Key"] for _, headers, _ in destination.requests]
        assert len(set(keys)) == 20
        assert outbox.counts() == {"pending": 0, "sent": 20, "failed": 0}
    finally:
        destination.close()
