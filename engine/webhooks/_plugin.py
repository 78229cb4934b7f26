"""The built-in plugin that delivers webhooks when a sync finishes (``lmsync_sync_finished``)."""

from __future__ import annotations

import logging
import threading
import weakref

from engine.hookspecs import hookimpl
from engine.store.base import Integration, Store, SyncRun
from engine.webhooks._deliver import WebhookSender

__all__ = ["sender_for", "lmsync_sync_finished"]

log = logging.getLogger("lmsync.webhooks")
_senders: "weakref.WeakKeyDictionary[Store, WebhookSender]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sender_for(store: Store) -> WebhookSender:
    """The process's ``WebhookSender`` of *store* (one per store object, made on first use)."""
    with _lock:
        sender = _senders.get(store)
        if sender is None:
            sender = _senders[store] = WebhookSender(store)
        return sender


@hookimpl
def lmsync_sync_finished(integration: Integration, run: SyncRun, changed_models: list[str], store: Store | None) -> None:
    """Queue ``data-changed`` (if anything changed) and ``sync-finished`` to every endpoint."""
    if store is None:
        return
    try:
        sender_for(store).publish(integration, run, changed_models)
    except Exception:  # noqa: BLE001 - webhooks must never break a sync
        log.exception("publishing webhooks of run %s failed", run.id)
