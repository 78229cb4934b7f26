"""Pagination like lib/api.rb: `per_page` (default 10, clamped to 1..100), ordinal pages
(`page=N`, with or without a known total) and bookmarked pages (`page=bookmark:…`), announced
in an RFC 5988 `Link` header of absolute URLs (rels current, next, prev, first, last)."""

from __future__ import annotations

import base64
import bisect
import json
import re
from typing import Any, Callable, Sequence

from ._wire import NotFound, to_query

__all__ = ["Pager", "PER_PAGE", "MAX_PER_PAGE", "ruby_to_i", "encode_bookmark", "decode_bookmark"]

PER_PAGE = 10
MAX_PER_PAGE = 100
_EXCLUDED = ("page", "per_page", "access_token", "api_key")
_ORDER = ("current", "next", "prev", "first", "last")
_PRIORITY = ("next", "last", "prev", "current", "first")
_MAX_LINKS = 6 * 1024
_INT = re.compile(r"\s*([+-]?\d+)")


def ruby_to_i(value: Any) -> int:
    """String#to_i: leading integer or 0."""
    if isinstance(value, int):
        return value
    match = _INT.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else 0


def encode_bookmark(key: Sequence[Any]) -> str:
    """'bookmark:' + JSONToken.encode(key) (URL-safe base64 without padding)."""
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return "bookmark:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_bookmark(page: str) -> list:
    """The key of a 'bookmark:…' page; raises NotFound (Folio::InvalidPage) when malformed."""
    token = page[len("bookmark:"):]
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise NotFound() from None
    if not isinstance(value, list):
        raise NotFound()
    return value


class Pager:
    """Pages one collection for one request and builds its Link header."""

    def __init__(self, base_url: str, query: dict, *, default_per_page: int = PER_PAGE,
                 max_per_page: int = MAX_PER_PAGE) -> None:
        self.base_url = base_url
        self.query = query
        requested = query.get("per_page")
        requested = default_per_page if requested in (None, "") or isinstance(requested, (list, dict)) else requested
        self.per_page = min(max(ruby_to_i(requested), 1), max_per_page)
        page = query.get("page")
        self.page = page if isinstance(page, str) and page != "" else None
        self.link: str | None = None

    # ------------------------------------------------------------------ collections
    def ordinal(self, items: Sequence[Any], *, with_last: bool = True) -> list:
        """Page `items` by page number; `with_last` False = no total count (no rel=last)."""
        page = 1 if self.page is None else ruby_to_i(self.page)
        if self.page is not None and (not re.fullmatch(r"\s*\+?\d+\s*", self.page) or page < 1):
            raise NotFound()
        start = (page - 1) * self.per_page
        chunk = list(items[start:start + self.per_page])
        links: dict[str, Any] = {"current": page, "first": 1}
        if page > 1:
            links["prev"] = page - 1
        if with_last:
            last = max(1, -(-len(items) // self.per_page))
            links["last"] = last
            if page < last:
                links["next"] = page + 1
        elif len(items) > start + self.per_page:
            links["next"] = page + 1
        self._set_links(links)
        return chunk

    def bookmark(self, items: Sequence[Any], key: Callable[[Any], list]) -> list:
        """Page `items` (sorted by `key`) by bookmark: no rel=prev, no rel=last."""
        if self.page in (None, "first"):
            start = 0
        elif self.page.startswith("bookmark:"):
            after = decode_bookmark(self.page)
            keys = [key(item) for item in items]
            try:
                start = bisect.bisect_right(keys, after)
            except TypeError:
                raise NotFound() from None
        else:
            raise NotFound()
        chunk = list(items[start:start + self.per_page])
        links: dict[str, Any] = {"current": self.page or "first", "first": "first"}
        if len(items) > start + self.per_page:
            links["next"] = encode_bookmark(key(chunk[-1]))
        self._set_links(links)
        return chunk

    # ------------------------------------------------------------------ links
    def _set_links(self, pages: dict[str, Any]) -> None:
        base = self.base_url + ("&" if "?" in self.base_url else "?")
        rest = {k: v for k, v in self.query.items() if k not in _EXCLUDED}
        if rest:
            base += to_query(rest) + "&"
        urls: dict[str, str] = {}
        size = 0
        for rel in _PRIORITY:  # Api.build_links_hash keeps the header under 6 KB
            if rel not in pages:
                continue
            url = f"{base}page={pages[rel]}&per_page={self.per_page}"
            if size + len(url) > _MAX_LINKS:
                break
            size += len(url)
            urls[rel] = url
        self.link = ",".join(f'<{urls[rel]}>; rel="{rel}"' for rel in _ORDER if rel in urls) or None
