"""scrape(): every failure is a result with a reason, never an exception."""

import asyncio
import json

from exporters.cgminer.client import ClientSettings
from exporters.cgminer.firmware import PARSERS
from exporters.cgminer.memory import MinerMemory
from exporters.cgminer.scrape import scrape
from tests.support.cgminer_fixtures import raw

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


# A stock S19 Pro: answers these four, refuses everything else (multi-commands included).
S19_FILES = {
    "version": "antminer/s19pro_stock_2022_version.json",
    "summary": "antminer/s19pro_stock_2022_summary.json",
    "pools": "antminer/s19pro_stock_2022_pools.json",
    "stats": "antminer/s19pro_stock_2022_stats.json",
}


def s19_reply(command: str) -> bytes:
    return raw(S19_FILES[command]) if command in S19_FILES else raw("errors/antminer_s21_invalid_command.json")


def run_s19(scenario, behaviour=None):
    """Serve a stock S19 Pro on loopback and run `scenario(port)`.

    `behaviour(command)` may return bytes to send instead, a number of seconds
    to wait before the normal reply, or None for the normal reply.
    """

    async def main():
        async def handle(reader, writer):
            command = json.loads(await reader.read(65536))["command"]
            override = behaviour(command) if behaviour else None
            if isinstance(override, (int, float)):
                await asyncio.sleep(override)
            writer.write(override if isinstance(override, bytes) else s19_reply(command))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            return await scenario(server.sockets[0].getsockname()[1])
        finally:
            server.close()

    return asyncio.run(main())


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
    (result,), _ = serve_and_scrape(lambda request: s19_reply(request["command"]))
    assert result.error_reason == "internal_error" and "ZeroDivisionError" in result.error_message


def test_replies_fetched_for_detection_are_reused_and_singles_remembered():
    (first, second), memory = serve_and_scrape(lambda r: s19_reply(r["command"]), rounds=2)
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
    memory = MinerMemory()
    delay = {"seconds": 0.0}

    async def scenario(port):
        await scrape("127.0.0.1", port, memory, SETTINGS, 3)  # detection, multi-command refusal learnt
        delay["seconds"] = 0.3
        return await scrape("127.0.0.1", port, memory, SETTINGS, 3)

    result = run_s19(scenario, lambda command: delay["seconds"])
    assert result.up and sorted(result.commands_sent) == ["pools", "stats", "summary"]
    assert 0.3 <= result.duration_seconds < 0.6


def test_a_failing_single_fails_the_scrape_and_leaves_nothing_running():
    memory = MinerMemory()
    broken = {"on": False}

    async def scenario(port):
        await scrape("127.0.0.1", port, memory, SETTINGS, 3)
        broken["on"] = True
        result = await scrape("127.0.0.1", port, memory, SETTINGS, 3)
        await asyncio.sleep(0.05)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    truncated = b'{"STATUS":[{"STATUS":"S"}],"POOLS":[{"URL":'
    result, leftovers = run_s19(scenario, lambda command: truncated if broken["on"] and command == "pools" else None)
    assert result.error_reason == "malformed_reply"
    assert leftovers == []


def test_a_timeout_keeps_what_is_known_of_the_miner_but_garbage_does_not():
    memory = MinerMemory()
    settings = ClientSettings(connect_timeout=1, request_timeout=0.3)
    mode = {"now": "ok"}
    behaviours = {"ok": None, "slow": 1.0, "garbage": b"<html>login</html>"}

    async def scenario(port):
        results = []
        for step in ("ok", "slow", "ok", "garbage"):
            mode["now"] = step
            results.append((await scrape("127.0.0.1", port, memory, settings, 2), memory.firmware))
        return results

    (first, _), (slow, kept), (again, _), (garbage, forgotten) = run_s19(scenario, lambda c: behaviours[mode["now"]])
    assert first.up and slow.error_reason == "read_timeout"
    assert kept == "antminer"  # no re-detection for a slow miner
    assert again.up and "version" not in again.commands_sent
    assert garbage.error_reason == "malformed_reply" and forgotten is None
