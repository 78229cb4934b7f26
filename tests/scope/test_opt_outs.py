"""Customer opt-outs of OPTIONAL scope-config items and ``data_expired_at`` (issue #19): an
opted-out model makes no calls and its rows go, an opted-out field is stored null and kept out
of ``remote_data``, an opted-out action is refused; only OPTIONAL items can be opted out; the
integration object over real HTTP says ``opted_out_by_customer``; narrowing sets
``data_expired_at``, widening does not, the next FULL sync clears it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from engine.actions import ActionService
from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._contract import body_validator
from engine.cli._tools import tool_services
from engine.errors import ActionError
from engine.scope_config import ScopeConfigError, scope_config_for

OPTIONAL = {"models": {"skills": "OPTIONAL"}, "fields": {"users.work_email": "OPTIONAL"},
            "actions": {"deactivate_course": "OPTIONAL"}}


@contextlib.contextmanager
def _api(env) -> Iterator[httpx.Client]:
    """The lmsync API on the env's store over loopback, with an admin key."""
    services = ApiServices(force_sync=lambda *a: ("s", False), **tool_services(env.engine))
    key = create_api_key(env.store, "opt-outs")
    with serve_in_thread(create_app(env.store, services=services)) as url:
        headers = {"Authorization": f"Bearer {key}", "X-Integration-Id": env.integration_id}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield client


def _bound(env, name: str = "optional", config: dict[str, Any] | None = None) -> None:
    env.store.add_scope_config(name, config or OPTIONAL)
    env.store.bind_scope_config(env.integration_id, name)


def _entry(data: dict[str, Any], model_id: str, field: str | None = None) -> dict[str, Any]:
    model = next(m for m in data["read_models"] if m["id"] == model_id)
    return model if field is None else next(f for f in model["fields"] if f["id"] == field)


def _raw_text(env, model: str) -> str:
    return "\n".join(json.dumps(r.remote_data) for r in env.rows(model, include_deleted=True))


def test_an_opted_out_model_makes_no_calls_its_rows_go_and_the_api_says_disabled(admin_env):
    env = admin_env
    _bound(env)
    first = env.sync()
    assert first.status == "succeeded" and env.rows("skills") and first.stats["skills"]["calls"] > 0  # OPTIONAL = shared
    env.store.set_opt_outs(env.integration_id, ["models.skills"])
    run = env.sync()
    assert run.status == "succeeded", run.error
    assert run.stats["skills"]["calls"] == 0 and run.stats["skills"]["deleted"] > 0
    assert env.rows("skills", include_deleted=True) == []
    assert any("skills was opted out by the customer" in w for w in run.warnings)
    assert env.rows("users") and env.rows("courses")  # the others are synced as before
    with _api(env) as c:
        resp = c.get("/v1/lms/skills")
        assert resp.status_code == 403, resp.text
        message = resp.json()["error"]["message"]
        assert message.startswith("[INTEGRATION.MODEL_DISABLED] The skills model is disabled: the customer opted out")
        assert c.get("/v1/lms/users").status_code == 200


def test_an_opted_out_field_is_stored_null_and_left_out_of_remote_data(admin_env):
    env = admin_env
    _bound(env)
    assert env.sync().status == "succeeded"
    emails = [u.fields["work_email"] for u in env.rows("users") if u.fields["work_email"]]
    assert emails and emails[0] in _raw_text(env, "users")  # so the checks below can fail
    env.store.set_opt_outs(env.integration_id, ["fields.users.work_email"])
    with _api(env) as c:  # served null at once, before the next sync rewrites the rows
        assert all(u["work_email"] is None for u in c.get("/v1/lms/users").json()["data"]["results"])
    run = env.sync()
    assert run.status == "succeeded", run.error
    assert run.stats["users"]["updated"] > 0  # the stored e-mails were overwritten, not kept
    users = env.rows("users", include_deleted=True)
    assert users and all(u.fields["work_email"] is None for u in users)
    raw = _raw_text(env, "users")
    assert not any(e in raw for e in emails) and '"email"' not in raw
    assert all(u.fields["first_name"] is not None for u in env.rows("users"))  # other fields untouched


