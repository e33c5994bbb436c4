"""The webhook receiver on a real waitress server, on 127.0.0.1 (free port), from a daemon thread."""

from __future__ import annotations

import threading

from alertmanager.receiver.config import WebhookConfig
from alertmanager.receiver.server import build, make_server, stop


class ReceiverThread:
    """`with ReceiverThread(config) as server:` server.url, server.receiver (its store, callbacks)."""

    def __init__(self, config: WebhookConfig):
        self.receiver, self.app = build(config)
        self._server = make_server(self.app, config, "127.0.0.1:0")
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "ReceiverThread":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        stop(self._server)
        self._thread.join(10)
        assert not self._thread.is_alive(), "waitress did not stop"
        self._server.task_dispatcher.shutdown()
        self.receiver.close()
