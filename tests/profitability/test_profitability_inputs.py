"""Reading the inputs back from Prometheus: each miner's power, and whether its firmware estimated it."""

import asyncio

from profitability.inputs import QUERIES, read_inputs
from profitability.prometheus import Sample


class FakeReader:
    """Answers each input query with the samples Prometheus would hold for it."""

    def __init__(self, results: dict[str, list[Sample]]):
        self.results = {QUERIES[name]: samples for name, samples in results.items()}

    async def query(self, promql: str) -> list[Sample]:
        return self.results.get(promql, [])


def miner(who: str, **labels: str) -> dict[str, str]:
    return {"miner": who, "site": "north", **labels}


def read(results: dict[str, list[Sample]]):
    return asyncio.run(read_inputs(FakeReader(results), "site", clock=lambda: 1_763_900_000.0))


def test_power_keeps_the_estimated_label():
    inputs = read({
        "hashrate": [Sample(miner("a"), 200e12), Sample(miner("b"), 110e12), Sample(miner("c"), 100e12)],
        "power": [
            Sample(miner("a", estimated="true"), 3250.0),  # an Antminer's own estimate
            Sample(miner("b", estimated="false"), 3300.0),  # a reading
        ],
        "info": [Sample(miner("a", make="Bitmain", model="S21"), 1.0)],
    })
    by_miner = {m.miner: m for m in inputs.miners}
    assert (by_miner["a"].power_watts, by_miner["a"].power_estimated) == (3250.0, True)
    assert (by_miner["a"].make, by_miner["a"].model) == ("Bitmain", "S21")
    assert (by_miner["b"].power_watts, by_miner["b"].power_estimated) == (3300.0, False)
    assert (by_miner["c"].power_watts, by_miner["c"].power_estimated) == (None, False)  # not reported


def test_a_reading_wins_over_an_estimate_of_the_same_miner():
    # Both series exist for a lookback window after an exporter upgrade.
    for order in ((True, False), (False, True)):
        power = [Sample(miner("a", estimated="true" if e else "false"), 3250.0 if e else 3400.0) for e in order]
        inputs = read({"hashrate": [Sample(miner("a"), 200e12)], "power": power})
        assert (inputs.miners[0].power_watts, inputs.miners[0].power_estimated) == (3400.0, False)
