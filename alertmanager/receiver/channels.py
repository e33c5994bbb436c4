"""What each forwarding destination is sent: Teams, ntfy and generic JSON webhook messages.

Every builder takes one alert event (`ForwardEvent`, any object with the
receiver's event attributes) and the rendered text of the destination's
template, and returns a `Message`: the request body and its headers, ready to
be stored in the outbox and POSTed later, byte for byte.

- **teams**: an Adaptive Card (schema 1.4) wrapped in a `message` with one
  attachment of contentType `application/vnd.microsoft.card.adaptive`. That is
  the shape accepted both by a Teams Workflows "When a Teams webhook request is
  received" flow (the replacement for Office 365 connectors) and by the legacy
  incoming webhook. The card has a title line, the rendered text, a FactSet of
  the labels, and an "Open runbook" button when the alert has a runbook_url.
- **ntfy**: the rendered text as a plain-text body, POSTed to the topic URL
  (https://ntfy.sh/<topic> or a self-hosted server), with headers Title,
  Priority (critical → 5 urgent, warning → 4 high, info → 3 default, resolved
  → 2 low), Tags (a warning or check-mark emoji plus severity) and Click (the
  runbook). Non-ASCII header values are sent RFC 2047 encoded, which ntfy decodes.
- **webhook**: the event as JSON, with the rendered text under "text".

Templates are `str.format` strings limited to the fields in `TEMPLATE_FIELDS`:
no attribute or index access (`{labels.__class__}` is refused when the config
is loaded), so a template cannot reach into Python objects.
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

TEMPLATE_FIELDS = frozenset(
    {"alertname", "status", "severity", "summary", "description", "labels", "runbook_url", "fingerprint", "starts_at"}
)
DEFAULT_TEMPLATE = "[{status}] {alertname} ({severity}): {summary}"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
NTFY_PRIORITY = {"critical": "5", "warning": "4", "info": "3"}


class ForwardEvent(Protocol):
    """One alert event as the receiver hands it to its callbacks (attributes only).

    Times may be epoch seconds (the receiver's store.Event), datetimes or ISO
    text. `alertname` and `severity` are read from the object when it has them,
    else from its labels (`alertname_of`, `severity_of`).
    """

    fingerprint: str
    status: str  # "firing" or "resolved"
    starts_at: float | datetime | str
    ends_at: float | datetime | str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def alertname_of(event: ForwardEvent) -> str:
    return str(getattr(event, "alertname", "") or event.labels.get("alertname", ""))


def severity_of(event: ForwardEvent) -> str:
    return str(getattr(event, "severity", "") or event.labels.get("severity", ""))


@dataclass(frozen=True)
class Message:
    """One request to send: body bytes and headers (Content-Type included)."""

    body: bytes
    headers: dict[str, str]


def iso(value: float | datetime | str | None) -> str:
    """A timestamp as ISO 8601 text ("" for none): epoch seconds in UTC; strings are kept as given."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat() if isinstance(value, datetime) else str(value)


def check_template(template: str) -> str:
    """The template if it only uses known fields, plainly; ValueError otherwise."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template is not a valid format string: {exc}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"template field {{{field}}} is not one of: {known}")
        if spec and "{" in spec:
            raise ValueError("template fields may not be nested")
        if conversion not in (None, "s", "r"):
            raise ValueError(f"template conversion !{conversion} is not allowed")
    try:
        template.format_map(dict.fromkeys(TEMPLATE_FIELDS, ""))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"template cannot be filled in: {exc}") from None
    return template


def fields(event: ForwardEvent) -> dict[str, str]:
    """The values a template may use, all text."""
    labels = dict(event.labels)
    annotations = dict(event.annotations)
    return {
        "alertname": alertname_of(event),
        "status": event.status,
        "severity": severity_of(event),
        "summary": annotations.get("summary", ""),
        "description": annotations.get("description", ""),
        "labels": ", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "runbook_url": annotations.get("runbook_url", ""),
        "fingerprint": event.fingerprint,
        "starts_at": iso(event.starts_at),
    }


def render(template: str, event: ForwardEvent) -> str:
    """The template filled in for this event (checked by `check_template` at config load)."""
    return check_template(template).format_map(fields(event))


def _title(event: ForwardEvent) -> str:
    mark = "RESOLVED" if event.status == "resolved" else "FIRING"
    return f"[{mark}] {alertname_of(event)}"


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def teams(event: ForwardEvent, text: str) -> Message:
    """An Adaptive Card message for a Teams Workflows webhook (or a legacy incoming webhook)."""
    color = "Good" if event.status == "resolved" else ("Attention" if severity_of(event) == "critical" else "Warning")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _title(event), "weight": "Bolder", "size": "Medium", "color": color, "wrap": True},
        {"type": "TextBlock", "text": text, "wrap": True},
    ]
    facts = [{"title": key, "value": value} for key, value in sorted(dict(event.labels).items())]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    runbook = dict(event.annotations).get("runbook_url", "")
    if runbook:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open runbook", "url": runbook}]
    message = {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}
    return Message(_json(message), {"Content-Type": "application/json"})


def _header_text(value: str) -> str:
    """A header value: ASCII as is (control characters dropped), anything else RFC 2047 encoded."""
    value = "".join(ch for ch in value if ch >= " " and ch != "\x7f")
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def ntfy(event: ForwardEvent, text: str) -> Message:
    """A plain-text ntfy publish with Title, Priority, Tags and Click headers."""
    resolved, severity = event.status == "resolved", severity_of(event)
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": _header_text(_title(event)),
        "Priority": "2" if resolved else NTFY_PRIORITY.get(severity, "3"),
        "Tags": _header_text(",".join(t for t in ("white_check_mark" if resolved else "warning", severity) if t)),
    }
    runbook = dict(event.annotations).get("runbook_url", "")
    if runbook:
        headers["Click"] = _header_text(runbook)
    return Message(text.encode("utf-8"), headers)


def webhook(event: ForwardEvent, text: str) -> Message:
    """The event as JSON, plus the rendered text."""
    data = {
        "fingerprint": event.fingerprint,
        "status": event.status,
        "alertname": alertname_of(event),
        "severity": severity_of(event),
        "starts_at": iso(event.starts_at),
        "ends_at": iso(event.ends_at),
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "text": text,
    }
    return Message(_json(data), {"Content-Type": "application/json"})


BUILDERS = {"teams": teams, "ntfy": ntfy, "webhook": webhook}
