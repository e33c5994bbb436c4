"""docs/promql.md stays true: every query of the cookbook runs on the demo's Prometheus and returns data.

Each fenced `promql` block is one query (instant, as the expression browser
runs it), paired with the question above it; blocks that depend on the demo's
scripted faults (dead boards, backup pools, miners down) are waited for,
bounded, as the panel tests wait.
"""

from __future__ import annotations


import pytest

from grafana.queries import PROMETHEUS, Target, run
from tests.support.dashboard_queries import demo_sources, until_data, view
from tests.support.paths import REPO

# The demo's start and its faults' alerts (up to two minutes) may fall within one test.
pytestmark = pytest.mark.timeout(300)

COOKBOOK = REPO / "docs" / "promql.md"


def cookbook() -> list[tuple[str, str]]:
    """(question, query) for every block; a block right after another shares its question."""
    found, question, block = [], "", None
    for line in COOKBOOK.read_text().splitlines():
        if block is not None:
            if line.startswith("```"):
                found.append((question, "\n".join(block).strip()))
                block = None
            else:
                block.append(line)
        elif line.startswith("```promql"):
            block = []
        elif line.strip() and not line.startswith("```"):
            question = line.strip()
    return found


QUERIES = cookbook()


def test_the_cookbook_answers_what_the_issue_asks():
    text = " ".join(q for q, _ in QUERIES).lower()
    assert len(QUERIES) >= 10
    for topic in ("ten hottest", "90%", "joules per terahash", "revenue", "profit", "backup pool", "ocean not seen"):
        assert topic in text, f"docs/promql.md has no question about {topic!r}"
    for question, query in QUERIES:
        assert question.endswith("?") or question.endswith("."), f"no question above {query!r}"


@pytest.mark.parametrize(("question", "query"), QUERIES, ids=[f"{i:02d}" for i in range(len(QUERIES))])
def test_cookbook_query_returns_data(question, query, demo_stack):
    sources = demo_sources(demo_stack)
    target = Target(dashboard="docs/promql.md", panel=question, panel_id=0, panel_type="explore", ref="A",
                    kind=PROMETHEUS, text=query, instant=True, fields={}, max_points=1000, min_interval=None)
    answer = until_data(demo_stack, lambda: run(target, sources, {}, view(sources)))
    assert answer.error is None, f"{question}\n{query}\n{answer.error}"
    assert not answer.empty, f"{question}\n{query}\nreturned no data on the demo"
