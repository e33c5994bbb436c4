"""Alertmanager in HA on loopback: clustered (gossip) or unclustered members, a receiver that notes who delivered what.

ClusterMember: Debian's prometheus-alertmanager (0.25) on its own loopback address, web and
gossip on free ports of that address, `--web.external-url` naming the member (Alertmanager
puts it in every webhook body as `externalURL`, which is how a delivery is traced to its
sender). Clustered members get `--cluster.peer` to each other and short gossip, probe and
peer timers so the pair converges, deduplicates and notices a dead peer within seconds;
an unclustered member gets `--cluster.listen-address=` (no gossip at all).

RecordingReceiver: the real webhook receiver (alertmanager.receiver: build, waitress) whose
WSGI app is wrapped by a recorder: every POST /alerts is noted (sender, the alert events it
carried keyed as the store keys them, the answer's status) before the real app handles it.
The store decides what is recorded; the recorder only observes deliveries.

SeriesTarget: a prometheus_client registry served over HTTP, a gauge the test sets, so a
real Prometheus evaluates real alerting rules on series the test controls.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from waitress.server import create_server

from alertmanager.receiver.config import WebhookConfig
from alertmanager.receiver.payload import PayloadError, parse
from alertmanager.receiver.server import build, stop
from alertmanager.receiver.store import events_of
from tests.support.processes import ServerProcess

# Gossip timers for a loopback pair: each is far below Alertmanager's default (peer-timeout 15s,
# gossip 200ms, push-pull 1m, probe 1s/500ms, settle 1m), so a test sees in seconds what a
# production pair does in a minute. peer_timeout is the wait per cluster position before a
# member checks the shared notification log and sends what its peers have not: it must exceed
# a delivery plus one gossip round (here ~10 ms + 50 ms).
TIMING = {
    "gossip-interval": "50ms",
    "pushpull-interval": "1s",
    "peer-timeout": "1s",
    "probe-interval": "200ms",
    "probe-timeout": "100ms",
    "settle-timeout": "3s",
    "reconnect-interval": "1s",
    "reconnect-timeout": "5s",
}
PEER_TIMEOUT_SECONDS = 1.0
POLL_SECONDS = 0.2


def free_port_on(host: str) -> int:
    """A port free for TCP on this loopback address (memberlist also needs UDP on it; free in practice)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def alertmanager_binary() -> str:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("alertmanager not found: install Debian's prometheus-alertmanager package")
    return binary



def scraped_sum(url: str, name: str, **labels: str) -> float:
    """Sum of the samples named `name` with these labels on url/metrics (0 when there are none)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )

class ClusterMember(ServerProcess):
    """One Alertmanager on `host`; `gossip_port` None: unclustered. `peers`: host:port of the others' gossip."""

    name = "alertmanager"

    def __init__(self, workdir: Path, config_path: Path, host: str, *, web_port: int,
                 gossip_port: int | None = None, peers: tuple[str, ...] = ()):
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.url = f"http://{host}:{web_port}"
        argv = [
            alertmanager_binary(),
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={host}:{web_port}",
            f"--web.external-url={self.url}",
            "--log.level=debug",
        ]
        if gossip_port is None:
            argv.append("--cluster.listen-address=")
        else:
            argv += [f"--cluster.listen-address={host}:{gossip_port}",
                     f"--cluster.advertise-address={host}:{gossip_port}"]
            argv += [f"--cluster.peer={peer}" for peer in peers]
            argv += [f"--cluster.{flag}={value}" for flag, value in TIMING.items()]
        self.argv = argv
        super().__init__(workdir, argv, f"{self.url}/-/ready")

    def status(self) -> dict[str, Any]:
        response = requests.get(f"{self.url}/api/v2/status", timeout=5)
        response.raise_for_status()
        return response.json()

    def cluster(self) -> dict[str, Any]:
        """{"name", "status" (ready/settling/disabled), "peers": [{"name", "address"}]}."""
        return self.status()["cluster"]

    def alerts(self) -> list[dict[str, Any]]:
        """Active (unresolved) alerts this member holds."""
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        response.raise_for_status()
        return response.json()

    def counter(self, metric: str, **labels: str) -> float:
        """Sum of one of the member's own metric samples matching the labels (0 when absent)."""
        return scraped_sum(self.url, metric, **labels)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster, no flush of anything in flight."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def start_pair(workdir: Path, config_path: Path, hosts: tuple[str, str], clustered: bool) -> list[ClusterMember]:
    """Two members on two loopback addresses; clustered ones peer with each other (each names the other)."""
    web = [free_port_on(host) for host in hosts]
    gossip = [free_port_on(host) for host in hosts] if clustered else [None, None]
    members: list[ClusterMember] = []
    try:
        for i, host in enumerate(hosts):
            other = 1 - i
            peers = (f"{hosts[other]}:{gossip[other]}",) if clustered else ()
            members.append(ClusterMember(workdir / f"am-{i}", config_path, host, web_port=web[i],
                                         gossip_port=gossip[i], peers=peers))
    except BaseException:
        for member in members:
            member.stop()
        raise
    return members


