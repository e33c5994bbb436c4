"""The scale-out topology of prometheus/scale-out/ as real processes on loopback, for tests/scaleout/.

Servers (child processes, processes.ServerProcess), each on its own 127.90.1.x address:

  ScaleoutPrometheus    a Prometheus shard in agent mode, or the single-machine reference
  CentralVictoriaMetrics single-node VictoriaMetrics receiving the shards' remote_write
  VmAlert               vmalert evaluating prometheus/rules/ over VictoriaMetrics

Configs are the committed ones with only addresses, file_sd paths, rule paths and
intervals rewritten: local_prometheus_config() maps every compose `host:port` through
an explicit table (an address it does not know is an error, so nothing is dropped
silently) and vmalert_argv() does the same to prometheus/scale-out/vmalert.flags.
hashmod() is Prometheus' hashmod relabel action, for predicting a target's shard.
"""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.processes import ServerProcess, poll

HOST_PORT = re.compile(r"^([A-Za-z0-9_.-]+):([0-9]+)$")
URL = re.compile(r"^(https?://)([A-Za-z0-9_.-]+:[0-9]+)(.*)$")


def free_port_on(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: run ./scripts/setup (installs Debian's {package} package)")
    return path


def hashmod(value: str, modulus: int) -> int:
    """Prometheus' `action: hashmod`: the last 8 bytes of md5(value), big-endian, modulo `modulus`."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


# ---------------------------------------------------------------- config rewriting


class AddressMap:
    """compose `host:port` -> loopback `host:port`; an unknown address is an error naming where it was found."""

    def __init__(self, table: Mapping[str, str], source: str):
        self.table = dict(table)
        self.source = source

    def address(self, value: str, where: str) -> str:
        if value not in self.table:
            raise ValueError(f"{self.source}: {where} uses {value!r}, which the test maps to nothing; known: {sorted(self.table)}")
        return self.table[value]

    def url(self, value: str, where: str) -> str:
        match = URL.match(value)
        if match is None:
            raise ValueError(f"{self.source}: {where} is not a http://host:port URL: {value!r}")
        return match.group(1) + self.address(match.group(2), where) + match.group(3)


def local_prometheus_config(
    committed: Mapping[str, Any],
    *,
    addresses: AddressMap,
    file_sd: Sequence[Path],
    interval: str,
    rule_files: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """A committed Prometheus config with addresses, file_sd files, rule files and intervals made local."""
    config = copy.deepcopy(dict(committed))
    glob = config.setdefault("global", {})
    glob["scrape_interval"] = glob["scrape_timeout"] = interval
    if "evaluation_interval" in glob or rule_files:
        glob["evaluation_interval"] = interval
    if "rule_files" in config:
        if rule_files is None:
            raise ValueError(f"{addresses.source} loads rule files: pass the local copies")
        config["rule_files"] = [str(path) for path in rule_files]
    for index, writer in enumerate(config.get("remote_write", [])):
        writer["url"] = addresses.url(writer["url"], f"remote_write[{index}]")
        writer.setdefault("queue_config", {})["batch_send_deadline"] = interval
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        for group in manager.get("static_configs", []):
            group["targets"] = [addresses.address(t, "alerting") for t in group["targets"]]
    for job in config.get("scrape_configs", []):
        name = job["job_name"]
        for group in job.get("static_configs", []):
            group["targets"] = [addresses.address(t, f"job {name}") for t in group["targets"]]
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(path) for path in file_sd]
            sd["refresh_interval"] = interval
        for rule in job.get("relabel_configs", []):
            if rule.get("target_label") == "__address__" and HOST_PORT.match(str(rule.get("replacement", ""))):
                rule["replacement"] = addresses.address(rule["replacement"], f"job {name} relabelling")
    return config


def read_flags(path: Path) -> list[str]:
    """A flags file: one `-flag=value` a line; blank lines and # comments ignored."""
    flags = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not re.match(r"^-[A-Za-z0-9.]+(=.*)?$", line):
            raise ValueError(f"{path}:{number}: not a -flag=value line: {line!r}")
        flags.append(line)
    return flags


def vmalert_argv(
    flags: Sequence[str], *, addresses: AddressMap, rules: Sequence[Path], interval: str, listen: str
) -> list[str]:
    """vmalert's flags with URLs mapped, -rule replaced by local copies, interval and listen address set."""
    argv: list[str] = []
    for flag in flags:
        name, _, value = flag.partition("=")
        if name in ("-datasource.url", "-remoteWrite.url", "-remoteRead.url", "-notifier.url"):
            argv.append(f"{name}={addresses.url(value, name)}")
        elif name == "-rule":
            continue
        elif name == "-evaluationInterval":
            argv.append(f"{name}={interval}")
        elif name == "-httpListenAddr":
            argv.append(f"{name}={listen}")
        else:
            argv.append(flag)
    required = {"-datasource.url", "-remoteWrite.url", "-notifier.url", "-evaluationInterval", "-httpListenAddr", "-rule"}
    missing = required - {flag.partition("=")[0] for flag in flags}
    if missing:
        raise ValueError(f"vmalert flags lack {sorted(missing)}")
    return argv + [f"-rule={path}" for path in rules]


def vmalert_rule_copies(committed: Sequence[Path], workdir: Path) -> tuple[list[Path], list[str]]:
    """Rule files this vmalert accepts: the committed ones if it takes them, else copies without what it rejects.

    vmalert before v1.92.0 (Debian bookworm ships 1.79) does not know `keep_firing_for`;
    the copies drop that field only, and the notes say so.
    """
    vmalert = binary("vmalert", "victoria-metrics")
    done = subprocess.run(
        [vmalert, "-dryRun", *[f"-rule={p}" for p in committed]], capture_output=True, text=True, timeout=60, cwd=workdir
    )
    if done.returncode == 0:
        return list(committed), []
    if "unknown fields in rule: keep_firing_for" not in done.stdout + done.stderr:
        raise AssertionError(f"vmalert rejects the committed rules:\n{(done.stdout + done.stderr)[-3000:]}")
    copies, notes = [], []
    for path in committed:
        document = yaml.safe_load(path.read_text())
        dropped = 0
        for group in document["groups"]:
            for rule in group["rules"]:
                dropped += rule.pop("keep_firing_for", None) is not None
        copy_path = workdir / path.name
        copy_path.write_text(yaml.safe_dump(document, sort_keys=False))
        copies.append(copy_path)
        if dropped:
            notes.append(f"{path.name}: keep_firing_for dropped from {dropped} rules (vmalert < 1.92)")
    return copies, notes


# ---------------------------------------------------------------- servers


class QueryApi:
    """The Prometheus HTTP query API, as Prometheus and VictoriaMetrics both serve it."""

    url = ""
    query_params: dict[str, str] = {}

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        response = requests.get(f"{self.url}{path}", params={**self.query_params, **params}, timeout=15)
        if response.status_code != 200:
            raise AssertionError(f"{self.url}{path} {dict(params)}: HTTP {response.status_code}: {response.text[:500]}")
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{self.url}{path} {dict(params)}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
        return self._get("/api/v1/query", params)["result"]

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        """The value of a query returning one sample (None when empty)."""
        result = self.query(promql, at)
        if len(result) > 1:
            raise AssertionError(f"{promql!r} returned {len(result)} series, expected one: {result[:3]}")
        return float(result[0]["value"][1]) if result else None

    def by_label(self, promql: str, label: str, at: float | None = None) -> dict[str, float]:
        return {s["metric"].get(label, ""): float(s["value"][1]) for s in self.query(promql, at)}

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._get("/api/v1/query_range", params)["result"]

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        return self._get("/api/v1/series", {"match[]": match, "start": f"{start:.3f}", "end": f"{end:.3f}"})

    def wait_for(self, promql: str, predicate: Callable[[list[dict]], bool], timeout: float = 30) -> list[dict]:
        """Poll a query until predicate(result) holds; bounded in time."""
        return poll(lambda: self.query(promql), predicate, timeout, f"{self.url}: {promql!r}")


class ScaleoutPrometheus(ServerProcess, QueryApi):
    """Prometheus on host:free port from a config dict; agent=True runs it as a shard (agent mode)."""

    def __init__(self, workdir: Path, config: Mapping[str, Any], host: str, *, agent: bool, name: str):
        self.name = name
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        self.port = free_port_on(host)
        self.url = f"http://{host}:{self.port}"
        storage = ["--enable-feature=agent", f"--storage.agent.path={workdir / 'wal'}"] if agent else [
            f"--storage.tsdb.path={workdir / 'data'}"
        ]
        argv = [
            binary("prometheus", "prometheus"),
            f"--config.file={self.config_path}",
            *storage,
            f"--web.listen-address={host}:{self.port}",
            "--log.level=warn",
        ]
        super().__init__(workdir, argv, f"{self.url}/-/ready")

    def active_targets(self, job: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=10)
        response.raise_for_status()
        return [t for t in response.json()["data"]["activeTargets"] if t["labels"].get("job") == job]


class CentralVictoriaMetrics(ServerProcess, QueryApi):
    """Single-node VictoriaMetrics on host:free port, receiving remote_write at /api/v1/write.

    -dedup.minScrapeInterval=1ms drops only exact repeats (a remote_write batch retried after a lost
    acknowledgement), as docs/configuration.md asks of every VictoriaMetrics behind hashwatch.
    -search.latencyOffset: VictoriaMetrics answers queries for the last 30 s (default) as of 30 s
    ago, to hide samples still in flight; with 1 s scrapes the test shortens it to 2 s.
    Queries pass nocache=1 so results are computed from the raw samples every time.
    """

    name = "victoria-metrics"
    query_params = {"nocache": "1"}

    def __init__(self, workdir: Path, host: str, latency_offset: str = "2s"):
        self.port = free_port_on(host)
        self.url = f"http://{host}:{self.port}"
        self.flags = [
            f"-httpListenAddr={host}:{self.port}",
            f"-storageDataPath={workdir / 'data'}",
            "-retentionPeriod=1d",
            "-loggerLevel=WARN",
            "-dedup.minScrapeInterval=1ms",
            f"-search.latencyOffset={latency_offset}",
        ]
        super().__init__(workdir, [binary("victoria-metrics", "victoria-metrics"), *self.flags], f"{self.url}/health")

    def flush(self) -> None:
        """Make every ingested sample searchable now (VictoriaMetrics buffers them for up to a second)."""
        requests.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()


class VmAlert(ServerProcess):
    name = "vmalert"

    def __init__(self, workdir: Path, argv_flags: Sequence[str], url: str):
        self.url = url
        self.flags = list(argv_flags)
        super().__init__(workdir, [binary("vmalert", "victoria-metrics"), *self.flags, "-loggerLevel=WARN"], f"{url}/health")

    def groups(self) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/rules", timeout=10)
        response.raise_for_status()
        return response.json()["data"]["groups"]
