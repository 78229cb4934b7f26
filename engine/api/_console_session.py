"""Operator sessions of the console (``engine.api._console``).

The operator logs in by pasting an admin API key (one created without ``--integration``).
The server keeps the session in this process's memory — ``{session id: key id, CSRF secret,
created, last seen}`` — and hands the browser ``<session id>.<HMAC-SHA256 signature>`` in an
``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/console``. The signing key is a random
key made per process (``secrets.token_bytes``): a restart logs every operator out, and nothing
the store holds can mint a session. Every request re-checks, server-side: the signature, the
session exists, ``IDLE`` (8 h since the last request) and ``ABSOLUTE`` (24 h since login) were
not passed, and the key still exists, is still an admin key and has not expired. Logging out
drops the session from the table, so a copied cookie is dead too. The clock is injectable
(``ConsoleSessions(now=…)``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from engine.store.base import ApiKey, Store

from ._auth import is_admin_key
from ._html import new_csrf
from ._keys import verify_key

__all__ = ["ConsoleSessions", "ConsoleSession", "SESSION_COOKIE", "IDLE", "ABSOLUTE", "LoginRefused", "sessions_of"]

SESSION_COOKIE = "lmsync_console"
IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(hours=24)
_MAX_SESSIONS = 1000
_MADE = threading.Lock()


class LoginRefused(Exception):
    """The pasted key may not open the console; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ConsoleSession:
    """One operator's session: the admin key it was opened with and its CSRF secret."""

    sid: str
    key_id: str
    key_name: str
    csrf: str
    created: datetime
    last_seen: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ConsoleSessions:
    """The process's console sessions (thread-safe)."""

    def __init__(self, now: Callable[[], datetime] = _utc_now, key: bytes | None = None) -> None:
        self.now = now
        self._key = key or secrets.token_bytes(32)
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def _sign(self, sid: str) -> str:
        mac = hmac.new(self._key, sid.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _alive(self, s: ConsoleSession, now: datetime) -> bool:
        return now - s.last_seen < IDLE and now - s.created < ABSOLUTE

    def login(self, store: Store, pasted: str) -> tuple[ConsoleSession, str]:
        """Open a session for the admin key *pasted*; ``(session, cookie value)``, else ``LoginRefused``."""
        key = verify_key(store, pasted.strip()) if pasted.strip() else None
        now = self.now()
        if key is None:
            raise LoginRefused(401, "That is not a valid API key.")
        if key.expired(now):
            raise LoginRefused(401, "That API key has expired; create a new one with `lmsync api-keys create`.")
        if not is_admin_key(key):
            raise LoginRefused(403, "The console needs an admin API key (one created with `lmsync api-keys create` "
                                    "without --integration); this key is limited to some integrations.")
        session = ConsoleSession(secrets.token_urlsafe(32), key.key_id, key.name, new_csrf(), now, now)
        with self._lock:
            for sid in [sid for sid, s in self._sessions.items() if not self._alive(s, now)]:
                del self._sessions[sid]
            if len(self._sessions) >= _MAX_SESSIONS:  # drop the least recently used
                del self._sessions[min(self._sessions.values(), key=lambda s: s.last_seen).sid]
            self._sessions[session.sid] = session
        return session, f"{session.sid}.{self._sign(session.sid)}"

    def current(self, store: Store, request: Request) -> ConsoleSession | None:
        """The live session of *request*'s cookie (its last-seen time moved on), or ``None``."""
        sid, _, signature = request.cookies.get(SESSION_COOKIE, "").partition(".")
        if not sid or not hmac.compare_digest(signature.encode(), self._sign(sid).encode()):
            return None
        now = self.now()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or not self._alive(session, now):
                self._sessions.pop(sid, None)
                return None
        key: ApiKey | None = store.get_api_key(session.key_id)
        if key is None or key.expired(now) or not is_admin_key(key):  # revoked, expired or narrowed since login
            self.logout(sid)
            return None
        session.last_seen = now
        return session

    def logout(self, sid: str) -> None:
        """Forget the session *sid* (its cookie no longer opens anything)."""
        with self._lock:
            self._sessions.pop(sid, None)


def sessions_of(request: Request) -> ConsoleSessions:
    """The app's ``ConsoleSessions`` (``app.state.console_sessions``, made on first use)."""
    state = request.app.state
    with _MADE:
        sessions = getattr(state, "console_sessions", None)
        if sessions is None:
            sessions = state.console_sessions = ConsoleSessions()
    return sessions
