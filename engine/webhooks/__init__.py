"""Webhooks: signed ``data-changed`` / ``sync-finished`` (and, from ``engine.connect``,
``integration-created`` / ``connection-flow-failed``) events POSTed to registered endpoints.

Endpoints live in the store (``Store.add_webhook``; secrets encrypted like credentials). The
built-in plugin ``engine.webhooks._plugin`` publishes events from ``lmsync_sync_finished``;
``WebhookSender`` delivers them with retries and exponential backoff and logs every attempt
(``Store.list_deliveries``). Receivers verify with ``verify`` (recipe in ``_sign``).

Errors: none of its own — delivery failures are recorded on the delivery row, never raised.
"""

from engine.webhooks._deliver import DeliveryPolicy, WebhookSender
from engine.webhooks._payloads import (EVENT_TYPES, connection_flow_failed_payload, data_changed_payload,
                                       integration_created_payload, sync_finished_payload)
from engine.webhooks._plugin import sender_for
from engine.webhooks._sign import (EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, new_secret,
                                   sign, verify)

__all__ = [
    "DeliveryPolicy", "WebhookSender", "sender_for", "data_changed_payload", "sync_finished_payload",
    "integration_created_payload", "connection_flow_failed_payload", "EVENT_TYPES",
    "new_secret", "sign", "verify", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "EVENT_HEADER", "EVENT_ID_HEADER",
]
