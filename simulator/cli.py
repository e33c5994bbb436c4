"""`hashwatch simulate`: run a simulated fleet on loopback until interrupted."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from collections.abc import Callable

import click

from hashwatch.config import ConfigError
from hashwatch.process import raise_open_file_limit, tune_garbage_collector
from hashwatch.web import parse_listen_address, serve

from .control import control_app
from .fleet import SimulatedFleet
from .profiles import PROFILES
from .scenario import Scenario, ScenarioRunner, load_scenario


def _profile_names(value: str) -> list[str] | None:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PROFILES]
    if unknown:
        raise click.BadParameter(f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    return names or None


def _ready_line(fleet: SimulatedFleet, per_address: bool, loop_name: str) -> str:
    miners = fleet.miners
    mode = "one socket per address" if per_address else "one wildcard listener"
    return (
        f"listening: {len(miners)} miners on {miners[0].address} .. {miners[-1].address} "
        f"port {fleet.port} ({mode}, {loop_name} loop)"
    )


def _loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    """uvloop when asked or, for "auto", when installed: about 1.5x the connections per CPU second."""
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise click.ClickException("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


async def _run(
    fleet: SimulatedFleet,
    *,
    per_address: bool,
    idle_timeout: float,
    file_sd: str | None,
    labels: dict[str, str],
    control: str | None,
    scenario: Scenario | None,
    loop_name: str,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    async with fleet.serve(per_address=per_address, idle_timeout=idle_timeout):
        counts = Counter(miner.profile.name for miner in fleet.miners)
        click.echo(f"simulating {len(fleet)} miners: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
        if file_sd:
            fleet.write_file_sd(file_sd, labels)  # after binding: port 0 is resolved by now
            click.echo(f"file_sd targets written to {file_sd}")
        web_runner = None
        if control:
            web_runner, url = await serve(control_app(fleet), control)
            click.echo(f"control API on {url}")
        scenario_task = None
        try:
            if scenario is not None:
                runner = ScenarioRunner(scenario, fleet, report=lambda line: click.echo(f"scenario: {line}"))
                runner.advance(0.0)  # steps "at: 0" are in force before anyone is told we listen
                scenario_task = asyncio.create_task(runner.run())
            # Last, once everything listens: a parent process waits for this line.
            click.echo(_ready_line(fleet, per_address, loop_name))
            await stop.wait()
        finally:
            if scenario_task is not None:
                scenario_task.cancel()
                await asyncio.gather(scenario_task, return_exceptions=True)
            if web_runner is not None:
                await web_runner.cleanup()
    click.echo("stopped")


@click.command("simulate")
@click.option("--miners", "count", type=click.IntRange(1, 1_000_000), default=6, show_default=True, help="Miners.")
@click.option("--profiles", default="", help=f"Comma-separated, round-robin (default: all: {', '.join(PROFILES)}).")
@click.option(
    "--first-address", default="127.10.0.1", show_default=True, help="First loopback address (.0/.255 skipped)."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=4028, show_default=True, help="API port (0: any free port)."
)
@click.option("--file-sd", type=click.Path(dir_okay=False), default=None, help="Write Prometheus file_sd targets here.")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="Extra file_sd label (repeatable).")
@click.option(
    "--latency", type=click.FloatRange(0, 60), default=0.0, show_default=True, help="Seconds before each reply."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the hashrate noise.")
@click.option("--per-address", is_flag=True, help="One listening socket per miner instead of one wildcard listener.")
@click.option(
    "--idle-timeout", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
    help="Seconds a connection may stay silent (and a hung miner hold it).",
)
@click.option(
    "--control.listen-address", "control", default=None, metavar="HOST:PORT",
    help="Serve the fault control API here, e.g. 127.0.0.1:9899 (docs/simulator.md).",
)
@click.option(
    "--scenario", "scenario_file", type=click.Path(dir_okay=False, exists=True), default=None,
    help="YAML timeline of faults to apply (docs/simulator.md).",
)
@click.option(
    "--loop", "loop_choice", type=click.Choice(["auto", "uvloop", "asyncio"]), default="auto", show_default=True,
    help="Event loop: auto uses uvloop when installed.",
)
@click.option("--list-profiles", is_flag=True, help="List the profiles and exit.")
def simulate(
    count: int,
    profiles: str,
    first_address: str,
    port: int,
    file_sd: str | None,
    labels: tuple[str, ...],
    latency: float,
    seed: int,
    per_address: bool,
    idle_timeout: float,
    control: str | None,
    scenario_file: str | None,
    loop_choice: str,
    list_profiles: bool,
) -> None:
    """Simulated ASIC miners speaking the CGMiner API on 127.x.y.z, built from real captures."""
    if list_profiles:
        for profile in PROFILES.values():
            identity = f"{profile.make} {profile.model} ({profile.firmware})"
            click.echo(f"{profile.name:18s} {identity}: {' '.join(profile.commands)}")
        return
    extra: dict[str, str] = {}
    for item in labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--label")
        extra[name] = value
    if control:
        try:
            parse_listen_address(control)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--control.listen-address") from None
    loop_factory, loop_name = _loop_factory(loop_choice)
    raise_open_file_limit()
    try:
        fleet = SimulatedFleet.build(
            count, _profile_names(profiles), first_address=first_address, port=port, seed=seed, latency=latency
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    tune_garbage_collector()  # after the build: the fleet's miners are never garbage
    scenario = None
    if scenario_file:
        try:
            scenario = load_scenario(scenario_file, fleet)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    options = {
        "per_address": per_address, "idle_timeout": idle_timeout, "file_sd": file_sd, "labels": extra,
        "control": control, "scenario": scenario, "loop_name": loop_name,
    }  # fmt: skip
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_run(fleet, **options))
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from None
    except KeyboardInterrupt:
        pass
