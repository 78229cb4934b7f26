"""Sync store state machine: random remote changes (add, edit, delete, re-add) and sync outcomes
(success, failure at a random call) against both backends. Invariants: after every sync the
live store equals the last *successfully* synced remote state; ids never change; changed_at
moves only on real change; nothing is falsely deleted."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from fake_connector import FakePlugin
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.ids import random_id
from engine.plugins import make_plugin_manager
from engine.secrets import SecretBox, generate_key
from engine.store.base import Integration, Query
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

SPEC = """model: users
source:
  call: people
  params: {offset: "=page.offset", size: "=page.limit"}
  records: data
  pagination: {type: offset, limit: 3, stop: short_page}
remote_id: id
fields:
  first_name: first
  last_name: "`null`"
  work_email: "`null`"
  status: "'ACTIVE'"
  remote_created_at: "`null`"
"""
PG_DSN = os.environ.get("LMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


class Remote:
    def __init__(self) -> None:
        self.people: dict[int, str] = {}
        self.fail_at: int | None = None
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            return httpx.Response(400, text="permanent")
        q = request.url.params
        rows = [{"id": k, "first": v} for k, v in sorted(self.people.items())]
        off, size = int(q["offset"]), int(q["size"])
        return httpx.Response(200, json={"data": rows[off:off + size]})



def _make_store(kind: str, tmp: Path):
    box = SecretBox(generate_key())
    if kind == "sqlite":
        from engine.store.sqlite import SQLiteStore

        store = SQLiteStore(tmp / "s.sqlite3", secret_box=box)
    else:
        import psycopg

        from engine.store.postgres import PostgresStore

        try:
            psycopg.connect(PG_DSN, connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL unreachable: {exc}")
            pytest.skip("PostgreSQL unreachable")
        store = PostgresStore(PG_DSN, schema="lmsync_sm_" + random_id().lower(), secret_box=box)
    store.migrate()
    return store


class SyncMachine(RuleBasedStateMachine):
    kind = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        (self.tmp / "m").mkdir()
        (self.tmp / "m" / "users.yaml").write_text(SPEC)
        self.remote = Remote()
        self.store = _make_store(self.kind, self.tmp)
        self.store.add_integration(Integration(id="fake:sm", connector="fake", base_url="http://fake.test", credentials={},
                                              settings={"delete_guard_share": 1}))  # every deletion is real here
        pm = make_plugin_manager([FakePlugin(self.tmp / "m")], entry_points=False)
        self.engine = SyncEngine(self.store, pm, client_factory=lambda: httpx.Client(transport=httpx.MockTransport(self.remote.handler)),
                                 policy=RetryPolicy(attempts=1))
        self.synced: dict[str, str] = {}  # remote id -> first name, as of the last successful sync
        self.ever: set[str] = set()
        self.ids: dict[str, str] = {}
        self.changed: dict[str, object] = {}
        self.next_id = 1

    def teardown(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.store.schema}" CASCADE')
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(name=st.sampled_from(["ann", "bob", "cy", "dee"]))
    def add(self, name):
        self.remote.people[self.next_id] = name
        self.next_id += 1

    @precondition(lambda self: self.remote.people)
    @rule(data=st.data(), name=st.sampled_from(["ann", "bob", "zed"]))
    def edit(self, data, name):
        key = data.draw(st.sampled_from(sorted(self.remote.people)))
        self.remote.people[key] = name

    @precondition(lambda self: self.remote.people)
    @rule(data=st.data())
    def delete(self, data):
        key = data.draw(st.sampled_from(sorted(self.remote.people)))
        del self.remote.people[key]

    @precondition(lambda self: self.ever - {str(k) for k in self.remote.people})
    @rule(data=st.data())
    def re_add(self, data):
        key = data.draw(st.sampled_from(sorted(self.ever - {str(k) for k in self.remote.people})))
        last = self._all_rows()[key].fields["first_name"] if key in self._all_rows() else "back"
        self.remote.people[int(key)] = data.draw(st.sampled_from([last, "back"]))

    @rule()
    def sync_ok(self):
        self.remote.fail_at = None
        before = self._live_rows()
        run = self.engine.sync("fake:sm")
        assert run.status == "succeeded", run.error
        new = {str(k): v for k, v in self.remote.people.items()}
        rows = self._live_rows()
        for rid, row in rows.items():
            old = before.get(rid)
            if old is not None and old.fields == row.fields:
                assert row.changed_at == old.changed_at, "changed_at moved without a change"
        self.synced = new
        self.ever |= set(new)

    @rule(at=st.integers(1, 4))
    def sync_fails(self, at):
        before = self._all_rows()
        self.remote.calls = 0
        self.remote.fail_at = at
        run = self.engine.sync("fake:sm")
        self.remote.fail_at = None
        if run.status == "succeeded":  # the failure point was past the last call
            self.synced = {str(k): v for k, v in self.remote.people.items()}
            self.ever |= set(self.synced)
            return
        after = self._all_rows()
        assert {k: r.remote_deleted_at for k, r in after.items()} == {k: r.remote_deleted_at for k, r in before.items()}
        assert {k: r.fields for k, r in after.items()} == {k: r.fields for k, r in before.items()}

    def _all_rows(self):
        rows = self.store.query(Query(integration_id="fake:sm", model="users", limit=1000, include_deleted=True))
        return {r.remote_id: r for r in rows}

    def _live_rows(self):
        return {k: r for k, r in self._all_rows().items() if r.remote_deleted_at is None}

    @invariant()
    def store_equals_last_successful_state(self):
        live = self._live_rows()
        assert {k: r.fields["first_name"] for k, r in live.items()} == self.synced
        for rid, row in self._all_rows().items():
            assert self.ids.setdefault(rid, row.id) == row.id
            if rid not in self.synced:
                assert row.remote_deleted_at is not None


class PostgresSyncMachine(SyncMachine):
    kind = "postgres"


SETTINGS = settings(max_examples=15, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck))
TestSyncStateMachineSQLite = SyncMachine.TestCase
TestSyncStateMachineSQLite.settings = SETTINGS
TestSyncStateMachinePostgres = pytest.mark.postgres(PostgresSyncMachine.TestCase)
TestSyncStateMachinePostgres.settings = SETTINGS
