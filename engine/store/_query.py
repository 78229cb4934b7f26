"""Translation of a ``Query`` into one SELECT (shared by both backends)."""

from __future__ import annotations

from typing import Any

from engine.models import MODELS
from engine.store._dialect import Dialect
from engine.store._schema import record_table
from engine.store.base import Query, StoreError

__all__ = ["RECORD_COLUMNS", "build_query", "check_model"]

RECORD_COLUMNS = "t.id, t.remote_id, t.data, t.remote_data, t.changed_at, t.remote_deleted_at"

# The nested updated_after rule: a course also matches when one of its revisions changed,
# was added or was removed (removal sets changed_at too, so one comparison covers all three).
_NESTED_CHANGED = {
    "courses": "EXISTS (SELECT 1 FROM rec_course_revisions r WHERE r.integration_id = t.integration_id"
    " AND r.course_id = t.id AND r.changed_at > ?)",
}


def check_model(model: str) -> str:
    """The table of *model*, or ``StoreError`` for an unknown model."""
    if model not in MODELS:
        raise StoreError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    return record_table(model)


class _Where:
    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def add_in(self, expr: str, values: Any, prefix: str = "", suffix: str = "", pre: tuple = ()) -> None:
        sql, params = self.d.in_list(expr, [str(v) for v in values])
        self.add(prefix + sql + suffix, *pre, *params)


def _add_refs(w: _Where, q: Query) -> None:
    info = MODELS[q.model]
    for name, values in q.refs.items():
        if name in info.refs:
            w.add_in(f"t.{name}", values)
        elif q.model == "course_progressions" and name == "course_id":
            w.add_in(
                "r.course_id",
                values,
                prefix="t.course_revision_id IN (SELECT r.id FROM rec_course_revisions r"
                " WHERE r.integration_id = ? AND ",
                suffix=")",
                pre=(q.integration_id,),
            )
        else:
            raise StoreError(f"{q.model} cannot be filtered by {name!r}")


def _add_fields(w: _Where, q: Query) -> None:
    info = MODELS[q.model]
    lowered = {name: [str(v).lower() for v in values] for name, values in q.field_in_lower.items()}
    for name, values, fold in [*((n, v, False) for n, v in q.field_in.items()), *((n, v, True) for n, v in lowered.items())]:
        if name not in info.fields:
            raise StoreError(f"{q.model} has no field {name!r}")
        expr, params = w.d.json_text("t.data", name)
        sql, in_params = w.d.in_list(f"LOWER({expr})" if fold else expr, [str(v) for v in values])
        w.add(sql, *params, *in_params)


def build_query(d: Dialect, q: Query) -> tuple[str, list[Any]]:
    """(sql, params) of the page *q* describes."""
    table = check_model(q.model)
    w = _Where(d)
    w.add("t.integration_id = ?", q.integration_id)
    if q.after_id is not None:
        w.add("t.id > ?", q.after_id)
    if q.ids is not None:
        w.add_in("t.id", q.ids)
    if q.remote_ids is not None:
        w.add_in("t.remote_id", q.remote_ids)
    _add_fields(w, q)
    _add_refs(w, q)
    if not q.include_deleted and q.snapshot is not None:
        # a record deleted after the first page was read still existed at the snapshot
        w.add("(t.remote_deleted_at IS NULL OR t.remote_deleted_at > ?)", d.ts_in(q.snapshot))
    elif not q.include_deleted:
        w.add("t.remote_deleted_at IS NULL")
    if q.snapshot is not None:
        w.add("t.created_at <= ?", d.ts_in(q.snapshot))
    if q.updated_after is not None:
        since = d.ts_in(q.updated_after)
        nested = _NESTED_CHANGED.get(q.model)
        if nested:
            w.add(f"(t.changed_at > ? OR {nested})", since, since)
        else:
            w.add("t.changed_at > ?", since)
    columns = RECORD_COLUMNS
    if q.raw_remote_data:
        columns = columns.replace("t.remote_data", f"t.remote_data{d.json_as_text}")
    sql = (
        f"SELECT {columns} FROM {table} t WHERE {' AND '.join(w.parts)}"
        " ORDER BY t.id LIMIT ?"
    )
    return d.sql(sql), [*w.params, max(0, int(q.limit))]
