"""Where the tests' own files are: the tests folder, its fixtures, the repository, and the recorded
Ocean and market replies, which live in the simulator package (the replayed upstreams serve them)."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
FIXTURES_DIR = TESTS / "fixtures"
REPO = TESTS.parent
CAPTURES_DIR = REPO / "simulator" / "captures"
OCEAN_CAPTURES = CAPTURES_DIR / "ocean"
MARKET_CAPTURES = CAPTURES_DIR / "market"
