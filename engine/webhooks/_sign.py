"""Signing webhook bodies: HMAC-SHA256 with the endpoint's secret over ``"<timestamp>.<body>"``.

Headers sent with every delivery::

    X-Lmsync-Timestamp: 1717171717              (unix seconds when this attempt was signed)
    X-Lmsync-Signature: sha256=<hex digest>     (HMAC-SHA256(secret, timestamp + "." + body))
    X-Lmsync-Event: data-changed | sync-finished
    X-Lmsync-Event-Id: <the payload's id; the same on every retry, so receivers can dedupe>

Binding the timestamp into the signed text lets a receiver refuse replays of old bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "EVENT_HEADER", "EVENT_ID_HEADER", "new_secret", "sign", "verify"]

SIGNATURE_HEADER = "X-Lmsync-Signature"
TIMESTAMP_HEADER = "X-Lmsync-Timestamp"
EVENT_HEADER = "X-Lmsync-Event"
EVENT_ID_HEADER = "X-Lmsync-Event-Id"
_PREFIX = "sha256="


def new_secret() -> str:
    """A fresh endpoint secret (``whsec_`` + 43 urlsafe characters, 256 bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Lmsync-Signature`` value for *body* sent at *timestamp*."""
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def verify(secret: str, body: bytes, timestamp: str | int, signature: str, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """Whether *signature* is valid for *body* and *timestamp* is within *tolerance_s* of now.

    The receiver's recipe: take the raw body bytes (before any JSON parsing), compute
    ``hmac_sha256(secret, f"{timestamp}.".encode() + body)``, compare its hex digest with the
    header after ``sha256=`` in constant time, and reject timestamps older than a few minutes.
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")
