"""Hostile look-alike miners on loopback: a recorded stock S19 Pro with chosen replies edited.

Each `HostileMiner` listens on its own 127.x.y.z address (all on one port) in a
daemon thread and answers one command per connection, as cgminer does: the
recorded reply, passed through the miner's `edit(command, text)` first. It
records every command it was asked, so tests can tell whether it was reached.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable

from tests.support.cgminer_fixtures import raw

S19_FILES = {
    "version": "antminer/s19pro_stock_2022_version.json",
    "summary": "antminer/s19pro_stock_2022_summary.json",
    "pools": "antminer/s19pro_stock_2022_pools.json",
    "stats": "antminer/s19pro_stock_2022_stats.json",
}
INVALID = "errors/antminer_s21_invalid_command.json"

Edit = Callable[[str, str], str]


def _read_request(sock: socket.socket) -> dict:
    data = b""
    while len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        try:
            return json.loads(data.rstrip(b"\x00"))
        except ValueError:
            continue
    return {}


class HostileMiner:
    def __init__(self, address: str, port: int = 0, edit: Edit | None = None):
        self.edit = edit or (lambda command, text: text)
        self.commands: list[str] = []
        miner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                request = _read_request(self.request)
                command = str(request.get("command", ""))
                miner.commands.append(command)
                text = raw(S19_FILES[command] if command in S19_FILES else INVALID).decode()
                self.request.sendall(miner.edit(command, text).encode("utf-8", "surrogatepass") + b"\x00")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.address, self.port = self.server.server_address[:2]
        self.target = f"{self.address}:{self.port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def replace_in(commands: str | tuple[str, ...], old: str, new: str) -> Edit:
    """An edit that replaces `old` by `new` in these commands' replies (and checks it was there)."""

    def edit(asked: str, text: str) -> str:
        if asked not in commands:
            return text
        assert old in text, f"{old!r} not in the recorded {asked} reply"
        return text.replace(old, new)

    return edit
