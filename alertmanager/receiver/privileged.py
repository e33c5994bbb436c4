"""The only place hashwatch builds and sends a privileged CGMiner API command.

The CGMiner exporter is read-only by construction (exporters/cgminer/commands.py
refuses every privileged command before a socket is opened, and that guarantee
is unchanged). Remediation needs one privileged command, so it has its own tiny
sender here, with its own explicit allow-list: a command outside
PRIVILEGED_ALLOWED, or any parameter, raises before a byte leaves the process.

Allowed, and why:

- `restart`: cgminer/bmminer/bosminer's `restart` restarts the mining process
  (not the controller); it takes no parameter, and the miner comes back with its
  saved configuration. It is the documented cure for a miner that reports zero
  hashrate with its process hung. The firmware only obeys it when its API grants
  write access to hashwatch's address (cgminer `--api-allow W:<ip>`); otherwise
  it answers STATUS E, Code 45 "Access denied", which is recorded as a failure.

Deliberately not allowed: `quit` (stops mining until someone restarts it by
hand), `ascset`/`pgaset` (frequency and voltage writes with free-form
parameters), pool changes, `save`, `zero`, btminer v2 `reboot`/`set_*` (need an
encrypted token session) and everything else. A power-cycle belongs in an
operator's exec action (a PDU script), not here.

The client is blocking and bounded: one connection per command, a deadline for
connect + send + read, a byte cap on the reply, read until cgminer's NUL or EOF.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass

DEFAULT_PORT = 4028
MAX_REPLY_BYTES = 64 * 1024

PRIVILEGED_ALLOWED: frozenset[str] = frozenset({"restart"})

_HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}")


class PrivilegedCommandRefused(ValueError):
    """A command outside PRIVILEGED_ALLOWED (or with a parameter); nothing was sent."""


@dataclass(frozen=True)
class CommandResult:
    ok: bool  # False when the miner answered with STATUS E or F
    detail: str  # short: the miner's STATUS message, or the start of its reply


def encode_privileged(command: str) -> bytes:
    """The request bytes for one allow-listed privileged command; it never carries a parameter."""
    if not isinstance(command, str) or command not in PRIVILEGED_ALLOWED:
        raise PrivilegedCommandRefused(
            f"refusing to send {command!r}: remediation sends only {sorted(PRIVILEGED_ALLOWED)}"
        )
    return json.dumps({"command": command}).encode()


def split_target(target: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """"host", "host:port" or "[v6]:port" -> (host, port); ValueError when malformed."""
    text = target.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ("" if not rest else "x")
        ipaddress.IPv6Address(host)  # ValueError when not an IPv6 literal
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        host, port_text = str(ipaddress.IPv6Address(text)), ""
    else:
        host, port_text = text, ""
    if not host or (":" not in host and not _HOST.fullmatch(host)):
        raise ValueError(f"invalid miner host in {target[:80]!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid miner port in {target[:80]!r}")
    return host, int(port_text)


def _summarise(raw: bytes) -> CommandResult:
    text = raw.rstrip(b"\x00").decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        # cgminer answers restart with a bare "RESTART" token, not JSON, before it restarts.
        return CommandResult(True, (text or "no reply")[:120])
    status = document.get("STATUS") if isinstance(document, dict) else None
    block = status[0] if isinstance(status, list) and status and isinstance(status[0], dict) else document
    if isinstance(block, dict):
        letter = block.get("STATUS") if isinstance(block.get("STATUS"), str) else ""
        message = str(block.get("Msg", block.get("msg", "")))[:120]
        code = block.get("Code", block.get("code", ""))
        if letter in ("E", "F"):
            return CommandResult(False, f"miner refused: STATUS {letter} Code {code} {message}".strip())
        return CommandResult(True, f"STATUS {letter or '?'} {message}".strip())
    return CommandResult(True, text[:120])


def send_privileged(
    host: str, port: int, command: str, timeout: float = 5.0, max_reply_bytes: int = MAX_REPLY_BYTES
) -> CommandResult:
    """Send one allow-listed command and read the reply (until NUL or EOF).

    Raises PrivilegedCommandRefused before connecting for anything not allowed,
    OSError (TimeoutError included) when the miner cannot be reached or stalls.
    """
    payload = encode_privileged(command)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.sendall(payload)  # no half-close: like the exporter, cgminer takes one recv()
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete reply within {timeout}s")
            sock.settimeout(remaining)
            chunk = sock.recv(8192)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_reply_bytes:
                raise OSError(f"reply larger than {max_reply_bytes} bytes")
            if b"\x00" in chunk:
                break
    return _summarise(b"".join(chunks))
