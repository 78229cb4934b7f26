"""The deletion and regression guard (engine.guard): absence is not deletion.

The fault corpus (faults/*.yaml) is walked by one parametrized test: sync the simulator site,
inject the fault, sync again, and check nothing was lost."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from connectors.moodle.simulator import MoodleSite
from engine import guard
from engine.errors import LmsyncError
from engine.hookspecs import hookimpl
from engine.guard import GuardLimits, exceeds, limits_for
from tests.synced_env import state
from engine.store.base import Integration

sys.path.insert(0, str(Path(__file__).parents[1] / "moodle"))
sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
sys.path.insert(0, str(Path(__file__).parent))
from faultenv import FaultTransport  # noqa: E402
from simenv import moodle_env  # noqa: E402

FAULTS = sorted((Path(__file__).parent / "faults").glob("*.yaml"))


def _site() -> MoodleSite:
    return MoodleSite.generate(seed=11, users=60, courses=6, enrolments_per_course=12)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path):
    """``None`` (the harness's SQLite store) or a PostgreSQL store in its own schema."""
    if request.param == "sqlite":
        return None
    from storetest_util import PG_DSN

    import psycopg

    from engine.ids import random_id
    from engine.secrets import SecretBox, generate_key
    from engine.store.postgres import PostgresStore

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL unreachable")
    schema = "lmsync_test_" + random_id().lower()
    store = PostgresStore(PG_DSN, schema=schema, secret_box=SecretBox(generate_key()))
    request.addfinalizer(lambda: (store.close(), admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'), admin.close()))
    return store


@contextlib.contextmanager
def faulty_env(tmp_path, fault: dict, store=None, **settings):
    """A simulator env whose engine talks through a ``FaultTransport`` (inactive at first)."""
    tap = FaultTransport(fault)
    with moodle_env(tmp_path, _site(), store=store) as env:
        env.engine.client_factory = lambda: httpx.Client(transport=tap, timeout=10)
        integration = env.store.get_integration(env.integration_id)
        integration.settings = {**integration.settings, **settings}
        env.store.update_integration(integration)
        yield env, tap


# --- thresholds ----------------------------------------------------------------------------
def test_exceeds_share_and_minimum_or_all():
    limits = GuardLimits(0.2, 10)
    assert not exceeds(0, 100, limits)
    assert not exceeds(10, 20, limits)  # a half, but only a handful
    assert not exceeds(20, 100, limits)  # 20 % is not more than 20 %
    assert exceeds(21, 100, limits)
    assert exceeds(3, 3, limits)  # all of them
    assert exceeds(5001, 5001, limits)
    assert not exceeds(5001, 5001, GuardLimits(1, 10))  # a share of 1: off


def test_limits_from_settings_then_environment(monkeypatch):
    integration = Integration(id="x", connector="moodle", base_url="http://h", credentials={})
    assert limits_for(integration) == GuardLimits(0.2, 10)
    monkeypatch.setenv("LMSYNC_DELETE_GUARD_SHARE", "0.5")
    monkeypatch.setenv("LMSYNC_DELETE_GUARD_MIN", "3")
    assert limits_for(integration) == GuardLimits(0.5, 3)
    integration.settings = {"delete_guard_share": 0.1, "delete_guard_min": 0}
    assert limits_for(integration) == GuardLimits(0.1, 0)
    integration.settings = {"delete_guard_share": 2}
    with pytest.raises(LmsyncError, match="between 0 and 1"):
        limits_for(integration)


# --- deletions -------------------------------------------------------------------------------
def test_empty_course_list_is_held_then_confirmed(tmp_path, backend):
    with faulty_env(tmp_path, {"function": "core_course_get_courses", "answer": []}, store=backend) as (env, tap):
        assert env.sync().status == "succeeded"
        before = state(env)
        tap.active = True
        finished = []

        class Spy:
            @hookimpl
            def lmsync_sync_finished(self, integration, run, changed_models, store):
                finished.append(changed_models)

        env.engine.pm.register(Spy())
        run = env.sync()
        assert run.status == "succeeded"
        assert state(env) == before
        held = guard.held_counts(env.store.get_run(run.id))
        assert held["courses"] == before["courses"]["live"]
        assert any(w.startswith(f"deletions held: courses {before['courses']['live']:,} of ") and
                   f"lmsync deletions confirm {run.id}" in w for w in run.warnings)
        assert finished[-1] == []  # no data-changed for held deletions
        applied = guard.confirm(env.store, run.id, env.engine.store.get_run(run.id).started_at)
        assert applied["courses"] == before["courses"]["live"]
        assert state(env)["courses"]["live"] == 0
        confirmed = env.store.get_run(run.id)
        assert guard.confirmed(confirmed) and not guard.held_counts(confirmed)
        with pytest.raises(LmsyncError, match="no held changes"):
            guard.confirm(env.store, run.id, confirmed.started_at)


def test_confirm_refuses_when_a_newer_run_exists(tmp_path):
    with faulty_env(tmp_path, {"function": "core_course_get_courses", "answer": []}) as (env, tap):
        env.sync()
        tap.active = True
        held_run = env.sync()
        assert guard.held_counts(env.store.get_run(held_run.id))
        tap.active = False
        assert env.sync().status == "succeeded"
        before = state(env)
        with pytest.raises(LmsyncError, match="a newer run .* exists: re-run the sync"):
            guard.confirm(env.store, held_run.id, held_run.started_at)
        assert state(env) == before


def test_users_absent_but_referenced_are_kept(tmp_path):
    fault = {"function": "core_user_get_users", "answer": {"users": [], "warnings": []}}
    with faulty_env(tmp_path, fault) as (env, tap):
        env.sync()
        before = state(env)
        tap.active = True
        run = env.sync()
        assert run.status == "succeeded" and state(env) == before
        referenced = len({r.fields["user_id"] for r in env.rows("course_progressions")})
        assert run.stats["users"]["kept_referenced"] == referenced
        assert any(w.startswith("kept referenced: users") for w in run.warnings)


def test_a_few_deletions_below_the_guard_are_applied(tmp_path):
    with faulty_env(tmp_path, {"function": "none"}) as (env, _):
        env.sync()
        victim = max(u for u in env.site.users if not env.site.users[u].deleted and
                     not any(str(u) == r.fields["user_id"].rsplit(":", 1)[-1] for r in env.rows("course_progressions")))
        env.site.delete_user(victim)
        env.site.cache.clear()
        run = env.sync()
        assert run.stats["users"]["deleted"] == 1 and "held_deletions" not in run.stats["users"]


# --- regressions -----------------------------------------------------------------------------
def test_mass_dropped_to_enrolled_is_held_then_confirmed(tmp_path, backend):
    with faulty_env(tmp_path, {"function": "none"}, store=backend, delete_guard_share=0.05, delete_guard_min=1) as (env, _):
        env.sync()
        before = state(env)
        dropped = sum(s == "DROPPED" for s in before["course_progressions"]["status"].values())
        assert dropped >= 2, "the site needs suspended enrolments"
        for per_user in env.site.course_enrolments.values():  # every suspension lifted at once
            for ues in per_user.values():
                for ue in ues:
                    ue.status = 0
        env.site.cache.clear()
        run = env.sync()
        assert run.status == "succeeded"
        now = state(env)["course_progressions"]["status"]
        was = before["course_progressions"]["status"]
        kept = [k for k, v in was.items() if v == "DROPPED" and now[k] == "DROPPED"]
        assert not any(v == "DROPPED" and now[k] == "ENROLLED" for k, v in was.items())
        assert run.stats["course_progressions"]["held_regressions"] == len(kept) >= 2
        assert any(w.startswith("regressions held: course_progressions") and "DROPPED→" in w for w in run.warnings)
        guard.confirm(env.store, run.id, run.started_at)
        after = state(env)["course_progressions"]["status"]
        assert not any(s == "DROPPED" for s in after.values())


def test_few_regressions_below_the_guard_are_written(tmp_path):
    with faulty_env(tmp_path, {"function": "none"}) as (env, _):
        env.sync()
        courseid, per_user = next((c, p) for c, p in env.site.course_enrolments.items()
                                  if any(ue.status for ues in p.values() for ue in ues))
        ue = next(ue for ues in per_user.values() for ue in ues if ue.status)
        ue.status = 0
        env.site.cache.clear()
        run = env.sync()
        assert "held_regressions" not in run.stats["course_progressions"]
        assert run.stats["course_progressions"]["updated"] >= 1


# --- the fault corpus ------------------------------------------------------------------------
def _needs_met(need: str | None) -> bool:
    return need is None


@pytest.mark.parametrize("path", FAULTS, ids=[p.stem for p in FAULTS])
def test_fault_corpus_loses_nothing(tmp_path, path):
    fault = yaml.safe_load(path.read_text())  # a small site: guard at 10 % and 3 records
    with faulty_env(tmp_path, fault, delete_guard_share=0.1, delete_guard_min=3) as (env, tap):
        assert env.sync().status == "succeeded"
        before = state(env)
        tap.active = True
        run = env.sync()
        assert tap.hits, f"{path.name}: the fault never fired"
        assert state(env) == before, f"{path.name}: records lost or changed"
        outcome = ("bad_response" if run.status == "failed" else
                   "held" if guard.held_counts(env.store.get_run(run.id)) else "kept")
        expected = fault["expect"] if isinstance(fault["expect"], list) else [fault["expect"]]
        if outcome not in expected and fault.get("needs"):
            pytest.xfail(f"{path.name}: needs {fault['needs']} (got {outcome}, expected {fault['expect']})")
        assert outcome in expected, f"{path.name}: {run.status} {run.error or ''} {run.warnings[-3:]}"


# --- command line ----------------------------------------------------------------------------
def test_cli_lists_and_confirms_held_deletions(tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app

    with faulty_env(tmp_path, {"function": "core_course_get_courses", "answer": []}) as (env, tap):
        env.sync()
        tap.active = True
        held_run = env.sync()
        store = ["--store", str(tmp_path / "lmsync.sqlite3")]
        runner = CliRunner()
        listed = runner.invoke(app, ["deletions", "list", *store, "--json"])
        assert listed.exit_code == 0, listed.output
        assert held_run.id in listed.stdout and '"confirmable": true' in listed.stdout
        shown = runner.invoke(app, ["runs", *store])
        assert "held: courses" in shown.stdout
        done = runner.invoke(app, ["deletions", "confirm", held_run.id, "--yes", *store])
        assert done.exit_code == 0 and "applied: courses" in done.stdout
        assert '"confirmed_deletions"' in runner.invoke(app, ["runs", *store, "--json"]).stdout
        again = runner.invoke(app, ["deletions", "confirm", held_run.id, "--yes", *store])
        assert again.exit_code == 1 and "no held changes" in again.output


def test_the_regression_check_reads_back_only_records_whose_content_changed(tmp_path):
    """New and unchanged records cannot regress: the writer's stored hashes leave them out, so an
    unchanged re-sync reads nothing back for the check, and one changed record reads one."""
    with faulty_env(tmp_path, {"function": "none"}) as (env, _):
        read_back: list[int] = []
        get_many = env.store.get_many

        def counting(iid, model, ids, **kw):
            if model == "course_progressions" and kw.get("with_remote_data") is False:
                read_back.append(len(ids))
            return get_many(iid, model, ids, **kw)

        env.store.get_many = counting
        env.sync()
        assert read_back == []  # every record new
        assert env.sync().status == "succeeded" and read_back == []  # every record unchanged
        ue = next(ue for p in env.site.course_enrolments.values() for ues in p.values() for ue in ues if ue.status)
        ue.status = 0
        env.site.cache.clear()
        run = env.sync()
        assert run.stats["course_progressions"]["updated"] >= 1 and sum(read_back) == run.stats["course_progressions"]["updated"]
