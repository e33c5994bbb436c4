"""Limits on upstream replies: body size caps and redirects (issue 10, "Hardening").

hashwatch/http.py (the shared GET of the Ocean and market exporters) and the
bitcoind JSON-RPC client against local aiohttp servers on 127.0.0.1 and
127.0.0.2: an endless body is cut at the cap, a huge Content-Length is refused
unread, redirects are followed only on the same host and only a few times,
and the whole fetch stays within its timeout. Then through the real exporters:
such a reply counts as a failed poll with its reason and the last good value
stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from exporters.market.bitcoind import BitcoindAuth, BitcoindClient, BitcoindError
from exporters.market.config import MarketConfig
from exporters.market.model import FEE_TARGETS
from exporters.market.server import MarketExporter
from exporters.ocean.server import OceanExporter
from hashwatch import http
from hashwatch.polling import FetchError
from hashwatch.web import serve
from tests.support.prom_text import wait_for_samples as wait_for
from tests.support.replay_server import Reply, ReplayServer
from tests.support.servers import AppThread

MiB = 1024 * 1024
CAP = http.MAX_BODY_BYTES
CHUNK = b"x" * 65536
STREAM_SAFETY = 64 * MiB  # an "endless" body stops here, so even a broken client ends the test
SLACK = 1 * MiB  # bytes sent past the cap before the client's close is noticed (buffers on the way)
SOCKET_BUFFER = 64 * 1024  # both ends of a streaming test: the kernel (up to 32 MiB) must not hide the count


class Upstream:
    """One aiohttp server on loopback; counts requests per path and body bytes written."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: Counter[str] = Counter()
        self.sent = 0  # body bytes accepted by the transport
        self.finished = asyncio.Event()  # a streaming handler has stopped
        self.url = ""

    def add(self, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], method: str = "GET") -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.requests[request.path] += 1
            return await handler(request)

        self.app.router.add_route(method, path, counted)

    async def stream(self, request: web.Request, content_length: int | None = None) -> web.StreamResponse:
        """A body that never ends (up to STREAM_SAFETY), chunked unless content_length is given."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if content_length is None:
            response.enable_chunked_encoding()
        else:
            response.content_length = content_length
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        await response.prepare(request)
        try:
            await response.write(b"[")
            while self.sent < STREAM_SAFETY:
                await response.write(CHUNK)
                self.sent += len(CHUNK)
            await asyncio.sleep(10)  # never ends: the client has to give up
        except ConnectionError:
            pass  # the client hung up: what we want
        finally:
            self.finished.set()
        return response


@contextlib.asynccontextmanager
async def running(upstream: Upstream, host: str = "127.0.0.1") -> AsyncIterator[Upstream]:
    runner, url = await serve(upstream.app, f"{host}:0")
    upstream.url = url.rstrip("/")
    try:
        yield upstream
    finally:
        await runner.cleanup()


def redirect(location: str, status: int = 302) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


def ok(document: str = '{"ok": 1}') -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=document, content_type="application/json")

    return handler


def answer(status: int = 200, body: bytes = b"") -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body)

    return handler


def small_buffer_socket(addr_info) -> socket.socket:
    """A client socket with a fixed receive buffer, so what the server manages to send
    is what the client read plus a known amount in flight."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    return sock


def client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=small_buffer_socket))


async def fetch_error(url: str, timeout: float = 5.0, **kwargs) -> tuple[FetchError, float]:
    """The FetchError of GET url, and the seconds it took."""
    async with client_session() as session:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await http.get(session, url, timeout, **kwargs)
        return caught.value, time.monotonic() - started


# --- body size ------------------------------------------------------------------------


