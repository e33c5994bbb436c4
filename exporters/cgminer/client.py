"""asyncio client for the CGMiner API: one TCP connection per request.

The miner answers with JSON (plus a NUL) and closes the socket, so a reply is
read until EOF or the NUL, under a deadline and a size cap: a hung or chatty
device costs one bounded slot, never the exporter.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import math
import re
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .commands import encode_request
from .wire import MalformedReply, decode_reply

DEFAULT_PORT = 4028


class ScrapeError(RuntimeError):
    """A miner could not be read. `reason` is a short label value for metrics."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class ClientSettings:
    connect_timeout: float = 2.0
    request_timeout: float = 5.0  # connect + send + read of one request
    max_reply_bytes: int = 4 * 1024 * 1024


_HOST_NAME = re.compile(rb"[A-Za-z0-9_.-]+")


def _check_host_name(host: str, target: str) -> None:
    """ValueError unless host is an IP literal or a name that can be looked up (IDNA, labels of 1-63)."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    try:
        encoded = host.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"invalid target host in {target[:80]!r}: {exc.__cause__ or exc}") from None
    if len(encoded) > 253:
        raise ValueError(f"invalid target host in {target[:80]!r}: longer than 253 characters")
    if not _HOST_NAME.fullmatch(encoded):
        raise ValueError(f"invalid target host in {target[:80]!r}: a name has letters, digits, '-', '_' and '.' only")


def split_target(target: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """"host", "host:port" or "[v6]:port" -> (host, port); ValueError when malformed."""
    text = target.strip()
    if not text:
        raise ValueError("empty target")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
        if ":" in host:
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(f"invalid target {target!r}: write IPv6 as [addr]:port") from None
    if not host or any(c in host for c in "/?#@ "):
        raise ValueError(f"invalid target host in {target!r}")
    _check_host_name(host, target)
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid target port in {target!r}")
    return host, int(port_text)


class _Deadlines:
    """Request deadlines in 10 ms slots: one event-loop timer per slot, not per request.

    A fleet scrape arms two deadlines per request, tens of thousands in all, and a
    timer handle each was a tenth of the exporter's CPU. A deadline that fires up
    to 10 ms late costs nothing here.
    """

    RESOLUTION = 0.01

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.slots: dict[float, list[list[Any]]] = {}

    def arm(self, when: float, callback: Callable[[], None]) -> list[Any]:
        """Call `callback` at `when` (or up to RESOLUTION later) unless disarmed."""
        slot_time = math.ceil(when / self.RESOLUTION) * self.RESOLUTION
        slot = self.slots.get(slot_time)
        if slot is None:
            slot = self.slots[slot_time] = []
            self.loop.call_at(slot_time, self._due, slot_time)
        entry = [callback]
        slot.append(entry)
        return entry

    @staticmethod
    def disarm(entry: list[Any]) -> None:
        entry[0] = None

    def _due(self, slot_time: float) -> None:
        for (callback,) in self.slots.pop(slot_time, ()):
            if callback is not None:
                callback()


_DEADLINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()


def _deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    found = _DEADLINES.get(loop)
    if found is None:
        found = _DEADLINES[loop] = _Deadlines(loop)
    return found


class _ReplyProtocol(asyncio.Protocol):
    """Sends one request and collects the reply until EOF or cgminer's NUL.

    A Protocol rather than streams: a fleet scrape opens tens of thousands of
    short connections, and the stream reader/writer pair per connection was a
    large share of the exporter's CPU.
    """

    def __init__(self, payload: bytes, limit: int, done: asyncio.Future):
        self.payload, self.limit, self.done = payload, limit, done
        self.chunks: list[bytes] = []
        self.size = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self._finish(ScrapeError("reply_too_large", f"reply exceeds {self.limit} bytes"))
            return
        self.chunks.append(data)
        if data.endswith(b"\x00"):
            self._finish(None)  # cgminer's terminator: no need to wait for the close

    def eof_received(self) -> bool:
        self._finish(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(ScrapeError("connection_error", str(exc)) if exc is not None else None)

    def fail(self, error: Exception) -> None:
        self._finish(error)

    def _finish(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(b"".join(self.chunks))
            else:
                self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


async def request(
    host: str, port: int, commands: tuple[str, ...], settings: ClientSettings, timeout: float | None = None
) -> dict[str, Any]:
    """Send one (possibly multi-) command and return the decoded JSON object.

    Raises CommandNotAllowed (before connecting) for anything not read-only, and
    ScrapeError with a reason for every transport or decoding failure.
    """
    payload = encode_request(commands)
    budget = min(timeout, settings.request_timeout) if timeout is not None else settings.request_timeout
    if budget <= 0:
        raise ScrapeError("timeout", "no time left in the scrape budget")
    loop = asyncio.get_running_loop()
    now = loop.time()
    done: asyncio.Future = loop.create_future()
    protocol = _ReplyProtocol(payload, settings.max_reply_bytes, done)
    transport: asyncio.BaseTransport | None = None
    # Plain timers rather than asyncio.timeout scopes: a fleet scrape makes tens
    # of thousands of requests and the scopes were a tenth of its CPU.
    task = asyncio.current_task()
    expired = False

    def connect_expired() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    def read_expired() -> None:
        protocol.fail(ScrapeError("read_timeout", f"{host}:{port} did not answer {'+'.join(commands)} in time"))

    deadlines = _deadlines(loop)
    timer = deadlines.arm(now + min(settings.connect_timeout, budget), connect_expired)
    try:
        try:
            transport, _ = await loop.create_connection(lambda: protocol, host, port)
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise ScrapeError("connect_timeout", f"connect to {host}:{port} timed out") from None
            raise
        except ConnectionRefusedError:
            raise ScrapeError("connection_refused", f"{host}:{port} refused the connection") from None
        except OSError as exc:
            reason = "unresolvable" if isinstance(exc, socket.gaierror) else "connection_error"
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                reason = "unreachable"
            raise ScrapeError(reason, f"connect to {host}:{port}: {exc}") from None
        deadlines.disarm(timer)
        timer = deadlines.arm(now + budget, read_expired)
        try:
            raw = await done
        except OSError as exc:
            raise ScrapeError("connection_error", f"{host}:{port}: {exc}") from None
    finally:
        deadlines.disarm(timer)
        # protocol.transport too: the connect timer can fire after the connection
        # was made but before this task resumed to receive it.
        for opened in (transport, protocol.transport):
            if opened is not None:
                opened.close()
    try:
        return decode_reply(raw)
    except MalformedReply as exc:
        raise ScrapeError("malformed_reply", f"{host}:{port} {'+'.join(commands)}: {exc}") from None
