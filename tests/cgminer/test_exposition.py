"""The fast text-format writer: escaping, values, and agreement with the reference parser."""

import math

from prometheus_client.parser import text_string_to_metric_families

from exporters.cgminer.exposition import Family, escape_label_value, format_value, label_prefix, render
from tests.support.promtool import check_metrics


def test_label_values_are_escaped_and_parse_back():
    family = Family("miner_pool_up", "gauge", "Pool up.", ("pool", "user"))
    prefix = label_prefix(["miner", "site"], ['10.0.0.1:4028', 'a "quoted" \\ site\nnext'])
    family.add(prefix, 1.0, "0", 'we"ird\\user')
    family.add(prefix, None, "1", "absent")  # not reported: no sample
    text = render([family])
    [parsed] = list(text_string_to_metric_families(text.decode()))
    assert [s.labels for s in parsed.samples] == [
        {"miner": "10.0.0.1:4028", "site": 'a "quoted" \\ site\nnext', "pool": "0", "user": 'we"ird\\user'}
    ]
    assert check_metrics(text) == ""


def test_counters_carry_total_and_values_keep_precision():
    family = Family("miner_shares", "counter", "Shares.", ("result",))
    family.add("", 18446744073709551615, "accepted")
    family.add("", 4057, "rejected")
    family.add("", 0.1 + 0.2, "stale")
    text = render([family]).decode()
    assert "# TYPE miner_shares_total counter" in text
    values = {s.labels["result"]: s.value for s in next(text_string_to_metric_families(text)).samples}
    assert values == {"accepted": 18446744073709551615.0, "rejected": 4057.0, "stale": 0.1 + 0.2}


def test_special_values():
    assert format_value(1.0) == "1" and format_value(-3.0) == "-3"
    assert format_value(1e20) == "1e+20" and format_value(2.5) == "2.5"
    # A miner's metric is finite: what cannot be one is "not reported", never a failed page.
    assert format_value(math.inf) is None and format_value(-math.inf) is None
    assert format_value(math.nan) is None and format_value(10**400) is None
    assert format_value(10**20) == "1e+20"


def test_values_that_cannot_be_samples_are_left_out():
    family = Family("miner_shares", "counter", "Shares.", ("result",))
    for value in (10**400, -(10**400), math.inf, math.nan):
        family.add("", value, "accepted")
    assert family.lines == []


def test_label_values_are_escaped_and_carriage_returns_dropped():
    assert escape_label_value('a\\b"c\nd\re') == 'a\\\\b\\"c\\nd' + "e"
    family = Family("miner_pool_up", "gauge", "Up.", ("user",))
    family.add("", 1.0, "\udcff.w\r1")
    assert render([family]) .endswith(b'miner_pool_up{user="?.w1"} 1\n')
