"""Remediation: allow-listed actions behind dry-run, cooldown, caps and an audit that survives restarts."""

from __future__ import annotations

import json
import socket
import stat
import threading
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alertmanager.receiver.privileged import (
    PRIVILEGED_ALLOWED,
    PrivilegedCommandRefused,
    encode_privileged,
    send_privileged,
    split_target,
)
from alertmanager.receiver.remediation import (
    RemediationCollector,
    RemediationConfig,
    Remediator,
    label_env,
    remediator_callback,
)
from exporters.cgminer.commands import CommandNotAllowed, encode_request
from hashwatch.config import ConfigError, parse_config


@dataclass
class Event:
    alertname: str
    labels: dict[str, str]
    status: str = "firing"
    fingerprint: str = "f00d"
    starts_at: object = None
    ends_at: object = None
    severity: str = "critical"
    annotations: dict[str, str] = field(default_factory=dict)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class MinerStandIn:
    """A TCP 'miner' that records each JSON request and answers like cgminer (JSON, NUL, close)."""

    def __init__(self, reply: bytes = b'{"STATUS":[{"STATUS":"S","Code":7,"Msg":"Restart"}]}\x00'):
        self.reply = reply
        self.received: list[dict] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buffer = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buffer += chunk
                    try:
                        self.received.append(json.loads(buffer))
                        break
                    except ValueError:
                        continue
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def miner():
    stand_in = MinerStandIn()
    yield stand_in
    stand_in.close()


def _config(**overrides) -> RemediationConfig:
    data = {
        "enabled": True,
        "dry_run": False,
        "actions": [{"alertname": "MinerZeroHashrate", "kind": "cgminer", "command": "restart"}],
        "allowed_targets": ["127.0.0.0/8"],  # the stand-in miners listen on loopback
    }
    data.update(overrides)
    return parse_config(RemediationConfig, data)


def _zero(port: int, host: str = "127.0.0.1", label: str = "instance") -> Event:
    return Event("MinerZeroHashrate", {label: f"{host}:{port}", "alertname": "MinerZeroHashrate"})


def test_off_and_dry_run_by_default():
    config = RemediationConfig()
    assert (config.enabled, config.dry_run, config.actions) == (False, True, [])
    assert (config.cooldown_seconds, config.max_per_miner_per_day, config.max_fleet_per_hour) == (1800, 3, 10)


def test_disabled_does_nothing(tmp_path, miner):
    remediator = Remediator(_config(enabled=False), tmp_path / "r.db")
    assert remediator.consider([_zero(miner.port)]) == []
    assert remediator.audit() == [] and miner.received == []


def test_dry_run_audits_and_sends_nothing(tmp_path, miner):
    clock = Clock()
    remediator = Remediator(_config(dry_run=True), tmp_path / "r.db", clock=clock)
    [decision] = remediator.consider([_zero(miner.port)])
    assert decision.outcome == "dry_run" and decision.miner == f"127.0.0.1:{miner.port}"
    # the guards apply to what dry-run would have done
    assert [d.outcome for d in remediator.consider([_zero(miner.port)])] == ["refused_cooldown"]
    assert miner.received == []
    assert [d.outcome for d in remediator.audit()] == ["refused_cooldown", "dry_run"]


def test_real_action_once_per_cooldown_then_caps(tmp_path, miner):
    clock = Clock()
    remediator = Remediator(_config(cooldown_seconds=600, max_per_miner_per_day=2), tmp_path / "r.db", clock=clock)
    assert [d.outcome for d in remediator.consider([_zero(miner.port)])] == ["done"]
    assert miner.received == [{"command": "restart"}]
    clock.now += 300
    assert [d.outcome for d in remediator.consider([_zero(miner.port)])] == ["refused_cooldown"]
    clock.now += 400
    assert [d.outcome for d in remediator.consider([_zero(miner.port, label="miner")])] == ["done"]
    clock.now += 700
    assert [d.outcome for d in remediator.consider([_zero(miner.port)])] == ["refused_miner_cap"]
    clock.now += 86400  # a rolling day later the miner may be restarted again
    assert [d.outcome for d in remediator.consider([_zero(miner.port)])] == ["done"]
    assert miner.received == [{"command": "restart"}] * 3
    audit = remediator.audit()
    assert [d.outcome for d in audit] == ["done", "refused_miner_cap", "done", "refused_cooldown", "done"]
    assert all(d.action == "cgminer:restart" and d.alertname == "MinerZeroHashrate" for d in audit)
    assert audit[0].detail.startswith("STATUS S")


