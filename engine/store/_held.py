"""Held changes of a run (deletions and status regressions the guard did not apply).

Rows of ``held_changes``: ``(run_id, integration_id, model, id, kind, record)``; ``kind`` is
``delete`` (``record`` NULL) or ``regress`` (``record`` is the mapped record as JSON, so a
confirmation writes exactly what the run read). See ``engine.guard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from engine.store._query import check_model

__all__ = ["HeldSQLMixin"]

_CHUNK = 5000


class HeldSQLMixin:
    """``Store`` methods over ``held_changes`` (mixed into ``SQLStore``)."""

    def live_ids(self, integration_id: str, model: str) -> set[str]:
        """Ids of the live (not deleted) rows of one model."""
        rows = self._fetchall(f"SELECT id FROM {check_model(model)} WHERE integration_id = ?"  # type: ignore[attr-defined]
                              " AND remote_deleted_at IS NULL", [integration_id])
        return {r[0] for r in rows}

    def hold(self, run_id: str, integration_id: str, model: str, kind: str,
             items: Sequence[tuple[str, dict[str, Any] | None]]) -> None:
        """Record held changes of *run_id*: ``(record id, record JSON or None)`` pairs."""
        d = self.dialect  # type: ignore[attr-defined]
        sql = self._q("INSERT INTO held_changes (run_id, integration_id, model, id, kind, record)"  # type: ignore[attr-defined]
                      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, model, id) DO NOTHING")
        for start in range(0, len(items), _CHUNK):
            with self._transaction() as cur:  # type: ignore[attr-defined]
                cur.executemany(sql, [[run_id, integration_id, model, rid, kind, None if rec is None else d.json_in(rec)]
                                      for rid, rec in items[start:start + _CHUNK]])

    def held(self, run_id: str) -> list[tuple[str, str, str, dict[str, Any] | None]]:
        """The held changes of *run_id*: ``(model, id, kind, record)``, by model and id."""
        d = self.dialect  # type: ignore[attr-defined]
        rows = self._fetchall("SELECT model, id, kind, record FROM held_changes WHERE run_id = ?"  # type: ignore[attr-defined]
                              " ORDER BY model, id", [run_id])
        return [(m, rid, kind, None if rec is None else orjson.loads(rec) if isinstance(rec, (str, bytes)) else d.json_out(rec))
                for m, rid, kind, rec in rows]

    def held_runs(self, integration_id: str | None = None) -> dict[str, int]:
        """``{run_id: number of held changes}`` of runs with held changes."""
        where, params = ("WHERE integration_id = ?", [integration_id]) if integration_id else ("", [])
        rows = self._fetchall(f"SELECT run_id, COUNT(*) FROM held_changes {where} GROUP BY run_id", params)  # type: ignore[attr-defined]
        return {r[0]: int(r[1]) for r in rows}

    def clear_held(self, run_id: str) -> None:
        """Forget the held changes of *run_id* (after they were applied)."""
        self._execute("DELETE FROM held_changes WHERE run_id = ?", [run_id])  # type: ignore[attr-defined]

    def mark_ids_deleted(self, integration_id: str, model: str, ids: Sequence[str], now: datetime,
                         run_id: str | None = None) -> int:
        """Mark the live rows among *ids* deleted; how many were marked. Fenced by *run_id*."""
        table = check_model(model)
        ts = self.dialect.ts_in(now)  # type: ignore[attr-defined]
        marked = 0
        with self._transaction() as cur:  # type: ignore[attr-defined]
            self.fence(cur, integration_id, run_id)  # type: ignore[attr-defined]
            for start in range(0, len(ids), _CHUNK):
                in_sql, in_params = self.dialect.in_list("id", list(ids[start:start + _CHUNK]))  # type: ignore[attr-defined]
                cur.execute(self._q(f"UPDATE {table} SET remote_deleted_at = ?, changed_at = ?"  # type: ignore[attr-defined]
                                    f" WHERE integration_id = ? AND remote_deleted_at IS NULL AND {in_sql}"),
                            [ts, ts, integration_id, *in_params])
                marked += max(cur.rowcount, 0)
            if marked:
                self._bump_version(cur, integration_id, model)  # type: ignore[attr-defined]
        return marked

    def update_run_stats(self, run_id: str, stats: dict[str, Any], warnings: list[str]) -> None:
        """Rewrite the stats and warnings of a finished run (a confirmation records itself)."""
        d = self.dialect  # type: ignore[attr-defined]
        self._execute("UPDATE sync_runs SET stats = ?, warnings = ? WHERE id = ?",  # type: ignore[attr-defined]
                      [d.json_in(stats), d.json_in(warnings), run_id])
