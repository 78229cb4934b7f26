"""Fixtures of the store tests: one ``store`` over both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import os

import pytest

from engine.ids import random_id
from engine.secrets import SecretBox, generate_key
from storetest_util import PG_DSN


def _pg_admin():
    import psycopg

    try:
        return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at {PG_DSN}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_DSN}")


@pytest.fixture
def box() -> SecretBox:
    """A throwaway credentials cipher (never the user's key file)."""
    return SecretBox(generate_key())


@pytest.fixture
def pg_schema():
    """A fresh, uniquely named PostgreSQL schema, dropped afterwards."""
    admin = _pg_admin()
    name = "lmsync_test_" + random_id().lower()
    try:
        yield name
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.close()


def make_store(kind: str, tmp_path, box: SecretBox, request):
    """A migrated store of *kind* ("sqlite" or "postgres")."""
    if kind == "sqlite":
        from engine.store.sqlite import SQLiteStore

        store = SQLiteStore(tmp_path / "store.sqlite3", secret_box=box)
    else:
        from engine.store.postgres import PostgresStore

        schema = request.getfixturevalue("pg_schema")
        store = PostgresStore(PG_DSN, schema=schema, secret_box=box)
    store.migrate()
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path, box):
    """Each test runs once on SQLite and once on PostgreSQL (in its own schema)."""
    s = make_store(request.param, tmp_path, box, request)
    s.kind = request.param
    s.location = str(tmp_path / "store.sqlite3") if request.param == "sqlite" else s.schema
    yield s
    s.close()


@pytest.fixture
def pg_store(request, tmp_path, box):
    """A migrated PostgreSQL store in its own schema, for PostgreSQL-only behaviour."""
    s = make_store("postgres", tmp_path, box, request)
    yield s
    s.close()


@pytest.fixture
def iid() -> str:
    """A fresh integration id."""
    return "moodle-" + random_id()
