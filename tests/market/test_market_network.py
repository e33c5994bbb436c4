"""Network-data parsers: every fixture in base units, wrong shapes refused, gaps None."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporters.market import network
from exporters.market.model import NetworkSnapshot
from exporters.market.network import ShapeError
from tests.support.paths import MARKET_CAPTURES

FIXTURES = MARKET_CAPTURES


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def set_fields(snapshot: NetworkSnapshot) -> set[str]:
    """Names of the fields a parser filled in, besides source."""
    return {k for k, v in vars(snapshot).items() if k != "source" and v not in (None, {})}


# --- mempool.space: difficulty adjustment ----------------------------------------------


def test_difficulty_adjustment_capture_milliseconds_and_percent():
    snap = network.parse_mempool_difficulty_adjustment(load("mempool_v1_difficulty_adjustment.json"))
    assert snap.source == "mempool"
    assert snap.next_retarget_height == 838656
    assert snap.blocks_until_retarget == 1606
    assert snap.height == 838656 - 1606 == 837050
    assert snap.estimated_retarget_time == 1712766704.114  # 1712766704114 ms
    assert snap.estimated_difficulty_change == pytest.approx(0.05914788959658535)  # 5.91... %
    assert snap.previous_retarget_time == 1711619463.0  # already seconds
    assert set_fields(snap) == {
        "height",
        "next_retarget_height",
        "blocks_until_retarget",
        "estimated_retarget_time",
        "estimated_difficulty_change",
        "previous_retarget_time",
    }


def test_difficulty_adjustment_docs_example_seconds_and_no_previous_time():
    snap = network.parse_mempool_difficulty_adjustment(load("mempool_v1_difficulty_adjustment_DOCS.json"))
    assert snap.estimated_retarget_time == 1627762478.0  # below 1e11: seconds, kept
    assert snap.estimated_difficulty_change == pytest.approx(0.9845932018381687)
    assert snap.next_retarget_height == 741888
    assert snap.blocks_until_retarget == 1121
    assert snap.height == 740767
    assert snap.previous_retarget_time is None  # the docs example predates previousTime


def test_difficulty_adjustment_zero_change_early_in_epoch_is_no_estimate():
    early = {"difficultyChange": 0, "remainingBlocks": 2000, "nextRetargetHeight": 840000}
    assert network.parse_mempool_difficulty_adjustment(early).estimated_difficulty_change is None
    late = dict(early, remainingBlocks=100)
    assert network.parse_mempool_difficulty_adjustment(late).estimated_difficulty_change == 0.0


def test_difficulty_adjustment_missing_and_junk_fields_are_none():
    snap = network.parse_mempool_difficulty_adjustment({"nextRetargetHeight": 0, "remainingBlocks": "x", "difficultyChange": None})
    assert set_fields(snap) == set()
    assert snap.height is None and snap.estimated_difficulty_change is None


# --- mempool.space: tip height ---------------------------------------------------------


def test_tip_height_is_a_bare_integer_as_text_or_bytes():
    body = (FIXTURES / "mempool_blocks_tip_height_DOCS.txt").read_bytes()
    assert network.parse_mempool_tip_height(body).height == 698767
    assert network.parse_mempool_tip_height(body.decode()).height == 698767
    assert network.parse_mempool_tip_height(" 698767\r\n").height == 698767


@pytest.mark.parametrize("body", ["", "  ", "-1", "698767.5", '{"height": 698767}', "6987 67", "Block not found", b"\xff12", 698767, None])
def test_tip_height_anything_else_is_refused(body):
    with pytest.raises(ShapeError, match="mempool /api/blocks/tip/height"):
        network.parse_mempool_tip_height(body)


# --- mempool.space: hashrate, reward stats, fees ---------------------------------------


def test_hashrate_above_2_53_and_difficulty():
    doc = load("mempool_v1_mining_hashrate_3d_DOCS.json")
    assert isinstance(doc["currentHashrate"], int)  # json made it an int beyond float precision
    snap = network.parse_mempool_hashrate(doc)
    assert snap.hashrate == float(252033247355212300000)
    assert isinstance(snap.hashrate, float)
    assert snap.difficulty == 31251101365711.12
    assert set_fields(snap) == {"hashrate", "difficulty"}


@pytest.mark.parametrize("bad", [0, -5, "nope", None])
def test_hashrate_and_difficulty_zero_negative_or_junk_are_none(bad):
    snap = network.parse_mempool_hashrate({"currentHashrate": bad, "currentDifficulty": bad})
    assert snap.hashrate is None and snap.difficulty is None


def test_reward_stats_string_sats_over_inclusive_block_range():
    snap = network.parse_mempool_reward_stats(load("mempool_v1_mining_reward_stats_DOCS.json"))
    assert snap.average_fees_per_block == 1311748254 / 100 == 13117482.54  # blocks 736556..736655
    assert set_fields(snap) == {"average_fees_per_block"}


def test_reward_stats_without_range_is_none():
    assert network.parse_mempool_reward_stats({"totalFee": "1000"}).average_fees_per_block is None
    assert network.parse_mempool_reward_stats({"totalFee": "1000", "startBlock": 10, "endBlock": 5}).average_fees_per_block is None


FEES = [
    ("mempool_v1_fees_recommended.json", {"fastest": 8, "30m": 8, "1h": 8, "economy": 4, "minimum": 2}),
    ("mempool_v1_fees_recommended_DOCS.json", {"fastest": 1, "30m": 1, "1h": 1, "economy": 1, "minimum": 1}),
    ("mempool_v1_fees_precise_DOCS.json", {"fastest": 2.023, "30m": 1.094, "1h": 0.502, "economy": 0.2, "minimum": 0.1}),
]


@pytest.mark.parametrize("name, expected", FEES)
def test_fee_rates_integer_and_fractional(name, expected):
    snap = network.parse_mempool_fees(load(name))
    assert snap.fee_rates == expected
    assert all(isinstance(v, float) for v in snap.fee_rates.values())
    assert set_fields(snap) == {"fee_rates"}


def test_fee_rates_skip_missing_and_junk_targets():
    assert network.parse_mempool_fees({"fastestFee": "3", "hourFee": None, "minimumFee": -1}).fee_rates == {"fastest": 3.0}


# --- mempool.space: mining charts ------------------------------------------------------


def test_block_fees_latest_point_is_the_fallback_average():
    snap = network.parse_mempool_block_fees(load("mempool_v1_mining_blocks_fees_DOCS_truncated.json"))
    assert snap.average_fees_per_block == 17620723.0  # avgHeight 735652, the latest
    shuffled = list(reversed(load("mempool_v1_mining_blocks_fees_DOCS_truncated.json")))
    assert network.parse_mempool_block_fees(shuffled).average_fees_per_block == 17620723.0
    assert network.parse_mempool_block_fees([]).average_fees_per_block is None


def test_block_rewards_accepted_but_export_nothing():
    snap = network.parse_mempool_block_rewards(load("mempool_v1_mining_blocks_rewards_DOCS_truncated.json"))
    assert snap == NetworkSnapshot(source="mempool")
    with pytest.raises(ShapeError, match="rewards"):
        network.parse_mempool_block_rewards(load("mempool_v1_mining_blocks_fees_DOCS_truncated.json"))


def test_difficulty_adjustments_latest_entry():
    snap = network.parse_mempool_difficulty_adjustments(load("mempool_v1_mining_difficulty_adjustments_1m_DOCS.json"))
    assert snap.difficulty == 72006146478567.1  # height 822528, newest
    assert snap.previous_retarget_time == 1703311464.0
    assert set_fields(snap) == {"difficulty", "previous_retarget_time"}
    oldest_first = list(reversed(load("mempool_v1_mining_difficulty_adjustments_1m_DOCS.json")))
    assert network.parse_mempool_difficulty_adjustments(oldest_first).difficulty == 72006146478567.1
    assert set_fields(network.parse_mempool_difficulty_adjustments([])) == set()


# --- blockchain.info -------------------------------------------------------------------


def test_blockchain_info_stats_gh_and_sats():
    snap = network.parse_blockchain_info_stats(load("blockchain_info_api_stats_DOCS.json"))
    assert snap.source == "blockchain_info"
    assert snap.hashrate == 44977500727.36728e9  # GH/s -> H/s, 44.98 EH/s
    assert snap.difficulty == 6702169884349.0
    assert snap.height == 575644
    # nextretarget 576575 is the epoch's last block; the first at the new difficulty is 286 * 2016
    assert snap.next_retarget_height == 576576 == 286 * 2016
    assert snap.blocks_until_retarget == 576576 - 575644 == 932
    assert snap.average_fees_per_block == pytest.approx(11648437530 / 135)  # sats per block, ~0.86 BTC
    assert set_fields(snap) == {
        "height",
        "difficulty",
        "hashrate",
        "next_retarget_height",
        "blocks_until_retarget",
        "average_fees_per_block",
    }


def test_blockchain_info_next_retarget_conventions():
    parse = network.parse_blockchain_info_stats
    assert parse({"nextretarget": 576576, "n_blocks_total": 575644}).next_retarget_height == 576576
    assert parse({"nextretarget": 576000, "n_blocks_total": 575644}).next_retarget_height is None
    assert parse({"nextretarget": 576000, "n_blocks_total": 575644}).blocks_until_retarget is None


def test_blockchain_info_missing_and_zero_fields_are_none():
    snap = network.parse_blockchain_info_stats({"hash_rate": 0, "difficulty": -1, "total_fees_btc": 5, "n_blocks_mined": 0})
    assert set_fields(snap) == set()


# --- shapes ----------------------------------------------------------------------------

OBJECT_PARSERS = [
    (network.parse_mempool_difficulty_adjustment, "mempool /api/v1/difficulty-adjustment"),
    (network.parse_mempool_hashrate, "mempool /api/v1/mining/hashrate/3d"),
    (network.parse_mempool_reward_stats, "mempool /api/v1/mining/reward-stats/144"),
    (network.parse_mempool_fees, "mempool /api/v1/fees/recommended"),
    (network.parse_blockchain_info_stats, "blockchain_info /stats"),
]
LIST_PARSERS = [
    (network.parse_mempool_block_fees, "mempool /api/v1/mining/blocks/fees/24h"),
    (network.parse_mempool_block_rewards, "mempool /api/v1/mining/blocks/rewards/24h"),
    (network.parse_mempool_difficulty_adjustments, "mempool /api/v1/mining/difficulty-adjustments/1m"),
]


@pytest.mark.parametrize("parse, where", OBJECT_PARSERS)
@pytest.mark.parametrize("doc", [[], "698767", 5, None, {}, {"error": "Too many requests"}])
def test_objects_of_the_wrong_shape_are_refused(parse, where, doc):
    with pytest.raises(ShapeError, match=where):
        parse(doc)


@pytest.mark.parametrize("parse, where", LIST_PARSERS)
@pytest.mark.parametrize("doc", [{}, {"error": "x"}, "[]", None, [5], [{"other": 1}], [[1, 2]]])
def test_lists_of_the_wrong_shape_are_refused(parse, where, doc):
    with pytest.raises(ShapeError, match=where):
        parse(doc)


def test_replies_for_another_endpoint_are_refused():
    with pytest.raises(ShapeError):
        network.parse_mempool_fees(load("mempool_v1_difficulty_adjustment.json"))
    with pytest.raises(ShapeError):
        network.parse_mempool_hashrate(load("blockchain_info_api_stats_DOCS.json"))
    with pytest.raises(ShapeError):
        network.parse_mempool_difficulty_adjustments(load("mempool_v1_mining_blocks_fees_DOCS_truncated.json"))


# --- endpoints and merging -------------------------------------------------------------

REPLIES = {
    "/api/v1/difficulty-adjustment": "mempool_v1_difficulty_adjustment.json",
    "/api/blocks/tip/height": "mempool_blocks_tip_height_DOCS.txt",
    "/api/v1/mining/hashrate/3d": "mempool_v1_mining_hashrate_3d_DOCS.json",
    "/api/v1/mining/reward-stats/144": "mempool_v1_mining_reward_stats_DOCS.json",
    "/api/v1/fees/recommended": "mempool_v1_fees_recommended.json",
    "/api/v1/mining/blocks/fees/24h": "mempool_v1_mining_blocks_fees_DOCS_truncated.json",
    "/api/v1/mining/difficulty-adjustments/1m": "mempool_v1_mining_difficulty_adjustments_1m_DOCS.json",
    "/stats": "blockchain_info_api_stats_DOCS.json",
}


def poll(source: str, include_fallbacks: bool = True) -> NetworkSnapshot:
    """What a poller does: every endpoint's reply parsed, merged in list order."""
    snap = NetworkSnapshot(source=source)
    for endpoint in network.ENDPOINTS[source]:
        if endpoint.fallback and not include_fallbacks:
            continue
        path = FIXTURES / REPLIES[endpoint.path]
        reply = path.read_bytes() if endpoint.text else json.loads(path.read_text())
        part = endpoint.parse(reply)
        assert part.source == source
        snap = snap.merged(part)
    return snap


