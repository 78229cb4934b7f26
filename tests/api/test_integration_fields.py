"""Integration fields and tools over real HTTP on loopback, through Kombo's own Python SDK
(``kombo``: its response models must accept lmsync's answers) and plain HTTP for the error
envelopes and paging."""

from __future__ import annotations

import hashlib
import json

import pytest
from jsonschema import Draft202012Validator
from kombo import Kombo, errors as kombo_errors

from engine.api import create_api_key
from engine.api._contract import served_openapi
from engine.ids import random_id, record_id
from engine.store.base import Integration, MappedRecord

from .conftest import T0, assert_error, write

SOURCE = "core_user_get_users"  # the remote_data key of the users spec's source call


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _user(iid: str, n: int, shirt: str) -> MappedRecord:
    fields = {"first_name": f"F{n}", "last_name": f"L{n}", "work_email": f"u{n}@x.example", "status": "ACTIVE",
              "remote_created_at": None, "custom_fields": {}, "integration_fields": []}
    own = {"id": n, "username": f"u{n}", "firstname": f"F{n}", "department": f"Dept {n}",
           "customfields": [{"type": "text", "shortname": "tshirt", "name": "T-Shirt Size", "value": shirt,
                             "displayvalue": shirt}]}
    if n % 2:
        own["city"] = "Lyon"  # a key only some answers carry is still a field
    raw = {SOURCE: own}
    return MappedRecord(record_id(iid, "users", str(n)), str(n), fields, raw, _hash(fields), _hash(raw))


@pytest.fixture(scope="module")
def dd(env):
    """An integration of its own (the shared ones stay untouched) with 6 users, and a key limited to it."""
    iid = "moodle:" + random_id()
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    write(env.store, iid, "users", [_user(iid, n, f"S{n}") for n in range(6)], T0)
    return iid, create_api_key(env.store, "d", [iid])


def sdk(env, key: str | None = None) -> Kombo:
    return Kombo(api_key=key or env.key_all, server_url=f"{env.url}/v1")


def _all_fields(env, iid: str, page_size: int = 2000) -> list:
    """Every field, following ``next`` with the SDK."""
    out, page = [], sdk(env).general.get_integration_fields(integration_id=iid, page_size=page_size)
    while page is not None:
        out += page.result.data.results
        page = page.next()
    return out


def _served_validator(component: str) -> Draft202012Validator:
    doc = served_openapi()
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": doc["components"]})


def _read_users(env, iid: str) -> list[dict]:
    with env.client(env.key_all, iid) as c:
        body = c.get("/v1/lms/users", params={"page_size": 250}).json()
    _served_validator("GetLmsUsersPositiveResponse").validate(body)
    return body["data"]["results"]


def test_tools_with_the_kombo_sdk(env):
    tools = sdk(env).general.get_tools(category="lms").data.tools
    by_id = {t.id: t for t in tools}
    assert {"moodle", "canvas"} <= set(by_id)
    moodle = by_id["moodle"].coverage
    models = {m.id: m for m in moodle.read_models}
    assert models["lms_users"].coverage_status == "SUPPORTED"
    users = {f.id: f.coverage_status for f in models["lms_users"].fields}
    assert users["first_name"] == "SUPPORTED" and users["remote_created_at"] == "UNSUPPORTED"  # mapped to `null`
    assert {a.id: a.coverage_status for a in moodle.write_actions}["lms_create_course_progression"] == "SUPPORTED"
    features = {f.id: f.coverage_status for f in moodle.features}
    assert features["custom_integration_fields"] == "SUPPORTED"
    assert {f.id: f.coverage_status for f in by_id["canvas"].coverage.features}["custom_integration_fields"] == "UNSUPPORTED"
    assert sdk(env).general.get_tools(category="hris").data.tools == []


def test_tools_errors(env):
    with env.client(env.key_all, None) as c:
        assert_error(c.get("/v1/tools/crm"), 400, "PLATFORM.INPUT_INVALID")
    with env.client(None, None) as c:
        assert_error(c.get("/v1/tools/lms"), 401, "PLATFORM.AUTHENTICATION_INVALID")


