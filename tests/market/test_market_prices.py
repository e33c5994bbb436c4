"""Price source parsers on every recorded reply: concrete values, units, junk prices dropped, shapes refused."""

import json

import pytest

from exporters.market.model import PriceQuote
from exporters.market.prices import (
    SOURCES,
    PriceSource,
    ShapeError,
    disagreement,
    parse_blockchain_info,
    parse_coincap,
    parse_coingecko,
    parse_mempool,
)
from hashwatch.shape import ShapeError as SharedShapeError
from tests.support.paths import MARKET_CAPTURES

FIXTURES = MARKET_CAPTURES
ALL_FIAT = ["usd", "eur", "gbp", "cad", "jpy"]


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_shape_error_is_the_shared_one():
    assert ShapeError is SharedShapeError


# --- CoinGecko ---------------------------------------------------------------


def test_coingecko_docs_example_all_flags():
    document = load("coingecko_simple_price_bitcoin_usd_all_flags_DOCS.json")
    quote = SOURCES["coingecko"].parse(document, ["usd"])
    assert quote == PriceQuote(source="coingecko", prices={"USD": 67187.3358936566}, as_of=1711356300.0)


def test_coingecko_flags_are_not_currencies():
    document = load("coingecko_simple_price_bitcoin_usd_all_flags_DOCS.json")
    # Asking for everything: usd_market_cap, usd_24h_vol, usd_24h_change, last_updated_at are not prices.
    assert parse_coingecko(document).prices == {"USD": 67187.3358936566}
    # Asking for currencies the reply lacks: they are absent, not zero, and not an error.
    assert parse_coingecko(document, ALL_FIAT).prices == {"USD": 67187.3358936566}
    assert parse_coingecko(document, ["eur"]).prices == {}


def test_coingecko_minimal_reply_has_no_time():
    quote = parse_coingecko(load("coingecko_simple_price_bitcoin_usd_minimal.json"), ["USD"])
    assert quote.prices == {"USD": 7952.29}
    assert quote.as_of is None


def test_coingecko_multi_currency_reply():
    # Hand-built, not captured (no verbatim multi-currency reply is public, see SOURCES.md):
    # the documented single-currency shape with every vs_currency gaining the same keys.
    document = {
        "bitcoin": {
            "usd": 67187.33,
            "usd_market_cap": 1317802988326.25,
            "usd_24h_vol": 31260929299.52,
            "usd_24h_change": 3.64,
            "eur": 62105.5,
            "eur_market_cap": 1218000000000.0,
            "eur_24h_vol": 28900000000.0,
            "eur_24h_change": 3.5,
            "gbp": 53210.75,
            "gbp_market_cap": 1043000000000.0,
            "cad": 91040.2,
            "cad_24h_change": -0.4,
            "jpy": 10175000,
            "jpy_24h_vol": 4.7e12,
            "last_updated_at": 1711356300,
        }
    }
    quote = parse_coingecko(document, ALL_FIAT)
    assert quote.prices == {"USD": 67187.33, "EUR": 62105.5, "GBP": 53210.75, "CAD": 91040.2, "JPY": 10175000.0}
    assert quote.as_of == 1711356300.0
    assert parse_coingecko(document, ["eur", "JPY"]).prices == {"EUR": 62105.5, "JPY": 10175000.0}


def test_coingecko_path():
    path = SOURCES["coingecko"].path
    assert path(["usd", "eur"]) == "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd,eur&include_last_updated_at=true"
    assert path(["USD", " Eur ", "usd"]) == path(["usd", "eur"])  # normalised and deduplicated
    assert (
        SOURCES["coingecko"].url(ALL_FIAT)
        == "https://api.coingecko.com/api/v3/simple/price?ids=bitcoin&vs_currencies=usd,eur,gbp,cad,jpy&include_last_updated_at=true"
    )
    with pytest.raises(ValueError):
        path([])
    with pytest.raises(ValueError):
        path(["usd&ids=ethereum"])


@pytest.mark.parametrize(
    "document",
    [
        [],
        "67187.33",
        None,
        {},
        {"ethereum": {"usd": 3500.0}},
        {"bitcoin": 67187.33},
        {"bitcoin": {}},
        {"bitcoin": {"usd_market_cap": 1.3e12, "last_updated_at": 1711356300}},
        {"bitcoin": {"usd": 0, "eur": -1, "gbp": None, "cad": "n/a"}},
        {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}},
    ],
)
def test_coingecko_unknown_shapes_refused(document):
    with pytest.raises(ShapeError, match="coingecko"):
        parse_coingecko(document, ALL_FIAT)


