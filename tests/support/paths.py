"""Where the tests' own files are: the tests folder, its fixtures and the repository."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
FIXTURES_DIR = TESTS / "fixtures"
REPO = TESTS.parent
