"""Tests of the scripted loopback HTTP server used to test HTTP API clients."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.cgminer_fixtures import fixture_path
from tests.support.replay_server import Recorded, ReplayServer, Reply

FIXTURE = fixture_path("errors/antminer_s21_invalid_command.json")
TIMEOUT = 5  # generous client timeout for requests that should be answered


@pytest.fixture
def srv():
    with ReplayServer() as server:
        yield server


def get(srv: ReplayServer, path: str, **kw) -> requests.Response:
    kw.setdefault("timeout", TIMEOUT)
    return requests.get(srv.url + path, **kw)


def test_url_and_port_point_at_loopback(srv):
    assert srv.port > 0
    assert srv.url == f"http://127.0.0.1:{srv.port}"


def test_scripted_replies_are_served_in_order_and_the_last_repeats(srv):
    srv.route("/a", Reply(body="one"), Reply(status=503, body="two"), Reply(body="three"))
    answers = [(r.status_code, r.text) for r in (get(srv, "/a") for _ in range(5))]
    assert answers == [(200, "one"), (503, "two"), (200, "three"), (200, "three"), (200, "three")]


def test_route_replaces_the_script_and_restarts_it(srv):
    srv.route("/a", Reply(body="old1"), Reply(body="old2"))
    assert get(srv, "/a").text == "old1"
    srv.route("/a", Reply(body="new1"), Reply(body="new2"))
    assert [get(srv, "/a").text for _ in range(3)] == ["new1", "new2", "new2"]


def test_each_scripted_reply_is_served_once_under_concurrency(srv):
    srv.route("/n", *(Reply(body=str(i)) for i in range(20)), Reply(body="last"))
    with ThreadPoolExecutor(max_workers=10) as pool:
        bodies = list(pool.map(lambda _: get(srv, "/n").text, range(20)))
    assert sorted(bodies, key=int) == [str(i) for i in range(20)]
    assert get(srv, "/n").text == "last"


def test_dict_and_list_bodies_are_json(srv):
    srv.route("/d", Reply(body={"hashrate": 1.5e15, "workers": ["a", "b"]}))
    srv.route("/l", Reply(body=[1, 2, 3]))
    r = get(srv, "/d")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"hashrate": 1.5e15, "workers": ["a", "b"]}
    assert r.headers["Content-Length"] == str(len(r.content))
    r = get(srv, "/l")
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == [1, 2, 3]


def test_str_and_bytes_bodies_are_sent_as_given(srv):
    srv.route("/s", Reply(body="héllo"))
    srv.route("/b", Reply(body=b"\x00\xffraw"))
    r = get(srv, "/s")
    assert r.content == "héllo".encode("utf-8")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    r = get(srv, "/b")
    assert r.content == b"\x00\xffraw"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_malformed_json_looking_body_claims_json(srv):
    srv.route("/bad", Reply(body='{"hashrate": 12'))
    r = get(srv, "/bad")
    assert r.headers["Content-Type"] == "application/json"
    assert r.text == '{"hashrate": 12'
    with pytest.raises(requests.JSONDecodeError):
        r.json()


def test_explicit_headers_win_over_defaults(srv):
    srv.route("/h", Reply(body={"a": 1}, headers={"content-type": "text/html", "X-Api": "v1"}))
    r = get(srv, "/h")
    assert r.headers["Content-Type"] == "text/html"
    assert r.headers["X-Api"] == "v1"
    assert r.json() == {"a": 1}


def test_reply_json_encodes_any_value(srv):
    srv.route("/j", Reply.json("just a string", status=201, headers={"X-A": "1"}))
    r = get(srv, "/j")
    assert (r.status_code, r.headers["Content-Type"], r.headers["X-A"]) == (201, "application/json", "1")
    assert r.json() == "just a string"


def test_reply_file_serves_a_fixture(srv):
    srv.route("/cmd", Reply.file(FIXTURE, status=400))
    r = get(srv, "/cmd")
    assert r.status_code == 400
    assert r.content == FIXTURE.read_bytes()
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["STATUS"][0]["Code"] == 14


def test_head_sends_headers_only(srv):
    srv.route("/x", Reply(body={"k": "v"}))
    r = requests.head(srv.url + "/x", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Length"] == str(len(json.dumps({"k": "v"})))
    assert [rec.method for rec in srv.requests("/x")] == ["HEAD"]


def test_delay_is_honoured(srv):
    srv.route("/slow", Reply(body="late", delay=0.3))
    start = time.monotonic()
    r = get(srv, "/slow")
    assert r.text == "late"
    assert time.monotonic() - start >= 0.3


def test_slow_route_does_not_block_a_parallel_request(srv):
    srv.route("/slow", Reply(body="slow", delay=0.6))
    srv.route("/fast", Reply(body="fast"))
    done: dict[str, float] = {}
    start = time.monotonic()

    def fetch(path: str) -> None:
        assert get(srv, path).text == path[1:]
        done[path] = time.monotonic() - start

    slow = threading.Thread(target=fetch, args=("/slow",))
    slow.start()
    deadline = time.monotonic() + 2
    while not srv.requests("/slow") and time.monotonic() < deadline:
        time.sleep(0.01)  # make sure the slow request is in flight first
    assert len(srv.requests("/slow")) == 1
    fast = threading.Thread(target=fetch, args=("/fast",))
    fast.start()
    fast.join(TIMEOUT)
    slow.join(TIMEOUT)
    assert done["/fast"] < 0.4
    assert done["/slow"] >= 0.6
    assert done["/fast"] < done["/slow"]


def handler_threads(port: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"replay-handler-{port}" and t.is_alive()]


def test_hang_times_out_the_client_and_stop_stays_prompt():
    server = ReplayServer().start()
    port = server.port
    try:
        server.route("/hang", Reply(hang=True))
        with pytest.raises(requests.Timeout):
            requests.get(server.url + "/hang", timeout=0.3)
        # Keep one hanging request in flight while stopping.
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=3)
        raw.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 2
        while len(server.requests("/hang")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(server.requests("/hang")) == 2
    finally:
        start = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - start
    assert elapsed < 3
    with raw:
        assert raw.recv(1024) == b""  # dropped, never answered
    assert handler_threads(port) == []  # the hanging handlers were released, not abandoned


def test_stop_is_prompt_with_a_long_delay_and_an_idle_keepalive_connection():
    server = ReplayServer().start()
    port = server.port
    server.route("/ok", Reply(body="ok"))
    server.route("/slow", Reply(body="never", delay=30))
    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
    idle.request("GET", "/ok")
    assert idle.getresponse().read() == b"ok"
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=3)
    slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    deadline = time.monotonic() + 2
    while not server.requests("/slow") and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 3
    assert handler_threads(port) == []
    with slow:
        assert slow.recv(1024) == b""
    assert idle.sock is not None and idle.sock.recv(1024) == b""
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # port released


def test_close_drops_the_connection_without_a_response(srv):
    srv.route("/drop", Reply(close=True))
    with pytest.raises(requests.ConnectionError):
        get(srv, "/drop")
    assert len(srv.requests("/drop")) == 1


def test_lying_content_length_truncates_the_body(srv):
    srv.route("/trunc", Reply(body=b'{"a": 1', headers={"Content-Length": "100"}))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get(srv, "/trunc")


def test_rate_limited_reply(srv):
    srv.route("/rl", Reply.rate_limited(retry_after=7), Reply.rate_limited())
    r = get(srv, "/rl")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert r.json() == {"error": "rate limited"}
    r = get(srv, "/rl")
    assert r.status_code == 429
    assert "Retry-After" not in r.headers


def test_unknown_path_is_404(srv):
    srv.route("/known", Reply(body="yes"))
    r = get(srv, "/unknown")
    assert r.status_code == 404
    assert r.json() == {"error": "no route"}
    assert get(srv, "/known/sub").status_code == 404  # exact routes do not match subpaths


def test_query_strings_are_ignored_for_matching_and_recorded(srv):
    srv.route("/v1/user_hashrate/bc1qabc", Reply.json({"ok": True}))
    before = time.monotonic()
    r = get(srv, "/v1/user_hashrate/bc1qabc?window=1h&x=", headers={"X-Token": "t"})
    assert r.json() == {"ok": True}
    [rec] = srv.requests()
    assert isinstance(rec, Recorded)
    assert rec.method == "GET"
    assert rec.path == "/v1/user_hashrate/bc1qabc"
    assert rec.query == {"window": "1h", "x": ""}
    assert rec.query_string == "window=1h&x="
    assert rec.headers["X-Token"] == "t"
    assert rec.headers["User-Agent"].startswith("python-requests/")
    assert before <= rec.time <= time.monotonic()


def test_requests_filter_and_clear(srv):
    srv.route("/a", Reply())
    get(srv, "/a")
    get(srv, "/b?q=1")
    get(srv, "/a")
    assert [r.path for r in srv.requests()] == ["/a", "/b", "/a"]
    assert len(srv.requests("/a")) == 2
    assert [r.query for r in srv.requests("/b")] == [{"q": "1"}]
    srv.clear_requests()
    assert srv.requests() == []


def test_route_prefix_matches_and_exact_route_wins(srv):
    srv.route_prefix("/v1/", Reply(body="v1"))
    srv.route_prefix("/v1/user_hashrate/", Reply(body="user"))
    srv.route("/v1/user_hashrate/exact", Reply(body="exact"))
    assert get(srv, "/v1/pool_stat").text == "v1"
    assert get(srv, "/v1/user_hashrate/bc1qzzz?a=1").text == "user"  # longest prefix
    assert get(srv, "/v1/user_hashrate/exact").text == "exact"
    assert get(srv, "/v2/pool_stat").status_code == 404


def test_keep_alive_serves_several_requests_on_one_connection(srv):
    srv.route("/k", Reply(body="a"), Reply(body="bb"))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/k")
        assert conn.getresponse().read() == b"a"
        first = conn.sock
        conn.request("GET", "/k")
        assert conn.getresponse().read() == b"bb"
        assert conn.sock is first
    finally:
        conn.close()


def test_invalid_routes_are_rejected(srv):
    with pytest.raises(ValueError):
        srv.route("/empty")
    with pytest.raises(ValueError):
        srv.route("/a?b=1", Reply())
    with pytest.raises(ValueError):
        srv.route_prefix("no-slash", Reply())
    with pytest.raises(TypeError):
        srv.route("/a", {"body": "not a Reply"})


def test_a_server_cannot_be_restarted():
    server = ReplayServer().start()
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.start()
    with pytest.raises(RuntimeError):
        server.url
