"""Removing an integration leaves no row of it in any table that names an integration (only the
webhook delivery log is kept): checked over the SQLite file's own catalogue, so a table added
later without its delete fails this test."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "moodle"))

from simenv import moodle_env  # noqa: E402

KEPT = {"webhook_deliveries"}


def _tables_with_integration(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [t for t in tables if any(c[1] == "integration_id" for c in conn.execute(f"PRAGMA table_info({t})"))]


def test_remove_integration_deletes_it_from_every_table(tmp_path):
    with moodle_env(tmp_path) as env:
        run = env.sync()
        assert run.status == "succeeded"
        env.store.hold(run.id, env.integration_id, "users", "delete", [(env.rid("users", 5), None)])
        db = tmp_path / "lmsync.sqlite3"
        before = {}
        with sqlite3.connect(db) as conn:
            for table in _tables_with_integration(db):
                before[table] = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE integration_id = ?", [env.integration_id]).fetchone()[0]
        from engine.store._schema import record_table

        assert before[record_table("users")] > 0 and before["held_changes"] > 0 and before["sync_runs"] > 0
        assert env.store.remove_integration(env.integration_id)
        with sqlite3.connect(db) as conn:
            left = {t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE integration_id = ?", [env.integration_id]).fetchone()[0]
                    for t in _tables_with_integration(db) if t not in KEPT}
        assert {t: n for t, n in left.items() if n} == {}
