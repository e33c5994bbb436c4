"""Every recorded capture is used by at least one test, referenced by its path."""

from pathlib import Path

import pytest

ROOT = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("source", ["cgminer", "ocean", "price_network", "bitcoind"])
def test_every_fixture_is_referenced_by_a_test(source):
    fixtures = ROOT / source
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    unused = [
        str(path.relative_to(fixtures))
        for path in sorted(fixtures.rglob("*"))
        if path.is_file() and path.suffix in (".json", ".txt", ".html") and str(path.relative_to(fixtures)) not in sources
    ]
    assert unused == []
