"""Delivering webhook events: signed POSTs with retries and exponential backoff, all logged.

``WebhookSender.publish`` turns a finished run into events, writes one ``pending`` delivery
row per (endpoint, event) and hands them to a small thread pool; each delivery is then tried
until a 2xx answer or ``max_attempts`` (waiting ``base_delay * 2**(n-1)`` between tries, capped).
Every attempt updates the row, so ``lmsync webhooks deliveries`` shows the log. A process
that dies leaves its rows ``pending``; ``resume_pending`` (the scheduler calls it) picks up
rows whose next attempt is overdue. Secrets are never logged; error texts name no URL.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from engine.ids import random_id
from engine.store.base import Integration, Store, SyncRun, WebhookDelivery, WebhookEndpoint
from engine.transport import capped_backoff
from engine.webhooks._payloads import data_changed_payload, sync_finished_payload
from engine.webhooks._sign import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["DeliveryPolicy", "WebhookSender"]

log = logging.getLogger("lmsync.webhooks")


def now_utc() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: attempts, backoff (seconds, doubling, capped) and the request timeout."""

    max_attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 300.0
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> "DeliveryPolicy":
        """``LMSYNC_WEBHOOK_MAX_ATTEMPTS``, ``LMSYNC_WEBHOOK_BACKOFF_S``, ``LMSYNC_WEBHOOK_TIMEOUT_S``."""
        from engine.config import env_number

        return cls(max_attempts=int(env_number("LMSYNC_WEBHOOK_MAX_ATTEMPTS")), base_delay=env_number("LMSYNC_WEBHOOK_BACKOFF_S"),
                   timeout=env_number("LMSYNC_WEBHOOK_TIMEOUT_S"))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        return capped_backoff(self.base_delay, self.max_delay, attempt)


