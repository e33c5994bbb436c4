"""The simulator's control API: set and clear faults over HTTP while it runs.

    GET    /                                 what this API offers, fault names
    GET    /faults                           every active fault, by miner
    POST   /faults                           {"fault": ..., params, + miners|profile|count|all}
    DELETE /faults[?fault=NAME]              clear on every miner (only NAME when given)
    GET    /miners/{address}                 profile, latency, uptime, faults
    GET    /miners/{address}/faults          that miner's faults
    PUT    /miners/{address}/faults          {"fault": ..., params}  (POST is the same)
    DELETE /miners/{address}/faults[/{fault}]  clear all, or one by name or key ("board_dead:1")

Bodies and answers are JSON; an invalid request is a 400 whose "error" names the
key at fault, an unknown miner a 404. docs/simulator.md has examples.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from .faults import FAULT_NAMES, FaultError, describe_errors, parse_fault
from .fleet import SimulatedFleet
from .selection import Selector

SELECTOR_KEYS = frozenset(Selector.model_fields)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _refuse(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"error": message}), content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text())
    except ValueError:
        raise _refuse(web.HTTPBadRequest, "body: not valid JSON") from None
    if not isinstance(data, dict):
        raise _refuse(web.HTTPBadRequest, "body: expected a JSON object")
    return data


class Control:
    def __init__(self, fleet: SimulatedFleet):
        self.fleet = fleet

    def _miner_faults(self, address: str) -> dict[str, Any]:
        return {"address": address, "faults": [f.public() for f in self.fleet.miner(address).faults]}

    def _known(self, request: web.Request) -> str:
        address = request.match_info["address"]
        if address not in self.fleet.by_address:
            raise _refuse(web.HTTPNotFound, f"{address} is not a simulated miner")
        return address

    async def index(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "miners": len(self.fleet),
                "port": self.fleet.port,
                "faults": list(FAULT_NAMES),
                "endpoints": [
                    "GET /faults", "POST /faults", "DELETE /faults",
                    "GET /miners/{address}", "GET|PUT|POST|DELETE /miners/{address}/faults",
                    "DELETE /miners/{address}/faults/{fault}",
                ],
            }
        )

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"miners": self.fleet.faults()})

    async def set_selected(self, request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            selector = Selector.model_validate({k: v for k, v in data.items() if k in SELECTOR_KEYS})
        except ValidationError as exc:
            return _error(400, describe_errors(exc))
        if not selector.given:
            return _error(400, "miners: select miners with miners, profile, count or all: true")
        try:
            spec = parse_fault({k: v for k, v in data.items() if k not in SELECTOR_KEYS})
            addresses = self.fleet.set_fault(spec, selector.addresses(self.fleet))
        except FaultError as exc:
            return _error(400, str(exc))
        return web.json_response({"fault": spec.public(), "miners": addresses})

    async def clear_all(self, request: web.Request) -> web.Response:
        names = request.query.getall("fault", []) or None
        return web.json_response({"cleared": self.fleet.clear_faults(names=names)})

    async def miner(self, request: web.Request) -> web.Response:
        return web.json_response(self.fleet.miner(self._known(request)).describe())

    async def miner_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._miner_faults(self._known(request)))

    async def set_one(self, request: web.Request) -> web.Response:
        address = self._known(request)
        try:
            self.fleet.set_fault(parse_fault(await _body(request)), [address])
        except FaultError as exc:
            return _error(400, str(exc))
        return web.json_response(self._miner_faults(address))

    async def clear_one(self, request: web.Request) -> web.Response:
        address = self._known(request)
        name = request.match_info.get("fault")
        cleared = self.fleet.clear_faults([address], None if name is None else [name])
        if name is not None and not cleared:
            return _error(404, f"{address} has no active {name} fault")
        return web.json_response(self._miner_faults(address))


def control_app(fleet: SimulatedFleet) -> web.Application:
    control = Control(fleet)
    app = web.Application()
    app.add_routes(
        [
            web.get("/", control.index),
            web.get("/faults", control.list_faults),
            web.post("/faults", control.set_selected),
            web.delete("/faults", control.clear_all),
            web.get("/miners/{address}", control.miner),
            web.get("/miners/{address}/faults", control.miner_faults),
            web.put("/miners/{address}/faults", control.set_one),
            web.post("/miners/{address}/faults", control.set_one),
            web.delete("/miners/{address}/faults", control.clear_one),
            web.delete("/miners/{address}/faults/{fault}", control.clear_one),
        ]
    )
    return app
