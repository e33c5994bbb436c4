"""The `ocean:` config section: payout addresses are checked before any request."""

import pytest

from hashwatch.config import ConfigError, parse_config
from hashwatch.app.settings import HashwatchConfig
from exporters.ocean.address import validate_address

# BIP-173/BIP-350 test vectors and well-known mainnet addresses.
VALID = {
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0": "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    " 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 ": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    "3QomtEj5nfzEkxPXoVD3hvxgJDzA6M6evt": "3QomtEj5nfzEkxPXoVD3hvxgJDzA6M6evt",
}

INVALID = {
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5": "checksum",  # last character changed
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd": "checksum",  # v1 with a bech32 (not m) checksum
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3": "base58check",
    "bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4": "mix upper and lower case",
    "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx": "testnet",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.rig1": "worker names come from Ocean",
    "0x52908400098527886E0F7030069857D2E4169EE7": "not a Bitcoin address",
    "": "empty",
}


@pytest.mark.parametrize("text, expected", VALID.items())
def test_valid_addresses_are_normalized(text, expected):
    assert validate_address(text) == expected


@pytest.mark.parametrize("text, reason", INVALID.items())
def test_invalid_addresses_say_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        validate_address(text)


def test_config_error_names_the_key_and_the_problem():
    with pytest.raises(ConfigError) as error:
        parse_config(HashwatchConfig, {"ocean": {"addresses": ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"]}}, "hw.yml")
    message = str(error.value)
    assert "hw.yml" in message and "ocean.addresses" in message and "checksum" in message


def test_config_rejects_unknown_keys_duplicates_and_bad_urls():
    for bad, key in (
        ({"ocean": {"adresses": []}}, "ocean.adresses: unknown key"),
        ({"ocean": {"addresses": ["3QomtEj5nfzEkxPXoVD3hvxgJDzA6M6evt"] * 2}}, "listed twice"),
        ({"ocean": {"api_url": "ftp://example"}}, "http"),
        ({"ocean": {"intervals": {"hashrate": 0}}}, "ocean.intervals.hashrate"),
    ):
        with pytest.raises(ConfigError, match=key):
            parse_config(HashwatchConfig, bad, "hw.yml")


def test_defaults_are_polite():
    config = parse_config(HashwatchConfig, {"ocean": {"addresses": ["3QomtEj5nfzEkxPXoVD3hvxgJDzA6M6evt"]}}).ocean
    assert config.api_url == "https://api.ocean.xyz/v1"
    assert config.intervals.hashrate >= 60 and config.intervals.earnings >= 600
    assert config.timeout_seconds == 10
