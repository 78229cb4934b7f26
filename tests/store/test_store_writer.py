"""Writer semantics: classification, hashes, changed_at, rollback, deletion and restore."""

from __future__ import annotations

import pytest

from engine.ids import record_id
from engine.store import Query, StoreError

from storetest_util import at, rec


def users(iid, n, **overrides):
    return [rec(iid, "users", str(i), first_name=f"u{i}", work_email=f"u{i}@x.org", **overrides) for i in range(n)]


def write(store, iid, model, records, now):
    with store.writer(iid, model) as w:
        return w.write(records, now)


def all_rows(store, iid, model="users", **kw):
    return {r.remote_id: r for r in store.query(Query(iid, model, limit=10_000, **kw))}


def test_created_updated_unchanged(store, iid):
    c = write(store, iid, "users", users(iid, 3), at(0))
    assert (c.created, c.updated, c.unchanged) == (3, 0, 0)
    c = write(store, iid, "users", users(iid, 3), at(10))
    assert (c.created, c.updated, c.unchanged) == (0, 0, 3)
    batch = users(iid, 4)
    batch[1] = rec(iid, "users", "1", first_name="changed", work_email="u1@x.org")
    c = write(store, iid, "users", batch, at(20))
    assert (c.created, c.updated, c.unchanged) == (1, 1, 2)
    rows = all_rows(store, iid)
    assert rows["0"].changed_at == at(0) and rows["2"].changed_at == at(0)
    assert rows["1"].changed_at == at(20) and rows["1"].fields["first_name"] == "changed"
    assert rows["3"].changed_at == at(20)
    assert rows["1"].id == record_id(iid, "users", "1")


def test_raw_only_change_rewrites_without_moving_changed_at(store, iid):
    write(store, iid, "users", users(iid, 2), at(0))
    batch = [rec(iid, "users", "0", raw={"id": "0", "lastaccess": 99}, first_name="u0", work_email="u0@x.org")]
    c = write(store, iid, "users", batch, at(50))
    assert (c.created, c.updated, c.unchanged) == (0, 1, 0)
    row = all_rows(store, iid)["0"]
    assert row.remote_data == {"src": {"id": "0", "lastaccess": 99}}
    assert row.changed_at == at(0)
    # the new raw hash was stored: the same record is now unchanged
    assert write(store, iid, "users", batch, at(60)).unchanged == 1


def test_exception_rolls_back_and_previous_rows_stay(store, iid):
    write(store, iid, "users", users(iid, 3), at(0))
    with pytest.raises(RuntimeError):
        with store.writer(iid, "users") as w:
            w.write([rec(iid, "users", "0", first_name="new")], at(5))
            w.write(users(iid, 10)[5:], at(5))
            raise RuntimeError("stream broke")
    rows = all_rows(store, iid)
    assert sorted(rows) == ["0", "1", "2"]
    assert rows["0"].fields["first_name"] == "u0" and rows["0"].changed_at == at(0)


def test_readers_do_not_see_an_open_writer(store, iid):
    write(store, iid, "users", users(iid, 2), at(0))
    with store.writer(iid, "users") as w:
        w.write([rec(iid, "users", "0", first_name="new")] + users(iid, 5)[2:], at(5))
        assert store.count(iid, "users") == 2
        assert all_rows(store, iid)["0"].fields["first_name"] == "u0"
        # staging holds no write lock: other writes go through meanwhile
        store.start_run(iid, "FULL", at(5))
        store.mark_deleted(iid, "skills", set(), at(5))
    assert store.count(iid, "users") == 5
    assert all_rows(store, iid)["0"].fields["first_name"] == "new"


def test_duplicate_id_in_one_writer_is_an_error_and_rolls_back(store, iid):
    with pytest.raises(StoreError):
        with store.writer(iid, "users") as w:
            w.write(users(iid, 2), at(0))
            w.write(users(iid, 1), at(0))
    assert store.count(iid, "users") == 0


def test_writer_requires_with(store, iid):
    with pytest.raises(StoreError):
        store.writer(iid, "users").write(users(iid, 1), at(0))
    with pytest.raises(StoreError):
        store.writer(iid, "nope")


