"""Forwarding alert events to Teams, ntfy and generic webhooks, chosen by label matchers.

The `forward:` part of the webhook section:

    forward:
      outbox_path: /var/lib/hashwatch/forward.db   # may be the receiver's db_path
      backoff_base_seconds: 5
      backoff_max_seconds: 900
      destinations:
        - name: ops-teams
          kind: teams                 # teams | ntfy | webhook
          url_file: /etc/hashwatch/teams-url    # or url: (not a secret, e.g. ntfy)
          matchers: ['severity="critical"', 'site=~"north|south"']
          template: "{alertname} on {labels}: {summary}"
          max_age_seconds: 86400      # give up (marked failed) after this long
          timeout_seconds: 10

Matchers are Alertmanager's: `name="value"`, `name!="value"`, `name=~"regex"`,
`name!~"regex"`; a regex is anchored at both ends, a missing label matches as
the empty string, and every matcher of a destination must match (no matchers:
every event). Values may be unquoted when they hold no space, comma or quote.

`forwarder(config, outbox)` returns the receiver's callback: for each new event
and each destination it matches, the message is built (channels.py) and put in
the outbox (outbox.py) under the dedupe key destination + fingerprint + status
+ starts_at, so a notification Alertmanager repeats is forwarded once.
Webhook messages carry that key, hashed, as an Idempotency-Key header. An
event the receiver marks `superseded` (a firing that arrived after its own
resolution) is not forwarded.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal, Mapping

from pydantic import Field, field_validator, model_validator

from hashwatch.config import ConfigError, ConfigSection, http_url

from .channels import BUILDERS, DEFAULT_TEMPLATE, ForwardEvent, check_template, iso, render
from .outbox import Outbox, Target

log = logging.getLogger(__name__)

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s",'{}]*))\s*$""",
    re.S,
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager label matcher."""

    name: str
    op: str  # =, !=, =~, !~
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.regex is not None:
            return (self.regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """A Matcher from text such as 'severity="critical"'; ValueError naming the problem."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a matcher like name=\"value\", name!=\"value\", name=~\"regex\"")
    quoted = found.group("quoted")
    if quoted is None:
        value = found.group("bare")
    else:
        value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), quoted, flags=re.S)
    op = found.group("op")
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(f"(?:{value})", re.S)
        except re.error as exc:
            raise ValueError(f"{text!r}: bad regular expression: {exc}") from None
    return Matcher(found.group("name"), op, value, regex)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


class DestinationConfig(ConfigSection):
    """One place alerts are forwarded to."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: Literal["teams", "ntfy", "webhook"]
    url: str | None = None
    url_file: Path | None = Field(None, strict=False)
    matchers: list[str] = Field(default_factory=list)
    template: str = DEFAULT_TEMPLATE
    max_age_seconds: float = Field(86400.0, gt=0, le=30 * 86400)
    timeout_seconds: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_matcher(text)
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    @model_validator(mode="after")
    def _one_url(self) -> DestinationConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url or url_file")
        return self

    def parsed_matchers(self) -> list[Matcher]:
        return [parse_matcher(text) for text in self.matchers]

    def resolved_url(self) -> str:
        """The URL, read from url_file if given (a secret: never logged); ConfigError if unusable."""
        if self.url is not None:
            return self.url
        assert self.url_file is not None
        try:
            text = self.url_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"forward.destinations.{self.name}.url_file: cannot read {self.url_file}: "
                              f"{exc.strerror or exc}") from None
        try:
            return http_url(text)
        except ValueError:
            raise ConfigError(f"forward.destinations.{self.name}.url_file: {self.url_file} does not hold "
                              "an http:// or https:// URL") from None


class ForwardConfig(ConfigSection):
    """The `forward:` section: the outbox and the destinations."""

    outbox_path: Path = Field(Path("forward-outbox.db"), strict=False)
    backoff_base_seconds: float = Field(5.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(900.0, gt=0, le=86400)
    jitter: float = Field(0.2, ge=0, lt=1)
    batch: int = Field(20, ge=1, le=1000)
    retention_days: float = Field(7.0, gt=0, le=365)
    destinations: list[DestinationConfig] = Field(default_factory=list)

    @field_validator("destinations")
    @classmethod
    def _unique(cls, value: list[DestinationConfig]) -> list[DestinationConfig]:
        names = [d.name for d in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"destination names must be unique: {', '.join(twice)} given more than once")
        return value

    def targets(self) -> dict[str, Target]:
        """Destination name → where to send (secrets read now); ConfigError if a url_file is unusable."""
        return {d.name: Target(d.resolved_url(), d.timeout_seconds) for d in self.destinations}


def dedupe_key(destination: str, event: ForwardEvent) -> str:
    return "\x1f".join((destination, event.fingerprint, event.status, iso(event.starts_at)))


def forwarder(
    config: ForwardConfig, outbox: Outbox, clock: Callable[[], float] = time.time
) -> Callable[[Iterable[ForwardEvent]], int]:
    """The receiver callback: each new event to every destination it matches, via the outbox.

    Returns how many messages were newly queued. A bad event (say a label that is
    not text) is logged and skipped; it does not stop the others. A database
    error is raised, so that the receiver can answer Alertmanager with an error
    and have the notification sent again.
    """
    routes = [(d, d.parsed_matchers()) for d in config.destinations]

    def callback(events: Iterable[ForwardEvent]) -> int:
        queued = 0
        for event in events:
            if getattr(event, "superseded", False):
                continue  # a firing stored after its own resolution: forwarding it would mislead
            for destination, matchers in routes:
                try:
                    if not matches_all(matchers, event.labels):
                        continue
                    key = dedupe_key(destination.name, event)
                    message = BUILDERS[destination.kind](event, render(destination.template, event))
                    headers = dict(message.headers)
                    if destination.kind == "webhook":
                        headers["Idempotency-Key"] = hashlib.sha256(key.encode()).hexdigest()[:32]
                    queued += outbox.enqueue(
                        destination.name, message.body, headers, key, destination.max_age_seconds, clock()
                    )
                except (ValueError, TypeError, KeyError, AttributeError):  # a database error propagates
                    log.exception("cannot forward alert %s to %s", getattr(event, "fingerprint", "?"),
                                  destination.name)
        return queued

    return callback