def test_list_enable_and_read_with_the_kombo_sdk(env, dd):
    iid, _ = dd
    fields = _all_fields(env, iid)
    keys = {(f.model, f.type, f.key): f for f in fields}
    assert ("lms_users", "DEFAULT", "firstname") in keys and ("lms_users", "DEFAULT", "city") in keys
    shirt = keys[("lms_users", "CUSTOM", "tshirt")]
    assert shirt.label == "T-Shirt Size" and not any(f.is_passthrough_enabled for f in fields)
    assert len({f.id for f in fields}) == len(fields)
    assert [f.id for f in _all_fields(env, iid)] == [f.id for f in fields]  # ids are stable
    assert all(u["integration_fields"] == [] for u in _read_users(env, iid))

    changed = sdk(env).general.update_integration_field(integration_id=iid, integration_field_id=shirt.id,
                                                        enable_passthrough=True)
    assert changed.data.id == shirt.id and changed.data.is_passthrough_enabled is True
    dept = keys[("lms_users", "DEFAULT", "department")]
    sdk(env).general.update_integration_field(integration_id=iid, integration_field_id=dept.id, enable_passthrough=True)
    users = _read_users(env, iid)
    assert len(users) == 6
    for u in users:
        n = int(u["remote_id"])
        got = {f["key"]: f for f in u["integration_fields"]}
        assert got["tshirt"] == {"id": shirt.id, "key": "tshirt", "type": "CUSTOM", "value": f"S{n}", "label": "T-Shirt Size"}
        assert got["department"] == {"id": dept.id, "key": "department", "type": "DEFAULT", "value": f"Dept {n}", "label": None}

    # the value is read from the stored remote data: a new answer shows without touching the field
    write(env.store, iid, "users", [_user(iid, 0, "XXL")], T0)
    user0 = next(u for u in _read_users(env, iid) if u["remote_id"] == "0")
    assert {f["key"]: f["value"] for f in user0["integration_fields"]} == {"tshirt": "XXL", "department": "Dept 0"}
    assert next(f for f in _all_fields(env, iid) if f.id == shirt.id).is_passthrough_enabled is True  # rescan keeps it

    sdk(env).general.update_integration_field(integration_id=iid, integration_field_id=shirt.id, enable_passthrough=False)
    assert all([f["key"] for f in u["integration_fields"]] == ["department"] for u in _read_users(env, iid))


def test_paging_follows_next_and_refuses_bad_sizes(env, dd):
    iid, _ = dd
    everything = _all_fields(env, iid)
    assert len(everything) > 3
    paged = _all_fields(env, iid, page_size=2)
    assert [f.id for f in paged] == [f.id for f in everything]
    with env.client(env.key_all, None) as c:
        first = c.get(f"/v1/integrations/{iid}/integration-fields", params={"page_size": 2}).json()
        _served_validator_for_fields().validate(first)
        assert len(first["data"]["results"]) == 2 and first["data"]["next"]
        for bad in ("0", "2001", "ten"):
            assert_error(c.get(f"/v1/integrations/{iid}/integration-fields", params={"page_size": bad}), 400,
                         "PLATFORM.INPUT_INVALID")
        assert_error(c.get(f"/v1/integrations/{iid}/integration-fields", params={"cursor": "garbage"}), 400,
                     "PLATFORM.INPUT_INVALID")
        other = c.get(f"/v1/integrations/{iid}/integration-fields", params={"cursor": first["data"]["next"], "page_size": 2000})
        assert other.status_code == 200 and len(other.json()["data"]["results"]) == len(everything) - 2


def _served_validator_for_fields() -> Draft202012Validator:
    op = served_openapi()["paths"]["/v1/integrations/{integration_id}/integration-fields"]["get"]
    return Draft202012Validator(op["responses"]["200"]["content"]["application/json"]["schema"])


def test_errors_are_the_contract_envelope(env, dd):
    iid, key_d = dd
    field = next(f for f in _all_fields(env, iid) if not f.is_passthrough_enabled)
    path = f"/v1/integrations/{iid}/integration-fields"
    with env.client(env.key_a, None) as c:  # a key limited to another integration does not see it
        assert_error(c.get(path), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    with env.client(key_d, None) as c:
        assert c.get(path).status_code == 200
        assert_error(c.patch(f"{path}/{field.id}", json={"enable_passthrough": True}), 403,
                     "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(env.key_all, None) as c:
        assert_error(c.get("/v1/integrations/moodle:nope/integration-fields"), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
        assert_error(c.patch(f"/v1/integrations/moodle:nope/integration-fields/{field.id}",
                             json={"enable_passthrough": True}), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
        body = assert_error(c.patch(f"{path}/nosuchfield", json={"enable_passthrough": True}), 404, "PLATFORM.INPUT_INVALID")
        assert "nosuchfield" in body["error"]["message"]
        for bad in ({"enable_passthrough": "yes"}, {}, {"enable_passthrough": True, "extra": 1}):
            assert_error(c.patch(f"{path}/{field.id}", json=bad), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.patch(f"{path}/{field.id}", content=b"{", headers={"content-type": "application/json"}), 400,
                     "PLATFORM.INPUT_INVALID")
    assert env.store.get_integration_field(iid, field.id).passthrough is False
    with pytest.raises(kombo_errors.KomboGeneralError):
        sdk(env).general.get_integration_fields(integration_id="moodle:nope")


def test_tool_assets_are_served_by_lmsync_itself(env, monkeypatch):
    """The tools answer's asset URLs point at this lmsync (``LMSYNC_PUBLIC_URL``, no external
    host), and each answers an SVG over HTTP; an unknown tool's is a 404."""
    monkeypatch.setenv("LMSYNC_PUBLIC_URL", env.url)
    with env.client(env.key_all, None) as c:
        tools = {t["id"]: t for t in c.get("/v1/tools/lms").json()["data"]["tools"]}
        assets = tools["moodle"]["assets"]
        assert all(url.startswith(f"{env.url}/assets/tools/moodle/") for url in assets.values())
        for url in assets.values():
            answer = c.get(url.removeprefix(env.url))
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
            assert 'aria-label="Moodle"' in answer.text
        assert c.get("/assets/tools/nope/logo.svg").status_code == 404
