"""Network data from the user's own Bitcoin Core node: what one snapshot asks, and how it is read.

`snapshot()` asks the node (through bitcoind.BitcoindClient, read-only methods only)
for the chain tip, difficulty, network hashrate, fee estimates, the mempool's minimum
fee and a day of block stats, and turns the replies into a model.NetworkSnapshot in
base units, checked against the plausible ranges every network source shares.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from hashwatch.consensus import epoch_start_height
from hashwatch.consensus import next_retarget_height as next_retarget_height_of
from hashwatch.numbers import HEIGHT, SATOSHIS_PER_BTC, to_float
from hashwatch.shape import ShapeError

from .bitcoind import BitcoindClient, BitcoindError
from .model import NetworkSnapshot
from .network import plausible_snapshot

log = logging.getLogger(__name__)

HASHPS_BLOCKS = 120  # getnetworkhashps window; also what getmininginfo uses
# estimatesmartfee confirmation target (blocks) -> fee_rates target, named as
# mempool.space names its estimates (fastestFee: the next block, halfHourFee: 3
# blocks, hourFee: 6 blocks) so the series keeps its labels whichever source is
# chosen; economy is the node's estimate for a day (144 blocks). The fifth name,
# minimum, is getmempoolinfo's mempoolminfee.
FEE_TARGETS = {1: "fastest", 3: "30m", 6: "1h", 144: "economy"}
MINIMUM_FEE_TARGET = "minimum"
BLOCKSTATS = ["height", "totalfee", "time"]  # only what we use: Core computes just these


def _integer(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ShapeError(f"{what}: expected a non-negative integer, got {value!r}")
    return value


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ShapeError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def sat_per_vbyte(btc_per_kvb: float) -> float:
    """estimatesmartfee's BTC/kvB as sat/vB: x 1e8 sat/BTC, / 1000 vB/kvB.

    Rounded to 0.001 sat/vB (1 sat/kvB), the resolution of an 8-decimal BTC/kvB
    figure, so 0.00004011 gives 4.011 and not 4.0110000000000001.
    """
    return round(btc_per_kvb * SATOSHIS_PER_BTC / 1000, 3)


async def snapshot(client: BitcoindClient, fee_blocks: int = 144) -> NetworkSnapshot:
    """The network as the node sees it, in three POSTs:

    1. getblockchaininfo, getmininginfo, getnetworkhashps(120), getmempoolinfo, estimatesmartfee(1, 3, 6, 144)
    2. getblockhash(start of the current epoch) and getblockstats for the last `fee_blocks` blocks
    3. getblockheader(that hash)

    Conversions:
    - height = getblockchaininfo.blocks (the fully validated tip); difficulty from the
      same reply, else getmininginfo.difficulty.
    - hashrate (H/s) = getnetworkhashps over the last 120 blocks, which Core already
      returns in hashes per second; else getmininginfo.networkhashps (the same estimate).
      A non-positive value (no blocks to average) is treated as missing.
    - next_retarget_height = (height // 2016 + 1) * 2016; blocks_until_retarget =
      next_retarget_height - height; previous_retarget_time = header time (unix s) of
      block (height // 2016) * 2016, the first block mined at the current difficulty.
    - average_fees_per_block (sats) = mean of getblockstats.totalfee (already in sats;
      fees only, the subsidy is not included) over the last `fee_blocks` blocks.
    - fee_rates (sat/vB, the targets of model.FEE_TARGETS, as mempool.space names them):
      fastest, 30m, 1h and economy = estimatesmartfee(1, 3, 6, 144).feerate (BTC/kvB)
      x 1e8 / 1000, by the requested target even when Core answers for a longer one
      (it answers 2 for 1); a reply with "errors" and no feerate leaves that target
      out. minimum = getmempoolinfo.mempoolminfee (the larger of minrelaytxfee and
      the full mempool's own minimum), else minrelaytxfee, converted the same way.

    Transport, auth and envelope failures raise BitcoindError, and so does an RPC
    error on getblockchaininfo (e.g. -28 while the node warms up). RPC errors on the
    other parts only leave their fields None: a pruned node cannot answer
    getblockstats for pruned blocks, but still knows the tip and difficulty.
    estimated_retarget_time and estimated_difficulty_change are left to the
    economics module, which derives them from previous_retarget_time.
    """
    if fee_blocks < 1:
        raise ValueError("fee_blocks must be at least 1")
    first = [("getblockchaininfo", []), ("getmininginfo", []), ("getnetworkhashps", [HASHPS_BLOCKS])]
    first += [("getmempoolinfo", [])]
    first += [("estimatesmartfee", [target]) for target in FEE_TARGETS]
    chain, mining, hashps, mempool, *estimates = await client.batch_outcomes(first)
    if isinstance(chain, BitcoindError):
        raise chain
    chain = _object(chain, "getblockchaininfo")
    # Checked before it picks the blocks to ask about; every other value at the end (plausible_snapshot).
    height = HEIGHT.check(_integer(chain.get("blocks"), "getblockchaininfo.blocks"), "bitcoind getblockchaininfo.blocks")
    difficulty = to_float(chain.get("difficulty"))

    mining_hashps = None
    if isinstance(mining, BitcoindError):
        log.debug("bitcoind getmininginfo failed: %s", mining)
    else:
        mining = _object(mining, "getmininginfo")
        mining_difficulty = to_float(mining.get("difficulty"))
        mining_hashps = to_float(mining.get("networkhashps"))
        if difficulty is None:
            difficulty = mining_difficulty
        elif (
            mining_difficulty is not None
            and mining.get("blocks") == height  # the tip may move between the two
            and not math.isclose(difficulty, mining_difficulty, rel_tol=1e-9)
        ):
            log.warning("bitcoind: getblockchaininfo difficulty %g != getmininginfo %g", difficulty, mining_difficulty)

    hashrate = None if isinstance(hashps, BitcoindError) else to_float(hashps)
    if hashrate is None or hashrate <= 0:
        hashrate = mining_hashps if mining_hashps is not None and mining_hashps > 0 else None

    fee_rates: dict[str, float] = {}
    for (target, name), estimate in zip(FEE_TARGETS.items(), estimates):
        if isinstance(estimate, BitcoindError):
            log.debug("bitcoind estimatesmartfee(%d) failed: %s", target, estimate)
            continue
        feerate = to_float(_object(estimate, f"estimatesmartfee({target})").get("feerate"))
        if feerate is None or feerate < 0:  # "errors": not enough data yet (fresh node, regtest)
            continue
        fee_rates[name] = sat_per_vbyte(feerate)
    if isinstance(mempool, BitcoindError):
        log.debug("bitcoind getmempoolinfo failed: %s", mempool)
    else:
        mempool = _object(mempool, "getmempoolinfo")
        minimum = to_float(mempool.get("mempoolminfee"))
        if minimum is None or minimum < 0:
            minimum = to_float(mempool.get("minrelaytxfee"))
        if minimum is not None and minimum >= 0:
            fee_rates[MINIMUM_FEE_TARGET] = sat_per_vbyte(minimum)

    epoch_start = epoch_start_height(height)
    next_retarget_height = next_retarget_height_of(height)
    heights = range(max(0, height - fee_blocks + 1), height + 1)

    second = [("getblockhash", [epoch_start])] + [("getblockstats", [h, BLOCKSTATS]) for h in heights]
    epoch_hash, *stats = await client.batch_outcomes(second)

    average_fees = None
    failed = next((s for s in stats if isinstance(s, BitcoindError)), None)
    if failed is not None:
        log.info("bitcoind: no average fees (%s)", failed)  # pruned node, most likely
    else:
        total = 0
        for h, block in zip(heights, stats):
            block = _object(block, f"getblockstats({h})")
            if block.get("height") != h:
                raise ShapeError(f"getblockstats({h}): reply is for height {block.get('height')!r}")
            total += _integer(block.get("totalfee"), f"getblockstats({h}).totalfee")
        average_fees = total / len(heights)

    previous_retarget_time = None
    if isinstance(epoch_hash, BitcoindError):
        log.info("bitcoind: no previous retarget time (%s)", epoch_hash)
    else:
        if not isinstance(epoch_hash, str):
            raise ShapeError(f"getblockhash({epoch_start}): expected a hash string, got {epoch_hash!r}")
        [header] = await client.batch_outcomes([("getblockheader", [epoch_hash])])
        if isinstance(header, BitcoindError):
            log.info("bitcoind: no previous retarget time (%s)", header)
        else:
            header = _object(header, f"getblockheader({epoch_hash})")
            if header.get("height", epoch_start) != epoch_start:
                raise ShapeError(f"getblockheader({epoch_hash}): height {header.get('height')!r}, not {epoch_start}")
            previous_retarget_time = to_float(header.get("time"))

    # A value out of its plausible range fails the poll (implausible), as for the public sources.
    return plausible_snapshot(
        NetworkSnapshot(
            source="bitcoind",
            height=height,
            difficulty=difficulty,
            hashrate=hashrate,
            next_retarget_height=next_retarget_height,
            blocks_until_retarget=next_retarget_height - height,
            previous_retarget_time=previous_retarget_time,
            average_fees_per_block=average_fees,
            fee_rates=fee_rates,
        ),
        "bitcoind",
    )
