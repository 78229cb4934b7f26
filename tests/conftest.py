"""Test-session wide settings: every test gets its own lmsync data directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _lmsync_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("lmsync-home")
    monkeypatch.setenv("LMSYNC_HOME", str(home))
    monkeypatch.delenv("LMSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("LMSYNC_MAPPINGS_DIR", raising=False)  # a developer's own specs stay out of tests
    yield home
