"""Network data from the user's own Bitcoin Core node over JSON-RPC.

Bitcoin Core speaks JSON-RPC over HTTP POST with basic auth: either the
`__cookie__:<hex>` pair it writes to <datadir>/.cookie at every start, or an
rpcuser/rpcpassword (or rpcauth) pair from bitcoin.conf. Several requests can
go in one POST as a JSON array (a batch); the replies carry the request ids.

Only read-only methods are ever sent (ALLOWED_METHODS): the exporter holds
credentials that could stop the node or spend from its wallet, so anything
else is refused before a request is made.

Every way a request can go wrong becomes a BitcoindError with a short `kind`
(a metric label value). What one snapshot asks and how the replies are read
is node.py.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from hashwatch import http
from hashwatch.polling import FetchError

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
