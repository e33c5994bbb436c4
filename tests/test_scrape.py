"""scrape(): every failure is a result with a reason, never an exception."""

import asyncio
import json

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.scrape import MinerMemory, scrape
from tests.cgminer_fixtures import raw

SETTINGS = ClientSettings(connect_timeout=1, request_timeout=1)


def serve_and_scrape(answer, memory=None, rounds=1):
    """A loopback server answering every request with answer(request_dict) -> bytes."""
    memory = memory or MinerMemory()

    async def main():
        async def handle(reader, writer):
            data = await reader.read(65536)
            writer.write(answer(json.loads(data)))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return [await scrape("127.0.0.1", port, memory, SETTINGS, 3) for _ in range(rounds)]
        finally:
            server.close()

    return asyncio.run(main()), memory


def test_every_command_refused_is_api_error_after_detection_falls_back():
    (result,), memory = serve_and_scrape(lambda request: raw("errors/antminer_s19pro_invalid_command_code14.json"))
    assert not result.up
    assert result.error_reason == "api_error"
    assert "Invalid command" in result.error_message
    assert memory.firmware is None  # detection runs again next time


def test_a_parser_bug_is_internal_error_not_a_crash(monkeypatch):
    def explode(self, replies):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(PARSERS["antminer"], "parse", explode)
    files = {
        "version": "antminer/s19pro_stock_2022_version.json",
        "summary": "antminer/s19pro_stock_2022_summary.json",
        "pools": "antminer/s19pro_stock_2022_pools.json",
        "stats": "antminer/s19pro_stock_2022_stats.json",
    }
    (result,), _ = serve_and_scrape(lambda request: raw(files[request["command"]]) if request["command"] in files else raw("errors/antminer_s21_invalid_command.json"))
    assert result.error_reason == "internal_error" and "ZeroDivisionError" in result.error_message


def test_replies_fetched_for_detection_are_reused_and_singles_remembered():
    files = {
        "version": "antminer/s19pro_stock_2022_version.json",
        "summary": "antminer/s19pro_stock_2022_summary.json",
        "pools": "antminer/s19pro_stock_2022_pools.json",
        "stats": "antminer/s19pro_stock_2022_stats.json",
    }
    invalid = raw("errors/antminer_s21_invalid_command.json")
    (first, second), memory = serve_and_scrape(lambda r: raw(files[r["command"]]) if r["command"] in files else invalid, rounds=2)
    assert first.up and second.up
    assert first.commands_sent == ["version", "summary", "pools", "stats"]  # version asked once
    assert memory.firmware == "antminer"
    # version is a static command: not asked again until STATIC_REFRESH_SECONDS pass
    assert second.commands_sent == ["summary", "pools", "stats"]
    assert second.status.firmware_version == first.status.firmware_version
    assert first.status.hashrate == 110566.89e9


def test_single_commands_go_out_together_when_multi_commands_are_refused():
    # Stock Antminer refuses "a+b": its three commands are sent at once, so a
    # controller that takes 0.3 s per reply costs 0.3 s, not 0.9 s.
    files = {
        "version": "antminer/s19pro_stock_2022_version.json",
        "summary": "antminer/s19pro_stock_2022_summary.json",
        "pools": "antminer/s19pro_stock_2022_pools.json",
        "stats": "antminer/s19pro_stock_2022_stats.json",
    }
    invalid = raw("errors/antminer_s21_invalid_command.json")
    memory = MinerMemory()

    async def main():
        delay = 0.0

        async def handle(reader, writer):
            request = json.loads(await reader.read(65536))
            await asyncio.sleep(delay)
            writer.write(raw(files[request["command"]]) if request["command"] in files else invalid)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await scrape("127.0.0.1", port, memory, SETTINGS, 3)  # detection, multi-command refusal learnt
            delay = 0.3
            return await scrape("127.0.0.1", port, memory, SETTINGS, 3)
        finally:
            server.close()

    result = asyncio.run(main())
    assert result.up and sorted(result.commands_sent) == ["pools", "stats", "summary"]
    assert 0.3 <= result.duration_seconds < 0.6


def test_a_failing_single_fails_the_scrape_and_leaves_nothing_running():
    files = {
        "version": "antminer/s19pro_stock_2022_version.json",
        "summary": "antminer/s19pro_stock_2022_summary.json",
        "pools": "antminer/s19pro_stock_2022_pools.json",
        "stats": "antminer/s19pro_stock_2022_stats.json",
    }
    invalid = raw("errors/antminer_s21_invalid_command.json")
    memory = MinerMemory()

    async def main():
        broken = False

        async def handle(reader, writer):
            request = json.loads(await reader.read(65536))
            if broken and request["command"] == "pools":
                writer.write(b'{"STATUS":[{"STATUS":"S"}],"POOLS":[{"URL":')  # truncated
            else:
                writer.write(raw(files[request["command"]]) if request["command"] in files else invalid)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await scrape("127.0.0.1", port, memory, SETTINGS, 3)
            broken = True
            result = await scrape("127.0.0.1", port, memory, SETTINGS, 3)
            await asyncio.sleep(0.05)
            leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return result, leftovers
        finally:
            server.close()

    result, leftovers = asyncio.run(main())
    assert result.error_reason == "malformed_reply"
    assert leftovers == []


def test_a_timeout_keeps_what_is_known_of_the_miner_but_garbage_does_not():
    files = {
        "version": "antminer/s19pro_stock_2022_version.json",
        "summary": "antminer/s19pro_stock_2022_summary.json",
        "pools": "antminer/s19pro_stock_2022_pools.json",
        "stats": "antminer/s19pro_stock_2022_stats.json",
    }
    invalid = raw("errors/antminer_s21_invalid_command.json")
    memory = MinerMemory()
    settings = ClientSettings(connect_timeout=1, request_timeout=0.3)

    async def main():
        mode = "ok"

        async def handle(reader, writer):
            request = json.loads(await reader.read(65536))
            if mode == "slow":
                await asyncio.sleep(1)
            elif mode == "garbage":
                writer.write(b"<html>login</html>")
            else:
                writer.write(raw(files[request["command"]]) if request["command"] in files else invalid)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        results = []
        try:
            for mode in ("ok", "slow", "ok", "garbage"):
                results.append((await scrape("127.0.0.1", port, memory, settings, 2), memory.firmware))
            return results
        finally:
            server.close()

    (first, _), (slow, kept), (again, _), (garbage, forgotten) = asyncio.run(main())
    assert first.up and slow.error_reason == "read_timeout"
    assert kept == "antminer"  # no re-detection for a slow miner
    assert again.up and "version" not in again.commands_sent
    assert garbage.error_reason == "malformed_reply" and forgotten is None
