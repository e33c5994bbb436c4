"""The `hashwatch` command: flags, config errors, and the README's demo."""

import subprocess
import sys

from click.testing import CliRunner

from hashwatch.cli import main


def test_help_lists_subcommands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("cgminer", "simulate", "demo"):
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


def test_demo_runs_a_simulated_fleet_end_to_end():
    done = subprocess.run(
        [sys.executable, "-m", "hashwatch.cli", "demo", "--miners", "7", "--duration", "0.2",
         "--simulator.port", "0", "--simulator.first-address", "127.66.0.1", "--web.listen-address", "127.0.0.1:0",
         "--log.level", "warn"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "first scrape:     7/7 miners up" in done.stdout
    assert "probe?target=127.66.0.1:" in done.stdout
