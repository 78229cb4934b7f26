"""Fixtures for the Canvas simulator tests: one server per module, a fresh tiny site per test."""

from __future__ import annotations

import httpx
import pytest

from connectors.canvas.simulator import ADMIN_TOKEN, create_app, run_in_thread, tiny_canvas_site


@pytest.fixture(scope="module")
def server():
    app = create_app(tiny_canvas_site())
    with run_in_thread(app) as base:
        yield app, base


@pytest.fixture
def site(server):
    app, _ = server
    app.site = tiny_canvas_site()
    app.throttle.reset()
    app.calls.clear()
    return app.site


@pytest.fixture
def app(server, site):
    return server[0]


@pytest.fixture
def base(server, site):
    return server[1]


@pytest.fixture
def http(base):
    """An httpx client on the simulator with the admin token."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as client:
        yield client