def test_fleet_hourly_cap(tmp_path):
    clock = Clock()
    remediator = Remediator(_config(max_fleet_per_hour=2), tmp_path / "r.db", clock=clock)
    miners = [MinerStandIn() for _ in range(3)]
    try:
        events = [_zero(m.port) for m in miners]
        assert [d.outcome for d in remediator.consider(events)] == ["done", "done", "refused_fleet_cap"]
        assert [len(m.received) for m in miners] == [1, 1, 0]
        clock.now += 3601  # a rolling hour later
        assert [d.outcome for d in remediator.consider(events[2:])] == ["done"]
        assert [len(m.received) for m in miners] == [1, 1, 1]
    finally:
        for m in miners:
            m.close()


def test_cooldown_survives_a_restart(tmp_path, miner):
    clock = Clock()
    Remediator(_config(), tmp_path / "r.db", clock=clock).consider([_zero(miner.port)])
    clock.now += 60
    again = Remediator(_config(), tmp_path / "r.db", clock=clock)
    assert [d.outcome for d in again.consider([_zero(miner.port)])] == ["refused_cooldown"]
    assert len(miner.received) == 1
    assert [d.outcome for d in again.audit()] == ["refused_cooldown", "done"]


def test_only_firing_events_with_an_action_count(tmp_path, miner):
    remediator = Remediator(_config(), tmp_path / "r.db", clock=Clock())
    resolved = _zero(miner.port)
    resolved.status = "resolved"
    other = Event("MinerHot", {"instance": f"127.0.0.1:{miner.port}"})
    assert remediator.consider([resolved, other]) == []
    assert miner.received == [] and remediator.audit() == []


def test_no_target_is_refused_and_audited(tmp_path):
    remediator = Remediator(_config(), tmp_path / "r.db", clock=Clock())
    events = [Event("MinerZeroHashrate", {}), Event("MinerZeroHashrate", {"instance": "bad host:x"})]
    assert [d.outcome for d in remediator.consider(events)] == ["refused_no_target"] * 2


def test_unreachable_or_refusing_miner_is_a_failure(tmp_path):
    refusing = MinerStandIn(b'{"STATUS":[{"STATUS":"E","Code":45,"Msg":"Access denied to \'restart\' command"}]}\x00')
    try:
        remediator = Remediator(_config(cooldown_seconds=0), tmp_path / "r.db", clock=Clock())
        [denied] = remediator.consider([_zero(refusing.port)])
        assert denied.outcome == "failed" and "Code 45" in denied.detail
    finally:
        refusing.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    [unreachable] = remediator.consider([_zero(port, host="127.0.0.2")])
    assert unreachable.outcome == "failed" and "ConnectionRefused" in unreachable.detail


def test_simulated_miner_answers_restart_with_an_error(tmp_path, sim_fleet):
    host, port = split_target(sim_fleet.targets()[0])
    result = send_privileged(host, port, "restart", timeout=5)
    assert not result.ok and "Code 14" in result.detail


@pytest.mark.parametrize("command", ["ascset", "quit", "switchpool", "restart|0", "restart+quit", "summary"])
def test_a_command_outside_the_allow_list_is_a_config_error(command):
    with pytest.raises(ConfigError, match="actions.0.cgminer.command"):
        _config(actions=[{"alertname": "A", "kind": "cgminer", "command": command}])
    with pytest.raises(PrivilegedCommandRefused):
        encode_privileged(command)


def test_other_config_errors():
    with pytest.raises(ConfigError, match="one action per alert name"):
        _config(actions=[{"alertname": "A", "kind": "cgminer", "command": "restart"}] * 2)
    with pytest.raises(ConfigError, match="absolute path"):
        _config(actions=[{"alertname": "A", "kind": "exec", "command": "powercycle.sh"}])
    with pytest.raises(ConfigError, match="unknown key"):
        _config(actions=[{"alertname": "A", "kind": "cgminer", "command": "restart", "parameter": "0"}])


