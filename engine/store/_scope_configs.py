"""The scope-config part of ``SQLStore`` (migrations 9 and 11).

``scope_configs`` holds the named configs (``engine.scope_config``: the JSON form in ``config``);
``integration_scope_configs`` binds an integration to one. The built-in ``default`` config is
not a row: it is what an integration without a binding has, and its name cannot be taken.
``integration_opt_outs`` holds the OPTIONAL items each integration's customer declined and
``integration_data_expiry`` when its synced data expired: every change of an integration's
effective config here (binding, editing a config, opt-outs) sets it when the config narrows
(``engine.scope_config.narrows``); ``clear_data_expired`` (a successful FULL sync) removes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from engine.ids import random_id
from engine.models import MODELS
from engine.scope_config import (DEFAULT_ID, ScopeConfig, default_config, narrows, parse_config, parse_opt_outs,
                                 scope_config_for)
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

    def bind_scope_config(self, integration_id: str, id_or_name: str, now: datetime | None = None) -> ScopeConfig:
        """Bind *integration_id* to the config with that id or name (``default`` unbinds);
        ``NotFound`` for either missing. Every model's version changes with it, so pages
        composed under the old config are not served again. The stored data follows the new
        config at the next sync (narrowing removes and sets ``data_expired_at``, a full sync
        backfills)."""
        config = self.get_scope_config(id_or_name)
        if config is None:
            raise NotFound(f"no scope config {id_or_name!r}")
        before = scope_config_for(self, integration_id)
        after = config.with_opt_outs(self.opt_outs_of(integration_id))
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("SELECT id FROM integrations WHERE id = ?"), [integration_id])  # type: ignore[attr-defined]
            if cur.fetchone() is None:
                raise NotFound(f"integration {integration_id} does not exist")
            cur.execute(self._q("DELETE FROM integration_scope_configs WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
            if config.id != DEFAULT_ID:
                cur.execute(self._q("INSERT INTO integration_scope_configs (integration_id, scope_config_id) VALUES (?, ?)"),  # type: ignore[attr-defined]
                            [integration_id, config.id])
            self._scope_changed(cur, integration_id, narrows(before, after), now)
        self._summaries.clear()  # type: ignore[attr-defined]
        return config

    def update_scope_config(self, id_or_name: str, config: dict[str, Any], now: datetime | None = None) -> ScopeConfig:
        """Replace the settings of the stored config with that id or name (its id, name and
        creation time stay); ``NotFound`` if there is none (the built-in ``default`` cannot be
        edited), ``ScopeConfigError`` if *config* is invalid. Each bound integration whose
        effective config narrows gets ``data_expired_at``."""
        found = self.get_scope_config(id_or_name)
        if found is None or found.id == DEFAULT_ID:
            raise NotFound(f"no stored scope config {id_or_name!r}" + (" (the built-in default cannot be edited)"
                                                                      if id_or_name == DEFAULT_ID else ""))
        parsed = parse_config(found.id, found.name, config, created_at=found.created_at)
        bound = [r[0] for r in self._fetchall("SELECT integration_id FROM integration_scope_configs"  # type: ignore[attr-defined]
                                              " WHERE scope_config_id = ?", [found.id])]
        changes = [(iid, narrows(scope_config_for(self, iid), parsed.with_opt_outs(self.opt_outs_of(iid))))
                   for iid in bound]
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("UPDATE scope_configs SET config = ? WHERE id = ?"),  # type: ignore[attr-defined]
                        [self.dialect.json_in(parsed.as_json()), found.id])  # type: ignore[attr-defined]
            for iid, narrowed in changes:
                self._scope_changed(cur, iid, narrowed, now)
        self._summaries.clear()  # type: ignore[attr-defined]
        return parsed

    # --- opt-outs and data expiry (migration 11) --------------------------------------------
    def opt_outs_of(self, integration_id: str) -> frozenset[str]:
        """The items (``models.M``, ``fields.M.F``, ``actions.A``) the integration's customer
        opted out of; only those OPTIONAL in its bound config take effect."""
        rows = self._fetchall("SELECT item FROM integration_opt_outs WHERE integration_id = ?",  # type: ignore[attr-defined]
                              [integration_id])
        return frozenset(r[0] for r in rows)

    def set_opt_outs(self, integration_id: str, items: Iterable[str], now: datetime | None = None) -> ScopeConfig:
        """Make *items* the integration's opt-outs (replacing the previous ones) and return its
        effective config. Each must be an OPTIONAL item of its bound config (``ScopeConfigError``
        names the first that is not); ``NotFound`` for a missing integration. Narrowing sets
        ``data_expired_at``; every model's version changes."""
        if self.get_integration(integration_id) is None:  # type: ignore[attr-defined]
            raise NotFound(f"integration {integration_id} does not exist")
        bound = self.scope_config_of(integration_id)
        chosen = parse_opt_outs(bound, items)
        before, after = scope_config_for(self, integration_id), bound.with_opt_outs(chosen)
        at = self.dialect.ts_in(now or datetime.now(timezone.utc))  # type: ignore[attr-defined]
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("DELETE FROM integration_opt_outs WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
            for item in sorted(chosen):
                cur.execute(self._q("INSERT INTO integration_opt_outs (integration_id, item, created_at) VALUES (?, ?, ?)"),  # type: ignore[attr-defined]
                            [integration_id, item, at])
            self._scope_changed(cur, integration_id, narrows(before, after), now)
        self._summaries.clear()  # type: ignore[attr-defined]
        return after

    def data_expired_at(self, integration_id: str) -> datetime | None:
        """When the integration's synced data expired (its effective config narrowed), or ``None``."""
        rows = self._fetchall("SELECT data_expired_at FROM integration_data_expiry WHERE integration_id = ?",  # type: ignore[attr-defined]
                              [integration_id])
        return self.dialect.ts_out(rows[0][0]) if rows else None  # type: ignore[attr-defined]

    def clear_data_expired(self, integration_id: str, synced_from: datetime) -> bool:
        """Clear ``data_expired_at`` after a successful FULL sync that read its config at
        *synced_from* (its start): a narrowing after that is kept. Whether it was cleared."""
        with self._transaction() as cur:  # type: ignore[attr-defined]
            cur.execute(self._q("DELETE FROM integration_data_expiry WHERE integration_id = ? AND narrowed_at < ?"),  # type: ignore[attr-defined]
                        [integration_id, self.dialect.ts_in(synced_from)])  # type: ignore[attr-defined]
            return cur.rowcount > 0

    def _scope_changed(self, cur: Any, integration_id: str, narrowed: bool, now: datetime | None) -> None:
        """In *cur*'s transaction: bump every model's version (pages composed under the old
        config are not served again) and, if *narrowed*, note when (the earliest kept)."""
        for model in MODELS:
            self._bump_version(cur, integration_id, model)  # type: ignore[attr-defined]
        if narrowed:
            at = self.dialect.ts_in(now or datetime.now(timezone.utc))  # type: ignore[attr-defined]
            cur.execute(self._q("INSERT INTO integration_data_expiry (integration_id, data_expired_at, narrowed_at)"  # type: ignore[attr-defined]
                                " VALUES (?, ?, ?) ON CONFLICT (integration_id) DO UPDATE SET narrowed_at = excluded.narrowed_at"),
                        [integration_id, at, at])

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

