"""Fixtures for the Moodle simulator tests: a fresh tiny site and an in-process caller."""

from __future__ import annotations

import pytest
from sim_helpers import Caller

from connectors.moodle.simulator import create_app, tiny_site


@pytest.fixture
def site():
    return tiny_site()


@pytest.fixture
def app(site):
    return create_app(site)


@pytest.fixture
def call(app):
    return Caller(app)


@pytest.fixture
def dcall(site):
    """Caller against a debug-mode app (debuginfo included)."""
    return Caller(create_app(site, debug=True))
