"""The Connect part of ``SQLStore``: link tokens and the setup state of connected integrations.

``connect_links`` rows are the tokens of the Connect flow (``engine.connect``): ``kind``
``create`` (a link for a new integration), ``relink`` (new credentials for ``integration_id``)
or ``exchange`` (the single-use token ``GET /v1/connect/integration-by-token`` trades for the
integration). Only the SHA-256 hex of a token is stored (``token_hash``); ``used_at`` is set
once, by a conditional ``UPDATE``, so two concurrent uses cannot both succeed.

``integration_setup`` holds, per integration made by the flow, its ``setup_status``
(``INCOMPLETE`` / ``FINAL_SYNC_PENDING`` / ``COMPLETED``) and its end user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.store.base import StoreError

__all__ = ["ConnectLink", "IntegrationSetup", "ConnectSQLMixin", "SETUP_STATUSES"]

SETUP_STATUSES = ("INCOMPLETE", "FINAL_SYNC_PENDING", "COMPLETED")

_LINK_COLS = ("id, token_hash, kind, integration_id, end_user_email, end_user_organization_name, end_user_origin_id,"
              " tool, language, link_type, expires_at, used_at, created_at, scope_config_id")
_SETUP_COLS = "integration_id, setup_status, end_user_email, end_user_organization_name, end_user_origin_id, updated_at"


@dataclass
class ConnectLink:
    """One token of the Connect flow (its hash only; the token itself is never stored).

    ``integration_id`` is the integration to relink (``relink``), the one the flow created
    (``exchange``), or, for ``create``, the integration the flow started (``None`` before).
    ``link_type`` is ``EMBEDDED`` or ``MAGIC_LINK`` (``EXCHANGE`` for exchange tokens).
    ``scope_config_id`` (migration 12) is the id of the scope config the flow binds the
    integration to (``None``: a new integration gets the built-in default, a relinked one keeps
    its binding).
    """

    id: str
    token_hash: str
    kind: str
    link_type: str
    expires_at: datetime
    created_at: datetime
    integration_id: str | None = None
    end_user_email: str | None = None
    end_user_organization_name: str | None = None
    end_user_origin_id: str | None = None
    tool: str | None = None
    language: str | None = None
    used_at: datetime | None = None
    scope_config_id: str | None = None


@dataclass
class IntegrationSetup:
    """The setup state and end user of an integration the Connect flow made."""

    integration_id: str
    setup_status: str
    updated_at: datetime
    end_user_email: str | None = None
    end_user_organization_name: str | None = None
    end_user_origin_id: str | None = None


class ConnectSQLMixin:
    """Mixed into ``SQLStore``; relies on its ``dialect``, ``_execute``, ``_fetchall`` and ``_q``."""

    def _link_from_row(self, row: Sequence[Any]) -> ConnectLink:
        d = self.dialect  # type: ignore[attr-defined]
        return ConnectLink(id=row[0], token_hash=row[1], kind=row[2], integration_id=row[3], end_user_email=row[4],
                           end_user_organization_name=row[5], end_user_origin_id=row[6], tool=row[7], language=row[8],
                           link_type=row[9], expires_at=d.ts_out(row[10]), used_at=d.ts_out(row[11]),
                           created_at=d.ts_out(row[12]), scope_config_id=row[13])

    def add_connect_link(self, link: ConnectLink) -> None:
        """Insert *link*; ``StoreError`` if its id or token hash exists."""
        d = self.dialect  # type: ignore[attr-defined]
        try:
            self._execute(f"INSERT INTO connect_links ({_LINK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # type: ignore[attr-defined]
                          [link.id, link.token_hash, link.kind, link.integration_id, link.end_user_email,
                           link.end_user_organization_name, link.end_user_origin_id, link.tool, link.language,
                           link.link_type, d.ts_in(link.expires_at), d.ts_in(link.used_at), d.ts_in(link.created_at),
                           link.scope_config_id])
        except Exception as exc:
            if d.is_unique_violation(exc):
                raise StoreError(f"connect link {link.id} already exists") from None
            raise

    def connect_link_by_hash(self, token_hash: str) -> ConnectLink | None:
        """The link whose token hashes to *token_hash*, or ``None``."""
        rows = self._fetchall(f"SELECT {_LINK_COLS} FROM connect_links WHERE token_hash = ?", [token_hash])  # type: ignore[attr-defined]
        return self._link_from_row(rows[0]) if rows else None

    def list_connect_links(self, integration_id: str | None = None) -> list[ConnectLink]:
        """Links, oldest first (only those of *integration_id* when given)."""
        where, params = ("WHERE integration_id = ?", [integration_id]) if integration_id else ("", [])
        rows = self._fetchall(f"SELECT {_LINK_COLS} FROM connect_links {where} ORDER BY created_at, id", params)  # type: ignore[attr-defined]
        return [self._link_from_row(r) for r in rows]

    def bind_connect_link(self, link_id: str, integration_id: str) -> bool:
        """Record the integration a ``create`` link's flow started; False if the link is used,
        gone or already bound to another integration."""
        return self._execute("UPDATE connect_links SET integration_id = ? WHERE id = ? AND used_at IS NULL"  # type: ignore[attr-defined]
                             " AND (integration_id IS NULL OR integration_id = ?)",
                             [integration_id, link_id, integration_id]) > 0

    def use_connect_link(self, link_id: str, now: datetime) -> bool:
        """Mark the link used at *now* if it is not yet used and not expired at *now*; True
        only for the one caller that did (a single conditional ``UPDATE``)."""
        ts = self.dialect.ts_in(now)  # type: ignore[attr-defined]
        return self._execute("UPDATE connect_links SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?",  # type: ignore[attr-defined]
                             [ts, link_id, ts]) > 0

    def put_integration_setup(self, setup: IntegrationSetup) -> None:
        """Insert or replace the setup row of ``setup.integration_id``."""
        if setup.setup_status not in SETUP_STATUSES:
            raise StoreError(f"setup_status {setup.setup_status!r}: expected one of {', '.join(SETUP_STATUSES)}")
        d = self.dialect  # type: ignore[attr-defined]
        self._execute(f"INSERT INTO integration_setup ({_SETUP_COLS}) VALUES (?, ?, ?, ?, ?, ?)"  # type: ignore[attr-defined]
                      " ON CONFLICT (integration_id) DO UPDATE SET setup_status = excluded.setup_status,"
                      " end_user_email = excluded.end_user_email,"
                      " end_user_organization_name = excluded.end_user_organization_name,"
                      " end_user_origin_id = excluded.end_user_origin_id, updated_at = excluded.updated_at",
                      [setup.integration_id, setup.setup_status, setup.end_user_email,
                       setup.end_user_organization_name, setup.end_user_origin_id, d.ts_in(setup.updated_at)])

    def get_integration_setup(self, integration_id: str) -> IntegrationSetup | None:
        """The setup row of *integration_id* (``None`` for integrations not made by the flow)."""
        rows = self._fetchall(f"SELECT {_SETUP_COLS} FROM integration_setup WHERE integration_id = ?",  # type: ignore[attr-defined]
                              [integration_id])
        if not rows:
            return None
        r = rows[0]
        return IntegrationSetup(integration_id=r[0], setup_status=r[1], end_user_email=r[2],
                                end_user_organization_name=r[3], end_user_origin_id=r[4],
                                updated_at=self.dialect.ts_out(r[5]))  # type: ignore[attr-defined]

    def _remove_connect_rows(self, cur: Any, integration_id: str) -> None:
        """Inside ``remove_integration``'s transaction: its setup row and its links."""
        cur.execute(self._q("DELETE FROM integration_setup WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
        cur.execute(self._q("DELETE FROM connect_links WHERE integration_id = ?"), [integration_id])  # type: ignore[attr-defined]
