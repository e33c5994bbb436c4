"""Metric families rendered from the normalized model: names, labels, no made-up zeros."""

from prometheus_client.parser import text_string_to_metric_families

from exporters.cgminer.metrics import MinerSample
from exporters.cgminer.metrics import render as render_metrics
from exporters.cgminer.model import Board, Fan, Fault, MinerStatus, Pool
from exporters.cgminer.scrape import ScrapeResult
from tests.support.promtool import check_metrics


def render(samples, label_names=()):
    return render_metrics(samples, label_names)


def samples_of(text: bytes) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


FULL = MinerStatus(
    make="Bitmain", model="S19 Pro", firmware="antminer", firmware_version="49.0.1.3",
    hashrate=110e12, hashrate_average=111e12, expected_hashrate=110e12,
    boards=[Board("0", hashrate=37e12, expected_hashrate=36.6e12, chips=114, expected_chips=114,
                  temperatures={"chip": 78.0, "pcb": 73.0}, hardware_errors=183, frequency_hz=525e6,
                  power_watts=1100.0, power_estimated=True)],
    temperatures={"inlet": 25.0}, fans=[Fan("0", rpm=6000.0, speed_ratio=0.8)],
    power_watts=3250.0, power_limit_watts=3600.0, accepted=4057, rejected=11, stale=1,
    hardware_errors=562, best_share=18446744073709551615, uptime_seconds=50474.0,
    pools=[Pool("0", url="stratum+tcp://user:secret@pool.example:3333", user="acct.worker1", status="Alive",
                alive=True, active=True, priority=0, accepted=4057, rejected=11, stale=1)],
    faults=[Fault("110", "fan")], mining=True,
)


def test_full_status_renders_every_metric_with_base_units():
    text = render([MinerSample((), ScrapeResult(FULL, duration_seconds=0.2))])
    s = samples_of(text)
    assert s[("miner_up", ())] == 1
    assert s[("miner_info", (("firmware", "antminer"), ("firmware_version", "49.0.1.3"), ("make", "Bitmain"), ("model", "S19 Pro")))] == 1
    assert s[("miner_hashrate_hashes_per_second", ())] == 110e12
    assert s[("miner_board_hashrate_hashes_per_second", (("board", "0"),))] == 37e12
    assert s[("miner_temperature_celsius", (("board", "0"), ("sensor", "chip")))] == 78
    assert s[("miner_temperature_celsius", (("board", ""), ("sensor", "inlet")))] == 25
    assert s[("miner_fan_speed_rpm", (("fan", "0"),))] == 6000
    assert s[("miner_shares_total", (("result", "accepted"),))] == 4057
    assert s[("miner_hardware_errors_total", ())] == 562
    assert s[("miner_board_hardware_errors_total", (("board", "0"),))] == 183
    assert s[("miner_power_watts", (("estimated", "false"),))] == 3250
    assert s[("miner_board_power_watts", (("board", "0"), ("estimated", "true")))] == 1100
    assert s[("miner_uptime_seconds", ())] == 50474
    assert s[("miner_fault", (("code", "110"),))] == 1
    pool = ("miner_pool_up", (("pool", "0"), ("url", "stratum+tcp://pool.example:3333"), ("user", "acct.worker1"), ("worker", "worker1")))
    assert s[pool] == 1
    assert b"secret" not in text  # credentials in a pool URL never reach Prometheus
    assert check_metrics(text) == ""


def test_unreported_values_produce_no_samples():
    text = render([MinerSample((), ScrapeResult(MinerStatus(make="Bitmain", model="S9")))])
    names = {name for name, _ in samples_of(text)}
    assert names == {"miner_up", "miner_info", "miner_scrape_duration_seconds"}


def test_down_miner_exports_only_up_reason_and_duration():
    text = render([MinerSample((), ScrapeResult(None, "read_timeout", "hung", 5.0))])
    s = samples_of(text)
    assert s == {
        ("miner_up", ()): 0,
        ("miner_scrape_error", (("reason", "read_timeout"),)): 1,
        ("miner_scrape_duration_seconds", ()): 5.0,
    }
    assert check_metrics(text) == ""


def test_fleet_labels_on_every_sample():
    samples = [
        MinerSample(("10.0.0.1:4028", "north"), ScrapeResult(FULL)),
        MinerSample(("10.0.0.2:4028", ""), ScrapeResult(None, "connection_refused")),
    ]
    text = render(samples, ["miner", "site"])
    s = samples_of(text)
    assert s[("miner_up", (("miner", "10.0.0.1:4028"), ("site", "north")))] == 1
    assert s[("miner_up", (("miner", "10.0.0.2:4028"), ("site", "")))] == 0
    assert s[("miner_hashrate_hashes_per_second", (("miner", "10.0.0.1:4028"), ("site", "north")))] == 110e12
    assert check_metrics(text) == ""


def test_rendering_miner_by_miner_packs_lines_without_changing_the_text(monkeypatch):
    from exporters.cgminer.metrics import Renderer

    samples = [
        MinerSample((f"10.0.0.{n}:4028", "north"), ScrapeResult(FULL if n % 3 else None, "read_timeout"))
        for n in range(1, 11)
    ]
    whole = render(samples, ["miner", "site"])
    monkeypatch.setattr(Renderer, "COMPACT_EVERY", 3)  # pack after every third miner
    renderer = Renderer(["miner", "site"])
    for sample in samples:
        renderer.add(sample.label_values, sample.result)
    parts = renderer.parts()
    assert max(len(pieces) for pieces in parts) == 4  # 10 miners: packed at 3, 6, 9 and at the end
    assert all(not family.lines for family in renderer.families)  # nothing left as loose strings
    assert render(samples, ["miner", "site"]) == whole
    from exporters.cgminer.exposition import assemble
    from exporters.cgminer.metrics import HEADERS

    assert assemble(HEADERS, [[b"".join(p) for p in parts]]) == whole


def test_a_miner_that_fails_to_render_is_down_alone(monkeypatch):
    """Should a collector raise on one miner's values, its half-written lines go and it alone is down."""
    import exporters.cgminer.metrics as metrics_module
    from exporters.cgminer.metrics import Renderer

    good = ScrapeResult(MinerStatus(hashrate=1.0, boards=[Board("0", hashrate=2.0)]))
    bad = ScrapeResult(MinerStatus(hashrate=1.0, boards=[Board("0", hashrate=2.0)]))
    thermal = metrics_module.ThermalCollector.add_status

    def explode(self, values, status):
        if status is bad.status:
            raise ZeroDivisionError("a collector bug")
        return thermal(self, values, status)

    monkeypatch.setattr(metrics_module.ThermalCollector, "add_status", explode)
    fleet = Renderer(("miner",))
    for target, result in (("a:1", good), ("a:10", bad), ("a", good)):  # "a:1" and "a" are prefixes of "a:10"
        fleet.add((target,), result)
    text = b"".join(b"".join(parts) for parts in fleet.parts()).decode()
    bad_lines = sorted(line.split("{")[0] for line in text.splitlines() if 'miner="a:10"' in line)
    assert bad_lines == ["miner_scrape_duration_seconds", "miner_scrape_error", "miner_up"]
    assert 'miner_up{miner="a:10"} 0' in text and 'miner_scrape_error{miner="a:10",reason="internal_error"} 1' in text
    for target in ("a:1", "a"):
        assert f'miner_board_hashrate_hashes_per_second{{miner="{target}",board="0"}} 2' in text
    probe = render_metrics([MinerSample((), bad)], ()).decode()
    assert "\nminer_up 0\n" in probe and "\nminer_hashrate_hashes_per_second " not in probe
