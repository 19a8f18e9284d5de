"""The web view as a WSGI application: routes, request parsing with limits, CSRF-checked forms,
Jinja2 pages (autoescaped) and the static files shipped in the package. Bad input is a 4xx
page that says what was wrong; only a bug is a 500.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2

from serbero import clock
from serbero.config import Settings
from serbero.db.models import Dispute
from serbero.errors import NotFound, SerberoError
from serbero.nostr.keys import short
from serbero.ops.web import charts, csrf, filters, listing, svg, timeline
from serbero.ops.web.actions import DONE, Actions

log = logging.getLogger(__name__)

PREFIX = "/web"
#: Longest query string read; a longer one is a 414.
MAX_QUERY_CHARS = 2048
#: Largest form body read; a larger one is a 413.
MAX_BODY_BYTES = 16 * 1024
MAX_FIELDS = 20
#: Seconds between the pages' refreshes.
REFRESH_S = 15
STATIC = {"web.css": "text/css; charset=utf-8", "refresh.js": "text/javascript; charset=utf-8",
          "favicon.svg": "image/svg+xml"}
#: Every page: only this origin's own scripts, styles and forms.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_OPERATOR = re.compile(r"^[A-Za-z0-9._@-]{1,40}$")

StartResponse = Callable[..., Any]


class HttpError(Exception):
    """Raised to answer with an error page: the status and what the operator should know."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message






