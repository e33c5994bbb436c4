"""One scrape of one miner: detect its firmware, ask for what its parser needs, parse.

A scrape never raises: every failure becomes a ScrapeResult with a reason, so one
broken miner cannot hurt a probe or the rest of a fleet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from .client import ClientSettings, ScrapeError, request
from .commands import CMD_KEY_COMMANDS
from .firmware import parser_for
from .firmware.detect import DETECTION_SEQUENCE, identify
from .memory import MinerMemory
from .model import MinerStatus
from .reply import Reply, is_multi_reply, parse_reply, split_multi_reply

log = logging.getLogger(__name__)


# Failures that say something about the firmware, not the network.
_CONTENT_FAILURES = frozenset({"malformed_reply", "api_error", "internal_error", "reply_too_large"})

# How long replies to a parser's static_commands are reused.
STATIC_REFRESH_SECONDS = 600.0


@dataclass(slots=True)
class ScrapeResult:
    status: MinerStatus | None
    error_reason: str = ""
    error_message: str = ""
    duration_seconds: float = 0.0
    commands_sent: list[str] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.status is not None


class _Session:
    """The requests of one scrape, sharing one time budget."""

    def __init__(self, host: str, port: int, settings: ClientSettings, deadline: float):
        self.host, self.port, self.settings, self.deadline = host, port, settings, deadline
        self.sent: list[str] = []

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    async def raw(self, commands: tuple[str, ...]) -> dict:
        self.sent.append("+".join(commands))
        return await request(self.host, self.port, commands, self.settings, self.remaining())

    async def single(self, command: str) -> Reply:
        return parse_reply(command, await self.raw((command,)))


async def _together(jobs: list) -> list:
    """Await requests at the same time; the first failure fails them all (after all have ended)."""
    if len(jobs) == 1:
        return [await jobs[0]]
    answers = await asyncio.gather(*jobs, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


async def _fetch(session: _Session, commands: tuple[str, ...], memory: MinerMemory, multi_allowed: bool) -> dict[str, Reply]:
    """All replies for `commands`, in as few rounds as the firmware allows.

    Requests in one round go out at the same time: a controller that takes 200 ms
    to answer costs 200 ms per round, not per command. The multi-command goes
    with the commands that cannot join it (btminer v2); if the firmware refuses
    it (stock Antminer: Code 14), that is remembered and its commands follow as
    singles in a second round, and from the next scrape on in the first.
    """
    if not commands:
        return {}
    joinable = tuple(c for c in commands if c not in CMD_KEY_COMMANDS)
    multi = multi_allowed and memory.multi_command is not False and len(joinable) > 1
    singles = [c for c in commands if c not in joinable] if multi else list(commands)
    jobs = [session.raw(joinable)] if multi else []
    jobs += [session.single(c) for c in singles]
    answers = await _together(jobs)
    replies = dict(zip(singles, answers[1:] if multi else answers))
    if multi:
        body = answers[0]
        if is_multi_reply(body, joinable):
            memory.multi_command = True
            replies.update(split_multi_reply(joinable, body))
        else:
            memory.multi_command = False
            replies.update(zip(joinable, await _together([session.single(c) for c in joinable])))
    return replies


async def scrape(
    host: str, port: int, memory: MinerMemory, settings: ClientSettings, timeout: float
) -> ScrapeResult:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    session = _Session(host, port, settings, loop.time() + timeout)
    try:
        status = await _scrape(session, memory)
        return ScrapeResult(status, duration_seconds=time.perf_counter() - started, commands_sent=session.sent)
    except ScrapeError as exc:
        reason, message = exc.reason, str(exc)
    except Exception as exc:  # a parser bug must not take the exporter down
        log.exception("unexpected error scraping %s:%s", host, port)
        reason, message = "internal_error", f"{type(exc).__name__}: {exc}"
    if reason in _CONTENT_FAILURES:
        # The device answered something unexpected: it may have been re-flashed.
        # A slow or unreachable miner keeps what we know of it: detecting it
        # again would only add round trips to a miner already short of time.
        memory.forget()
    return ScrapeResult(None, reason, message, time.perf_counter() - started, session.sent)


async def _scrape(session: _Session, memory: MinerMemory) -> MinerStatus:
    seen: dict[str, Reply] = {}
    if memory.firmware is None:
        for command in DETECTION_SEQUENCE:
            seen[command] = await session.single(command)
            memory.firmware = identify(seen)
            if memory.firmware is not None:
                break
    parser = parser_for(memory.firmware or "cgminer")
    now = time.monotonic()
    static_due = not memory.static_replies or now - memory.static_fetched_at > STATIC_REFRESH_SECONDS
    wanted = parser.commands + parser.optional_commands + (parser.static_commands if static_due else ())
    wanted = tuple(dict.fromkeys(wanted))
    # Replies fetched during detection are reused, not asked for twice.
    missing = tuple(c for c in wanted if c not in seen or not seen[c].ok)
    replies = {**{c: seen[c] for c in wanted if c in seen}, **await _fetch(session, missing, memory, parser.multi_command)}
    if parser.static_commands:
        if static_due:
            memory.remember_static({c: replies[c] for c in parser.static_commands}, now)
        replies = {**memory.static_replies, **replies}
    failed = [replies[c] for c in parser.commands if not replies[c].ok]
    if failed and len(failed) == len(parser.commands):
        first = failed[0]
        raise ScrapeError("api_error", f"{first.command}: {first.msg} (code {first.code})")
    status = parser.parse({c: r for c, r in replies.items() if r.ok})
    status.firmware = status.firmware or parser.name
    return status
