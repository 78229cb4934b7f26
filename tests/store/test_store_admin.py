"""Integrations (credentials encrypted at rest), API keys, migrations, URLs, config, secrets."""

from __future__ import annotations

import os
import stat

import pytest

from engine import config, secrets
from engine.secrets import SecretBox, SecretError, generate_key
from engine.store import ApiKey, Integration, NotFound, StoreError, open_store
from engine.store._schema import SCHEMA_VERSION
from engine.store.postgres import PostgresStore
from engine.store.sqlite import SQLiteStore

from storetest_util import at, rec

TOKEN = "tok_" + "9f3c2a" * 6


def integration(iid: str) -> Integration:
    return Integration(id=iid, connector="moodle", base_url="https://lms.example.org",
                       credentials={"token": TOKEN}, settings={"page_size": 50}, created_at=at(0),
                       availability={"users": "OK"})


def raw_database_text(store) -> bytes:
    """Everything the database holds about integrations, as stored (no decryption)."""
    if isinstance(store, SQLiteStore):
        store.close()
        return b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    with store._conn() as conn:
        row = conn.execute("SELECT string_agg(t::text, '|') FROM integrations t").fetchone()
    return (row[0] or "").encode()


def test_integration_round_trip_and_encryption_at_rest(store, iid):
    integ = integration(iid)
    store.add_integration(integ)
    got = store.get_integration(iid)
    assert got == integ and got.created_at.tzinfo is not None
    with pytest.raises(StoreError):
        store.add_integration(integration(iid))
    got.credentials = {"token": TOKEN, "extra": "x"}
    got.enabled, got.settings, got.availability = False, {"page_size": 10}, {"users": "MISSING"}
    store.update_integration(got)
    assert store.get_integration(iid) == got
    assert [i.id for i in store.list_integrations()] == [iid]
    raw = raw_database_text(store)
    assert b"page_size" in raw  # the test reads the real data...
    assert TOKEN.encode() not in raw  # ...and the token is not in it


def test_integration_repr_hides_credentials(iid):
    text = repr(integration(iid)) + str(integration(iid))
    assert TOKEN not in text and "token" in text


def test_update_and_remove(store, iid):
    with pytest.raises(NotFound):
        store.update_integration(integration(iid))
    store.add_integration(integration(iid))
    with store.writer(iid, "users") as w:
        w.write([rec(iid, "users", "1")], at(0))
    store.start_run(iid, "FULL", at(0))
    assert store.remove_integration(iid) is True
    assert store.get_integration(iid) is None
    assert store.count(iid, "users", include_deleted=True) == 0 and store.list_runs(iid) == []
    assert store.remove_integration(iid) is False


def test_wrong_key_cannot_read_credentials(store, iid):
    store.add_integration(integration(iid))
    store._box = SecretBox(generate_key())
    with pytest.raises(SecretError) as info:
        store.get_integration(iid)
    assert TOKEN not in str(info.value)


def test_api_keys_round_trip(store):
    k1 = ApiKey(key_id="k1", key_hash="a" * 64, name="all", integration_ids=None, created_at=at(0))
    k2 = ApiKey(key_id="k2", key_hash="b" * 64, name="one", integration_ids=["i1", "i2"], created_at=at(5))
    store.add_api_key(k1)
    store.add_api_key(k2)
    assert store.get_api_key("k1") == k1 and store.get_api_key("k2") == k2
    assert store.get_api_key("k3") is None
    assert store.list_api_keys() == [k1, k2]
    with pytest.raises(StoreError):
        store.add_api_key(k1)
    assert store.remove_api_key("k1") is True and store.remove_api_key("k1") is False
    assert store.list_api_keys() == [k2]


def test_migrate_is_idempotent(store):
    store.migrate()
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = open_store(f"sqlite://{tmp_path}/a.sqlite3")  # = sqlite:///tmp/...
    assert isinstance(s, SQLiteStore) and s.path == tmp_path / "a.sqlite3"
    assert open_store("sqlite:rel.sqlite3").path.resolve() == tmp_path / "rel.sqlite3"
    assert open_store(str(tmp_path / "b.db")).path == tmp_path / "b.db"
    assert open_store(f"sqlite:///{tmp_path}/c.db").path == tmp_path / "c.db"
    pg = open_store("postgresql://u@h:5432/db?schema=tenant1&sslmode=disable")
    assert isinstance(pg, PostgresStore) and pg.schema == "tenant1"
    assert pg._dsn == "postgresql://u@h:5432/db?sslmode=disable"
    with pytest.raises(StoreError):
        open_store("mysql://x")
    s.migrate()
    assert s.schema_version() == SCHEMA_VERSION


def test_config(tmp_path, monkeypatch):
    monkeypatch.setenv("LMSYNC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LMSYNC_DATABASE_URL", raising=False)
    assert config.data_dir() == tmp_path / "home" and (tmp_path / "home").is_dir()
    assert config.database_url() == f"sqlite://{tmp_path / 'home' / 'lmsync.sqlite3'}"
    assert open_store(config.database_url()).path == tmp_path / "home" / "lmsync.sqlite3"
    monkeypatch.setenv("LMSYNC_DATABASE_URL", "postgresql://x/y")
    assert config.database_url() == "postgresql://x/y"


def test_secret_key_file_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMSYNC_HOME", str(tmp_path))
    monkeypatch.delenv("LMSYNC_SECRET_KEY", raising=False)
    key = secrets.load_key()
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secrets.load_key() == key  # reused, not regenerated
    token = SecretBox(key).encrypt_json({"token": TOKEN})
    assert TOKEN not in token and SecretBox(key).decrypt_json(token) == {"token": TOKEN}
    env_key = generate_key()
    monkeypatch.setenv("LMSYNC_SECRET_KEY", env_key)
    assert secrets.load_key() == env_key
    assert "key" not in repr(SecretBox(env_key)).replace("<key hidden>", "")
