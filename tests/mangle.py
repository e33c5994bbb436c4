"""Junk-data variants of recorded replies: every parser must survive all of them."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from exporters.cgminer.reply import Reply

# Values a firmware might put anywhere.
WEIRD_VALUES = (None, "", "abc", "-", [], {}, [1, 2], -1, 0, 1e308, True, "1e999", "nan", "5 W", "'x'")


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
