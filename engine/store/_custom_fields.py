"""The custom-field part of ``SQLStore`` (migration 10).

``custom_field_mappings`` holds, per integration, which integration field (``engine.store._fields``)
a custom field is read from: one row per (integration, custom field id), with the model and key
the custom field had in the integration's scope config when it was mapped. The declarations
themselves live in the scope config (``engine.scope_config``); a row whose field is unmapped is
removed rather than kept with a null.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CustomFieldsSQLMixin"]


class CustomFieldsSQLMixin:
    """Mixed into ``SQLStore``; relies on its ``_fetchall``, ``_transaction``, ``_q`` and ``_bump_version``."""

    def custom_field_mappings(self, integration_id: str, model: str | None = None) -> dict[str, str]:
        """``{custom field id: integration field id}`` of the integration (of *model* only, when given)."""
        sql = "SELECT custom_field_id, integration_field_id FROM custom_field_mappings WHERE integration_id = ?"
        args: list[Any] = [integration_id]
        if model is not None:
            sql, args = sql + " AND model = ?", [*args, model]
        return {r[0]: r[1] for r in self._fetchall(sql, args) if r[1] is not None}  # type: ignore[attr-defined]

    def set_custom_field_mapping(self, integration_id: str, custom_field_id: str, model: str, key: str,
                                 integration_field_id: str | None) -> None:
        """Map the custom field to *integration_field_id* (``None`` removes the mapping). The
        model's version changes with it: pages composed before (read-ahead) are not served."""
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("DELETE FROM custom_field_mappings WHERE integration_id = ? AND custom_field_id = ?"),  # type: ignore[attr-defined]
                        [integration_id, custom_field_id])
            if integration_field_id is not None:
                cur.execute(self._q("INSERT INTO custom_field_mappings (integration_id, custom_field_id, model, field_key,"  # type: ignore[attr-defined]
                                    " integration_field_id) VALUES (?, ?, ?, ?, ?)"),
                            [integration_id, custom_field_id, model, key, integration_field_id])
            self._bump_version(cur, integration_id, model)  # type: ignore[attr-defined]
