"""Embedded summaries (``Store.summaries``) and raw ``remote_data`` reads, on both backends.

Summaries are kept in memory between calls; these tests check that a caller never sees one
that is older than the database: after a rename by this store, by another store object on the
same database (another process), after a deletion and after the integration was removed.
"""

from __future__ import annotations

import orjson
import pytest

from engine.ids import record_id
from engine.store import Query, StoreError
from engine.store._summaries import SummaryCache

from storetest_util import at, open_backend, rec

NAMES = ("first_name", "last_name", "work_email")


def write(store, iid, model, records, now):
    with store.writer(iid, model) as w:
        return w.write(records, now)


def user(iid, rid, first, **extra):
    return rec(iid, "users", rid, first_name=first, last_name=f"L{rid}", work_email=f"{rid}@x.org", **extra)


def uid(iid, rid):
    return record_id(iid, "users", rid)


def test_summaries_hold_id_remote_id_and_the_asked_fields(store, iid):
    write(store, iid, "users", [user(iid, "1", "Ann"), user(iid, "2", None)], at(0))
    got = store.summaries(iid, "users", [uid(iid, "1"), uid(iid, "2"), "missing"], NAMES)
    assert got == {
        uid(iid, "1"): {"id": uid(iid, "1"), "remote_id": "1", "first_name": "Ann", "last_name": "L1", "work_email": "1@x.org"},
        uid(iid, "2"): {"id": uid(iid, "2"), "remote_id": "2", "first_name": None, "last_name": "L2", "work_email": "2@x.org"},
    }
    assert store.summaries(iid, "users", [uid(iid, "1")], ()) == {uid(iid, "1"): {"id": uid(iid, "1"), "remote_id": "1"}}
    assert store.summaries(iid, "users", [], NAMES) == {}
    assert store.summaries("other-integration", "users", [uid(iid, "1")], NAMES) == {}


@pytest.mark.parametrize("model, fields, message", [
    ("users", ("first_name", "nickname"), "users has no field 'nickname'"),
    ("pets", (), "unknown model 'pets'"),
])
def test_summaries_reject_unknown_models_and_fields(store, iid, model, fields, message):
    with pytest.raises(StoreError, match=message):
        store.summaries(iid, model, ["x"], fields)


def test_a_rename_is_seen_on_the_next_call(store, iid):
    write(store, iid, "users", [user(iid, "1", "Ann")], at(0))
    assert store.summaries(iid, "users", [uid(iid, "1")], NAMES)[uid(iid, "1")]["first_name"] == "Ann"
    write(store, iid, "users", [user(iid, "1", "Anna")], at(10))
    assert store.summaries(iid, "users", [uid(iid, "1")], NAMES)[uid(iid, "1")]["first_name"] == "Anna"


def test_a_rename_by_another_store_on_the_same_database_is_seen(store, iid):
    write(store, iid, "users", [user(iid, "1", "Ann"), user(iid, "2", "Bob")], at(0))
    assert store.summaries(iid, "users", [uid(iid, "1")], NAMES)[uid(iid, "1")]["first_name"] == "Ann"
    other = open_backend(store.kind, store.location)
    try:
        write(other, iid, "users", [user(iid, "1", "Anna"), user(iid, "2", "Bob")], at(10))
    finally:
        other.close()
    got = store.summaries(iid, "users", [uid(iid, "1"), uid(iid, "2")], NAMES)
    assert (got[uid(iid, "1")]["first_name"], got[uid(iid, "2")]["first_name"]) == ("Anna", "Bob")


def test_deleted_rows_keep_their_summary_and_removed_integrations_lose_it(store, iid):
    write(store, iid, "users", [user(iid, "1", "Ann")], at(0))
    store.summaries(iid, "users", [uid(iid, "1")], NAMES)
    store.mark_deleted(iid, "users", set(), at(5))
    assert store.summaries(iid, "users", [uid(iid, "1")], NAMES)[uid(iid, "1")]["first_name"] == "Ann"
    from engine.store.base import Integration

    store.add_integration(Integration(id=iid, connector="moodle", base_url="http://x", credentials={}))
    store.remove_integration(iid)
    assert store.summaries(iid, "users", [uid(iid, "1")], NAMES) == {}


