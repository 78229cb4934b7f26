"""Issue #19's done-when: an operator can make lmsync store no e-mail addresses and no
``remote_data`` for one integration. Proven by syncing the simulator's tiny site and grepping
the store itself — the SQLite file's bytes (with its WAL), a ``pg_dump`` of the PostgreSQL
schema — for a known e-mail of that site: present with the default config (so the grep can
fail), absent with a config disabling ``users.work_email`` and ``remote_data``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "moodle"))

from simenv import moodle_env  # noqa: E402
from storetest_util import PG_DSN  # noqa: E402

PRIVATE = {"fields": {"users.work_email": "DISABLED"}, "store_remote_data": False}


def _known_email(env) -> bytes:
    emails = [u.email for u in env.site.users.values() if u.id > 2 and "@example.com" in u.email]
    assert emails, "the tiny site has no regular user with an e-mail"
    return emails[0].encode()


def _sqlite_bytes(db: Path) -> bytes:
    """The database file and its WAL/journal siblings, as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))


def _private(env) -> None:
    env.store.add_scope_config("private", PRIVATE)
    env.store.bind_scope_config(env.integration_id, "private")


def _assert_nothing_private(env) -> None:
    users = env.rows("users", include_deleted=True)
    assert users and all(u.fields["work_email"] is None for u in users)
    for model in ("users", "courses", "course_progressions"):
        assert all(r.remote_data == {} for r in env.rows(model, include_deleted=True)), model


def test_default_config_stores_emails_in_the_sqlite_file(tmp_path):
    with moodle_env(tmp_path) as env:
        email = _known_email(env)
        assert env.sync().status == "succeeded"
        assert email in _sqlite_bytes(tmp_path / "lmsync.sqlite3")


def test_private_config_keeps_emails_out_of_the_sqlite_file(tmp_path):
    with moodle_env(tmp_path) as env:
        email = _known_email(env)
        _private(env)
        run = env.sync()
        assert run.status == "succeeded", run.error
        assert run.stats["users"]["created"] > 3
        _assert_nothing_private(env)
        env.store.close()
        assert email not in _sqlite_bytes(tmp_path / "lmsync.sqlite3")


def test_narrowing_removes_stored_emails_at_the_next_sync(tmp_path):
    with moodle_env(tmp_path) as env:
        email = _known_email(env)
        assert env.sync().status == "succeeded"
        assert any(u.fields["work_email"] == email.decode() for u in env.rows("users"))
        _private(env)
        run = env.sync()
        assert run.status == "succeeded", run.error
        assert run.stats["users"]["updated"] > 3  # the stored e-mails were overwritten, not kept
        _assert_nothing_private(env)


def _pg_dump(schema: str) -> bytes:
    out = subprocess.run(["pg_dump", "--no-owner", f"--schema={schema}", PG_DSN], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_private_config_keeps_emails_out_of_a_pg_dump(tmp_path, pg_store):
    with moodle_env(tmp_path, store=pg_store) as env:
        email = _known_email(env)
        assert env.sync().status == "succeeded"
        assert email in _pg_dump(pg_store.schema)  # the dump can show it: the check below can fail
        _private(env)
        assert env.sync().status == "succeeded"  # narrowing an already-synced integration
        _assert_nothing_private(env)
        assert email not in _pg_dump(pg_store.schema)


def test_a_disabled_model_makes_no_calls_and_its_rows_go_at_the_next_sync(tmp_path):
    with moodle_env(tmp_path) as env:
        first = env.sync()
        assert first.status == "succeeded" and env.rows("skills") and first.stats["skills"]["calls"] > 0
        env.store.add_scope_config("no-skills", {"models": {"skills": "DISABLED", "revision_skills": "DISABLED"}})
        env.store.bind_scope_config(env.integration_id, "no-skills")
        run = env.sync()
        assert run.status == "succeeded", run.error
        assert run.stats["skills"]["scope_config"] == "DISABLED" and run.stats["skills"]["calls"] == 0
        assert run.stats["skills"]["deleted"] > 0
        assert env.rows("skills", include_deleted=True) == [] and env.rows("revision_skills", include_deleted=True) == []
        assert sum(s["calls"] for s in run.stats.values()) < sum(s["calls"] for s in first.stats.values())
        assert env.rows("courses") and env.rows("users")  # the other models are synced as before
        env.store.bind_scope_config(env.integration_id, "default")  # widening: the next full sync backfills
        assert env.sync().status == "succeeded" and env.rows("skills")
