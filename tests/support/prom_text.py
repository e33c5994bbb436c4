"""Reading Prometheus text in tests: every sample keyed by name and sorted labels."""

import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def wait_for_samples(url: str, condition, seconds: float = 10.0) -> dict[tuple, float]:
    """Scrape `url` until condition(samples) holds, or `seconds` pass; returns the last samples."""
    deadline = time.monotonic() + seconds
    while True:
        found = samples(requests.get(url, timeout=5).text)
        if condition(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
