"""The Ocean poller against a local replay server: every failure keeps the last good value."""

import asyncio
import logging

import aiohttp
import pytest

from exporters.ocean.client import OceanClient
from hashwatch.http import retry_after_seconds
from exporters.ocean.config import OceanConfig
from exporters.ocean.poller import ocean_jobs
from hashwatch.polling import Poller
from tests.support.replay_server import Reply, ReplayServer

ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
PATH = f"/v1/user_hashrate/{ADDRESS}"
GOOD = {"result": {"snap_ts": "1700000000", "hashrate_300s": "2000000000000", "active_worker_count": 3}}


@pytest.fixture(scope="module")
def server():
    with ReplayServer() as replay:
        yield replay


def poll(server, *replies, polls=None, timeout=2.0, **config):
    """Script user_hashrate with `replies`, poll it once per reply, return (poller, states after each poll)."""
    server.route(PATH, *replies)
    settings = OceanConfig(addresses=[ADDRESS], api_url=f"{server.url}/v1", timeout_seconds=timeout, **config)

    async def main():
        async with aiohttp.ClientSession() as session:
            client = OceanClient(session, settings.api_url, settings.timeout_seconds)
            poller = Poller(ocean_jobs(client, settings), settings.max_backoff_seconds, "ocean")
            job = poller.job("user_hashrate", ADDRESS)
            seen = []
            for _ in range(polls or len(replies)):
                state = await poller.poll_once(job)
                seen.append((state.up, state.value, state.failures, state.next_delay, state.last_success))
            return poller, seen

    return asyncio.run(main())


def test_success_is_parsed_and_timestamped(server):
    poller, [(up, value, failures, delay, last_success)] = poll(server, Reply.json(GOOD))
    assert up and failures == 0 and delay == 60
    assert value.hashrate == {"300s": 2e12} and value.active_workers == 3
    assert last_success > 1.7e9
    assert poller.requests == {("user_hashrate", "success"): 1}
    sent = server.requests(PATH)[-1]
    assert sent.headers.get("User-Agent", "").startswith("hashwatch/")


@pytest.mark.parametrize(
    "failure, kind",
    [
        (Reply(status=503, body="<html><body>502 Bad Gateway</body></html>"), "server_error"),
        (Reply(status=404, body="<html>not found</html>"), "http_error"),
        (Reply(body=b'{"result": {"hashrate_300s": "20'), "malformed"),
        (Reply(body="PONG"), "malformed"),
        (Reply.json({"error": "No such user or user has no active workers"}), "api_error"),
        (Reply.json({"result": "maintenance"}), "unknown_shape"),
        (Reply.json({"result": {"hashrate_300s": "-2000000000000", "active_worker_count": 3}}), "implausible"),
        (Reply(close=True), "connection_error"),
        (Reply.json(GOOD, delay=1.0), "timeout"),
    ],
    ids=["5xx-html", "404", "truncated", "not-json", "error-envelope-200", "unknown-shape", "negative-hashrate", "dropped", "slow"],
)
def test_a_failure_keeps_the_last_good_value_and_backs_off(server, failure, kind):
    poller, seen = poll(server, Reply.json(GOOD), failure, failure, timeout=0.4)
    (_, good, _, _, success_time), (up1, kept1, failures1, delay1, time1), (up2, kept2, failures2, delay2, time2) = seen
    assert up1 is False and up2 is False
    assert kept1 is good and kept2 is good  # the last good value, not zeros, not nothing
    assert time1 == time2 == success_time  # its age shows
    assert (failures1, failures2) == (1, 2)
    assert (delay1, delay2) == (120, 240)  # 60 s interval doubled per failure
    assert poller.requests[("user_hashrate", kind)] == 2


def test_backoff_is_capped_and_retry_after_is_honoured(server):
    _, seen = poll(server, Reply(status=500), polls=6, max_backoff_seconds=300)
    assert [delay for *_, delay, _ in seen] == [120, 240, 300, 300, 300, 300]
    _, [(up, _, _, delay, _)] = poll(server, Reply.rate_limited(retry_after=900), max_backoff_seconds=300)
    assert up is False and delay == 900  # the server asked for more than our ceiling: we wait
    _, [(_, _, _, delay, _)] = poll(server, Reply.rate_limited())
    assert delay == 120


def test_recovery_resets_the_backoff(server):
    _, seen = poll(server, Reply(status=502), Reply(status=502), Reply.json(GOOD))
    assert [(up, failures, delay) for up, _, failures, delay, _ in seen] == [(False, 1, 120), (False, 2, 240), (True, 0, 60)]


def test_unknown_shape_is_logged_once(server, caplog):
    with caplog.at_level(logging.WARNING, logger="hashwatch.polling"):
        poll(server, Reply.json({"result": [1, 2, 3]}), polls=3)
    assert sum("unknown reply shape" in r.getMessage() for r in caplog.records) == 1


def test_retry_after_forms():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
