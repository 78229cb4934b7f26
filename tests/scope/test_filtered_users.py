"""Scope testing spots a core_user_get_users answer that Moodle filters silently."""

from __future__ import annotations

from scope_helpers import integration
from simenv import moodle_env

from connectors.moodle.simulator import ADMIN_TOKEN, RESTRICTED_TOKEN, tiny_site
from engine.scope import run_scope_test


def _users_entry(tmp_path, site, token):
    with moodle_env(tmp_path, site=site, token=token) as env:
        report = run_scope_test(env.engine, integration(env))
    return next(e for e in report.entries if e.name == "users"), report


def _teacher_site():
    site = tiny_site()
    site.enrol(2, 3, 3)  # the restricted token's user teaches course 2: it sees that course's users only
    return site


def test_the_simulator_shows_a_teacher_the_users_of_its_courses_only(tmp_path):
    with moodle_env(tmp_path, site=_teacher_site(), token=RESTRICTED_TOKEN) as env:
        env.sync(models=["users"])
        seen = set(env.by_remote("users"))
    assert seen == {"3", "5", "6", "7", "8", "9", "10"}  # user 4 (course 4 only) is left out, silently


def test_users_seen_by_a_teacher_token_are_reported_partial(tmp_path):
    entry, report = _users_entry(tmp_path, _teacher_site(), RESTRICTED_TOKEN)
    assert entry.status == "FORBIDDEN"
    assert entry.missing_capabilities == ["moodle/user:viewdetails"]
    assert "PARTIAL: the token's user sees 7 of at least 8 users" in entry.detail
    assert "enrolled user ids 4;" in entry.detail
    assert "moodle/user:viewdetails (and moodle/user:viewalldetails)" in entry.detail
    assert any("moodle/user:viewdetails" in step for step in report.checklist)


def test_a_token_seeing_only_its_own_user_is_reported_partial(tmp_path):
    entry, _ = _users_entry(tmp_path, tiny_site(), RESTRICTED_TOKEN)
    assert entry.status == "FORBIDDEN"
    assert "PARTIAL: the token's user sees 1 (only itself) of at least 8 users" in entry.detail


def test_a_token_seeing_every_user_is_not_partial(tmp_path):
    entry, _ = _users_entry(tmp_path, tiny_site(), ADMIN_TOKEN)
    assert entry.status == "OK" and "PARTIAL" not in entry.detail