def test_an_endless_body_is_cut_at_the_cap_and_the_connection_dropped():
    async def main():
        upstream = Upstream()
        upstream.add("/endless", upstream.stream)
        async with running(upstream):
            error, took = await fetch_error(f"{upstream.url}/endless")
            await asyncio.wait_for(upstream.finished.wait(), 5)  # the server saw the hang-up
        return error, took, upstream.sent

    error, took, sent = asyncio.run(main())
    assert error.kind == "too_large" and "cap" in str(error)
    assert took < 2.0  # cut at the cap, not read until the timeout
    # The client stopped reading past the cap and closed: the server could not push
    # much more than the cap into it (the old client read until the timeout).
    assert CAP < sent < CAP + SLACK, sent


def test_a_huge_content_length_is_refused_before_reading():
    async def main():
        upstream = Upstream()
        upstream.add("/huge", lambda request: upstream.stream(request, content_length=10 * 1024**3))
        async with running(upstream):
            error, took = await fetch_error(f"{upstream.url}/huge")
            await asyncio.wait_for(upstream.finished.wait(), 5)
        return error, took, upstream.sent

    error, took, sent = asyncio.run(main())
    assert error.kind == "too_large" and "Content-Length 10737418240" in str(error)
    assert took < 1.0
    assert sent < SLACK  # refused from the header: the body was not read


def test_the_cap_is_on_the_decoded_body_a_small_gzip_bomb_is_too_large():
    bomb = gzip.compress(b"0" * (8 * CAP), compresslevel=9)  # 32 MiB of zeros in about 32 KiB
    assert len(bomb) < CAP // 64

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def main():
        upstream = Upstream()
        upstream.add("/bomb", gzipped)
        async with running(upstream):
            return await fetch_error(f"{upstream.url}/bomb")

    error, took = asyncio.run(main())
    assert error.kind == "too_large" and took < 2.0


def test_a_body_at_the_cap_is_read_and_the_cap_is_a_parameter():
    async def main():
        upstream = Upstream()
        body = b"[" + b"0," * 999 + b"0]"  # 2,001 bytes of JSON
        upstream.add("/doc", answer(body=body))
        async with running(upstream), aiohttp.ClientSession() as session:
            reply = await http.get(session, f"{upstream.url}/doc", 5, max_bytes=len(body))
            with pytest.raises(FetchError) as caught:
                await http.get(session, f"{upstream.url}/doc", 5, max_bytes=len(body) - 1)
        return reply, caught.value

    reply, error = asyncio.run(main())
    assert reply.status == 200 and len(http.json_of(reply, "/doc")) == 1000
    assert error.kind == "too_large"


# --- redirects ------------------------------------------------------------------------


def test_a_redirect_loop_stops_after_the_bound():
    async def main():
        upstream = Upstream()
        upstream.add("/loop", redirect("/loop"))
        async with running(upstream):
            error, took = await fetch_error(f"{upstream.url}/loop")
        return error, upstream.requests["/loop"]

    error, requests = asyncio.run(main())
    assert error.kind == "redirect" and f"more than {http.MAX_REDIRECTS} redirects" in str(error)
    assert requests == http.MAX_REDIRECTS + 1  # the first request and MAX_REDIRECTS hops; aiohttp alone makes 11


def test_a_redirect_to_another_host_is_not_followed():
    async def main():
        elsewhere = Upstream()
        elsewhere.add("/{tail:.*}", ok())
        async with running(elsewhere, host="127.0.0.2"):
            upstream = Upstream()
            upstream.add("/moved", redirect(f"{elsewhere.url}/moved", status=301))
            upstream.add("/relative-host", redirect(f"//127.0.0.2:{URL(elsewhere.url).port}/x", status=307))
            async with running(upstream):
                first, _ = await fetch_error(f"{upstream.url}/moved")
                second, _ = await fetch_error(f"{upstream.url}/relative-host")
        return first, second, sum(elsewhere.requests.values())

    first, second, elsewhere_requests = asyncio.run(main())
    assert first.kind == second.kind == "redirect"
    assert "another host" in str(first) and "127.0.0.2" in str(first)
    assert elsewhere_requests == 0


