"""The integration-fields part of ``SQLStore`` (migration 8).

``integration_fields`` holds, per integration, the raw fields found in each model's synced
``remote_data`` (``engine.api._routes_fields`` discovers them): a stable ``id`` per
(integration, model, type, key), the ``field_type`` (``DEFAULT``: a key of the source answer;
``CUSTOM``: an entry of a connector-declared custom-field list), a ``label`` when the remote has
one, and ``passthrough``: whether read endpoints show the field in ``integration_fields``.

``integration_field_scans`` remembers the model version token (``model_versions``) each model
was last scanned at, so a listing rescans only after a sync changed the model's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.store._query import check_model

__all__ = ["IntegrationField", "FieldsSQLMixin", "FIELD_TYPES"]

FIELD_TYPES = ("DEFAULT", "CUSTOM")
_COLS = "integration_id, id, model, field_key, field_type, label, passthrough"
_SCAN_CHUNK = 2000


@dataclass
class IntegrationField:
    """One raw field of a model's source answers."""

    integration_id: str
    id: str
    model: str
    key: str
    type: str
    label: str | None = None
    passthrough: bool = False


class FieldsSQLMixin:
    """Mixed into ``SQLStore``; relies on its ``dialect``, ``_execute``, ``_fetchall``,
    ``_transaction``, ``_q`` and ``_bump_version``."""

    def _field_from_row(self, row: Sequence[Any]) -> IntegrationField:
        return IntegrationField(integration_id=row[0], id=row[1], model=row[2], key=row[3], type=row[4],
                                label=row[5], passthrough=bool(row[6]))

    def iter_remote_data(self, integration_id: str, model: str) -> Iterator[dict[str, Any]]:
        """The ``remote_data`` of every live record of *model*, in chunks by id (bounded memory)."""
        table = check_model(model)
        after = ""
        while True:
            rows = self._fetchall(f"SELECT id, remote_data FROM {table} WHERE integration_id = ? AND id > ?"  # type: ignore[attr-defined]
                                  " AND remote_deleted_at IS NULL AND remote_data IS NOT NULL ORDER BY id LIMIT ?",
                                  [integration_id, after, _SCAN_CHUNK])
            for row in rows:
                data = self.dialect.json_out(row[1])  # type: ignore[attr-defined]
                if isinstance(data, dict):
                    yield data
            if len(rows) < _SCAN_CHUNK:
                return
            after = rows[-1][0]

    def field_scan_token(self, integration_id: str, model: str) -> tuple[bool, str | None]:
        """``(scanned before, the model version token of that scan)``."""
        rows = self._fetchall("SELECT token FROM integration_field_scans WHERE integration_id = ? AND model = ?",  # type: ignore[attr-defined]
                              [integration_id, model])
        return (True, rows[0][0]) if rows else (False, None)

    def save_field_scan(self, integration_id: str, model: str, found: Iterable[IntegrationField],
                        token: str | None) -> None:
        """Add the fields of a scan not yet known (known ones keep their passthrough flag; their
        label is refreshed) and record *token* as the model version scanned, in one transaction."""
        with self._transaction() as cur:  # type: ignore[attr-defined]
            for f in found:
                if f.type not in FIELD_TYPES:
                    raise ValueError(f"integration field {f.key!r}: type {f.type!r} is not one of {FIELD_TYPES}")
                cur.execute(self._q(f"INSERT INTO integration_fields ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # type: ignore[attr-defined]
                                    " ON CONFLICT (integration_id, id) DO UPDATE SET label = excluded.label"),
                            [integration_id, f.id, model, f.key, f.type, f.label, self.dialect.bool_in(False)])  # type: ignore[attr-defined]
            cur.execute(self._q("INSERT INTO integration_field_scans (integration_id, model, token) VALUES (?, ?, ?)"  # type: ignore[attr-defined]
                                " ON CONFLICT (integration_id, model) DO UPDATE SET token = excluded.token"),
                        [integration_id, model, token])

    def list_integration_fields(self, integration_id: str, after_id: str | None = None,
                                limit: int = 100) -> list[IntegrationField]:
        """Fields of the integration ordered by id, strictly after *after_id*, at most *limit*."""
        rows = self._fetchall(f"SELECT {_COLS} FROM integration_fields WHERE integration_id = ? AND id > ?"  # type: ignore[attr-defined]
                              " ORDER BY id LIMIT ?", [integration_id, after_id or "", limit])
        return [self._field_from_row(r) for r in rows]

    def get_integration_field(self, integration_id: str, field_id: str) -> IntegrationField | None:
        """One field, or ``None``."""
        rows = self._fetchall(f"SELECT {_COLS} FROM integration_fields WHERE integration_id = ? AND id = ?",  # type: ignore[attr-defined]
                              [integration_id, field_id])
        return self._field_from_row(rows[0]) if rows else None

    def set_field_passthrough(self, integration_id: str, field_id: str, enabled: bool) -> IntegrationField | None:
        """Turn the field's passthrough on or off (``None`` if there is no such field). The
        model's version changes with it: pages composed before (read-ahead) are not served."""
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("UPDATE integration_fields SET passthrough = ? WHERE integration_id = ? AND id = ?"),  # type: ignore[attr-defined]
                        [self.dialect.bool_in(enabled), integration_id, field_id])  # type: ignore[attr-defined]
            if cur.rowcount == 0:
                return None
            cur.execute(self._q("SELECT model FROM integration_fields WHERE integration_id = ? AND id = ?"),  # type: ignore[attr-defined]
                        [integration_id, field_id])
            self._bump_version(cur, integration_id, cur.fetchone()[0])  # type: ignore[attr-defined]
        return self.get_integration_field(integration_id, field_id)

    def passthrough_fields(self, integration_id: str, model: str) -> list[IntegrationField]:
        """The fields of *model* whose passthrough is on, by id."""
        rows = self._fetchall(f"SELECT {_COLS} FROM integration_fields WHERE integration_id = ? AND model = ?"  # type: ignore[attr-defined]
                              " AND passthrough = ? ORDER BY id",
                              [integration_id, model, self.dialect.bool_in(True)])  # type: ignore[attr-defined]
        return [self._field_from_row(r) for r in rows]
