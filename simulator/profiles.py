"""Simulated miner profiles: which captured reply answers which command, per firmware.

A profile is one real device as recorded: its replies live in
simulator/captures/<profile>/ (package data, provenance in captures/SOURCES.md).
Nothing here is invented: a command without a capture gets the firmware's own
"invalid command" error, which is also what the real device does for commands
its firmware lacks (stock Antminer: estats, devdetails, multi-commands).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any


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
    replies: dict[str, str]  # command -> capture file served for it
    invalid_command: str = "invalid_command.json"  # the firmware's own error shape
    multi_command: bool = True  # accepts {"command": "a+b"}
    cmd_replies: dict[str, str] = field(default_factory=dict)  # btminer API v2 {"cmd": ...}
    noise: float = 0.02  # hashrate varies by +/- this fraction per request
    rules: FieldRules = DEFAULT_RULES

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(self.replies)

    def labels(self) -> dict[str, str]:
        return {"make": self.make, "model": self.model, "firmware": self.firmware, "profile": self.name}

    def load(self, filename: str) -> Any:
        """A capture of this profile, parsed. Read through importlib.resources: works installed."""
        path = resources.files(__package__).joinpath("captures", self.name, filename)
        return json.loads(path.read_text(encoding="utf-8"))


def _files(*commands: str) -> dict[str, str]:
    return {command: f"{command}.json" for command in commands}


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="antminer-s19pro",
            make="Bitmain",
            model="S19 Pro",
            firmware="antminer",
            replies=_files("version", "summary", "pools", "stats", "devs"),
            multi_command=False,  # stock bmminer answers "a+b" with Code 14
        ),
        Profile(
            name="antminer-s21",
            make="Bitmain",
            model="S21",
            firmware="antminer",
            replies=_files("version", "summary", "pools", "stats", "devs", "config"),
            multi_command=False,
        ),
        Profile(
            name="whatsminer-m31s",
            make="MicroBT",
            model="M31S",
            firmware="whatsminer",
            # btminer answers "version" with its bare-STATUS "invalid cmd": no capture on purpose.
            replies=_files("summary", "edevs", "pools"),
            cmd_replies={"status": "cmd_status.json"},
        ),
        Profile(
            name="avalon-1566",
            make="Canaan",
            model="Avalon 1566",
            firmware="avalon",
            replies=_files("version", "summary", "devs", "pools", "stats", "estats"),
        ),
        Profile(
            name="braiins-s9",
            make="Bitmain",
            model="S9",
            firmware="braiins",
            replies=_files(
                "version", "summary", "pools", "devs", "fans", "temps", "devdetails", "tempctrl", "tunerstatus"
            ),
        ),
        Profile(
            name="vnish-s21pro",
            make="Bitmain",
            model="S21 Pro",
            firmware="vnish",
            # version.json is VNish's captured error reply to "version".
            replies=_files("version", "summary", "pools", "stats", "devdetails"),
            multi_command=False,  # no capture shows VNish answering "a+b": assume it does not
        ),
        Profile(
            name="luxos-s19kpro",
            make="Bitmain",
            model="S19k Pro",
            firmware="luxos",
            replies=_files("version", "summary", "pools", "stats", "devs", "fans", "temps", "power", "config"),
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown simulator profile {name!r}; known: {', '.join(PROFILES)}") from None


@cache
def responder_for(profile: Profile):  # -> simulator.protocol.Responder
    """The compiled replies of a profile, shared by every miner running it (compiled once)."""
    from .protocol import Responder  # protocol imports this module

    return Responder(profile)
