"""The Bitcoin Core JSON-RPC client and snapshot() against a local JSON-RPC server.

Replies come from the hand-built fixtures in tests/fixtures/bitcoind (see
SOURCES.md there): tip 924321, epoch start 923328, next retarget 925344.
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from exporters.market.bitcoind import BitcoindAuth, BitcoindClient, BitcoindError
from exporters.market.node import sat_per_vbyte, snapshot
from exporters.market.model import FEE_TARGETS
from exporters.market.network import parse_mempool_fees
from hashwatch.shape import ShapeError
from tests.support.jsonrpc_server import JsonRpcServer, RpcFault
from tests.support.paths import FIXTURES_DIR, MARKET_CAPTURES

FIXTURES = FIXTURES_DIR / "bitcoind"
USER, PASSWORD = "miner", "s3cret-päss"  # non-ASCII: auth must be sent as UTF-8


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


CHAIN = fixture("getblockchaininfo_HANDBUILT.json")
MINING = fixture("getmininginfo_HANDBUILT.json")
HASHPS = fixture("getnetworkhashps_HANDBUILT.json")
STATS = fixture("getblockstats_HANDBUILT.json")
FEERATE = fixture("estimatesmartfee_feerate_HANDBUILT.json")
NO_FEERATE = fixture("estimatesmartfee_errors_HANDBUILT.json")
HEADER = fixture("getblockheader_HANDBUILT.json")
WARMUP = fixture("error_warmup_HANDBUILT.json")

TIP = CHAIN["blocks"]  # 924321
EPOCH_START = HEADER["height"]  # 923328 = 458 * 2016


def totalfee(height: int) -> int:
    """Synthetic fees for the blocks around the tip: 2,000,000 + 1,000 x (height mod 144) sats.

    Any 144 consecutive heights cover every residue once, so their mean is
    2,000,000 + 1,000 x 71.5 = 2,071,500 sats. The tip's fixture agrees: 924321 mod 144 = 129.
    """
    return 2_000_000 + 1_000 * (height % 144)


def getblockstats(params: list) -> dict:
    """Core's getblockstats for any height near the tip: the fixture, adjusted, then
    cut down to the requested stats as Core does."""
    height, wanted = params[0], params[1] if len(params) > 1 else None
    if not isinstance(height, int) or not 0 <= height <= TIP:
        raise RpcFault(-8, "Target block height after current tip")
    block = dict(STATS, height=height, totalfee=totalfee(height), time=STATS["time"] - 600 * (TIP - height))
    return {key: block[key] for key in wanted} if wanted else block


def getblockhash(params: list) -> str:
    if params != [EPOCH_START]:
        raise RpcFault(-8, "Block height out of range")
    return HEADER["hash"]


def getblockheader(params: list) -> dict:
    if params[:1] != [HEADER["hash"]]:
        raise RpcFault(-5, "Block not found")
    return HEADER


# estimatesmartfee by target, in BTC/kvB: 1 is the fixture, 3 and 6 are derived from it.
FEE_REPLIES = {
    1: FEERATE,
    3: {"feerate": 0.00002520, "blocks": 3},
    6: {"feerate": 0.00001234, "blocks": 6},
    144: NO_FEERATE,
}

# getmempoolinfo, hand-built as Core 30 shapes it (BTC/kvB): minrelaytxfee is Core 30's
# default 100 sat/kvB, mempoolminfee (the larger of it and the full mempool's own floor) 150.
MEMPOOL_INFO = {
    "loaded": True, "size": 28431, "bytes": 14519384, "usage": 81234560, "total_fee": 0.31415926,
    "maxmempool": 300000000, "mempoolminfee": 0.00000150, "minrelaytxfee": 0.00000100,
    "incrementalrelayfee": 0.00000100, "unbroadcastcount": 0, "fullrbf": True,
}

METHODS = {
    "getblockchaininfo": CHAIN,
    "getmempoolinfo": MEMPOOL_INFO,
    "getmininginfo": MINING,
    "getnetworkhashps": HASHPS,
    "getblockstats": getblockstats,
    "estimatesmartfee": lambda params: FEE_REPLIES[params[0]],
    "getblockhash": getblockhash,
    "getblockheader": getblockheader,
    "getblockcount": TIP,
    "getbestblockhash": CHAIN["bestblockhash"],
    "uptime": 86400,
}


@pytest.fixture(scope="module")
def node():
    with JsonRpcServer(METHODS, user=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(node):
    node.reset()


def run(node: JsonRpcServer, use, auth: BitcoindAuth | None = None, timeout: float = 2.0, url: str | None = None):
    """await use(client) with a fresh session; returns its result."""
    auth = auth or BitcoindAuth(user=USER, password=PASSWORD)

    async def main():
        async with aiohttp.ClientSession() as session:
            return await use(BitcoindClient(session, url or node.url, auth, timeout))

    return asyncio.run(main())


def error_of(node: JsonRpcServer, use, **kwargs) -> BitcoindError:
    with pytest.raises(BitcoindError) as caught:
        run(node, use, **kwargs)
    return caught.value


# --- auth ------------------------------------------------------------------------------


def test_auth_needs_exactly_one_kind_of_credentials(tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:ab12")
    with pytest.raises(ValueError, match="cookie file .* or a user and password"):
        BitcoindAuth()
    with pytest.raises(ValueError, match="not both"):
        BitcoindAuth(cookie_file=cookie, user=USER, password=PASSWORD)
    with pytest.raises(ValueError, match="both a non-empty user and a password"):
        BitcoindAuth(user=USER)
    missing = tmp_path / "nowhere" / ".cookie"
    with pytest.raises(ValueError, match="cannot read") as caught:
        BitcoindAuth(cookie_file=missing)
    assert str(missing) in str(caught.value)
    garbage = tmp_path / "garbage"
    garbage.write_text("no colon here")
    with pytest.raises(ValueError, match="not a Bitcoin Core cookie file"):
        BitcoindAuth(cookie_file=garbage)
    assert "ab12" not in repr(BitcoindAuth(cookie_file=cookie))
    assert PASSWORD not in repr(BitcoindAuth(user=USER, password=PASSWORD))


def test_cookie_auth(node, tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:9f2c41d7e0b85a36")  # Core writes no trailing newline
    node.user, node.password = "__cookie__", "9f2c41d7e0b85a36"
    assert run(node, lambda c: c.call("getblockcount"), auth=BitcoindAuth(cookie_file=cookie)) == TIP
    assert node.received == ["getblockcount"]


def test_user_password_auth(node):
    assert run(node, lambda c: c.call("getbestblockhash")) == CHAIN["bestblockhash"]
    assert node.calls == [("getbestblockhash", [])]


def test_cookie_is_reread_after_401_when_the_node_restarted(node, tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:old0")
    node.user, node.password = "__cookie__", "old0"
    auth = BitcoindAuth(cookie_file=cookie)

    async def restart_between_calls(client):
        first = await client.call("uptime")
        node.password = "new1"  # the node restarted: a new cookie...
        cookie.write_text("__cookie__:new1")  # ...written to the same file
        return first, await client.call("uptime")

    assert run(node, restart_between_calls, auth=auth) == (86400, 86400)
    assert node.http_requests == 3  # ok, 401, retried ok
    assert node.received == ["uptime", "uptime"]
    assert auth.password == "new1"


def test_an_unchanged_or_missing_cookie_after_401_is_unauthorized(node, tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:stale")
    node.user, node.password = "__cookie__", "fresh"
    auth = BitcoindAuth(cookie_file=cookie)
    assert error_of(node, lambda c: c.call("uptime"), auth=auth).kind == "unauthorized"
    assert node.http_requests == 1  # same cookie: no pointless retry
    cookie.unlink()  # the node is shutting down
    error = error_of(node, lambda c: c.call("uptime"), auth=auth)
    assert error.kind == "unauthorized" and str(cookie) in str(error)


def test_wrong_password_and_403_are_unauthorized(node):
    error = error_of(node, lambda c: c.call("uptime"), auth=BitcoindAuth(user=USER, password="wrong"))
    assert error.kind == "unauthorized" and "401" in str(error)
    assert "wrong" not in str(error)
    node.script_raw(403)  # rpcallowip does not cover us
    assert error_of(node, lambda c: c.call("uptime")).kind == "unauthorized"
    assert node.received == []


# --- transport and envelope ----------------------------------------------------------


def test_the_request_is_json_rpc_1_0_with_basic_auth(node):
    run(node, lambda c: c.call("getnetworkhashps", 120))
    assert node.calls == [("getnetworkhashps", [120])]
    assert node.batch_sizes == [1]


def test_batch_matches_replies_by_id_in_one_post(node):
    node.reverse_batches = True
    calls = [("getblockcount", []), ("getbestblockhash", []), ("uptime", []), ("getblockhash", [EPOCH_START])]
    assert run(node, lambda c: c.batch(calls)) == [TIP, CHAIN["bestblockhash"], 86400, HEADER["hash"]]
    assert node.batch_sizes == [4]
    assert run(node, lambda c: c.batch([])) == []  # nothing to send, nothing sent
    assert node.http_requests == 1


def test_an_error_in_a_batch_names_its_method(node):
    node.fail("getblockhash", -8, "Block height out of range")
    error = error_of(node, lambda c: c.batch([("getblockcount", []), ("getblockhash", [10**7])]))
    assert (error.kind, error.code, error.method) == ("rpc_error", -8, "getblockhash")
    assert "getblockhash" in str(error) and "Block height out of range" in str(error)


def test_warm_up_is_an_rpc_error_with_its_code(node):
    node.warm_up(1, WARMUP["error"]["code"], WARMUP["error"]["message"])
    error = error_of(node, lambda c: c.call("getblockchaininfo"))
    assert (error.kind, error.code, error.rpc_message) == ("rpc_error", -28, "Loading block index…")
    assert run(node, lambda c: c.call("getblockcount")) == TIP  # warmed up


def test_unknown_method_is_an_rpc_error(node):
    node.methods.pop("uptime")
    error = error_of(node, lambda c: c.call("uptime"))
    assert (error.kind, error.code) == ("rpc_error", -32601)


def test_timeout(node):
    node.delay = 0.5
    assert error_of(node, lambda c: c.call("uptime"), timeout=0.1).kind == "timeout"


def test_refused_port_is_a_connection_error(node):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    assert error_of(node, lambda c: c.call("uptime"), url=url).kind == "connection_error"


@pytest.mark.parametrize(
    "status, body, kind",
    [
        (503, "Work queue depth exceeded", "http_error"),
        (200, "<html>captive portal</html>", "malformed"),
        (200, '{"id": "hashwatch"}', "malformed"),
        (502, '{"id": "hashwatch"}', "http_error"),
    ],
    ids=["503-text", "not-json", "no-result", "5xx-json"],
)
def test_broken_replies(node, status, body, kind):
    node.script_raw(status, body)
    assert error_of(node, lambda c: c.call("uptime")).kind == kind


def test_a_batch_reply_missing_an_id_is_malformed(node):
    node.script_raw(200, json.dumps([{"result": 1, "error": None, "id": "hashwatch-0"}]))
    error = error_of(node, lambda c: c.batch([("getblockcount", []), ("uptime", [])]))
    assert error.kind == "malformed" and "uptime" in str(error)


@pytest.mark.parametrize(
    "use",
    [
        lambda c: c.call("stop"),
        lambda c: c.call("sendtoaddress", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 1),
        lambda c: c.batch([("getblockcount", []), ("submitblock", ["00"])]),
        lambda c: c.batch_outcomes([("setban", ["10.0.0.1", "add"])]),
    ],
    ids=["stop", "sendtoaddress", "batch-submitblock", "setban"],
)
def test_only_read_only_methods_are_sent(node, use):
    with pytest.raises(ValueError, match="only read-only methods"):
        run(node, use)
    assert node.http_requests == 0 and node.received == []


# --- snapshot ----------------------------------------------------------------------


def test_sat_per_vbyte_from_btc_per_kvb():
    # 0.00004011 BTC/kvB x 1e8 sat/BTC / 1000 vB/kvB = 4.011 sat/vB
    assert sat_per_vbyte(FEERATE["feerate"]) == 4.011
    assert sat_per_vbyte(0.00000001) == 0.001  # 1 sat/kvB, Core 30's blockmintxfee
    assert "feerate" not in NO_FEERATE and NO_FEERATE["errors"]


def test_snapshot(node):
    snap = run(node, snapshot)
    assert snap.source == "bitcoind"
    assert snap.height == 924321
    assert snap.difficulty == 152275176439733.2
    assert snap.hashrate == 1.102184962130544e21  # getnetworkhashps is already H/s
    assert snap.next_retarget_height == 925344  # (924321 // 2016 + 1) * 2016 = 459 * 2016
    assert snap.blocks_until_retarget == 1023  # 925344 - 924321
    assert snap.previous_retarget_time == 1763309160  # header time of block 923328 = 458 * 2016
    assert snap.average_fees_per_block == 2_071_500  # mean totalfee over 924178..924321, sats
    # BTC/kvB -> sat/vB: x 1e5, under mempool.space's target names (1, 3, 6 blocks; the
    # mempool's minimum). 144 blocks (economy) answered "errors": left out, not 0.
    assert snap.fee_rates == {"fastest": 4.011, "30m": 2.52, "1h": 1.234, "minimum": 0.15}
    assert snap.estimated_retarget_time is None and snap.estimated_difficulty_change is None

    assert node.batch_sizes == [8, 145, 1]  # three POSTs; all 144 getblockstats in one
    stats_calls = [params for method, params in node.calls if method == "getblockstats"]
    assert stats_calls == [[h, ["height", "totalfee", "time"]] for h in range(924178, 924322)]
    assert ("getnetworkhashps", [120]) in node.calls
    assert [params[0] for method, params in node.calls if method == "estimatesmartfee"] == [1, 3, 6, 144]
    assert ("getblockhash", [923328]) in node.calls


def test_snapshot_fee_window(node):
    snap = run(node, lambda c: snapshot(c, fee_blocks=2))
    assert snap.average_fees_per_block == (totalfee(924320) + totalfee(924321)) / 2 == 2_128_500
    assert node.batch_sizes == [8, 3, 1]


def test_snapshot_falls_back_to_getmininginfo(node):
    node.fail("getnetworkhashps", -1, "internal error")
    node.methods["getmininginfo"] = dict(MINING, networkhashps=1.09e21)
    node.methods["getblockchaininfo"] = {k: v for k, v in CHAIN.items() if k != "difficulty"}
    snap = run(node, snapshot)
    assert snap.hashrate == 1.09e21
    assert snap.difficulty == MINING["difficulty"]
    assert snap.height == TIP


def test_a_pruned_node_gives_no_average_fees_but_the_rest(node):
    node.fail("getblockstats", -1, "Block not available (pruned data)")
    snap = run(node, snapshot)
    assert snap.average_fees_per_block is None  # not an average over the blocks it still has
    assert snap.height == TIP and snap.previous_retarget_time == HEADER["time"]
    assert snap.fee_rates["fastest"] == 4.011


def test_fee_targets_are_the_documented_set_whichever_source(node):
    # A node with fee history for every target: the same five labels as mempool.space.
    node.methods["estimatesmartfee"] = lambda params: {**FEE_REPLIES, 144: {"feerate": 0.00000500, "blocks": 144}}[params[0]]
    from_node = run(node, snapshot).fee_rates
    from_mempool = parse_mempool_fees(
        json.loads((MARKET_CAPTURES / "mempool_v1_fees_recommended.json").read_text())
    ).fee_rates
    assert set(from_node) == set(from_mempool) == set(FEE_TARGETS)
    assert from_node == {"fastest": 4.011, "30m": 2.52, "1h": 1.234, "economy": 0.5, "minimum": 0.15}


def test_minimum_fee_rate_from_minrelaytxfee_or_absent(node):
    node.methods["getmempoolinfo"] = {k: v for k, v in MEMPOOL_INFO.items() if k != "mempoolminfee"}
    assert run(node, snapshot).fee_rates["minimum"] == 0.1  # 0.000001 BTC/kvB
    node.fail("getmempoolinfo", -32601, "Method not found")
    rates = run(node, snapshot).fee_rates
    assert "minimum" not in rates and rates["fastest"] == 4.011  # not 0, and the rest stays


def test_snapshot_while_warming_up_raises_the_rpc_error(node):
    node.warm_up(1000)
    error = error_of(node, snapshot)
    assert (error.kind, error.code, error.method) == ("rpc_error", -28, "getblockchaininfo")
    assert node.batch_sizes == [8]  # gave up after the first POST


def test_snapshot_of_an_unknown_shape_raises_shape_error(node):
    node.methods["getblockchaininfo"] = dict(CHAIN, blocks="924321")
    with pytest.raises(ShapeError, match="getblockchaininfo.blocks"):
        run(node, snapshot)
