"""Fencing: a run that lost the lock to a takeover writes nothing, on both backends."""

from __future__ import annotations

import pytest

from engine.store import RunFenced

from storetest_util import at, rec


def _take_over(store, iid):
    """Run A starts, goes silent past the stale limit, run B takes the lock."""
    a = store.start_run(iid, "FULL", at(0), stale_after_s=60)
    b = store.start_run(iid, "FULL", at(100), stale_after_s=60)
    return a, b


def test_a_taken_over_run_cannot_commit_a_model(store, iid):
    a, b = _take_over(store, iid)
    with pytest.raises(RunFenced):
        with store.writer(iid, "users", run_id=a.id) as w:
            w.write([rec(iid, "users", "1", first_name="stale")], at(101))
    assert store.count(iid, "users") == 0
    with store.writer(iid, "users", run_id=b.id) as w:  # the lock holder writes
        w.write([rec(iid, "users", "1", first_name="fresh")], at(102))
    assert store.count(iid, "users") == 1


def test_a_taken_over_run_cannot_mark_deletions(store, iid):
    a, b = _take_over(store, iid)
    with store.writer(iid, "users", run_id=b.id) as w:
        w.write([rec(iid, "users", "1"), rec(iid, "users", "2")], at(101))
    with pytest.raises(RunFenced):
        store.mark_deleted(iid, "users", set(), at(102), run_id=a.id)
    with pytest.raises(RunFenced):
        store.mark_ids_deleted(iid, "users", [rec(iid, "users", "1").id], at(102), run_id=a.id)
    assert store.count(iid, "users") == 2


def test_a_taken_over_run_keeps_its_abandoned_status(store, iid):
    a, b = _take_over(store, iid)
    assert store.heartbeat(a.id, at(101)) is False
    assert store.heartbeat(b.id, at(101)) is True
    a.status, a.finished_at = "succeeded", at(102)
    with pytest.raises(RunFenced):
        store.finish_run(a)
    stored = store.get_run(a.id)
    assert stored.status == "failed" and "abandoned" in stored.error
    b.status, b.finished_at = "succeeded", at(103)
    store.finish_run(b)
    assert store.get_run(b.id).status == "succeeded"


def test_a_finished_run_is_fenced_too(store, iid):
    run = store.start_run(iid, "FULL", at(0))
    run.status, run.finished_at = "succeeded", at(1)
    store.finish_run(run)
    with pytest.raises(RunFenced):
        with store.writer(iid, "users", run_id=run.id) as w:
            w.write([rec(iid, "users", "1")], at(2))
    with store.writer(iid, "users") as w:  # no run (an action's refresh): not fenced
        w.write([rec(iid, "users", "1")], at(2))
    assert store.count(iid, "users") == 1
