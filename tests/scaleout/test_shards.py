"""Sharded scraping into a central VictoriaMetrics, rules evaluated centrally by vmalert (prometheus/scale-out/).

Everything is real and on loopback (127.90.x.x): 24 simulated miners on two sites, one
CGMiner exporter serving /probe, the two Prometheus shards in agent mode started from the
committed prometheus/scale-out/shard-*.yml, each remote_writing to one VictoriaMetrics,
vmalert started from prometheus/scale-out/vmalert.flags with the committed generated rules,
and a third Prometheus, from the committed prometheus/prometheus.yml, scraping the whole
fleet alone with the same recording rules: the single-machine reference. Only addresses,
file_sd paths, rule paths and intervals (1 s) are rewritten.

The checks: the shards partition the targets; VictoriaMetrics sees every miner once, with
the reference's label sets and at the scrape rate; the centrally recorded fleet and site
totals equal the reference's; and with one shard stopped the same checks fail.
"""

from __future__ import annotations

import json
import subprocess
import time
import warnings

import pytest
import yaml

from exporters.cgminer.config import CgminerConfig
from exporters.cgminer.server import Exporter
from simulator import FleetThread, SimulatedFleet
from tests.support.paths import REPO
from tests.support.promtool import promtool_path
from tests.support.scaleout import (
    AddressMap,
    CentralVictoriaMetrics,
    ScaleoutPrometheus,
    VmAlert,
    free_port_on,
    hashmod,
    local_prometheus_config,
    read_flags,
    vmalert_argv,
    vmalert_rule_copies,
)
from tests.support.servers import AppThread
from tests.support.sinks import HttpSink

pytestmark = pytest.mark.timeout(120)

SCALE_OUT = REPO / "prometheus" / "scale-out"
SHARDS = (SCALE_OUT / "shard-0.yml", SCALE_OUT / "shard-1.yml")
RULES = (REPO / "prometheus" / "rules" / "hashwatch-recording.yml", REPO / "prometheus" / "rules" / "hashwatch-alerts.yml")
SHARD_RULES = SCALE_OUT / "rules" / "hashwatch-shards.yml"
SILENT_WINDOW = "3s"  # PrometheusShardSilent's 2m window, shortened for 1 s scrapes

FLEET_SIZE = 24
SITES = ("north", "south")  # the first half of the fleet is north
INTERVAL = 1.0  # s: scrapes, rule evaluations, remote_write batches
WINDOW = 15.0  # s: the window the gap and total checks look at
SETTLE = 3.0  # s: queries look this far back, past samples still in flight
DISCARD = "127.90.255.254:9"  # services the test does not run: nothing listens there
HOSTS = {"vm": "127.90.1.1", "shard-0": "127.90.1.2", "shard-1": "127.90.1.3", "reference": "127.90.1.4", "vmalert": "127.90.1.5"}

# Totals recorded by the generated rules that must not depend on where they are evaluated.
TOTALS = (
    "fleet:miner_hashrate_hashes_per_second:sum",
    "fleet:miner_expected_hashrate_hashes_per_second:sum",
    "fleet:miner_power_watts:sum",
    "fleet:miner_up:count",
    "fleet:miner_up:sum",
    "site:miner_hashrate_hashes_per_second:sum",
    "site:miner_power_watts:sum",
    "site:miner_up:count",
    "model:miner_info:count",
)
# Every probe draws new hashrate noise (uniform +/- 2 % a miner, simulator/profiles.py) and the
# reference and the shards probe separately: two means of 15 draws differ by 0.42 % (one standard
# deviation) for one miner, about 0.15 % for a site of 12 unequal miners. Power and counts are exact.
TOLERANCE = 0.008


def committed(path):
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing")
    return yaml.safe_load(path.read_text())


# ---------------------------------------------------------------- config checks (no servers)


