"""The ledger (hashwatch/ledger): line protocol, the on-disk spool, and writes read back from real databases.

InfluxDB 1.x (Debian's influxdb) is read back with InfluxQL; the v2 write API is
exercised through influxdb-client against VictoriaMetrics (Debian's
victoria-metrics), read back with its export API. Both servers start once per
session (tests/influx_servers.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest

from hashwatch.config import ConfigError, parse_config
from hashwatch.ledger import (
    Ledger,
    LedgerCollector,
    LedgerConfig,
    Point,
    Spool,
    SpoolFull,
    WriteOutcome,
    to_nanoseconds,
)
from tests.support.influx_servers import influxdb_v1, victoria_metrics  # noqa: F401 - session fixtures
from tests.support.processes import free_port
from tests.support.paths import REPO

T0 = 1_700_000_000.0  # a fixed, recent-enough time: VictoriaMetrics is started with a long retention


def v1_config(url: str, spool: Path, **extra) -> LedgerConfig:
    return LedgerConfig(api="v1", url=url, database="ledger", spool_dir=spool, **extra)


def v2_config(url: str, spool: Path, **extra) -> LedgerConfig:
    return LedgerConfig(
        api="v2", url=url, org="hashwatch", bucket="ledger", token="not-checked-by-vm", spool_dir=spool, **extra
    )


def dead_url() -> str:
    """A loopback port with nothing listening: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def spool_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".lp"))


# --- line protocol ---------------------------------------------------------------------------------


def test_line_protocol_types_and_order():
    point = Point(
        "fleet",
        tags={"site": "north", "model": "S19"},
        fields={"power_watts": 3250.5, "miners": 12, "curtailed": False, "pool": "ocean"},
        timestamp=T0,
    )
    # Tags sorted by key, fields in the given order, integers with i, nanosecond timestamp.
    assert point.to_line_protocol() == (
        'fleet,model=S19,site=north power_watts=3250.5,miners=12i,curtailed=false,pool="ocean" 1700000000000000000'
    )


def test_line_protocol_escaping():
    point = Point(
        "site economics,v2",
        tags={"site name": "north, barn=2", "a=b": "x"},
        fields={"note text": 'say "hi" \\ bye', "k,1=2": 1.0},
        timestamp=1_700_000_000_123_456_789,
    )
    assert point.to_line_protocol() == (
        r"site\ economics\,v2,a\=b=x,site\ name=north\,\ barn\=2 "
        r'note\ text="say \"hi\" \\ bye",k\,1\=2=1.0 1700000000123456789'
    )


def test_unknown_fields_are_left_out_never_zero():
    point = Point("fleet", fields={"a": None, "b": math.nan, "c": math.inf, "d": 2.0}, timestamp=T0)
    assert point.to_line_protocol() == "fleet d=2.0 1700000000000000000"
    empty = Point("fleet", fields={"a": None, "b": -math.inf}, timestamp=T0)
    with pytest.raises(ValueError, match="no known field"):
        empty.to_line_protocol()


def test_empty_or_missing_tag_values_are_left_out():
    point = Point("fleet", tags={"site": "", "pool": None, "rack": 0}, fields={"x": 1}, timestamp=T0)  # type: ignore[dict-item]
    assert point.to_line_protocol() == "fleet,rack=0 x=1i 1700000000000000000"


def test_timestamps():
    assert to_nanoseconds(1_700_000_000.123) == 1_700_000_000_123_000_000  # exact, not ...122999906
    assert to_nanoseconds(1_700_000_000_123_456_789) == 1_700_000_000_123_456_789
    with pytest.raises(ValueError, match="not nanoseconds"):
        Point("fleet", fields={"x": 1}, timestamp=1_700_000_000)  # int seconds would land in 1970
    with pytest.raises(TypeError):
        Point("fleet", fields={"x": 1}, timestamp=True)
    before = time.time_ns()
    assert before <= Point("fleet", fields={"x": 1}).timestamp_ns <= time.time_ns()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"measurement": ""}, "empty measurement"),
        ({"tags": {"site": "a\nb"}}, "newline"),
        ({"tags": {"site": "trailing\\"}}, "backslash"),
        ({"fields": {"x": 2**63}}, "64 bits"),
        ({"fields": {"x": object()}}, "unsupported type"),
        ({"fields": {"": 1.0}}, "empty field key"),
    ],
)
def test_invalid_points_fail_where_they_are_made(kwargs, error):
    args = {"measurement": "fleet", "fields": {"x": 1.0}, "timestamp": T0, **kwargs}
    with pytest.raises((ValueError, TypeError), match=error):
        Point(args.pop("measurement"), **args)


