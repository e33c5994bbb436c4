"""Simulated miner profiles: which captured reply answers which command, per firmware.

A profile is one real device as recorded: its replies are package data under
simulator/captures/ (provenance in captures/SOURCES.md), the real captures in
cgminer/<family>/ (the one copy, which the tests read too) and the few replies
derived from them in <profile>/.
Nothing here is invented: a command without a capture gets the firmware's own
"invalid command" error, which is also what the real device does for commands
its firmware lacks (stock Antminer: estats, devdetails, multi-commands).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .layouts import (
    NO_LAYOUT,
    RATES,
    Bracket,
    Entries,
    Layout,
    Named,
    Plain,
    bitmain_stats,
)


@dataclass(frozen=True)
class FieldRules:
    """Which fields of a capture move between requests, by key name.

    Matched once, when a capture is compiled (simulator.mutate), never per request.
    """

    # Rates (H/s family): noise around the captured value. Full match, so
    # "Nominal MHS", "Target MHS", "Factory GHS", "chain_rateideal1" and
    # "Hardware Error MHS 15m" (nominal or error rates) stay fixed.
    hashrate: re.Pattern[str] = re.compile(r"[KMGT]?HS (?:av|\d+[smh])|HS RT|rate_30m|total[ _]rate|chain_rate\d+")
    # Monotonic counters: grow at their captured average rate (value / uptime).
    counters: frozenset[str] = frozenset(
        {
            "Accepted",
            "Rejected",
            "Stale",
            "Hardware Errors",
            "Getwork",
            "Getworks",
            "Discarded",
            "Local Work",
            "Works",
            "Total MH",
            "Diff1 Work",
            "Diff1 Shares",
            "Difficulty Accepted",
            "Difficulty Rejected",
            "Difficulty Stale",
            "Network Blocks",
            "Bad Work",
            "no_matching_work",
        }
    )
    counter_pattern: re.Pattern[str] = re.compile(r"chain_hw\d+")
    # Seconds since start: grow one per second.
    elapsed: frozenset[str] = frozenset({"Elapsed", "Device Elapsed", "Uptime"})
    # Unix timestamps on the reply's own clock (STATUS When): shifted to now.
    timestamps: frozenset[str] = frozenset(
        {"Last Share Time", "Last Valid Work", "Last getwork", "Last Share Difficulty"}
    )
    # Avalon packs its live values in "Name[v1 v2]" strings (stats "MM ID0").
    bracket_hashrate: frozenset[str] = frozenset({"GHSspd", "GHSmm", "GHSavg", "MGHS"})
    bracket_elapsed: frozenset[str] = frozenset({"Elapsed"})


DEFAULT_RULES = FieldRules()


@dataclass(frozen=True, eq=False)  # identity equality: hashable, so compiled replies cache per profile
class Profile:
    """One simulated device: identity labels, captured replies, protocol behaviour."""

    name: str
    make: str  # labels as hashwatch reports them (exporters/cgminer/model.py)
    model: str
    firmware: str  # hashwatch firmware family
    replies: dict[str, str]  # command -> capture served for it (path under simulator/captures)
    invalid_command: str  # capture of the firmware's own error shape
    multi_command: bool = True  # accepts {"command": "a+b"}
    cmd_replies: dict[str, str] = field(default_factory=dict)  # btminer API v2 {"cmd": ...}
    noise: float = 0.02  # hashrate varies by +/- this fraction per request
    rules: FieldRules = DEFAULT_RULES
    layout: Layout = NO_LAYOUT  # where boards, fans and sensors live in the replies (for faults)

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(self.replies)

    def labels(self) -> dict[str, str]:
        return {"make": self.make, "model": self.model, "firmware": self.firmware, "profile": self.name}

    def load(self, capture: str) -> Any:
        """A capture (path under simulator/captures), parsed. Read through importlib.resources: works installed."""
        path = resources.files(__package__).joinpath("captures", *capture.split("/"))
        return json.loads(path.read_text(encoding="utf-8"))


def _captured(pattern: str, *commands: str, **others: str) -> dict[str, str]:
    """{command: capture}: "{}" in `pattern` stands for the command, unless `others` names its capture."""
    return {command: others.get(command, pattern.format(command)) for command in commands}


_BMMINER_ERROR = "cgminer/errors/antminer_s21_invalid_command.json"  # stock bmminer's "cgminer 1.0.0" Code 14


# Board, fan and sensor fields per profile, as each firmware's parser in
# exporters/cgminer/firmware reads them (board N there is board N here).

# Stock bmminer: a failed board keeps its detected chip count (chain_acn) and
# shows its chips as "x" in chain_acs.
_BITMAIN_CHIP_TEMPS = ("temp_chip{}", "temp2_{}")
_BITMAIN_BOARD_TEMPS = ("temp_pcb{}", "temp_pic{}", "temp{}")
_ANTMINER = bitmain_stats(3, 4, chip_temps=_BITMAIN_CHIP_TEMPS, board_temps=_BITMAIN_BOARD_TEMPS)
# VNish draws no chain_acs: its chain_acn (chips answering) drops instead.
_VNISH = bitmain_stats(
    3, 4, chip_map=False, chip_count=True, chip_temps=("temp_chip{}", "temp2_{}", "temp3_{}"),
    board_temps=("temp_pcb{}", "temp{}"),
)
_LUXOS_STATS = bitmain_stats(3, 4, chip_temps=_BITMAIN_CHIP_TEMPS, board_temps=_BITMAIN_BOARD_TEMPS)
_LUXOS = Layout(
    boards=3,
    board_rates=(*_LUXOS_STATS.board_rates, Entries("devs", "DEVS", "ID", RATES)),
    chip_maps=_LUXOS_STATS.chip_maps,
    chip_temps=_LUXOS_STATS.chip_temps,
    board_temps=(
        *_LUXOS_STATS.board_temps,
        Entries("temps", "TEMPS", "ID", ("BottomLeft", "BottomRight", "TopLeft", "TopRight")),
    ),
    miner_temps=_LUXOS_STATS.miner_temps,
    fans=(Entries("fans", "FANS", "ID", ("RPM",)),),  # what the parser reads; stats fanN orders them differently
    fan_labels=("0", "1", "2", "3"),
)
_WHATSMINER = Layout(
    boards=3,
    board_rates=(Entries("edevs", "DEVS", "ASC", RATES),),
    board_chips=(Entries("edevs", "DEVS", "ASC", ("Effective Chips",)),),
    chip_temps=(Entries("edevs", "DEVS", "ASC", ("Chip Temp Min", "Chip Temp Max", "Chip Temp Avg")),),
    board_temps=(Entries("edevs", "DEVS", "ASC", ("Temperature",)),),
    miner_temps=(Plain("summary", "SUMMARY", ("Temperature", "Chip Temp Min", "Chip Temp Max", "Chip Temp Avg")),),
    fans=tuple(
        Named(command, section, {"in": ("Fan Speed In",), "out": ("Fan Speed Out",)})
        for command, section in (("summary", "SUMMARY"), ("edevs", "DEVS"))
    ),
    fan_labels=("in", "out"),
)
# bOS lists boards by position in devs (ASC) and joins the other sections on the chain ID (6, 7, 8 on an S9).
_BRAIINS_CHAINS = (6, 7, 8)
_BRAIINS = Layout(
    boards=3,
    board_rates=(Entries("devs", "DEVS", "ASC", RATES),),
    board_chips=(Entries("devdetails", "DEVDETAILS", "ID", ("Chips",), _BRAIINS_CHAINS),),
    chip_temps=(Entries("temps", "TEMPS", "ID", ("Chip",), _BRAIINS_CHAINS),),
    board_temps=(Entries("temps", "TEMPS", "ID", ("Board",), _BRAIINS_CHAINS),),
    fans=(Entries("fans", "FANS", "FAN", ("RPM",)),),
    fan_labels=("0", "1", "2", "3"),
)
_AVALON_STATS = ("stats", "estats")  # both carry the same "MM ID0" string
_AVALON = Layout(
    boards=3,
    board_rates=tuple(Bracket(c, ("MGHS",)) for c in _AVALON_STATS),
    total_rates=tuple(Bracket(c, ("GHSspd", "GHSavg"), by="all") for c in _AVALON_STATS),
    chip_temps=tuple(Bracket(c, ("MTmax", "MTavg")) for c in _AVALON_STATS),
    miner_temps=tuple(Bracket(c, ("TMax", "TAvg"), by="all") for c in _AVALON_STATS),
    fans=tuple(Bracket(c, ("Fan{}",), by="slot") for c in _AVALON_STATS),
    fan_labels=("0", "1"),
)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="antminer-s19pro",
            layout=_ANTMINER,
            make="Bitmain",
            model="S19 Pro",
            firmware="antminer",
            replies=_captured(
                "cgminer/antminer/s19pro_stock_2022_{}.json", "version", "summary", "pools", "stats", "devs"
            ),
            invalid_command=_BMMINER_ERROR,
            multi_command=False,  # stock bmminer answers "a+b" with Code 14
        ),
        Profile(
            name="antminer-s21",
            layout=_ANTMINER,
            make="Bitmain",
            model="S21",
            firmware="antminer",
            replies=_captured(
                "cgminer/antminer/s21_stock_2024_{}.json", "version", "summary", "pools", "stats", "devs", "config",
                stats="cgminer/antminer/s21_stock_2024_stats_ABBREVIATED.json",
            ),
            invalid_command=_BMMINER_ERROR,
            multi_command=False,
        ),
        Profile(
            name="whatsminer-m31s",
            layout=_WHATSMINER,
            make="MicroBT",
            model="M31S",
            firmware="whatsminer",
            # btminer answers "version" with its bare-STATUS "invalid cmd": no capture on purpose.
            replies=_captured("cgminer/whatsminer/m31s_fw20201202_{}.json", "summary", "edevs", "pools"),
            invalid_command="cgminer/errors/whatsminer_invalid_cmd_v1.json",
            cmd_replies={"status": "whatsminer-m31s/cmd_status.json"},
        ),
        Profile(
            name="avalon-1566",
            layout=_AVALON,
            make="Canaan",
            model="Avalon 1566",
            firmware="avalon",
            replies=_captured(
                "cgminer/avalon/avalon1566_fw24102401_{}.json",
                *("version", "summary", "devs", "pools", "stats", "estats"),
                summary="avalon-1566/summary.json",  # none captured: derived
                estats="cgminer/avalon/avalon1566_fw24102401_stats.json",  # it answered estats with its stats reply
            ),
            invalid_command="avalon-1566/invalid_command.json",
        ),
        Profile(
            name="braiins-s9",
            layout=_BRAIINS,
            make="Bitmain",
            model="S9",
            firmware="braiins",
            replies=_captured(
                "cgminer/braiins/s9_bosplus_0.2.0_{}.json",
                *("version", "summary", "pools", "devs", "fans", "temps", "devdetails", "tempctrl", "tunerstatus"),
                devdetails="cgminer/braiins/bos_docs_devdetails.json",  # Braiins' documentation examples
                tempctrl="cgminer/braiins/bos_docs_tempctrl.json",
                tunerstatus="cgminer/braiins/bos_docs_tunerstatus.json",
            ),
            invalid_command="braiins-s9/invalid_command.json",
        ),
        Profile(
            name="vnish-s21pro",
            layout=_VNISH,
            make="Bitmain",
            model="S21 Pro",
            firmware="vnish",
            # VNish's captured error reply to "version" is also its error for any unknown command.
            replies=_captured(
                "cgminer/vnish/s21pro_vnish127_{}.json", "version", "summary", "pools", "stats", "devdetails",
                version="cgminer/vnish/s21pro_vnish127_version_error.json",
            ),
            invalid_command="cgminer/vnish/s21pro_vnish127_version_error.json",
            multi_command=False,  # no capture shows VNish answering "a+b": assume it does not
        ),
        Profile(
            name="luxos-s19kpro",
            layout=_LUXOS,
            make="Bitmain",
            model="S19k Pro",
            firmware="luxos",
            replies=_captured(
                "cgminer/luxos/s19kpro_luxos2025_{}.json",
                *("version", "summary", "pools", "stats", "devs", "fans", "temps", "power", "config"),
            ),
            invalid_command="luxos-s19kpro/invalid_command.json",
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown simulator profile {name!r}; known: {', '.join(PROFILES)}") from None
