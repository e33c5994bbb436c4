"""asyncio client for the CGMiner API: one TCP connection per request.

The miner answers with JSON (plus a NUL) and closes the socket, so a reply is
read until EOF or the NUL, under a deadline and a size cap: a hung or chatty
device costs one bounded slot, never the exporter.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
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
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid target port in {target!r}")
    return host, int(port_text)


async def _read_reply(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise ScrapeError("reply_too_large", f"reply exceeds {limit} bytes")
        chunks.append(chunk)
        if chunk.endswith(b"\x00"):
            break  # cgminer's terminator: no need to wait for the close
    return b"".join(chunks)


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
    deadline = loop.time() + budget
    writer: asyncio.StreamWriter | None = None
    try:
        try:
            async with asyncio.timeout(min(settings.connect_timeout, budget)):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            raise ScrapeError("connect_timeout", f"connect to {host}:{port} timed out") from None
        except ConnectionRefusedError:
            raise ScrapeError("connection_refused", f"{host}:{port} refused the connection") from None
        except OSError as exc:
            reason = "unresolvable" if isinstance(exc, socket.gaierror) else "connection_error"
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                reason = "unreachable"
            raise ScrapeError(reason, f"connect to {host}:{port}: {exc}") from None
        try:
            async with asyncio.timeout_at(deadline):
                writer.write(payload)
                await writer.drain()
                raw = await _read_reply(reader, settings.max_reply_bytes)
        except TimeoutError:
            raise ScrapeError("read_timeout", f"{host}:{port} did not answer {'+'.join(commands)} in time") from None
        except (ConnectionError, OSError) as exc:
            raise ScrapeError("connection_error", f"{host}:{port}: {exc}") from None
    finally:
        if writer is not None:
            writer.close()
    try:
        return decode_reply(raw)
    except MalformedReply as exc:
        raise ScrapeError("malformed_reply", f"{host}:{port} {'+'.join(commands)}: {exc}") from None
