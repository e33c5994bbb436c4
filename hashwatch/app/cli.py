"""The `hashwatch` command: one subcommand per service, Prometheus-style flags.

Every service subcommand is written with `service_command`: the shared flags
(`--config.file`, `--web.listen-address`, `--log.level`) and body (logging set
up, the config loaded or exit status 2, the app served until Ctrl-C) are here
once; a subcommand declares only its default address, its own flags, and how
it builds its aiohttp application from the loaded config.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import click

from hashwatch import __version__
from hashwatch.config import ConfigError, load_config

from .settings import HashwatchConfig

if TYPE_CHECKING:
    from aiohttp import web

LOG_LEVELS = ("debug", "info", "warn", "error")


def _logging(level: str) -> None:
    logging.basicConfig(
        level={"warn": logging.WARNING}.get(level, getattr(logging, level.upper())),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )


def config_error(message: str | ConfigError) -> NoReturn:
    """A config problem: one line (or a short block) naming file and key, exit status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def load_or_exit(path: str | None) -> HashwatchConfig:
    try:
        return load_config(HashwatchConfig, path)
    except ConfigError as exc:
        config_error(exc)


def _setup(config_file: str | None, log_level: str) -> HashwatchConfig:
    _logging(log_level)
    return load_or_exit(config_file)


def _serve(app, listen: str) -> None:
    """Serve an exporter's aiohttp app until Ctrl-C (uvloop, process tuning: see web.run)."""
    from hashwatch.web import run, run_forever

    try:
        run(run_forever(app, listen))
    except OSError as exc:
        if exc.filename is not None:  # a file or directory the exporter opens on start, not the socket
            raise click.ClickException(f"{exc.filename}: {exc.strerror or exc}") from None
        # the port is taken, or the address is not ours
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        pass


