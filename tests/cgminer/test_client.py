"""The TCP client against misbehaving servers on loopback: every failure has a reason."""

import asyncio
import json
import socket

import pytest

from exporters.cgminer.client import ClientSettings, ScrapeError, request, split_target
from exporters.cgminer.commands import CommandNotAllowed
from tests.support.cgminer_fixtures import raw

FAST = ClientSettings(connect_timeout=0.5, request_timeout=0.5, max_reply_bytes=64 * 1024)


def run_against(behaviour, commands=("summary",), settings=FAST):
    """Start a one-shot server with `behaviour(reader, writer)` and send `commands` to it."""
    received = []

    async def main():
        async def handle(reader, writer):
            data = await reader.read(65536)
            received.append(data)
            try:
                await behaviour(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await request("127.0.0.1", port, commands, settings)
        finally:
            server.close()

    return asyncio.run(main()), received


async def reply_with(data: bytes, writer):
    writer.write(data)
    await writer.drain()


def test_reads_until_nul_and_decodes():
    body, received = run_against(lambda r, w: reply_with(raw("quirks/antminer_s19pro_summary_nul_terminated.txt"), w))
    assert json.loads(received[0]) == {"command": "summary"}
    assert body["SUMMARY"][0]["Elapsed"] == 50474


def test_reply_in_small_chunks_without_nul_until_close():
    data = raw("antminer/s19pro_stock_2022_pools.json")

    async def drip(reader, writer):
        for start in range(0, len(data), 100):
            writer.write(data[start : start + 100])
            await writer.drain()
            await asyncio.sleep(0)

    body, _ = run_against(drip)
    assert len(body["POOLS"]) == 3


@pytest.mark.parametrize(
    "behaviour, reason",
    [
        (lambda r, w: asyncio.sleep(5), "read_timeout"),  # hung: accepts, never answers
        (lambda r, w: reply_with(b'{"STATUS":[{"STATUS":"S"}],"SUMMARY":[{"Elapsed":12', w), "malformed_reply"),
        (lambda r, w: reply_with(b"\x00", w), "malformed_reply"),
        (lambda r, w: reply_with(b"", w), "malformed_reply"),
        (lambda r, w: reply_with(b"{" + b" " * (70 * 1024), w), "reply_too_large"),
    ],
    ids=["hung", "truncated", "only-nul", "closed-without-reply", "oversized"],
)
def test_failures_raise_scrape_error_with_reason(behaviour, reason):
    with pytest.raises(ScrapeError) as error:
        run_against(behaviour)
    assert error.value.reason == reason


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        with pytest.raises(ScrapeError) as error:
            asyncio.run(request("127.0.0.1", port, ("summary",), FAST))
    assert error.value.reason == "connection_refused"


def test_privileged_command_never_connects():
    connected = []

    async def main():
        server = await asyncio.start_server(lambda r, w: connected.append(1), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await request("127.0.0.1", port, ("restart",), FAST)
        finally:
            server.close()

    with pytest.raises(CommandNotAllowed):
        asyncio.run(main())
    assert connected == []


@pytest.mark.parametrize(
    "target, expected",
    [
        ("10.0.0.5", ("10.0.0.5", 4028)),
        ("10.0.0.5:4029", ("10.0.0.5", 4029)),
        ("miner-7.farm", ("miner-7.farm", 4028)),
        ("[::1]:4028", ("::1", 4028)),
        ("::1", ("::1", 4028)),
    ],
)
def test_split_target(target, expected):
    assert split_target(target) == expected


@pytest.mark.parametrize("target", ["", "10.0.0.5:0", "10.0.0.5:70000", "10.0.0.5:x", "http://x/", "a b", "a:b:c"])
def test_split_target_rejects(target):
    with pytest.raises(ValueError):
        split_target(target)


def test_connect_timeout_when_the_listen_backlog_is_full():
    # A listener that never accepts, its backlog filled: the next SYN is dropped
    # and the connect hangs, as towards a miner that is powered but wedged.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            settings = ClientSettings(connect_timeout=0.3, request_timeout=2)
            started = asyncio.run(_timed(request("127.0.0.1", port, ("summary",), settings)))
        finally:
            for filler in fillers:
                filler.close()
    error, elapsed = started
    assert isinstance(error, ScrapeError) and error.reason == "connect_timeout"
    assert 0.25 < elapsed < 1.0


async def _timed(coroutine):
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        await coroutine
    except ScrapeError as exc:
        return exc, loop.time() - began
    return None, loop.time() - began


def test_read_timeout_fires_on_time_and_the_task_survives():
    async def main():
        async def hang(reader, writer):
            await asyncio.sleep(3)

        server = await asyncio.start_server(hang, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            error, elapsed = await _timed(request("127.0.0.1", port, ("summary",), ClientSettings(request_timeout=0.4)))
            await asyncio.sleep(0.05)  # the task was not cancelled: it carries on
            return error, elapsed
        finally:
            server.close()

    error, elapsed = asyncio.run(main())
    assert error.reason == "read_timeout"
    assert 0.35 < elapsed < 0.8
