"""Read-ahead: the next page is composed early, and served only while nothing it reads changed."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._readahead import ReadAhead
from engine.store.base import Integration

from .conftest import A, T0, make_store, mrec, seed, write


class _Versions:
    def __init__(self) -> None:
        self.token = "v1"
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, iid, models):
        self.calls.append((iid, tuple(models)))
        return {m: self.token for m in models}


def test_a_page_composed_ahead_is_served_while_its_models_are_unchanged():
    versions = _Versions()
    ahead = ReadAhead(versions)
    ahead.submit("k", "i", ["users"], lambda: b"page 2")
    assert ahead.take("k") == b"page 2"
    assert ahead.take("k") is None  # taken once
    assert versions.calls == [("i", ("users",)), ("i", ("users",))]
    assert ahead.stats["served"] == 1
    ahead.close()


def test_a_write_between_composing_and_asking_discards_the_page():
    versions = _Versions()
    ahead = ReadAhead(versions)
    ahead.submit("k", "i", ["users", "courses"], lambda: b"old")
    ahead._kept["k"].future.result()  # composed with token v1
    versions.token = "v2"
    assert ahead.take("k") is None and ahead.stats["stale"] == 1
    ahead.close()


def test_failed_expired_and_unknown_pages_are_composed_by_the_request():
    versions = _Versions()
    ahead = ReadAhead(versions, ttl_s=0.05)

    def boom():
        raise RuntimeError("database gone")

    ahead.submit("bad", "i", ["users"], boom)
    assert ahead.take("bad") is None and ahead.stats["failed"] == 1
    ahead.submit("old", "i", ["users"], lambda: b"x")
    time.sleep(0.1)
    assert ahead.take("old") is None and ahead.stats["stale"] == 1
    assert ahead.take("never-submitted") is None
    ahead.close()


def test_a_page_not_started_yet_is_cancelled_not_waited_for():
    ahead = ReadAhead(_Versions(), workers=1)
    release = threading.Event()
    ahead.submit("busy", "i", ["users"], lambda: release.wait(5) and b"busy")
    ahead.submit("queued", "i", ["users"], lambda: b"queued")
    assert ahead.take("queued") is None and ahead.stats["cancelled"] == 1
    release.set()
    assert ahead.take("busy") == b"busy"
    ahead.close()


def test_at_most_max_entries_are_kept_oldest_dropped_first():
    ahead = ReadAhead(_Versions(), max_entries=2)
    for key in ("a", "b", "c"):
        ahead.submit(key, "i", ["users"], lambda key=key: key.encode())
    assert ahead.stats["dropped"] == 1
    assert ahead.take("a") is None and ahead.take("b") == b"b" and ahead.take("c") == b"c"
    ahead.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = make_store(tmp_path_factory)
    store.add_integration(Integration(A, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    seed(store, A)
    app = create_app(store, services=ApiServices(force_sync=lambda iid, kind: ("s", False)))
    key = create_api_key(store, "k", [A])
    with serve_in_thread(app) as url:
        yield store, app.state.read_ahead, url, {"Authorization": f"Bearer {key}", "X-Integration-Id": A}
    app.state.read_ahead.close()
    store.close()


def _wait_composed(ahead: ReadAhead) -> None:
    deadline = time.monotonic() + 5
    while any(not kept.future.done() for kept in list(ahead._kept.values())):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_over_http_pages_are_served_ahead_and_a_rename_in_between_is_seen(served):
    import httpx

    store, ahead, url, headers = served
    path = "/v1/lms/course-progressions"
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        first = client.get(path, params={"page_size": 5}).json()["data"]
        _wait_composed(ahead)
        before = dict(ahead.stats)
        second = client.get(path, params={"page_size": 5, "cursor": first["next"]}).json()["data"]
        assert ahead.stats["served"] == before.get("served", 0) + 1

        # page 3 is now composed ahead; rename the user embedded in its first progression
        _wait_composed(ahead)
        with httpx.Client(base_url=url, headers=headers) as other:  # what page 3 holds, read without a cursor
            user_id = other.get(path, params={"page_size": 1, "ids": _third_page_first_id(client, path, second)}
                                ).json()["data"]["results"][0]["user_id"]
        user = store.get_many(A, "users", [user_id])[user_id]
        write(store, A, "users", [mrec(A, "users", user.remote_id, {**user.fields, "first_name": "Renamed"})],
              datetime.now(timezone.utc))
        stale_before = ahead.stats["stale"]
        third = client.get(path, params={"page_size": 5, "cursor": second["next"]}).json()["data"]
    assert ahead.stats["stale"] == stale_before + 1
    renamed = [p for p in third["results"] if p["user_id"] == user_id]
    assert renamed and all(p["user"]["first_name"] == "Renamed" for p in renamed)


def _third_page_first_id(client, path, second) -> str:
    """The id of the first progression after page 2 (keyset order), without using the cursor."""
    ids = sorted(p["id"] for p in client.get(path, params={"page_size": 250}).json()["data"]["results"])
    return ids[ids.index(second["results"][-1]["id"]) + 1]
