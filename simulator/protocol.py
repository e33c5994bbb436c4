"""The CGMiner API as a miner speaks it: request framing and reply assembly.

Requests are JSON objects: {"command": "summary"}, {"command": "summary+pools"}
(multi-command), {"command": "ascset", "parameter": "0,freq,500"}, or btminer
API v2 {"cmd": "status"}. Replies are JSON text; the server adds cgminer's
trailing NUL and closes. Error codes and messages are cgminer's (api.c):
14 Invalid command, 23 Invalid JSON, 24 Missing JSON 'command'.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .mutate import Moment, Template, compile_document
from .profiles import Profile

MAX_REQUEST_BYTES = 64 * 1024
_LABEL_LIMIT = 256  # journal entries stay small whatever a client sends

INVALID_JSON = (23, "Invalid JSON")
MISSING_COMMAND = (24, "Missing JSON 'command'")


@dataclass(frozen=True)
class Request:
    key: str  # "command", "cmd" (btminer v2) or "" when the request has neither
    command: str  # as sent; "a+b" for a multi-command
    label: str  # what the journal records: the command, "|parameter" appended when given
    error: tuple[int, str] | None = None  # set when the request itself is malformed


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:_LABEL_LIMIT]


def parse_request(buffer: bytes, eof: bool = False) -> Request | None:
    """The request in `buffer`, or None while it is incomplete (more bytes may come).

    Clients do not always half-close, so a request is complete as soon as the
    buffer holds a whole JSON object. Plain-text API requests ("summary|0") are
    taken as they arrive, like cgminer's single recv(), and answered as invalid:
    this simulator speaks the JSON API only.
    """
    text = buffer.strip(b"\x00 \t\r\n")
    if not text:
        return None
    if not text.startswith(b"{"):
        return Request("", "", _text(text), error=None)
    try:
        body = json.loads(text)
    except ValueError:  # includes UnicodeDecodeError
        if eof:
            return Request("", "", _text(text), error=INVALID_JSON)
        return None
    if not isinstance(body, dict):
        return Request("", "", _text(text), error=INVALID_JSON)
    if "command" in body:
        command = body["command"]
        if not isinstance(command, str):
            return Request("command", "", _text(text))
        label = command
        if "parameter" in body:
            label = f"{command}|{body['parameter']}"
        return Request("command", command, label[:_LABEL_LIMIT])
    if "cmd" in body:
        command = str(body["cmd"])
        return Request("cmd", command, command[:_LABEL_LIMIT])
    return Request("", "", _text(text), error=MISSING_COMMAND)


_PARSED: dict[bytes, Request] = {}
_PARSED_LIMIT = 4096  # entries of at most _PARSED_SIZE bytes: about 1 MiB at worst
_PARSED_SIZE = 256


def parse_cached(buffer: bytes) -> Request | None:
    """parse_request for a buffer without EOF, remembering complete requests.

    A scraper sends the same few byte strings over and over ({"command": "summary"}),
    so most requests cost one dict lookup instead of a JSON parse.
    """
    request = _PARSED.get(buffer)
    if request is None:
        request = parse_request(buffer)
        if request is not None and len(buffer) <= _PARSED_SIZE and len(_PARSED) < _PARSED_LIMIT:
            _PARSED[buffer] = request
    return request


# edit(command, reply text) -> reply text: how a miner's faults change one command's reply.
Edit = Callable[[str, str], str]


def _status_block(document: dict[str, Any]) -> dict[str, Any]:
    status = document.get("STATUS")
    if isinstance(status, list) and status and isinstance(status[0], dict):
        return status[0]
    return document  # btminer v2: STATUS, Code, Msg sit at the top level


class Responder:
    """Answers any request for one profile from its compiled captures (shared by its miners)."""

    def __init__(self, profile: Profile):
        self.profile = profile
        documents = {command: profile.load(filename) for command, filename in profile.replies.items()}
        uptime = _capture_uptime(documents)
        self._replies: dict[str, Template] = {
            command: compile_document(document, profile.rules, uptime) for command, document in documents.items()
        }
        self._cmd_replies: dict[str, Template] = {
            command: compile_document(profile.load(filename), profile.rules, uptime)
            for command, filename in profile.cmd_replies.items()
        }
        self._error_document = profile.load(profile.invalid_command)
        self._invalid = compile_document(self._error_document, profile.rules, uptime)
        self._errors: dict[tuple[int, str], Template] = {}
        # Stock cgminer ends every reply with "id":1; VNish's summary omits it, so its multi replies do too.
        sample = documents.get("summary") or next(iter(documents.values()), {})
        self._reply_id = isinstance(sample, dict) and "id" in sample

    def error(self, code: int, message: str) -> Template:
        """The firmware's error shape carrying a cgminer error code."""
        template = self._errors.get((code, message))
        if template is None:
            document = copy.deepcopy(self._error_document)
            block = _status_block(document)
            block["Code"], block["Msg"] = code, message
            template = self._errors[(code, message)] = compile_document(document, self.profile.rules, 1.0)
        return template

    def render(self, command: str, moment: Moment, edit: Edit | None = None) -> str:
        """One command's reply as the firmware writes it; `edit` applies only to captured replies."""
        template = self._replies.get(command)
        if template is None:
            return self._invalid.render(moment)
        text = template.render(moment)
        return edit(command, text) if edit is not None else text

    def respond(self, request: Request, moment: Moment, edit: Edit | None = None) -> str:
        if request.error is not None:
            return self.error(*request.error).render(moment)
        if request.key == "cmd":
            template = self._cmd_replies.get(request.command)
            if template is not None:
                return template.render(moment)
            # btminer has a v2 API and rejects unknown ones; cgminer-based firmware knows no "cmd" key.
            return (self._invalid if self._cmd_replies else self.error(*MISSING_COMMAND)).render(moment)
        if request.key != "command":
            return self._invalid.render(moment)
        if "+" not in request.command:
            return self.render(request.command, moment, edit)
        if not self.profile.multi_command:
            return self._invalid.render(moment)
        # Multi-command: one ONE-ELEMENT LIST per command (api.c head_join), each holding that
        # command's whole reply or its own error; duplicates collapse to keep keys unique.
        sections = [
            f"{json.dumps(command)}:[{self.render(command, moment, edit)}]"
            for command in dict.fromkeys(request.command.split("+"))
        ]
        if self._reply_id:
            sections.append('"id":1')
        return "{" + ",".join(sections) + "}"


def _capture_uptime(documents: dict[str, Any]) -> float:
    """Seconds the recorded device had been running: counters grew at value / uptime."""
    for command, section in (("summary", "SUMMARY"), ("stats", "STATS"), ("devs", "DEVS"), ("edevs", "DEVS")):
        document = documents.get(command)
        items = document.get(section) if isinstance(document, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict):
                for key in ("Elapsed", "Device Elapsed"):
                    value = item.get(key)
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                        return float(value)
    return 3600.0


@cache
def responder_for(profile: Profile) -> Responder:
    """The compiled replies of a profile, shared by every miner running it (compiled once)."""
    return Responder(profile)
