"""The ASIC catalog: the packaged data, lookups with the exporter's own model strings, bad files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporters.cgminer.firmware.antminer import AntminerParser
from exporters.cgminer.firmware.avalon import AvalonParser
from exporters.cgminer.firmware.luxos import LuxosParser
from exporters.cgminer.firmware.vnish import VnishParser
from exporters.cgminer.firmware.whatsminer import WhatsminerParser
from exporters.cgminer.reply import parse_reply
from hashwatch.config import ConfigError
from profitability.catalog import PACKAGED_CATALOG, Catalog, Entry, load_catalog, name_key
from tests.support.cgminer_fixtures import load_multi, load_replies


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def entry(**overrides: Any) -> dict[str, Any]:
    base = {
        "make": "Bitmain",
        "model": "S19 Pro",
        "aliases": [],
        "hashrate_ths": 110,
        "power_watts": 3250,
        "cooling": "air",
        "released": "2020-05",
        "source": "test",
    }
    base.update(overrides)
    return base


MAKES = {"Bitmain": ["Antminer"], "MicroBT": ["Whatsminer"], "Canaan": ["AvalonMiner", "Avalon"]}


def write(tmp_path: Path, data: Any, name: str = "catalog.yml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: Any) -> str:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:")  # every error names the file
    return message


# --- the packaged catalog ----------------------------------------------------


def test_packaged_catalog_loads_by_default(catalog):
    assert PACKAGED_CATALOG.name == "catalog.yml" and PACKAGED_CATALOG.parent.name == "profitability"
    assert load_catalog(PACKAGED_CATALOG) == catalog
    assert len(catalog.models) >= 20
    counts = {make: sum(e.make == make for e in catalog.models) for make in ("Bitmain", "MicroBT", "Canaan")}
    assert set(catalog.makes) == set(counts)
    assert all(count >= 5 for count in counts.values()), counts


def test_every_entry_is_complete_and_plausible(catalog):
    for e in catalog.models:
        assert 5 <= e.efficiency_j_per_th <= 150, e.model
        # Nothing sold since 2020 is worse than ~50 J/TH or better than ~10 J/TH.
        assert 10 <= e.efficiency_j_per_th <= 50, e.model
        assert e.hashrate_hs == pytest.approx(e.hashrate_ths * 1e12)
        assert e.source.strip() and e.cooling in ("air", "hydro", "immersion")
        assert "2020-01" <= e.released <= "2026-12"


@pytest.mark.parametrize(
    "make, model, ths, watts, j_per_th",
    [
        ("Bitmain", "S19 Pro", 110, 3250, 29.5),
        ("Bitmain", "S21", 200, 3500, 17.5),
        ("Bitmain", "S19k Pro", 120, 2760, 23.0),
        ("Bitmain", "S21 XP", 270, 3645, 13.5),
        ("MicroBT", "M60S", 186, 3441, 18.5),
        ("Canaan", "1566", 185, 3420, 18.5),
    ],
)
def test_known_specifications(catalog, make, model, ths, watts, j_per_th):
    e = catalog.lookup(make, model)
    assert (e.hashrate_ths, e.power_watts) == (ths, watts)
    assert e.efficiency_j_per_th == pytest.approx(j_per_th, abs=0.06)


def test_names_are_unique_across_the_catalog(catalog):
    brands = tuple(sorted({name_key(w) for m, ws in catalog.makes.items() for w in (m, *ws)}, key=len, reverse=True))
    owners: dict[str, str] = {}
    for e in catalog.models:
        for name in e.names:
            key = name_key(name, brands)
            assert owners.setdefault(key, e.model) == e.model, (name, owners[key])


# --- lookups with what the CGMiner exporter reports ---------------------------


def _antminer(files: dict[str, str]) -> tuple[str, str]:
    status = AntminerParser().parse(load_replies(files))
    return status.make, status.model


@pytest.mark.parametrize(
    "replies, expected",
    [
        (lambda: _antminer({"version": "antminer/s19_stock_2020_version.json"}), "S19"),
        (lambda: _antminer({"version": "antminer/s19pro_stock_2022_version.json"}), "S19 Pro"),
        (lambda: _antminer({"version": "antminer/s21_stock_2024_version.json"}), "S21"),
        (lambda: _antminer({"stats": "antminer/s19jpro_stock_2021_stats.json"}), "S19j Pro"),
        # Hiveon writes "Antminer S19JPRO Hiveon": the parser reports "S19JPRO".
        (lambda: _antminer({"version": "antminer/s19jpro_hiveon_2024_version.json"}), "S19j Pro"),
    ],
)
def test_lookup_of_antminer_parser_output(catalog, replies, expected):
    make, model = replies()
    assert catalog.lookup(make, model).model == expected


def test_lookup_of_other_parsers_output(catalog):
    luxos = LuxosParser().parse(load_replies({"version": "luxos/s19kpro_luxos2025_version.json"}))
    vnish_s21pro = VnishParser().parse(load_replies({"stats": "vnish/s21pro_vnish127_stats.json"}))
    vnish_s19xp = VnishParser().parse(load_replies({"stats": "vnish/s19xp_vnish120rc1_stats.json"}))
    a1566 = AvalonParser().parse(load_replies({"version": "avalon/avalon1566_fw24102401_version.json"}))
    avalon_q = AvalonParser().parse(load_replies({"version": "avalon/avalon_q_fw25052801_version.json"}))
    found = {
        (status.make, status.model): catalog.lookup(status.make, status.model).model
        for status in (luxos, vnish_s21pro, vnish_s19xp, a1566, avalon_q)
    }
    assert found == {
        ("Bitmain", "S19k Pro"): "S19k Pro",
        ("Bitmain", "S21 Pro"): "S21 Pro",
        ("Bitmain", "S19 XP"): "S19 XP",
        ("Canaan", "AvalonMiner 15-194"): "1566",  # PROD of the A1566
        ("Canaan", "Avalon Q"): "Avalon Q",
    }


def test_lookup_of_whatsminer_models(catalog):
    devdetails = parse_reply(
        "devdetails",
        {"STATUS": [{"STATUS": "S", "Code": 69}], "DEVDETAILS": [{"DEVDETAILS": 0, "Name": "SM", "Model": "M31S"}]},
    )
    status = WhatsminerParser().parse({"devdetails": devdetails})
    assert catalog.lookup(status.make, status.model).model == "M31S"
    version = parse_reply("get_version", {"STATUS": "S", "Code": 131, "Msg": {"miner_type": "M30S"}})
    status = WhatsminerParser().parse({"get_version": version})
    assert catalog.lookup(status.make, status.model).model == "M30S"


def test_a_model_the_exporter_reports_but_the_catalog_lacks_is_none(catalog):
    # The A1047 reports no PROD; the parser takes "1047" from Ver[1047-...]. Too old for the catalog.
    status = AvalonParser().parse(load_multi("avalon/avalon1047_multicommand_pools_summary_stats.json",
                                             ("summary", "stats", "pools")))
    assert (status.make, status.model) == ("Canaan", "1047")
    assert catalog.lookup(status.make, status.model) is None


@pytest.mark.parametrize(
    "make, model, expected",
    [
        # spelling: case, spaces, hyphens, dots, a leading brand word
        ("Bitmain", "Antminer S19 Pro", "S19 Pro"),
        ("Bitmain", "S19Pro", "S19 Pro"),
        ("Bitmain", "s19 pro", "S19 Pro"),
        ("Bitmain", "Bitmain Antminer S19 XP", "S19 XP"),  # Braiins devdetails Model, whole
        ("Bitmain", "S19XP", "S19 XP"),
        ("Bitmain", "S21 Hyd.", "S21 Hydro"),
        ("Bitmain", "S21+", "S21+"),
        ("Bitmain", "S21+ Hyd.", "S21+ Hydro"),
        ("MicroBT", "WhatsMiner M30S++", "M30S++"),
        ("Canaan", "15-194", "1566"),  # Ver[...] prefix when there is no version reply
        ("Canaan", "AvalonMiner 1246", "1246"),
        ("Canaan", "Avalon A1466", "1466"),
        # a trailing hashrate
        ("Bitmain", "S19j Pro 104T", "S19j Pro"),
        ("Bitmain", "S19j Pro (110Th)", "S19j Pro"),
        ("Bitmain", "S19j Pro-100TH/s", "S19j Pro"),
        ("Bitmain", "S19jPro104T", "S19j Pro"),
        ("Bitmain", "T21 190T", "T21"),
        # WhatsMiner chip-bin suffixes from btminer's DEVDETAILS Model / miner_type
        ("MicroBT", "M30S++_VG30", "M30S++"),
        ("MicroBT", "M30S+VE40", "M30S+"),
        ("MicroBT", "M50SVH30", "M50S"),
        ("MicroBT", "M60S_VK30", "M60S"),
        # make: empty (generic parser) searches all; a brand word names its make
        ("", "Antminer S21 Pro", "S21 Pro"),
        (None, "M63S", "M63S"),
        ("Antminer", "S21", "S21"),
        ("whatsminer", "M66S", "M66S"),
    ],
)
def test_lookup_tolerates_spellings(catalog, make, model, expected):
    found = catalog.lookup(make, model)
    assert found is not None and found.model == expected


@pytest.mark.parametrize(
    "make, model",
    [
        ("Bitmain", "S9"),  # reported by the exporter, not in the catalog
        ("Bitmain", "L3+"),
        ("Bitmain", "S17 Pro"),
        ("Bitmain", "S19 Pro Hydro"),  # a different machine from the S19 Pro
        ("MicroBT", "M30"),  # not M30S
        ("MicroBT", "M30S+++"),
        ("Bitmain", "M30S++"),  # right model, wrong make
        ("Auradine", "S19 Pro"),  # a make the catalog does not have
        ("Bitmain", ""),
        ("Bitmain", None),
        ("", "A model"),
        ("Canaan", "Avalon"),
    ],
)
def test_unknown_models_are_none(catalog, make, model):
    assert catalog.lookup(make, model) is None


def test_exact_name_wins_over_tolerant_forms():
    catalog = Catalog.model_validate({
        "makes": MAKES,
        "models": [
            entry(make="MicroBT", model="M50S", hashrate_ths=126, power_watts=3276),
            entry(make="MicroBT", model="M50SVH30", hashrate_ths=120, power_watts=3300),
        ],
    })
    assert catalog.lookup("MicroBT", "M50SVH30").model == "M50SVH30"
    assert catalog.lookup("MicroBT", "M50SVH30 120T").model == "M50SVH30"  # hashrate dropped, bin kept
    assert catalog.lookup("MicroBT", "M50SVH40").model == "M50S"


def test_ambiguous_lookup_returns_none():
    # Validation forbids shared names, so only an unvalidated catalog can hold two.
    first = Entry.model_validate(entry())
    second = Entry.model_validate(entry(hashrate_ths=100, power_watts=3000))
    catalog = Catalog.model_construct(makes={"Bitmain": ("Antminer",)}, models=(first, second))
    assert catalog.lookup("Bitmain", "S19 Pro") is None
    assert catalog.lookup("", "Antminer S19 Pro") is None


# --- bad files -----------------------------------------------------------------


def test_alias_shared_by_two_entries_names_the_key(tmp_path):
    data = {"makes": MAKES, "models": [entry(), entry(model="S19 Pro Hydro", aliases=["Hydro", "S19Pro"])]}
    message = load_error(tmp_path, data)
    assert "models.1.aliases.1" in message and "'S19Pro'" in message and "models.0.model" in message


def test_alias_shared_across_makes_is_rejected(tmp_path):
    data = {"makes": MAKES, "models": [entry(), entry(make="Canaan", model="1566", aliases=["S19 Pro"])]}
    assert "models.1.aliases.0" in load_error(tmp_path, data)


def test_duplicate_make_and_model_names_the_key(tmp_path):
    data = {"makes": MAKES, "models": [entry(), entry(model="Antminer S19-Pro", hashrate_ths=100)]}
    assert "models.1.model: 'Antminer S19-Pro' is also models.0.model" in load_error(tmp_path, data)


def test_efficiency_outside_range_catches_a_unit_slip(tmp_path):
    gh = {"makes": MAKES, "models": [entry(), entry(model="S21", hashrate_ths=200000, power_watts=3500)]}
    message = load_error(tmp_path, gh)
    assert "models.1:" in message and "J/TH" in message and "GH/s" in message
    kw = {"makes": MAKES, "models": [entry(power_watts=3.25)]}
    assert "models.0:" in load_error(tmp_path, kw)


@pytest.mark.parametrize(
    "change, key",
    [
        ({"hashrate_ths": 0}, "models.0.hashrate_ths"),
        ({"power_watts": -3250}, "models.0.power_watts"),
        ({"hashrate_ths": float("nan")}, "models.0.hashrate_ths"),
        ({"cooling": "oil"}, "models.0.cooling"),
        ({"released": "2020-13"}, "models.0.released"),
        ({"released": "May 2020"}, "models.0.released"),
        ({"source": " "}, "models.0.source"),
        ({"model": ""}, "models.0.model"),
        ({"make": "Antminer"}, "models.0.make"),  # a brand word, not a declared make
        ({"model": "Antminer"}, "models.0.model"),  # only a brand
        ({"aliases": ["S19 Pro", "--"]}, "models.0.aliases.1"),
        ({"hashrate": 110}, "models.0.hashrate"),  # unknown key
    ],
)
def test_bad_entries_name_the_key(tmp_path, change, key):
    data = {"makes": MAKES, "models": [entry(**change)]}
    message = load_error(tmp_path, data)
    assert f"  {key}:" in message, message
    if key == "models.0.hashrate":
        assert "unknown key" in message


def test_missing_field_names_the_key(tmp_path):
    bad = entry()
    del bad["power_watts"]
    assert "models.0.power_watts: Field required" in load_error(tmp_path, {"makes": MAKES, "models": [bad]})


def test_brand_claimed_by_two_makes(tmp_path):
    makes = copy.deepcopy(MAKES)
    makes["Canaan"].append("antminer")
    assert "makes.Canaan.2" in load_error(tmp_path, {"makes": makes, "models": [entry()]})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "top level must be a mapping"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("makes: [\n", "not valid YAML"),
        ("makes: {}\nmodels: []\n", "models: the catalog lists no models"),
        ("makes: {Bitmain: []}\nmodels: []\nextra: 1\n", "extra: unknown key"),
    ],
)
def test_bad_files(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_unreadable_file(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match=f"{missing}: cannot read catalog"):
        load_catalog(missing)


def test_models_are_frozen(catalog):
    with pytest.raises(ValueError):
        catalog.models[0].power_watts = 1  # type: ignore[misc]
