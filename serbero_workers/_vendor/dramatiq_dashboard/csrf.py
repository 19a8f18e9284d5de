import os
import re
from threading import local

from .http import HTTP_403, make_response

_CSRF_COOKIE = "__dd_csrf"
# Serbero: only a token of the shape generate_csrf_token makes is taken from the cookie; the
# token is written into pages unescaped, so any other value would let a planted cookie inject HTML.
_CSRF_COOKIE_RE = re.compile(f"(?:^|;)\\s*{_CSRF_COOKIE}=([0-9a-f]{{64}})\\s*(?:;|$)")
_CSRF_STATE = local()


def render_csrf_token():
    token = getattr(_CSRF_STATE, "token", "")
    return f'<input type="hidden" name="{_CSRF_COOKIE}" value="{token}">'


def generate_csrf_token():
    return "".join(f"{b:02x}" for b in os.urandom(32))


def lookup_csrf_token(request):
    cookies = request.headers.get("cookie")
    if cookies:
        match = _CSRF_COOKIE_RE.search(cookies)
        if match:
            return match.group(1)

    return generate_csrf_token()


def csrf_protect(fn):
    def wrapper(self, request, *args, **kwargs):
        token = lookup_csrf_token(request)
        setattr(_CSRF_STATE, "token", token)

        if request.method == "POST":
            request_token = request.post_data.get(_CSRF_COOKIE)
            if request_token != token:
                return HTTP_403, "Forbidden"

        response = make_response(fn(self, request, *args, **kwargs))
        # Serbero: SameSite=Strict, so no other site can make a browser send the cookie.
        response.headers.append(
            ("set-cookie", f"{_CSRF_COOKIE}={token}; HttpOnly; Path=/; SameSite=Strict"))
        return response
    return wrapper
