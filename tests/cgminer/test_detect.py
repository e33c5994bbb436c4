"""Firmware detection when `version` does not settle it."""

import pytest

from exporters.cgminer.firmware.detect import DETECTION_SEQUENCE, identify
from tests.support.cgminer_fixtures import FIXTURES, load_reply

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


BOSER_S9_SUMMARY = "braiins/s9_boser_22.08.1_summary.json"


def test_boser_is_braiins_not_generic_cgminer_after_the_whole_sequence():
    # Issue 11: Braiins OS's newer daemon calls itself "BOSer", not "bosminer",
    # and such a miner ended as a generic cgminer device.
    replies = {
        "version": load_reply(INVALID, "version"),
        "stats": load_reply(INVALID, "stats"),
        "summary": load_reply(BOSER_S9_SUMMARY, "summary"),
    }
    assert identify(replies) == "braiins"


@pytest.mark.parametrize(
    "path",
    [
        BOSER_S9_SUMMARY,  # "BOSer boser-openwrt 0.1.0-26ba61b9"
        "braiins/s19j88nopic_boser_0.1.0-9b223345_devdetails.json",  # "BOSer boser-buildroot ..."
        "braiins/s9_bosplus_0.2.0_summary.json",  # "BOSminer+ 0.2.0-36c56a9363"
        "braiins/s9_bos_0.2.0_devs.json",  # "BOSminer bosminer-plus-am1-s9 0.4.0-908ca41d"
    ],
)
def test_braiins_name_in_the_stats_description_settles_it(path):
    # Braiins OS signs the Description of every reply, so a stats reply names it too.
    replies = {"version": load_reply(INVALID, "version"), "stats": load_reply(path, "stats")}
    assert identify(replies) == "braiins"


def test_no_other_firmware_is_taken_for_braiins():
    # Pools such as stratum.braiins.com are not in the replies detection reads.
    others = [p for p in sorted(FIXTURES.rglob("*.json")) if p.parent.name != "braiins"]
    assert len(others) > 50
    for path in others:
        relative = str(path.relative_to(FIXTURES))
        for command in DETECTION_SEQUENCE:
            try:
                reply = load_reply(relative, command)
            except ValueError:
                continue  # fixtures of undecodable replies
            assert identify({command: reply}) != "braiins", (relative, command)


# Other makes' captures: version keys (GCMiner, BDMiner, CGMiner from ccminer),
# a Bitmain-layout stats with its own Type, bdminer's and Innosilicon's stats.
OTHER_MAKES = {
    "hammer_d10": (
        "other/hammer_d10_fw20230528_version.json",
        "other/hammer_d10_fw20230528_stats.json",
        "other/hammer_d10_fw20230528_summary.json",
    ),
    "blackminer_f1_ultra": (
        "other/blackminer_f1ultra_fw20200405_version.json",
        "other/blackminer_f1ultra_fw20200405_stats.json",
        "other/blackminer_f1ultra_fw20200405_summary.json",
    ),
    "sealminer_a2": (
        "other/sealminer_a2_bdminer4111_version.json",
        "other/sealminer_a2_bdminer4111_stats.json",
        "other/sealminer_a2_bdminer4111_summary.json",
    ),
    "auradine": ("other/auradine_gcminer_version.json", INVALID, "other/auradine_gcminer_summary.json"),
    "innosilicon_a9": (
        INVALID,
        "other/innosilicon_a9_innominer110_stats.json",
        "other/innosilicon_a9_innominer110_summary.json",
    ),
}


@pytest.mark.parametrize("device", sorted(OTHER_MAKES))
def test_other_makes_go_to_the_generic_parser_after_the_whole_sequence(device):
    # A Bitmain-layout stats with another make's Type (Hammer, Blackminer) or a
    # program key of no known family (GCMiner, BDMiner) claims no family.
    replies = {}
    for command, path in zip(("version", "stats", "summary"), OTHER_MAKES[device]):
        replies[command] = load_reply(path, command)
        found = identify(replies)
        if command != "summary":
            assert found is None, command
    assert found == "cgminer"
