"""Wire helpers: Rails-style nested parameters, `to_query`, JSON like Canvas renders it, times,
string ids and the error answers of ApplicationController / AuthenticationMethods."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import orjson

__all__ = [
    "parse_nested", "merge_params", "to_query", "value_to_boolean", "iso", "parse_time", "dump_json",
    "stringify_ids", "CanvasError", "InvalidToken", "Unauthenticated", "Unauthorized", "NotFound",
    "BadRequest", "field_errors", "as_list", "JSON_TYPE", "AUTH_HEADER",
]

JSON_TYPE = "application/json; charset=utf-8"
AUTH_HEADER = 'Bearer realm="canvas-lms"'
_TRUE = {"1", "true", "t", "yes", "y", "on"}


def _assign(target: dict, key: str, value: str) -> None:
    """Rack::Utils.normalize_params for one `a[b][]=v` pair."""
    head, sep, rest = key.partition("[")
    if not sep:
        target[key] = value
        return
    parts = [head] + [p.rstrip("]") for p in ("[" + rest).split("[")[1:]]
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt = None if last else parts[i + 1]
        if part == "" and isinstance(node, list):
            if last:
                node.append(value)
                return
            if nxt != "" and node and isinstance(node[-1], dict) and parts[i + 1] not in node[-1]:
                node = node[-1]
            else:
                node.append({})
                node = node[-1]
            continue
        if not isinstance(node, dict):
            return
        if last:
            node[part] = value
            return
        want: Any = [] if nxt == "" else {}
        if not isinstance(node.get(part), type(want)):
            node[part] = want
        node = node[part]


def parse_nested(query: str) -> dict:
    """Parse `a=1&b[]=2&c[d]=3` the way Rails does (last scalar wins, `[]` builds lists)."""
    out: dict = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        _assign(out, key, value)
    return out


def merge_params(base: dict, extra: dict) -> dict:
    """Deep-merge `extra` into a copy of `base` (body parameters override query parameters)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_params(out[key], value)
        else:
            out[key] = value
    return out


def to_query(value: Any, namespace: str | None = None) -> str:
    """ActiveSupport's `Hash#to_query`: sorted `key=value` pairs, arrays as `key[]`, CGI escaping."""
    if isinstance(value, dict):
        parts = [to_query(v, f"{namespace}[{k}]" if namespace else str(k)) for k, v in value.items()]
        return "&".join(sorted(p for p in parts if p))
    if isinstance(value, list):
        prefix = f"{namespace}[]"
        if not value:
            return quote_plus(prefix) + "="
        return "&".join(to_query(v, prefix) for v in value)
    text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
    return f"{quote_plus(namespace or '')}={quote_plus(text)}"


def value_to_boolean(value: Any) -> bool:
    """Canvas::Plugin.value_to_boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TRUE


def as_list(value: Any) -> list:
    """Ruby's Array(): None → [], scalar → [scalar], list stays."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def iso(ts: int | None) -> str | None:
    """Epoch seconds → '2025-06-15T10:00:00Z' (Canvas renders UTC with no fraction)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_time(value: Any) -> int | None:
    """An ISO 8601 time (Z, offset, or date only) → epoch seconds; '' → None; raises ValueError."""
    from datetime import datetime, timezone
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def stringify_ids(value: Any) -> Any:
    """Api.recursively_stringify_json_ids: `id`, `*_id` integers → strings, `*_ids` lists too."""
    if isinstance(value, list):
        return [stringify_ids(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "id" or key.endswith("_id"):
            if isinstance(item, int) and not isinstance(item, bool):
                item = str(item)
        elif key.endswith("_ids") and isinstance(item, list):
            item = [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in item]
        out[key] = stringify_ids(item) if isinstance(item, (dict, list)) else item
    return out


def dump_json(value: Any, string_ids: bool = False) -> bytes:
    """JSON as Rails renders it: compact, UTF-8, with <, >, & escaped (escape_html_entities_in_json)."""
    body = orjson.dumps(stringify_ids(value) if string_ids else value)
    return body.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


class CanvasError(Exception):
    """An error answer: HTTP status, JSON body, extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


class InvalidToken(CanvasError):
    """A token that is unknown, expired or revoked (AccessTokenError)."""

    def __init__(self) -> None:
        super().__init__(401, {"errors": [{"message": "Invalid access token."}]}, {"WWW-Authenticate": AUTH_HEADER})


class Unauthenticated(CanvasError):
    """No credentials on an API request (render_json_unauthorized without a user)."""

    def __init__(self) -> None:
        super().__init__(401, {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]},
                         {"WWW-Authenticate": AUTH_HEADER})


class Unauthorized(CanvasError):
    """Authenticated but lacking the right (render_unauthorized_action)."""

    def __init__(self) -> None:
        super().__init__(401, {"status": "unauthorized",
                               "errors": [{"message": "user not authorized to perform that action"}]})


class NotFound(CanvasError):
    """ActiveRecord::RecordNotFound / unknown route / Folio::InvalidPage."""

    def __init__(self) -> None:
        super().__init__(404, {"errors": [{"message": "The specified resource does not exist."}]})


class BadRequest(CanvasError):
    """400 with a controller-specific body."""

    def __init__(self, body: Any) -> None:
        super().__init__(400, body)


def field_errors(errors: dict[str, list[tuple[str, str]]]) -> dict:
    """ActiveModel errors as Canvas renders them: {"errors": {attr: [{attribute, type, message}]}}."""
    return {"errors": {attr: [{"attribute": attr, "type": kind, "message": message} for kind, message in items]
                       for attr, items in errors.items()}}
