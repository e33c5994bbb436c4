"""Real servers as child processes: a free loopback port, a log file, a bounded wait until ready, a clean stop.

Prometheus, Alertmanager, InfluxDB and VictoriaMetrics all start this way in tests.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests

READY_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


def poll(ask: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str, interval: float = 0.5) -> T:
    """ask() until done(answer), at most `timeout` seconds; then AssertionError naming `what` and the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = ask()
        if done(answer):
            return answer
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} never satisfied the condition in {timeout:g} s; last: {answer}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A child process with a log file (workdir/<name>.log), a readiness URL and a bounded wait."""

    name = "server"

    def __init__(self, workdir: Path, argv: list[str], ready_url: str, cwd: Path | None = None):
        self.workdir = workdir
        self.log_path = workdir / f"{self.name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the child writes to it until stop()
        self.process = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )
        try:
            self._wait_ready(ready_url)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if requests.get(url, timeout=1).status_code in (200, 204):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {READY_TIMEOUT_SECONDS} s: {self.log_tail()}")

    def log_tail(self, size: int = 2000) -> str:
        self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
