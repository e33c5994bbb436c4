"""Every recorded capture is used by at least one test, referenced by its path."""


import pytest

from tests.support.cgminer_fixtures import ALIASES, FIXTURES
from tests.support.paths import FIXTURES_DIR, MARKET_CAPTURES, OCEAN_CAPTURES, TESTS

ROOT = FIXTURES_DIR
# Real CGMiner, Ocean and market captures live in the simulator package (see tests/cgminer_fixtures.py and
# tests/support/paths.py), the bitcoind ones here.
TREES = {"cgminer": FIXTURES, "ocean": OCEAN_CAPTURES, "market": MARKET_CAPTURES, "bitcoind": ROOT / "bitcoind"}


def _test_sources() -> str:
    return "".join(p.read_text() for p in TESTS.rglob("test_*.py"))


@pytest.mark.parametrize("source", list(TREES))
def test_every_fixture_is_referenced_by_a_test(source):
    fixtures = TREES[source]
    sources = _test_sources()
    unused = [
        str(path.relative_to(fixtures))
        for path in sorted(fixtures.rglob("*"))
        if path.is_file() and path.suffix in (".json", ".txt", ".html") and str(path.relative_to(fixtures)) not in sources
    ]
    assert unused == []


def test_every_alias_names_a_stored_capture_and_is_used():
    sources = _test_sources()
    for name, stored in ALIASES.items():
        assert (FIXTURES / stored).is_file() and not (FIXTURES / name).exists(), name
        assert name in sources, name
