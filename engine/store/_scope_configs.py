"""The scope-config part of ``SQLStore`` (migration 9).

``scope_configs`` holds the named configs (``engine.scope_config``: the JSON form in ``config``);
``integration_scope_configs`` binds an integration to one. The built-in ``default`` config is
not a row: it is what an integration without a binding has, and its name cannot be taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from engine.ids import random_id
from engine.models import MODELS
from engine.scope_config import DEFAULT_ID, ScopeConfig, default_config, parse_config
from engine.store._query import check_model
from engine.store.base import NotFound, StoreError

__all__ = ["ScopeConfigSQLMixin"]

_COLS = "id, name, config, created_at"


class ScopeConfigSQLMixin:
    """Mixed into ``SQLStore``; relies on its ``dialect``, ``_fetchall``, ``_transaction``,
    ``_q``, ``_bump_version`` and ``_summaries``."""

    def _scope_from_row(self, row: Sequence[Any]) -> ScopeConfig:
        d = self.dialect  # type: ignore[attr-defined]
        return parse_config(row[0], row[1], d.json_out(row[2]) or {}, created_at=d.ts_out(row[3]))

    def add_scope_config(self, name: str, config: dict[str, Any], now: datetime | None = None) -> ScopeConfig:
        """Validate and store a new config named *name*; ``ScopeConfigError`` if it is invalid,
        ``StoreError`` if the name is taken (``default`` always is)."""
        created = now or datetime.now(timezone.utc)
        parsed = parse_config(random_id(), name, config, created_at=created)
        if parsed.name == DEFAULT_ID:
            raise StoreError(f"scope config name {DEFAULT_ID!r} is the built-in config's; choose another")
        d = self.dialect  # type: ignore[attr-defined]
        try:
            with self._transaction() as cur:  # type: ignore[attr-defined]
                cur.execute(self._q(f"INSERT INTO scope_configs ({_COLS}) VALUES (?, ?, ?, ?)"),  # type: ignore[attr-defined]
                            [parsed.id, parsed.name, d.json_in(parsed.as_json()), d.ts_in(created)])
        except Exception as exc:
            if d.is_unique_violation(exc):
                raise StoreError(f"a scope config named {parsed.name!r} already exists") from None
            raise
        return parsed

    def list_scope_configs(self) -> list[ScopeConfig]:
        """The built-in ``default`` first, then the stored configs by name."""
        rows = self._fetchall(f"SELECT {_COLS} FROM scope_configs ORDER BY name")  # type: ignore[attr-defined]
        return [default_config(), *(self._scope_from_row(r) for r in rows)]

    def get_scope_config(self, id_or_name: str) -> ScopeConfig | None:
        """The config with that id or name (``default`` is the built-in one), or ``None``."""
        if id_or_name == DEFAULT_ID:
            return default_config()
        rows = self._fetchall(f"SELECT {_COLS} FROM scope_configs WHERE id = ? OR name = ? ORDER BY id",  # type: ignore[attr-defined]
                              [id_or_name, id_or_name])
        return self._scope_from_row(rows[0]) if rows else None

    def scope_config_of(self, integration_id: str) -> ScopeConfig:
        """The config *integration_id* is bound to (the built-in default without a binding)."""
        rows = self._fetchall("SELECT c.id, c.name, c.config, c.created_at FROM integration_scope_configs b"  # type: ignore[attr-defined]
                              " JOIN scope_configs c ON c.id = b.scope_config_id WHERE b.integration_id = ?",
                              [integration_id])
        return self._scope_from_row(rows[0]) if rows else default_config()

    def bind_scope_config(self, integration_id: str, id_or_name: str) -> ScopeConfig:
        """Bind *integration_id* to the config with that id or name (``default`` unbinds);
        ``NotFound`` for either missing. Every model's version changes with it, so pages
        composed under the old config are not served again. The stored data follows the new
        config at the next sync (narrowing removes, a full sync backfills)."""
        config = self.get_scope_config(id_or_name)
        if config is None:
            raise NotFound(f"no scope config {id_or_name!r}")
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("SELECT id FROM integrations WHERE id = ?"), [integration_id])  # type: ignore[attr-defined]
            if cur.fetchone() is None:
                raise NotFound(f"integration {integration_id} does not exist")
            cur.execute(self._q("DELETE FROM integration_scope_configs WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
            if config.id != DEFAULT_ID:
                cur.execute(self._q("INSERT INTO integration_scope_configs (integration_id, scope_config_id) VALUES (?, ?)"),  # type: ignore[attr-defined]
                            [integration_id, config.id])
            for model in MODELS:
                self._bump_version(cur, integration_id, model)  # type: ignore[attr-defined]
        self._summaries.clear()  # type: ignore[attr-defined]
        return config

    def purge_model(self, integration_id: str, model: str) -> int:
        """Delete every row of *model* of the integration (a model its scope config disabled),
        with its held changes and discovered fields; returns how many records went."""
        table = check_model(model)
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q(f"DELETE FROM {table} WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
            gone = cur.rowcount
            for other in ("held_changes", "integration_fields", "integration_field_scans"):
                cur.execute(self._q(f"DELETE FROM {other} WHERE integration_id = ? AND model = ?"),  # type: ignore[attr-defined]
                            [integration_id, model])
            if gone:
                self._bump_version(cur, integration_id, model)  # type: ignore[attr-defined]
        if gone:
            self._summaries.clear()  # type: ignore[attr-defined]
        return max(gone, 0)