def _events(integration: Integration, run: SyncRun, changed_models: list[str],
            end_user: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    events = [data_changed_payload(integration, changed_models)] if changed_models else []
    return [*events, sync_finished_payload(integration, run, end_user)]


class WebhookSender:
    """Publishes events of one store's runs to that store's endpoints (thread-safe)."""

    def __init__(self, store: Store, policy: DeliveryPolicy | None = None, *, workers: int = 4,
                 client: httpx.Client | None = None) -> None:
        self.store = store
        self.policy = policy or DeliveryPolicy.from_env()
        self._client = client or httpx.Client(timeout=self.policy.timeout, follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lmsync-webhook")
        self._futures: set[Future] = set()
        self._lock = threading.Lock()
        # defer: publish only logs the deliveries (status pending); a short-lived process (the
        # ``lmsync sync`` command) then calls ``try_deferred`` once and leaves the rest to the
        # scheduler, instead of keeping the process alive through the retries.
        self.defer = False
        self._deferred: list[str] = []

    # --- publishing --------------------------------------------------------------------------
    def publish(self, integration: Integration, run: SyncRun, changed_models: list[str]) -> list[WebhookDelivery]:
        """Log and start delivering the events of a finished run to every enabled endpoint."""
        from engine.connect import end_user_of  # the end user the Connect flow recorded, if any

        end_user = end_user_of(self.store, integration) if hasattr(self.store, "get_integration_setup") else None
        return self.publish_events(integration.id, _events(integration, run, changed_models,
                                                           end_user.payload() if end_user else None))

    def publish_events(self, integration_id: str, events: list[dict[str, Any]]) -> list[WebhookDelivery]:
        """Log and start delivering *events* (payloads with ``id`` and ``type``) to every enabled
        endpoint subscribed to their type; *integration_id* is logged with each delivery (empty
        when there is no integration, e.g. a failed connection flow)."""
        endpoints = [e for e in self.store.list_webhooks() if e.enabled]
        if not endpoints:
            return []
        now = now_utc()
        deliveries = []
        for event in events:
            body = json.dumps(event, separators=(",", ":"))
            for endpoint in endpoints:
                if event["type"] not in endpoint.events:
                    continue
                d = WebhookDelivery(id=random_id(), endpoint_id=endpoint.id, event_id=event["id"],
                                    event_type=event["type"], integration_id=integration_id, status="pending",
                                    body=body, created_at=now, next_attempt_at=now)
                self.store.put_delivery(d)
                deliveries.append(d)
        for d in deliveries:
            if self.defer:
                with self._lock:
                    self._deferred.append(d.id)
            else:
                self._submit(d.id)
        return deliveries

    def try_deferred(self, timeout: float = 3.0) -> int:
        """One attempt (at most *timeout* seconds each) of every delivery deferred by
        ``publish``; the failed ones stay ``pending`` with their ``next_attempt_at`` for
        ``resume_pending``. Returns how many are still pending."""
        with self._lock:
            ids, self._deferred = self._deferred, []
        pending = 0
        for delivery_id in ids:
            delivery = self.store.get_delivery(delivery_id)
            if delivery is None or delivery.status != "pending":
                continue
            self._attempt(delivery, timeout=min(timeout, self.policy.timeout))
            pending += delivery.status == "pending"
        return pending

    def resume_pending(self, overdue_s: float = 60.0) -> int:
        """Restart pending deliveries whose next attempt is more than *overdue_s* late (their
        process died). Returns how many were restarted."""
        limit = now_utc() - timedelta(seconds=overdue_s)
        stale = [d for d in self.store.list_deliveries(limit=1000, status="pending")
                 if d.next_attempt_at is None or d.next_attempt_at < limit]
        for d in stale:
            self._submit(d.id)
        return len(stale)

    def retry(self, delivery_id: str, timeout: float = 5.0) -> WebhookDelivery | None:
        """One attempt now of a delivery, its attempts counted afresh (the console's retry
        button); if it fails it stays ``pending`` for ``resume_pending``. ``None`` if unknown."""
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None:
            return None
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, None
        self._attempt(delivery, timeout=min(timeout, self.policy.timeout))
        return delivery

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted delivery finished; False on timeout (for tests and exit)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    # --- delivering --------------------------------------------------------------------------
    def _submit(self, delivery_id: str) -> None:
        future = self._pool.submit(self.deliver, delivery_id)
        with self._lock:
            self._futures = {f for f in self._futures if not f.done()}
            self._futures.add(future)

    def deliver(self, delivery_id: str) -> WebhookDelivery | None:
        """Try one delivery until it succeeds or runs out of attempts (blocking)."""
        try:
            delivery = self.store.get_delivery(delivery_id)
            while delivery is not None and delivery.status == "pending":
                wait = (delivery.next_attempt_at - now_utc()).total_seconds() if delivery.next_attempt_at else 0
                if wait > 0:
                    time.sleep(wait)
                self._attempt(delivery)
            return delivery
        except Exception:  # noqa: BLE001 - a background delivery must log, not vanish
            log.exception("webhook delivery %s crashed", delivery_id)
            return None

    def _endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return next((e for e in self.store.list_webhooks() if e.id == endpoint_id), None)

    def _attempt(self, delivery: WebhookDelivery, timeout: float | None = None) -> None:
        endpoint = self._endpoint(delivery.endpoint_id)
        delivery.attempts += 1
        delivery.last_attempt_at = now_utc()
        if endpoint is None or not endpoint.enabled:
            delivery.status, delivery.error = "failed", "endpoint removed or disabled"
            self.store.put_delivery(delivery)
            return
        ok = self._post(endpoint, delivery, timeout)
        if ok:
            delivery.status, delivery.next_attempt_at, delivery.error = "delivered", None, None
        elif delivery.attempts >= self.policy.max_attempts:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = now_utc() + timedelta(seconds=self.policy.delay(delivery.attempts))
        self.store.put_delivery(delivery)
        log.info("webhook %s %s to endpoint %s: attempt %d, %s", delivery.event_type, delivery.event_id,
                 endpoint.id, delivery.attempts, delivery.status if ok else delivery.error)

    def _post(self, endpoint: WebhookEndpoint, delivery: WebhookDelivery, timeout: float | None = None) -> bool:
        body = delivery.body.encode()
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "lmsync-webhooks",
                   TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(endpoint.secret, ts, body),
                   EVENT_HEADER: delivery.event_type, EVENT_ID_HEADER: delivery.event_id}
        try:
            response = self._client.post(endpoint.url, content=body, headers=headers,
                                         timeout=self.policy.timeout if timeout is None else timeout)
        except httpx.HTTPError as exc:
            delivery.response_status, delivery.error = None, f"{exc.__class__.__name__} (no response)"
            return False
        delivery.response_status = response.status_code
        delivery.error = None if response.is_success else f"HTTP {response.status_code}"
        return response.is_success
