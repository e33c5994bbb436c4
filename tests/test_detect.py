"""Firmware detection when `version` does not settle it."""

import pytest

from exporters.cgminer.firmware.detect import identify
from tests.cgminer_fixtures import load_reply

INVALID = "errors/antminer_s21_invalid_command.json"


@pytest.mark.parametrize(
    "summary",
    [
        "whatsminer/m30s_fw20210322_summary.json",
        "whatsminer/m31s_fw20200512_summary.json",
        "quirks/whatsminer_m20s_summary_invalid_escape.txt",
    ],
)
def test_old_btminer_calling_itself_cgminer_is_whatsminer(summary):
    replies = {"version": load_reply(INVALID, "version"), "stats": load_reply(INVALID, "stats")}
    assert identify(replies) is None  # not settled yet: ask for summary
    replies["summary"] = load_reply(summary, "summary")
    assert load_reply(summary, "summary").description.startswith("cgminer 4.9.2")
    assert identify(replies) == "whatsminer"


def test_unknown_device_falls_back_to_generic_after_the_whole_sequence():
    replies = {
        "version": load_reply(INVALID, "version"),
        "stats": load_reply(INVALID, "stats"),
        "summary": load_reply("other/cgminer490_summary_bestshare_uint64max.json", "summary"),
    }
    assert identify(replies) == "cgminer"


def test_luxos_recognised_from_stats_alone():
    replies = {"version": load_reply(INVALID, "version"), "stats": load_reply("luxos/s19kpro_luxos2025_stats.json", "stats")}
    assert identify(replies) == "luxos"
