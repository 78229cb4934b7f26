"""The engine's side of every remote call: retries, timeouts, concurrency, counting, redaction.

The connector builds the request and parses the answer (hooks ``lmsync_build_request`` and
``lmsync_parse_response``); everything that is the same for every remote system lives here:

* a per-call timeout (``RetryPolicy.timeout``);
* retries with exponential backoff and full jitter for timeouts, connection errors, HTTP 5xx,
  HTTP 429 (honouring ``Retry-After``) and garbled bodies (``BadResponse``: a truncated or HTML
  answer is a proxy or network failure far more often than a real answer) — never for a
  ``RemoteError`` (a logic error the remote stated; retrying cannot change it);
* a semaphore bounding the concurrent calls of one integration;
* a per-call-name counter (``calls``) used by run statistics and benchmarks.

Swap the HTTP layer in tests by passing ``client=httpx.Client(transport=httpx.MockTransport(...))``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pluggy

from engine.errors import (
    BadResponse,
    LmsyncError,
    RateLimited,
    RemoteServerError,
    RemoteTimeout,
    RemoteUnreachable,
    TransientError,
    TransportError,
)
from engine.secrets import SecretLogFilter, live_secrets
from engine.store.base import Integration

__all__ = ["NULL", "RetryPolicy", "Transport", "capped_backoff"]

log = logging.getLogger("lmsync.transport")

# A logger's filters do not see records propagated from its children: name each one.
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                 "httpcore.proxy", "httpcore.socks")
_SECRET_FILTER = SecretLogFilter(live_secrets)
for _name in _HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_SECRET_FILTER)  # a Filter is added once per logger


class _Null:
    """Marker a ``lmsync_parse_response`` hook returns for a JSON ``null`` payload."""

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


def capped_backoff(base_delay: float, max_delay: float, attempt: int) -> float:
    """Exponential backoff after failed attempt number *attempt* (1-based): *base_delay*
    doubled per attempt, at most *max_delay*."""
    return min(max_delay, base_delay * 2 ** (attempt - 1))


@dataclass(frozen=True)
class RetryPolicy:
    """Retry and timeout settings. ``attempts`` counts the first try."""

    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_retry_after: float = 60.0
    timeout: float = 60.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class Transport:
    """Makes the remote calls of one integration. Thread-safe."""

    def __init__(
        self,
        integration: Integration,
        pm: pluggy.PluginManager,
        *,
        client: httpx.Client | None = None,
        policy: RetryPolicy = RetryPolicy(),
        max_concurrency: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.integration = integration
        self.policy = policy
        self._hook = pm.hook
        self._own_client = client is None
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self.client = client or httpx.Client(timeout=policy.timeout, limits=limits, follow_redirects=False)
        self._sem = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._secrets: tuple[str, ...] | None = live_secrets.add((integration.credentials or {}).values())

    def redact(self, text: str) -> str:
        """*text* with every credential of the integration replaced."""
        return self._hook.lmsync_redact(integration=self.integration, text=text)

    def call(self, name: str, params: dict[str, Any], accept: Callable[[Any], Any] | None = None) -> Any:
        """Call remote function *name* with *params*; the decoded payload, or a typed error.

        *accept* (e.g. a spec's shape check) turns the payload into the result; a
        ``BadResponse`` it raises is retried like a garbled body."""
        attempt = 0
        while True:
            attempt += 1
            try:
                payload = self._once(name, params)
                return accept(payload) if accept is not None else payload
            except (TransientError, BadResponse) as exc:
                if attempt >= self.policy.attempts:
                    raise
                delay = self._backoff(attempt, getattr(exc, "retry_after", None))
                with self._lock:
                    self.retries[name] += 1
                log.info("retrying %s in %.2fs after %s", name, delay, exc.__class__.__name__)
                self._sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = self._rng.uniform(0, capped_backoff(self.policy.base_delay, self.policy.max_delay, attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.max_retry_after))
        return delay

    def _once(self, name: str, params: dict[str, Any]) -> Any:
        request = self._hook.lmsync_build_request(integration=self.integration, call=name, params=params)
        if request is None:
            raise LmsyncError(f"no plugin builds requests for connector {self.integration.connector!r}")
        with self._sem:
            with self._lock:
                self.calls[name] += 1
            started = time.perf_counter()
            try:
                response = self.client.send(request)
            except httpx.TimeoutException:
                raise RemoteTimeout(f"no answer within {self.policy.timeout:g}s", call=name) from None
            except httpx.TransportError as exc:
                raise RemoteUnreachable(self.redact(f"connection failed: {exc.__class__.__name__}: {exc}"), call=name) from None
            log.debug("%s -> HTTP %s in %.1f ms", name, response.status_code, (time.perf_counter() - started) * 1000)
        return self._parse(name, response)

    def _parse(self, name: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            raise RateLimited("HTTP 429 Too Many Requests", call=name, retry_after=_retry_after(response))
        if status >= 500:
            raise RemoteServerError(f"HTTP {status}", call=name, status=status, retry_after=_retry_after(response))
        try:
            payload = self._hook.lmsync_parse_response(integration=self.integration, call=name, response=response)
        except TransportError as exc:
            exc.args = (self.redact(str(exc)),)
            raise
        return None if payload is NULL else payload

    def close(self) -> None:
        """Close the HTTP client if this transport created it; forget its secrets in logs."""
        with self._lock:
            secrets, self._secrets = self._secrets, None
        if secrets is not None:
            live_secrets.discard(secrets)
        if self._own_client:
            self.client.close()

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
