"""RequestThrottle's leaky bucket, one per client (token, else IP), in process memory."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable

from ._site import ThrottleConfig

__all__ = ["Throttle", "Bucket", "throttled_body"]


def throttled_body(status: int) -> bytes:
    """RequestThrottle#rate_limit_exceeded: '403 Forbidden (Rate Limit Exceeded)\\n' (or 429)."""
    reason = "Too Many Requests" if status == 429 else "Forbidden"
    return f"{status} {reason} (Rate Limit Exceeded)\n".encode()


@dataclass
class Bucket:
    """count leaks at `outflow` units per second, never below 0 nor above `maximum`."""

    count: float = 0.0
    last_touched: float | None = None


@dataclass
class Throttle:
    """Buckets keyed by client identifier; `clock` is injectable for tests."""

    config: ThrottleConfig
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, Bucket] = field(default_factory=dict)

    @staticmethod
    def client_id(token: str | None, ip: str) -> str:
        """'token:<sha1>' like AccessToken.hashed_token, else 'ip:<address>'."""
        if token:
            return "token:" + hashlib.sha1(token.encode()).hexdigest()
        return f"ip:{ip}"

    def increment(self, client: str, amount: float) -> Bucket:
        """The lua script increment_bucket: leak since last touch, then add `amount`."""
        bucket = self.buckets.setdefault(client, Bucket())
        now = self.clock()
        if bucket.last_touched is not None:
            bucket.count = max(0.0, bucket.count - self.config.outflow * max(0.0, now - bucket.last_touched))
        bucket.count = min(self.config.maximum, max(0.0, bucket.count + amount))
        bucket.last_touched = now
        return bucket

    def reserve(self, client: str) -> bool:
        """Add the up-front cost and say whether the request may run (False = throttled)."""
        bucket = self.increment(client, self.config.up_front_cost)
        return not (self.config.enabled and bucket.count >= self.config.hwm)

    def settle(self, client: str, cost: float) -> float:
        """Replace the up-front cost by the real cost; returns the remaining quota (hwm - count)."""
        bucket = self.increment(client, cost - self.config.up_front_cost)
        return self.config.hwm - bucket.count

    def reset(self) -> None:
        """Empty every bucket."""
        self.buckets.clear()
