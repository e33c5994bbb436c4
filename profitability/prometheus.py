"""Reading the exporters' series back from Prometheus's HTTP API (instant queries).

The profitability exporter takes its inputs where the rest of the stack keeps
them: miner hashrate and power from the CGMiner exporter, price, difficulty,
fees and subsidy from the market exporter. Prometheus only returns series with
a sample in its lookback window, so an exporter that stopped reporting drops
out of the inputs instead of leaving an old value behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
import orjson

from hashwatch import http
from hashwatch.numbers import to_float
from hashwatch.polling import FetchError
from hashwatch.shape import ShapeError


# The operator's own Prometheus, not a public API: an instant vector of
# miner_info is about 260 bytes per miner, so this is room for ~250,000 miners
# while a runaway reply is still cut off.
MAX_QUERY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PrometheusReader:
    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float):
        self.session = session
        self.url = url.rstrip("/")
        self.timeout = timeout

    async def query(self, promql: str) -> list[Sample]:
        """An instant vector; NaN and non-numeric samples are left out."""
        url = f"{self.url}/api/v1/query?{urlencode({'query': promql})}"
        reply = await http.get(self.session, url, self.timeout, max_bytes=MAX_QUERY_BYTES)
        try:
            document = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            raise FetchError("malformed", f"{promql}: HTTP {reply.status}, not JSON") from None
        # Prometheus answers a bad query with 400/422 and {"status": "error", "error": ...}.
        if reply.status >= 400 or not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else None
            raise FetchError("query_error", f"{promql}: HTTP {reply.status}: {error or 'not a Prometheus API reply'}")
        data = document.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise ShapeError(f"{promql}: expected an instant vector")
        samples = []
        for item in data["result"]:
            if not isinstance(item, dict) or not isinstance(item.get("value"), list) or len(item["value"]) != 2:
                raise ShapeError(f"{promql}: a result is not {{metric, value: [time, value]}}")
            value = to_float(item["value"][1])
            if value is not None:
                samples.append(Sample(dict(item.get("metric") or {}), value))
        return samples
