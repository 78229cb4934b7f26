"""Custom fields over real HTTP on loopback through Kombo's own Python SDK (``get_custom_fields``,
``update_custom_field_mapping``): keys declared in a scope config, mapped per integration to an
integration field, answered by the read endpoints as ``custom_fields: {key: value}``; end to end
from a Moodle custom profile field of a simulated site."""

from __future__ import annotations

import pytest
from kombo import Kombo, errors as kombo_errors

from connectors.moodle.simulator import ADMIN_TOKEN, create_app as sim_app, run_in_thread, tiny_site
from engine.api import create_api_key
from engine.api._routes_custom_fields import custom_field_id
from engine.ids import random_id
from engine.scope_config import ScopeConfigError, parse_config
from engine.store.base import Integration
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

from .conftest import assert_error

SHIRT = {"type": "text", "shortname": "tshirt", "name": "T-Shirt Size", "value": "XL", "displayvalue": "XL"}


def sdk(env) -> Kombo:
    return Kombo(api_key=env.key_all, server_url=f"{env.url}/v1")


def _users(env, iid: str) -> dict[str, dict]:
    with env.client(env.key_all, iid) as c:
        body = c.get("/v1/lms/users", params={"page_size": 250}).json()
    return {u["remote_id"]: u for u in body["data"]["results"]}


@pytest.fixture(scope="module")
def synced(env):
    """A Moodle integration on a simulated tiny site where one user has a custom profile field
    (``tshirt``), synced into the API's store and bound to a config declaring two custom keys."""
    site = tiny_site()
    user = site.add_user("shirtwearer", "Shirt", "Wearer", "shirt@example.org", customfields=[dict(SHIRT)])
    iid = "moodle:" + random_id()
    with run_in_thread(sim_app(site)) as base_url:
        env.store.add_integration(Integration(iid, "moodle", base_url, {"token": ADMIN_TOKEN}))
        engine = SyncEngine(env.store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))
        run = engine.sync(iid, "FULL", ["users"])
        assert run.status == "succeeded", run.error
    config = env.store.add_scope_config(f"cf-{random_id()}", {"custom_fields": {
        "users": [{"key": "shirt_size", "label": "Shirt size"}, {"key": "city"}], "courses": [{"key": "level"}]}})
    env.store.bind_scope_config(iid, config.id)
    return iid, str(user.id)


def test_a_moodle_custom_profile_field_reaches_the_client_as_a_custom_field(env, synced):
    iid, uid = synced
    listed = sdk(env).general.get_custom_fields(integration_id=iid).result.data
    by_key = {c.key: c for c in listed.results}
    assert set(by_key) == {"shirt_size", "city", "level"} and listed.next is None
    shirt = by_key["shirt_size"]
    assert shirt.model == "lms_users" and shirt.label == "Shirt size" and shirt.integration_field is None
    assert by_key["level"].model == "lms_courses" and by_key["city"].label is None
    assert shirt.id == custom_field_id(iid, "users", "shirt_size")
    assert all(u["custom_fields"] == {"shirt_size": None, "city": None} for u in _users(env, iid).values())

    fields = sdk(env).general.get_integration_fields(integration_id=iid, page_size=2000).result.data.results
    custom = next(f for f in fields if f.model == "lms_users" and f.type == "CUSTOM" and f.key == "tshirt")
    assert custom.label == "T-Shirt Size"
    mapped = sdk(env).general.update_custom_field_mapping(integration_id=iid, custom_field_id=shirt.id,
                                                          integration_field_id=custom.id)
    assert mapped.data.id == shirt.id and mapped.data.integration_field.id == custom.id
    assert mapped.data.integration_field.type == "CUSTOM" and mapped.data.integration_field.key == "tshirt"
    users = _users(env, iid)
    assert users[uid]["custom_fields"]["shirt_size"] == "XL"
    assert all(u["custom_fields"]["shirt_size"] is None for rid, u in users.items() if rid != uid)
    listed = sdk(env).general.get_custom_fields(integration_id=iid).result.data.results
    assert next(c for c in listed if c.id == shirt.id).integration_field.id == custom.id

    city = next(f for f in fields if f.model == "lms_users" and f.type == "DEFAULT" and f.key == "city")
    sdk(env).general.update_custom_field_mapping(integration_id=iid, custom_field_id=by_key["city"].id,
                                                 integration_field_id=city.id)
    stored_city = {rid: (u["remote_data"] or {}).get("core_user_get_users", {}).get("city") for rid, u in users.items()}
    assert {rid: u["custom_fields"]["city"] for rid, u in _users(env, iid).items()} == stored_city
    assert any(v for v in stored_city.values())  # the tiny site's users do have a city

    gone = sdk(env).general.update_custom_field_mapping(integration_id=iid, custom_field_id=shirt.id,
                                                        integration_field_id=None)
    assert gone.data.integration_field is None
    assert _users(env, iid)[uid]["custom_fields"]["shirt_size"] is None


