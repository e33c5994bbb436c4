"""Fleet target labels: the reserved names come from the collectors, and one rule serves config, file_sd and discover."""

from __future__ import annotations

import dataclasses
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from exporters.cgminer.config import MinerTarget
from exporters.cgminer.discover import OWN_LABELS, DiscoverError, parse_labels
from exporters.cgminer.labels import target_label_problem
from exporters.cgminer.metrics import COLLECTORS, HEADERS, MINER_LABEL, RESERVED_LABELS, MinerSample, render
from exporters.cgminer.scrape import ScrapeResult
from exporters.cgminer.targets import FleetTarget, label_names_of, label_values_of, read_file_sd
from tests.cgminer.test_metrics import FULL


def test_reserved_labels_are_what_the_collectors_declare():
    declared = {name for collector in COLLECTORS for family in collector().families for name in family.extra}
    assert RESERVED_LABELS == {MINER_LABEL, *declared}


def test_reserved_labels_are_every_label_a_fleet_exposition_carries_besides_the_targets_own():
    """Rendered, not declared: every family with data, a failed miner for the error reason."""
    targets = [FleetTarget("10.0.0.1:4028", (("rack", "r1"),)), FleetTarget("10.0.0.2:4028")]
    names = label_names_of(targets)
    board = dataclasses.replace(FULL.boards[0], voltage_volts=12.6, power_watts=1080.0)
    status = dataclasses.replace(FULL, boards=[board])
    results = [ScrapeResult(status, duration_seconds=0.1), ScrapeResult(None, "read_timeout", "hung", 5.0)]
    text = render([MinerSample(label_values_of(t, names), r) for t, r in zip(targets, results)], names).decode()
    families = list(text_string_to_metric_families(text))
    assert len(families) == len(HEADERS)
    assert all(family.samples for family in families), [f.name for f in families if not f.samples]
    used = {label for family in families for sample in family.samples for label in sample.labels}
    assert used == RESERVED_LABELS | {"rack"}


def test_label_values_are_the_address_then_each_label_in_name_order():
    targets = [FleetTarget("a:1", (("rack", "r1"), ("site", "x"))), FleetTarget("b:1", (("room", "2"),))]
    names = label_names_of(targets)
    assert names == ["miner", "rack", "room", "site"]
    assert [label_values_of(t, names) for t in targets] == [("a:1", "r1", "", "x"), ("b:1", "", "2", "")]


NAMES = ["rack", "room_2", "_x", "Site", "__meta_x", "__address__", "9rack", "bad-name", "rack\n", "", *sorted(RESERVED_LABELS)]


@pytest.mark.parametrize("name", NAMES)
def test_config_file_sd_and_discover_share_one_rule(name, tmp_path):
    allowed = target_label_problem(name) is None
    try:
        MinerTarget(target="10.0.0.1", labels={name: "v"})
        config_allows = True
    except ValidationError:
        config_allows = False
    assert config_allows == allowed

    path = tmp_path / "sd.json"
    path.write_text(json.dumps([{"targets": ["10.0.0.1"], "labels": {name: "v"}}]))
    assert bool(read_file_sd(str(path))[0].labels) == allowed  # file_sd drops what config rejects

    if name.strip() not in OWN_LABELS:  # discover writes those itself
        try:
            parse_labels([f"{name}=v"], None)
            discover_allows = True
        except DiscoverError:
            discover_allows = False
        assert discover_allows == (target_label_problem(name.strip()) is None)  # a --label NAME is stripped


def test_the_rule_says_why():
    assert target_label_problem("rack") is None
    assert "used by hashwatch's own metrics" in target_label_problem("board")
    assert "reserved by Prometheus" in target_label_problem("__meta_x")
    assert "not a label name" in target_label_problem("9rack")
