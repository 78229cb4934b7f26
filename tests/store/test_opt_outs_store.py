"""Opt-outs and ``data_expired_at`` in the store (migration 11) on both backends: stored per
integration, validated against the bound config, the earliest narrowing kept, cleared only by a
sync that started after the latest narrowing, removed with the integration."""

from __future__ import annotations

import pytest

from engine.scope_config import ScopeConfigError, scope_config_for
from engine.store._schema import SCHEMA_VERSION
from engine.store.base import Integration, NotFound
from storetest_util import at

CONFIG = {"models": {"skills": "OPTIONAL"}, "fields": {"users.work_email": "OPTIONAL"}}


@pytest.fixture
def bound(store, iid):
    store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}))
    store.add_scope_config("opt-" + iid[-6:], CONFIG)
    store.bind_scope_config(iid, "opt-" + iid[-6:])
    return iid


def test_opt_outs_are_stored_and_make_the_effective_config(store, bound):
    assert store.opt_outs_of(bound) == frozenset() and scope_config_for(store, bound).model_enabled("skills")
    effective = store.set_opt_outs(bound, ["models.skills", "fields.users.work_email"], now=at(0))
    assert store.opt_outs_of(bound) == {"models.skills", "fields.users.work_email"}
    assert effective == scope_config_for(store, bound)
    assert not effective.model_enabled("skills") and effective.disabled_fields("users") == {"work_email"}
    assert store.scope_config_of(bound).opted_out == frozenset()  # the bound config itself is unchanged
    with pytest.raises(ScopeConfigError, match="opt-out 'models.users': scope config '.*' has it ENABLED"):
        store.set_opt_outs(bound, ["models.users"])
    with pytest.raises(NotFound):
        store.set_opt_outs("moodle:none", [])


def test_data_expired_at_keeps_the_earliest_and_a_sync_clears_only_what_it_saw(store, bound):
    assert store.data_expired_at(bound) is None
    store.set_opt_outs(bound, ["models.skills"], now=at(10))
    store.set_opt_outs(bound, ["models.skills", "fields.users.work_email"], now=at(20))
    assert store.data_expired_at(bound) == at(10)
    assert store.clear_data_expired(bound, synced_from=at(15)) is False  # narrowed again after that sync began
    assert store.data_expired_at(bound) == at(10)
    assert store.clear_data_expired(bound, synced_from=at(21)) is True
    assert store.data_expired_at(bound) is None
    store.set_opt_outs(bound, [], now=at(30))  # widening
    assert store.data_expired_at(bound) is None
    store.bind_scope_config(bound, "default", now=at(40))  # OPTIONAL -> ENABLED: no narrowing either
    assert store.data_expired_at(bound) is None


def test_removing_the_integration_removes_its_opt_outs_and_expiry(store, bound):
    store.set_opt_outs(bound, ["models.skills"], now=at(0))
    assert store.remove_integration(bound)
    assert store.opt_outs_of(bound) == frozenset() and store.data_expired_at(bound) is None


def test_migration_11_is_applied_once(store):
    assert store.schema_version() == SCHEMA_VERSION >= 11
    store._execute("DELETE FROM schema_version WHERE version = 11")
    store.migrate()  # CREATE TABLE IF NOT EXISTS: running it again is harmless
    assert store.schema_version() == SCHEMA_VERSION
