"""hashwatch as a user installs it: the built wheel in a clean virtualenv, outside the checkout.

Every subcommand runs from the installed wheel alone, so a package or a package-data
file missing from the wheel (the ASIC catalog, the simulator's captures) fails here,
as it would in the container image (the Dockerfile installs the same wheel).
Network: loopback only; every upstream URL points at a closed local port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests
from tests.support.paths import REPO
from tests.support.processes import free_port

ROOT = REPO
SIM_ADDRESS = "127.93.0"
MINERS = 7



@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """(bin directory, working directory) of a clean virtualenv holding only the wheel and its dependencies."""
    work = tmp_path_factory.mktemp("packaging")
    # Built from a copy: setuptools reuses the checkout's build/ folder, whose stale
    # files (a module deleted since) would hide exactly what this test is for.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = dist.glob("hashwatch-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin", work


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(installed, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    bin_dir, work = installed
    return subprocess.run(
        [str(bin_dir / "hashwatch"), *args], cwd=work, env=_env(), capture_output=True, text=True, timeout=timeout
    )


class _Server:
    """A `hashwatch` subcommand running from the wheel until the test is done with it."""

    def __init__(self, installed, *args: str, ready: str):
        bin_dir, work = installed
        self.process = subprocess.Popen(
            [str(bin_dir / "hashwatch"), *args], cwd=work, env=_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            self.output.append(line)
            if ready in line:
                return
        self.stop()
        pytest.fail(f"hashwatch {args[0]} did not print {ready!r}:\n{''.join(self.output)}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def test_the_wheel_is_what_runs(installed):
    bin_dir, work = installed
    code = "import hashwatch, exporters, profitability, simulator; print(hashwatch.__file__, profitability.__file__)"
    done = subprocess.run([str(bin_dir / "python"), "-c", code], cwd=work, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(ROOT) not in done.stdout and str(bin_dir.parent) in done.stdout
    assert _run(installed, "--version").returncode == 0


def test_every_subcommand_runs_from_the_wheel(installed, tmp_path):
    sim_port, exporter_port = free_port(), free_port()
    file_sd = tmp_path / "miners.json"
    simulator = _Server(
        installed, "simulate", "--miners", str(MINERS), "--first-address", f"{SIM_ADDRESS}.1",
        "--port", str(sim_port), "--file-sd", str(file_sd), ready="listening",
    )
    servers = [simulator]
    try:
        closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: no upstream is ever reached
        config = tmp_path / "hashwatch.yml"
        config.write_text(json.dumps({
            "cgminer": {"allowed_targets": [f"{SIM_ADDRESS}.0/24"], "allowed_ports": [sim_port],
                        "fleet": {"file_sd": [str(file_sd)]}},
            "ocean": {"api_url": f"{closed}/v1"},
            "market": {
                "price_sources": [{"name": "coingecko", "base_url": closed}],
                "network_sources": [{"name": "mempool", "base_url": closed}],
            },
            "profitability": {"prometheus_url": closed},
            "webhook": {"db_path": str(tmp_path / "events.db")},
        }))
        pages = {}
        for command in ("cgminer", "ocean", "market", "profitability", "webhook"):
            port = exporter_port if command == "cgminer" else free_port()
            servers.append(_Server(
                installed, command, "--config.file", str(config), "--web.listen-address", f"127.0.0.1:{port}",
                "--log.level", "error", ready="serving on",
            ))
            pages[command] = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        for command, page in pages.items():
            assert page.status_code == 200, (command, page.text[:500])
            assert f"# TYPE hashwatch_{command}_" in page.text, (command, page.text[:500])
            assert f'hashwatch_build_info{{service="{command}",version="' in page.text, (command, page.text[:500])
        up = re.findall(r'^miner_up\{miner="[^"]+"[^}]*\} 1$', pages["cgminer"].text, re.M)
        assert len(up) == MINERS  # the simulator's packaged captures, parsed by the packaged parsers

        output = tmp_path / "discovered.json"
        done = _run(installed, "discover", f"{SIM_ADDRESS}.0/28", "--port", str(sim_port), "--output", str(output))
        assert done.returncode == 0, done.stderr
        assert sum(len(group["targets"]) for group in json.loads(output.read_text())) == MINERS
    finally:
        for server in servers:
            server.stop()

    # The whole-stack demo from the wheel: the Alertmanager config, templates, captures and replays are package data.
    done = _run(
        installed, "demo", "--miners", "3", "--duration", "0.5", "--host", "127.94.0.1",
        "--first-address", "127.95.0.1", "--miner-port", str(free_port()), timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^ready ", done.stdout, re.M) and done.stdout.rstrip().endswith("stopped"), done.stdout
    assert "prometheus: http://127.94.0.1:9090" in done.stdout


def test_the_container_image_installs_the_same_wheel():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip wheel .*--no-deps", dockerfile) and re.search(r"pip install .*/wheels/hashwatch-\*\.whl", dockerfile)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored
