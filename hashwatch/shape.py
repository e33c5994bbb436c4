"""The errors every API parser raises for a reply it cannot take as data.

Each carries `kind`, the reason the shared poller (hashwatch.polling) counts
the failed fetch under: the `result` label of
hashwatch_ocean_api_requests_total and hashwatch_market_source_requests_total.
"""


class ShapeError(ValueError):
    """The reply is not shaped like anything the parser knows.

    Pollers count it and keep the last good value: an unknown shape must never
    turn into zeros or into a guess.
    """

    kind = "unknown_shape"


class ImplausibleValue(ShapeError):
    """The reply is shaped right but carries a number outside its quantity's plausible range.

    Raised by hashwatch.numbers.Plausible: a price of 1e308 or a negative
    hashrate is a broken reply, not news, so it is counted and the last good
    value kept, exactly as for an unknown shape.
    """

    kind = "implausible"