def wait_until(what: str, check, timeout: float) -> Any:
    """Poll check() until it returns something truthy; AssertionError naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s; last: {value!r}")
        time.sleep(POLL_SECONDS)


def wait_converged(members: list[ClusterMember], timeout: float = 15) -> None:
    """Every member sees all of them as peers and has settled (status "ready")."""
    def converged() -> bool:
        states = [member.cluster() for member in members]
        return all(s["status"] == "ready" and len(s.get("peers") or []) == len(members) for s in states)
    wait_until(f"cluster of {[m.url for m in members]} converged", converged, timeout)


def position_order(members: list[ClusterMember]) -> list[ClusterMember]:
    """Members by cluster position: Alertmanager sorts peer names; position n waits n × peer-timeout."""
    return sorted(members, key=lambda member: member.cluster()["name"])


# ---------------------------------------------------------------- the receiver, observed


Key = tuple[str, str, float]  # (fingerprint, status, starts_at): the store's identity of an event


@dataclass(frozen=True)
class Delivery:
    at: float  # time.monotonic() when the request reached the app (its body read by waitress)
    sender: str  # the notification's externalURL: which Alertmanager sent it
    group_key: str
    keys: tuple[Key, ...]
    labels: tuple[dict[str, str], ...]
    status_code: int


@dataclass
class RecordingReceiver:
    """The real receiver served by waitress on `host`, every POST /alerts noted in `deliveries`."""

    config: WebhookConfig
    host: str = "127.0.0.1"
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.receiver, app = build(self.config)
        self._lock = threading.Lock()
        self._server = create_server(self._recorder(app), host=self.host, port=0, threads=8)
        self.url = f"http://{self.host}:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()

    def _recorder(self, app):
        def wsgi(environ, start_response):
            if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/alerts":
                return app(environ, start_response)
            arrived = time.monotonic()
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            answered: list[int] = []

            def noting_start(status: str, headers, exc_info=None):
                answered.append(int(status.split()[0]))
                return start_response(status, headers, exc_info)

            result = app(environ, noting_start)
            self._note(arrived, body, answered[0] if answered else 0)
            return result
        return wsgi

    def _note(self, arrived: float, body: bytes, status_code: int) -> None:
        try:
            notification = parse(body)
        except PayloadError:
            sender = ""
            try:
                sender = json.loads(body).get("externalURL", "")
            except (ValueError, AttributeError):
                pass
            delivery = Delivery(arrived, sender, "", (), (), status_code)
        else:
            events = events_of(notification, time.time())
            delivery = Delivery(arrived, notification.external_url, notification.group_key,
                                tuple((e.fingerprint, e.status, e.starts_at) for e in events),
                                tuple(e.labels for e in events), status_code)
        with self._lock:
            self.deliveries.append(delivery)

    def since(self, moment: float) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.at >= moment]

    def events(self, **params: Any) -> list[dict[str, Any]]:
        """The receiver's history API (/api/v1/events), up to 10,000 events."""
        response = requests.get(f"{self.url}/api/v1/events", params={"limit": 10_000, **params}, timeout=10)
        response.raise_for_status()
        return response.json()["events"]

    def metric(self, name: str, **labels: str) -> float:
        return scraped_sum(self.url, name, **labels)

    def close(self) -> None:
        stop(self._server)
        self._thread.join(10)
        self._server.task_dispatcher.shutdown()
        self.receiver.close()


# ---------------------------------------------------------------- series the test controls


class SeriesTarget:
    """`gauge` served at http://host:port/metrics by prometheus_client's own HTTP server."""

    def __init__(self, host: str, name: str, documentation: str, labelnames: tuple[str, ...]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.gauge = Gauge(name, documentation, labelnames, registry=self.registry)
        self._httpd, self._thread = start_http_server(0, addr=host, registry=self.registry)
        self.address = f"{host}:{self._httpd.server_port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