def test_the_privileged_sender_sends_exactly_the_allow_list():
    assert PRIVILEGED_ALLOWED == frozenset({"restart"})
    assert encode_privileged("restart") == b'{"command": "restart"}'
    # and the exporter still refuses it: the read-only guarantee is separate and unchanged
    with pytest.raises(CommandNotAllowed):
        encode_request(["restart"])


def _script(tmp_path, body: str):
    path = tmp_path / "action.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_exec_action_gets_labels_in_env_without_a_shell(tmp_path):
    out = tmp_path / "env.txt"
    script = _script(tmp_path, f'env > "{out}"\nprintf "%s\\n" "$@" > "{out}.args"\n')
    config = _config(actions=[{"alertname": "MinerDead", "kind": "exec", "command": str(script),
                               "args": ["$(touch pwned)", "; rm -rf /", "*"]}])
    remediator = Remediator(config, tmp_path / "r.db", clock=Clock())
    labels = {"miner": "10.0.0.7:4028", "pdu.outlet": "12", "site": "a b;$(id)"}
    [decision] = remediator.consider([Event("MinerDead", labels)])
    assert decision.outcome == "done" and decision.action == f"exec:{script}"
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["HASHWATCH_ALERTNAME"] == "MinerDead"
    assert env["HASHWATCH_LABEL_MINER"] == "10.0.0.7:4028"
    assert env["HASHWATCH_LABEL_PDU_OUTLET"] == "12"
    assert env["HASHWATCH_LABEL_SITE"] == "a b;$(id)"
    assert (env["HASHWATCH_MINER_HOST"], env["HASHWATCH_MINER_PORT"]) == ("10.0.0.7", "4028")
    assert (tmp_path / "env.txt.args").read_text().splitlines() == ["$(touch pwned)", "; rm -rf /", "*"]
    assert not (tmp_path / "pwned").exists()


def test_exec_failure_and_timeout_are_audited(tmp_path):
    failing = _script(tmp_path, "echo broken >&2\nexit 3\n")
    config = _config(cooldown_seconds=0, actions=[
        {"alertname": "A", "kind": "exec", "command": str(failing)},
        {"alertname": "B", "kind": "exec", "command": "/bin/sleep", "args": ["5"], "timeout": 0.2},
    ])
    remediator = Remediator(config, tmp_path / "r.db", clock=Clock())
    a, b = remediator.consider([Event("A", {"miner": "10.0.0.1"}), Event("B", {"miner": "10.0.0.2"})])
    assert (a.outcome, a.detail) == ("failed", "exit 3: broken")
    assert b.outcome == "failed" and "timed out" in b.detail


def test_label_names_are_sanitised():
    assert label_env({"a-b.c": "x", "Ünï": "y"}) == {"HASHWATCH_LABEL_A_B_C": "x", "HASHWATCH_LABEL__N_": "y"}


def test_collector_and_callback(tmp_path, miner):
    remediator = Remediator(_config(), tmp_path / "r.db", clock=Clock())
    callback = remediator_callback(remediator)
    callback([_zero(miner.port), _zero(miner.port)])
    callback([object()])  # a malformed event is logged, never raised into the receiver
    registry = CollectorRegistry()
    registry.register(RemediationCollector(remediator))
    text = generate_latest(registry).decode()
    assert 'hashwatch_webhook_remediation_actions_total{action="cgminer:restart",outcome="done"} 1.0' in text
    assert 'hashwatch_webhook_remediation_actions_total{action="cgminer:restart",outcome="refused_cooldown"} 1.0' in text
    assert 'hashwatch_webhook_remediation_actions_total{action="cgminer:restart",outcome="refused_fleet_cap"} 0.0' in text


def test_targets_outside_the_allowed_networks_are_refused_and_not_contacted(tmp_path, miner):
    remediator = Remediator(_config(allowed_targets=["10.0.0.0/8"]), tmp_path / "r.db")
    (decision,) = remediator.consider([_zero(miner.port)])
    assert decision.outcome == "refused_not_allowed" and "allowed_targets" in decision.detail
    assert miner.received == []
    (named,) = Remediator(_config(), tmp_path / "n.db").consider([_zero(miner.port, host="localhost")])
    assert named.outcome == "refused_not_allowed"  # a name could resolve anywhere
