"""HTTP client for api.ocean.xyz/v1.

Ocean wraps data as {"result": ...} and reports errors as {"error": "..."},
sometimes with HTTP 200. Every way a request can go wrong becomes an
OceanError with a short `kind` (a metric label value) and, for 429 and 503,
the server's Retry-After.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from hashwatch import http
from hashwatch.polling import FetchError


class OceanError(FetchError):
    """A failed request. kind: rate_limited, server_error, http_error, timeout,
    connection_error, too_large (a body over hashwatch.http's cap), redirect (to
    another host, or too many), api_error (an {"error": ...} body) or malformed."""


class OceanClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def get(self, path: str) -> Any:
        """GET base_url + path and return the envelope's `result`."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            reply = await http.get(self.session, url, self.timeout)
        except FetchError as exc:
            raise OceanError(exc.kind, str(exc), exc.retry_after) from None
        try:
            document = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            kind = "http_error" if reply.status >= 400 else "malformed"
            raise OceanError(kind, f"GET {url}: HTTP {reply.status}, not JSON: {reply.body[:60]!r}") from None
        if isinstance(document, dict) and "error" in document:
            # Ocean's own error envelope, whatever the status code.
            raise OceanError("api_error", f"GET {url}: {document['error']}")
        if reply.status >= 400:
            raise OceanError("http_error", f"GET {url}: HTTP {reply.status}")
        if not isinstance(document, dict) or "result" not in document:
            raise OceanError("malformed", f"GET {url}: no 'result' in the reply")
        return document["result"]
