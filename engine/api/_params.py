"""Query-parameter parsing for the list endpoints, exactly per the contract."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from starlette.datastructures import QueryParams

from starlette.requests import Request

from ._cursor import Cursor, decode_cursor, encode_cursor, filters_hash
from ._errors import InputInvalid

__all__ = ["ListParams", "parse_list_params", "COMMON_PARAMS", "parse_updated_after", "ListWindow", "list_window"]

COMMON_PARAMS = (
    "cursor",
    "page_size",
    "updated_after",
    "include_deleted",
    "ignore_unsupported_filters",
    "ids",
    "remote_ids",
)
_UPDATED_AFTER = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?Z?$")
_PAGE_SIZE = re.compile(r"^\d{1,6}$")
_MAX_LIST = 1000


@dataclass
class ListParams:
    """The parsed parameters of one list request."""

    cursor: str | None = None
    page_size: int = 100
    updated_after: datetime | None = None
    include_deleted: bool = False
    ids: list[str] | None = None
    remote_ids: list[str] | None = None
    lists: dict[str, list[str]] = field(default_factory=dict)  # endpoint-specific list filters

    def filter_parts(self) -> dict:
        """Everything that selects records (not the cursor or the page size), for the cursor hash."""
        ua = self.updated_after.isoformat() if self.updated_after else None
        return {"ua": ua, "del": self.include_deleted, "ids": self.ids, "rids": self.remote_ids, **self.lists}


def parse_updated_after(value: str) -> datetime:
    """Parse the contract's ``YYYY-MM-DD[THH:mm:ss[.sss]][Z]`` (always UTC)."""
    m = _UPDATED_AFTER.match(value)
    if not m:
        raise InputInvalid(f"updated_after {value!r} is not a date in the format YYYY-MM-DDTHH:mm:ss.sssZ.")
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro, tzinfo=timezone.utc)
    except ValueError:
        raise InputInvalid(f"updated_after {value!r} is not a valid date.") from None


def _bool(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise InputInvalid(f"{name} must be 'true' or 'false', got {value!r}.")
    return value == "true"


def _page_size(value: str) -> int:
    if not _PAGE_SIZE.match(value) or not 1 <= int(value) <= 250:
        raise InputInvalid(f"page_size must be an integer from 1 to 250, got {value!r}.")
    return int(value)


def _csv(name: str, value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > _MAX_LIST:
        raise InputInvalid(f"{name} accepts at most {_MAX_LIST} values.")
    return items


def _single_values(query: QueryParams, allowed: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in query.multi_items():
        if name not in allowed:
            raise InputInvalid(f"Unknown query parameter {name!r}. Allowed: {', '.join(allowed)}.")
        if name in values:
            raise InputInvalid(f"Query parameter {name!r} was given more than once; use a comma-separated list.")
        values[name] = value
    return values


def parse_list_params(query: QueryParams, extra_lists: tuple[str, ...] = ()) -> ListParams:
    """Parse and validate the list parameters; *extra_lists* are endpoint-specific CSV filters."""
    values = _single_values(query, COMMON_PARAMS + extra_lists)
    p = ListParams()
    if values.get("cursor"):  # ``cursor=`` (empty) means the first page
        p.cursor = values["cursor"]
    if "page_size" in values:
        p.page_size = _page_size(values["page_size"])
    if "updated_after" in values:
        p.updated_after = parse_updated_after(values["updated_after"])
    if "include_deleted" in values:
        p.include_deleted = _bool("include_deleted", values["include_deleted"])
    if "ignore_unsupported_filters" in values:
        _bool("ignore_unsupported_filters", values["ignore_unsupported_filters"])
    if "ids" in values:
        p.ids = _csv("ids", values["ids"])
    if "remote_ids" in values:
        p.remote_ids = _csv("remote_ids", values["remote_ids"])
    for name in extra_lists:
        if name in values:
            p.lists[name] = _csv(name, values[name])
    return p


@dataclass(frozen=True)
class ListWindow:
    """One page of a platform listing (integration fields, custom fields): ``cursor`` and
    ``page_size`` only, ids in ascending order. ``after`` is None on the first page."""

    size: int
    after: str | None
    snapshot: datetime
    q_hash: str

    def next(self, last_id: str) -> str:
        """The ``next`` cursor after a page ending at *last_id*."""
        return encode_cursor(Cursor(last_id, self.snapshot, self.q_hash))


def list_window(request: Request, listing: dict[str, str], max_size: int, default: int = 100) -> ListWindow:
    """The page a listing request asks for; *listing* names the list and integration (a cursor
    is valid only for the same one). Unknown, repeated or malformed parameters are refused."""
    raw = _single_values(request.query_params, ("cursor", "page_size")).get("page_size")
    if raw is not None and (not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= max_size):
        raise InputInvalid(f"The query parameter page_size must be an integer from 1 to {max_size}, got {raw!r}.")
    now = datetime.now(timezone.utc)
    q_hash = filters_hash(listing)
    token = request.query_params.get("cursor")
    if token is None:
        return ListWindow(int(raw) if raw is not None else default, None, now, q_hash)
    cursor = decode_cursor(token, q_hash, now)
    return ListWindow(int(raw) if raw is not None else default, cursor.after, cursor.snapshot, q_hash)
