"""Remediation: a configured, allow-listed action per alert name, behind guards (off by default).

An action is either a privileged CGMiner command (only those in
privileged.PRIVILEGED_ALLOWED, sent by privileged.py, the only place hashwatch
builds one) or an operator's executable, run without a shell, with the alert's
labels in its environment (HASHWATCH_LABEL_<NAME>, names upper-cased, anything
but A-Z 0-9 _ turned into _).

Guards, checked in this order for every firing alert with a configured action:
a miner target in the labels (`miner`, else `instance`: host:port), a cooldown
per miner, a cap per miner per day (rolling 24 h), a cap for the whole fleet per
hour (rolling), then dry-run. Every decision, action or refusal, is a row of the
audit table (SQLite, WAL), and the guards count those rows, so they survive a
restart. In dry-run mode the guards count dry-run rows (what would have been
done); live, they count actions taken, failed ones too (a restart that timed out
may still have reached the miner). A decision is reserved ("pending") in the same
write transaction that checked the guards, so two processes sharing the
database cannot both pass a cap.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Union

from prometheus_client.core import CounterMetricFamily
from pydantic import Field, field_validator, model_validator

from hashwatch.config import ConfigSection, cidr_networks

from .privileged import DEFAULT_PORT, PRIVILEGED_ALLOWED, PrivilegedCommandRefused, send_privileged, split_target

log = logging.getLogger(__name__)

OUTCOMES = (
    "done", "dry_run", "refused_cooldown", "refused_miner_cap", "refused_fleet_cap",
    "refused_not_allowed", "refused_no_target", "failed",
)
_PENDING = "pending"  # a reserved decision whose action is under way
_DAY, _HOUR = 86400.0, 3600.0
_DETAIL_LIMIT = 300
_EXEC_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class AlertEvent(Protocol):
    """What the webhook receiver hands its callbacks: one alert of a stored notification."""

    fingerprint: str
    status: str  # "firing" | "resolved"
    starts_at: Any
    ends_at: Any
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]


class CgminerAction(ConfigSection):
    """Send one allow-listed privileged CGMiner command to the miner the alert names."""

    alertname: str = Field(min_length=1)
    kind: Literal["cgminer"]
    command: str
    port: int = Field(DEFAULT_PORT, gt=0, lt=65536)  # when the target label has no port
    timeout: float = Field(5.0, gt=0, le=120)

    @field_validator("command")
    @classmethod
    def _allowed(cls, value: str) -> str:
        if value not in PRIVILEGED_ALLOWED:
            raise ValueError(f"{value!r} is not a command remediation may send; allowed: {sorted(PRIVILEGED_ALLOWED)}")
        return value

    def describe(self) -> str:
        return f"cgminer:{self.command}"


class ExecAction(ConfigSection):
    """Run an operator's executable (no shell) with the alert's labels in its environment."""

    alertname: str = Field(min_length=1)
    kind: Literal["exec"]
    command: str = Field(min_length=1)  # absolute path of the executable
    args: list[str] = []
    port: int = Field(DEFAULT_PORT, gt=0, lt=65536)  # for HASHWATCH_MINER_PORT when the label has none
    timeout: float = Field(30.0, gt=0, le=3600)

    @field_validator("command")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not os.path.isabs(value) or "\x00" in value:
            raise ValueError("must be the absolute path of an executable")
        return value

    def describe(self) -> str:
        return f"exec:{self.command}"


Action = Annotated[Union[CgminerAction, ExecAction], Field(discriminator="kind")]


class RemediationConfig(ConfigSection):
    """The `remediation:` settings of `hashwatch webhook`. Off, and dry-run, unless said otherwise."""

    enabled: bool = False
    dry_run: bool = True
    actions: list[Action] = []
    # Hosts an action may be aimed at: IP literals inside these networks only. The
    # target comes from alert labels, so without this anyone able to post a valid
    # notification could aim a restart anywhere.
    allowed_targets: list[str] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]
    )
    cooldown_seconds: float = Field(1800.0, ge=0)
    max_per_miner_per_day: int = Field(3, ge=1)
    max_fleet_per_hour: int = Field(10, ge=1)

    _networks = field_validator("allowed_targets")(cidr_networks)

    def target_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a name could resolve anywhere: only addresses are aimed at
        return any(address in ipaddress.ip_network(n, strict=False) for n in self.allowed_targets)

    @model_validator(mode="after")
    def _one_action_per_alert(self) -> RemediationConfig:
        names = [action.alertname for action in self.actions]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"one action per alert name; given more than once: {twice}")
        return self


@dataclass(frozen=True)
class Decision:
    at: float
    alertname: str
    miner: str
    action: str
    outcome: str
    detail: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS remediation_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    alertname TEXT NOT NULL,
    miner TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS remediation_audit_miner ON remediation_audit (miner, at);
CREATE INDEX IF NOT EXISTS remediation_audit_at ON remediation_audit (at);
"""