def test_same_host_redirects_within_the_bound_are_followed():
    async def absolute(request: web.Request) -> web.Response:  # same scheme, host and port
        return web.Response(status=308, headers={"Location": str(request.url.with_path("/data"))})

    async def main():
        upstream = Upstream()
        upstream.add("/r3", redirect("/r2", status=301))
        upstream.add("/r2", redirect("r1", status=307))  # relative to /r2
        upstream.add("/r1", absolute)
        upstream.add("/data", ok('{"value": 42}'))
        async with running(upstream), aiohttp.ClientSession() as session:
            reply = await http.get(session, f"{upstream.url}/r3", 5)
        return reply, upstream.requests

    reply, requests = asyncio.run(main())
    assert http.json_of(reply, "/r3") == {"value": 42}
    assert requests == {"/r3": 1, "/r2": 1, "/r1": 1, "/data": 1}  # exactly MAX_REDIRECTS hops


def test_a_redirect_without_a_location_is_a_redirect_failure():
    async def main():
        upstream = Upstream()
        upstream.add("/nowhere", answer(status=302))
        async with running(upstream):
            return (await fetch_error(f"{upstream.url}/nowhere"))[0]

    assert asyncio.run(main()).kind == "redirect"


def test_which_redirects_are_allowed():
    origin = URL("http://api.example.org:8080/v1/x")
    assert http.redirect_allowed(origin, origin.join(URL("/v1/y")))
    assert http.redirect_allowed(origin, URL("http://API.example.org:8080/z"))  # host names are case-blind
    assert http.redirect_allowed(origin, URL("https://api.example.org/v1/x"))  # upgraded to https, same host
    assert not http.redirect_allowed(origin, URL("http://api.example.org:8081/v1/x"))  # another port
    assert not http.redirect_allowed(origin, URL("http://example.org:8080/v1/x"))  # another host
    assert not http.redirect_allowed(origin, origin.join(URL("//evil.example/x")))
    assert not http.redirect_allowed(URL("https://api.example.org/"), URL("http://api.example.org/"))  # downgrade


