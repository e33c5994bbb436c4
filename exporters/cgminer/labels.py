"""Which names a fleet target's own labels may have: the one rule for every place that takes them.

`fleet.miners` in the config (an error), file_sd groups (the label is dropped)
and `hashwatch discover --label` (an error) all ask `target_label_problem`. A
target label must be a Prometheus label name, must not be one of Prometheus'
internal `__` names (`__address__`, `__meta_*`), and must not be a name
hashwatch's own metric families use (`metrics.RESERVED_LABELS`, read from the
collectors).
"""

from __future__ import annotations

import re

from .metrics import RESERVED_LABELS

# The Prometheus data model's label names; also the pattern of `fleet.miners[].labels` keys.
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)


def target_label_problem(name: str) -> str | None:
    """Why `name` cannot be a fleet target's label, or None if it can."""
    if not _LABEL_NAME.fullmatch(name):  # fullmatch: "$" alone would let a final newline through
        return "not a label name (letters, digits and _, not starting with a digit, like rack or room_2)"
    if name.startswith("__"):
        return "names starting with __ are reserved by Prometheus"
    if name in RESERVED_LABELS:
        return "the name is used by hashwatch's own metrics"
    return None
