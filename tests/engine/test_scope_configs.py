"""Scope configs (``engine.scope_config``) as tables, in the style of dlt's config tests: invalid
configs with the message each must give (naming the key and value), valid ones with what they
mean; then the mapper under a config (disabled fields null and out of ``remote_data``)."""

from __future__ import annotations

import pytest

from engine.mapper import iter_mapped
from engine.plugins import get_plugin_manager
from engine.runner import RunContext
from engine.scope import ACTION_IDS
from engine.scope_config import ACTION_NAMES, ScopeConfigError, default_config, parse_config
from engine.spec import SpecSet, function_set, load_spec_text

INVALID = [
    ({"model": {}}, "unknown key 'model'; did you mean 'models'?"),
    ({"models": {"user": "DISABLED"}}, "models.user: unknown model 'user'; did you mean 'users'?"),
    ({"models": {"users": "OFF"}}, "models.users: 'OFF' is not a setting; expected one of ENABLED, DISABLED, OPTIONAL"),
    ({"models": ["users"]}, "models: expected an object, got list"),
    ({"fields": {"users.email": "DISABLED"}}, "fields.users.email: users has no field 'email'; did you mean 'work_email'?"),
    ({"fields": {"work_email": "DISABLED"}}, "fields.work_email: unknown model 'work_email'"),
    ({"fields": {"users.work_email": True}}, "fields.users.work_email: True is not a setting"),
    ({"fields": {"course_progressions.user_id": "DISABLED"}},
     "fields.course_progressions.user_id: cannot be DISABLED, the course_progressions model requires a value"),
    ({"actions": {"enrol": "DISABLED"}}, "actions.enrol: unknown action; did you mean 'enroll'?"),
    ({"actions": {"enroll": "MAYBE"}}, "actions.enroll: 'MAYBE' is not a setting"),
    ({"store_remote_data": "no"}, "store_remote_data: expected true or false, got 'no'"),
    ([], "expected an object, got list"),
]


@pytest.mark.parametrize(("config", "message"), INVALID, ids=[m.split(":")[0] for _, m in INVALID])
def test_invalid_configs_name_the_spot(config, message):
    with pytest.raises(ScopeConfigError) as err:
        parse_config("c1", "strict", config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_name_is_required():
    with pytest.raises(ScopeConfigError, match="name: '  ' must be 1 to 100 characters"):
        parse_config("c1", "  ", {})


VALID = [
    ({}, {"users": "ENABLED"}, {("users", "work_email"): "ENABLED"}, {"enroll": "ENABLED"}, True),
    ({"models": {"skills": "disabled"}}, {"skills": "DISABLED", "users": "ENABLED"},
     {("skills", "name"): "DISABLED"}, {}, True),
    ({"fields": {"users.work_email": "DISABLED"}, "store_remote_data": False}, {"users": "ENABLED"},
     {("users", "work_email"): "DISABLED", ("users", "first_name"): "ENABLED"}, {}, False),
    ({"fields": {"users.first_name": "OPTIONAL"}}, {}, {("users", "first_name"): "OPTIONAL"}, {}, True),
    ({"actions": {"lms_create_course_progression": "DISABLED", "complete": "OPTIONAL"}}, {}, {},
     {"enroll": "DISABLED", "lms_create_course_progression": "DISABLED", "complete": "OPTIONAL",
      "upsert_course": "ENABLED"}, True),
]


@pytest.mark.parametrize(("config", "models", "fields", "actions", "store_raw"), VALID)
def test_valid_configs(config, models, fields, actions, store_raw):
    parsed = parse_config("c1", "ok", config)
    assert {m: parsed.model_setting(m) for m in models} == models
    assert {k: parsed.field_setting(*k) for k in fields} == fields
    assert {a: parsed.action_setting(a) for a in actions} == actions
    assert parsed.store_remote_data is store_raw
    assert parse_config("c1", "ok", parsed.as_json()) == parsed  # the stored form reads back the same


def test_optional_behaves_as_enabled_and_disabled_does_not():
    parsed = parse_config("c1", "ok", {"models": {"users": "OPTIONAL", "skills": "DISABLED"},
                                       "actions": {"enroll": "OPTIONAL", "complete": "DISABLED"}})
    assert parsed.model_enabled("users") and not parsed.model_enabled("skills")
    assert parsed.action_enabled("enroll") and not parsed.action_enabled("complete")


def test_default_config_enables_everything():
    d = default_config()
    assert (d.id, d.name, d.store_remote_data) == ("default", "default", True)
    assert all(d.model_enabled(m) for m in ("users", "skills", "course_progressions"))
    assert all(d.action_enabled(a) for a in ACTION_NAMES) and d.disabled_fields("users") == frozenset()


def test_action_names_match_the_scope_test_table():
    assert ACTION_NAMES == ACTION_IDS


# --- the mapper under a config -------------------------------------------------------------
FUNCTIONS = function_set(get_plugin_manager())
USERS = """model: users
source: {call: people, records: rows}
enrich:
  - name: profile
    lookup: {call: profile_of, params: {id: "=record.id"}}
remote_id: id
fields:
  first_name: first
  last_name: last
  work_email: "mail || profile.mail"
  status: "'ACTIVE'"
  remote_created_at: "`null`"
"""
ROWS = [{"id": 1, "first": "Ann", "last": "Lee", "mail": "ann@example.org", "city": "Bern"}]


def _map(scope):
    spec = load_spec_text(USERS, "<test>", FUNCTIONS)

    def call(name, params, *_):
        return {"rows": [dict(r) for r in ROWS]} if name == "people" else {"mail": "ann@home.example", "bio": "x"}

    ctx = RunContext(specset=SpecSet("t", {"users": spec}), call=call)
    return list(iter_mapped(ctx, spec, "t:1", scope=scope))


def test_default_config_maps_and_keeps_everything():
    (rec,) = _map(default_config())
    assert rec.fields["work_email"] == "ann@example.org"
    assert b"ann@" in repr(rec.remote_data).encode()


def test_a_disabled_field_is_null_and_the_keys_it_reads_leave_remote_data():
    scope = parse_config("c1", "private", {"fields": {"users.work_email": "DISABLED"}})
    (rec,) = _map(scope)
    assert rec.fields["work_email"] is None and rec.fields["first_name"] == "Ann"
    assert "ann@" not in repr(rec.remote_data)  # neither the source key nor the look-up it reads
    (source,) = rec.remote_data.values()
    assert source == {"id": 1, "first": "Ann", "last": "Lee", "city": "Bern"}
    (plain,) = _map(None)
    assert rec.content_hash != plain.content_hash and rec.raw_hash != plain.raw_hash


def test_without_store_remote_data_remote_data_is_empty():
    (rec,) = _map(parse_config("c1", "private", {"store_remote_data": False}))
    assert rec.remote_data == {} and rec.fields["work_email"] == "ann@example.org"
