"""JMESPath functions for Canvas's data conventions, offered to mapping specs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jmespath.functions import signature

__all__ = ["FUNCTIONS", "canvas_time", "canvas_name"]


@signature({"types": ["string", "null"]})
def canvas_time(value: Any) -> str | None:
    """``canvas_time(s)``: a Canvas ISO 8601 time (``Z`` or an offset such as ``-06:00``) → UTC
    ``YYYY-MM-DDTHH:MM:SSZ``; null or empty → null; an unreadable value is an error naming it."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"canvas_time: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@signature({"types": ["string", "null"]}, {"types": ["string", "null"]}, {"types": ["string"]})
def canvas_name(sortable_name: Any, name: Any, part: str) -> str | None:
    """``canvas_name(sortable_name, name, 'first'|'last')``: Canvas keeps one display name plus
    ``sortable_name`` "Last, First"; the part after the first ", " is the first name, before it
    the last name. Without a comma: the whole name is the last name, and the first name is the
    rest of ``name`` before it (null when nothing is left)."""
    if part not in ("first", "last"):
        raise ValueError(f"canvas_name: part must be 'first' or 'last', not {part!r}")
    sortable = (sortable_name or "").strip()
    last, sep, first = sortable.partition(",")
    if sep:
        value = first.strip() if part == "first" else last.strip()
        return value or None
    if part == "last":
        return sortable or (name or "").strip() or None
    full = (name or "").strip()
    if sortable and full.endswith(sortable):
        return full[: -len(sortable)].strip() or None
    return None


FUNCTIONS = {"canvas_time": canvas_time, "canvas_name": canvas_name}