class ListenAddress(click.ParamType):
    """host:port, :port or [v6]:port, checked before anything starts (a usage error, exit status 2)."""

    name = "address"

    def convert(self, value, param, ctx):
        from hashwatch.web import parse_listen_address

        try:
            parse_listen_address(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


def listen_option(default: str):
    return click.option(
        "--web.listen-address", "listen", type=ListenAddress(), default=default, show_default=True,
        help="Address to serve HTTP on.",
    )


config_option = click.option(
    "--config.file", "config_file", type=click.Path(dir_okay=False), default=None, help="hashwatch YAML config file."
)
log_option = click.option("--log.level", "log_level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)


def configured(default_listen: str) -> Callable[[Callable], Callable]:
    """The shared flags and preamble of a subcommand that runs a service.

    Adds --config.file, --web.listen-address (default `default_listen`) and
    --log.level; sets up logging and loads the config (exit status 2 on a bad
    one), then calls the function as f(config, config_file, listen, **its own flags).
    """

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)  # keeps its docstring (the help) and the click options under it
        def body(config_file: str | None, listen: str, log_level: str, **own):
            return function(_setup(config_file, log_level), config_file, listen, **own)

        return config_option(listen_option(default_listen)(log_option(body)))

    return decorate


def service_command(default_listen: str) -> Callable[[Callable[..., web.Application]], click.Command]:
    """A `hashwatch` subcommand serving one service's aiohttp application on --web.listen-address.

    The decorated function, named as the subcommand and documented by its help
    text, is build(config, config_file, **its own flags) -> web.Application;
    it may call config_error() for a problem the config's schema cannot see.
    """

    def decorate(build: Callable[..., web.Application]) -> click.Command:
        @configured(default_listen)
        @functools.wraps(build)
        def command(config: HashwatchConfig, config_file: str | None, listen: str, **own) -> None:
            _serve(build(config, config_file, **own), listen)

        return main.command(name=build.__name__)(command)

    return decorate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hashwatch")
def main() -> None:
    """hashwatch: Prometheus-native observability for Bitcoin mining."""


@service_command(":9891")
def cgminer(config: HashwatchConfig, config_file: str | None) -> web.Application:
    """Exporter for ASIC miners over the CGMiner API (TCP 4028): /probe?target= and fleet /metrics."""
    from exporters.cgminer.server import Exporter

    return Exporter(config.cgminer).app()


@service_command(":9892")
def ocean(config: HashwatchConfig, config_file: str | None) -> web.Application:
    """Exporter for the Ocean.xyz pool API: hashrate, workers, TIDES estimates, payouts, pool stats."""
    from exporters.ocean.server import OceanExporter

    if not config.ocean.addresses:
        logging.getLogger("hashwatch.ocean").warning(
            "ocean.addresses is empty: exporting pool-wide metrics only; add your payout address to see your own"
        )
    return OceanExporter(config.ocean).app()


@service_command(":9893")
def market(config: HashwatchConfig, config_file: str | None) -> web.Application:
    """Exporter for BTC price, difficulty, retarget, fees and hashprice (public APIs or your own node)."""
    from exporters.market.server import MarketExporter

    return MarketExporter(config.market).app()


@service_command(":9894")
def profitability(config: HashwatchConfig, config_file: str | None) -> web.Application:
    """Exporter for revenue, power cost, profit and break-even series per miner, site and fleet."""
    from profitability.catalog import load_catalog
    from profitability.server import ProfitabilityExporter

    try:
        catalog = load_catalog(config.profitability.catalog_file)
    except ConfigError as exc:
        config_error(exc)
    if config.profitability.ledger is not None:
        try:
            config.profitability.ledger.check_files()
        except ConfigError as exc:
            config_error(f"{config_file}: {exc}")
    return ProfitabilityExporter(config.profitability, catalog).app()


@main.command()
@config_option
@click.option(
    "--web.listen-address", "listen", type=ListenAddress(), default=None,
    help="Address to serve HTTP on.  [default: webhook.listen, :9895]",
)
@log_option
def webhook(config_file: str | None, listen: str | None, log_level: str) -> None:
    """Receiver for Alertmanager's webhook: stores alert events durably (SQLite), history API, hooks."""
    import sqlite3

    from alertmanager.receiver.server import serve

    config = _setup(config_file, log_level).webhook
    try:
        serve(config, listen)
    except sqlite3.Error as exc:
        raise click.ClickException(f"{config.db_path}: {exc}") from None
    except ConfigError as exc:  # a secret file or variable named by webhook.auth is missing
        config_error(f"{config_file or '<defaults>'}: {exc}")
    except OSError as exc:
        if exc.filename is not None:
            raise click.ClickException(f"{exc.filename}: {exc.strerror or exc}") from None
        raise click.ClickException(f"cannot listen on {listen or config.listen}: {exc.strerror or exc}") from None


@main.command()
@click.option("--miners", default=12, show_default=True, type=click.IntRange(1, 5000), help="Simulated miners.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address every service listens on.")
@click.option(
    "--first-address", "first_address", default="127.10.0.1", show_default=True,
    help="Loopback address of the first simulated miner (the others follow).",
)
@click.option(
    "--miner-port", "miner_port", default=4028, show_default=True, type=click.IntRange(1, 65535),
    help="CGMiner API port of every simulated miner.",
)
@click.option(
    "--duration", type=click.FloatRange(0, min_open=True), default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--workdir", type=click.Path(file_okay=False), default=None,
    help="Keep configs, data and logs here (default: a temporary directory, removed on exit).",
)
def demo(
    miners: int, host: str, first_address: str, miner_port: int, duration: float | None, workdir: str | None
) -> None:
    """The whole stack on loopback: simulated miners with faults, replayed Ocean and market APIs, every
    exporter, Prometheus with the rules, Alertmanager, the webhook receiver, InfluxDB and Grafana when installed."""
    from pathlib import Path

    from .demo import DemoError, DemoOptions, run_demo

    options = DemoOptions(miners, host, first_address, duration, Path(workdir) if workdir else None, miner_port)
    try:
        run_demo(options, say=lambda line: click.echo(line, nl=True) or sys.stdout.flush())
    except DemoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option(
    "--listen", type=ListenAddress(), default="127.0.0.1:9880", show_default=True, help="Address to serve HTTP on.",
)
@click.option(
    "--ocean.workers", "workers_file", type=click.Path(dir_okay=False), default=None,
    help='JSON {"workers": {name: H/s}}: the workers Ocean credits (default: the recorded reply\'s).',
)
@log_option
def upstreams(listen: str, workers_file: str | None, log_level: str) -> None:
    """Replayed Ocean.xyz and market APIs (CoinGecko, CoinCap, mempool.space, blockchain.info) from recorded replies."""
    from simulator.upstreams import load_workers, upstreams_app

    _logging(log_level)
    workers = None
    if workers_file is not None:
        try:
            workers = load_workers(workers_file)
        except ValueError as exc:
            config_error(str(exc))
    _serve(upstreams_app(workers), listen)


@main.command()
@config_option
@click.option(
    "--output.dir", "output_dir", type=click.Path(file_okay=False), default=".", show_default=True,
    help="Repository root to write prometheus/rules/*.yml and docs/runbooks.md under.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is missing or stale.")
def rules(config_file: str | None, output_dir: str, check: bool) -> None:
    """Generate Prometheus recording and alerting rules and their runbooks from the `alerting:` config."""
    from pathlib import Path

    from .alerting.generate import stale, write

    config = load_or_exit(config_file).alerting
    root = Path(output_dir)
    if check:
        outdated = stale(config, root)
        for relative in outdated:
            click.echo(f"stale: {relative} (run `hashwatch rules` and commit the result)", err=True)
        sys.exit(1 if outdated else 0)
    for path in write(config, root):
        click.echo(f"wrote {path}")


@main.group()
def dashboards() -> None:
    """Grafana dashboards (grafana/): generate their JSON, render previews."""


@dashboards.command()
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a dashboard's committed JSON is missing or stale.")
def generate(config_file: str | None, check: bool) -> None:
    """Write grafana/dashboards/*.json from grafana/boards/ (thresholds from the `alerting:` config)."""
    from grafana.generate import stale, write

    config = load_or_exit(config_file).alerting
    names = stale(config=config) if check else [str(path) for path in write(config=config)]
    for name in names:
        shown = name if "/" in name else f"grafana/dashboards/{name}"
        click.echo(f"stale: {shown} (run `hashwatch dashboards generate`)" if check else f"wrote {name}")
    sys.exit(1 if check and names else 0)


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        from grafana.datasources import parse_duration

        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(f"{exc} (e.g. 15m, 1h, 90s)", param, ctx)
        if not 60 <= seconds <= 30 * 86400:
            self.fail(f"{value}: between 1m and 30d", param, ctx)
        return seconds


@dashboards.command()
@click.option("--prometheus", "prometheus_url", required=True, metavar="URL", help="Prometheus to query, e.g. http://127.0.0.1:9090.")
@click.option("--alertmanager", "alertmanager_url", default=None, metavar="URL", help="Alertmanager, for the alert panels.")
@click.option("--influxdb", "influxdb_url", default=None, metavar="URL", help="InfluxDB 1.x (database hashwatch), for history panels.")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False), help="Directory for <dashboard>.png.")
@click.option("--range", "seconds", type=Duration(), default="15m", show_default=True, help="Time range shown.")
def preview(prometheus_url: str, alertmanager_url: str | None, influxdb_url: str | None, output_dir: str, seconds: float) -> None:
    """Render each dashboard's panels from live query results into a PNG per dashboard (no Grafana needed)."""
    from pathlib import Path

    from grafana.datasources import DatasourceError
    from grafana.preview import preview as render_previews
    from grafana.queries import DashboardError, Datasources

    sources = Datasources.at(prometheus_url, alertmanager_url, influxdb_url)
    try:
        rendered = render_previews(sources, Path(output_dir), seconds)
    except (DatasourceError, DashboardError) as exc:
        raise click.ClickException(str(exc)) from None
    for item in rendered:
        click.echo(f"{item.path.stem}: {item.path}, {item.panels} panels, {len(item.without_data)} without data")
        for problem in item.without_data:
            click.echo(f"  no data: {problem}", err=True)


