"""Decoding raw replies, including every recorded wire quirk."""

import pytest

from exporters.cgminer.reply import is_multi_reply, parse_reply, split_multi_reply
from exporters.cgminer.wire import MalformedReply, decode_reply
from tests.support.cgminer_fixtures import load_multi, raw


def test_trailing_nul_is_stripped():
    data = raw("quirks/antminer_s19pro_summary_nul_terminated.txt")
    assert data.endswith(b"\x00")
    body = decode_reply(data)
    assert body["SUMMARY"][0]["Accepted"] == 4057


@pytest.mark.parametrize(
    "path, stats_entries, type_",
    [
        ("quirks/antminer_l3plus_stats_missing_comma.txt", 2, "Antminer L3+"),
        ("quirks/antminer_d3_blissz_stats_missing_comma.txt", 2, None),
        ("quirks/antminer_s9_hiveon_stats_missing_comma.txt", 2, None),
        ("quirks/antminer_s9_vnish386_stats_missing_comma.txt", 2, "Antminer S9 (vnish 3.8.6)"),
        ("quirks/antminer_s9_stats_newline_in_type_missing_comma.txt", 2, "Antminer S9\nV1.3.58"),
    ],
)
def test_missing_comma_between_stats_objects_is_repaired(path, stats_entries, type_):
    body = decode_reply(raw(path))
    assert len(body["STATS"]) == stats_entries
    if type_ is not None:
        assert body["STATS"][0]["Type"] == type_


def test_invalid_single_quote_escape_is_repaired():
    body = decode_reply(raw("quirks/whatsminer_m20s_summary_invalid_escape.txt"))
    assert body["SUMMARY"][0]["Firmware Version"] == "'20200917.22.REL'"


def test_bare_nan_becomes_none_not_zero_and_stray_quote_is_dropped():
    body = decode_reply(raw("quirks/avalon1047_multicommand_nan.txt"))
    assert body["summary"][0]["SUMMARY"][0]["MHS av"] is None
    replies = split_multi_reply(("summary", "stats", "pools"), body)
    assert replies["summary"].ok and replies["pools"].first("POOLS")["URL"]


def test_multi_command_reply_with_one_element_lists():
    replies = load_multi("avalon/avalon1047_multicommand_pools_summary_stats.json", ("pools", "summary", "stats"))
    assert replies["summary"].first("SUMMARY")["Accepted"] >= 0
    assert replies["stats"].section("STATS")[0]["ID"].startswith("AVA")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\x00", "empty"),
        (b"garbage", "does not start"),
        (b'{"STATUS":[{"STATUS":"S"}],"SUMMARY":[{"Elapsed":1,"GHS 5s":', "invalid JSON"),
        (b'{"STATUS":[{"STATUS":"S","Code":11}],"SUMMARY":[{"Elapsed":1}],"id"', "invalid JSON"),
        (b"[1,2]", "does not start"),
    ],
)
def test_malformed_or_truncated_replies_fail_clearly(data, message):
    with pytest.raises(MalformedReply, match=message):
        decode_reply(data)


def test_well_formed_reply_is_not_rewritten():
    body = decode_reply(b'{"STATUS":[{"STATUS":"S"}],"X":[{"k":"}{ stays, \\" too"}],"id":1}')
    assert body["X"][0]["k"] == '}{ stays, " too'


def test_btminer_v2_envelope():
    reply = parse_reply("status", decode_reply(raw("whatsminer/m31s_btminer_status_mineroff.json")))
    assert reply.ok and reply.code == 131 and reply.msg["btmineroff"] == "true"
    error = parse_reply("version", decode_reply(raw("errors/whatsminer_invalid_cmd_v1.json")))
    assert not error.ok and error.code == 14 and error.description == "whatsminer v1.1"


def test_is_multi_reply_rejects_single_error_envelope():
    body = decode_reply(raw("errors/antminer_s21_invalid_command.json"))
    assert not is_multi_reply(body, ("summary", "pools"))
    assert not parse_reply("summary", body).ok
