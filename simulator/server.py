"""The TCP side: one asyncio listener answering a whole fleet of simulated miners.

Every 127.0.0.0/8 address is local on Linux, so thousands of miners share one
wildcard socket and are told apart by the local address a connection arrived
on. The listener answers only connections to a configured miner address from a
loopback peer: a simulator must never be a CGMiner API for the LAN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from .miner import CommandJournal, SimulatedMiner
from .protocol import MAX_REQUEST_BYTES, Request, parse_request

log = logging.getLogger(__name__)


class RequestTooLarge(Exception):
    pass


async def read_request(reader: asyncio.StreamReader, limit: int = MAX_REQUEST_BYTES) -> Request | None:
    """Read until a whole request arrived (client may or may not half-close); None on a silent close."""
    buffer = b""
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            return parse_request(buffer, eof=True)
        buffer += chunk
        if len(buffer) > limit:
            raise RequestTooLarge
        request = parse_request(buffer)
        if request is not None:
            return request


def _loopback(peer: object) -> bool:
    host = peer[0] if isinstance(peer, tuple) and peer else ""
    return isinstance(host, str) and (host.startswith("127.") or host == "::1")


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
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task] = set()

    async def start(self) -> int:
        """Listen; returns the port (the chosen one when port was 0)."""
        hosts = list(self.miners) if self.per_address else [self.bind]
        try:
            for host in hosts:
                server = await asyncio.start_server(self._handle, host, self.port, backlog=self.backlog)
                self._servers.append(server)
                if self.port == 0:  # every further address reuses the port the first one got
                    self.port = server.sockets[0].getsockname()[1]
        except BaseException:
            await self.close()
            raise
        return self.port

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, OSError, RequestTooLarge, TimeoutError):
            writer.transport.abort()
        except asyncio.CancelledError:
            # Shutting down: end quietly. Re-raising makes asyncio's stream
            # callback log the cancelled connection task as an error.
            writer.transport.abort()
        except Exception:  # a bug must cost one connection, never the listener
            log.exception("simulator connection failed")
            writer.transport.abort()
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")
        miner = self.miners.get(local[0]) if isinstance(local, tuple) and local else None
        if miner is None or not _loopback(writer.get_extra_info("peername")):
            writer.transport.abort()  # not a simulated miner, or not from this host: no reply
            return
        async with asyncio.timeout(self.idle_timeout):
            request = await read_request(reader, self.max_request)
        if request is None:
            return
        self.journal.record(miner.address, request.label)
        reply = miner.reply(request)
        if miner.state.latency > 0:
            await asyncio.sleep(miner.state.latency)
        writer.write(reply)
        await writer.drain()
        # close() in finally flushes the buffer, then FIN: cgminer closes after each reply.
