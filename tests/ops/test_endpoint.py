"""Serving an operator endpoint in a thread and stopping it from another: the serving loop ends
cleanly, with nothing raised in its thread (issue 10: closing its sockets from outside made its
select() fail with EBADF, an unhandled exception in the dashboard tests)."""

import threading

from serbero.ops.http import Endpoint, bind
from tests.ops.conftest import http


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_an_endpoint_stopped_from_another_thread_ends_without_an_error(monkeypatch):
    crashes = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    for _ in range(150):
        endpoint = Endpoint(app, bind("127.0.0.1", 0), name="test")
        thread = threading.Thread(target=endpoint.serve_forever)
        thread.start()
        assert http(f"http://127.0.0.1:{endpoint.port}/").body == "ok"
        endpoint.stop()
        thread.join(5)
        assert not thread.is_alive()
    assert [c.exc_value for c in crashes] == []
