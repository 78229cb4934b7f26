"""The 1 MiB body limit against a realistic bulk course upsert, over real HTTP on loopback.

5,000 items with a 60-character title, a 300-character description and a URL are about 2.6 MB:
they do not fit, and the 413 says the limit and exactly how many leading items would have.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import httpx
import pytest

from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._body import MAX_BODY_BYTES, items_within
from engine.store.base import Integration

from .conftest import assert_error, make_store

IID = "moodle:BULKBULKBULKBULKBULKBULK"
_DESCRIPTION = ("Learn how to query relational databases, clean and reshape data, and build reproducible "
                "analyses. This course covers joins, aggregation, window functions and visualisation, with "
                "hands-on exercises on real data sets and a final project reviewed by peers. ") * 2


def item(n: int) -> dict:
    """A realistic upsert item: title 60 characters, description 300, a course URL."""
    return {"origin_id": f"course-{n:05d}", "course": {
        "type": "EXTERNAL", "title": f"Introduction to Data Analysis with SQL and Python, Part {n:04d}",
        "description": _DESCRIPTION[:300], "course_url": f"https://content.example.com/courses/course-{n:05d}"}}


def body(n: int) -> bytes:
    return json.dumps({"items": [item(i) for i in range(n)]}).encode()


class StubActions:
    """Accepts upserts without writing anywhere (the body limit is under test, not Moodle)."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit_upsert(self, integration_id: str, items: list[dict]) -> SimpleNamespace:
        self.submitted.append(len(items))
        return SimpleNamespace(id=f"task{len(self.submitted)}")


@pytest.fixture(scope="module")
def bulk(tmp_path_factory):
    store = make_store(tmp_path_factory)
    store.add_integration(Integration(IID, "moodle", "https://lms.example.com", {"token": "x"}))
    actions = StubActions()
    app = create_app(store, services=ApiServices(force_sync=lambda iid, kind: ("s", False), actions=actions))
    headers = {"Authorization": f"Bearer {create_api_key(store, 'bulk', [IID])}", "X-Integration-Id": IID,
               "Content-Type": "application/json"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        yield client, actions
    store.close()


@functools.lru_cache(maxsize=1)
def _most_that_fit() -> int:
    """The largest n whose body is at most 1 MiB, found by measuring (not by the scanner)."""
    size, n = len(body(0)), 0
    while size + len(json.dumps(item(n))) + (2 if n else 0) <= MAX_BODY_BYTES:
        size, n = size + len(json.dumps(item(n))) + (2 if n else 0), n + 1
    assert len(body(n)) <= MAX_BODY_BYTES < len(body(n + 1))
    return n


def test_items_are_realistic_and_5000_do_not_fit():
    assert len(item(1)["course"]["title"]) == 60 and len(item(1)["course"]["description"]) == 300
    assert len(body(5000)) == 2_605_011 > MAX_BODY_BYTES


def test_5000_items_get_a_413_naming_the_limit_and_the_items_that_fit(bulk):
    client, actions = bulk
    fit = _most_that_fit()
    assert items_within(body(5000), "items") == fit
    error = assert_error(client.post("/v1/lms/courses/bulk", content=body(5000)), 413, "PLATFORM.INPUT_INVALID")
    assert error["error"]["message"] == (
        f"The request body (2,605,011 bytes) exceeds the limit of 1048576 bytes (1 MiB): the first {fit:,} items fit; "
        f"send at most {fit:,} items per request.")
    chunked = client.post("/v1/lms/courses/bulk", content=iter([body(5000)[i:i + 65536] for i in range(0, 2_605_011, 65536)]))
    assert f"the first {fit:,} items fit" in assert_error(chunked, 413, "PLATFORM.INPUT_INVALID")["error"]["message"]
    assert actions.submitted == []


def test_exactly_the_items_that_fit_are_accepted_and_one_more_is_not(bulk):
    client, actions = bulk
    fit = _most_that_fit()
    accepted = client.post("/v1/lms/courses/bulk", content=body(fit))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["data"]["task_id"] == f"task{len(actions.submitted)}" and actions.submitted[-1] == fit
    error = assert_error(client.post("/v1/lms/courses/bulk", content=body(fit + 1)), 413, "PLATFORM.INPUT_INVALID")
    assert f"the first {fit:,} items fit" in error["error"]["message"]


def test_other_endpoints_keep_the_plain_413(bulk):
    client, _ = bulk
    big = b'{"type": "FULL", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    error = assert_error(client.post("/v1/force-sync", content=big), 413, "PLATFORM.INPUT_INVALID")
    assert error["error"]["message"] == "The request body exceeds the limit of 1048576 bytes (1 MiB)."
