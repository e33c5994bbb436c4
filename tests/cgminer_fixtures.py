"""Load recorded CGMiner replies from tests/fixtures/cgminer as the exporter would see them."""

from __future__ import annotations

from pathlib import Path

from exporters.cgminer.reply import Reply, parse_reply, split_multi_reply
from exporters.cgminer.wire import decode_reply

FIXTURES = Path(__file__).parent / "fixtures" / "cgminer"


def raw(path: str) -> bytes:
    """The bytes of a fixture, e.g. raw("antminer/s19pro_stock_2022_stats.json")."""
    return (FIXTURES / path).read_bytes()


def load_reply(path: str, command: str) -> Reply:
    """One fixture decoded (with wire-quirk repair) and wrapped as `command`'s reply."""
    return parse_reply(command, decode_reply(raw(path)))


def load_replies(files: dict[str, str]) -> dict[str, Reply]:
    """{command: fixture path} -> {command: Reply}, as a parser receives them."""
    return {command: load_reply(path, command) for command, path in files.items()}


def load_multi(path: str, commands: tuple[str, ...]) -> dict[str, Reply]:
    """A recorded multi-command reply split into one Reply per command."""
    return split_multi_reply(commands, decode_reply(raw(path)))
