"""One writer per integration: a run paused past the stale limit and taken over writes
nothing when it resumes, and its ``failed (abandoned)`` record is not overwritten."""

from __future__ import annotations

import threading
import time

import httpx
from test_engine_e2e import FakeRemote, _users, build

from engine.sync import SyncEngine


class PausingRemote(FakeRemote):
    """Blocks the first request after ``arm()`` until ``release`` is set (a SIGSTOP-ed run)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.paused = threading.Event()
        self.release = threading.Event()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.armed:
            self.armed = False
            self.paused.set()
            self.release.wait(10)
        return super().handler(request)


def test_a_resumed_stale_run_writes_nothing(tmp_path):
    remote = PausingRemote()
    make, store = build(tmp_path, remote)

    def engine(beat: float, stale: float) -> SyncEngine:
        return make(heartbeat_s=beat, stale_after_s=stale)

    assert engine(5, 11).sync("fake:1").status == "succeeded"
    remote.armed = True
    result: dict = {}
    paused = threading.Thread(target=lambda: result.setdefault("run", engine(5, 11).sync("fake:1")))
    paused.start()
    assert remote.paused.wait(5)
    remote.people[0]["first"] = "Taken-over"  # what the run that takes over reads
    time.sleep(0.4)
    taker = engine(0.05, 0.2).sync("fake:1")  # A's heartbeat is 0.4 s old: abandoned
    assert taker.status == "succeeded", taker.error
    remote.people = remote.people[1:]  # A, resuming, would read person 1 as gone...
    remote.people[0]["first"] = "Stale"  # ...and person 2 changed
    remote.release.set()
    paused.join(10)
    stale = result["run"]
    assert stale.status == "failed"
    stored = store.get_run(stale.id)
    assert stored.status == "failed" and "abandoned" in stored.error
    users = {u.remote_id: u for u in _users(store)}
    assert users["1"].remote_deleted_at is None and users["1"].fields["first_name"] == "Taken-over"
    assert users["2"].fields["first_name"] == "F2"
    store.close()
