"""Bad configs and flags: one error naming the file and the key, exit status 2, never a traceback.

The configs are files in tests/fixtures/bad_configs/, each starting with the error
it must produce (see the README there); they run through the real command.
"""

import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from hashwatch.app import cli
from hashwatch.config import ConfigError, ConfigLoader, load_config, read_yaml
from hashwatch.app.settings import HashwatchConfig
from hashwatch.web import parse_listen_address
from tests.support.paths import FIXTURES_DIR

BAD_CONFIGS = FIXTURES_DIR / "bad_configs"
# The demo writes its own configs (no --config.file); its flags are checked in tests/app/test_cli.py.
SUBCOMMANDS = ("cgminer", "ocean", "market", "profitability")


def files_for(tmp: Path) -> None:
    """What the bad configs point at, under $TMP (tests/fixtures/bad_configs/README.md)."""
    (tmp / "spool").mkdir()
    (tmp / "token-dir").mkdir()
    (tmp / "token-empty").write_bytes(b"\n")
    (tmp / "token-latin1").write_bytes(b"caf\xe9\n")
    (tmp / "token-two-lines").write_text("first\nsecond\n")
    (tmp / "not-a-dir").write_text("a file\n")


def instantiate(fixture: Path, tmp: Path) -> tuple[Path, str]:
    """The fixture with $TMP filled in, written under tmp, and the error text it expects."""
    data = fixture.read_bytes().replace(b"$TMP", str(tmp).encode())
    first_line = data.split(b"\n", 1)[0].decode()
    assert first_line.startswith("# expect: "), f"{fixture.name} must start with '# expect: <error>'"
    path = tmp / fixture.name
    path.write_bytes(data)
    return path, first_line.removeprefix("# expect: ")


def run_hashwatch(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, "-m", "hashwatch.app", *args], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hashwatch {' '.join(args)} was accepted: it started serving")


@pytest.mark.parametrize("fixture", sorted(BAD_CONFIGS.glob("*.yml")), ids=lambda path: path.stem)
def test_bad_config_is_one_error_naming_file_and_key_exit_2(fixture, tmp_path):
    files_for(tmp_path)
    path, expected = instantiate(fixture, tmp_path)
    done = run_hashwatch(
        "profitability", "--config.file", str(path), "--web.listen-address", "127.0.0.1:0", "--log.level", "error"
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert done.stderr.startswith(f"error: {path}: "), done.stderr
    assert expected in done.stderr
    assert len(done.stderr.splitlines()) <= 3, done.stderr  # one line, or a file line and a key line


@pytest.mark.parametrize(
    "address, message",
    [
        ("foo", "must be host:port or :port"),
        (":99999", "the port must be 0 to 65535, got '99999'"),
        ("[::1", "must be [IPv6 address]:port"),
        ("[::1]", "must be [IPv6 address]:port"),
        (":-1", "the port must be 0 to 65535"),
    ],
)
def test_bad_listen_address_is_a_usage_error_exit_2(address, message):
    done = run_hashwatch("market", "--web.listen-address", address, "--log.level", "error")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalid value for '--web.listen-address'" in done.stderr and message in done.stderr


@pytest.fixture
def never_serve(monkeypatch):
    """In-process runs must stop at the config: fail instead of serving forever."""

    def refuse(*args, **kwargs):
        raise AssertionError("the bad input was accepted")

    monkeypatch.setattr(cli, "_serve", refuse)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_refuses_bad_configs_and_addresses_alike(command, tmp_path, never_serve):
    files_for(tmp_path)
    for name in ("duplicate-key.yml", "not-utf8.yml", "default-port-true.yml"):
        path, expected = instantiate(BAD_CONFIGS / name, tmp_path)
        result = CliRunner().invoke(cli.main, [command, "--config.file", str(path)])
        assert result.exit_code == 2, (name, result.output, result.exception)
        assert f"error: {path}: " in result.output and expected in result.output
    result = CliRunner().invoke(cli.main, [command, "--web.listen-address", ":99999"])
    assert result.exit_code == 2 and "'--web.listen-address'" in result.output, result.output


def test_good_listen_addresses():
    assert parse_listen_address(":9891") == ("0.0.0.0", 9891)
    assert parse_listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen_address("[::1]:65535") == ("::1", 65535)


# --- the YAML loader -----------------------------------------------------------------------------


def load(text: str):
    return yaml.load(text, Loader=ConfigLoader)


def test_a_merge_key_may_still_be_overridden_and_distinct_keys_pass():
    assert load("base: &b {timeout_seconds: 3, workers: 2}\nfleet: {<<: *b, timeout_seconds: 5}\n")["fleet"] == {
        "timeout_seconds": 5, "workers": 2,
    }
    assert load("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\n'a': 2\n", "a: duplicate key: given twice, on lines 1 and 2"),  # the same string, quoted or not
        ("sites:\n  - {x: 1, x: 2}\n", "sites.0.x: duplicate key"),
        ("cgminer:\n  fleet:\n    file_sd: []\n  fleet: {}\n", "cgminer.fleet: duplicate key: given twice, on lines 2 and 4"),
    ],
)
def test_duplicate_keys_are_named_by_their_dotted_path(tmp_path, text, message):
    path = tmp_path / "hashwatch.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        read_yaml(path)
    assert str(error.value).startswith(f"{path}: {message}")


