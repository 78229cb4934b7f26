"""Helpers of the scope / passthrough / per-model tests (imported by name; conftest is not)."""

from __future__ import annotations


def integration(env):
    """The env's integration, fresh from the store."""
    return env.store.get_integration(env.integration_id)
