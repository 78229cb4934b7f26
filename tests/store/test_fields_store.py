"""The integration-fields tables (migration 8) on both backends: scans, paging, passthrough."""

from __future__ import annotations

from engine.store._fields import IntegrationField

from storetest_util import at, rec


def _field(iid: str, n: int, **kw) -> IntegrationField:
    return IntegrationField(iid, f"f{n:02d}", "users", f"key{n}", kw.pop("type", "DEFAULT"), **kw)


def test_a_scan_adds_fields_keeps_passthrough_and_records_the_token(store, iid):
    assert store.field_scan_token(iid, "users") == (False, None)
    store.save_field_scan(iid, "users", [_field(iid, n) for n in range(5)], "tok1")
    assert store.field_scan_token(iid, "users") == (True, "tok1")
    enabled = store.set_field_passthrough(iid, "f03", True)
    assert enabled.passthrough is True and enabled.key == "key3"
    # a rescan sees f03 again with a label now: the flag stays, the label is refreshed
    store.save_field_scan(iid, "users", [_field(iid, 3, label="Key three"), _field(iid, 7, type="CUSTOM")], "tok2")
    assert store.field_scan_token(iid, "users") == (True, "tok2")
    assert store.get_integration_field(iid, "f03") == IntegrationField(iid, "f03", "users", "key3", "DEFAULT",
                                                                       "Key three", True)
    assert [f.id for f in store.passthrough_fields(iid, "users")] == ["f03"]
    assert store.passthrough_fields(iid, "courses") == []
    assert store.set_field_passthrough(iid, "nope", True) is None
    assert store.set_field_passthrough(iid, "f03", False).passthrough is False
    assert store.passthrough_fields(iid, "users") == []


def test_listing_pages_by_id_per_integration(store, iid):
    store.save_field_scan(iid, "users", [_field(iid, n) for n in range(7)], None)
    store.save_field_scan("other-" + iid, "users", [_field("other-" + iid, 1)], None)
    first = store.list_integration_fields(iid, None, 3)
    rest = store.list_integration_fields(iid, first[-1].id, 100)
    assert [f.id for f in first + rest] == [f"f{n:02d}" for n in range(7)]
    assert store.get_integration_field(iid, "f99") is None


def test_enabling_changes_the_model_version(store, iid):
    store.save_field_scan(iid, "users", [_field(iid, 1)], None)
    before = store.versions(iid, ["users"])["users"]
    store.set_field_passthrough(iid, "f01", True)
    assert store.versions(iid, ["users"])["users"] != before


def test_remote_data_is_read_in_chunks_of_live_records(store, iid, monkeypatch):
    import engine.store._fields as fields_mod

    monkeypatch.setattr(fields_mod, "_SCAN_CHUNK", 3)
    records = [rec(iid, "users", str(n), raw={"id": n}, first_name=f"u{n}") for n in range(8)]
    with store.writer(iid, "users") as w:
        w.write(records, at(0))
    store.mark_deleted(iid, "users", {r.id for r in records[1:]}, at(10))  # record 0 is gone
    seen = sorted(d["src"]["id"] for d in store.iter_remote_data(iid, "users"))
    assert seen == list(range(1, 8))
