"""The scope-config part of the store (migration 9) on both backends: names are unique and
``default`` is taken, look-up by id or name, binding, purging a model, and removal."""

from __future__ import annotations

import pytest

from engine.scope_config import ScopeConfigError
from engine.store.base import Integration, NotFound, StoreError
from storetest_util import T0, rec


def _integration(store, iid):
    store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))


def test_create_get_list_and_names(store):
    created = store.add_scope_config("private", {"fields": {"users.work_email": "DISABLED"}, "store_remote_data": False})
    assert store.get_scope_config(created.id) == store.get_scope_config("private") == created
    assert [c.name for c in store.list_scope_configs()] == ["default", "private"]
    with pytest.raises(StoreError, match="a scope config named 'private' already exists"):
        store.add_scope_config("private", {})
    with pytest.raises(StoreError, match="'default' is the built-in config's"):
        store.add_scope_config("default", {})
    with pytest.raises(ScopeConfigError, match="models.user: unknown model 'user'"):
        store.add_scope_config("broken", {"models": {"user": "DISABLED"}})
    assert store.get_scope_config("nope") is None


def test_bind_unbind_and_remove(store, iid):
    _integration(store, iid)
    assert store.scope_config_of(iid).id == "default"
    created = store.add_scope_config("narrow", {"models": {"skills": "DISABLED"}})
    before = store.versions(iid, ["users"])["users"]
    assert store.bind_scope_config(iid, "narrow") == created
    assert store.scope_config_of(iid) == created
    assert store.versions(iid, ["users"])["users"] != before  # pages composed before are not served again
    with pytest.raises(NotFound, match="no scope config 'nope'"):
        store.bind_scope_config(iid, "nope")
    with pytest.raises(NotFound, match="integration moodle:none does not exist"):
        store.bind_scope_config("moodle:none", "narrow")
    store.bind_scope_config(iid, "default")
    assert store.scope_config_of(iid).id == "default"
    store.bind_scope_config(iid, "narrow")
    assert store.remove_integration(iid)
    assert store.scope_config_of(iid).id == "default" and store.get_scope_config("narrow") == created


def test_purge_model_deletes_only_that_model_of_that_integration(store, iid):
    _integration(store, iid)
    other = iid + "x"
    _integration(store, other)
    for owner in (iid, other):
        with store.writer(owner, "skills") as w:
            w.write([rec(owner, "skills", str(n), name=f"s{n}") for n in range(3)], T0)
        with store.writer(owner, "users") as w:
            w.write([rec(owner, "users", "1", first_name="a")], T0)
    assert store.purge_model(iid, "skills") == 3
    assert store.count(iid, "skills", include_deleted=True) == 0
    assert store.count(iid, "users") == 1 and store.count(other, "skills") == 3
    assert store.purge_model(iid, "skills") == 0
