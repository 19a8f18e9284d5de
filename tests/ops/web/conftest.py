"""Fixtures for the web view: the bench's seeded disputes (a fixed seed, so the same rows every
run), settings whose solvers are the seeded ones, and the view served by a real endpoint behind
the token gate, wired as `serbero dashboard` wires it (its real escalate and requeue actions)."""

from __future__ import annotations

import time

import pytest

from bench import web_seed
from serbero.config import Secret, SolverEntry
from serbero.ops.http import DASHBOARD_REALM, guarded
from tests.ops.conftest import TOKEN

#: The seeded rows' "now": fixed, so ages and charts never depend on when the test runs.
NOW = int(time.time()) // 3600 * 3600


@pytest.fixture
def web_settings(make_settings):
    solvers = [SolverEntry(pk, perm) for pk, perm in
               zip(web_seed.SOLVERS, ("write", "write", "read"), strict=True)]
    return make_settings().replace(solvers=tuple(solvers))


@pytest.fixture
def seeded(db):
    """60 seeded disputes, newest first."""
    return web_seed.seed(60, now=NOW)


@pytest.fixture
def web_app(web_settings):
    from serbero.commands.ops import _web_actions
    from serbero.ops.web import WebView, beside

    view = WebView(web_settings, _web_actions(web_settings), queues_url=None, now=lambda: NOW)
    return guarded(beside(view, None), Secret(TOKEN), realm=DASHBOARD_REALM)


@pytest.fixture
def web_url(web_app, serve_app):
    return serve_app(web_app)
