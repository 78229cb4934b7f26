"""Helpers of the scale tests: worker processes, simulators, waiting and comparing data."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, SimControl, create_app, run_in_thread
from engine.models import MODEL_ORDER
from engine.store.base import Integration, Query, Store
from tests.webhook_receiver import Receiver as _Receiver

PG_DSN = os.environ.get("LMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """``lmsync worker --pool solo`` subprocesses with their logs in files."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", "--pool", "solo", "--concurrency", "1",
             "--hostname", f"{name}@scaletest", "--loglevel", "INFO"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"worker-{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the worker's whole process group (no chance to clean up)."""
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def small_site(seed: int, users: int = 12, courses: int = 3) -> MoodleSite:
    """A small deterministic Moodle site."""
    return MoodleSite.generate(seed=seed, users=users, courses=courses, enrolments_per_course=4, frameworks=1,
                               competencies_per_framework=4, course_competencies=2, deleted_users=1)


@contextlib.contextmanager
def simulators(sites: list[MoodleSite], control: SimControl | None = None) -> Iterator[list[str]]:
    """Serve every site on loopback (one uvicorn thread each); yield their base URLs."""
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(run_in_thread(create_app(site, control or SimControl()))) for site in sites]
        yield urls


def add_integration(store: Store, iid: str, url: str) -> Integration:
    integration = Integration(id=iid, connector="moodle", base_url=url, credentials={"token": ADMIN_TOKEN})
    store.add_integration(integration)
    return integration


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll *check* until it returns something truthy; fail the test with *what* on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def snapshot(store: Store, iid: str) -> dict[str, dict[str, tuple]]:
    """``{model: {id: (remote_id, fields, deleted?)}}`` of one integration, deleted rows included."""
    out: dict[str, dict[str, tuple]] = {}
    for model in MODEL_ORDER:
        rows, after = {}, None
        while True:
            page = store.query(Query(integration_id=iid, model=model, limit=500, after_id=after, include_deleted=True))
            rows.update({r.id: (r.remote_id, r.fields, r.remote_deleted_at is not None) for r in page})
            if len(page) < 500:
                break
            after = page[-1].id
        out[model] = rows
    return out


# answers 500 to the first POST of each event id (the delivery retry is what is tested)
Receiver = functools.partial(_Receiver, fail_first=True)