class WebView:
    """The operator web view under /web. `actions` does what the forms ask; `queues_url` is
    where the dramatiq dashboard is served beside it (None: not served)."""

    def __init__(self, settings: Settings, actions: Actions, *, queues_url: str | None = "/",
                 now: Callable[[], int] = clock.now) -> None:
        self.settings, self.actions, self.queues_url, self.now = settings, actions, queues_url, now
        self.env = jinja2.Environment(loader=jinja2.PackageLoader("serbero.ops.web"),
                                      autoescape=True, undefined=jinja2.StrictUndefined)
        self.env.filters.update(when=clock.utc_text, short=short, duration=svg.duration,
                                ago=lambda ts: svg.duration(max(0, self.now() - ts)))
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, list, bytes]]]] = [
            ("GET", re.compile(r"/"), self.list_page),
            ("GET", re.compile(r"/charts"), self.charts_page),
            ("GET", re.compile(r"/disputes/(?P<dispute_id>[^/]{1,200})"), self.dispute_page),
            ("POST", re.compile(r"/disputes/(?P<dispute_id>[^/]{1,200})/escalate"),
             self.escalate),
            ("POST", re.compile(r"/outbox/(?P<row_id>[0-9]{1,18})/requeue"), self.requeue),
            ("GET", re.compile(r"/static/(?P<name>[a-z]+\.(?:css|js|svg))"), self.static),
        ]

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        try:
            status, headers, body = self._dispatch(environ)
        except HttpError as exc:
            status, headers, body = self._error(environ, exc.status, exc.message)
        except Exception:
            log.exception("web_view_error", extra={"path": environ.get("PATH_INFO", "")[:200]})
            status, headers, body = self._error(environ, 500, "Something went wrong on our "
                                                "side; the log has the details.")
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            *headers, ("Content-Length", str(len(body))),
            ("Content-Security-Policy", CSP),
            # not the endpoint's no-referrer: with it browsers post forms with `Origin: null`
            ("Referrer-Policy", "same-origin")])
        return [body]

    def _dispatch(self, environ: dict[str, Any]) -> tuple[int, list, bytes]:
        raw = environ.get("PATH_INFO", "")
        path = raw.encode("latin-1", "replace").decode("utf-8", "replace")
        path = path[len(PREFIX):] if path.startswith(PREFIX) else path
        path = path or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        allowed = []
        for verb, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                if verb == method or (verb == "GET" and method == "HEAD"):
                    return handler(environ, **match.groupdict())
                allowed.append(verb)
        if allowed:
            raise HttpError(405, f"{method} is not accepted here; use {', '.join(allowed)}.")
        raise HttpError(404, "There is no such page.")

    def _error(self, environ: dict[str, Any], status: int, message: str
               ) -> tuple[int, list, bytes]:
        body = self.env.get_template("error.html").render(
            status=status, reason=HTTPStatus(status).phrase, message=message,
            queues_url=self.queues_url).encode()
        return status, [("Content-Type", "text/html; charset=utf-8")], body

    # ------------------------------------------------------------------ input

    @staticmethod
    def params(environ: dict[str, Any], allowed: Iterable[str]) -> dict[str, str]:
        """The query's parameters (the first value of each), limited in size; unknown names
        are ignored."""
        query = environ.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY_CHARS:
            raise HttpError(414, f"The query has {len(query)} characters; at most "
                            f"{MAX_QUERY_CHARS} are read.")
        return _first_values(query, set(allowed))

    @staticmethod
    def form(environ: dict[str, Any]) -> dict[str, str]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "The Content-Length header is not a number.") from None
        if length > MAX_BODY_BYTES or length < 0:
            raise HttpError(413, f"The form has {length} bytes; at most {MAX_BODY_BYTES} are "
                            "read.")
        body = environ["wsgi.input"].read(length) if length else b""
        fields = _first_values(body.decode("utf-8", "replace"), None)
        if not csrf.valid(environ, fields.get(csrf.FIELD)):
            raise HttpError(403, "This form's CSRF token does not match (or the request comes "
                            "from another site). Reload the page and submit it again.")
        return fields

    def operator(self, environ: dict[str, Any]) -> str:
        """Who acts, for the audit trail: the basic-auth user name, else `web`."""
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value.strip(), validate=True).split(b":", 1)[0]
                name = user.decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                name = ""
            if _OPERATOR.match(name):
                return f"web:{name}"
        return "web"

    # ------------------------------------------------------------------ pages

    def render(self, environ: dict[str, Any], template: str, **context: Any
               ) -> tuple[int, list, bytes]:
        token, cookie = csrf.token_for(environ)
        body = self.env.get_template(template).render(
            csrf_field=csrf.FIELD, csrf_token=token, queues_url=self.queues_url,
            refresh_s=REFRESH_S, serbero_pubkey=self.settings.serbero_pubkey,
            **context).encode()
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if cookie:
            headers.append(("Set-Cookie", cookie))
        return 200, headers, body

    def list_page(self, environ: dict[str, Any]) -> tuple[int, list, bytes]:
        params = self.params(environ, [*filters.BY_NAME, "page"])
        try:
            parsed = filters.parse(params)
        except filters.BadFilter as exc:
            raise HttpError(400, str(exc)) from None
        number = _page_number(params.get("page", ""))
        result = listing.page(parsed, number=number, now=self.now())
        kept = {k: v for k, v in params.items() if k != "page" and v}
        choices = {f.name: f.choices(self.settings) for f in filters.FILTERS if f.choices}
        return self.render(environ, "list.html", page=result, filters=filters.FILTERS,
                           choices=choices, params=params,
                           page_link=lambda n: "?" + urlencode({**kept, "page": n}))

    def dispute_page(self, environ: dict[str, Any], dispute_id: str) -> tuple[int, list, bytes]:
        params = self.params(environ, ["party_text", "done"])
        party_text = params.get("party_text", "")
        if party_text not in ("", "0", "1"):
            raise HttpError(400, "party_text: use 1 to show the parties' messages, 0 to hide "
                            "them.")
        dispute = Dispute.get_or_none(Dispute.dispute_id == dispute_id)
        if dispute is None:
            raise HttpError(404, f"No dispute has the id {dispute_id!r}.")
        events = timeline.timeline(dispute, party_text=party_text == "1")
        return self.render(environ, "dispute.html", dispute=dispute, events=events,
                           party_text=party_text == "1", done=DONE.get(params.get("done", "")),
                           url=f"{PREFIX}/disputes/{quote(dispute_id, safe='')}")

    def charts_page(self, environ: dict[str, Any]) -> tuple[int, list, bytes]:
        params = self.params(environ, ["window"])
        window = params.get("window") or charts.DEFAULT_WINDOW
        if window not in charts.WINDOWS:
            raise HttpError(400, f"window: {window[:40]!r} is not offered; use one of "
                            f"{', '.join(charts.WINDOWS)}.")
        drawn = [(c, svg.render(c)) for c in
                 charts.charts(window_s=charts.WINDOWS[window], now=self.now())]
        return self.render(environ, "charts.html", charts=drawn, window=window,
                           windows=list(charts.WINDOWS))

    def static(self, environ: dict[str, Any], name: str) -> tuple[int, list, bytes]:
        if name not in STATIC:
            raise HttpError(404, "There is no such file.")
        body = resources.files("serbero.ops.web").joinpath("static", name).read_bytes()
        return 200, [("Content-Type", STATIC[name])], body

    # ------------------------------------------------------------------ actions

    def escalate(self, environ: dict[str, Any], dispute_id: str) -> tuple[int, list, bytes]:
        fields = self.form(environ)
        note = fields.get("note", "").strip() or None
        done = self._act(lambda: self.actions.escalate(dispute_id, self.operator(environ), note))
        return self._back(dispute_id, done)

    def requeue(self, environ: dict[str, Any], row_id: str) -> tuple[int, list, bytes]:
        fields = self.form(environ)
        dispute_id = fields.get("dispute", "")
        done = self._act(lambda: self.actions.requeue(int(row_id), self.operator(environ)))
        return self._back(dispute_id, done) if dispute_id else (
            303, [("Location", f"{PREFIX}/")], b"")

    @staticmethod
    def _act(action: Callable[[], str]) -> str:
        try:
            return action()
        except NotFound as exc:
            raise HttpError(404, str(exc)) from None
        except SerberoError as exc:
            raise HttpError(409, str(exc)) from None

    @staticmethod
    def _back(dispute_id: str, done: str) -> tuple[int, list, bytes]:
        where = f"{PREFIX}/disputes/{quote(dispute_id, safe='')}?done={quote(done)}"
        return 303, [("Location", where)], b""


def _first_values(query: str, allowed: set[str] | None) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, max_num_fields=MAX_FIELDS * 5)
    except ValueError:
        raise HttpError(400, "Too many parameters.") from None
    return {k: v[0] for k, v in parsed.items() if allowed is None or k in allowed}


def _page_number(value: str) -> int:
    if value == "":
        return 1
    if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= listing.MAX_PAGE:
        raise HttpError(400, f"page: {value[:20]!r} is not a page number (1 to "
                        f"{listing.MAX_PAGE}).")
    return int(value)


def beside(web: WebView, queues: Callable[..., Iterable[bytes]] | None
           ) -> Callable[..., Iterable[bytes]]:
    """One application: the web view under /web, the dramatiq dashboard (when there is one)
    everywhere else; without it, / leads to the web view."""
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return web(environ, start_response)
        if queues is not None:
            return queues(environ, start_response)
        if path in ("", "/"):
            start_response("303 See Other", [("Location", f"{PREFIX}/"),
                                             ("Content-Length", "0")])
            return [b""]
        return web(environ, start_response)
    return app
