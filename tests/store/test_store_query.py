"""Query semantics: keyset paging, snapshot, every filter, nested updated_after."""

from __future__ import annotations

import threading

import pytest

from engine.ids import record_id
from engine.store import Query, StoreError

from storetest_util import at, rec


def write(store, iid, model, records, now):
    with store.writer(iid, model) as w:
        return w.write(records, now)


def page_all(store, q_kwargs, limit, between_pages=None):
    seen, after = [], None
    while True:
        page = store.query(Query(limit=limit, after_id=after, **q_kwargs))
        assert len(page) <= limit
        if not page:
            return seen
        seen += [r.id for r in page]
        after = page[-1].id
        if between_pages:
            between_pages()


def test_keyset_paging_returns_every_row_once_in_byte_order(store, iid):
    recs = [rec(iid, "users", str(i), first_name=str(i)) for i in range(250)]
    write(store, iid, "users", recs, at(0))
    ids = page_all(store, {"integration_id": iid, "model": "users"}, limit=7)
    assert ids == sorted(r.id for r in recs)  # Python str order = bytewise for ASCII
    assert len(store.query(Query(iid, "users", limit=0))) == 0


def test_snapshot_paging_while_another_thread_writes(store, iid):
    write(store, iid, "users", [rec(iid, "users", str(i)) for i in range(60)], at(0))
    before = {record_id(iid, "users", str(i)) for i in range(60)}
    snapshot = at(10)
    batches = iter(range(100, 1000, 30))

    def add_rows_in_other_thread():
        start = next(batches)
        new = [rec(iid, "users", str(i)) for i in range(start, start + 30)]
        t = threading.Thread(target=write, args=(store, iid, "users", new, at(20)))
        t.start()
        t.join()

    ids = page_all(store, {"integration_id": iid, "model": "users", "snapshot": snapshot}, 9,
                   between_pages=add_rows_in_other_thread)
    assert len(ids) == len(set(ids)) and set(ids) == before
    assert store.count(iid, "users") > 60  # the writes really happened
    assert len(store.query(Query(iid, "users", limit=10_000))) > 60  # visible without snapshot


def test_snapshot_paging_keeps_records_deleted_after_the_first_page(store, iid):
    write(store, iid, "users", [rec(iid, "users", str(i)) for i in range(40)], at(0))
    everyone = {record_id(iid, "users", str(i)) for i in range(40)}
    survivors = {record_id(iid, "users", str(i)) for i in range(20)}
    deleted = []

    def delete_half_once():
        if not deleted:
            deleted.append(store.mark_deleted(iid, "users", survivors, at(20)))

    ids = page_all(store, {"integration_id": iid, "model": "users", "snapshot": at(10)}, 7, between_pages=delete_half_once)
    assert deleted == [20]
    assert len(ids) == len(set(ids)) and set(ids) == everyone
    # a new first page (a later snapshot) no longer shows them
    assert {r.id for r in store.query(Query(iid, "users", limit=100, snapshot=at(30)))} == survivors


@pytest.fixture
def graph(store, iid):
    """Users, courses with revisions, skills, revision skills and progressions."""
    users = [rec(iid, "users", f"u{i}", work_email=f"u{i}@x.org", first_name=f"F{i}") for i in range(4)]
    courses = [rec(iid, "courses", f"c{i}", origin_id=f"o{i}") for i in range(3)]
    cid = [c.id for c in courses]
    revs = [rec(iid, "course_revisions", f"r{i}", course_id=cid[i % 3], title=f"T{i}") for i in range(6)]
    skills = [rec(iid, "skills", f"s{i}", name=f"S{i}") for i in range(2)]
    rskills = [rec(iid, "revision_skills", f"rs{i}", course_revision_id=revs[i].id, skill_id=skills[i % 2].id)
               for i in range(4)]
    progs = [rec(iid, "course_progressions", f"p{i}", user_id=users[i % 4].id,
                 course_revision_id=revs[i % 6].id, status="IN_PROGRESS") for i in range(12)]
    for model, batch in (("users", users), ("courses", courses), ("course_revisions", revs),
                         ("skills", skills), ("revision_skills", rskills), ("course_progressions", progs)):
        write(store, iid, model, batch, at(0))
    return {"users": users, "courses": courses, "revs": revs, "skills": skills, "rskills": rskills,
            "progs": progs}


def ids_of(store, iid, model, **kw):
    return {r.id for r in store.query(Query(iid, model, limit=1000, **kw))}


def test_id_and_remote_id_filters(store, iid, graph):
    u = graph["users"]
    assert ids_of(store, iid, "users", ids=[u[0].id, u[2].id, "nope"]) == {u[0].id, u[2].id}
    assert ids_of(store, iid, "users", remote_ids=["u1", "u3"]) == {u[1].id, u[3].id}
    assert ids_of(store, iid, "users", ids=[u[0].id], remote_ids=["u1"]) == set()  # AND
    assert ids_of(store, iid, "users", ids=[]) == set()


def test_field_in(store, iid, graph):
    u = graph["users"]
    assert ids_of(store, iid, "users", field_in={"work_email": ["u1@x.org", "u2@x.org", "zz"]}) == {u[1].id, u[2].id}
    assert ids_of(store, iid, "users", field_in={"work_email": ["u1@x.org"], "first_name": ["F2"]}) == set()
    with pytest.raises(StoreError):
        store.query(Query(iid, "users", field_in={"password": ["x"]}))