def test_an_opted_out_action_is_refused_like_a_disabled_one(admin_env):
    env = admin_env
    assert env.sync().status == "succeeded"
    _bound(env)
    env.store.set_opt_outs(env.integration_id, ["actions.lms_deactivate_course"])  # a Kombo id works too
    actions = ActionService(env.engine)
    try:
        with pytest.raises(ActionError) as err:
            actions.deactivate_course(env.integration_id, env.rid("courses", 2))
        assert err.value.code == "INTEGRATION.ACTION_DISABLED"
        assert env.site.courses[2].visible == 1  # nothing reached the remote
    finally:
        actions.close()
    assert env.store.opt_outs_of(env.integration_id) == {"actions.deactivate_course"}


@pytest.mark.parametrize(("item", "expected"), [
    ("fields.users.first_name", "opt-out 'fields.users.first_name': scope config 'mixed' has it ENABLED; "
                                "only OPTIONAL items can be opted out"),
    ("models.courses", "opt-out 'models.courses': scope config 'mixed' has it DISABLED"),
    ("actions.enroll", "opt-out 'actions.enroll': scope config 'mixed' has it ENABLED"),
    ("fields.course_progressions.user_id", "the course_progressions model requires a value for user_id"),
    ("users.work_email", "opt-out 'users.work_email': not a model, field or action"),
])
def test_only_optional_items_can_be_opted_out(admin_env, item, expected):
    env = admin_env
    _bound(env, "mixed", {"models": {"courses": "DISABLED", "skills": "OPTIONAL"},
                          "fields": {"users.work_email": "OPTIONAL", "course_progressions.user_id": "OPTIONAL"}})
    with pytest.raises(ScopeConfigError) as err:
        env.store.set_opt_outs(env.integration_id, ["models.skills", item])
    assert expected in str(err.value) and str(err.value).endswith("(OPTIONAL items of scope config 'mixed': models.skills, fields.users.work_email)")
    assert env.store.opt_outs_of(env.integration_id) == frozenset()  # nothing of the refused set was stored
    with _api(env) as c:
        resp = c.put(f"/v1/integrations/{env.integration_id}/opt-outs", json={"opt_outs": [item]})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
        assert expected in resp.json()["error"]["message"] and "opt_outs" in resp.json()["error"]["message"]
        ok = c.put(f"/v1/integrations/{env.integration_id}/opt-outs", json={"opt_outs": ["fields.users.work_email"]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["data"]["opt_outs"] == ["fields.users.work_email"]


def test_the_integration_object_says_opted_out_over_http(admin_env):
    env = admin_env
    _bound(env)
    with _api(env) as c:
        before = c.get(f"/v1/integrations/{env.integration_id}").json()["data"]
        assert before["data_expired_at"] is None
        assert _entry(before, "lms_users", "work_email")["is_available"] is True  # OPTIONAL, not opted out: shared
        env.store.set_opt_outs(env.integration_id, ["fields.users.work_email", "actions.deactivate_course"])
        resp = c.get(f"/v1/integrations/{env.integration_id}")
    assert resp.status_code == 200, resp.text
    body_validator("GetIntegrationsIntegrationIdPositiveResponse").validate(resp.json())
    data = resp.json()["data"]
    email = _entry(data, "lms_users", "work_email")
    assert (email["scope_config_setting"], email["opted_out_by_customer"], email["is_available"]) == ("OPTIONAL", True, False)
    first = _entry(data, "lms_users", "first_name")
    assert (first["scope_config_setting"], first["opted_out_by_customer"], first["is_available"]) == ("ENABLED", False, True)
    skills = _entry(data, "lms_skills")  # OPTIONAL, still shared
    assert (skills["scope_config_setting"], skills["opted_out_by_customer"], skills["is_available"]) == ("OPTIONAL", False, True)
    action = next(a for a in data["write_actions"] if a["id"] == "lms_deactivate_course")
    assert (action["scope_config_setting"], action["opted_out_by_customer"], action["is_available"]) == ("OPTIONAL", True, False)
    expired = datetime.fromisoformat(data["data_expired_at"].replace("Z", "+00:00"))
    assert abs(expired - datetime.now(timezone.utc)) < timedelta(minutes=5)


def _expired(env) -> datetime | None:
    return env.store.data_expired_at(env.integration_id)


def test_data_expired_at_is_set_by_narrowing_kept_earliest_and_cleared_by_the_next_full_sync(admin_env):
    env = admin_env
    t = datetime.now(timezone.utc) - timedelta(hours=1)
    _bound(env)
    assert env.sync().status == "succeeded"
    assert _expired(env) is None  # binding OPTIONAL = ENABLED everywhere is no narrowing
    env.store.set_opt_outs(env.integration_id, ["fields.users.work_email"], now=t)
    assert _expired(env) == t
    env.store.set_opt_outs(env.integration_id, ["fields.users.work_email", "models.skills"], now=t + timedelta(minutes=1))
    assert _expired(env) == t  # the earliest is kept
    assert env.sync("DELTA").status == "succeeded"
    assert _expired(env) == t  # a DELTA sync does not rewrite unchanged rows: still expired
    assert env.sync("FULL", models=["users"]).status == "succeeded"
    assert _expired(env) == t  # nor does a FULL sync of some models
    assert env.sync().status == "succeeded"
    assert _expired(env) is None
    env.store.set_opt_outs(env.integration_id, ["models.skills", "actions.deactivate_course"])  # actions hold no data
    assert _expired(env) is None
    env.store.set_opt_outs(env.integration_id, [])  # widening
    env.store.bind_scope_config(env.integration_id, "default")
    assert _expired(env) is None


def test_data_expired_at_follows_bindings_and_config_edits(admin_env):
    env = admin_env
    env.store.add_scope_config("wide", {"fields": {"users.work_email": "OPTIONAL"}})
    env.store.add_scope_config("narrow", {"models": {"skills": "DISABLED"}})
    env.store.bind_scope_config(env.integration_id, "wide")
    assert _expired(env) is None
    env.store.bind_scope_config(env.integration_id, "narrow")  # a narrower config
    assert _expired(env) is not None
    assert env.sync().status == "succeeded" and _expired(env) is None
    env.store.bind_scope_config(env.integration_id, "wide")  # widening
    assert _expired(env) is None
    env.store.update_scope_config("wide", {"fields": {"users.work_email": "OPTIONAL"}, "store_remote_data": False})
    assert _expired(env) is not None  # the bound config was edited to keep less
    assert env.sync().status == "succeeded" and _expired(env) is None
    with _api(env) as c:
        resp = c.put("/v1/scope-configs/wide", json={"fields": {}})  # widening over HTTP
        assert resp.status_code == 200 and resp.json()["data"]["store_remote_data"] is True
        assert c.get(f"/v1/integrations/{env.integration_id}").json()["data"]["data_expired_at"] is None
        resp = c.put("/v1/scope-configs/wide", json={"fields": {"users.work_email": "DISABLED"}})
        assert resp.status_code == 200, resp.text
        stamp = c.get(f"/v1/integrations/{env.integration_id}").json()["data"]["data_expired_at"]
        assert stamp is not None and stamp.endswith("Z")
        assert c.put("/v1/scope-configs/default", json={}).status_code == 404
        assert c.put("/v1/scope-configs/wide", json={"name": "x"}).status_code == 400
    assert scope_config_for(env.store, env.integration_id).field_enabled("users", "work_email") is False


def test_a_stale_opt_out_has_no_effect_once_the_item_is_no_longer_optional(admin_env):
    env = admin_env
    _bound(env)
    env.store.set_opt_outs(env.integration_id, ["models.skills"])
    assert not scope_config_for(env.store, env.integration_id).model_enabled("skills")
    env.store.add_scope_config("all-on", {"models": {"skills": "ENABLED"}})
    env.store.bind_scope_config(env.integration_id, "all-on")
    scope = scope_config_for(env.store, env.integration_id)
    assert scope.model_enabled("skills") and scope.opted_out == frozenset()
    assert env.store.opt_outs_of(env.integration_id) == {"models.skills"}  # kept, but inert
    run = env.sync()
    assert run.status == "succeeded" and run.stats["skills"]["calls"] > 0 and env.rows("skills")
