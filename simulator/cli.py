"""`hashwatch simulate`: run a simulated fleet on loopback until interrupted."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import click

from .fleet import SimulatedFleet
from .profiles import PROFILES


def _profile_names(value: str) -> list[str] | None:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PROFILES]
    if unknown:
        raise click.BadParameter(f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    return names or None


def _summary(fleet: SimulatedFleet, per_address: bool) -> str:
    miners = fleet.miners
    counts = Counter(miner.profile.name for miner in miners)
    mode = "one socket per address" if per_address else "one wildcard listener"
    lines = [
        f"simulating {len(miners)} miners on {miners[0].address} .. {miners[-1].address} port {fleet.port} ({mode})",
        *(f"  {count:6d}  {name}" for name, count in counts.items()),
    ]
    return "\n".join(lines)


async def _run(fleet: SimulatedFleet, per_address: bool, file_sd: str | None, labels: dict[str, str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    async with fleet.serve(per_address=per_address):
        if file_sd:
            fleet.write_file_sd(file_sd, labels)  # after binding: port 0 is resolved by now
        click.echo(_summary(fleet, per_address))
        if file_sd:
            click.echo(f"file_sd targets written to {file_sd}")
        click.echo("Ctrl-C to stop")
        await stop.wait()
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
    try:
        fleet = SimulatedFleet.build(
            count, _profile_names(profiles), first_address=first_address, port=port, seed=seed, latency=latency
        )
        asyncio.run(_run(fleet, per_address, file_sd, extra))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on port {port}: {exc}") from None
    except KeyboardInterrupt:
        pass
