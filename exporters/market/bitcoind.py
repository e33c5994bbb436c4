"""Network data from the user's own Bitcoin Core node over JSON-RPC.

Bitcoin Core speaks JSON-RPC over HTTP POST with basic auth: either the
`__cookie__:<hex>` pair it writes to <datadir>/.cookie at every start, or an
rpcuser/rpcpassword (or rpcauth) pair from bitcoin.conf. Several requests can
go in one POST as a JSON array (a batch); the replies carry the request ids.

Only read-only methods are ever sent (ALLOWED_METHODS): the exporter holds
credentials that could stop the node or spend from its wallet, so anything
else is refused before a request is made.

Every way a request can go wrong becomes a BitcoindError with a short `kind`
(a metric label value); a reply whose JSON is valid but not shaped like the
documented result raises hashwatch.shape.ShapeError, as the other parsers do.
"""

from __future__ import annotations

import base64
import logging
import math
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from exporters.market.economics import epoch_start_height
from exporters.market.economics import next_retarget_height as next_retarget_height_of
from exporters.market.model import NetworkSnapshot
from exporters.market.network import plausible_snapshot
from hashwatch import http
from hashwatch.numbers import HEIGHT, SATOSHIS_PER_BTC, to_float
from hashwatch.polling import FetchError
from hashwatch.shape import ShapeError

log = logging.getLogger(__name__)


# Read-only RPCs. Nothing that changes node state, touches a wallet or the
# network (stop, sendtoaddress, setban, submitblock, ...) may ever be sent.
ALLOWED_METHODS = frozenset(
    {
        "getblockchaininfo",
        "getmininginfo",
        "getmempoolinfo",
        "getnetworkhashps",
        "getblockstats",
        "estimatesmartfee",
        "getblockhash",
        "getblockheader",
        "getbestblockhash",
        "getblockcount",
        "uptime",
    }
)

HASHPS_BLOCKS = 120  # getnetworkhashps window; also what getmininginfo uses
# estimatesmartfee confirmation target (blocks) -> fee_rates target, named as
# mempool.space names its estimates (fastestFee: the next block, halfHourFee: 3
# blocks, hourFee: 6 blocks) so the series keeps its labels whichever source is
# chosen; economy is the node's estimate for a day (144 blocks). The fifth name,
# minimum, is getmempoolinfo's mempoolminfee.
FEE_TARGETS = {1: "fastest", 3: "30m", 6: "1h", 144: "economy"}
MINIMUM_FEE_TARGET = "minimum"
BLOCKSTATS = ["height", "totalfee", "time"]  # only what we use: Core computes just these
RPC_IN_WARMUP = -28  # Core's code while it loads the block index, verifies blocks, ...


class BitcoindError(FetchError):
    """A failed request. kind: unauthorized (401/403), connection_error, timeout,
    http_error, rpc_error (a JSON-RPC error object: `code` and `rpc_message` keep
    the node's own, e.g. -28 "Loading block index…" while it warms up), malformed,
    too_large (a reply body over the cap, hashwatch.http.MAX_BODY_BYTES by default)
    or redirect (a 3xx: never followed, it would carry the credentials along)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        code: int | None = None,
        rpc_message: str | None = None,
        method: str | None = None,
    ):
        super().__init__(kind, message)
        self.message = message
        self.code = code
        self.rpc_message = rpc_message
        self.method = method


def _read_cookie(path: Path) -> tuple[str, str]:
    """(user, password) from a cookie file; ValueError naming the path, never the secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"cannot read the Bitcoin Core cookie file {path}: {reason}") from None
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise ValueError(f"{path} is not a Bitcoin Core cookie file (expected __cookie__:<password>)")
    return user, password


