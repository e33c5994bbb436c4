"""The CGMiner reply envelope: STATUS block, data sections, multi-command split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# STATUS letters: S success, I info, W warning, E error, F fatal (api.c).
_OK_LETTERS = frozenset({"S", "I"})


class ApiError(RuntimeError):
    """The miner answered, but with an error STATUS (e.g. Code 14 Invalid command)."""

    def __init__(self, command: str, code: int | None, message: str, description: str = ""):
        self.command = command
        self.code = code
        self.message = message
        self.description = description
        super().__init__(f"{command}: {message} (code {code})")


@dataclass(slots=True)
class Reply:
    """One command's answer: its STATUS fields and its data sections."""

    command: str
    status: str  # S, I, W, E, F; "" when absent
    code: int | None
    msg: Any  # usually a string; btminer v2 puts an object here
    description: str
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in _OK_LETTERS

    def section(self, name: str) -> list[dict[str, Any]]:
        """The list under a data key such as SUMMARY or POOLS ([] when absent)."""
        value = self.sections.get(name)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        if isinstance(value, dict):
            return [value]
        return []

    def first(self, name: str) -> dict[str, Any]:
        items = self.section(name)
        return items[0] if items else {}

    def raise_for_status(self) -> "Reply":
        if not self.ok:
            raise ApiError(self.command, self.code, str(self.msg), self.description)
        return self


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_reply(command: str, body: dict[str, Any]) -> Reply:
    """Wrap one command's decoded JSON object.

    Handles the classic envelope (STATUS is a one-element list of objects) and
    btminer's v2 envelope (STATUS is a bare letter next to Code/Msg/Description).
    """
    status_block = body.get("STATUS")
    if isinstance(status_block, list) and status_block and isinstance(status_block[0], dict):
        head = status_block[0]
    elif isinstance(status_block, str):
        head = body
    else:
        head = {}
    sections = {k: v for k, v in body.items() if k not in ("STATUS", "id")}
    if head is body:
        # btminer v2: the status fields sit beside the data; Msg carries the data.
        for key in ("Code", "Description", "When"):
            sections.pop(key, None)
    return Reply(
        command=command,
        status=str(head.get("STATUS", "")).strip().upper()[:1],
        code=_as_int(head.get("Code")),
        msg=head.get("Msg", ""),
        description=str(head.get("Description", "") or ""),
        sections=sections,
    )


def is_multi_reply(body: dict[str, Any], commands: tuple[str, ...]) -> bool:
    """True when the body holds one section per requested command."""
    return len(commands) > 1 and all(c in body for c in commands)


def split_multi_reply(commands: tuple[str, ...], body: dict[str, Any]) -> dict[str, Reply]:
    """Split {"summary":[{...}],"pools":[{...}],"id":1} into one Reply per command.

    Each section is a one-element list on the wire (api.c head_join writes ":[")
    although API-README shows an object; both are accepted.
    """
    replies: dict[str, Reply] = {}
    for command in commands:
        section = body.get(command)
        if isinstance(section, list):
            section = section[0] if section and isinstance(section[0], dict) else {}
        if not isinstance(section, dict):
            section = {}
        replies[command] = parse_reply(command, section)
    return replies