# --- configuration ---------------------------------------------------------------------------------


def test_config_checks_each_api(tmp_path):
    spool = str(tmp_path)
    assert parse_config(LedgerConfig, {"url": "http://i:8086", "org": "o", "bucket": "b", "token": "t",
                                       "spool_dir": spool}).interval_seconds == 300
    config = parse_config(LedgerConfig, {"api": "v1", "url": "http://i:8086", "database": "d", "spool_dir": spool})
    assert (config.batch_size, config.spool_max_bytes) == (5000, 64 * 1024 * 1024)
    bad = [
        ({"url": "http://i", "org": "o", "token": "t", "spool_dir": spool}, "needs bucket"),
        ({"url": "http://i", "org": "o", "bucket": "b", "spool_dir": spool}, "exactly one of token"),
        ({"url": "http://i", "org": "o", "bucket": "b", "token": "t", "database": "d", "spool_dir": spool},
         "does not use database"),
        ({"api": "v1", "url": "http://i", "database": "d", "token": "t", "spool_dir": spool}, "does not use token"),
        ({"api": "v1", "url": "http://i", "database": "d", "username": "u", "spool_dir": spool}, "go together"),
        ({"api": "v1", "url": "i:8086", "database": "d", "spool_dir": spool}, "http://"),
        ({"api": "v1", "url": "http://i", "database": "d", "spool_dir": spool, "batchsize": 3}, "batchsize: unknown key"),
    ]
    for data, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_config(LedgerConfig, data)


def test_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    config = LedgerConfig(url="http://i", org="o", bucket="b", token_file=token_file, spool_dir=tmp_path / "spool")
    assert config.read_token() == "s3cret"
    assert "s3cret" not in repr(LedgerConfig(url="http://i", org="o", bucket="b", token="s3cret", spool_dir=tmp_path))
    token_file.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        config.read_token()


