"""`hashwatch demo` from start to stop: configs written, children started in order, URLs printed, clean shutdown.

Order: InfluxDB (and its database), the simulator (faults in force before it
listens), the CGMiner exporter, the replayed upstreams (Ocean credited with
the miners' hashrate per pool worker, read through the exporter), the Ocean
and market exporters, the webhook receiver, Alertmanager, Prometheus, the
profitability exporter (it reads Prometheus), Grafana. Then one `<name>: <url>`
line per service and `ready`. A child that dies stops the demo with the end of
its log; Ctrl-C, SIGTERM or --duration stop every child, and a temporary
workdir is removed.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .configs import DATABASE, write_all
from .grafana import HOW_TO_GET, find as find_grafana
from .grafana import child as grafana_child
from .layout import PORTS, DemoError, Layout
from .processes import Child, Supervisor, hashwatch_argv
from .scenario import assign, scenario_yaml

__all__ = ["DemoError", "DemoOptions", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    miners: int = 12
    host: str = "127.0.0.1"
    first_address: str = "127.10.0.1"
    duration: float | None = None
    workdir: Path | None = None
    miner_port: int = 4028


class _Stopped(Exception):
    """SIGTERM: stop like Ctrl-C."""


def _binary(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


def _create_database(url: str) -> None:
    query = urllib.parse.urlencode({"q": f'CREATE DATABASE "{DATABASE}"'}).encode()
    with urllib.request.urlopen(f"{url}/query", data=query, timeout=10) as response:  # noqa: S310 - loopback
        response.read()


def _probe(exporter: str, target: str) -> str:
    try:
        with urllib.request.urlopen(f"{exporter}/probe?target={target}", timeout=10) as response:  # noqa: S310
            return response.read().decode()
    except OSError:
        return ""


def pool_workers(exporter: str, targets: list[str]) -> dict[str, float]:
    """{worker: H/s}: what each miner hashes, credited to the worker of its active pool, as a pool would see it."""
    with ThreadPoolExecutor(16) as pool:
        pages = list(pool.map(lambda target: _probe(exporter, target), targets))
    workers: dict[str, float] = {}
    for page in pages:
        hashrate, active, names = None, set(), {}
        for family in text_string_to_metric_families(page):
            for sample in family.samples:
                if sample.name == "miner_hashrate_hashes_per_second":
                    hashrate = sample.value
                elif sample.name == "miner_pool_active" and sample.value == 1:
                    active.add(sample.labels.get("pool"))
                elif sample.name == "miner_pool_up" and sample.labels.get("worker"):
                    names[sample.labels.get("pool")] = sample.labels["worker"]
        credited = sorted({names[p] for p in active if p in names})
        for worker in credited if hashrate else ():
            workers[worker] = workers.get(worker, 0.0) + hashrate / len(credited)
    return workers


def _children(layout: Layout, workdir: Path, supervisor: Supervisor, influxd: str | None, say: Callable[[str], None]) -> None:
    config = str(workdir / "hashwatch.yml")

    def service(name: str, *extra: str) -> Child:
        argv = hashwatch_argv(name, "--config.file", config, "--web.listen-address", layout.address(name), *extra)
        return supervisor.start(Child(name, argv, ready_url=f"{layout.url(name)}/-/ready"))

    if influxd:
        supervisor.start(Child("influxdb", [influxd, "-config", str(workdir / "influxdb.conf")],
                               ready_url=f"{layout.url('influxdb')}/ping"))
        _create_database(layout.url("influxdb"))
    supervisor.start(Child("simulator", hashwatch_argv(
        "simulate", "--miners", str(len(layout.miners)), "--first-address", layout.first_address,
        "--port", str(layout.miner_port), "--per-address", "--scenario", str(workdir / "scenario.yml"),
        "--control.listen-address", layout.address("simulator"),
    ), ready_line="listening:"))
    service("cgminer")
    workers = pool_workers(layout.url("cgminer"), [m.target for m in layout.miners])
    upstream_argv = hashwatch_argv("upstreams", "--listen", layout.address("upstreams"))
    if workers:
        (workdir / "ocean-workers.json").write_text(json.dumps({"workers": workers}, indent=2) + "\n")
        upstream_argv += ["--ocean.workers", str(workdir / "ocean-workers.json")]
    supervisor.start(Child("upstreams", upstream_argv, ready_url=f"{layout.url('upstreams')}/-/ready"))
    service("ocean")
    service("market")
    service("webhook")
    alertmanager = _binary("prometheus-alertmanager", "alertmanager")
    supervisor.start(Child("alertmanager", [
        alertmanager, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address={layout.address('alertmanager')}", "--cluster.listen-address=",
    ], ready_url=f"{layout.url('alertmanager')}/-/ready"))
    supervisor.start(Child("prometheus", [
        _binary("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}", f"--web.listen-address={layout.address('prometheus')}",
        "--web.enable-lifecycle", "--rules.alert.resend-delay=5s",
    ], ready_url=f"{layout.url('prometheus')}/-/ready"))
    service("profitability")


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> None:
    """Run until Ctrl-C, SIGTERM or options.duration; DemoError for anything that stops it early."""
    layout = Layout(options.host, options.first_address, options.miners, options.miner_port)
    missing = [name for name, found in (("prometheus", _binary("prometheus")),
                                        ("prometheus-alertmanager", _binary("prometheus-alertmanager", "alertmanager")))
               if not found]
    if missing:
        raise DemoError(f"{' and '.join(missing)} not found: run ./scripts/setup (it installs Debian's packages)")
    influxd = _binary("influxd")
    found_grafana = find_grafana()
    names = [n for n in PORTS if (n != "influxdb" or influxd) and (n != "grafana" or found_grafana)]
    layout.check_ports_free(names)

    temporary = options.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="hashwatch-demo-")) if temporary else Path(options.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(workdir, say)
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    started = time.monotonic()
    try:
        assignments = assign(layout.miners)
        dropped = write_all(layout, workdir, scenario_yaml(assignments), influxdb=influxd is not None)
        say(f"workdir: {workdir} (configs; logs in logs/)")
        for a in assignments:
            say(f"fault: {a.miner.address} ({a.miner.profile}, site {a.miner.site}) {a.scripted.what} -> {', '.join(a.scripted.alerts)}")
        if dropped:
            say("alertmanager: notifications go to the webhook receiver only; dropped " + "; ".join(dropped))
        _children(layout, workdir, supervisor, influxd, say)
        if found_grafana:
            supervisor.start(grafana_child(layout, workdir, influxd is not None, *found_grafana))
        else:
            say(HOW_TO_GET)
        if not influxd:
            say("InfluxDB 1.x (influxd) is not installed: the ledger and the alert mirror are off (./scripts/setup installs it).")
        for name in names:
            say(f"{name}: {layout.url(name)}")
        say(f"ready (in {time.monotonic() - started:.1f} s); press Ctrl-C to stop")
        deadline = None if options.duration is None else time.monotonic() + options.duration
        while deadline is None or time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    except (KeyboardInterrupt, _Stopped):
        say("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        try:
            supervisor.stop_all()
        finally:
            signal.signal(signal.SIGINT, interrupt)
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    say("stopped")


def _raise_stopped(signum, frame) -> None:
    raise _Stopped()
