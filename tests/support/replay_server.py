"""A scripted HTTP server on loopback for testing HTTP API clients offline.

Clients of pool and market APIs (Ocean.xyz now, CoinGecko and mempool.space
later) have to cope with slow answers, hangs, dropped connections, 429 rate
limits and malformed bodies. ``ReplayServer`` replays recorded or hand-built
``Reply`` objects for each path so tests can drive every such case on
127.0.0.1 without the internet, and records what the client sent.

    with ReplayServer() as srv:
        srv.route("/v1/pool_stat", Reply.rate_limited(retry_after=2), Reply.json({"ok": 1}))
        client = PoolClient(base_url=srv.url)
        ...
        assert len(srv.requests("/v1/pool_stat")) == 2

Standard library only. Every connection gets its own daemon thread, so a
delayed or hanging reply never blocks other requests, and ``stop()`` returns
promptly even with such replies in flight.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Recorded", "ReplayServer", "Reply"]

NO_ROUTE_BODY = {"error": "no route"}


def _has_header(headers: dict[str, str], name: str) -> bool:
    name = name.lower()
    return any(key.lower() == name for key in headers)


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``body``: bytes are sent as is, str as UTF-8, dict/list as JSON.
    ``headers``: sent as given; Content-Type defaults to application/json for
    dict/list bodies and bodies starting with ``{`` or ``[`` (so truncated
    JSON still claims to be JSON), text/plain otherwise. Content-Length is
    computed unless given; a given one is sent verbatim (to fake truncated
    bodies) and the connection is then closed, since its framing may be wrong.
    ``delay``: seconds to wait before answering.
    ``hang``: never answer; the connection is dropped when the server stops.
    ``close``: close the connection without sending any response.
    """

    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    close: bool = False

    @classmethod
    def json(cls, obj: Any, status: int = 200, **kw: Any) -> Reply:
        """JSON-encode any value (also scalars, which ``body`` would not encode)."""
        headers = dict(kw.pop("headers", {}))
        if not _has_header(headers, "Content-Type"):
            headers["Content-Type"] = "application/json"
        return cls(status=status, body=json.dumps(obj).encode(), headers=headers, **kw)

    @classmethod
    def file(cls, path: str | os.PathLike[str], status: int = 200, **kw: Any) -> Reply:
        """Serve the bytes of a file, e.g. a recorded response in tests/fixtures."""
        with open(path, "rb") as f:
            return cls(status=status, body=f.read(), **kw)

    @classmethod
    def rate_limited(cls, retry_after: int | float | str | None = None, **kw: Any) -> Reply:
        """429 Too Many Requests, with a Retry-After header if ``retry_after`` is given."""
        headers = dict(kw.pop("headers", {}))
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        kw.setdefault("body", {"error": "rate limited"})
        return cls(status=429, headers=headers, **kw)

    def encoded_body(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode()

    def response_headers(self, body: bytes) -> dict[str, str]:
        headers = dict(self.headers)
        if not _has_header(headers, "Content-Type"):
            looks_json = isinstance(self.body, (dict, list)) or body.lstrip()[:1] in (b"{", b"[")
            headers["Content-Type"] = "application/json" if looks_json else "text/plain; charset=utf-8"
        return headers


@dataclass(frozen=True)
class Recorded:
    """A request as received. ``path`` excludes the query string; ``query``
    keeps the last value of repeated keys (``query_string`` has the raw text);
    ``headers`` keep the client's spelling; ``time`` is time.monotonic()."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float
    query_string: str = ""


class _Script:
    """Replies for one route: served in order, the last one repeats forever."""

    def __init__(self, replies: tuple[Reply, ...]):
        if not replies:
            raise ValueError("a route needs at least one Reply")
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"expected Reply, got {type(reply).__name__}")
        self._replies = replies
        self._next = 0

    def next(self) -> Reply:  # caller holds the server lock
        reply = self._replies[min(self._next, len(self._replies) - 1)]
        self._next += 1
        return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and client pools use
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests must stay quiet

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        # Drain any request body so the next keep-alive request parses cleanly.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        owner = self.server.owner
        reply = owner._dispatch(self.command, self.path, dict(self.headers.items()))
        stopping = owner._stopping
        if reply.delay > 0 and stopping.wait(reply.delay):
            reply = Reply(close=True)  # stopped while delaying: drop, do not answer
        if reply.hang:
            stopping.wait()
            reply = Reply(close=True)
        if reply.close:
            self.close_connection = True
            return
        body = reply.encoded_body()
        headers = reply.response_headers(body)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        no_body = reply.status < 200 or reply.status in (204, 304)
        if _has_header(headers, "Content-Length"):
            self.close_connection = True  # user framing may lie about the body
        elif not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and not no_body:
            self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never keep the process alive
    block_on_close = False  # server_close() must not wait for handlers
    request_queue_size = 128  # the default backlog of 5 stalls parallel clients by a SYN retry (1 s)
    owner: ReplayServer

    def process_request(self, request: Any, client_address: Any) -> None:
        # As ThreadingMixIn, but tracked (and named) so stop() can wake and join them.
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"replay-handler-{self.server_address[1]}",
            daemon=True,
        )
        self.owner._track(request, thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        self.owner._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-reply are expected here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class ReplayServer:
    """Scripted HTTP/1.1 server on 127.0.0.1 (free port); GET and HEAD only.

    Paths are matched exactly as sent (not percent-decoded), query string
    excluded. Exact routes win over prefixes; among prefixes the longest wins.
    Unrouted paths answer 404 ``{"error": "no route"}``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Script] = {}
        self._prefixes: dict[str, _Script] = {}
        self._records: list[Recorded] = []
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ReplayServer:
        if self._httpd is not None or self._stopping.is_set():
            raise RuntimeError("a ReplayServer can be started only once")
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        # Short poll interval so shutdown() returns quickly.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="replay-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging/delayed replies, drop open connections, close the port."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        # Idle keep-alive handlers sit in recv(); shutting their sockets wakes them.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        # Bounded join: after stop() no handler should still write to a client.
        deadline = time.monotonic() + 2
        with self._lock:
            threads = [self._thread, *self._threads]
        for thread in threads:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ReplayServer is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ---------------------------------------------------------

    def route(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` in order for exactly ``path``; the last repeats. Replaces any script."""
        self._check_path(path)
        script = _Script(replies)
        with self._lock:
            self._routes[path] = script

    def route_prefix(self, prefix: str, *replies: Reply) -> None:
        """Like route(), for every path starting with ``prefix`` (one shared script)."""
        self._check_path(prefix)
        script = _Script(replies)
        with self._lock:
            self._prefixes[prefix] = script

    @staticmethod
    def _check_path(path: str) -> None:
        # A query here would never match (queries are ignored), so fail loudly.
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"route path must start with '/' and have no query string: {path!r}")

    # -- recording ---------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Recorded]:
        """Requests received so far, oldest first; only those for ``path`` if given."""
        with self._lock:
            return [r for r in self._records if path is None or r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    # -- called from handler threads ---------------------------------------

    def _dispatch(self, method: str, raw_path: str, headers: dict[str, str]) -> Reply:
        # partition, not urlsplit: urlsplit would read "//x" as a host.
        path, _, query = raw_path.partition("?")
        path = path.partition("#")[0]
        query = query.partition("#")[0]
        record = Recorded(
            method=method,
            path=path,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            time=time.monotonic(),
            query_string=query,
        )
        with self._lock:
            self._records.append(record)
            script = self._routes.get(path)
            if script is None:
                matches = [p for p in self._prefixes if path.startswith(p)]
                if matches:
                    script = self._prefixes[max(matches, key=len)]
            if script is None:
                return Reply(status=404, body=NO_ROUTE_BODY)
            return script.next()

    def _track(self, conn: socket.socket, thread: threading.Thread) -> None:
        with self._lock:
            self._connections.add(conn)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
