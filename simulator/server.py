"""The TCP side: asyncio listeners answering a whole fleet of simulated miners.

Every 127.0.0.0/8 address is local on Linux, so thousands of miners share one
wildcard socket and are told apart by the local address a connection arrived
on. The listener answers only connections to a configured miner address from a
loopback peer: a simulator must never be a CGMiner API for the LAN.

Built for connection rate (a benchmark scrapes 10,000 miners, ~7,000
connections a second): a bare asyncio.Protocol per connection, no task, one
timer per 2 ms slot of delayed replies, and one sweeper enforcing idle timeouts.

An offline miner refuses connections in per-address mode (its listening socket
is closed until the fault ends). On the shared listener the kernel has already
accepted by the time the simulator sees the connection, so there it is reset
(RST) at once: the client sees a reset rather than a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import struct
import threading
from collections.abc import Iterable, Mapping

from .miner import CommandJournal, SimulatedMiner
from .protocol import MAX_REQUEST_BYTES, Request, parse_cached, parse_request

log = logging.getLogger(__name__)

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


def _loopback(peer: object) -> bool:
    host = peer[0] if isinstance(peer, tuple) and peer else ""
    return isinstance(host, str) and (host.startswith("127.") or host == "::1")


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()


class _Connection(asyncio.Protocol):
    """One client connection: read one request, answer it (after the miner's latency), close."""

    __slots__ = ("buffer", "deadline", "done", "miner", "server", "transport")

    def __init__(self, server: MinerServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.miner: SimulatedMiner | None = None
        self.buffer = b""
        self.deadline = 0.0  # the sweeper aborts the connection after this (loop time)
        self.done = False  # a request was taken: further bytes are ignored

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        server = self.server
        local = transport.get_extra_info("sockname")
        miner = server.miners.get(local[0]) if isinstance(local, tuple) and local else None
        if miner is None or not _loopback(transport.get_extra_info("peername")):
            transport.abort()  # not a simulated miner, or not from this host: no reply
            return
        if miner.offline:
            reset(transport)
            return
        self.miner = miner
        self.deadline = server.loop.time() + server.idle_timeout
        server.open[self] = None

    def data_received(self, data: bytes) -> None:
        if self.done or self.miner is None:
            return
        buffer = self.buffer + data if self.buffer else data
        if len(buffer) > self.server.max_request:
            self._drop()
            return
        request = parse_cached(buffer)
        if request is None:
            self.buffer = buffer
            return
        self._answer(request)

    def eof_received(self) -> bool:
        if self.miner is None:
            return False
        if not self.done:
            request = parse_request(self.buffer, eof=True)
            if request is None:  # closed without asking anything
                self._drop()
                return False
            self._answer(request)
        # A half-closed client still reads: keep our side open for a delayed reply, and a hung
        # miner keeps ignoring it (until the client closes or the sweeper's deadline).
        return True

    def _answer(self, request: Request) -> None:
        self.done = True
        self.buffer = b""
        miner = self.miner
        assert miner is not None
        self.server.journal.record(miner.address, request.label)
        if miner.hung:
            return  # held: the client gives up, or the sweeper drops it at the deadline
        reply = miner.reply(request)
        latency = miner.latency
        if latency > 0:
            self.deadline = float("inf")  # waiting on purpose is not idling
            self.server.later(latency, self, reply)
        else:
            self._send(reply)

    def _send(self, reply: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        # A client that never reads a large reply must not hold it forever.
        self.deadline = self.server.loop.time() + self.server.idle_timeout
        transport.write(reply)
        transport.close()  # flushes, then FIN: cgminer closes after each reply

    def _drop(self, hard: bool = False) -> None:
        if self.transport is not None:
            if hard:
                reset(self.transport)
            else:
                self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # a reply still due finds no transport and is dropped
        self.server.open.pop(self, None)


class MinerServer:
    """Serves `miners` (keyed by address) on `port`.

    bind="0.0.0.0" (default) opens one wildcard socket for the whole fleet;
    per_address=True opens one socket per miner address instead (small fleets,
    or when the port is taken on other addresses). port=0 picks a free port.
    """

    def __init__(
        self,
        miners: Mapping[str, SimulatedMiner],
        port: int,
        *,
        bind: str = "0.0.0.0",
        per_address: bool = False,
        journal: CommandJournal | None = None,
        idle_timeout: float = 5.0,
        max_request: int = MAX_REQUEST_BYTES,
        backlog: int = 4096,
    ):
        self.miners = miners
        self.port = port
        self.bind = bind
        self.per_address = per_address
        self.journal = journal if journal is not None else CommandJournal()
        self.idle_timeout = idle_timeout
        self.max_request = max_request
        self.backlog = backlog  # a scrape of 10,000 miners connects in bursts
        self.open: dict[_Connection, None] = {}  # connections not yet closed (insertion = age order)
        # host -> its server; a bare socket while a reopened listener is being handed to the loop
        self._listeners: dict[str, asyncio.Server | socket.socket] = {}
        self._pending: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None
        self._slots: dict[float, list[tuple[_Connection, bytes]]] = {}
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start()
        self._thread: int | None = None

    async def start(self) -> int:
        """Listen; returns the port (the chosen one when port was 0)."""
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        hosts = [a for a, m in self.miners.items() if not m.offline] if self.per_address else [self.bind]
        try:
            if not hosts and self.port == 0:  # every miner offline: still settle the port
                self.port = self._free_port()
            for host in hosts:
                server = await self.loop.create_server(
                    lambda: _Connection(self), host, self.port, backlog=self.backlog, reuse_address=True
                )
                self._listeners[host] = server
                if self.port == 0:
                    self.port = server.sockets[0].getsockname()[1]
        except BaseException:
            await self.close()
            raise
        self._sweeper = self.loop.create_task(self._sweep())
        return self.port

    def later(self, delay: float, connection: _Connection, reply: bytes) -> None:
        """Send `reply` after `delay` (up to 2 ms later): one timer per 2 ms slot, not per connection,
        as at 200 ms of latency thousands of replies wait at once."""
        when = math.ceil((self.loop.time() + delay) * 500) / 500
        slot = self._slots.get(when)
        if slot is None:
            slot = self._slots[when] = []
            self.loop.call_at(when, self._due, when)
        slot.append((connection, reply))

    def _due(self, when: float) -> None:
        for connection, reply in self._slots.pop(when, ()):
            connection._send(reply)

    def _free_port(self) -> int:
        with socket.socket() as probe:
            probe.bind((next(iter(self.miners), "127.0.0.1"), 0))
            return probe.getsockname()[1]

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        listeners = list(self._listeners.values())
        self._listeners.clear()
        for listener in listeners:
            listener.close()
        self._slots.clear()
        for connection in list(self.open):
            connection._drop()
        for listener in listeners:
            if isinstance(listener, asyncio.Server):
                await listener.wait_closed()
        self.open.clear()

    async def _sweep(self) -> None:
        """Drop connections past their deadline (idle readers, hung miners, unread replies)."""
        interval = max(0.05, min(1.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for connection in [c for c in self.open if c.deadline <= now]:
                # A reset, not a FIN: a client must not take the silence for an empty reply.
                connection._drop(hard=True)
                self.open.pop(connection, None)

    # -- offline miners in per-address mode --

    def offline_changed(self, addresses: Iterable[str]) -> None:
        """Close or reopen per-address listeners after faults changed; callable from any thread."""
        if not self.per_address or self.loop is None or self.loop.is_closed():
            return
        wanted = list(addresses)
        if threading.get_ident() == self._thread:
            self._sync_listeners(wanted)
            return
        done = threading.Event()

        def apply() -> None:
            try:
                self._sync_listeners(wanted)
            finally:
                done.set()

        try:
            self.loop.call_soon_threadsafe(apply)
        except RuntimeError:  # loop closed meanwhile
            return
        done.wait(5.0)  # bounded: the caller must see the listener state it asked for

    def _sync_listeners(self, addresses: list[str]) -> None:
        for address in addresses:
            miner = self.miners.get(address)
            if miner is None:
                continue
            listening = address in self._listeners
            if miner.offline and listening:
                self._listeners.pop(address).close()  # synchronous: refused from now on
            elif not miner.offline and not listening:
                self._reopen(address)

    def _reopen(self, address: str) -> None:
        # Bound and listening before this returns (connections queue in the backlog);
        # the loop starts accepting them once create_server has run.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, self.port))
            sock.listen(self.backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            log.exception("cannot reopen the listener of %s", address)
            return
        self._listeners[address] = sock
        task = self.loop.create_task(self._serve_socket(address, sock))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _serve_socket(self, address: str, sock: socket.socket) -> None:
        if self._listeners.get(address) is not sock:
            return  # offline again before the loop got to it: the socket is closed already
        try:
            server = await self.loop.create_server(lambda: _Connection(self), sock=sock, backlog=self.backlog)
        except OSError:
            sock.close()
            log.exception("cannot reopen the listener of %s", address)
            return
        if self._listeners.get(address) is sock:
            self._listeners[address] = server
        else:
            server.close()
