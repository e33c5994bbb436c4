"""A local JSON-RPC server that answers like Bitcoin Core, for tests.

It checks HTTP basic auth, answers single and batch (JSON array) requests, and
replies the way Core does to a JSON-RPC 1.0 client: HTTP 200 for a result,
HTTP 500 (404 for an unknown method) with the error object for a failed single
call, HTTP 200 with per-element errors for a batch, and a bare 401 with
WWW-Authenticate for bad credentials.

Methods answer from a value (deep-copied per call) or a callable(params) that
returns the result or raises RpcFault. Scripts: an error object for a method
(fail), raw replies for the next requests (script_raw, e.g. 403 or a text
503), a delay, 401s for the next requests, and a warm-up error (-28) for the
first N calls. Every authenticated call's method and params are recorded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web

from tests.support.servers import AppThread

WARMUP_CODE = -28  # RPC_IN_WARMUP
WARMUP_MESSAGE = "Loading block index…"


class RpcFault(Exception):
    """Raised by a method callable to answer with a JSON-RPC error object."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class JsonRpcServer:
    """Serve on 127.0.0.1 (free port) from a daemon thread. Use as a context manager.

    State set from the test thread between requests is read by the server
    thread; plain attribute and list operations are enough for that.
    """

    def __init__(
        self,
        methods: dict[str, Any | Callable[[list], Any]] | None = None,
        *,
        user: str = "hashwatch",
        password: str = "correct horse battery staple",
    ):
        self._defaults = (dict(methods or {}), user, password)
        self._thread: AppThread | None = None
        self.url = ""
        self.reset()

    def reset(self) -> None:
        """Back to the constructor's methods and credentials; no scripts, empty records."""
        methods, self.user, self.password = self._defaults
        self.methods: dict[str, Any] = dict(methods)
        self.errors: dict[str, tuple[int, str]] = {}  # method -> (code, message), every call
        self.raw_replies: list[tuple[int, bytes]] = []  # next requests get these, auth unchecked
        self.unauthorized_next = 0  # next N requests: 401 whatever the credentials
        self.warmup_calls = 0  # next N calls (batch elements count one each): warm-up error
        self.warmup_error = (WARMUP_CODE, WARMUP_MESSAGE)
        self.delay = 0.0  # seconds before every reply
        self.reverse_batches = False  # answer batches in reverse order (ids still match)
        self.http_requests = 0  # every POST, authorised or not
        self.received: list[str] = []  # methods of authorised calls, in order
        self.calls: list[tuple[str, list]] = []  # (method, params) of authorised calls
        self.batch_sizes: list[int] = []  # calls per authorised POST (1 for a single call)

    # --- scripting -------------------------------------------------------------------

    def fail(self, method: str, code: int, message: str) -> None:
        """Answer every call of `method` with this error object."""
        self.errors[method] = (code, message)

    def script_raw(self, status: int, body: bytes | str = b"", times: int = 1) -> None:
        """Answer the next `times` requests with this status and body, as is."""
        raw = body.encode() if isinstance(body, str) else body
        self.raw_replies.extend([(status, raw)] * times)

    def warm_up(self, calls: int, code: int = WARMUP_CODE, message: str = WARMUP_MESSAGE) -> None:
        """Answer the next `calls` calls with Core's warm-up error."""
        self.warmup_calls = calls
        self.warmup_error = (code, message)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> JsonRpcServer:
        self._thread = AppThread(self.app).start()
        self.url = self._thread.url + "/"
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self._handle)
        app.router.add_post("/wallet/{name}", self._handle)  # Core's wallet endpoint, same handler
        return app

    # --- serving ---------------------------------------------------------------------

    def _authorised(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return (user, password) == (self.user, self.password)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.http_requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.raw_replies:
            status, body = self.raw_replies.pop(0)
            return web.Response(status=status, body=body)
        if self.unauthorized_next > 0 or not self._authorised(request.headers.get("Authorization")):
            self.unauthorized_next = max(0, self.unauthorized_next - 1)
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        try:
            document = json.loads(await request.read())
        except ValueError:
            return web.json_response(_error(None, -32700, "Parse error"), status=500)
        if isinstance(document, list):
            self.batch_sizes.append(len(document))
            replies = [self._answer(item) for item in document]
            if self.reverse_batches:
                replies.reverse()
            return web.json_response(replies)
        self.batch_sizes.append(1)
        reply = self._answer(document)
        status = 200
        if reply["error"] is not None:
            status = 404 if reply["error"]["code"] == -32601 else 500
        return web.json_response(reply, status=status)

    def _answer(self, call: Any) -> dict:
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return _error(None, -32600, "Invalid Request object")
        method, id_ = call["method"], call.get("id")
        params = call.get("params", [])
        self.received.append(method)
        self.calls.append((method, params))
        if self.warmup_calls > 0:
            self.warmup_calls -= 1
            return _error(id_, *self.warmup_error)
        if method in self.errors:
            return _error(id_, *self.errors[method])
        if method not in self.methods:
            return _error(id_, -32601, "Method not found")
        handler = self.methods[method]
        try:
            result = handler(params) if callable(handler) else copy.deepcopy(handler)
        except RpcFault as fault:
            return _error(id_, fault.code, fault.message)
        return {"result": result, "error": None, "id": id_}


def _error(id_: Any, code: int, message: str) -> dict:
    return {"result": None, "error": {"code": code, "message": message}, "id": id_}
