"""List endpoints over real HTTP: shapes, filters, paging, deletion, nested updated_after."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from engine.ids import record_id
from engine.store.base import Integration
from schemas._loader import load_schema, validator_for

from .conftest import A, C, T0, assert_error, mrec, response_validator, write

ENDPOINTS = {
    "/lms/users": "user.schema.json",
    "/lms/skills": "skill.schema.json",
    "/lms/courses": "course.schema.json",
    "/lms/course-progressions": "course-progression.schema.json",
}


def all_pages(client, path, **params) -> list[dict]:
    out, cursor = [], None
    while True:
        resp = client.get(f"/v1{path}", params={**params, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        out += data["results"]
        cursor = data["next"]
        if cursor is None:
            return out


@pytest.mark.parametrize("path", ENDPOINTS)
def test_envelope_and_shape_match_contract_and_our_schema(client_a, path):
    resp = client_a.get(f"/v1{path}", params={"page_size": 250, "include_deleted": "true"})
    assert resp.status_code == 200
    body = resp.json()
    response_validator(path).validate(body)
    ours = load_schema(ENDPOINTS[path])
    check = validator_for(ours["$id"])
    assert body["data"]["results"]
    for item in body["data"]["results"]:
        check.validate(item)
        assert list(item) and set(item) == set(ours["properties"])
        assert item["changed_at"].endswith("Z") and len(item["changed_at"]) == 24


def test_user_fields_and_dates(client_a):
    uid = record_id(A, "users", "u1")
    [user] = client_a.get("/v1/lms/users", params={"ids": uid}).json()["data"]["results"]
    assert user == {
        "id": uid, "remote_id": "u1", "first_name": "First1", "last_name": "Last1",
        "work_email": "user1@example.com", "status": "ACTIVE", "remote_created_at": "2023-05-06T07:08:09.123Z",
        "remote_deleted_at": None, "changed_at": "2024-01-01T00:00:00.000Z", "remote_data": {"/fn": {"id": "u1"}},
        "custom_fields": {"n": 1}, "integration_fields": [],
    }


def test_courses_embed_revisions_and_skills(env, client_a):
    cid = record_id(A, "courses", "c1")
    [course] = client_a.get("/v1/lms/courses", params={"ids": cid}).json()["data"]["results"]
    assert course["provider"] is None
    assert sorted(r["remote_id"] for r in course["revisions"]) == ["r1.0", "r1.1"]
    for rev in course["revisions"]:
        assert rev["course_id"] == cid
        [assignment] = rev["skill_assignments"]
        assert assignment["skill"]["name"].startswith("Skill ")
        assert assignment["skill"]["id"] == record_id(A, "skills", assignment["skill"]["remote_id"])


@pytest.mark.parametrize("path", ["/lms/courses", "/lms/course-progressions"])
def test_a_page_uses_a_bounded_number_of_store_calls(env, client_a, monkeypatch, path):
    calls = []
    for name in ("query", "children", "get_many", "summaries", "find_by_remote_id"):
        original = getattr(env.store, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            if not threading.current_thread().name.startswith("lmsync-read-ahead"):  # the next page, composed ahead
                calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(env.store, name, counted)
    small = client_a.get(f"/v1{path}", params={"page_size": 2})
    n_small = len(calls)
    big = client_a.get(f"/v1{path}", params={"page_size": 250})
    assert len(small.json()["data"]["results"]) == 2 and len(big.json()["data"]["results"]) >= 12
    assert n_small == len(calls) - n_small <= 4


def test_progressions_embed_user_and_revision_summary(client_a):
    pid = record_id(A, "course_progressions", "p1")
    [p] = client_a.get("/v1/lms/course-progressions", params={"ids": pid}).json()["data"]["results"]
    assert p["user"] == {"id": record_id(A, "users", "u1"), "remote_id": "u1", "first_name": "First1",
                         "last_name": "Last1", "work_email": "user1@example.com"}
    rev = p["course_revision"]
    assert rev["id"] == p["course_revision_id"] == record_id(A, "course_revisions", "r1.0")
    assert (rev["remote_id"], rev["title"]) == ("r1.0", "Course 1 v0")
    assert rev["course"] == {"id": record_id(A, "courses", "c1"), "remote_id": "c1"}
    assert p["enrolled_at"] == "2024-02-03T04:05:06.789Z"


@pytest.mark.parametrize("page_size", [1, 7, 250])
def test_paging_returns_every_live_record_once(env, client_a, page_size):
    users = all_pages(client_a, "/lms/users", page_size=page_size)
    remote = [u["remote_id"] for u in users]
    assert len(remote) == len(set(remote))
    assert set(remote) == set(env.seed_a.users) - set(env.seed_a.deleted_users)
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)


def test_include_deleted(env, client_a):
    users = all_pages(client_a, "/lms/users", include_deleted="true", page_size=50)
    assert {u["remote_id"] for u in users} == set(env.seed_a.users)
    deleted = [u for u in users if u["remote_deleted_at"]]
    assert {u["remote_id"] for u in deleted} == set(env.seed_a.deleted_users)
    explicit_false = all_pages(client_a, "/lms/users", include_deleted="false")
    assert len(explicit_false) == len(env.seed_a.users) - 3


def test_filters_ids_and_remote_ids(client_a):
    ids = [record_id(A, "users", r) for r in ("u2", "u5")]
    got = client_a.get("/v1/lms/users", params={"ids": ",".join(ids)}).json()["data"]["results"]
    assert sorted(u["remote_id"] for u in got) == ["u2", "u5"]
    got = client_a.get("/v1/lms/skills", params={"remote_ids": "s1, s3,nope"}).json()["data"]["results"]
    assert sorted(s["remote_id"] for s in got) == ["s1", "s3"]
    flagged = client_a.get("/v1/lms/skills", params={"remote_ids": "s1", "ignore_unsupported_filters": "true"})
    assert [s["remote_id"] for s in flagged.json()["data"]["results"]] == ["s1"]
    both = client_a.get("/v1/lms/users", params={"ids": ids[0], "remote_ids": "u5"}).json()["data"]["results"]
    assert both == []  # top-level filters combine with AND


def test_filter_work_emails_is_case_insensitive_for_the_query(client_a):
    got = client_a.get("/v1/lms/users", params={"work_emails": "USER4@example.com,user6@example.com"})
    assert sorted(u["remote_id"] for u in got.json()["data"]["results"]) == ["u4", "u6"]


def test_filter_progressions_by_user_and_course(client_a):
    uid = record_id(A, "users", "u1")
    got = all_pages(client_a, "/lms/course-progressions", user_ids=uid)
    assert got and all(p["user_id"] == uid for p in got)
    assert {p["remote_id"] for p in got} == {"p1", "p31"}
    cid = record_id(A, "courses", "c0")
    got = all_pages(client_a, "/lms/course-progressions", course_ids=cid)
    assert got and all(p["course_revision"]["course"]["id"] == cid for p in got)
    none = all_pages(client_a, "/lms/course-progressions", course_ids=cid, user_ids=uid + "x")
    assert none == []


def test_updated_after_nested_rule_for_courses(env, client_a):
    got = all_pages(client_a, "/lms/courses", updated_after="2024-03-01T00:00:00.000Z")
    assert [c["remote_id"] for c in got] == [env.seed_a.touched_course]
    assert got[0]["changed_at"] == "2024-01-01T00:00:00.000Z"  # the course itself did not change
    assert len(all_pages(client_a, "/lms/courses", updated_after="2023-12-31")) == 12
    assert all_pages(client_a, "/lms/users", updated_after="2024-03-01T00:00:00Z") == []
    # deleted users changed on 2024-01-02: only visible with include_deleted
    got = all_pages(client_a, "/lms/users", updated_after="2024-01-01T12:00:00", include_deleted="true")
    assert {u["remote_id"] for u in got} == set(env.seed_a.deleted_users)


def test_cursor_bound_to_filters(client_a):
    first = client_a.get("/v1/lms/users", params={"page_size": 2}).json()["data"]
    assert first["next"]
    ok = client_a.get("/v1/lms/users", params={"page_size": 5, "cursor": first["next"]})
    assert ok.status_code == 200  # page size may change between pages
    bad = client_a.get("/v1/lms/users", params={"cursor": first["next"], "include_deleted": "true"})
    assert_error(bad, 400, "PLATFORM.INPUT_INVALID")
    other_model = client_a.get("/v1/lms/skills", params={"cursor": first["next"]})
    assert_error(other_model, 400, "PLATFORM.INPUT_INVALID")


def test_paging_while_a_sync_writes_sees_each_original_record_once(env):
    iid = C
    originals = [mrec(iid, "users", f"orig{n}", _user_fields(n)) for n in range(60)]
    write(env.store, iid, "users", originals, T0)
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set() and n < 400:
            write(env.store, iid, "users", [mrec(iid, "users", f"new{n}", _user_fields(n))], datetime.now(timezone.utc))
            n += 1

    with env.client(env.key_all, iid) as client:
        first = client.get("/v1/lms/users", params={"page_size": 5})
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            seen = first.json()["data"]["results"]
            cursor = first.json()["data"]["next"]
            page = 0
            while cursor:
                page += 1  # also write deterministically between pages, not only from the thread
                extra = [mrec(iid, "users", f"between{page}.{k}", _user_fields(k)) for k in range(3)]
                write(env.store, iid, "users", extra, datetime.now(timezone.utc))
                data = client.get("/v1/lms/users", params={"page_size": 5, "cursor": cursor}).json()["data"]
                seen += data["results"]
                cursor = data["next"]
        finally:
            stop.set()
            thread.join()
    remote = [u["remote_id"] for u in seen]
    assert sorted(remote) == sorted(r.remote_id for r in originals)
    with env.client(env.key_all, iid) as client:  # a fresh listing sees the new records
        assert len(all_pages(client, "/lms/users", page_size=250)) > len(originals) + 30


def _user_fields(n: int) -> dict:
    return {"first_name": f"F{n}", "last_name": None, "work_email": None, "status": None,
            "remote_created_at": None, "custom_fields": None, "integration_fields": []}


def _fresh_integration(env, name: str) -> str:
    iid = f"moodle:{name}"
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    return iid


def test_embedded_summaries_follow_a_rename_between_pages(env):
    """Summaries are kept between pages (``Store.summaries``); a rename must show at once."""
    iid = _fresh_integration(env, "EmbeddedSummaries000000000")
    u = mrec(iid, "users", "emb-u", {**_user_fields(1), "first_name": "Before"})
    course = mrec(iid, "courses", "emb-c", {"provider_id": None, "origin_id": None, "remote_created_at": None,
                                             "custom_fields": None, "integration_fields": []})
    rev_fields = {"course_id": course.id, "title": "Old title", "description": None, "remote_url": None,
                  "status": "ACTIVE", "remote_created_at": None, "custom_fields": None, "integration_fields": []}
    rev = mrec(iid, "course_revisions", "emb-r", rev_fields)
    prog = mrec(iid, "course_progressions", "emb-p", {"user_id": u.id, "course_revision_id": rev.id, "status": "ENROLLED",
                                                      "enrolled_at": None, "completed_at": None})
    for model, r in (("users", u), ("courses", course), ("course_revisions", rev), ("course_progressions", prog)):
        write(env.store, iid, model, [r], T0)

    def embedded():
        with env.client(env.key_all, iid) as client:
            [p] = client.get("/v1/lms/course-progressions", params={"ids": prog.id}).json()["data"]["results"]
        return p["user"]["first_name"], p["course_revision"]["title"], p["course_revision"]["course"]

    assert embedded() == ("Before", "Old title", {"id": course.id, "remote_id": "emb-c"})
    now = datetime.now(timezone.utc)
    write(env.store, iid, "users", [mrec(iid, "users", "emb-u", {**_user_fields(1), "first_name": "After"})], now)
    write(env.store, iid, "course_revisions", [mrec(iid, "course_revisions", "emb-r", {**rev_fields, "title": "New title"})], now)
    assert embedded() == ("After", "New title", {"id": course.id, "remote_id": "emb-c"})


def test_filter_work_emails_matches_a_stored_spelling_in_other_case(env):
    iid = _fresh_integration(env, "MixedCaseEmails0000000000")
    write(env.store, iid, "users", [mrec(iid, "users", "mixed-case", {**_user_fields(7), "work_email": "Mixed.Case@Example.COM"})],
          datetime.now(timezone.utc))
    with env.client(env.key_all, iid) as client:
        got = client.get("/v1/lms/users", params={"work_emails": "mixed.case@example.com"}).json()["data"]["results"]
    assert [u["remote_id"] for u in got] == ["mixed-case"]
