"""GET a public API with a timeout, mapping every failure to a FetchError kind.

Shared by the exporters that poll HTTP APIs (Ocean, price and network sources):
429 and 5xx carry the server's Retry-After; anything that is not a usable
reply becomes a kind a metric can count.

Limits, so that a broken or hostile upstream cannot take the exporter's memory
or time: a body is read in chunks up to `max_bytes` (MAX_BODY_BYTES, 4 MiB, by
default; every public API used answers in well under 1 MiB), a declared Content-Length
above it is refused before reading, and either way the connection is closed
and the fetch fails as `too_large`. Redirects are followed by hand, at most
`max_redirects` (MAX_REDIRECTS, 3) of them, and only to the same scheme, host
and port, or from http to https on the same host; any other redirect, or one
too many, fails as `redirect`. The timeout bounds the whole fetch: every hop
and the body read together.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from . import __version__
from .polling import FetchError

USER_AGENT = f"hashwatch/{__version__} (+https://github.com/hashwatch/hashwatch)"

MAX_BODY_BYTES = 4 * 1024 * 1024  # default cap on a reply body (decoded), per request
MAX_REDIRECTS = 3  # default number of redirects followed per fetch
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024


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


async def read_body(response: aiohttp.ClientResponse, max_bytes: int, what: str) -> bytes:
    """The whole body of response, if it is at most max_bytes long (after content decoding).

    Raises FetchError too_large, and closes the connection rather than draining
    it, when the declared Content-Length or the bytes actually read pass the cap:
    reading stops at the first chunk past it, so at most max_bytes plus one chunk
    is ever held.
    """
    length = response.content_length
    if length is not None and length > max_bytes:
        response.close()
        raise FetchError("too_large", f"{what}: Content-Length {length} is over the {max_bytes}-byte cap")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise FetchError("too_large", f"{what}: body longer than the {max_bytes}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def redirect_allowed(origin: URL, target: URL) -> bool:
    """Same scheme, host and port; or the same host upgraded from http to https."""
    if not target.is_absolute() or target.host != origin.host:
        return False
    if target.scheme == origin.scheme:
        return target.port == origin.port
    return origin.scheme == "http" and target.scheme == "https"


async def get(
    session: aiohttp.ClientSession,
    url: str,
    timeout: float,
    accept: str = "application/json",
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> Reply:
    """The reply to GET url. Raises FetchError: timeout, connection_error, rate_limited (429), server_error (5xx),
    too_large (body over max_bytes), redirect (to another host, or more than max_redirects).

    The timeout covers the whole fetch: redirects and the body read included.
    """
    try:
        async with asyncio.timeout(timeout):
            status, body, retry_after = await _fetch(session, url, timeout, accept, max_bytes, max_redirects)
    except TimeoutError:  # before ClientError: ServerTimeoutError is both
        raise FetchError("timeout", f"GET {url}: no answer in {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise FetchError("connection_error", f"GET {url}: {exc}") from None
    if status == 429:
        raise FetchError("rate_limited", f"GET {url}: 429 Too Many Requests", retry_after)
    if status >= 500:
        raise FetchError("server_error", f"GET {url}: HTTP {status}", retry_after)
    return Reply(status, body)


async def _fetch(
    session: aiohttp.ClientSession, url: str, timeout: float, accept: str, max_bytes: int, max_redirects: int
) -> tuple[int, bytes, float | None]:
    """(status, body, Retry-After) of the reply at the end of the allowed redirects."""
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    current: str | URL = url
    for hops in range(max_redirects + 1):
        async with session.get(
            current, timeout=aiohttp.ClientTimeout(total=timeout), headers=headers, allow_redirects=False
        ) as response:
            if response.status in REDIRECT_STATUSES:
                # Not read: leaving the block releases (or closes) the connection.
                here = response.url
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("redirect", f"GET {url}: HTTP {response.status} without a Location")
                try:
                    target = here.join(URL(location))
                except ValueError:
                    raise FetchError("redirect", f"GET {url}: unusable Location {location[:80]!r}") from None
                if not redirect_allowed(here, target):
                    raise FetchError("redirect", f"GET {url}: not following a redirect to another host or port: {target}")
                if hops == max_redirects:
                    break
                current = target
                continue
            body = await read_body(response, max_bytes, f"GET {url}")
            return response.status, body, retry_after_seconds(response.headers.get("Retry-After"))
    raise FetchError("redirect", f"GET {url}: more than {max_redirects} redirects")


def json_of(reply: Reply, url: str) -> Any:
    """The JSON document of a 2xx reply. Raises FetchError: http_error (4xx), malformed (not JSON)."""
    if reply.status >= 400:
        raise FetchError("http_error", f"GET {url}: HTTP {reply.status}")
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise FetchError("malformed", f"GET {url}: not JSON: {reply.body[:60]!r}") from None
