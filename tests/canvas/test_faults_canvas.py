"""The Canvas fault corpus (faults/*.yaml), walked by one parametrized test: sync the tiny site
with small pages, inject the fault, sync again, and check nothing was lost — the same live and
deleted counts and the same status of every live record — and that the run ended as the data
file expects (succeeded after retries, failed with a clear error, or deletions held)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
import yaml
from canvas_faultenv import CanvasFaultTransport
from canvas_simenv import canvas_env

from engine import guard
from tests.synced_env import state
from engine.transport import RetryPolicy

FAULTS = sorted((Path(__file__).parent / "faults").glob("*.yaml"))
FAST_RETRY = RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.02, max_retry_after=0.05, timeout=5.0)


def _param(path: Path):
    fault = yaml.safe_load(path.read_text(encoding="utf-8"))
    marks = [pytest.mark.xfail(strict=True, reason=fault["xfail"])] if fault.get("xfail") else []
    return pytest.param(path, fault, id=path.stem, marks=marks)


@contextlib.contextmanager
def faulty_canvas(tmp_path, fault: dict):
    """The tiny site (3 records a page, guard at 10 % and 2 records unless the fault says
    ``default_guard: true``) behind a fault transport."""
    tap = CanvasFaultTransport(fault)
    settings = {"per_page": 3} if fault.get("default_guard") else {"per_page": 3, "delete_guard_share": 0.1, "delete_guard_min": 2}
    with canvas_env(tmp_path, settings=settings, policy=FAST_RETRY) as env:
        env.engine.client_factory = lambda: httpx.Client(transport=tap, timeout=10)
        yield env, tap


def test_the_corpus_covers_the_canvas_wire_faults():
    names = {p.stem for p in FAULTS}
    assert {"throttled_then_ok", "status_500_burst", "link_offsite", "link_header_garbage", "link_repeats_page",
            "users_empty_list"} <= names


@pytest.mark.parametrize(("path", "fault"), [_param(p) for p in FAULTS])
def test_canvas_fault_corpus_loses_nothing(tmp_path, path, fault):
    with faulty_canvas(tmp_path, fault) as (env, tap):
        first = env.sync()
        assert first.status == "succeeded", first.error
        before = state(env)
        assert before["users"]["live"] == 10 and before["course_progressions"]["live"] == 13
        tap.active = True
        run = env.sync()
        assert tap.hits, f"{path.name}: the fault never fired"
        assert state(env) == before, f"{path.name}: records lost or changed"
        outcome = ("failed" if run.status == "failed" else
                   "held" if guard.held_counts(env.store.get_run(run.id)) else
                   "succeeded" if fault["expect"] == "succeeded" else "kept")
        expected = fault["expect"] if isinstance(fault["expect"], list) else [fault["expect"]]
        assert outcome in expected, f"{path.name}: {run.status} {run.error or ''} {run.warnings[-3:]}"
        if "error" in fault:
            assert fault["error"] in (run.error or ""), run.error
            assert "\n" not in run.error.strip() and "Traceback" not in run.error
        if "retries" in fault:
            assert sum(s.get("retries", 0) for s in run.stats.values()) >= fault["retries"], run.stats
        if outcome == "succeeded":
            assert run.warnings == [] or all("held" not in w for w in run.warnings)
        tap.active = False  # the fault gone, the next sync is clean and loses nothing either
        after = env.sync()
        assert after.status == "succeeded", after.error
        assert state(env) == before
