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
