"""The demo's child processes: each started with its log in the workdir, waited for, watched, stopped.

Children run in their own session, so a Ctrl-C in the terminal reaches the
demo alone, which then stops them in reverse order of start: SIGTERM, a
bounded wait, SIGKILL. On Linux each child is also told to receive SIGTERM
should the demo die without stopping it (prctl PR_SET_PDEATHSIG), so nothing
is left behind even after a SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .layout import DemoError

STOP_SECONDS = 10.0  # per child, between SIGTERM and SIGKILL
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def hashwatch_argv(*arguments: str) -> list[str]:
    """A `hashwatch` subcommand run by this very Python (installed or editable alike)."""
    return [sys.executable, "-m", "hashwatch.app", *arguments]


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URLs we built
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None  # ready once this answers 2xx
    ready_line: str | None = None  # or once the log has a line starting with this
    cwd: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def died(self) -> str:
        return (f"{self.name} exited with status {self.process.returncode}; the end of {self.log_path}:\n"
                f"{self.log_tail() or '    (empty)'}")

    def is_ready(self) -> bool:
        if self.ready_url is not None:
            return http_ok(self.ready_url)
        if self.ready_line is not None and self.log_path is not None:
            try:
                return any(line.startswith(self.ready_line) for line in self.log_path.read_text(errors="replace").splitlines())
            except OSError:
                return False
        return True


class Supervisor:
    def __init__(self, workdir: Path, report: Callable[[str], None]):
        self.workdir = workdir
        self.report = report
        self.children: list[Child] = []

    def start(self, child: Child, timeout: float = 60.0) -> Child:
        """Start and wait until ready; DemoError with the end of its log if it dies or takes too long."""
        child.log_path = self.workdir / "logs" / f"{child.name}.log"
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(child.log_path, "wb") as log:
            try:
                child.process = subprocess.Popen(
                    child.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=child.cwd,
                    start_new_session=True, preexec_fn=_die_with_parent,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            except OSError as exc:
                raise DemoError(f"cannot start {child.name} ({child.argv[0]}): {exc.strerror or exc}") from None
        self.children.append(child)
        deadline = time.monotonic() + timeout
        while not child.is_ready():
            if child.process.poll() is not None:
                raise DemoError(child.died())
            if time.monotonic() > deadline:
                raise DemoError(f"{child.name} was not ready after {timeout:g} s; the end of {child.log_path}:\n{child.log_tail()}")
            time.sleep(0.1)
        return child

    def check(self) -> None:
        """DemoError if a child has died since it started."""
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                raise DemoError(child.died())

    def stop_all(self) -> None:
        """Reverse order of start: SIGTERM, wait up to STOP_SECONDS, then SIGKILL. Never raises."""
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.report(f"{child.name} did not stop within {STOP_SECONDS:g} s: killed")
                process.kill()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    self.report(f"{child.name} (pid {process.pid}) did not die")
        self.children.clear()
