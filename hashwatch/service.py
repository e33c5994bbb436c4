"""The HTTP shell every hashwatch service runs in: the same pages, health checks and own metrics.

A service (an exporter, and anything later such as a webhook receiver)
subclasses Service, names itself and adds only what is its own:

- `name`: the `service` label of hashwatch_build_info, and the <service> of
  its self-metrics: whatever a service says about itself and its upstreams
  is named hashwatch_<service>_<what> (hashwatch_cgminer_probes_total,
  hashwatch_ocean_api_up). Data metrics (miner_*, ocean_*, market_*,
  profitability_*) keep their own names.
- `title` and description(): the landing page at `/` (title, version, the
  description, then links: /metrics, /-/healthy, /-/ready and links()).
- start() and stop(): run when the application starts and is cleaned up.
- is_ready(): /-/ready answers 200 once start() has returned and is_ready()
  says so (by default at once; a polling service once every upstream has
  been asked at least once, answered or not), 503 before that and once the
  application is stopping. aiohttp runs start() before it listens, so the
  503 a client can see is the is_ready() part.
- routes(): the service's own routes (/probe, a POST endpoint, ...).
- exposition(): the pieces of /metrics. By default the registry's text: the
  process, platform and GC collectors, hashwatch_build_info{service,version}
  and whatever the service registered (`registry`). A service may append
  pre-rendered text (the CGMiner exporter's fleet); the pieces are written to
  the response one by one, never joined.

/-/healthy answers 200 while the process serves HTTP at all. Both health
paths are Prometheus's own, so the same probes and load-balancer checks fit
every hashwatch service.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from . import __version__
from .process import release_free_memory
from .web import PROMETHEUS_TEXT

# `*_created` series double a service's own output and no dashboard uses them.
disable_created_metrics()


class Service:
    """One service's HTTP side. Subclasses set `name` and `title` and override the hooks."""

    name = "service"  # short, lower case: cgminer, ocean, market, profitability
    title = "hashwatch service"
    # glibc's malloc_trim after each /metrics: for services whose scrapes move tens of megabytes.
    trim_memory_after_metrics = False

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.build_info = Gauge(
            "hashwatch_build_info", "hashwatch version, by service.", ["service", "version"], registry=self.registry
        )
        self.build_info.labels(self.name, __version__).set(1)
        self.started = False

    # --- what a service overrides ---------------------------------------------------

    async def start(self) -> None:
        """Start background work (pollers, sessions), before the service listens."""

    async def stop(self) -> None:
        """Stop what start() started, when the application is cleaned up."""

    def is_ready(self) -> bool:
        """Once started: whether /metrics says something about everything the service watches."""
        return True

    def routes(self) -> list[web.RouteDef]:
        """The service's own routes, besides /, /metrics, /-/healthy and /-/ready."""
        return []

    def description(self) -> str:
        """HTML for the landing page, below the title and version."""
        return ""

    def links(self) -> list[tuple[str, str]]:
        """(relative path, what it is) of the service's own pages, listed on the landing page."""
        return []

    async def exposition(self, request: web.Request) -> list[bytes]:
        """The text of /metrics, in pieces written in order; by default the registry's."""
        return [self.render_registry()]

    # --- the shell --------------------------------------------------------------------

    def render_registry(self) -> bytes:
        return generate_latest(self.registry)

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        chunks = await self.exposition(request)
        # Written piece by piece: joining a 10,000-miner exposition would copy 50 MB.
        response = web.StreamResponse(headers={"Content-Type": PROMETHEUS_TEXT})
        response.content_length = sum(len(chunk) for chunk in chunks)
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        del chunks
        if self.trim_memory_after_metrics:
            release_free_memory()
        return response

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text=f"{self.title} is healthy.\n")

    async def readiness(self, request: web.Request) -> web.Response:
        if self.started and self.is_ready():
            return web.Response(text=f"{self.title} is ready.\n")
        return web.Response(status=503, text=f"{self.title} is not ready.\n")

    def _link_items(self) -> Iterable[str]:
        standard = [
            ("metrics", "what the service exports, and its own metrics"),
            ("-/healthy", "200 while the process serves"),
            ("-/ready", "200 once started and ready to be scraped, 503 before"),
        ]
        for path, what in [*standard, *self.links()]:
            yield f'<li><a href="{html.escape(path)}">/{html.escape(path)}</a>: {html.escape(what)}</li>'

    async def index(self, request: web.Request) -> web.Response:
        title = html.escape(self.title)
        page = f"""<!doctype html><html><head><title>{title}</title></head><body>
<h1>{title}</h1><p>version {html.escape(__version__)}</p>
{self.description()}
<ul>{''.join(self._link_items())}</ul></body></html>"""
        return web.Response(text=page, content_type="text/html")

    async def _on_startup(self, _app: web.Application) -> None:
        await self.start()
        self.started = True

    async def _on_cleanup(self, _app: web.Application) -> None:
        self.started = False
        await self.stop()

    def app(self) -> web.Application:
        application = web.Application()
        application.on_startup.append(self._on_startup)
        application.on_cleanup.append(self._on_cleanup)
        application.add_routes(
            [
                web.get("/", self.index),
                web.get("/metrics", self.metrics),
                web.get("/-/healthy", self.healthy),
                web.get("/-/ready", self.readiness),
                *self.routes(),
            ]
        )
        return application
