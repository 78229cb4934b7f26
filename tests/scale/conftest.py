"""Fixtures of the scale tests: real Redis and PostgreSQL, Celery worker subprocesses,
Moodle simulators on loopback and a loopback webhook receiver.

Without Redis or PostgreSQL the tests skip, except under ``CI`` where they fail."""

from __future__ import annotations

import os

import pytest

from engine.ids import random_id
from engine.secrets import SecretBox, generate_key
from scale_helpers import PG_DSN, REDIS_HOST, Workers


def _unreachable(what: str, exc: Exception) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} unreachable: {exc}")
    pytest.skip(f"{what} unreachable: {exc}")


@pytest.fixture
def redis_url():
    """A Redis URL on an empty database number of its own (flushed afterwards)."""
    import redis

    try:
        probe = redis.Redis(host=REDIS_HOST, port=6379, socket_connect_timeout=3)
        probe.ping()
    except Exception as exc:  # noqa: BLE001
        _unreachable("Redis at 127.0.0.1:6379", exc)
    chosen = None
    for db in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=6379, db=db)
        if client.dbsize() == 0 and client.set("lmsync:test:claim", "1", nx=True, ex=600):
            chosen = client
            break
        client.close()
    if chosen is None:
        pytest.fail("no empty Redis database number left")
    url = f"redis://{REDIS_HOST}:6379/{chosen.connection_pool.connection_kwargs['db']}"
    yield url
    chosen.flushdb()
    chosen.close()


@pytest.fixture
def pg_url():
    """A PostgreSQL store URL on a fresh schema (dropped afterwards)."""
    import psycopg

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unreachable(f"PostgreSQL at {PG_DSN}", exc)
    schema = "lmsync_scale_" + random_id().lower()
    yield f"{PG_DSN}?schema={schema}"
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


@pytest.fixture
def secret_key(monkeypatch) -> str:
    """One credentials key shared by this process and the workers."""
    key = generate_key()
    monkeypatch.setenv("LMSYNC_SECRET_KEY", key)
    return key


@pytest.fixture
def scale_env(redis_url, pg_url, secret_key, tmp_path, monkeypatch) -> dict[str, str]:
    """The environment of this test's workers (its own queue, Redis DB and PG schema)."""
    env = {
        "LMSYNC_BROKER_URL": redis_url,
        "LMSYNC_QUEUE": "lmsync-test-" + random_id().lower(),
        "LMSYNC_DATABASE_URL": pg_url,
        "LMSYNC_SECRET_KEY": secret_key,
        "LMSYNC_HOME": str(tmp_path / "home"),
        "LMSYNC_HEARTBEAT_S": "0.5",
        "LMSYNC_STALE_AFTER_S": "3",
        "LMSYNC_VISIBILITY_TIMEOUT_S": "4",
        "LMSYNC_WEBHOOK_BACKOFF_S": "0.2",
        "LMSYNC_WEBHOOK_MAX_ATTEMPTS": "5",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def store(scale_env):
    """The migrated PostgreSQL store the workers share."""
    from engine.store import open_store

    s = open_store(scale_env["LMSYNC_DATABASE_URL"])
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def workers(scale_env, tmp_path):
    """Starts ``lmsync worker`` subprocesses on demand; all are stopped afterwards."""
    pool = Workers(scale_env, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def box(secret_key) -> SecretBox:
    return SecretBox(secret_key)
