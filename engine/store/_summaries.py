"""Embedded summaries kept between calls, valid while their model has not changed.

Paging through 100,000 progressions embeds a user and a course revision in each; re-reading
those rows for every page is most of a page's cost. ``SummaryCache`` keeps the rows it has read
per (integration, model, fields) together with the model's version token
(``Store.versions``), which is replaced in the transaction of every write to the model's rows,
so an unchanged token means every cached summary is still what the database holds. The token is
read on every call (one primary-key lookup), so a caller never sees a summary older than the
database at the time of its call, whichever process wrote it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SummaryCache"]

Fetch = Callable[[str, str, Sequence[str], Sequence[str]], dict[str, dict[str, Any]]]
Version = Callable[[str, str], Any]


@dataclass
class _Entry:
    version: Any
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)


class SummaryCache:
    """Summaries by id, read through *fetch* and kept while *version* answers the same.

    At most *limit* rows are kept per (integration, model, fields); a set that would grow past
    it starts over (pages read ids in order, so recency would not predict reuse better).
    """

    def __init__(self, fetch: Fetch, version: Version, limit: int = 200_000) -> None:
        self._fetch = fetch
        self._version = version
        self._limit = limit
        self._entries: dict[tuple[str, str, tuple[str, ...]], _Entry] = {}
        self._lock = threading.Lock()

    def get(self, integration_id: str, model: str, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The summaries of *ids* (unknown ids absent), from memory where still valid."""
        if not ids:
            return {}
        version = self._version(integration_id, model)
        key = (integration_id, model, tuple(fields))
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                entry = self._entries[key] = _Entry(version)
        rows = entry.rows
        found = {i: row for i in ids if (row := rows.get(i)) is not None}
        missing = [i for i in ids if i not in found]
        if missing:
            fetched = self._fetch(integration_id, model, missing, fields)
            with self._lock:
                if len(rows) + len(fetched) > self._limit:
                    rows.clear()
                rows.update(fetched)
            found.update(fetched)
        return found

    def clear(self) -> None:
        """Forget everything (frees the memory, e.g. when an integration is removed)."""
        with self._lock:
            self._entries.clear()