def test_errors_name_the_key_the_recording_service_gives(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    config = LedgerConfig(url="http://i", org="o", bucket="b", token_file=tmp_path / "missing",
                          spool_dir=tmp_path / "file")
    with pytest.raises(ConfigError, match=r"^ledger\.token_file: cannot read"):
        config.check_files()
    named = config.at("webhooks.ledger")
    assert (named.key, config.key) == ("webhooks.ledger", "ledger")  # a copy: the original keeps its name
    with pytest.raises(ConfigError, match=r"^webhooks\.ledger\.token_file: cannot read"):
        named.check_files()
    with pytest.raises(ConfigError, match=r"^webhooks\.ledger\.spool_dir: .* is not a directory"):
        named.model_copy(update={"token_file": None, "token": "t"}).check_files()


# --- layering: the ledger is kit, fed by services, importing none ---------------------------------

SERVICES = ("exporters", "profitability", "simulator", "hashwatch.app")


def test_the_ledger_imports_no_service():
    import ast

    package = REPO / "hashwatch" / "ledger"
    imported = set()
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)
    assert {"hashwatch.config"} <= imported  # the check sees absolute imports at all
    assert sorted(name for name in imported if name.split(".")[0] in SERVICES[:3] or name.startswith(SERVICES[3])) == []
    # And at run time: importing the whole package loads no service module.
    code = ("import sys, hashwatch.ledger; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVICES[:3]!r} or m.startswith({SERVICES[3]!r})))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=package.parent.parent, capture_output=True, text=True,
                            timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"


# --- the spool -------------------------------------------------------------------------------------


def test_spool_order_and_restart_pickup(tmp_path):
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append([(b"a x=1i 1\n", 1)])
    spool.append([(b"b x=1i 1\nb x=2i 2\n", 2), (b"c x=1i 1\n", 1)])
    assert [entry.points for entry in spool.pending()] == [1, 2, 1]
    spool.close()
    # Leftovers of a crash mid-append (a temporary file) are removed; unknown files are left alone.
    (tmp_path / f".{99:020d}.tmp").write_bytes(b"half a batch")
    (tmp_path / "notes.txt").write_text("operator notes")
    reopened = Spool(tmp_path, max_bytes=10_000)
    assert [reopened.read(entry) for entry in reopened.pending()] == [b"a x=1i 1\n", b"b x=1i 1\nb x=2i 2\n",
                                                                     b"c x=1i 1\n"]
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
    assert (tmp_path / "notes.txt").exists()
    (new,) = reopened.append([(b"d x=1i 1\n", 1)])
    assert new.seq == 4  # continues after the last batch, so order survives restarts
    reopened.remove(reopened.pending()[:2])
    assert [entry.seq for entry in reopened.pending()] == [3, 4]
    assert reopened.pending_bytes == len(b"c x=1i 1\n") + len(b"d x=1i 1\n")
    reopened.close()


def test_spool_is_bounded_and_refuses_rather_than_dropping(tmp_path):
    spool = Spool(tmp_path, max_bytes=100)
    spool.append([(b"x" * 60, 1)])
    with pytest.raises(SpoolFull):
        spool.append([(b"y" * 30, 1), (b"z" * 30, 1)])  # all or none: 60 + 60 > 100
    assert [spool.read(entry) for entry in spool.pending()] == [b"x" * 60]  # old data untouched
    spool.append([(b"w" * 40, 1)])  # exactly at the bound
    assert spool.used_bytes == 100
    spool.close()


def test_spool_append_is_atomic_on_disk_errors(tmp_path, monkeypatch):
    spool = Spool(tmp_path, max_bytes=10_000)
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        spool.append([(b"a x=1i 1\n", 1), (b"b x=1i 1\n", 1)])
    monkeypatch.setattr(os, "replace", real_replace)
    # Neither the first (renamed) batch nor the second's temporary file is left: all or none.
    assert spool.pending() == [] and sorted(os.listdir(tmp_path)) == [".lock", "rejected"]
    spool.close()


def test_one_ledger_per_spool(tmp_path):
    spool = Spool(tmp_path, max_bytes=1000)
    with pytest.raises(RuntimeError, match="in use"):
        Spool(tmp_path, max_bytes=1000)
    spool.close()
    Spool(tmp_path, max_bytes=1000).close()  # free again once closed


class FakeWriter:
    """Scripted outcomes, for the flush logic without a server."""

    def __init__(self, outcomes: list[WriteOutcome] | None = None):
        self.outcomes = list(outcomes or [])
        self.bodies: list[bytes] = []

    async def write(self, body: bytes) -> WriteOutcome:
        self.bodies.append(body)
        return self.outcomes.pop(0) if self.outcomes else WriteOutcome(True, status=204)

    async def close(self) -> None:
        pass


def points(n: int, measurement: str = "fleet", start: float = T0) -> list[Point]:
    return [Point(measurement, tags={"site": "s"}, fields={"i": i}, timestamp=start + i) for i in range(n)]


def test_record_batches_and_refuses_when_full(tmp_path):
    config = v1_config(dead_url(), tmp_path, batch_size=5, spool_max_bytes=700)  # 12 points take 458 bytes
    ledger = Ledger(config, writer=FakeWriter())
    assert ledger.record(points(12)) == 12
    assert [entry.points for entry in ledger.spool.pending()] == [5, 5, 2]
    used = ledger.spool.used_bytes
    assert ledger.record(points(12, start=T0 + 100)) == 0  # would pass the bound: refused whole
    assert ledger.record([Point("fleet", fields={"x": None}, timestamp=T0)]) == 0  # nothing known: skipped
    stats = ledger.stats()
    assert ledger.spool.used_bytes == used
    assert stats.points_refused == {"spool_full": 12, "spool_error": 0}
    assert (stats.points_recorded, stats.points_pending, stats.batches_pending) == (12, 12, 3)
    assert stats.points_skipped_empty == 1
    asyncio.run(ledger.stop(flush_timeout=0))


def test_flush_sends_oldest_first_in_requests_of_batch_size(tmp_path):
    writer = FakeWriter()
    ledger = Ledger(v1_config(dead_url(), tmp_path, batch_size=5), writer=writer)
    for start in (T0, T0 + 10, T0 + 20):
        ledger.record(points(3, start=start))  # three batches of 3 points
    assert asyncio.run(ledger.flush()) is True
    # 3 + 3 > 5: every request carries one 3-point batch, oldest first.
    assert [body.count(b"\n") for body in writer.bodies] == [3, 3, 3]
    assert [int(body.split()[-1]) for body in writer.bodies] == sorted(int(b.split()[-1]) for b in writer.bodies)
    assert spool_files(tmp_path) == []
    asyncio.run(ledger.stop(flush_timeout=0))


def test_background_loop_backs_off_then_delivers(tmp_path):
    failures = [WriteOutcome(False, "server", "HTTP 503")] * 3
    writer = FakeWriter(failures)
    config = v1_config(dead_url(), tmp_path, retry_initial_seconds=0.05, retry_max_seconds=0.2)

    async def scenario():
        ledger = Ledger(config, writer=writer)
        ledger.start()
        assert ledger.record(points(4)) == 4
        deadline = time.monotonic() + 5
        while ledger.stats().points_written < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(scenario())
    assert stats.points_written == 4 and stats.batches_pending == 0
    assert stats.write_failures["server"] == 3 and len(writer.bodies) == 4  # 3 failures, then one success
    assert stats.last_success_unixtime is not None


def test_snapshot_loop_records_every_interval_and_survives_a_failing_snapshot(tmp_path):
    writer = FakeWriter()
    calls = []

    async def snapshot():
        calls.append(time.time())
        if len(calls) == 2:
            raise RuntimeError("a source is broken this time")
        return [Point("snap", fields={"n": len(calls)})]

    async def scenario():
        ledger = Ledger(v1_config(dead_url(), tmp_path, interval_seconds=0.1), writer=writer)
        ledger.start(snapshot)
        deadline = time.monotonic() + 5
        while ledger.stats().points_written < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await ledger.stop()
        return ledger.stats()

    stats = asyncio.run(scenario())
    assert stats.snapshot_failures == 1 and stats.points_written >= 3
    assert b"snap n=1i" in b"".join(writer.bodies) and b"snap n=2i" not in b"".join(writer.bodies)


# --- InfluxDB 1.x ----------------------------------------------------------------------------------


def test_v1_write_and_read_back(influxdb_v1, tmp_path):  # noqa: F811
    influxdb_v1.create_database("ledger")
    snapshot = [
        Point("site economics", tags={"site": "north, barn=2", "currency": "USD"},
              fields={"revenue": 123.25, "cost": 45.5, "miners": 12, "curtailed": True, "note": 'a "b" \\c',
                      "payback_days": math.inf},
              timestamp=1_700_000_000_123_456_789),
        Point("site economics", tags={"site": "south", "currency": "USD"},
              fields={"revenue": 7.0, "cost": None, "miners": 3, "curtailed": False, "note": "ok"},
              timestamp=T0 + 300),
        Point("site economics", tags={"site": "south", "currency": "USD"},
              fields={"revenue": 8.5, "miners": 3}, timestamp=T0 + 600),
    ]

    async def scenario():
        ledger = Ledger(v1_config(influxdb_v1.url, tmp_path, batch_size=2))
        assert ledger.record(snapshot) == 3
        assert ledger.stats().batches_pending == 2  # 2 + 1 points
        assert await ledger.flush() is True
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(scenario())
    assert (stats.points_written, stats.batches_written, stats.batches_pending, stats.bytes_pending) == (3, 2, 0, 0)
    assert sum(stats.write_failures.values()) == 0
    rows = influxdb_v1.rows("site economics", "ledger")
    assert rows == [
        {"time": 1_700_000_000_123_456_789,
         "cost": 45.5, "curtailed": True, "currency": "USD", "miners": 12, "note": 'a "b" \\c',
         "revenue": 123.25, "site": "north, barn=2"},
        {"time": 1_700_000_300_000_000_000, "cost": None, "curtailed": False, "currency": "USD", "miners": 3,
         "note": "ok", "revenue": 7.0, "site": "south"},
        {"time": 1_700_000_600_000_000_000, "cost": None, "curtailed": None, "currency": "USD", "miners": 3,
         "note": None, "revenue": 8.5, "site": "south"},
    ]
    # The infinite payback was left out, not written as 0 or as a column at all.
    assert influxdb_v1.query('SHOW FIELD KEYS FROM "site economics"', "ledger")[0]["values"] == [
        ["cost", "float"], ["curtailed", "boolean"], ["miners", "integer"], ["note", "string"], ["revenue", "float"]
    ]
    assert spool_files(tmp_path) == []


def test_v1_outage_then_recovery_exactly_once(influxdb_v1, tmp_path):  # noqa: F811
    influxdb_v1.create_database("ledger")
    first, second = points(3, "outage", start=T0), points(2, "outage", start=T0 + 1000)

    async def while_down():
        ledger = Ledger(v1_config(dead_url(), tmp_path, batch_size=2))
        ledger.record(first)
        ledger.record(second)
        assert await ledger.flush() is False
        stats = ledger.stats()
        await ledger.stop(flush_timeout=0)  # the process goes away with data still spooled
        return stats

    stats = asyncio.run(while_down())
    assert stats.write_failures["connect"] == 1 and stats.points_written == 0
    assert (stats.batches_pending, stats.points_pending) == (3, 5)
    assert len(spool_files(tmp_path)) == 3

    async def after_restart():
        # A new ledger on the same spool, now pointed at a server that is up; the background loop delivers.
        ledger = Ledger(v1_config(influxdb_v1.url, tmp_path, batch_size=2))
        assert ledger.stats().batches_pending == 3
        ledger.start()
        deadline = time.monotonic() + 10
        while ledger.stats().batches_pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(after_restart())
    assert (stats.points_written, stats.batches_pending, stats.bytes_pending) == (5, 0, 0)
    assert spool_files(tmp_path) == []
    rows = influxdb_v1.rows("outage", "ledger")
    assert [(row["time"], row["i"]) for row in rows] == [
        (to_nanoseconds(p.timestamp), p.fields["i"]) for p in first + second
    ]


def test_v1_missing_database_is_retried_not_dropped(influxdb_v1, tmp_path):  # noqa: F811
    config = LedgerConfig(api="v1", url=influxdb_v1.url, database="created_later", spool_dir=tmp_path)

    async def scenario():
        ledger = Ledger(config)
        ledger.record(points(2, "late"))
        assert await ledger.flush() is False
        assert ledger.stats().write_failures["not_found"] == 1 and len(spool_files(tmp_path)) == 1
        await asyncio.to_thread(influxdb_v1.create_database, "created_later")
        assert await ledger.flush() is True
        await ledger.stop()

    asyncio.run(scenario())
    assert [row["i"] for row in influxdb_v1.rows("late", "created_later")] == [0, 1]


def test_v1_rejected_batch_is_set_aside_and_the_rest_flows(influxdb_v1, tmp_path):  # noqa: F811
    influxdb_v1.create_database("ledger")

    async def scenario():
        ledger = Ledger(v1_config(influxdb_v1.url, tmp_path))
        ledger.record([Point("conflict", fields={"value": 1}, timestamp=T0)])  # value is an integer field now
        assert await ledger.flush() is True
        ledger.record([Point("conflict", fields={"value": 2.5}, timestamp=T0 + 1)])  # float: refused by 1.x
        ledger.record([Point("conflict", fields={"value": 3}, timestamp=T0 + 2)])
        assert await ledger.flush() is True  # the bad batch does not block the one behind it
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(scenario())
    assert stats.points_rejected == 1 and stats.batches_rejected_on_disk == 1
    assert stats.write_failures["rejected"] >= 1 and stats.batches_pending == 0
    assert stats.points_written == 2
    assert [(row["time"], row["value"]) for row in influxdb_v1.rows("conflict", "ledger")] == [
        (1_700_000_000_000_000_000, 1), (1_700_000_002_000_000_000, 3)
    ]
    (kept,) = (tmp_path / "rejected").iterdir()
    assert b"value=2.5" in kept.read_bytes()


# --- the v2 write API (influxdb-client), VictoriaMetrics --------------------------------------------


def vm_samples(series: list[dict]) -> dict[tuple[str, tuple], list[tuple[int, float]]]:
    """{(name, sorted labels): [(timestamp ms, value)]} from VictoriaMetrics' export."""
    result = {}
    for item in series:
        labels = dict(item["metric"])
        name = labels.pop("__name__")
        result[(name, tuple(sorted(labels.items())))] = list(zip(item["timestamps"], item["values"]))
    return result


def test_v2_write_and_read_back(victoria_metrics, tmp_path):  # noqa: F811
    snapshot = [
        Point("ledger_v2", tags={"site": "north barn", "pool": "ocean"},
              fields={"hashrate_ths": 812.5, "miners": 7, "curtailed": True, "unknown": None},
              timestamp=T0 + 0.25),
        Point("ledger_v2", tags={"site": "south", "pool": "ocean"},
              fields={"hashrate_ths": 100.0, "miners": 1, "curtailed": False}, timestamp=T0 + 300.5),
    ]

    async def scenario():
        ledger = Ledger(v2_config(victoria_metrics.url, tmp_path))
        assert ledger.record(snapshot) == 2
        assert await ledger.flush() is True
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(scenario())
    assert stats.points_written == 2 and stats.batches_pending == 0 and sum(stats.write_failures.values()) == 0
    series = victoria_metrics.wait_export('{__name__=~"ledger_v2_.*"}', lambda s: len(s) == 6)
    north = (("pool", "ocean"), ("site", "north barn"))
    south = (("pool", "ocean"), ("site", "south"))
    assert vm_samples(series) == {  # VictoriaMetrics names series measurement_field, tags become labels
        ("ledger_v2_hashrate_ths", north): [(1_700_000_000_250, 812.5)],
        ("ledger_v2_miners", north): [(1_700_000_000_250, 7)],
        ("ledger_v2_curtailed", north): [(1_700_000_000_250, 1)],
        ("ledger_v2_hashrate_ths", south): [(1_700_000_300_500, 100.0)],
        ("ledger_v2_miners", south): [(1_700_000_300_500, 1)],
        ("ledger_v2_curtailed", south): [(1_700_000_300_500, 0)],
    }
    assert spool_files(tmp_path) == []


def test_v2_outage_then_recovery_exactly_once(victoria_metrics, tmp_path):  # noqa: F811
    snapshots = [points(3, "ledger_v2_outage", start=T0 + 10 * k) for k in range(3)]

    async def while_down():
        ledger = Ledger(v2_config(dead_url(), tmp_path, batch_size=3))
        for snapshot in snapshots:
            ledger.record(snapshot)
        assert await ledger.flush() is False
        assert await ledger.flush() is False  # still down: the same batches stay, in order
        stats = ledger.stats()
        await ledger.stop(flush_timeout=0)
        return stats

    stats = asyncio.run(while_down())
    assert stats.write_failures["connect"] == 2 and (stats.batches_pending, stats.points_pending) == (3, 9)

    async def back_up():
        ledger = Ledger(v2_config(victoria_metrics.url, tmp_path, batch_size=3))
        assert await ledger.flush() is True
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(back_up())
    assert (stats.points_written, stats.batches_written, stats.batches_pending) == (9, 3, 0)
    series = victoria_metrics.wait_export("ledger_v2_outage_i", lambda s: len(s) == 1 and len(s[0]["values"]) == 9)
    (samples,) = vm_samples(series).values()
    expected = [(int((T0 + 10 * k + i) * 1000), i) for k in range(3) for i in range(3)]
    assert samples == expected  # each point exactly once
    assert spool_files(tmp_path) == []


def test_a_hung_server_never_blocks_the_event_loop(tmp_path):
    # Accepts connections (the kernel's backlog) but never answers: the write can only time out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def scenario():
            ledger = Ledger(v2_config(url, tmp_path, timeout_seconds=1.0))
            ledger.record(points(2, "hung"))
            flushing = asyncio.create_task(ledger.flush())
            started = time.monotonic()
            for _ in range(10):  # the loop keeps ticking while the write hangs in its thread
                await asyncio.sleep(0.02)
            ticks = time.monotonic() - started
            recorded = time.monotonic()
            assert ledger.record(points(2, "hung", start=T0 + 10)) == 2  # recording does not wait either
            record_seconds = time.monotonic() - recorded
            assert not flushing.done()
            assert await flushing is False
            stats = ledger.stats()
            await ledger.stop(flush_timeout=0)
            return ticks, record_seconds, stats

        ticks, record_seconds, stats = asyncio.run(scenario())
    assert ticks < 0.5 and record_seconds < 0.5
    assert stats.write_failures["timeout"] == 1 and stats.batches_pending == 2


def test_collector_exposes_the_stats(tmp_path):
    ledger = Ledger(v1_config(dead_url(), tmp_path, spool_max_bytes=200), writer=FakeWriter())
    ledger.record(points(2))
    ledger.record(points(20))  # refused: over the bound
    asyncio.run(ledger.flush())
    ledger.record(points(1, start=T0 + 50))
    registry = CollectorRegistry()
    registry.register(LedgerCollector(ledger, "example_ledger"))
    text = generate_latest(registry).decode()
    for line in (
        "example_ledger_points_written_total 2.0",
        "example_ledger_pending_points 1.0",
        "example_ledger_pending_batches 1.0",
        'example_ledger_points_refused_total{reason="spool_full"} 20.0',
        'example_ledger_write_failures_total{reason="connect"} 0.0',
        "example_ledger_spool_max_bytes 200.0",
    ):
        assert line in text.splitlines(), line
    assert "example_ledger_last_success_timestamp_seconds " in text
    asyncio.run(ledger.stop(flush_timeout=0))


# --- kill -9 between the server's acknowledgement and the spool's deletion ------------------------


# A ledger process that records three points (batches of 2 + 1) and flushes; the hook that runs
# after the server acknowledged a batch and before the batch is deleted from the spool kills it
# with SIGKILL, so the first batch is stored on the server and still in the spool.
KILLED_WRITER = """
import asyncio, json, os, signal, sys
from hashwatch.config import parse_config
from hashwatch import ledger
from hashwatch.ledger import flush

def kill_9(group):
    os.kill(os.getpid(), signal.SIGKILL)

flush._after_acknowledgement = kill_9
config = parse_config(ledger.LedgerConfig, json.loads(sys.argv[1]))
points = [ledger.Point(**point) for point in json.loads(sys.argv[2])]

async def main():
    writer = ledger.Ledger(config)
    assert writer.record(points) == len(points)
    await writer.flush()

asyncio.run(main())
sys.exit("not killed: the hook never ran")
"""


def vm_count_over_time(server, selector: str, at: float) -> list[float]:
    response = requests.post(f"{server.url}/api/v1/query",
                             data={"query": f"count_over_time({selector}[1h])", "time": at}, timeout=10)
    response.raise_for_status()
    return [float(item["value"][1]) for item in response.json()["data"]["result"]]


@pytest.mark.parametrize("backend", ["influxdb_v1", "victoria_metrics"])
def test_kill_9_after_acknowledgement_resends_and_each_point_is_stored_once(backend, request, tmp_path):
    server = request.getfixturevalue(backend)
    measurement = f"ledger_crash_{backend}"
    start = T0 + 5000
    sent = [{"measurement": measurement, "tags": {"site": "s"}, "fields": {"i": i}, "timestamp": start + i}
            for i in range(3)]
    expected = [(to_nanoseconds(start + i), i) for i in range(3)]
    if backend == "influxdb_v1":
        server.create_database("ledger")
        config = {"api": "v1", "url": server.url, "database": "ledger"}

        def stored() -> list[tuple[int, int]]:
            return [(row["time"], row["i"]) for row in server.rows(measurement, "ledger")]
    else:
        config = {"api": "v2", "url": server.url, "org": "hashwatch", "bucket": "ledger", "token": "not-checked"}

        def stored() -> list[tuple[int, int]]:
            # The raw samples (timestamps in ms): a re-sent batch without deduplication shows up twice here.
            series = server.export(f"{measurement}_i")
            return [(ms * 1_000_000, int(value)) for item in series
                    for ms, value in zip(item["timestamps"], item["values"])]
    config |= {"spool_dir": str(tmp_path), "batch_size": 2}

    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, json.dumps(config), json.dumps(sent)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The server has the first batch; the spool still has it too (and the second, never sent).
    assert stored() == expected[:2]
    assert len(spool_files(tmp_path)) == 2

    async def restart():
        # The same spool (its lock died with the process): the first batch is sent again.
        ledger = Ledger(parse_config(LedgerConfig, config))
        assert ledger.stats().batches_pending == 2
        assert await ledger.flush() is True
        stats = ledger.stats()
        await ledger.stop()
        return stats

    stats = asyncio.run(restart())
    assert (stats.points_written, stats.batches_written, stats.batches_pending) == (3, 2, 0)
    assert spool_files(tmp_path) == []
    assert stored() == expected  # each point exactly once, the re-sent ones included
    if backend == "victoria_metrics":  # and what a dashboard's query counts
        assert vm_count_over_time(server, f"{measurement}_i", start + 60) == [3.0]