def label_env(labels: dict[str, str]) -> dict[str, str]:
    """HASHWATCH_LABEL_<NAME>=value for each label; names sanitised, NULs (invalid in env) dropped."""
    env = {}
    for name, value in sorted(labels.items()):
        key = "HASHWATCH_LABEL_" + re.sub(r"[^A-Z0-9_]", "_", str(name).upper())
        env[key] = str(value).replace("\x00", "")
    return env


def miner_target(labels: dict[str, str], default_port: int) -> tuple[str, int] | None:
    """(host, port) from the `miner` label (fleet mode), else `instance` (/probe mode); None if neither parses."""
    for name in ("miner", "instance"):
        value = labels.get(name)
        if value:
            try:
                return split_target(value, default_port)
            except ValueError:
                continue
    return None


def _miner_key(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Remediator:
    """Decides, guards, acts and audits. Thread-safe; several processes may share `db_path`."""

    def __init__(self, config: RemediationConfig, db_path: str | Path, clock: Callable[[], float] = time.time):
        self.config = config
        self.clock = clock
        self.actions = {action.alertname: action for action in config.actions}
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {
            (action.describe(), outcome): 0 for action in config.actions for outcome in OUTCOMES
        }
        self._db = sqlite3.connect(str(db_path), timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an action taken must stay counted
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the guards ----------------------------------------------------------------

    def _counted(self) -> tuple[str, ...]:
        return (_PENDING, "dry_run") if self.config.dry_run else (_PENDING, "done", "failed")

    def _count(self, since: float, miner: str | None = None) -> int:
        counted = self._counted()
        sql = f"SELECT COUNT(*) FROM remediation_audit WHERE at > ? AND outcome IN ({','.join('?' * len(counted))})"
        params: list[Any] = [since, *counted]
        if miner is not None:
            sql += " AND miner = ?"
            params.append(miner)
        return int(self._db.execute(sql, params).fetchone()[0])

    def _refusal(self, now: float, miner: str) -> tuple[str, str] | None:
        config = self.config
        if config.cooldown_seconds > 0 and self._count(now - config.cooldown_seconds, miner):
            return "refused_cooldown", f"acted on this miner within the last {config.cooldown_seconds:g}s"
        if self._count(now - _DAY, miner) >= config.max_per_miner_per_day:
            return "refused_miner_cap", f"{config.max_per_miner_per_day} actions on this miner in 24h"
        if self._count(now - _HOUR) >= config.max_fleet_per_hour:
            return "refused_fleet_cap", f"{config.max_fleet_per_hour} actions across the fleet in 1h"
        return None

    # -- deciding ------------------------------------------------------------------

    def consider(self, events: Iterable[AlertEvent]) -> list[Decision]:
        """Act on (or refuse) each firing event whose alert name has an action; returns the decisions."""
        if not self.config.enabled:
            return []
        decisions = []
        for event in events:
            action = self.actions.get(getattr(event, "alertname", ""))
            if action is None or getattr(event, "status", "") != "firing" or getattr(event, "superseded", False):
                continue  # a firing that arrived after its own resolution is history, not a live fault
            with self._lock:
                decisions.append(self._decide(event, action))
        return decisions

    def _decide(self, event: AlertEvent, action: CgminerAction | ExecAction) -> Decision:
        labels = dict(event.labels or {})
        target = miner_target(labels, action.port)
        now = self.clock()
        miner = _miner_key(*target) if target else ""
        self._db.execute("BEGIN IMMEDIATE")  # check and reserve atomically, across processes too
        try:
            refusal = ("refused_no_target", "no parseable `miner` or `instance` label") if target is None else None
            # A CGMiner command goes over the network to the labelled host; an exec action
            # is the operator's own program and decides for itself what the labels mean.
            if refusal is None and isinstance(action, CgminerAction) and not self.config.target_allowed(target[0]):
                refusal = ("refused_not_allowed", f"{target[0]} is outside remediation.allowed_targets")
            refusal = refusal or self._refusal(now, miner)
            if refusal is None and self.config.dry_run:
                refusal = ("dry_run", f"would run {action.describe()}")
            row = self._insert(now, event, action, miner, *(refusal or (_PENDING, "")))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if refusal is not None:
            return self._done(now, event, action, miner, *refusal)
        assert target is not None
        outcome, detail = self._act(action, target, event)
        self._db.execute(
            "UPDATE remediation_audit SET outcome = ?, detail = ? WHERE id = ?", (outcome, detail[:_DETAIL_LIMIT], row)
        )
        return self._done(now, event, action, miner, outcome, detail)

    def _insert(self, now: float, event: AlertEvent, action: Any, miner: str, outcome: str, detail: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO remediation_audit (at, alertname, miner, action, outcome, detail, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now, event.alertname, miner, action.describe(), outcome, detail[:_DETAIL_LIMIT],
             str(getattr(event, "fingerprint", ""))),
        )
        return int(cursor.lastrowid or 0)

    def _done(self, now: float, event: AlertEvent, action: Any, miner: str, outcome: str, detail: str) -> Decision:
        key = (action.describe(), outcome)
        self._counts[key] = self._counts.get(key, 0) + 1
        log.warning("remediation %s: %s on %s for %s: %s", outcome, action.describe(), miner or "-",
                    event.alertname, detail[:_DETAIL_LIMIT])
        return Decision(now, event.alertname, miner, action.describe(), outcome, detail[:_DETAIL_LIMIT])

    # -- acting --------------------------------------------------------------------

    def _act(self, action: CgminerAction | ExecAction, target: tuple[str, int], event: AlertEvent) -> tuple[str, str]:
        try:
            if isinstance(action, CgminerAction):
                result = send_privileged(target[0], target[1], action.command, action.timeout)
                return ("done" if result.ok else "failed"), result.detail
            return self._exec(action, target, event)
        except PrivilegedCommandRefused as exc:
            return "refused_not_allowed", str(exc)
        except Exception as exc:  # one miner's failure is recorded, never raised into the receiver
            return "failed", f"{type(exc).__name__}: {exc}"

    @staticmethod
    def _exec(action: ExecAction, target: tuple[str, int], event: AlertEvent) -> tuple[str, str]:
        env = {
            "PATH": _EXEC_PATH,
            "HASHWATCH_ALERTNAME": event.alertname,
            "HASHWATCH_FINGERPRINT": str(getattr(event, "fingerprint", "")),
            "HASHWATCH_MINER": _miner_key(*target),
            "HASHWATCH_MINER_HOST": target[0],
            "HASHWATCH_MINER_PORT": str(target[1]),
            **label_env(dict(event.labels or {})),
        }
        try:
            completed = subprocess.run(
                [action.command, *action.args], env=env, shell=False, stdin=subprocess.DEVNULL,
                capture_output=True, timeout=action.timeout, close_fds=True, check=False,
            )
        except subprocess.TimeoutExpired:
            return "failed", f"timed out after {action.timeout:g}s (killed)"
        output = (completed.stdout + completed.stderr).decode("utf-8", "replace").strip()[-200:]
        outcome = "done" if completed.returncode == 0 else "failed"
        return outcome, f"exit {completed.returncode}" + (f": {output}" if output else "")

    # -- reading -------------------------------------------------------------------

    def audit(self, limit: int = 100) -> list[Decision]:
        """The latest decisions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, alertname, miner, action, outcome, detail FROM remediation_audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Decision(*row) for row in rows]

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


class RemediationCollector:
    """hashwatch_webhook_remediation_actions_total{action,outcome}: decisions this process made."""

    def __init__(self, remediator: Remediator):
        self.remediator = remediator

    def describe(self) -> list[CounterMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = self._family()
        for (action, outcome), value in sorted(self.remediator.counts().items()):
            family.add_metric([action, outcome], value)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "hashwatch_webhook_remediation_actions",
            "Remediation decisions by action and outcome (done, dry_run, refused_*, failed).",
            labels=["action", "outcome"],
        )


def remediator_callback(remediator: Remediator) -> Callable[[Iterable[AlertEvent]], None]:
    """A receiver callback: consider the new events; never raises (the notification is already stored)."""

    def callback(events: Iterable[AlertEvent]) -> None:
        batch = list(events)
        try:
            remediator.consider(batch)
        except Exception:
            log.exception("remediation failed while considering %d events", len(batch))

    return callback
