"""`hashwatch discover`: find the miners on a network and write a Prometheus file_sd file.

Every host address of the given IPv4 networks gets a short TCP connect on the
CGMiner port; the ones that accept are identified with the exporter's own
scrape() (firmware detection and parsing included), so discovery labels a miner
exactly as the exporter will. Hosts that accept TCP but do not answer like a
CGMiner API are counted, not listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .client import DEFAULT_PORT, ClientSettings
from .labels import target_label_problem
from .model import MinerStatus
from .memory import MinerMemory
from .scrape import scrape

DEFAULT_OUTPUT = "miners.json"
DEFAULT_CONCURRENCY = 512
DEFAULT_CONNECT_TIMEOUT = 0.5  # a miner on the LAN answers a SYN in milliseconds
DEFAULT_TIMEOUT = 5.0  # per host: connect, detect the firmware, read what its parser needs
DEFAULT_MAX_HOSTS = 65536  # a /16: anything larger is almost certainly a typo

# What a host that accepted TCP but is not a miner did, by scrape() failure reason.
NOT_A_MINER = {
    "closed": "closed the connection without replying",
    "connection_error": "closed the connection without replying",
    "malformed_reply": "replied with something other than CGMiner JSON",
    "read_timeout": "accepted but did not reply in time",
    "timeout": "accepted but did not reply in time",
    "api_error": "replied only with CGMiner errors (API access restricted?)",
    "reply_too_large": "replied far more than a miner does",
}
EXAMPLES_PER_REASON = 5

# Labels discovery writes itself; --label must not override them.
OWN_LABELS = ("site", "make", "model", "firmware")


class DiscoverError(ValueError):
    """A usage or configuration error: the CLI prints it and exits 2."""


# --- what to scan --------------------------------------------------------------


def host_ranges(specs: Sequence[str]) -> list[tuple[int, int]]:
    """Merged, sorted inclusive ranges of host addresses (as ints) in IPv4 CIDRs or addresses.

    Network and broadcast addresses are skipped below /31 (RFC 3021 /31s and
    /32s are all hosts). Ranges, not networks, are merged: collapsing two
    adjacent /24s into a /23 would wrongly turn their .255 and .0 into hosts.
    """
    if not specs:
        raise DiscoverError("give at least one network to scan, e.g. 10.20.0.0/22")
    ranges = []
    for spec in specs:
        try:
            # strict=False: "10.20.1.7/24" means the /24 that address is in, as in nmap.
            network = ipaddress.ip_network(spec.strip(), strict=False)
        except ValueError:
            raise DiscoverError(f"{spec!r} is not an IPv4 network (like 10.20.0.0/22) or address") from None
        if network.version != 4:
            raise DiscoverError(f"{spec}: only IPv4 networks can be scanned (an IPv6 subnet is far too large)")
        first, last = int(network.network_address), int(network.broadcast_address)
        if network.prefixlen < 31:
            first, last = first + 1, last - 1
        ranges.append((first, last))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def count_hosts(ranges: Sequence[tuple[int, int]]) -> int:
    return sum(last - first + 1 for first, last in ranges)


def iter_hosts(ranges: Sequence[tuple[int, int]]) -> Iterator[str]:
    for first, last in ranges:
        for address in range(first, last + 1):
            yield str(ipaddress.IPv4Address(address))


def parse_labels(pairs: Sequence[str], site: str | None) -> dict[str, str]:
    """--site and --label NAME=VALUE pairs -> the labels every target group gets."""
    labels: dict[str, str] = {}
    if site is not None:
        if not site.strip():
            raise DiscoverError("--site must not be empty")
        labels["site"] = site
    for pair in pairs:
        name, eq, value = pair.partition("=")
        name = name.strip()
        if not eq or not name or not value:
            raise DiscoverError(f"--label {pair!r}: expected NAME=VALUE with NAME like rack or room_2")
        if name in OWN_LABELS:
            hint = "use --site" if name == "site" else "it is detected from the miner"
            raise DiscoverError(f"--label {name}: {hint}")
        problem = target_label_problem(name)
        if problem:
            raise DiscoverError(f"--label {name}: {problem}")
        if name in labels:
            raise DiscoverError(f"--label {name} given twice")
        labels[name] = value
    return labels


def check_output(path: str) -> Path:
    """Fail before a long scan, not after it, when the file cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise DiscoverError(f"--output {path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise DiscoverError(f"--output {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DiscoverError(f"--output {path}: directory {parent} is not writable")
    return target


def fit_concurrency(wanted: int) -> int:
    """Each slot holds one socket: stay under the open-files limit (256 by default on macOS).

    Past the limit connect() fails with EMFILE, which would look like a silent
    address and lose miners without a word.
    """
    try:
        import resource
    except ImportError:  # Windows has no such limit to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + 64  # stdio, the output file, whatever else the process has open
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return max(1, min(wanted, soft - 64))


# --- the scan --------------------------------------------------------------------


@dataclass
class Scan:
    port: int
    scanned: int = 0
    miners: dict[str, MinerStatus] = field(default_factory=dict)  # address -> what it is
    not_miners: dict[str, str] = field(default_factory=dict)  # address -> scrape failure reason
    elapsed: float = 0.0


async def _accepts(host: str, port: int, timeout: float) -> bool:
    """Does anything listen on host:port? A bare socket: no stream machinery for silent addresses."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
        return True
    except (OSError, TimeoutError):
        return False
    finally:
        sock.close()


async def _identify(host: str, scan: Scan, settings: ClientSettings, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout  # the budget starts with the host's slot, not while it queues
    if not await _accepts(host, scan.port, min(settings.connect_timeout, timeout)):
        return
    result = await scrape(host, scan.port, MinerMemory(), settings, deadline - loop.time())
    if result.status is not None:
        scan.miners[host] = result.status
    elif result.error_reason == "malformed_reply" and result.error_message.endswith("empty reply"):
        # Accepted, then closed before sending a byte (a firewall, a port
        # forward to nothing): say so rather than "replied something else".
        scan.not_miners[host] = "closed"
    else:
        scan.not_miners[host] = result.error_reason


async def scan_hosts(
    ranges: Sequence[tuple[int, int]],
    port: int = DEFAULT_PORT,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[], None] | None = None,
) -> Scan:
    """Identify what answers on `port` at every address of `ranges`, `concurrency` hosts at a time."""
    started = time.perf_counter()
    scan = Scan(port)
    settings = ClientSettings(connect_timeout=connect_timeout, request_timeout=timeout)
    semaphore = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task] = set()
    bugs: list[BaseException] = []

    def finished(task: asyncio.Task) -> None:
        running.discard(task)
        semaphore.release()
        if not task.cancelled() and task.exception() is not None:
            bugs.append(task.exception())
        scan.scanned += 1
        if progress is not None:
            progress()

    # Tasks are created only once a slot is free, so a /16 never holds 65,536
    # coroutines at once; the semaphore is released as each host finishes.
    for host in iter_hosts(ranges):
        await semaphore.acquire()
        task = asyncio.create_task(_identify(host, scan, settings, timeout))
        running.add(task)
        task.add_done_callback(finished)
    if running:
        await asyncio.wait(running)
    if bugs:
        # _identify does not raise (scrape never does; _accepts catches OSError):
        # this is a bug, and must not pass for an empty network.
        raise bugs[0]
    scan.elapsed = time.perf_counter() - started
    return scan


# --- the output -------------------------------------------------------------------


def miner_labels(status: MinerStatus, common: Mapping[str, str]) -> dict[str, str]:
    """site, make, model, firmware, then the --label ones. Empty values are left out:
    Prometheus treats an empty label as no label anyway."""
    labels = {"site": common.get("site", ""), "make": status.make, "model": status.model, "firmware": status.firmware}
    labels.update((name, common[name]) for name in sorted(common) if name != "site")
    return {name: value for name, value in labels.items() if value}


def file_sd_groups(scan: Scan, common: Mapping[str, str]) -> list[dict[str, Any]]:
    """One group per distinct label set, targets "host:port" in numeric address order."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
    for host in sorted(scan.miners, key=lambda h: int(ipaddress.IPv4Address(h))):
        labels = miner_labels(scan.miners[host], common)
        groups[tuple(labels.items())].append(f"{host}:{scan.port}")
    return [{"targets": targets, "labels": dict(key)} for key, targets in sorted(groups.items())]


def write_atomically(path: Path, groups: list[dict[str, Any]]) -> None:
    """Prometheus and fleet mode watch this file: they must never read half of it."""
    text = json.dumps(groups, indent=2) + "\n"
    # Hidden and ending in .tmp: a file_sd glob such as *.json never picks it up.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file 0600: keep the old file's mode, else make it
        # readable by the prometheus user.
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def summary(scan: Scan, groups: list[dict[str, Any]], output: Path) -> list[str]:
    lines = [f"scanned {scan.scanned} addresses on port {scan.port} in {scan.elapsed:.2f} s"]
    lines.append(f"miners found: {len(scan.miners)}")
    kinds = Counter((s.firmware, s.make, s.model) for s in scan.miners.values())
    for (firmware, make, model), count in sorted(kinds.items()):
        lines.append(f"  {count:6d}  {firmware:<12} {make:<10} {model or '(model not reported)'}")
    lines.append(f"hosts not speaking the CGMiner API: {len(scan.not_miners)}")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for host in sorted(scan.not_miners, key=lambda h: int(ipaddress.IPv4Address(h))):
        by_reason[scan.not_miners[host]].append(host)
    for reason, hosts in sorted(by_reason.items()):
        examples = ", ".join(hosts[:EXAMPLES_PER_REASON]) + (", ..." if len(hosts) > EXAMPLES_PER_REASON else "")
        lines.append(f"  {len(hosts):6d}  {NOT_A_MINER.get(reason, reason)}: {examples}")
    lines.append(f"wrote {len(scan.miners)} targets in {len(groups)} groups to {output}")
    return lines


def run_discovery(
    networks: Sequence[str],
    *,
    site: str | None = None,
    port: int = DEFAULT_PORT,
    output: str = DEFAULT_OUTPUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    timeout: float = DEFAULT_TIMEOUT,
    labels: Sequence[str] = (),
    max_hosts: int = DEFAULT_MAX_HOSTS,
) -> Scan:
    """The whole command: check the arguments, scan, write the file, print the summary.

    Raises DiscoverError (nothing scanned, nothing written) for bad arguments.
    """
    ranges = host_ranges(networks)
    total = count_hosts(ranges)
    if total > max_hosts:
        raise DiscoverError(
            f"{total} addresses to scan, more than --max-hosts {max_hosts}: narrow the networks or raise --max-hosts"
        )
    common = parse_labels(labels, site)
    target = check_output(output)
    slots = fit_concurrency(concurrency)
    if slots < concurrency:
        click.echo(f"note: concurrency lowered to {slots} to stay under the open-files limit", err=True)

    options = {"concurrency": slots, "connect_timeout": connect_timeout, "timeout": timeout}
    if sys.stderr.isatty():
        # Redraw at most ~200 times: drawing on every host would cost more than a loopback scan.
        with click.progressbar(
            length=total, label="scanning", file=sys.stderr, update_min_steps=max(1, total // 200)
        ) as bar:
            scan = asyncio.run(scan_hosts(ranges, port, progress=lambda: bar.update(1), **options))
    else:
        scan = asyncio.run(scan_hosts(ranges, port, **options))

    groups = file_sd_groups(scan, common)
    write_atomically(target, groups)
    for line in summary(scan, groups, target):
        click.echo(line)
    return scan
