"""API-key expiry in the store (migration 6) on both backends, and its clock."""

from __future__ import annotations

from datetime import timedelta

from engine.api._keys import create_api_key, verify_key
from engine.store import ApiKey
from engine.store._schema import SCHEMA_VERSION

from storetest_util import at


def test_expiry_round_trips_and_can_be_set_and_cleared(store):
    key = ApiKey(key_id="k1", key_hash="c" * 64, name="soon", integration_ids=None, created_at=at(0),
                 expires_at=at(3600))
    store.add_api_key(key)
    got = store.get_api_key("k1")
    assert got == key and got.expires_at.tzinfo is not None
    assert not got.expired(at(3599)) and got.expired(at(3600)) and got.expired(at(4000))
    assert store.set_api_key_expiry("k1", at(60)) is True
    assert store.get_api_key("k1").expires_at == at(60)
    assert store.set_api_key_expiry("k1", None) is True
    never = store.get_api_key("k1")
    assert never.expires_at is None and not never.expired(at(10**9))
    assert store.set_api_key_expiry("nope", at(0)) is False
    assert store.list_api_keys() == [never]


def test_create_api_key_stores_the_expiry(store):
    plaintext = create_api_key(store, "t", None, expires_at=at(0) + timedelta(days=30))
    found = verify_key(store, plaintext)
    assert found is not None and found.expires_at == at(0) + timedelta(days=30)


def _downgrade_to_v5(store) -> None:
    """The store as migration 5 left it: no ``expires_at`` column, no version 6 (nor the column
    migration 12 adds, which re-running it adds again; the tables later migrations create stay)."""
    store._execute("DELETE FROM api_keys")
    store._execute("ALTER TABLE api_keys DROP COLUMN expires_at")
    store._execute("ALTER TABLE connect_links DROP COLUMN scope_config_id")
    store._execute("DELETE FROM schema_version WHERE version >= 6")  # later migrations are idempotent
    store._execute("INSERT INTO api_keys (key_id, key_hash, name, integration_ids, created_at) VALUES (?, ?, ?, ?, ?)",
                   ["old", "d" * 64, "from v5", None, store.dialect.ts_in(at(0))])


def test_migration_6_upgrades_a_v5_store_and_old_keys_never_expire(store):
    _downgrade_to_v5(store)
    assert store.schema_version() == 5
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION >= 6
    old = store.get_api_key("old")
    assert old is not None and old.name == "from v5" and old.expires_at is None
    assert store.set_api_key_expiry("old", at(5)) and store.get_api_key("old").expires_at == at(5)
    store.migrate()  # applied once: running it again changes nothing
    assert store.get_api_key("old").expires_at == at(5)
