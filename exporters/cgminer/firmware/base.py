"""What every firmware parser provides."""

from __future__ import annotations

from typing import ClassVar

from ..model import MinerStatus
from ..reply import Reply


class FirmwareParser:
    """Turns one scrape's replies into a MinerStatus.

    Subclasses declare which read-only commands they need. The scraper sends
    `commands` every scrape (as one multi-command where the firmware accepts it)
    plus `optional_commands`, whose errors are tolerated: the parser is handed
    only the replies whose STATUS was success, keyed by command name.
    """

    name: ClassVar[str]  # firmware family, the `firmware` label
    make: ClassVar[str] = ""
    commands: ClassVar[tuple[str, ...]] = ("summary", "pools")
    optional_commands: ClassVar[tuple[str, ...]] = ()
    # Identity commands (versions, model) whose answers rarely change: fetched on
    # the first scrape and then only every few minutes, so a large fleet does not
    # pay a TCP round trip per miner per scrape for them.
    static_commands: ClassVar[tuple[str, ...]] = ()
    # False where the firmware is known to reject "a+b" multi-commands.
    multi_command: ClassVar[bool] = True

    def parse(self, replies: dict[str, Reply]) -> MinerStatus:
        raise NotImplementedError
