"""Connection limits for the exporters' HTTP servers: slow and idle clients, log floods.

aiohttp on its own keeps a connection open until its keep-alive timeout (an
hour) whether or not a request ever arrives, accepts sockets until the process
runs out of file descriptors (then new scrapes hang or are reset), and logs
every malformed request as an ERROR with a traceback. web.serve puts this
module between the listening socket and aiohttp:

- Header timeout. A connection must deliver a complete request line and
  headers within `header_timeout` seconds of connecting, and again within
  `header_timeout` seconds of the first byte of each later request on it;
  otherwise it is closed. That catches clients that send nothing and
  slowloris clients that keep trickling header bytes.
- Connection cap. At most `max_connections` connections are open. The one
  beyond it does not wait or fail: the connection that has waited longest for
  a request is closed instead, first among those that never completed a
  request, then among idle keep-alive ones. A connection with a request in
  progress is never closed for it; if every connection has one, the newcomer
  is closed. So a flood of idle or slow sockets cannot keep a Prometheus
  scrape out. `affordable_connections` keeps the cap at most half the
  process's descriptor limit, leaving the rest to outgoing scrapes and files.
- Malformed requests (aiohttp's HttpProcessingError: bad request line or
  header, oversized line, ...; and RequestPayloadError: a body that cannot be
  decoded): `ServerLog` logs each as one line, peer (where aiohttp gives it)
  and reason, without a traceback, at most `MALFORMED_LINES_PER_MINUTE` a minute,
  then how many it left out. Errors raised by the application keep their
  traceback.

The idle keep-alive timeout is aiohttp's own `keepalive_timeout` (set by
web.serve). Which connection is idle and which is busy comes from
`track_requests`, a middleware web.serve adds to the application, so this
module uses only public aiohttp interfaces plus the `BaseSite` fields that
aiohttp's own sites use.

A known approximation: a request counts as done when its handler returns, a
little before a plain Response's body has been written. A client that
pipelines its next request behind a response that takes longer than
`header_timeout` to write is closed; Prometheus does not pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)

MALFORMED_LINES_PER_MINUTE = 10
# Lines about connections closed for the header timeout (DEBUG) and for the cap (WARNING), each.
GUARD_LINES_PER_MINUTE = 5


class RateLimitedLog:
    """At most `limit` lines per `period` seconds.

    The first line of a later period comes after a count of the lines left out
    (so a flood that stops is counted only when the next line comes).
    """

    def __init__(
        self, logger: logging.Logger, limit: int, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.limit = limit
        self.period = period
        self.clock = clock
        self._window_start = -float("inf")
        self._lines = 0
        self._dropped = 0

    def log(self, level: int, msg: str, *args: object) -> None:
        if not self.logger.isEnabledFor(level):
            return
        now = self.clock()
        if now - self._window_start >= self.period:
            if self._dropped:
                left_out, seconds = self._dropped, now - self._window_start
                self.logger.log(level, "%d similar lines left out of the log in the last %.0f s", left_out, seconds)
            self._window_start, self._lines, self._dropped = now, 0, 0
        if self._lines < self.limit:
            self._lines += 1
            self.logger.log(level, msg, *args)
        else:
            self._dropped += 1


# What a malformed request raises in aiohttp: its parser's errors, and a body's decoding errors.
_CLIENT_ERRORS = (HttpProcessingError, web.RequestPayloadError)


def _one_line(text: str, limit: int = 200) -> str:
    """The parser's multi-line message as one printable line, the caret line dropped."""
    words = " ".join(line.strip() for line in text.splitlines() if line.strip(" ^"))
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in words)
    return printable if len(printable) <= limit else printable[:limit] + "..."


