"""Load recorded CGMiner replies as the exporter would see them.

Every real CGMiner capture is stored once, in the simulator package
(simulator/captures/cgminer/<family>/<file>, package data: the simulator serves
some of them from an installed wheel). Tests, helpers and benchmarks name a
capture by its path under that tree, e.g. "antminer/s19pro_stock_2022_stats.json",
and `fixture_path` is the one place that turns such a name into a file.
Provenance: simulator/captures/SOURCES.md.
"""

from __future__ import annotations

from pathlib import Path

import simulator
from exporters.cgminer.reply import Reply, parse_reply, split_multi_reply
from exporters.cgminer.wire import decode_reply

FIXTURES = Path(simulator.__file__).parent / "captures" / "cgminer"

# One recording under two names (byte-identical, stored once): name -> stored file.
ALIASES = {
    # foreman-apps reuses one devs reply for its bOS and bOS+ S9 cases.
    "braiins/s9_bos_0.2.0_devs.json": "braiins/s9_bosplus_0.2.0_devs.json",
    # This Avalon 1566 answered estats with exactly its stats reply.
    "avalon/avalon1566_fw24102401_estats.json": "avalon/avalon1566_fw24102401_stats.json",
}


def fixture_path(name: str) -> Path:
    """The file of a capture, e.g. fixture_path("errors/antminer_s21_invalid_command.json")."""
    return FIXTURES / ALIASES.get(name, name)


def raw(path: str) -> bytes:
    """The bytes of a fixture, e.g. raw("antminer/s19pro_stock_2022_stats.json")."""
    return fixture_path(path).read_bytes()


def load_reply(path: str, command: str) -> Reply:
    """One fixture decoded (with wire-quirk repair) and wrapped as `command`'s reply."""
    return parse_reply(command, decode_reply(raw(path)))


def load_replies(files: dict[str, str]) -> dict[str, Reply]:
    """{command: fixture path} -> {command: Reply}, as a parser receives them."""
    return {command: load_reply(path, command) for command, path in files.items()}


def load_multi(path: str, commands: tuple[str, ...]) -> dict[str, Reply]:
    """A recorded multi-command reply split into one Reply per command."""
    return split_multi_reply(commands, decode_reply(raw(path)))
