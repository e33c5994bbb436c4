"""Every recorded capture is used by at least one test, referenced by its path."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "cgminer"


def test_every_cgminer_fixture_is_referenced_by_a_test():
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    unused = [
        str(path.relative_to(FIXTURES))
        for path in sorted(FIXTURES.rglob("*"))
        if path.is_file() and path.suffix in (".json", ".txt") and str(path.relative_to(FIXTURES)) not in sources
    ]
    assert unused == []