@pytest.mark.parametrize("path", SHARDS, ids=lambda p: p.name)
def test_shard_config_is_valid_for_an_agent(path, tmp_path):
    """promtool accepts the shard as an agent config (no rules, no alerting), file paths made local."""
    (tmp_path / "miners").mkdir()
    (tmp_path / "miners" / "site.json").write_text('[{"targets": ["127.90.9.1:4028"]}]')
    config = yaml.safe_load(path.read_text())
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(tmp_path / "miners" / "*.json")]
    local = tmp_path / path.name
    local.write_text(yaml.safe_dump(config))
    done = subprocess.run([promtool_path(), "check", "config", "--agent", str(local)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rule_files" not in config and "alerting" not in config, "rules are evaluated centrally (vmalert.flags)"
    assert not config.get("global", {}).get("external_labels"), "series must be labelled as by one Prometheus"
    (writer,) = config["remote_write"]
    assert writer["url"] == "http://victoriametrics:8428/api/v1/write"


def test_shards_scrape_the_same_jobs_as_one_prometheus():
    single = {job["job_name"]: job for job in committed(REPO / "prometheus" / "prometheus.yml")["scrape_configs"]}
    shard0, shard1 = ({job["job_name"]: job for job in committed(p)["scrape_configs"]} for p in SHARDS)
    assert set(single) <= set(shard0), f"shard 0 lacks jobs {sorted(set(single) - set(shard0))}"
    assert set(shard1) == {"miners", "prometheus-shard"}, "shard 1 scrapes miners and itself: the rest would be scraped twice"
    for shard, jobs in enumerate((shard0, shard1)):
        (own,) = jobs["prometheus-shard"]["static_configs"]
        assert own == {"targets": [f"prometheus-shard-{shard}:9090"], "labels": {"shard": str(shard)}}, \
            "each shard scrapes itself only, so its own up{shard} stops when it dies (PrometheusShardSilent)"
    for shard, job in ((0, shard0["miners"]), (1, shard1["miners"])):
        hashing, keep, *rest = job["relabel_configs"]
        assert hashing == {"source_labels": ["__address__"], "modulus": 2, "target_label": "__tmp_shard", "action": "hashmod"}
        assert keep == {"source_labels": ["__tmp_shard"], "regex": str(shard), "action": "keep"}
        assert rest == single["miners"]["relabel_configs"], "after the split, the same /probe relabelling"
        assert {k: v for k, v in job.items() if k != "relabel_configs"} == {
            k: v for k, v in single["miners"].items() if k != "relabel_configs"
        }


def test_hashmod_balances_large_fleets():
    """The split is even enough to be worth it: shard sizes of 6,000 and 50,000 /24-style addresses."""
    for count in (6_000, 50_000):
        sizes = [0, 0]
        for index in range(count):
            sizes[hashmod(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}:4028", 2)] += 1
        print(f"\nhashmod over {count} miners: shard sizes {sizes}")
        assert abs(sizes[0] - sizes[1]) < 0.03 * count, sizes


def test_rewriting_refuses_addresses_it_does_not_know():
    addresses = AddressMap({"victoriametrics:8428": "127.90.1.1:1"}, "shard-0.yml")
    with pytest.raises(ValueError, match="job miners relabelling uses 'hashwatch-cgminer:9891'"):
        local_prometheus_config(committed(SHARDS[0]), addresses=addresses, file_sd=[], interval="1s")
    with pytest.raises(ValueError, match="-rule"):
        vmalert_argv(["-datasource.url=http://victoriametrics:8428"], addresses=addresses, rules=[], interval="1s", listen="x:1")


# ---------------------------------------------------------------- the topology on loopback


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    fleet = SimulatedFleet.build(FLEET_SIZE, first_address="127.90.0.1", port=0, seed=16)
    thread = FleetThread(fleet).start()
    groups = []
    for half, site in enumerate(SITES):
        members = fleet.miners[half * FLEET_SIZE // 2 : (half + 1) * FLEET_SIZE // 2]
        part = SimulatedFleet(members, port=fleet.port)
        groups += part.file_sd({"site": site})
    file_sd = tmp_path_factory.mktemp("scaleout_sd") / "miners.json"
    file_sd.write_text(json.dumps(groups))
    yield {"fleet": fleet, "file_sd": file_sd, "targets": set(fleet.targets())}
    thread.stop()


@pytest.fixture(scope="module")
def exporter(fleet):
    config = CgminerConfig(
        timeout_seconds=3, connect_timeout_seconds=1, allowed_targets=["127.90.0.0/24"], allowed_ports=[fleet["fleet"].port]
    )
    server = AppThread(lambda: Exporter(config).app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    server = CentralVictoriaMetrics(tmp_path_factory.mktemp("victoria_metrics"), HOSTS["vm"])
    yield server
    server.stop()


def _addresses(source: str, exporter, central) -> AddressMap:
    exporter_address = exporter.url.removeprefix("http://")
    table = {
        "hashwatch-cgminer:9891": exporter_address,
        "victoriametrics:8428": central.url.removeprefix("http://"),
    }
    for unused in ("hashwatch-ocean:9892", "hashwatch-market:9893", "hashwatch-profitability:9894", "hashwatch-webhook:9895",
                   "alertmanager:9093", "alertmanager-0:9093", "alertmanager-1:9093", "prometheus-shard-0:9090",
                   "prometheus-shard-1:9090", "vmalert:8880"):
        table[unused] = DISCARD
    return AddressMap(table, source)


@pytest.fixture(scope="module")
def shards(fleet, exporter, central, tmp_path_factory):
    started = []
    try:
        for index, path in enumerate(SHARDS):
            config = local_prometheus_config(
                committed(path), addresses=_addresses(path.name, exporter, central), file_sd=[fleet["file_sd"]], interval="1s"
            )
            workdir = tmp_path_factory.mktemp(f"shard{index}")
            started.append(ScaleoutPrometheus(workdir, config, HOSTS[f"shard-{index}"], agent=True, name=f"shard-{index}"))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def reference(fleet, exporter, central, tmp_path_factory):
    """One Prometheus over the whole fleet, from prometheus/prometheus.yml, with the recording rules only."""
    config = local_prometheus_config(
        committed(REPO / "prometheus" / "prometheus.yml"),
        addresses=_addresses("prometheus.yml", exporter, central),
        file_sd=[fleet["file_sd"]],
        interval="1s",
        rule_files=[RULES[0]],
    )
    config.pop("alerting")
    server = ScaleoutPrometheus(tmp_path_factory.mktemp("reference"), config, HOSTS["reference"], agent=False, name="reference")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notifications():
    sink = HttpSink("alertmanager sink").start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def vmalert(central, notifications, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vmalert")
    silent = workdir / "shards" / SHARD_RULES.name
    silent.parent.mkdir()
    silent.write_text(SHARD_RULES.read_text().replace("[2m]", f"[{SILENT_WINDOW}]"))
    rules, notes = vmalert_rule_copies([*RULES, silent], workdir)
    for note in notes:
        warnings.warn(f"vmalert rules: {note}")
    port = free_port_on(HOSTS["vmalert"])
    table = {"victoriametrics:8428": central.url.removeprefix("http://")}
    for manager in ("alertmanager-0:9093", "alertmanager-1:9093", "alertmanager:9093"):
        table[manager] = notifications.url.removeprefix("http://")
    argv = vmalert_argv(
        read_flags(SCALE_OUT / "vmalert.flags"),
        addresses=AddressMap(table, "vmalert.flags"),
        rules=rules,
        interval="1s",
        listen=f"{HOSTS['vmalert']}:{port}",
    ) + ["-remoteWrite.flushInterval=1s"]
    server = VmAlert(workdir, argv, f"http://{HOSTS['vmalert']}:{port}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def topology(fleet, exporter, central, shards, reference, vmalert):
    """Everything started, every miner scraped, and WINDOW + SETTLE seconds of history recorded everywhere."""
    started = time.monotonic()
    reference.wait_for("count(miner_up == 1)", lambda r: r and int(float(r[0]["value"][1])) == FLEET_SIZE, timeout=30)
    central.wait_for("fleet:miner_up:count", lambda r: r and int(float(r[0]["value"][1])) == FLEET_SIZE, timeout=45)
    full = time.time()
    print(f"\nevery miner in the reference and in vmalert's fleet:miner_up:count {time.monotonic() - started:.1f} s after start")
    time.sleep(WINDOW + SETTLE + INTERVAL)
    return {"full_since": full}


# ---------------------------------------------------------------- checks


def shard_targets(shard: ScaleoutPrometheus) -> set[str]:
    return {target["labels"]["instance"] for target in shard.active_targets("miners")}


def gaps(central: CentralVictoriaMetrics, targets: set[str], at: float, window: float) -> dict[str, float]:
    """Miners whose sample count over (at - window, at] is off the scrape rate (missing ones count 0)."""
    expected = window / INTERVAL
    counts = central.by_label(f'count_over_time(miner_up{{job="miners"}}[{window:g}s])', "instance", at)
    return {
        instance: counts.get(instance, 0)
        for instance in targets
        if not expected - 1 <= counts.get(instance, 0) <= expected + 1
    }


def test_shards_partition_the_targets(topology, shards, fleet):
    assigned = [shard_targets(shard) for shard in shards]
    print(f"\nminers per shard: {[len(a) for a in assigned]}")
    assert assigned[0] | assigned[1] == fleet["targets"], "every miner is scraped by a shard"
    assert not assigned[0] & assigned[1], "no miner is scraped by both shards"
    assert all(assigned), "both shards have miners"
    for index, targets in enumerate(assigned):
        assert {t for t in targets if hashmod(t, 2) != index} == set(), "tests.support.scaleout.hashmod is Prometheus'"


def test_central_store_sees_the_whole_fleet_once(topology, central, reference):
    at = time.time() - SETTLE
    assert central.scalar("count(miner_up)", at) == FLEET_SIZE
    assert central.query("count by (instance) (miner_up) > 1", at) == []
    # Series identity: the same label sets as one Prometheus over the whole fleet, scraped job by job
    # (recorded series and vmalert's ALERTS left out), then recorded by vmalert vs by the reference's rules.
    start = topology["full_since"]
    scraped = '__name__!~".*:.*|ALERTS.*"'
    for match in (f'{{job="miners", {scraped}}}', f'{{job="hashwatch-cgminer", {scraped}}}', f'{{job="hashwatch-ocean", {scraped}}}',
                  '{__name__=~".+:.+"}'):
        central_sets = {frozenset(s.items()) for s in central.series(match, start, at)}
        single_sets = {frozenset(s.items()) for s in reference.series(match, start, at)}
        print(f"{match}: {len(central_sets)} series in VictoriaMetrics, {len(single_sets)} in the reference")
        assert central_sets, match
        assert central_sets == single_sets, (
            f"{match}: only central {sorted(map(dict, central_sets - single_sets), key=str)[:3]}, "
            f"only reference {sorted(map(dict, single_sets - central_sets), key=str)[:3]}"
        )


def test_every_miner_arrives_at_the_scrape_rate(topology, central, fleet):
    at = time.time() - SETTLE
    assert gaps(central, fleet["targets"], at, WINDOW) == {}
    counts = central.by_label(f'count_over_time(miner_up{{job="miners"}}[{WINDOW:g}s])', "instance", at)
    print(f"\nsamples of miner_up per miner over {WINDOW:g} s: min {min(counts.values()):g}, max {max(counts.values()):g}")


def test_central_rules_give_the_single_prometheus_totals(topology, central, reference, vmalert):
    loaded = {rule["name"] for group in vmalert.groups() for rule in group["rules"]}
    assert set(TOTALS) <= loaded, f"vmalert did not load {sorted(set(TOTALS) - loaded)}"
    at = time.time() - SETTLE
    for name in TOTALS:
        query = f"avg_over_time({name}[{WINDOW:g}s])"
        label = name.split(":")[0]
        label = "" if label == "fleet" else label
        ours = central.by_label(query, label, at)
        single = reference.by_label(query, label, at)
        assert ours and set(ours) == set(single), (name, ours, single)
        for key in single:
            difference = abs(ours[key] - single[key]) / max(abs(single[key]), 1e-9)
            print(f"{name}{{{label}={key!r}}}: central {ours[key]:.6g}, single {single[key]:.6g}, difference {difference:.2e}")
            noisy = "hashrate" in name  # expected hashrate too: some firmwares derive it from the live one
            assert difference < (TOLERANCE if noisy else 1e-9), (name, key, ours[key], single[key])
    # Every central evaluation in the window saw the whole fleet (none ran before a shard's batch arrived).
    low = central.scalar(f"min_over_time(fleet:miner_up:count[{WINDOW:g}s])", at)
    assert low == FLEET_SIZE, f"an evaluation saw {low} miners"


def test_alerts_leave_vmalert_for_the_alertmanagers(topology, notifications, central):
    hook = notifications.wait_for(
        lambda r: isinstance(r.body, list) and any(a["labels"].get("alertname") == "Watchdog" for a in r.body),
        timeout=15,
        what="Watchdog from vmalert",
    )
    assert hook.path == "/api/v2/alerts"
    assert central.query('ALERTS{alertname="Watchdog", alertstate="firing"}'), "vmalert writes the alert state back"


def test_one_shard_down_is_seen(topology, shards, central, fleet):
    """Negative control: stop shard 1 and the checks above fail, exactly for its miners.

    Only checks bounded by a window see it at once: an instant `count(miner_up)` (and vmalert's
    fleet:miner_up:count) keeps a silent series for the 5 min lookback, in VictoriaMetrics as in
    Prometheus, because a stopped Prometheus writes no staleness markers (README.md).
    """
    lost = shard_targets(shards[1])
    assert lost
    assert not central.query('ALERTS{alertname="PrometheusShardSilent"}'), "both shards write their own up{shard}"
    stopped = time.time()
    shards[1].stop()
    window = 5.0
    time.sleep(window + SETTLE + INTERVAL)
    at = time.time() - SETTLE
    assert at - window > stopped
    missing = gaps(central, fleet["targets"], at, window)
    fresh = central.scalar(f"count(count_over_time(miner_up[{window:g}s]))", at)
    instant = central.scalar("count(miner_up)", at)
    print(f"\nshard 1 stopped: {len(missing)} miners with gaps over the last {window:g} s ({len(lost)} were shard 1's); "
          f"miners with samples in that window {fresh:g}; instant count(miner_up) {instant:g}")
    assert set(missing) == lost and set(missing.values()) == {0}
    assert fresh == FLEET_SIZE - len(lost)
    assert instant == FLEET_SIZE, "the lookback keeps a stopped shard's miners (README.md, 'A dead shard')"
    # What the lookback hides, PrometheusShardSilent tells: shard 1's own up{shard="1"} stopped arriving.
    deadline = time.time() + 20
    while not (silent := central.query('ALERTS{alertname="PrometheusShardSilent", alertstate="firing"}')):
        assert time.time() < deadline, "PrometheusShardSilent did not fire for the stopped shard"
        time.sleep(1)
    assert {series["metric"]["shard"] for series in silent} == {"1"}, silent


def test_shard_alert_rules_pass_their_promtool_tests():
    done = subprocess.run([promtool_path(), "test", "rules", "tests/shards_test.yml"], cwd=SHARD_RULES.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
