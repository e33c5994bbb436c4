"""The `hashwatch` command: flags, config errors, the demo's and the replays' command lines."""

import subprocess
import sys

from click.testing import CliRunner

from hashwatch.app.cli import main
from tests.support.paths import OCEAN_CAPTURES


def test_help_lists_subcommands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("cgminer", "ocean", "market", "profitability", "simulate", "demo", "upstreams"):
        assert command in result.output


def test_cgminer_flags_are_prometheus_style():
    result = CliRunner().invoke(main, ["cgminer", "--help"])
    assert "--config.file" in result.output and "--web.listen-address" in result.output


def test_bad_config_key_exits_2_naming_file_and_key(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("cgminer:\n  timout_seconds: 3\n")
    result = CliRunner().invoke(main, ["cgminer", "--config.file", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output and "cgminer.timout_seconds: unknown key" in result.output


def test_demo_and_upstreams_take_their_flags():
    """The demo itself runs in tests/app/test_demo.py (the whole stack); here only its command line."""
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    for flag in ("--miners", "--host", "--first-address", "--miner-port", "--duration", "--workdir"):
        assert flag in result.output
    result = CliRunner().invoke(main, ["upstreams", "--help"])
    assert result.exit_code == 0 and "--listen" in result.output and "--ocean.workers" in result.output
    result = CliRunner().invoke(main, ["demo", "--host", "10.0.0.1", "--duration", "1"])
    assert result.exit_code == 1 and "loopback only" in result.output


def test_ocean_bad_payout_address_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("ocean:\n  addresses: [bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5]\n")
    result = CliRunner().invoke(main, ["ocean", "--config.file", str(path)])
    assert result.exit_code == 2
    assert "ocean.addresses" in result.output and "checksum" in result.output


def test_ocean_command_serves_metrics_from_a_replayed_api(tmp_path):
    import re
    import socket
    import time

    import requests

    from tests.support.replay_server import Reply, ReplayServer

    fixtures = OCEAN_CAPTURES
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ReplayServer() as server:
        server.route("/v1/pool_hashrate", Reply.file(fixtures / "pool_hashrate_HANDBUILT.json"))
        config = tmp_path / "hashwatch.yml"
        config.write_text(f"ocean:\n  api_url: {server.url}/v1\n  intervals: {{hashrate: 0.2}}\n")
        process = subprocess.Popen(
            [sys.executable, "-m", "hashwatch.app", "ocean", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            text, deadline = "", time.monotonic() + 20
            while "ocean_pool_hashrate_hashes_per_second{" not in text and time.monotonic() < deadline:
                time.sleep(0.1)
                try:
                    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                except requests.ConnectionError:
                    continue
        finally:
            process.terminate()
            process.wait(10)
    assert re.search(r'^ocean_pool_hashrate_hashes_per_second\{window="60s"\} 3\.7', text, re.MULTILINE), text[-2000:]


def test_profitability_bad_tariff_and_bad_catalog_exit_2(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("profitability:\n  tariff: {rate: 0.1, timezone: Mars/Olympus}\n")
    result = CliRunner().invoke(main, ["profitability", "--config.file", str(bad)])
    assert result.exit_code == 2 and "profitability.tariff.timezone" in result.output
    catalog = tmp_path / "catalog.yml"
    catalog.write_text("models: [{make: Acme, model: X1, hashrate_ths: 100, power_watts: 3}]\n")
    config = tmp_path / "hashwatch.yml"
    config.write_text(f"profitability:\n  catalog_file: {catalog}\n")
    result = CliRunner().invoke(main, ["profitability", "--config.file", str(config)])
    assert result.exit_code == 2 and str(catalog) in result.output


def test_a_taken_port_is_a_clear_error_not_a_traceback():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "hashwatch.app", "market", "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"],
            capture_output=True, text=True, timeout=30,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
