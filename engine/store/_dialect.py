"""What differs between SQL backends: placeholders, types, JSON, timestamps and IN-lists.

All shared SQL is written with ``?`` placeholders; ``Dialect.sql`` translates it once per
statement text (cached).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson

from engine.store._schema import Types

__all__ = ["Dialect", "dump_json", "utc"]

UTC = timezone.utc


def utc(dt: datetime) -> datetime:
    """*dt* as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)
# datetimes go through _json_default as with the stdlib encoder (not orjson's own format)
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_json(value: Any) -> str:
    """Compact JSON text of *value* (datetimes as ISO 8601).

    orjson writes it (a tenth of the stdlib's time: every stored record's data and remote_data
    go through here); what it refuses (integers beyond 64 bits, non-string keys, lone
    surrogates) is written, or refused, by the stdlib encoder as before. The text can differ
    from the stdlib's only in float notation (``1e-7``: the same value read back) and in
    NaN/Infinity, now ``null`` (the stdlib wrote ``NaN``, which the store's JSON readers and
    PostgreSQL's jsonb refuse)."""
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _ENCODER.encode(value)


class Dialect(abc.ABC):
    """The per-backend pieces of SQL and value conversion."""

    types: Types
    #: appended to a text expression to make it the JSON column type (``::jsonb`` or nothing)
    json_cast: str = ""
    #: appended to a JSON column to read it as its text (``::text`` or nothing)
    json_as_text: str = ""
    placeholder: str = "?"

    def __init__(self) -> None:
        self._sql_cache: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """*text* with ``?`` placeholders replaced by the driver's (cached)."""
        out = self._sql_cache.get(text)
        if out is None:
            out = text if self.placeholder == "?" else text.replace("?", self.placeholder)
            self._sql_cache[text] = out
        return out

    @abc.abstractmethod
    def ts_in(self, dt: datetime | None) -> Any:
        """A timestamp as a query parameter."""

    @abc.abstractmethod
    def ts_out(self, value: Any) -> datetime | None:
        """A timestamp column value as an aware UTC datetime."""

    def json_in(self, value: Any) -> str | None:
        """A JSON column parameter (text)."""
        return None if value is None else dump_json(value)

    @abc.abstractmethod
    def json_out(self, value: Any) -> Any:
        """A JSON column value as Python objects."""

    def bool_in(self, value: bool) -> Any:
        """A boolean parameter."""
        return bool(value)

    @abc.abstractmethod
    def in_list(self, expr: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """``expr IN values`` as (sql, params), for lists of any length."""

    @abc.abstractmethod
    def json_text(self, column: str, name: str) -> tuple[str, list[Any]]:
        """The top-level JSON member *name* of *column* as text: (sql, params)."""

    @abc.abstractmethod
    def is_unique_violation(self, exc: BaseException) -> bool:
        """Whether *exc* is the driver's unique-constraint error."""