def test_coingecko_rate_limit_message_is_kept():
    with pytest.raises(ShapeError, match="Rate Limit"):
        parse_coingecko({"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}, ["usd"])


# --- CoinCap -----------------------------------------------------------------


def test_coincap_v2_string_price_and_millisecond_timestamp():
    quote = SOURCES["coincap"].parse(load("coincap_v2_assets_bitcoin.json"), ["usd"])
    assert quote.source == "coincap"
    assert quote.prices == {"USD": float("23363.4297331051475688")}
    assert quote.prices["USD"] == pytest.approx(23363.4297331051475688)
    assert quote.as_of == 1675571191.13  # 1675571191130 ms
    # marketCapUsd, volumeUsd24Hr, vwap24Hr are not prices; USD is all CoinCap v2 gives.
    assert parse_coincap(load("coincap_v2_assets_bitcoin.json")).prices.keys() == {"USD"}
    assert parse_coincap(load("coincap_v2_assets_bitcoin.json"), ["eur"]).prices == {}


def test_coincap_timestamp_in_seconds_also_read():
    assert parse_coincap({"data": {"priceUsd": "100"}, "timestamp": 1675571191}).as_of == 1675571191.0
    assert parse_coincap({"data": {"priceUsd": "100"}}).as_of is None


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {"error": "asset not found"},
        {"data": None, "timestamp": 1675571191130},
        {"data": [], "timestamp": 1675571191130},
        {"data": {"id": "bitcoin"}, "timestamp": 1675571191130},
        {"data": {"priceUsd": "0.0000000000000000"}},
        {"data": {"priceUsd": "-5"}},
        {"data": {"priceUsd": None}},
        {"data": {"priceUsd": "abc"}},
        {"data": {"id": "ethereum", "priceUsd": "1650.1"}},
    ],
)
def test_coincap_unknown_shapes_refused(document):
    with pytest.raises(ShapeError, match="coincap"):
        parse_coincap(document, ["usd"])


def test_coincap_path_ignores_currencies():
    assert SOURCES["coincap"].path(["usd"]) == "/v2/assets/bitcoin"
    assert SOURCES["coincap"].url([]) == "https://api.coincap.io/v2/assets/bitcoin"


# --- mempool.space -----------------------------------------------------------


def test_mempool_prices_capture():
    quote = SOURCES["mempool"].parse(load("mempool_v1_prices.json"), ALL_FIAT)
    assert quote == PriceQuote(
        source="mempool",
        prices={"USD": 69880.0, "EUR": 64823.0, "GBP": 55198.0, "CAD": 95154.0, "JPY": 10601000.0},
        as_of=1711854906.0,
    )
    # Everything it offers: CHF and AUD too, and "time" is not a currency.
    every = parse_mempool(load("mempool_v1_prices.json"))
    assert every.prices.keys() == {"USD", "EUR", "GBP", "CAD", "CHF", "AUD", "JPY"}
    assert every.prices["CHF"] == 63041.0 and every.prices["AUD"] == 107374.0


def test_mempool_prices_docs_example():
    quote = parse_mempool(load("mempool_v1_prices_DOCS.json"), ["usd", "jpy"])
    assert quote.prices == {"USD": 43753.0, "JPY": 6218915.0}
    assert quote.as_of == 1703252411.0


def test_mempool_zero_negative_and_junk_prices_dropped():
    # mempool's backend starts every currency at -1 and time at 0 (price-updater getEmptyPricesObj)
    # until a feed answers: neither is a price nor a time.
    document = {"time": 0, "USD": 69880, "EUR": 0, "GBP": -1, "CAD": "95154", "CHF": None, "AUD": "n/a", "Price": 5}
    quote = parse_mempool(document, ["usd", "eur", "gbp", "cad", "chf", "aud", "jpy"])
    assert quote.prices == {"USD": 69880.0, "CAD": 95154.0}
    assert quote.as_of is None


@pytest.mark.parametrize(
    "document",
    [[], "69880", {}, {"time": 1711854906}, {"time": 0, "USD": -1, "EUR": -1, "GBP": -1, "AUD": -1, "JPY": -1}, {"time": 1711854906, "USD": {"last": 1}}],
)
def test_mempool_unknown_shapes_refused(document):
    with pytest.raises(ShapeError, match="mempool"):
        parse_mempool(document, ["usd"])


def test_mempool_path_and_self_hosted_base_url():
    assert SOURCES["mempool"].path(ALL_FIAT) == "/api/v1/prices"
    assert SOURCES["mempool"].url(["usd"], "http://umbrel.local:3006/") == "http://umbrel.local:3006/api/v1/prices"


# --- blockchain.info ---------------------------------------------------------


def test_blockchain_info_ticker():
    document = load("blockchain_info_ticker.json")
    quote = SOURCES["blockchain_info"].parse(document, ["USD", "clp", "krw", "eur", "jpy", "pln"])
    assert quote == PriceQuote(
        source="blockchain_info",
        prices={
            "USD": 60741.29,
            "CLP": 42427778.59,  # written "4.242777859E7"
            "KRW": 67674273.07,  # written "6.767427307E7"
            "EUR": 50795.67,  # symbol "€"
            "JPY": 6628360.78,  # symbol "¥"
            "PLN": 230460.97,  # symbol "zł"
        },
        as_of=None,
    )
    every = parse_blockchain_info(document)
    assert len(every.prices) == 23
    assert every.prices["TWD"] == 1721134.94 and every.prices["THB"] == 1899805.45