def test_mark_deleted_and_restore(store, iid):
    batch = users(iid, 4)
    write(store, iid, "users", batch, at(0))
    seen = {r.id for r in batch[:2]}
    assert store.mark_deleted(iid, "users", seen, at(100)) == 2
    assert store.mark_deleted(iid, "users", seen, at(200)) == 0  # already deleted
    assert sorted(all_rows(store, iid)) == ["0", "1"]
    rows = all_rows(store, iid, include_deleted=True)
    assert rows["2"].remote_deleted_at == at(100) and rows["2"].changed_at == at(100)
    assert rows["0"].remote_deleted_at is None and rows["0"].changed_at == at(0)
    assert store.count(iid, "users") == 2 and store.count(iid, "users", include_deleted=True) == 4
    # the same record (same hashes) reappears: restored, changed_at moves
    c = write(store, iid, "users", batch[2:3], at(300))
    assert (c.created, c.updated, c.unchanged) == (0, 1, 0)
    row = all_rows(store, iid)["2"]
    assert row.remote_deleted_at is None and row.changed_at == at(300)
    assert row.id == record_id(iid, "users", "2")


def test_integrations_are_isolated(store, iid):
    other = iid + "-b"
    write(store, iid, "users", users(iid, 3), at(0))
    write(store, other, "users", users(other, 1), at(0))
    assert store.mark_deleted(other, "users", set(), at(1)) == 1
    assert store.count(iid, "users") == 3 and store.count(other, "users") == 0


def test_lookups(store, iid):
    write(store, iid, "courses", [rec(iid, "courses", "c1"), rec(iid, "courses", "c2")], at(0))
    c1, c2 = record_id(iid, "courses", "c1"), record_id(iid, "courses", "c2")
    revs = [rec(iid, "course_revisions", f"r{i}", course_id=c1 if i < 3 else c2, title=f"t{i}") for i in range(4)]
    write(store, iid, "course_revisions", revs, at(0))
    store.mark_deleted(iid, "course_revisions", {r.id for r in revs[1:]}, at(5))
    kids = store.children(iid, "course_revisions", "course_id", [c1])
    assert [k.id for k in kids] == sorted(r.id for r in revs[:3])  # deleted one included
    assert store.children(iid, "course_revisions", "course_id", []) == []
    with pytest.raises(StoreError):
        store.children(iid, "course_revisions", "title", [c1])
    got = store.get_many(iid, "course_revisions", [revs[0].id, revs[3].id, "missing"])
    assert set(got) == {revs[0].id, revs[3].id} and got[revs[0].id].remote_deleted_at == at(5)
    assert store.get_many(iid, "course_revisions", []) == {}
    found = store.find_by_remote_id(iid, "course_revisions", "r2")
    assert found is not None and found.id == revs[2].id and found.fields["title"] == "t2"
    assert store.find_by_remote_id(iid, "course_revisions", "zz") is None


def test_nul_characters_and_unicode_are_storable(store, iid):
    batch = [rec(iid, "users", "1", raw={"bio": "a\x00b \\u0000 \u00e9\u6f22"}, first_name="x\x00y\u00e9")]
    write(store, iid, "users", batch, at(0))
    row = all_rows(store, iid)["1"]
    assert row.fields["first_name"] in ("x\x00y\u00e9", "x\ufffdy\u00e9")  # jsonb has no NUL
    assert row.remote_data["src"]["bio"] in ("a\x00b \\u0000 \u00e9\u6f22", "a\ufffdb \\u0000 \u00e9\u6f22")


@pytest.mark.parametrize("content, raw", [("abc", "xyz"), ("0f" * 16, "zz-not-hex")])
def test_hashes_that_are_not_hex_still_classify(store, iid, content, raw):
    from dataclasses import replace

    base = rec(iid, "users", "1", first_name="a")
    first = replace(base, content_hash=content, raw_hash=raw)
    assert write(store, iid, "users", [first], at(0)).created == 1
    assert write(store, iid, "users", [first], at(1)).unchanged == 1
    raw_only = write(store, iid, "users", [replace(first, raw_hash=raw + "0")], at(2))
    moved = write(store, iid, "users", [replace(first, content_hash=content + "1", fields={"first_name": "b"})], at(3))
    assert (raw_only.updated, moved.updated) == (1, 1)
    row = all_rows(store, iid)["1"]
    assert row.changed_at == at(3) and row.fields["first_name"] == "b"


@pytest.mark.postgres
def test_a_large_merge_refreshes_postgres_planner_statistics(pg_store, iid, monkeypatch):
    from engine.store import _writer

    store = pg_store

    def last_analyze():
        rows = store._fetchall("SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = ? AND relname = ?",
                               [store.schema, "rec_users"])
        return rows[0][0] if rows else None

    monkeypatch.setattr(_writer, "_BULK_ROWS", 50)
    write(store, iid, "users", users(iid, 10), at(0))
    assert last_analyze() is None  # a small merge leaves them to autovacuum
    write(store, iid, "users", users(iid, 60), at(1))
    assert last_analyze() is not None
