"""Real servers for tests, each in its own event-loop thread on loopback."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from hashwatch.web import serve


class AppThread:
    """Serve an aiohttp application on 127.0.0.1 (free port) from a daemon thread."""

    def __init__(self, make_app, **serve_options):
        self._make_app = make_app  # called inside the thread's loop
        self._serve_options = serve_options  # limits for hashwatch.web.serve
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""
        self.app: web.Application | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.app = self._make_app()
            self._runner, url = self._loop.run_until_complete(serve(self.app, "127.0.0.1:0", **self._serve_options))
            self.url = url.rstrip("/")
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> "AppThread":
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("server thread did not start in 10 s")
        if self._error is not None:
            raise self._error
        return self

    def __enter__(self) -> "AppThread":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return  # stopped already
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