def test_endpoints_and_base_urls():
    assert set(network.ENDPOINTS) == set(network.DEFAULT_BASE_URLS) == {"mempool", "blockchain_info"}
    assert network.DEFAULT_BASE_URLS["mempool"] == "https://mempool.space"
    assert network.DEFAULT_BASE_URLS["blockchain_info"] == "https://api.blockchain.info"
    assert [e.path for e in network.ENDPOINTS["mempool"] if e.text] == ["/api/blocks/tip/height"]
    endpoint = network.ENDPOINTS["blockchain_info"][0]
    with pytest.raises(AttributeError):
        endpoint.path = "/q/hashrate"  # type: ignore[misc]
    for endpoints in network.ENDPOINTS.values():
        assert len({e.name for e in endpoints}) == len(endpoints)


def test_mempool_endpoints_merge_into_one_snapshot():
    snap = poll("mempool", include_fallbacks=False)
    assert snap.height == 698767  # tip height endpoint first; the docs examples are from different days
    assert snap.hashrate == float(252033247355212300000)
    assert snap.difficulty == 31251101365711.12
    assert snap.average_fees_per_block == 13117482.54
    assert snap.fee_rates["economy"] == 4.0
    assert snap.previous_retarget_time == 1711619463.0
    # fallbacks only fill what is still empty
    assert poll("mempool") == snap


def test_merged_fills_gaps_from_fallbacks():
    primary = network.parse_mempool_difficulty_adjustment(load("mempool_v1_difficulty_adjustment_DOCS.json"))
    fees = network.parse_mempool_block_fees(load("mempool_v1_mining_blocks_fees_DOCS_truncated.json"))
    history = network.parse_mempool_difficulty_adjustments(load("mempool_v1_mining_difficulty_adjustments_1m_DOCS.json"))
    merged = primary.merged(fees).merged(history)
    assert merged.previous_retarget_time == 1703311464.0  # absent from the docs reply, filled in
    assert merged.difficulty == 72006146478567.1
    assert merged.average_fees_per_block == 17620723.0
    assert merged.estimated_retarget_time == 1627762478.0  # kept from the primary
    assert merged.source == "mempool"


def test_blockchain_info_endpoint():
    assert poll("blockchain_info") == network.parse_blockchain_info_stats(load("blockchain_info_api_stats_DOCS.json"))
