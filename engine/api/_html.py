"""What the server-rendered pages share (the Connect page and the operator console): the Jinja2
environment (autoescape), the response headers (strict CSP, no caching), form reading and the
CSRF secret's shape and comparison."""

from __future__ import annotations

import hmac
import re
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

import jinja2
from starlette.requests import Request

__all__ = ["TEMPLATES", "HTML_HEADERS", "template_env", "read_form", "new_csrf", "csrf_shaped", "same_secret",
           "is_https"]

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM = 64 * 1024
_CSRF_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
HTML_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
                                           "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"}


@lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """The environment over ``templates/`` (``connect/…``, ``console/…``); every value is escaped."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined)
    # str.format on a plain template string; the result is escaped like any other value
    env.filters["fmt"] = lambda template, **values: str(template).format(**values)
    return env


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body of *request* (first value of each field; at most 64 KiB read)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            break
    fields = parse_qs(body[:MAX_FORM].decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def new_csrf() -> str:
    """A fresh CSRF secret (43 urlsafe characters)."""
    return secrets.token_urlsafe(32)


def csrf_shaped(value: str) -> bool:
    """Whether *value* looks like a secret ``new_csrf`` made."""
    return bool(_CSRF_SHAPE.match(value))


def same_secret(expected: str, given: str) -> bool:
    """Constant-time equality of a well-formed secret *expected* and *given*."""
    return csrf_shaped(expected) and hmac.compare_digest(expected.encode(), given.encode())


def is_https(request: Request) -> bool:
    """Whether the client reached us over HTTPS (directly or through a proxy saying so)."""
    return "https" in (request.url.scheme, request.headers.get("x-forwarded-proto", ""))