def test_blockchain_info_uses_last_not_other_fields():
    document = {
        "USD": {"15m": 1.0, "last": 60741.29, "buy": 2.0, "sell": 3.0, "symbol": "$"},
        "EUR": {"15m": 50000.0, "buy": 50000.0, "sell": 50000.0, "symbol": "€"},  # no "last": no price
        "GBP": {"last": 0, "symbol": "£"},
        "CHF": {"last": "-3", "symbol": "CHF"},
        "SEK": {"last": "kr", "symbol": "kr"},
        "NZD": 84820.6,  # not an object
    }
    assert parse_blockchain_info(document, ["usd", "eur", "gbp", "chf", "sek", "nzd"]).prices == {"USD": 60741.29}


@pytest.mark.parametrize(
    "document",
    [[], None, {}, {"USD": 60741.29}, {"USD": {"15m": 60741.29}}, {"USD": {"last": 0, "symbol": "$"}}],
)
def test_blockchain_info_unknown_shapes_refused(document):
    with pytest.raises(ShapeError, match="blockchain_info"):
        parse_blockchain_info(document, ["usd"])


def test_blockchain_info_path():
    assert SOURCES["blockchain_info"].path(["usd"]) == "/ticker"
    assert SOURCES["blockchain_info"].url(["usd"]) == "https://blockchain.info/ticker"


# --- the catalogue -----------------------------------------------------------


def test_sources_catalogue():
    assert list(SOURCES) == ["coingecko", "coincap", "mempool", "blockchain_info"]
    assert {name: source.default_base_url for name, source in SOURCES.items()} == {
        "coingecko": "https://api.coingecko.com",
        "coincap": "https://api.coincap.io",
        "mempool": "https://mempool.space",
        "blockchain_info": "https://blockchain.info",
    }
    for name, source in SOURCES.items():
        assert isinstance(source, PriceSource) and source.name == name
        assert source.default_ttl_seconds == 60
        assert source.note and "\n" not in source.note
    with pytest.raises(AttributeError):
        SOURCES["mempool"].default_ttl_seconds = 1  # frozen: the catalogue is shared


@pytest.mark.parametrize("junk", [["u$d"], ["usd,eur"], [""], ["€"]])
def test_junk_currency_codes_refused_everywhere(junk):
    for source in SOURCES.values():
        with pytest.raises(ValueError):
            source.path(junk)
    with pytest.raises(ValueError):
        parse_mempool(load("mempool_v1_prices.json"), junk)


# --- disagreement ------------------------------------------------------------


def quoted(source: str, **prices: float) -> PriceQuote:
    return PriceQuote(source=source, prices=prices)


def test_disagreement_spread_over_median():
    quotes = [quoted("a", USD=100.0), quoted("b", USD=110.0), quoted("c", USD=102.0)]
    assert disagreement(quotes, "USD") == pytest.approx(10 / 102)  # (110 - 100) / median 102
    assert disagreement(quotes, "usd") == pytest.approx(10 / 102)
    # Two quotes: the median is their mean.
    assert disagreement([quoted("a", EUR=100.0), quoted("b", EUR=104.0)], "EUR") == pytest.approx(4 / 102)
    # Even count: median of 100, 101, 103, 120 is 102; spread 20.
    four = [quoted("a", USD=100.0), quoted("b", USD=120.0), quoted("c", USD=101.0), quoted("d", USD=103.0)]
    assert disagreement(four, "USD") == pytest.approx(20 / 102)
    assert disagreement([quoted("a", USD=5.0), quoted("b", USD=5.0)], "USD") == 0.0


def test_disagreement_needs_two_quotes_with_the_currency():
    quotes = [quoted("a", USD=100.0, EUR=90.0), quoted("b", USD=101.0), quoted("c")]
    assert disagreement(quotes, "EUR") is None
    assert disagreement(quotes, "JPY") is None
    assert disagreement([], "USD") is None
    assert disagreement(quotes, "USD") == pytest.approx(1 / 100.5)


def test_disagreement_between_recorded_replies():
    quotes = [
        parse_mempool(load("mempool_v1_prices.json"), ["usd"]),
        parse_blockchain_info(load("blockchain_info_ticker.json"), ["usd"]),
        parse_coincap(load("coincap_v2_assets_bitcoin.json"), ["usd"]),
    ]
    # Captures from different years: 69880, 60741.29, 23363.43 -> median 60741.29.
    assert disagreement(quotes, "USD") == pytest.approx((69880 - float("23363.4297331051475688")) / 60741.29)
