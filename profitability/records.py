"""What the ledger keeps of a `Snapshot`: fleet and site economics and the market inputs, as points.

The same snapshot object the collector rendered (snapshot.py), so the history
holds exactly the values /metrics showed, stamped with the moment they were
evaluated. Field names are the site and fleet series' suffixes (TOTAL_SERIES).
"""

from __future__ import annotations

from hashwatch.ledger import Point

from .metrics import TOTAL_SERIES
from .snapshot import Snapshot


def points_of(snapshot: Snapshot) -> list[Point]:
    """One fleet_economics point, one site_economics point per site, one market_inputs point.

    A total over no miners is left out (nothing hashing: no economics to record,
    rather than a row of zeros), and so is a point without any known field.
    """
    currency = snapshot.currency
    points = []
    for measurement, tags, total in (
        ("fleet_economics", {"currency": currency}, snapshot.fleet),
        *(("site_economics", {"currency": currency, "site": name}, site) for name, site in snapshot.sites.items()),
    ):
        if not total.miners:
            continue
        fields = {suffix: getattr(total, attribute) for suffix, _, attribute, _ in TOTAL_SERIES}
        points.append(Point(measurement, tags=tags, fields=fields, timestamp=snapshot.at))
    market = snapshot.market
    points.append(
        Point(
            "market_inputs",
            tags={"currency": currency},
            fields={"btc_price": market.btc_price, "difficulty": market.difficulty,
                    "subsidy_btc": market.subsidy_btc, "fees_per_block_btc": market.fees_per_block_btc},
            timestamp=snapshot.at,
        )
    )
    return [point for point in points if point.known_fields()]