def test_field_in_lower_ignores_case_on_both_sides(store, iid):
    users = [rec(iid, "users", "a", work_email="Olivia.Muller@Example.COM"), rec(iid, "users", "b", work_email="bo@x.org"),
             rec(iid, "users", "c", work_email=None)]
    write(store, iid, "users", users, at(0))
    a, b = users[0].id, users[1].id
    assert ids_of(store, iid, "users", field_in_lower={"work_email": ["olivia.muller@example.com"]}) == {a}
    assert ids_of(store, iid, "users", field_in_lower={"work_email": ["OLIVIA.MULLER@EXAMPLE.com", "BO@X.ORG"]}) == {a, b}
    assert ids_of(store, iid, "users", field_in={"work_email": ["olivia.muller@example.com"]}) == set()  # exact
    assert ids_of(store, iid, "users", field_in_lower={"work_email": ["olivia"]}) == set()
    with pytest.raises(StoreError):
        store.query(Query(iid, "users", field_in_lower={"password": ["x"]}))


def test_ref_filters(store, iid, graph):
    u, p, r, c = graph["users"], graph["progs"], graph["revs"], graph["courses"]
    assert ids_of(store, iid, "course_progressions", refs={"user_id": [u[1].id]}) == {p[1].id, p[5].id, p[9].id}
    assert ids_of(store, iid, "course_progressions", refs={"course_revision_id": [r[0].id, r[1].id]}) == \
        {p[0].id, p[1].id, p[6].id, p[7].id}
    # course_id goes through the revision's course: c0 has revisions r0 and r3
    assert ids_of(store, iid, "course_progressions", refs={"course_id": [c[0].id]}) == \
        {p[0].id, p[3].id, p[6].id, p[9].id}
    assert ids_of(store, iid, "course_progressions", refs={"course_id": [c[0].id], "user_id": [u[0].id]}) == \
        {p[0].id}
    assert ids_of(store, iid, "course_revisions", refs={"course_id": [c[1].id]}) == {r[1].id, r[4].id}
    assert ids_of(store, iid, "revision_skills", refs={"skill_id": [graph["skills"][1].id]}) == \
        {graph["rskills"][1].id, graph["rskills"][3].id}
    with pytest.raises(StoreError):
        store.query(Query(iid, "users", refs={"course_id": ["x"]}))
    with pytest.raises(StoreError):
        store.query(Query(iid, "nope"))


def test_include_deleted(store, iid, graph):
    u = graph["users"]
    store.mark_deleted(iid, "users", {u[0].id, u[1].id}, at(5))
    assert ids_of(store, iid, "users") == {u[0].id, u[1].id}
    assert ids_of(store, iid, "users", include_deleted=True) == {x.id for x in u}


def test_updated_after_plain_models_look_only_at_themselves(store, iid, graph):
    r = graph["revs"]
    assert ids_of(store, iid, "course_revisions", updated_after=at(0)) == set()
    write(store, iid, "revision_skills", [rec(iid, "revision_skills", "rs9", course_revision_id=r[5].id,
                                              skill_id=graph["skills"][0].id)], at(10))
    assert ids_of(store, iid, "course_revisions", updated_after=at(5)) == set()
    write(store, iid, "course_revisions", [rec(iid, "course_revisions", "r2", course_id=r[2].fields["course_id"],
                                               title="new")], at(10))
    assert ids_of(store, iid, "course_revisions", updated_after=at(5)) == {r[2].id}
    assert ids_of(store, iid, "course_revisions", updated_after=at(10)) == set()
    assert ids_of(store, iid, "course_progressions", updated_after=at(5)) == set()


def test_updated_after_courses_is_nested_over_revisions(store, iid, graph):
    c, r = graph["courses"], graph["revs"]
    assert ids_of(store, iid, "courses", updated_after=at(0)) == set()
    # a revision of c1 changes
    write(store, iid, "course_revisions", [rec(iid, "course_revisions", "r1", course_id=c[1].id, title="x")], at(10))
    assert ids_of(store, iid, "courses", updated_after=at(5)) == {c[1].id}
    # a revision is added to c2
    write(store, iid, "course_revisions", [rec(iid, "course_revisions", "r9", course_id=c[2].id, title="x")], at(20))
    assert ids_of(store, iid, "courses", updated_after=at(15)) == {c[2].id}
    # a revision of c0 (r0) is removed
    keep = {x.id for x in r if x.remote_id != "r0"} | {record_id(iid, "course_revisions", "r9")}
    assert store.mark_deleted(iid, "course_revisions", keep, at(30)) == 1
    assert ids_of(store, iid, "courses", updated_after=at(25)) == {c[0].id}
    # the course itself changes
    write(store, iid, "courses", [rec(iid, "courses", "c2", origin_id="changed")], at(40))
    assert ids_of(store, iid, "courses", updated_after=at(35)) == {c[2].id}
    assert ids_of(store, iid, "courses", updated_after=at(5)) == {x.id for x in c}
    assert ids_of(store, iid, "courses", updated_after=at(40)) == set()