def test_the_timeout_bounds_the_whole_fetch_redirects_included():
    async def slow_redirect(request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return web.Response(status=302, headers={"Location": f"/slow{int(request.path[5:]) + 1}"})

    async def main():
        upstream = Upstream()
        upstream.add("/slow{n}", slow_redirect)
        async with running(upstream):
            return await fetch_error(f"{upstream.url}/slow0", timeout=1.0)

    error, took = asyncio.run(main())
    # Each hop alone is within 1 s; three of them are not.
    assert error.kind == "timeout"
    assert 0.9 < took < 2.0  # unbounded, the fourth hop would answer "redirect" after 1.6 s


# --- bitcoind -------------------------------------------------------------------------


def rpc(url: str, **kwargs) -> Callable[[aiohttp.ClientSession], BitcoindClient]:
    return lambda session: BitcoindClient(session, url, BitcoindAuth(user="miner", password="s3cret"), 5, **kwargs)


async def rpc_error(make_client) -> BitcoindError:
    async with client_session() as session:
        with pytest.raises(BitcoindError) as caught:
            await make_client(session).call("getblockcount")
    return caught.value


def test_bitcoind_replies_are_capped():
    async def main():
        upstream = Upstream()
        upstream.add("/", upstream.stream, method="POST")
        async with running(upstream):
            error = await rpc_error(rpc(f"{upstream.url}/"))
            await asyncio.wait_for(upstream.finished.wait(), 5)
            small = Upstream()
            small.add("/", ok('{"result": 924321, "error": null, "id": "hashwatch"}'), method="POST")
            async with running(small):
                capped = await rpc_error(rpc(f"{small.url}/", max_bytes=10))
        return error, upstream.sent, capped

    error, sent, capped = asyncio.run(main())
    assert error.kind == "too_large" and sent < CAP + SLACK
    assert capped.kind == "too_large"


def test_bitcoind_never_follows_a_redirect():
    async def main():
        elsewhere = Upstream()
        elsewhere.add("/", ok('{"result": 1, "error": null, "id": "hashwatch"}'), method="POST")
        async with running(elsewhere, host="127.0.0.2"):
            upstream = Upstream()
            upstream.add("/", redirect(f"{elsewhere.url}/", status=307), method="POST")
            async with running(upstream):
                error = await rpc_error(rpc(f"{upstream.url}/"))
        return error, sum(elsewhere.requests.values())

    error, elsewhere_requests = asyncio.run(main())
    assert error.kind == "redirect"
    assert elsewhere_requests == 0  # the credentials went nowhere else


# --- through the exporters ------------------------------------------------------------


def test_an_oversized_ocean_reply_counts_as_too_large_and_the_last_value_stays():
    from tests.ocean.test_ocean_exporter import healthy_routes, ocean_config

    with ReplayServer() as server:
        healthy_routes(server)
        config = ocean_config(server, timeout=2)
        app = AppThread(lambda: OceanExporter(config).app()).start()
        url = f"{app.url}/metrics"
        users = ("ocean_pool_active_users", ())
        too_large = ("hashwatch_ocean_api_requests_total", (("endpoint", "pool_stat"), ("result", "too_large")))
        pool_stat_up = ("hashwatch_ocean_api_up", (("address", ""), ("endpoint", "pool_stat")))
        try:
            before = wait_for(url, lambda s: s.get(pool_stat_up) == 1 and users in s)
            assert before[users] == 1187
            server.route("/v1/pool_stat", Reply(body=b'{"result": {"pad": "' + b"x" * (CAP + 1) + b'"}}'))
            after = wait_for(url, lambda s: s.get(too_large, 0) >= 1)
        finally:
            app.stop()
    assert after.get(too_large, 0) >= 1
    assert after[pool_stat_up] == 0
    assert after[users] == 1187  # the last good value, not 0 and not gone


def test_a_cross_host_redirect_of_a_market_source_counts_as_redirect_and_the_last_value_stays():
    from tests.market.test_market_exporter import healthy

    with ReplayServer() as server:
        healthy(server)
        config = MarketConfig(
            currencies=["USD"],
            price_sources=[{"name": "mempool", "base_url": server.url, "ttl_seconds": 0.2, "timeout_seconds": 2}],
            network_sources=[{"name": "mempool", "base_url": server.url, "interval_seconds": 0.2, "timeout_seconds": 2}],
            max_age_seconds=60, max_backoff_seconds=1,
        )
        app = AppThread(lambda: MarketExporter(config).app()).start()
        url = f"{app.url}/metrics"
        fastest = ("market_network_fee_rate_sat_per_vbyte", (("target", "fastest"),))
        redirected = ("hashwatch_market_source_requests_total", (("endpoint", "fees"), ("result", "redirect"), ("source", "mempool")))
        try:
            before = wait_for(url, lambda s: fastest in s)
            assert before[fastest] == 8
            # Port 9 on 127.0.0.2: nothing listens, and nothing may be asked.
            server.route("/api/v1/fees/recommended", Reply(status=302, headers={"Location": "http://127.0.0.2:9/fees"}))
            after = wait_for(url, lambda s: s.get(redirected, 0) >= 1)
        finally:
            app.stop()
    assert after.get(redirected, 0) >= 1
    assert after[("hashwatch_market_source_up", (("endpoint", "fees"), ("source", "mempool")))] == 0
    assert after[fastest] == 8  # kept


def test_the_new_reasons_are_documented():
    from tests.project.test_docs import documented

    rows = documented()
    for metric in ("hashwatch_ocean_api_requests_total", "hashwatch_market_source_requests_total"):
        assert "`too_large`" in rows[metric] and "`redirect`" in rows[metric], metric
    assert all(target in rows["market_network_fee_rate_sat_per_vbyte"] for target in FEE_TARGETS)
