"""HTTP side of the CGMiner exporter: the service shell (hashwatch.service) plus /probe (multi-target)
and, in fleet mode, every miner on /metrics after the exporter's own metrics."""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import socket
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hashwatch.service import Service
from hashwatch.web import PROMETHEUS_TEXT

from .client import ClientSettings, split_target
from .config import CgminerConfig
from .fleet import Fleet
from .metrics import MinerSample, render
from .memory import ProbeMemory
from .scrape import ScrapeResult, scrape

log = logging.getLogger(__name__)


class SelfMetrics:
    """The exporter's own health, on /metrics (registered on the service's registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.probes = Counter("hashwatch_cgminer_probes", "Probes served, by result.", ["result"], registry=r)
        self.errors = Counter(
            "hashwatch_cgminer_scrape_errors", "Failed miner scrapes (probe and fleet), by reason.", ["reason"], registry=r
        )
        self.duration = Histogram(
            "hashwatch_cgminer_probe_duration_seconds",
            "Time to scrape one miner for /probe.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.fleet_targets = Gauge("hashwatch_cgminer_fleet_targets", "Miners configured in fleet mode.", registry=r)
        self.fleet_up = Gauge("hashwatch_cgminer_fleet_targets_up", "Fleet miners that answered the last scrape.", registry=r)
        self.fleet_duration = Gauge(
            "hashwatch_cgminer_fleet_scrape_duration_seconds", "Wall time of the last fleet scrape.", registry=r
        )
        self.fleet_render = Gauge(
            "hashwatch_cgminer_fleet_render_duration_seconds",
            "CPU time spent rendering the last fleet scrape as text, summed over fleet workers.",
            registry=r,
        )
        self.fleet_bytes = Gauge("hashwatch_cgminer_fleet_render_bytes", "Size of the last fleet exposition.", registry=r)
        for result in ("success", "failure"):
            self.probes.labels(result)


class Exporter(Service):
    name = "cgminer"
    title = "hashwatch CGMiner exporter"
    trim_memory_after_metrics = True  # a fleet scrape moves tens of megabytes of text

    def __init__(self, config: CgminerConfig):
        super().__init__()
        self.config = config
        self.settings = ClientSettings(
            connect_timeout=config.connect_timeout_seconds,
            request_timeout=config.timeout_seconds,
            max_reply_bytes=config.max_reply_bytes,
        )
        self.networks = config.networks()
        self.self_metrics = SelfMetrics(self.registry)
        self.fleet = Fleet(
            config.fleet,
            self.settings,
            config.default_port,
            on_error=lambda reason: self.self_metrics.errors.labels(reason).inc(),
        )
        self.probe_memory = ProbeMemory()
        self.ports = config.ports()

    def _timeout(self, request: web.Request, ceiling: float) -> float:
        """Prometheus tells us its scrape timeout; answer a little before it."""
        header = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        try:
            told = float(header) - self.config.scrape_timeout_offset_seconds if header else ceiling
        except ValueError:
            told = ceiling
        return max(0.05, min(told, ceiling))

    def _allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return sorted({info[4][0] for info in infos})

    async def probe(self, request: web.Request) -> web.Response:
        target = request.query.get("target", "")
        try:
            host, port = split_target(target, self.config.default_port)
        except ValueError as exc:
            return web.Response(status=400, text=f"bad target: {exc}\n")
        if port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            return web.Response(status=403, text=f"port {port} is outside cgminer.allowed_ports ({allowed})\n")
        loop = asyncio.get_running_loop()
        timeout = self._timeout(request, self.config.timeout_seconds)
        started, deadline = time.perf_counter(), loop.time() + timeout
        # The lookup shares the probe's time budget: a slow resolver cannot hold a probe past it.
        try:
            addresses, resolve_error = await asyncio.wait_for(self._resolve(host, port), timeout), ""
        except asyncio.TimeoutError:
            addresses, resolve_error = [], f"name lookup took longer than {timeout:g} s"
        except (OSError, UnicodeError) as exc:
            addresses, resolve_error = [], str(exc)
        if addresses and not all(self._allowed(a) for a in addresses):
            return web.Response(
                status=403, text=f"target {target} is outside cgminer.allowed_targets ({', '.join(self.config.allowed_targets)})\n"
            )
        if addresses:
            # Connect to the address we checked, not to a name that may resolve differently.
            key = f"{addresses[0]}:{port}"
            memory = self.probe_memory.get(key)
            result = await scrape(addresses[0], port, memory, self.settings, max(0.05, deadline - loop.time()))
            self.probe_memory.update(key, memory)
        else:
            result = ScrapeResult(None, "unresolvable", resolve_error)
        self.self_metrics.duration.observe(time.perf_counter() - started)
        self.self_metrics.probes.labels("success" if result.up else "failure").inc()
        if not result.up:
            self.self_metrics.errors.labels(result.error_reason).inc()
            log.info("probe %s failed: %s (%s)", target, result.error_reason, result.error_message)
        # Rendered from this probe's result alone: nothing from another miner can leak in.
        return web.Response(body=render([MinerSample((), result)], ()), headers={"Content-Type": PROMETHEUS_TEXT})

    async def exposition(self, request: web.Request) -> list[bytes]:
        """The exporter's own metrics, then the fleet's text as the fleet scrape rendered it."""
        if not self.fleet.enabled:
            return [self.render_registry()]
        started = time.perf_counter()
        scrape = await self.fleet.collect(self._timeout(request, self.config.fleet.timeout_seconds))
        m = self.self_metrics
        m.fleet_targets.set(scrape.targets)
        m.fleet_up.set(scrape.up)
        m.fleet_duration.set(time.perf_counter() - started)
        m.fleet_render.set(scrape.render_seconds)
        m.fleet_bytes.set(scrape.size)
        # Rendered after the fleet scrape, so they include it.
        return [self.render_registry(), *scrape.chunks()]

    async def start(self) -> None:
        if self.fleet.enabled:
            self.fleet.targets()  # read the file_sd files once: ready means the targets are known

    async def stop(self) -> None:
        await self.fleet.close()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/probe", self.probe)]

    def description(self) -> str:
        if self.fleet.enabled:
            fleet = f"{len(self.fleet.targets())} miners in fleet mode: /metrics serves the exporter's own metrics and the fleet"
        else:
            fleet = "fleet mode off: /metrics serves the exporter's own metrics"
        return f"""<p>{html.escape(fleet)}</p>
<form action="probe" method="get"><label>/probe?target=<input name="target" placeholder="192.168.1.20:4028"></label>
<input type="submit" value="Probe"></form>
<p>Allowed targets: {html.escape(', '.join(self.config.allowed_targets))}</p>"""