def test_raw_remote_data_is_the_stored_json_unparsed(store, iid):
    raw = {"bio": "é漢 \"quoted\"", "n": [1, 2.5, None, True], "nested": {"a": {}}}
    write(store, iid, "users", [user(iid, "1", "Ann", ), rec(iid, "users", "2", raw=raw, first_name="B")], at(0))
    parsed = {r.remote_id: r for r in store.query(Query(iid, "users"))}
    raw_rows = {r.remote_id: r for r in store.query(Query(iid, "users", raw_remote_data=True))}
    for rid in ("1", "2"):
        assert not isinstance(raw_rows[rid].remote_data, dict)
        assert orjson.loads(orjson.dumps(raw_rows[rid].remote_data)) == parsed[rid].remote_data
        assert raw_rows[rid].fields == parsed[rid].fields and raw_rows[rid].changed_at == parsed[rid].changed_at


class _Source:
    """A fake database for ``SummaryCache``: rows, a version and a log of fetches."""

    def __init__(self) -> None:
        self.rows = {f"id{i}": {"id": f"id{i}", "remote_id": str(i)} for i in range(10)}
        self.version = 1
        self.fetched: list[list[str]] = []

    def fetch(self, iid, model, ids, fields):
        self.fetched.append(list(ids))
        return {i: dict(self.rows[i]) for i in ids if i in self.rows}


def test_cache_fetches_only_misses_and_refetches_after_a_version_change():
    src = _Source()
    cache = SummaryCache(src.fetch, lambda iid, model: src.version)
    assert set(cache.get("i", "users", ["id1", "id2"], ())) == {"id1", "id2"}
    assert set(cache.get("i", "users", ["id2", "id3", "nope"], ())) == {"id2", "id3"}
    assert src.fetched == [["id1", "id2"], ["id3", "nope"]]
    src.rows["id2"]["remote_id"] = "changed"
    assert cache.get("i", "users", ["id2"], ())["id2"]["remote_id"] == "2"  # same version: kept
    src.version = 2
    assert cache.get("i", "users", ["id2"], ())["id2"]["remote_id"] == "changed"
    assert cache.get("i", "users", ["id2"], ("first_name",)) and src.fetched[-1] == ["id2"]  # other fields: own set


def test_cache_starts_over_past_its_limit_and_still_answers():
    src = _Source()
    cache = SummaryCache(src.fetch, lambda iid, model: 1, limit=3)
    cache.get("i", "users", ["id0", "id1", "id2"], ())
    got = cache.get("i", "users", ["id0", "id3", "id4"], ())
    assert set(got) == {"id0", "id3", "id4"} and src.fetched[-1] == ["id3", "id4"]
    cache.get("i", "users", ["id3"], ())
    assert src.fetched[-1] == ["id3", "id4"]  # kept after starting over
    cache.get("i", "users", ["id0"], ())
    assert src.fetched[-1] == ["id0"]  # dropped when the set started over


def test_version_tokens_change_with_every_write_and_only_then(store, iid):
    def token(model="users"):
        return store.versions(iid, [model])[model]

    assert store.versions(iid, ["users", "skills"]) == {"users": None, "skills": None}
    write(store, iid, "users", [user(iid, "1", "Ann"), user(iid, "2", "Bob")], at(0))
    first = token()
    assert first is not None and token("skills") is None
    write(store, iid, "users", [user(iid, "1", "Ann"), user(iid, "2", "Bob")], at(10))
    assert token() == first  # nothing changed, nothing written
    write(store, iid, "users", [rec(iid, "users", "1", raw={"id": "1", "seen": 2}, first_name="Ann", last_name="L1",
                                    work_email="1@x.org"), user(iid, "2", "Bob")], at(20))
    raw_only = token()
    assert raw_only != first  # remote_data alone changed: changed_at stays, the token does not
    assert store.mark_deleted(iid, "users", {uid(iid, "1"), uid(iid, "2")}, at(30)) == 0
    assert token() == raw_only
    assert store.mark_deleted(iid, "users", {uid(iid, "1")}, at(40)) == 1
    assert token() not in (raw_only, first, None)
    with pytest.raises(RuntimeError):
        with store.writer(iid, "users") as w:
            before = token()
            w.write([user(iid, "3", "Cid")], at(50))
            raise RuntimeError("the sync failed")
    assert token() == before  # rolled back with the rows
