"""Model-based test: random writes, aborted writers and deletions against an in-memory model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from engine.ids import random_id, record_id
from engine.store import Query, WriteCounts

from storetest_util import at, rec

REMOTE_IDS = [f"r{i}" for i in range(8)]
BATCH = st.dictionaries(st.sampled_from(REMOTE_IDS), st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=6)


class Boom(Exception):
    """Simulated failure in the middle of a model's stream."""


@dataclass
class Expected:
    content: int
    raw: int
    deleted: bool
    changed_at: datetime


def make(iid: str, remote_id: str, content: int, raw: int):
    return rec(iid, "users", remote_id, raw={"v": raw}, first_name=f"n{content}", work_email=f"{remote_id}@x.org")


def machine_for(store):
    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.iid = "h-" + random_id()
            self.clock = 0
            self.model: dict[str, Expected] = {}

        def tick(self) -> datetime:
            self.clock += 1
            return at(self.clock)

        @rule(batch=BATCH, split=st.integers(0, 6))
        def upsert(self, batch, split):
            now = self.tick()
            recs = [make(self.iid, rid, c, r) for rid, (c, r) in batch.items()]
            counts = WriteCounts()
            with store.writer(self.iid, "users") as w:
                counts.add(w.write(recs[:split], now))
                counts.add(w.write(recs[split:], now))
            expected = WriteCounts()
            for rid, (c, r) in batch.items():
                old = self.model.get(rid)
                if old is None:
                    expected.created += 1
                    self.model[rid] = Expected(c, r, False, now)
                elif old.deleted or old.content != c:
                    expected.updated += 1
                    self.model[rid] = Expected(c, r, False, now)
                elif old.raw != r:
                    expected.updated += 1
                    old.raw = r
                else:
                    expected.unchanged += 1
            assert counts == expected

        @rule(batch=BATCH)
        def aborted_writer(self, batch):
            now = self.tick()
            with pytest.raises(Boom):
                with store.writer(self.iid, "users") as w:
                    w.write([make(self.iid, rid, c, r) for rid, (c, r) in batch.items()], now)
                    raise Boom()

        @rule(keep=st.sets(st.sampled_from(REMOTE_IDS)))
        def full_sync_deletes(self, keep):
            now = self.tick()
            seen = {record_id(self.iid, "users", rid) for rid in keep}
            marked = store.mark_deleted(self.iid, "users", seen, now)
            gone = [rid for rid, e in self.model.items() if not e.deleted and rid not in keep]
            assert marked == len(gone)
            for rid in gone:
                self.model[rid].deleted = True
                self.model[rid].changed_at = now

        @invariant()
        def store_equals_model(self):
            rows, after = [], None
            while page := store.query(Query(self.iid, "users", limit=3, after_id=after, include_deleted=True)):
                rows += page
                after = page[-1].id
            assert [r.id for r in rows] == sorted(r.id for r in rows)
            got = {r.remote_id: r for r in rows}
            assert set(got) == set(self.model)
            for rid, e in self.model.items():
                row = got[rid]
                assert row.id == record_id(self.iid, "users", rid)
                assert row.fields == {"first_name": f"n{e.content}", "work_email": f"{rid}@x.org"}
                assert row.remote_data == {"src": {"v": e.raw}}
                assert row.changed_at == e.changed_at
                assert (row.remote_deleted_at is not None) == e.deleted
                if e.deleted:
                    assert row.remote_deleted_at == e.changed_at
            live = {r.remote_id for r in store.query(Query(self.iid, "users", limit=100))}
            assert live == {rid for rid, e in self.model.items() if not e.deleted}

    return StoreMachine


def test_store_matches_model(store):
    run_state_machine_as_test(
        machine_for(store),
        settings=settings(max_examples=30, stateful_step_count=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], database=None),
    )
