"""CSRF protection of the web view's forms: a random token in a strict, HTTP-only cookie that
each form repeats (double submit), and a cross-origin request refused outright. The token gate
is basic auth, which browsers send along with any form post to the host, so this is what stops
another site from escalating through an operator's open browser."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

COOKIE = "serbero_csrf"
FIELD = "csrf"
_TOKEN = re.compile(r"^[0-9a-f]{64}$")
_IN_COOKIES = re.compile(rf"(?:^|;)\s*{COOKIE}=([0-9a-f]{{64}})\s*(?:;|$)")


def from_cookie(environ: dict[str, Any]) -> str | None:
    """The token the browser holds, if it has one of the right shape."""
    match = _IN_COOKIES.search(environ.get("HTTP_COOKIE", ""))
    return match.group(1) if match else None


def token_for(environ: dict[str, Any]) -> tuple[str, str | None]:
    """The token to put in the page's forms, and the Set-Cookie value when it is new."""
    held = from_cookie(environ)
    if held:
        return held, None
    fresh = secrets.token_hex(32)
    return fresh, f"{COOKIE}={fresh}; HttpOnly; Path=/web; SameSite=Strict"


def same_origin(environ: dict[str, Any]) -> bool:
    """False when the browser says the request comes from another origin (Sec-Fetch-Site, else
    Origin), or hides where it comes from (`Origin: null`); a client that says nothing still
    needs the cookie's token."""
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None:
        return site == "same-origin"
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True
    host = environ.get("HTTP_HOST", "")
    return origin in (f"http://{host}", f"https://{host}")


def valid(environ: dict[str, Any], submitted: str | None) -> bool:
    """Whether a form post carries the token of the browser's cookie, from this origin."""
    held = from_cookie(environ)
    if not held or not submitted or not _TOKEN.match(submitted):
        return False
    return same_origin(environ) and hmac.compare_digest(held, submitted)
