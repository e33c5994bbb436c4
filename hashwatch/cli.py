"""The `hashwatch` command: one subcommand per service, Prometheus-style flags."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import NoReturn

import click

from . import __version__
from .config import ConfigError, load_config
from .settings import HashwatchConfig

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
    from .web import run, run_forever

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
        from .web import parse_listen_address

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hashwatch")
def main() -> None:
    """hashwatch: Prometheus-native observability for Bitcoin mining."""


@main.command()
@config_option
@listen_option(":9891")
@log_option
def cgminer(config_file: str | None, listen: str, log_level: str) -> None:
    """Exporter for ASIC miners over the CGMiner API (TCP 4028): /probe?target= and fleet /metrics."""
    from exporters.cgminer.server import Exporter

    config = _setup(config_file, log_level)
    _serve(Exporter(config.cgminer).app(), listen)


@main.command()
@config_option
@listen_option(":9892")
@log_option
def ocean(config_file: str | None, listen: str, log_level: str) -> None:
    """Exporter for the Ocean.xyz pool API: hashrate, workers, TIDES estimates, payouts, pool stats."""
    from exporters.ocean.server import OceanExporter

    config = _setup(config_file, log_level)
    if not config.ocean.addresses:
        logging.getLogger("hashwatch.ocean").warning(
            "ocean.addresses is empty: exporting pool-wide metrics only; add your payout address to see your own"
        )
    _serve(OceanExporter(config.ocean).app(), listen)


@main.command()
@config_option
@listen_option(":9893")
@log_option
def market(config_file: str | None, listen: str, log_level: str) -> None:
    """Exporter for BTC price, difficulty, retarget, fees and hashprice (public APIs or your own node)."""
    from exporters.market.server import MarketExporter

    config = _setup(config_file, log_level)
    _serve(MarketExporter(config.market).app(), listen)


@main.command()
@config_option
@listen_option(":9894")
@log_option
def profitability(config_file: str | None, listen: str, log_level: str) -> None:
    """Exporter for revenue, power cost, profit and break-even series per miner, site and fleet."""
    from profitability.catalog import load_catalog
    from profitability.server import ProfitabilityExporter

    config = _setup(config_file, log_level)
    try:
        catalog = load_catalog(config.profitability.catalog_file)
    except ConfigError as exc:
        config_error(exc)
    if config.profitability.ledger is not None:
        try:
            config.profitability.ledger.check_files()
        except ConfigError as exc:
            config_error(f"{config_file}: {exc}")
    _serve(ProfitabilityExporter(config.profitability, catalog).app(), listen)


@main.command()
@config_option
@click.option("--miners", default=12, show_default=True, type=click.IntRange(1, 20000), help="Simulated miners.")
@listen_option("127.0.0.1:9891")
@click.option("--simulator.first-address", "first_address", default="127.10.0.1", show_default=True)
@click.option("--simulator.port", "sim_port", default=4028, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: run until Ctrl-C).")
@log_option
def demo(config_file, miners, listen, first_address, sim_port, duration, log_level) -> None:
    """Run a simulated fleet and the CGMiner exporter over it, on loopback: no hardware needed."""
    from .demo import run_demo

    _logging(log_level)
    config = load_or_exit(config_file)
    asyncio.run(run_demo(config, miners, listen, first_address, sim_port, duration))


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