@main.command()
@click.argument("networks", metavar="CIDR...", nargs=-1, required=True)
@click.option("--site", default=None, help="Value of the `site` label of every target.")
@click.option("--port", default=4028, show_default=True, type=click.IntRange(1, 65535), help="CGMiner API port.")
@click.option("--output", default="miners.json", show_default=True, type=click.Path(), help="file_sd JSON file to write.")
@click.option("--concurrency", default=512, show_default=True, type=click.IntRange(1, 10000), help="Hosts in progress at once.")
@click.option(
    "--connect-timeout", "connect_timeout", default=0.5, show_default=True,
    type=click.FloatRange(0, 60, min_open=True), help="TCP connect timeout, seconds.",
)
@click.option(
    "--timeout", default=5.0, show_default=True, type=click.FloatRange(0, 300, min_open=True),
    help="Budget per host (connect and identify), seconds.",
)
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="Extra label for every target (repeatable).")
@click.option(
    "--max-hosts", "max_hosts", default=65536, show_default=True, type=click.IntRange(1, 1 << 24),
    help="Refuse to scan more addresses than this.",
)
def discover(networks, site, port, output, concurrency, connect_timeout, timeout, labels, max_hosts) -> None:
    """Scan networks for miners and write a Prometheus file_sd file labelled with make, model and firmware."""
    from exporters.cgminer.discover import DiscoverError, run_discovery

    try:
        run_discovery(
            networks, site=site, port=port, output=output, concurrency=concurrency,
            connect_timeout=connect_timeout, timeout=timeout, labels=labels, max_hosts=max_hosts,
        )
    except DiscoverError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _attach_simulator() -> None:
    from simulator.cli import simulate

    main.add_command(simulate, "simulate")


_attach_simulator()

if __name__ == "__main__":
    main()
