"""The whole-stack demo (`hashwatch demo`) as a child process, for tests that need every piece running.

Started once per session by the `demo_stack` fixture (tests/conftest.py), only
when a test asks for it: services on 127.77.0.1 at their fixed ports, the
simulated miners on 127.78.0.x (on a free port: another simulator may hold
4028 on every address), configs, data and logs under a pytest temporary
directory. Attributes: prometheus_url, alertmanager_url, webhook_url,
influxdb_url (None without influxd), urls (every `name: url` line the demo
printed), started_at (unix time), ready_seconds, faults ({miner target:
[alerts its scripted fault raises]}), workdir, output().
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.processes import free_port

READY_TIMEOUT_SECONDS = 90.0
URL_LINE = re.compile(r"^(\w+): (http://\S+)$")
FAULT_LINE = re.compile(r"^fault: (\S+) \(([^,]+), site (\S+)\) .* -> (.+)$")


class DemoStack:
    def __init__(self, workdir: Path | None, host: str, first_address: str, miners: int = 12):
        self.workdir = workdir
        self.miner_port = free_port()
        argv = [sys.executable, "-m", "hashwatch.app", "demo", "--miners", str(miners), "--host", host,
                "--first-address", first_address, "--miner-port", str(self.miner_port)]
        if workdir is not None:
            argv += ["--workdir", str(workdir)]
        self.lines: list[str] = []
        self.started_at = time.time()
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ready_seconds = self._wait_ready()
        self.urls = {m.group(1): m.group(2) for line in self.lines if (m := URL_LINE.match(line))}
        self.prometheus_url = self.urls["prometheus"]
        self.alertmanager_url = self.urls["alertmanager"]
        self.webhook_url = self.urls["webhook"]
        self.influxdb_url = self.urls.get("influxdb")
        self.faults = {
            f"{m.group(1)}:{self.miner_port}": [name.strip() for name in m.group(4).split(",")]
            for line in self.lines if (m := FAULT_LINE.match(line))
        }

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def _wait_ready(self) -> float:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if any(line.startswith("ready") for line in self.lines):
                return time.time() - self.started_at
            if self.process.poll() is not None:
                self._reader.join(5)
                raise RuntimeError(f"hashwatch demo exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"hashwatch demo not ready after {READY_TIMEOUT_SECONDS:g} s:\n{self.output()}")

    def stop(self, timeout: float = 40.0) -> int:
        """Ctrl-C, as a user would; returns the exit status (killed after `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        return self.process.returncode
