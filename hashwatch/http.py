"""GET a public API with a timeout, mapping every failure to a FetchError kind.

Shared by the exporters that poll HTTP APIs (Ocean, price and network sources):
429 and 5xx carry the server's Retry-After; anything that is not a usable
reply becomes a kind a metric can count.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from . import __version__
from .polling import FetchError

USER_AGENT = f"hashwatch/{__version__} (+https://github.com/hashwatch/hashwatch)"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


async def get(session: aiohttp.ClientSession, url: str, timeout: float, accept: str = "application/json") -> Reply:
    """The reply to GET url. Raises FetchError: timeout, connection_error, rate_limited (429), server_error (5xx)."""
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), headers={"User-Agent": USER_AGENT, "Accept": accept}
        ) as response:
            body = await response.read()
            status = response.status
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    except asyncio.TimeoutError:
        raise FetchError("timeout", f"GET {url}: no answer in {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise FetchError("connection_error", f"GET {url}: {exc}") from None
    if status == 429:
        raise FetchError("rate_limited", f"GET {url}: 429 Too Many Requests", retry_after)
    if status >= 500:
        raise FetchError("server_error", f"GET {url}: HTTP {status}", retry_after)
    return Reply(status, body)


def json_of(reply: Reply, url: str) -> Any:
    """The JSON document of a 2xx reply. Raises FetchError: http_error (4xx), malformed (not JSON)."""
    if reply.status >= 400:
        raise FetchError("http_error", f"GET {url}: HTTP {reply.status}")
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise FetchError("malformed", f"GET {url}: not JSON: {reply.body[:60]!r}") from None
