"""The Connect tables (migrations 7 and 12) on both backends: links by hash, single use, setup
rows, the scope config a link names."""

from __future__ import annotations

import threading

import pytest

from engine.store import Integration, StoreError
from engine.store._connect import ConnectLink, IntegrationSetup
from engine.store._schema import SCHEMA_VERSION

from storetest_util import at


def _link(id_: str = "l1", **kw) -> ConnectLink:
    fields = dict(id=id_, token_hash=f"{id_}-" + "a" * 60, kind="create", link_type="EMBEDDED", created_at=at(0),
                  expires_at=at(3600), end_user_email="e@x.example", end_user_organization_name="Org", tool="moodle")
    return ConnectLink(**{**fields, **kw})


def test_a_link_round_trips_by_its_hash_and_is_used_once(store):
    link = _link()
    store.add_connect_link(link)
    assert store.connect_link_by_hash(link.token_hash) == link
    assert store.connect_link_by_hash("b" * 64) is None
    with pytest.raises(StoreError, match="already exists"):
        store.add_connect_link(_link(token_hash=link.token_hash, id_="l2"))
    assert store.use_connect_link("l1", at(3600)) is False  # expired at that instant
    assert store.use_connect_link("l1", at(10)) is True
    assert store.use_connect_link("l1", at(11)) is False
    assert store.connect_link_by_hash(link.token_hash).used_at == at(10)


def test_only_one_of_concurrent_uses_wins(store):
    store.add_connect_link(_link())
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(store.use_connect_link("l1", at(5)))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_bind_setup_and_remove_integration(store, iid):
    store.add_integration(Integration(iid, "moodle", "https://m.example", {}, enabled=False, created_at=at(0)))
    store.add_connect_link(_link())
    assert store.bind_connect_link("l1", iid) is True and store.bind_connect_link("l1", "other") is False
    assert [k.id for k in store.list_connect_links(iid)] == ["l1"]
    store.put_integration_setup(IntegrationSetup(iid, "INCOMPLETE", at(1), "e@x.example", "Org", None))
    store.put_integration_setup(IntegrationSetup(iid, "FINAL_SYNC_PENDING", at(2), "e@x.example", "Org", "o1"))
    assert store.get_integration_setup(iid) == IntegrationSetup(iid, "FINAL_SYNC_PENDING", at(2), "e@x.example", "Org", "o1")
    with pytest.raises(StoreError, match="setup_status 'DONE'"):
        store.put_integration_setup(IntegrationSetup(iid, "DONE", at(3)))
    assert store.remove_integration(iid) is True
    assert store.get_integration_setup(iid) is None and store.list_connect_links(iid) == []


def test_a_link_keeps_the_scope_config_it_names(store):
    named = _link("l1", scope_config_id="sc_private")
    store.add_connect_link(named)
    store.add_connect_link(_link("l2"))
    assert store.connect_link_by_hash(named.token_hash).scope_config_id == "sc_private"
    assert [k.scope_config_id for k in store.list_connect_links()] == ["sc_private", None]


def test_migration_12_upgrades_a_v11_store_and_old_links_name_no_scope_config(store):
    store._execute("ALTER TABLE connect_links DROP COLUMN scope_config_id")
    store._execute("DELETE FROM schema_version WHERE version = 12")
    store._execute("INSERT INTO connect_links (id, token_hash, kind, link_type, expires_at, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", ["old", "o" * 64, "create", "EMBEDDED",
                                                  store.dialect.ts_in(at(3600)), store.dialect.ts_in(at(0))])
    assert store.schema_version() == 11
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION >= 12
    old = store.connect_link_by_hash("o" * 64)
    assert (old.id, old.kind, old.scope_config_id) == ("old", "create", None)
    store.add_connect_link(_link("new", scope_config_id="sc1"))
    store.migrate()  # applied once: running it again changes nothing
    assert {(k.id, k.scope_config_id) for k in store.list_connect_links()} == {("old", None), ("new", "sc1")}