class ServerLog(logging.LoggerAdapter):
    """aiohttp's server logger (pass as AppRunner(logger=...)), malformed requests brief and rate-limited."""

    def __init__(
        self, logger: logging.Logger | None = None, lines_per_minute: int = MALFORMED_LINES_PER_MINUTE
    ) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})
        self.malformed = RateLimitedLog(log, lines_per_minute)

    def log(self, level: int, msg: object, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        exc = sys.exc_info()[1] if exc_info is True else exc_info[1] if isinstance(exc_info, tuple) else exc_info
        if not isinstance(exc, _CLIENT_ERRORS):
            super().log(level, msg, *args, exc_info=exc_info, **kwargs)
            return
        try:
            what = str(msg) % args if args else str(msg)  # "Error handling request from <peer>"
        except (TypeError, ValueError):
            what = str(msg)
        reason = _one_line(str(getattr(exc, "message", "") or getattr(exc.__cause__, "message", "") or exc))
        # A client's mistake: INFO at most (aiohttp says ERROR), first-request junk stays DEBUG.
        self.malformed.log(min(level, logging.INFO), "%s: %s: %s", what, type(exc).__name__, reason)


# States of a connection.
_FRESH, _BUSY, _IDLE, _CLOSED = "fresh", "busy", "idle", "closed"


@web.middleware
async def track_requests(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Tell the guard when a request's headers are in (its handler starts) and when it is answered."""
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if not isinstance(connection, _Connection):  # served some other way (a test client)
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_ended()


def _peer(connection: _Connection) -> str:
    peer = connection.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


def _drop(transport: asyncio.Transport) -> None:
    # close() would wait for unsent data to drain first: never, if the client doesn't read.
    if transport.get_write_buffer_size():
        transport.abort()
    else:
        transport.close()


class _Connection(asyncio.Protocol):
    """Sits between the transport and aiohttp's RequestHandler, forwarding everything."""

    __slots__ = ("inner", "guard", "transport", "state", "since", "peer", "counted", "_timer", "_bytes_while_busy")

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.state = _FRESH
        self.since = 0.0  # when it started waiting for a request
        self.peer: object = None
        self.counted = False  # in the guard's count of open connections
        self._timer: asyncio.TimerHandle | None = None
        self._bytes_while_busy = False

    # asyncio.Protocol, forwarded
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")
        self.inner.connection_made(transport)
        self._start_timer()
        self.guard.opened(self)

    def data_received(self, data: bytes) -> None:
        if self.state == _IDLE and self._timer is None:
            self._start_timer()  # the next request has begun: its headers are due in time
        elif self.state == _BUSY:
            self._bytes_while_busy = True
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # from track_requests
    def request_started(self) -> None:
        if self.state == _CLOSED:
            return
        self._cancel_timer()
        self.guard.waiting(self, False)
        self.state = _BUSY
        self._bytes_while_busy = False

    def request_ended(self) -> None:
        if self.state == _CLOSED:
            return
        self.state = _IDLE
        self.guard.waiting(self, True)
        if self._bytes_while_busy:  # part of a pipelined request may be waiting already
            self._start_timer()

    # the guard's
    def _start_timer(self) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(self.guard.header_timeout, self._headers_late)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self.state in (_FRESH, _IDLE):
            self.guard.timeouts.log(
                logging.DEBUG,
                "closing the connection from %s: no complete request headers in %g s",
                _peer(self),
                self.guard.header_timeout,
            )
            self.close()

    def close(self) -> None:
        transport = self.transport
        self._forget()
        if transport is not None:
            _drop(transport)

    def _forget(self) -> None:
        if self.state != _CLOSED:
            self._cancel_timer()
            self.guard.closed(self)
            self.state = _CLOSED


class ConnectionGuard:
    """Protocol factory around an aiohttp web.Server: header timeout and connection cap."""

    def __init__(self, server: Callable[[], asyncio.Protocol], *, header_timeout: float, max_connections: int) -> None:
        if header_timeout <= 0 or max_connections < 1:
            raise ValueError("header_timeout must be positive and max_connections at least 1")
        self._server = server
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.open = 0
        # Connections waiting for a request, longest-waiting first: never completed one, and idle keep-alive.
        self._fresh: OrderedDict[_Connection, None] = OrderedDict()
        self._idle: OrderedDict[_Connection, None] = OrderedDict()
        self.timeouts = RateLimitedLog(log, GUARD_LINES_PER_MINUTE)
        self.evictions = RateLimitedLog(log, GUARD_LINES_PER_MINUTE)

    def __call__(self) -> _Connection:
        return _Connection(self._server(), self)

    def opened(self, connection: _Connection) -> None:
        if self.open >= self.max_connections:
            victim = next(iter(self._fresh), None) or next(iter(self._idle), None) or connection
            if victim is connection:
                why = "all busy with requests"
            elif victim.state == _FRESH:
                why = f"no request in {time.monotonic() - victim.since:.1f} s"
            else:
                why = f"idle for {time.monotonic() - victim.since:.1f} s"
            self.evictions.log(
                logging.WARNING,
                "connection limit (%d) reached: closing the connection from %s (%s)",
                self.max_connections,
                _peer(victim),
                why,
            )
            if victim is connection:
                connection.close()
                return
            victim.close()
        self.open += 1
        connection.counted = True
        connection.since = time.monotonic()
        self._fresh[connection] = None

    def waiting(self, connection: _Connection, idle: bool) -> None:
        """A connection stops (idle False) or starts (idle True) waiting for its next request."""
        self._fresh.pop(connection, None)
        self._idle.pop(connection, None)
        if idle:
            connection.since = time.monotonic()
            self._idle[connection] = None

    def closed(self, connection: _Connection) -> None:
        self._fresh.pop(connection, None)
        self._idle.pop(connection, None)
        if connection.counted:
            connection.counted = False
            self.open -= 1


def affordable_connections(wanted: int) -> int:
    """`wanted`, but at most half the soft limit on open files (the rest: outgoing scrapes, files)."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft // 2))


class GuardedSite(web.BaseSite):
    """web.TCPSite with a ConnectionGuard as the protocol factory. Needs track_requests on the app."""

    __slots__ = ("_host", "_port", "_header_timeout", "_max_connections", "guard")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        header_timeout: float,
        max_connections: int,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host, self._port = host, port
        self._header_timeout, self._max_connections = header_timeout, max_connections
        self.guard: ConnectionGuard | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        if track_requests not in self._runner.app.middlewares:  # type: ignore[attr-defined]
            raise RuntimeError("GuardedSite needs track_requests among the application's middlewares")
        await super().start()
        server = self._runner.server
        assert server is not None  # BaseSite checked: runner.setup() ran
        self.guard = ConnectionGuard(server, header_timeout=self._header_timeout, max_connections=self._max_connections)
        self._server = await asyncio.get_running_loop().create_server(
            self.guard, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
