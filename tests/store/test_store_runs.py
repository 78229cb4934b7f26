"""Runs and the per-integration sync lock (also across processes)."""

from __future__ import annotations

import multiprocessing

import pytest

from engine.store import NotFound, SyncAlreadyRunning

from storetest_util import at, race_start_run


def test_second_start_raises_until_finished(store, iid):
    run = store.start_run(iid, "FULL", at(0))
    assert run.status == "running" and run.heartbeat_at == at(0)
    with pytest.raises(SyncAlreadyRunning) as info:
        store.start_run(iid, "DELTA", at(10))
    assert info.value.run_id == run.id and info.value.integration_id == iid
    other = store.start_run(iid + "-other", "FULL", at(10))  # other integrations are independent
    assert other.id != run.id
    run.status, run.finished_at = "succeeded", at(20)
    run.stats = {"users": {"created": 3, "updated": 0, "unchanged": 1, "deleted": 0}}
    run.warnings = ["w1"]
    store.finish_run(run)
    got = store.get_run(run.id)
    assert (got.status, got.finished_at, got.stats, got.warnings, got.error) == \
        ("succeeded", at(20), run.stats, ["w1"], None)
    again = store.start_run(iid, "DELTA", at(30))
    assert [r.id for r in store.list_runs(iid)] == [again.id, run.id]
    assert [r.id for r in store.list_runs(limit=1)] == [again.id]
    assert {r.id for r in store.list_runs()} == {run.id, other.id, again.id}


def test_stale_lock_is_recovered_and_heartbeat_keeps_it(store, iid):
    run = store.start_run(iid, "FULL", at(0), stale_after_s=300)
    store.heartbeat(run.id, at(250))
    with pytest.raises(SyncAlreadyRunning):
        store.start_run(iid, "FULL", at(500), stale_after_s=300)  # heartbeat 250 s old: alive
    new = store.start_run(iid, "FULL", at(600), stale_after_s=300)  # 350 s: abandoned
    old = store.get_run(run.id)
    assert old.status == "failed" and old.error == "abandoned (no heartbeat)" and old.finished_at == at(600)
    assert store.get_run(new.id).status == "running"
    assert store.get_run(new.id).heartbeat_at == at(600)


def test_unknown_runs(store):
    assert store.get_run("nope") is None
    with pytest.raises(NotFound):
        store.heartbeat("nope", at(0))
    run = store.start_run("i", "FULL", at(0))
    run.id = "nope"
    with pytest.raises(NotFound):
        store.finish_run(run)


def test_two_processes_racing_exactly_one_wins(store, iid):
    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=race_start_run, args=(store.kind, store.location, iid, barrier, results))
             for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in range(n)]
    for p in procs:
        p.join(timeout=30)
    assert [o for o in outcomes if o[0] == "error"] == []
    winners = [o[1] for o in outcomes if o[0] == "won"]
    assert len(winners) == 1
    assert {o[1] for o in outcomes if o[0] == "lost"} <= {winners[0]}
    running = [r for r in store.list_runs(iid) if r.status == "running"]
    assert [r.id for r in running] == winners
