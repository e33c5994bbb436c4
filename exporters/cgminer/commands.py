"""The CGMiner API commands hashwatch may send, and the only encoder of requests.

The API has privileged commands (restart, quit, switchpool, addpool, ascset, ...)
that change a miner's state. An exporter must never send one, so every request is
built here, from an explicit allow-list of read-only commands: anything else
raises before a byte leaves the process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

# Read-only commands of cgminer/bmminer, btminer, bosminer, LuxOS and Avalon
# firmware. Each one only reports state. Deliberately absent: restart, quit,
# switchpool, addpool, removepool, enablepool, disablepool, poolpriority,
# poolquota, ascset, pgaset, ascenable, ascdisable, pgaenable, pgadisable,
# save, privileged, notify (harmless but useless), setconfig, zero, debug,
# hotplug, failover-only, lcd/lcdset (LuxOS writes), pause/resume (bosminer),
# curtail, profileset, and every btminer v2 "set_*"/"update_*"/"reboot".
READ_ONLY_COMMANDS: frozenset[str] = frozenset(
    {
        "version",
        "config",
        "summary",
        "devs",
        "edevs",
        "pools",
        "stats",
        "estats",
        "litestats",
        "devdetails",
        "coin",
        "usbstats",
        "fans",
        "temps",
        "tempctrl",
        "tunerstatus",
        "power",
        "asccount",
        "pgacount",
        # btminer API v2 read commands (sent as {"cmd": ...})
        "status",
        "get_version",
        "get_psu",
        "get_miner_info",
        "get_error_code",
    }
)

# btminer's v2 API only understands these under the "cmd" key.
CMD_KEY_COMMANDS = frozenset({"status", "get_version", "get_psu", "get_miner_info", "get_error_code"})


class CommandNotAllowed(ValueError):
    """Raised for any command outside READ_ONLY_COMMANDS; nothing was sent."""


def check_read_only(commands: Iterable[str]) -> tuple[str, ...]:
    """Return the commands as a tuple, or raise if any is not read-only."""
    checked = tuple(commands)
    if not checked:
        raise CommandNotAllowed("no command given")
    for command in checked:
        if not isinstance(command, str) or command not in READ_ONLY_COMMANDS:
            raise CommandNotAllowed(
                f"refusing to send {command!r}: hashwatch sends only read-only CGMiner API commands"
            )
    return checked


def encode_request(commands: Iterable[str]) -> bytes:
    """Encode one request; several commands become one '+'-joined multi-command.

    The only way hashwatch builds a request. Parameters are never sent: every
    read-only command hashwatch uses takes none, and refusing them closes the
    door on "ascset|0,reboot"-style payloads.
    """
    key = commands if type(commands) is tuple else tuple(commands)
    try:
        return _ENCODED[key]  # a fleet asks the same few command sets tens of thousands of times
    except (KeyError, TypeError):  # TypeError: something unhashable, refused below
        pass
    checked = check_read_only(key)
    if any(c in CMD_KEY_COMMANDS for c in checked):
        if len(checked) != 1:
            raise CommandNotAllowed("btminer v2 commands cannot be combined in a multi-command")
        payload = json.dumps({"cmd": checked[0]}).encode()
    else:
        payload = json.dumps({"command": "+".join(checked)}).encode()
    if len(_ENCODED) < 1024:
        _ENCODED[checked] = payload  # only requests that passed the check are ever cached
    return payload


_ENCODED: dict[tuple[str, ...], bytes] = {}
