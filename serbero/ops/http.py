"""Serving an operator endpoint (the dashboard, the metrics) over HTTP: the token gate in front
of the application, the rule that only a loopback address may be served without a token, and
binding the port first, so a port already in use changes nothing else.

The server is waitress: pure Python, no dependencies of its own, threaded, made for production.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from waitress import create_server, wasyncore

from serbero.config import Secret
from serbero.errors import ConfigError, SerberoError

log = logging.getLogger(__name__)

#: Request threads of one endpoint: a few operators' browsers and one Prometheus server.
SERVER_THREADS = 4
#: Headers on every response: no framing (the dashboard has buttons that act), no caching.
SAFETY_HEADERS = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
                  ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))

#: The realm of `serbero dashboard`'s one token gate (the web view and the queues behind it).
DASHBOARD_REALM = "serbero dashboard"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BindError(SerberoError):
    """Raised when an operator endpoint cannot listen on the address it was given."""


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    addresses = {info[4][0].split("%", 1)[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def require_token_off_loopback(host: str, token: Secret | None, *, env_name: str,
                               what: str) -> None:
    """Raise ConfigError when `host` is not loopback and no token protects the endpoint."""
    if token is None and not is_loopback(host):
        raise ConfigError([
            f"{env_name}: not set, so {what} would be open to anyone who can reach {host}. "
            f"Set {env_name} (or {env_name}_FILE) to a long random token, or serve on "
            "--host 127.0.0.1."])


class TokenGate:
    """WSGI middleware that lets a request through only with the token, sent either as
    `Authorization: Bearer <token>` or as the basic-auth password (any user name)."""

    def __init__(self, app: WSGIApp, token: Secret, *, realm: str) -> None:
        self.app = app
        self.realm = realm
        self._token = token.reveal().encode()

    def accepts(self, authorization: str) -> bool:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            offered = value.strip().encode()
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            _user, colon, offered = decoded.partition(b":")
            if not colon:
                return False
        else:
            return False
        return hmac.compare_digest(offered, self._token)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if self.accepts(authorization):
            return self.app(environ, start_response)
        log.warning("operator_request_refused", extra={
            "realm": self.realm, "remote": environ.get("REMOTE_ADDR", "-"),
            "path": environ.get("PATH_INFO", ""), "credentials": bool(authorization)})
        body = (b"401 Unauthorized: send the token as `Authorization: Bearer <token>` or as "
                b"the basic-auth password.\n")
        start_response("401 Unauthorized", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
            ("WWW-Authenticate", f'Basic realm="{self.realm}", charset="UTF-8"'),
            ("WWW-Authenticate", f'Bearer realm="{self.realm}"')])
        return [body]


def with_safety_headers(app: WSGIApp) -> WSGIApp:
    """`app` with SAFETY_HEADERS added to every response it starts."""
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(n, v) for n, v in SAFETY_HEADERS if n.lower() not in present]
            return start_response(status, [*headers, *extra], *exc_info)
        return app(environ, start)
    return wrapped


def guarded(app: WSGIApp, token: Secret | None, *, realm: str) -> WSGIApp:
    """`app` behind the token (when there is one), with the safety headers."""
    return with_safety_headers(TokenGate(app, token, realm=realm) if token else app)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or BindError saying why not and what to do."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise BindError(f"cannot listen on {where}: unknown host ({exc}).") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not a port in use, only
        sock.bind(address)                                           # one left in TIME_WAIT
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hints = {
            errno.EADDRINUSE: "the port is already in use by another process; stop it or "
                              "choose another --port",
            errno.EACCES: "permission denied (ports below 1024 need privileges); choose "
                          "another --port",
            errno.EADDRNOTAVAIL: "that address does not belong to this machine; check --host",
        }
        raise BindError(f"cannot listen on {where}: "
                        f"{hints.get(exc.errno, exc.strerror or str(exc))}.") from None
    return sock


class Endpoint:
    """An application served on an already bound socket."""

    #: How long `stop` waits for the serving loop to close its sockets (s).
    STOP_TIMEOUT_S = 5.0

    def __init__(self, app: WSGIApp, sock: socket.socket, *, name: str) -> None:
        self.sock = sock
        #: The serving loop's sockets (the listening one, connections, its wake-up pipe).
        self._channels: dict[int, Any] = {}
        self.server = create_server(app, map=self._channels, sockets=[sock],
                                    threads=SERVER_THREADS, ident=name,
                                    clear_untrusted_proxy_headers=True)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def serve_forever(self) -> None:
        """Serve until interrupted (SIGINT, or SystemExit raised by a signal handler)."""
        self.server.run()

    def stop(self) -> None:
        """Stop an endpoint served in another thread. The request threads end first: each
        wakes the serving loop through its trigger when it finishes a request, which fails with
        EBADF once the trigger is closed (a client can read its whole answer before that).
        Then the sockets are closed by the serving loop itself, woken for it: closed from here,
        under the loop's select(), they made it fail with EBADF (an unhandled exception in the
        serving thread). The loop may run the closing step before this thread has written the
        byte that wakes it (an earlier wake-up runs every queued step), so the step waits for
        that write: otherwise it would land on a closed, or already reused, descriptor. Then
        the loop, having nothing left to watch, returns."""
        self.server.task_dispatcher.shutdown(timeout=self.STOP_TIMEOUT_S)
        pulled, closed = threading.Event(), threading.Event()

        def close_in_loop() -> None:
            pulled.wait(self.STOP_TIMEOUT_S)
            wasyncore.close_all(self._channels)
            closed.set()

        self.server.trigger.pull_trigger(close_in_loop)
        pulled.set()
        if not closed.wait(self.STOP_TIMEOUT_S):  # the loop is not running: close from here
            wasyncore.close_all(self._channels)
