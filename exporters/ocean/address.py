"""Bitcoin payout addresses as Ocean knows users: validated before any request.

A typo in a payout address would otherwise poll Ocean forever for a user that
does not exist; the checksum catches it at start-up with a message that says so.
"""

from __future__ import annotations

from embit.script import address_to_scriptpubkey



def validate_address(text: str) -> str:
    """The address, trimmed; ValueError saying what is wrong otherwise.

    Accepts P2PKH and P2SH (base58check), segwit v0 (bech32) and taproot and
    later witness versions (bech32m); the checksums are verified by embit.
    """
    address = text.strip()
    if not address:
        raise ValueError("empty payout address")
    if "." in address:
        raise ValueError(f"{address!r}: give the payout address alone; worker names come from Ocean")
    lowered = address.lower()
    if lowered.startswith(("tb1", "bcrt1")) or address[0] in "mn2":
        raise ValueError(f"{address!r} is a testnet/regtest address; Ocean pays out on mainnet")
    if not (lowered.startswith("bc1") or address[0] in "13"):
        raise ValueError(f"{address!r} is not a Bitcoin address (expected bc1..., 1... or 3...)")
    if lowered.startswith("bc1") and address != lowered and address != address.upper():
        raise ValueError(f"{address!r}: a bech32 address may not mix upper and lower case")
    try:
        address_to_scriptpubkey(lowered if lowered.startswith("bc1") else address)
    except Exception:  # embit raises its own error types, and ValueError on odd input
        kind = "bech32/bech32m checksum, length or witness version" if lowered.startswith("bc1") else "base58check checksum or length"
        raise ValueError(f"{address!r} is not a valid Bitcoin address (wrong {kind})") from None
    return lowered if lowered.startswith("bc1") else address
