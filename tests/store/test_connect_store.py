"""The Connect tables (migration 7) on both backends: links by hash, single use, setup rows."""

from __future__ import annotations

import threading

import pytest

from engine.store import Integration, StoreError
from engine.store._connect import ConnectLink, IntegrationSetup

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
