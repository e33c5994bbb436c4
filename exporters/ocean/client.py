"""HTTP client for api.ocean.xyz/v1.

Ocean wraps data as {"result": ...} and reports errors as {"error": "..."},
sometimes with HTTP 200. Every way a request can go wrong becomes an
OceanError with a short `kind` (a metric label value) and, for 429 and 503,
the server's Retry-After.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import aiohttp
import orjson

from hashwatch import __version__
from hashwatch.polling import FetchError

USER_AGENT = f"hashwatch/{__version__} (+https://github.com/hashwatch/hashwatch)"


class OceanError(FetchError):
    """A failed request. kind: rate_limited, server_error, http_error, timeout,
    connection_error, api_error (an {"error": ...} body) or malformed."""


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


class OceanClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def get(self, path: str) -> Any:
        """GET base_url + path and return the envelope's `result`."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            async with self.session.get(
                url, timeout=self.timeout, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except asyncio.TimeoutError:
            raise OceanError("timeout", f"GET {url}: no answer in {self.timeout.total:g} s") from None
        except aiohttp.ClientError as exc:
            raise OceanError("connection_error", f"GET {url}: {exc}") from None
        if status == 429:
            raise OceanError("rate_limited", f"GET {url}: 429 Too Many Requests", retry_after)
        if status >= 500:
            raise OceanError("server_error", f"GET {url}: HTTP {status}", retry_after)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            kind = "http_error" if status >= 400 else "malformed"
            raise OceanError(kind, f"GET {url}: HTTP {status}, not JSON: {body[:60]!r}") from None
        if isinstance(document, dict) and "error" in document:
            # Ocean's own error envelope, whatever the status code.
            raise OceanError("api_error", f"GET {url}: {document['error']}")
        if status >= 400:
            raise OceanError("http_error", f"GET {url}: HTTP {status}")
        if not isinstance(document, dict) or "result" not in document:
            raise OceanError("malformed", f"GET {url}: no 'result' in the reply")
        return document["result"]