def test_paging_follows_next(env, synced):
    iid, _ = synced
    first = sdk(env).general.get_custom_fields(integration_id=iid, page_size=2)
    ids = [c.id for c in first.result.data.results]
    assert len(ids) == 2 and first.result.data.next
    rest = first.next()
    ids += [c.id for c in rest.result.data.results]
    assert len(ids) == 3 and ids == sorted(ids) and rest.result.data.next is None


def test_errors_are_the_contract_envelope(env, synced):
    iid, _ = synced
    path = f"/v1/integrations/{iid}/custom-fields"
    shirt = custom_field_id(iid, "users", "shirt_size")
    level = custom_field_id(iid, "courses", "level")
    user_field = next(f for f in env.store.list_integration_fields(iid, None, 2000) if f.model == "users")
    with env.client(env.key_a, None) as c:
        assert_error(c.get(path), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    key_d = create_api_key(env.store, "cf", [iid])
    with env.client(key_d, None) as c:
        assert c.get(path).status_code == 200
        assert_error(c.put(f"{path}/{shirt}", json={"integration_field_id": None}), 403, "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(env.key_all, None) as c:
        assert_error(c.get("/v1/integrations/moodle:nope/custom-fields"), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
        assert_error(c.put(f"/v1/integrations/moodle:nope/custom-fields/{shirt}", json={"integration_field_id": None}),
                     404, "PLATFORM.INTEGRATION_NOT_FOUND")
        body = assert_error(c.put(f"{path}/nosuchfield", json={"integration_field_id": None}), 404, "PLATFORM.INPUT_INVALID")
        assert "nosuchfield" in body["error"]["message"]
        body = assert_error(c.put(f"{path}/{shirt}", json={"integration_field_id": "nosuch"}), 400, "PLATFORM.INPUT_INVALID")
        assert "nosuch" in body["error"]["message"]
        # a users field cannot feed a courses custom field
        assert_error(c.put(f"{path}/{level}", json={"integration_field_id": user_field.id}), 400, "PLATFORM.INPUT_INVALID")
        for bad in ({"integration_field_id": 3}, {}, {"integration_field_id": None, "extra": 1}):
            assert_error(c.put(f"{path}/{shirt}", json=bad), 400, "PLATFORM.INPUT_INVALID")
        for bad in ("0", "251", "ten"):
            assert_error(c.get(path, params={"page_size": bad}), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.get(path, params={"cursor": "garbage"}), 400, "PLATFORM.INPUT_INVALID")
    assert env.store.custom_field_mappings(iid, "courses") == {}
    with pytest.raises(kombo_errors.KomboGeneralError):
        sdk(env).general.get_custom_fields(integration_id="moodle:nope")


@pytest.mark.parametrize("custom, message", [
    ({"skils": []}, "custom_fields.skils: unknown model; did you mean 'skills'?"),
    ({"course_progressions": []}, "custom_fields.course_progressions: unknown model"),
    ({"users": {"key": "a"}}, "custom_fields.users: expected a list"),
    ({"users": [{"key": ""}]}, "custom_fields.users[0].key: '' must be 1 to 100 characters"),
    ({"users": [{"key": "a"}, {"key": "a"}]}, "custom_fields.users[1].key: 'a' is declared twice for users"),
    ({"users": [{"key": "a", "labl": "x"}]}, "custom_fields.users[0]: expected an object with 'key'"),
    ({"users": [{"key": "a", "label": 3}]}, "custom_fields.users[0].label: expected a string or null, got 3"),
    ([], "custom_fields: expected an object, got list"),
])
def test_declarations_are_validated(custom, message):
    with pytest.raises(ScopeConfigError) as exc:
        parse_config("c", "n", {"custom_fields": custom})
    assert str(exc.value).startswith(message)


def test_declarations_read_back_and_old_configs_stay_valid():
    parsed = parse_config("c", "n", {"custom_fields": {"users": [{"key": "a", "label": "A"}, {"key": "b"}]}})
    assert [(c.model, c.key, c.label) for c in parsed.custom_fields] == [("users", "a", "A"), ("users", "b", None)]
    assert parse_config("c", "n", parsed.as_json()) == parsed
    assert "custom_fields" not in parse_config("c", "n", {"models": {"skills": "DISABLED"}}).as_json()


def test_deleting_an_integration_removes_its_mappings(env):
    iid = "moodle:" + random_id()
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}))
    env.store.set_custom_field_mapping(iid, custom_field_id(iid, "users", "k"), "users", "k", "somefield")
    assert env.store.custom_field_mappings(iid) == {custom_field_id(iid, "users", "k"): "somefield"}
    assert env.store.remove_integration(iid)
    assert env.store.custom_field_mappings(iid) == {}