class BitcoindAuth:
    """Credentials for the node: a cookie file, or a user and password (exactly one).

    The cookie is read now, so a wrong path fails at start-up, and again after a
    401: Bitcoin Core writes a new cookie every time it restarts.
    """

    def __init__(
        self,
        *,
        cookie_file: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
    ):
        has_password = user is not None or password is not None
        if cookie_file is not None and has_password:
            raise ValueError("give either a cookie file or a user and password for bitcoind, not both")
        if cookie_file is None and not has_password:
            raise ValueError("bitcoind needs a cookie file (<datadir>/.cookie) or a user and password")
        if cookie_file is None and (not user or not password):
            raise ValueError("bitcoind user/password auth needs both a non-empty user and a password")
        if user is not None and ":" in user:
            raise ValueError("a bitcoind user name cannot contain ':' (HTTP basic auth)")
        self.cookie_file = Path(cookie_file).expanduser() if cookie_file is not None else None
        if self.cookie_file is not None:
            self.user, self.password = _read_cookie(self.cookie_file)
        else:
            self.user, self.password = str(user), str(password)

    @property
    def uses_cookie(self) -> bool:
        return self.cookie_file is not None

    def authorization(self) -> str:
        """The HTTP basic Authorization header value.

        Built here rather than with aiohttp.BasicAuth (deprecated in 3.14, and
        latin-1 by default): UTF-8, since Core compares the raw bytes of bitcoin.conf.
        """
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def reload(self) -> bool:
        """Re-read the cookie file. True when the credentials changed (worth a retry).

        Raises ValueError when the file cannot be read (the node may be restarting).
        Always False for user/password auth.
        """
        if self.cookie_file is None:
            return False
        credentials = _read_cookie(self.cookie_file)
        changed = credentials != (self.user, self.password)
        self.user, self.password = credentials
        return changed

    def __repr__(self) -> str:  # never the password
        if self.cookie_file is not None:
            return f"BitcoindAuth(cookie_file={str(self.cookie_file)!r})"
        return f"BitcoindAuth(user={self.user!r})"


def _check_allowed(methods: list[str]) -> None:
    refused = sorted({m for m in methods if m not in ALLOWED_METHODS})
    if refused:
        raise ValueError(
            f"refusing to send bitcoind RPC {', '.join(map(repr, refused))}: only read-only methods "
            f"({', '.join(sorted(ALLOWED_METHODS))}) are allowed"
        )


def _rpc_error(method: str, error: Any) -> BitcoindError:
    """A BitcoindError for a JSON-RPC error object {"code": n, "message": "..."}."""
    if isinstance(error, dict):
        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        text = str(error.get("message", ""))
    else:  # not Core's shape, but still an error the node reported
        code, text = None, str(error)
    suffix = f" (code {code})" if code is not None else ""
    return BitcoindError("rpc_error", f"{method}: {text}{suffix}", code=code, rpc_message=text, method=method)


