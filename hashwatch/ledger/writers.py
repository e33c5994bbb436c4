"""Writers: one request's worth of line protocol to the database, and what came of it.

- `V2Writer` writes with influxdb-client (v2 API: url, org, bucket, token).
- `V1Writer` POSTs the same bytes to InfluxDB 1.x's /write.

A writer never raises for a server problem: it returns a `WriteOutcome` whose
reason is one of `REASONS` (a closed set, so reasons can be metric labels).
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple, Protocol

import aiohttp

from .config import LedgerConfig

# Failure reasons, a closed set so they can be metric labels.
REASONS = ("connect", "timeout", "auth", "not_found", "rejected", "server", "http", "spool", "error")


class WriteOutcome(NamedTuple):
    ok: bool
    reason: str = ""  # one of REASONS when not ok
    detail: str = ""
    status: int | None = None


def classify_status(status: int) -> str:
    """The failure reason for an HTTP status that is not 2xx."""
    if status in (400, 413, 422):
        return "rejected"  # the batch itself is refused: retrying the same bytes cannot help
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"  # database or bucket missing: an operator can create it, so retry
    if status == 429 or status >= 500:
        return "server"
    return "http"


def _outcome_for_status(status: int, text: str) -> WriteOutcome:
    if 200 <= status < 300:
        return WriteOutcome(True, status=status)
    return WriteOutcome(False, classify_status(status), f"HTTP {status}: {text.strip()[:300]}", status)


class Writer(Protocol):
    """Sends one request's worth of line protocol. Never raises for server problems."""

    async def write(self, body: bytes) -> WriteOutcome: ...

    async def close(self) -> None: ...


class V2Writer:
    """InfluxDB v2 write API through influxdb-client (InfluxDB 2.x/3.x, Cloud, or compatible servers).

    influxdb-client's synchronous write API blocks on urllib3, so each write runs
    in a worker thread; the event loop never waits on the network. The client's
    own retries are off (retries=False is its default, set here explicitly): the
    ledger's backoff and spool decide when to try again.
    """

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_seconds: float):
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_seconds * 1000), retries=False
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def _write_blocking(self, body: bytes) -> WriteOutcome:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import NewConnectionError, ProtocolError
        from urllib3.exceptions import TimeoutError as Urllib3Timeout

        try:
            self._write_api.write(self.bucket, self.org, record=body, write_precision=WritePrecision.NS)
        except ApiException as exc:
            body_text = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
            return _outcome_for_status(exc.status or 0, body_text or str(exc.reason or ""))
        except NewConnectionError as exc:  # before the timeout check: it subclasses ConnectTimeoutError
            return WriteOutcome(False, "connect", str(exc))
        except Urllib3Timeout as exc:
            return WriteOutcome(False, "timeout", str(exc))
        except (ProtocolError, ConnectionError) as exc:
            return WriteOutcome(False, "connect", str(exc))
        except Exception as exc:  # noqa: BLE001 - never into the caller; counted as "error"
            return WriteOutcome(False, "error", f"{type(exc).__name__}: {exc}")
        return WriteOutcome(True, status=204)

    async def write(self, body: bytes) -> WriteOutcome:
        return await asyncio.to_thread(self._write_blocking, body)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


class V1Writer:
    """InfluxDB 1.x: POST line protocol to {url}/write?db=...&rp=...&precision=ns.

    aiohttp rather than influxdb-client's v1 compatibility: that path posts to
    /api/v2/write, which InfluxDB only has from 1.8 on (Debian ships 1.6), while
    /write exists in every 1.x. aiohttp is already the project's HTTP client and
    is asynchronous, so no thread is needed. Credentials go in a Basic
    Authorization header, which 1.x accepts, keeping them out of URLs and logs.
    """

    def __init__(
        self,
        url: str,
        database: str,
        timeout_seconds: float,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ):
        self.endpoint = url.rstrip("/") + "/write"
        self.params = {"db": database, "precision": "ns"}
        if retention_policy:
            self.params["rp"] = retention_policy
        self.auth = aiohttp.BasicAuth(username, password or "") if username else None
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def write(self, body: bytes) -> WriteOutcome:
        if self._session is None or self._session.closed:  # made inside the running loop
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                self.endpoint,
                params=self.params,
                data=body,
                auth=self.auth,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            ) as response:
                return _outcome_for_status(response.status, await response.text(errors="replace"))
        except TimeoutError as exc:
            return WriteOutcome(False, "timeout", str(exc) or "timed out")
        except aiohttp.ClientError as exc:
            return WriteOutcome(False, "connect", f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return WriteOutcome(False, "connect", str(exc))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_writer(config: LedgerConfig) -> Writer:
    if config.api == "v2":
        assert config.org and config.bucket  # checked by LedgerConfig
        return V2Writer(config.url, config.read_token(), config.org, config.bucket, config.timeout_seconds)
    assert config.database
    return V1Writer(
        config.url,
        config.database,
        config.timeout_seconds,
        retention_policy=config.retention_policy,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
    )
