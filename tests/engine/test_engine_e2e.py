"""A spec run through the whole engine — transport, retries, runner, mapper, store — against
an ``httpx.MockTransport`` standing in for a remote API (a fake connector plugin)."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_connector import FakePlugin

from engine.plugins import make_plugin_manager
from engine.store.base import Integration, Query
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

USERS_SPEC = """model: users
source:
  call: people
  params: {offset: "=page.offset", size: "=page.limit"}
  records: data
  pagination: {type: offset, limit: 2, stop: short_page}
remote_id: id
fields:
  first_name: first
  last_name: last
  work_email: "mail || `null`"
  status: "active && 'ACTIVE' || 'INACTIVE'"
  remote_created_at: "`null`"
"""


class FakeRemote:
    """A tiny paged people API with switchable failures."""

    def __init__(self) -> None:
        self.people = [{"id": i, "first": f"F{i}", "last": f"L{i}", "mail": f"p{i}@x.org", "active": True} for i in range(1, 6)]
        self.fail_next: list[int] = []
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_next:
            return httpx.Response(self.fail_next.pop(0), text="busy")
        q = request.url.params
        offset, size = int(q["offset"]), int(q["size"])
        return httpx.Response(200, json={"data": self.people[offset:offset + size]})



def build(tmp_path, remote, **engine_options):
    """A SQLite store with one fake integration, and a ``SyncEngine`` reading *remote*."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "users.yaml").write_text(USERS_SPEC)
    pm = make_plugin_manager([FakePlugin(mappings)], entry_points=False)
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.migrate()
    store.add_integration(Integration(id="fake:1", connector="fake", base_url="https://fake.test", credentials={"token": "s3cr3t-token"}))

    def engine(**more):
        return SyncEngine(store, pm, client_factory=lambda: httpx.Client(transport=httpx.MockTransport(remote.handler)),
                          policy=RetryPolicy(base_delay=0.001, max_delay=0.01), **{**engine_options, **more})

    return engine, store


@pytest.fixture
def setup(tmp_path):
    remote = FakeRemote()
    engine, store = build(tmp_path, remote)
    return engine(), store, remote


def _users(store):
    return store.query(Query(integration_id="fake:1", model="users", limit=100, include_deleted=True))


def test_full_sync_pages_maps_and_stores(setup):
    engine, store, remote = setup
    run = engine.sync("fake:1")
    assert run.status == "succeeded", run.error
    assert run.stats["users"]["created"] == 5
    assert run.stats["users"]["calls"] == 3  # pages of 2, 2 and a short page of 1
    rows = _users(store)
    assert sorted(r.remote_id for r in rows) == ["1", "2", "3", "4", "5"]
    one = next(r for r in rows if r.remote_id == "1")
    assert one.fields["first_name"] == "F1" and one.fields["status"] == "ACTIVE"
    assert one.remote_data == {"people": {"id": 1, "first": "F1", "last": "L1", "mail": "p1@x.org", "active": True}}
    assert all(r.headers["X-Token"] == "s3cr3t-token" for r in remote.requests)


def test_resync_unchanged_then_change_then_delete(setup):
    engine, store, remote = setup
    engine.sync("fake:1")
    before = {r.id: r.changed_at for r in _users(store)}
    run = engine.sync("fake:1")
    assert run.stats["users"] == {**run.stats["users"], "created": 0, "updated": 0, "unchanged": 5, "deleted": 0}
    assert {r.id: r.changed_at for r in _users(store)} == before
    remote.people[0]["active"] = False
    del remote.people[4]
    run = engine.sync("fake:1")
    assert (run.stats["users"]["updated"], run.stats["users"]["deleted"]) == (1, 1)
    rows = {r.remote_id: r for r in _users(store)}
    assert rows["1"].fields["status"] == "INACTIVE" and rows["1"].changed_at > before[rows["1"].id]
    assert rows["5"].remote_deleted_at is not None


def test_transient_failures_are_retried(setup):
    engine, store, remote = setup
    remote.fail_next = [503, 500, 429]
    run = engine.sync("fake:1")
    assert run.status == "succeeded", run.error
    assert len(_users(store)) == 5


def test_permanent_failure_fails_the_run_and_deletes_nothing(setup):
    engine, store, remote = setup
    engine.sync("fake:1")
    remote.fail_next = [503] * 50
    run = engine.sync("fake:1")
    assert run.status == "failed"
    assert "RemoteServerError" in run.error and "s3cr3t-token" not in run.error
    assert all(r.remote_deleted_at is None for r in _users(store))
    stored = store.list_runs("fake:1")[0]
    assert stored.status == "failed" and stored.error == run.error


def test_invalid_record_is_reported_not_stored_and_not_deleted(setup):
    engine, store, remote = setup
    engine.sync("fake:1")
    remote.people[1]["first"] = {"not": "a string"}
    run = engine.sync("fake:1")
    assert run.status == "succeeded"
    assert run.stats["users"]["invalid"] == 1
    assert any("users record '2': first_name" in w for w in run.warnings)
    rows = {r.remote_id: r for r in _users(store)}
    assert rows["2"].fields["first_name"] == "F2" and rows["2"].remote_deleted_at is None


def test_garbage_body_is_a_clear_failure(setup):
    engine, store, remote = setup
    remote.handler = lambda request: httpx.Response(200, text='{"data": [')  # noqa: E731
    engine.client_factory = lambda: httpx.Client(transport=httpx.MockTransport(remote.handler))
    run = engine.sync("fake:1")
    assert run.status == "failed"
    assert "BadResponse" in run.error and "people" in run.error


def test_secret_in_remote_data_is_redacted(setup):
    engine, store, remote = setup
    remote.people[0]["last"] = "leaks s3cr3t-token here"
    engine.sync("fake:1")
    row = next(r for r in _users(store) if r.remote_id == "1")
    assert "s3cr3t-token" not in json.dumps(row.remote_data)
    assert "[REDACTED]" in json.dumps(row.remote_data)