class BitcoindClient:
    """JSON-RPC client for one Bitcoin Core node. Raises only BitcoindError, and
    ValueError for a method outside ALLOWED_METHODS (before any request)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        auth: BitcoindAuth,
        timeout: float,
        max_bytes: int = http.MAX_BODY_BYTES,
    ):
        self.session = session
        self.url = url
        self.auth = auth
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_bytes = max_bytes  # cap on a reply body: past it, too_large

    async def call(self, method: str, *params: Any) -> Any:
        """One RPC; returns its `result`."""
        _check_allowed([method])
        body = orjson.dumps({"jsonrpc": "1.0", "id": "hashwatch", "method": method, "params": list(params)})
        status, document = await self._post(body, method)
        if isinstance(document, dict):
            # Core answers a failed JSON-RPC 1.0 call with HTTP 500 (404 for an
            # unknown method) and the error object in the body: the object says more.
            error = document.get("error")
            if error is not None:
                raise _rpc_error(method, error)
            if status < 400 and "result" in document:
                return document["result"]
        if status >= 400:
            raise BitcoindError("http_error", f"{method}: HTTP {status}")
        raise BitcoindError("malformed", f"{method}: no 'result' in the reply")

    async def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Several RPCs in one POST; results in the order of `calls`.

        An error in any element raises its rpc_error (naming the method).
        """
        outcomes = await self.batch_outcomes(calls)
        for outcome in outcomes:
            if isinstance(outcome, BitcoindError):
                raise outcome
        return outcomes

    async def batch_outcomes(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Like batch(), but an element's RPC error is returned in its place (a
        BitcoindError) instead of raised. Transport and envelope failures raise."""
        _check_allowed([method for method, _ in calls])
        if not calls:
            return []
        ids = [f"hashwatch-{i}" for i in range(len(calls))]
        body = orjson.dumps(
            [
                {"jsonrpc": "1.0", "id": id_, "method": method, "params": list(params)}
                for id_, (method, params) in zip(ids, calls)
            ]
        )
        what = f"batch of {len(calls)} ({calls[0][0]}, ...)" if len(calls) > 1 else calls[0][0]
        status, document = await self._post(body, what)
        if not isinstance(document, list):
            # The whole batch was refused (parse error, ...): one error object.
            if isinstance(document, dict) and document.get("error") is not None:
                raise _rpc_error(what, document["error"])
            kind = "http_error" if status >= 400 else "malformed"
            raise BitcoindError(kind, f"{what}: HTTP {status}, not a batch reply")
        # The JSON-RPC spec lets replies come in any order: match them by id.
        by_id = {
            reply["id"]: reply for reply in document if isinstance(reply, dict) and isinstance(reply.get("id"), str)
        }
        outcomes: list[Any] = []
        for id_, (method, _) in zip(ids, calls):
            reply = by_id.get(id_)
            if reply is None:
                raise BitcoindError("malformed", f"{what}: no reply with id {id_!r} ({method})")
            if reply.get("error") is not None:
                outcomes.append(_rpc_error(method, reply["error"]))
            elif "result" not in reply:
                raise BitcoindError("malformed", f"{what}: the reply to {method} has no 'result'")
            else:
                outcomes.append(reply["result"])
        return outcomes

    async def _post(self, body: bytes, what: str) -> tuple[int, Any]:
        """POST body; (status, decoded JSON). Handles auth, re-reading the cookie once on 401."""
        status, raw = await self._send(body, what)
        if status == 401 and self.auth.uses_cookie:
            try:
                changed = self.auth.reload()
            except ValueError as exc:
                raise BitcoindError("unauthorized", f"{what}: HTTP 401, and {exc}") from None
            if changed:  # the node restarted and wrote a new cookie
                status, raw = await self._send(body, what)
        if status in (401, 403):
            hint = " (rpcallowip?)" if status == 403 else f" for {self.auth!r}"
            raise BitcoindError("unauthorized", f"{what}: HTTP {status}{hint}")
        try:
            return status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            # e.g. 503 "Work queue depth exceeded" is plain text.
            kind = "http_error" if status >= 400 else "malformed"
            raise BitcoindError(kind, f"{what}: HTTP {status}, not JSON: {raw[:60]!r}") from None

    async def _send(self, body: bytes, what: str) -> tuple[int, bytes]:
        try:
            async with self.session.post(
                self.url,
                data=body,
                timeout=self.timeout,
                headers={
                    "Authorization": self.auth.authorization(),
                    "Content-Type": "application/json",
                    "User-Agent": http.USER_AGENT,
                },
                allow_redirects=False,
            ) as response:
                if response.status in http.REDIRECT_STATUSES:
                    # A JSON-RPC endpoint has no reason to redirect, and following
                    # would send the node's credentials elsewhere.
                    location = response.headers.get("Location", "")
                    raise BitcoindError(
                        "redirect", f"{what}: HTTP {response.status} redirect to {location[:80]!r}, not followed"
                    )
                try:
                    return response.status, await http.read_body(response, self.max_bytes, f"{what}: {self.url}")
                except FetchError as exc:  # too_large
                    raise BitcoindError(exc.kind, str(exc)) from None
        except TimeoutError:  # before ClientError: ServerTimeoutError is both
            raise BitcoindError("timeout", f"{what}: no answer from {self.url} in {self.timeout.total:g} s") from None
        except aiohttp.ClientError as exc:
            raise BitcoindError("connection_error", f"{what}: {self.url}: {exc}") from None


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
