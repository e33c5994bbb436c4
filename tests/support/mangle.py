"""Junk-data variants of recorded replies: every parser must survive all of them."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

from exporters.cgminer.firmware.base import FirmwareParser
from exporters.cgminer.metrics import MinerSample, render
from exporters.cgminer.model import MinerStatus
from exporters.cgminer.reply import Reply
from exporters.cgminer.scrape import ScrapeResult

# Values a firmware might put anywhere, hostile ones included: an integer beyond
# float range, one as digits, a lone surrogate (what "\\udcff" decodes to) and
# a raw carriage return.
WEIRD_VALUES = (
    None, "", "abc", "-", [], {}, [1, 2], -1, 0, 1e308, True, "1e999", "nan", "5 W", "'x'",
    10**400, "9" * 400, "\udcff", "a\rb",
)

_SAMPLE_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^\r]*\})? (-?[0-9.e+]+|-?[0-9]+)$')


def parse_and_render(parser: FirmwareParser, replies: dict[str, Reply]) -> MinerStatus:
    """Parse junk replies, render the result as /probe would, and check the text is a valid exposition.

    Parsing alone is not enough: a value can parse and still break the writer
    (a 400-digit integer, a lone surrogate), which in fleet mode cost every miner.
    """
    status = parser.parse(replies)
    assert isinstance(status, MinerStatus)
    text = render([MinerSample((), ScrapeResult(status))], ()).decode("utf-8")  # strict: valid UTF-8
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert _SAMPLE_LINE.match(line), f"not a finite sample line: {line!r}"
    return status


def mangled_replies(replies: dict[str, Reply]) -> Iterator[dict[str, Reply]]:
    """Copies of `replies` with one field, one section or one btminer Msg replaced by junk."""
    for command, reply in replies.items():
        for junk in ("junk", None, 42, ["junk"], {"btmineroff": []}):
            broken = dict(replies)
            broken[command] = copy.copy(reply)
            broken[command].msg = junk
            yield broken
        if isinstance(reply.msg, dict):
            for key in reply.msg:
                for junk in WEIRD_VALUES:
                    broken = dict(replies)
                    broken[command] = copy.copy(reply)
                    broken[command].msg = dict(reply.msg, **{key: junk})
                    yield broken
        for name, section in reply.sections.items():
            for junk in ("junk", None, 42, ["junk"], {"junk": 1}):
                broken = copy.deepcopy(replies)
                broken[command].sections[name] = junk
                yield broken
            items = section if isinstance(section, list) else [section]
            for position, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                for key in item:
                    for junk in WEIRD_VALUES:
                        new_items = list(items)
                        new_items[position] = dict(item, **{key: junk})
                        broken = dict(replies)
                        broken[command] = copy.copy(reply)
                        broken[command].sections = dict(reply.sections, **{name: new_items})
                        yield broken


def survives_mangling(parser: FirmwareParser, variants) -> int:
    """parse_and_render every junk variant (each must parse and render validly); how many there were."""
    count = 0
    for broken in variants:
        parse_and_render(parser, broken)
        count += 1
    return count