def test_nesting_limit_and_the_issues_100000_levels(tmp_path):
    path = tmp_path / "deep.yml"
    path.write_text("[" * 50 + "]" * 50)
    read_yaml(path)  # 50 levels: far deeper than any setting, still fine
    path.write_text("[" * 51 + "]" * 51)
    with pytest.raises(ConfigError, match="nested more than 50 levels deep"):
        read_yaml(path)
    path.write_text("cgminer: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yml: cgminer\.0\.0\.0\.0\.0\.\(\.\.\.\): nested more than 50"):
        load_config(HashwatchConfig, path)


def test_a_yaml_syntax_error_is_one_line(tmp_path):
    path = tmp_path / "hashwatch.yml"
    path.write_text("cgminer:\n  fleet: [\n")
    with pytest.raises(ConfigError) as error:
        read_yaml(path)
    assert str(error.value).startswith(f"{path}: not valid YAML: ") and "(line 3, column 1)" in str(error.value)
    assert "\n" not in str(error.value)


# --- types: taken as written -------------------------------------------------------------------


def test_numbers_are_not_converted_but_ints_are_fine_as_floats(tmp_path):
    path = tmp_path / "hashwatch.yml"
    path.write_text("cgminer:\n  default_port: 4029\n  timeout_seconds: 3\nprofitability:\n  interval_seconds: 30\n")
    config = load_config(HashwatchConfig, path)
    assert config.cgminer.default_port == 4029 and config.cgminer.timeout_seconds == 3.0
    for text, key in [
        ("cgminer:\n  fleet: {concurrency: 10.0}\n", "cgminer.fleet.concurrency: Input should be a valid integer, got a decimal"),
        ("market:\n  max_age_seconds: true\n", "market.max_age_seconds: Input should be a valid number, got a boolean"),
        ("ocean:\n  intervals: {hashrate: '60'}\n", "ocean.intervals.hashrate: Input should be a valid number, got the string '60'"),
        # YAML 1.1: without a dot, 1e3 is text, which pydantic used to turn into 1000.0 behind the reader's back.
        ("market:\n  max_age_seconds: 1e3\n", r"max_age_seconds: .*got the string '1e3': .*\(1\.0e3, not 1e3\)"),
        ("cgminer:\n  fleet: {workers: [2]}\n", "cgminer.fleet.workers: Input should be a valid integer, got a list"),
        ("market:\n  max_age_seconds: .inf\n", "market.max_age_seconds: Input should be a finite number"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=key):
            load_config(HashwatchConfig, path)


def test_a_bad_secret_is_named_by_kind_never_echoed(tmp_path):
    path = tmp_path / "hashwatch.yml"
    path.write_text(
        f"profitability:\n  ledger: {{url: 'http://i:8086', org: o, bucket: b, token: 31415926, spool_dir: {tmp_path}}}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(HashwatchConfig, path)
    assert "profitability.ledger.token" in str(error.value) and "31415926" not in str(error.value)


# --- ledger files, checked by the profitability command before it serves -------------------------


def test_ledger_check_files_creates_the_spool_and_reads_the_token(tmp_path):
    (tmp_path / "token").write_text("s3cret\n")
    path = tmp_path / "hashwatch.yml"
    path.write_text(
        "profitability:\n  ledger: {url: 'http://i:8086', org: o, bucket: b, "
        f"token_file: {tmp_path}/token, spool_dir: {tmp_path}/new/spool}}\n"
    )
    ledger = load_config(HashwatchConfig, path).profitability.ledger
    ledger.check_files()
    assert (tmp_path / "new" / "spool").is_dir() and ledger.read_token() == "s3cret"


def test_other_services_do_not_need_the_ledgers_files(tmp_path, never_serve):
    # One hashwatch.yml for every container; the token may be mounted only into the profitability one.
    path = tmp_path / "hashwatch.yml"
    path.write_text(
        "profitability:\n  ledger: {url: 'http://i:8086', org: o, bucket: b, "
        "token_file: /run/secrets/absent, spool_dir: /proc/absent}\n"
    )
    result = CliRunner().invoke(cli.main, ["market", "--config.file", str(path)])
    assert isinstance(result.exception, AssertionError) and "accepted" in str(result.exception)


def test_a_file_error_on_start_is_not_reported_as_a_listen_error(monkeypatch):
    def fail(main):
        main.close()
        raise NotADirectoryError(20, "Not a directory", "/var/lib/hashwatch/spool")

    monkeypatch.setattr("hashwatch.web.run", fail)
    with pytest.raises(click.ClickException) as error:
        cli._serve(None, "127.0.0.1:0")
    assert error.value.message == "/var/lib/hashwatch/spool: Not a directory"
