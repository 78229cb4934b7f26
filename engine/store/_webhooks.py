"""The webhook part of ``SQLStore``: endpoints (secrets encrypted) and the delivery log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from engine.store.base import StoreError, WebhookDelivery, WebhookEndpoint

__all__ = ["WebhookSQLMixin"]

_ENDPOINT_COLS = "id, url, secret, events, enabled, created_at"
_DELIVERY_COLS = ("id, endpoint_id, event_id, event_type, integration_id, status, attempts, created_at,"
                  " last_attempt_at, next_attempt_at, response_status, error, body")
_DELIVERY_UPDATES = ", ".join(
    f"{c} = excluded.{c}" for c in ("status", "attempts", "last_attempt_at", "next_attempt_at", "response_status", "error")
)


class WebhookSQLMixin:
    """Mixed into ``SQLStore``; relies on its ``dialect``, ``box``, ``_execute`` and ``_fetchall``."""

    def _endpoint_from_row(self, row: Sequence[Any]) -> WebhookEndpoint:
        d = self.dialect
        return WebhookEndpoint(id=row[0], url=row[1], secret=self.box.decrypt_json(row[2]),
                               events=list(d.json_out(row[3]) or []), enabled=bool(row[4]),
                               created_at=d.ts_out(row[5]))

    def add_webhook(self, endpoint: WebhookEndpoint) -> None:
        """Insert *endpoint* with its secret encrypted; ``StoreError`` if the id exists."""
        d = self.dialect
        created = endpoint.created_at or datetime.now(timezone.utc)
        try:
            self._execute(f"INSERT INTO webhook_endpoints ({_ENDPOINT_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                          [endpoint.id, endpoint.url, self.box.encrypt_json(endpoint.secret),
                           d.json_in(list(endpoint.events)), d.bool_in(endpoint.enabled), d.ts_in(created)])
        except Exception as exc:
            if d.is_unique_violation(exc):
                raise StoreError(f"webhook {endpoint.id} already exists") from None
            raise
        endpoint.created_at = created

    def list_webhooks(self) -> list[WebhookEndpoint]:
        """All endpoints, oldest first."""
        rows = self._fetchall(f"SELECT {_ENDPOINT_COLS} FROM webhook_endpoints ORDER BY created_at, id")
        return [self._endpoint_from_row(r) for r in rows]

    def remove_webhook(self, endpoint_id: str) -> bool:
        """Delete an endpoint; False if it did not exist."""
        return self._execute("DELETE FROM webhook_endpoints WHERE id = ?", [endpoint_id]) > 0

    def _delivery_from_row(self, row: Sequence[Any]) -> WebhookDelivery:
        d = self.dialect
        return WebhookDelivery(
            id=row[0], endpoint_id=row[1], event_id=row[2], event_type=row[3], integration_id=row[4],
            status=row[5], attempts=int(row[6]), created_at=d.ts_out(row[7]), last_attempt_at=d.ts_out(row[8]),
            next_attempt_at=d.ts_out(row[9]), response_status=row[10], error=row[11], body=row[12],
        )

    def put_delivery(self, delivery: WebhookDelivery) -> None:
        """Insert *delivery* or update its outcome columns (one upsert statement)."""
        d = self.dialect
        self._execute(
            f"INSERT INTO webhook_deliveries ({_DELIVERY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (id) DO UPDATE SET {_DELIVERY_UPDATES}",
            [delivery.id, delivery.endpoint_id, delivery.event_id, delivery.event_type, delivery.integration_id,
             delivery.status, delivery.attempts, d.ts_in(delivery.created_at), d.ts_in(delivery.last_attempt_at),
             d.ts_in(delivery.next_attempt_at), delivery.response_status, delivery.error, delivery.body],
        )

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        """The delivery, or ``None``."""
        rows = self._fetchall(f"SELECT {_DELIVERY_COLS} FROM webhook_deliveries WHERE id = ?", [delivery_id])
        return self._delivery_from_row(rows[0]) if rows else None

    def list_deliveries(self, limit: int = 50, status: str | None = None) -> list[WebhookDelivery]:
        """Newest first, optionally only those with *status*."""
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self._fetchall(f"SELECT {_DELIVERY_COLS} FROM webhook_deliveries {where}"
                              " ORDER BY created_at DESC, id DESC LIMIT ?", [*params, max(0, limit)])
        return [self._delivery_from_row(r) for r in rows]
