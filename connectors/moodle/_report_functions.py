"""JMESPath functions for reading a report-builder report's cells (``BULK-READS.md`` §2).

Every cell of ``core_reportbuilder_retrieve_report`` is a string: ids only inside link HTML,
dates as ``userdate()`` text in the reading user's timezone and language, to the minute
(``"Wednesday, 2 December 2026, 6:44 AM"``), or epoch seconds when a ``%s`` date-format language
pack is sent as ``moodlewssettinglang``. These functions turn such cells into values; a cell
they cannot read raises ``ValueError`` naming it, so the record is reported invalid, never
silently null.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jmespath.functions import signature

__all__ = ["REPORT_FUNCTIONS", "parse_userdate"]

_LINK_PATHS = {"course": "/course/view.php", "user": "/user/profile.php"}
_LINK_ID = {kind: re.compile(re.escape(path) + r"\?(?:[^\"'>]*&(?:amp;)?)?id=(\d+)") for kind, path in _LINK_PATHS.items()}
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), start=1)}
# strftimedaydatetime in English: "%A, %d %B %Y, %I:%M %p" (Moodle strips the day's leading zero)
_USERDATE = re.compile(r"^\s*(?:[A-Za-z]+,\s*)?(\d{1,2})\s+([A-Za-z]+)\s+(\d{4}),?\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s*$")
_EMPTY = ("", "Never", "-")


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (an IANA name such as 'UTC' or 'Europe/Berlin')") from None


@functools.lru_cache(maxsize=65536)
def parse_userdate(text: str, tz: str = "UTC") -> int | None:
    """Epoch seconds of a report date cell: English ``userdate()`` text read in *tz* (to the
    minute), or digits (a ``%s`` language pack: exact); empty or ``Never`` → None."""
    text = text.strip()
    if text in _EMPTY:
        return None
    if text.isdigit():
        return int(text)
    m = _USERDATE.match(text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise ValueError(f"cannot read the date {text!r}: lmsync reads English report dates "
                         "(the sync user's language must be English) or epoch seconds (a %s date-format pack)")
    day, month, year, hour, minute, half = m.groups()
    h = int(hour)
    if half:
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    local = datetime(int(year), _MONTHS[month.lower()], int(day), h, int(minute), tzinfo=_zone(tz))
    return int(local.timestamp())


@signature({"types": ["string", "null"]}, {"types": ["string"]})
def moodle_link_id(html: str | None, kind: str) -> int | None:
    """``moodle_link_id(cell, 'course'|'user')``: the id inside a report cell's link
    (``…/course/view.php?id=N``, ``…/user/profile.php?id=N``); an empty cell → null."""
    if kind not in _LINK_ID:
        raise ValueError(f"moodle_link_id: kind must be one of {', '.join(_LINK_ID)}, got {kind!r}")
    if not html:
        return None
    return _link_id(html, kind)


@functools.lru_cache(maxsize=65536)
def _link_id(html: str, kind: str) -> int:
    # one course's cell repeats on every row of the course, a user's on each of their courses
    m = _LINK_ID[kind].search(html)
    if m is None:
        raise ValueError(f"no {kind} link in the report cell {html[:80]!r}")
    return int(m.group(1))


@signature({"types": ["string", "null"]}, {"types": ["string", "null"]})
def moodle_userdate(text: str | None, tz: str | None) -> str | None:
    """``moodle_userdate(cell, timezone)``: a report date cell → ISO 8601 UTC (seconds ``:00``
    unless the cell holds epoch seconds); empty/``Never`` → null."""
    if text is None:
        return None
    seconds = parse_userdate(text, tz or "UTC")
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@signature({"types": ["string", "null"]})
def moodle_yesno(text: str | None) -> bool | None:
    """``moodle_yesno(cell)``: a report boolean ``Yes``/``No`` → true/false; ``""`` → null."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value in ("yes", "1"):
        return True
    if value in ("no", "0"):
        return False
    raise ValueError(f"cannot read the report boolean {text!r} (English Yes/No expected)")


@signature({"types": ["array"]}, {"types": ["string", "null"]})
def moodle_first_userdate(cells: list[Any], tz: str | None) -> str | None:
    """``moodle_first_userdate(rows[].columns[5], timezone)``: the earliest of several report
    date cells (e.g. the start of each enrolment method of one user in one course), ISO UTC."""
    seconds = [s for c in cells if isinstance(c, str) and (s := parse_userdate(c, tz or "UTC")) is not None]
    return moodle_userdate(str(min(seconds)), tz) if seconds else None


@signature({"types": ["string"]}, {"types": ["number", "null"]}, {"types": ["number", "null"]})
def moodle_date_filter(column: str, since: int | None, overlap: int | None) -> str:
    """``moodle_date_filter('completion:timecompleted', since, overlap_s)``: the ``values`` JSON of
    ``core_reportbuilder_set_filters`` narrowing a report to rows whose date *column* is at or
    after ``since - overlap`` (the date filter's range operator, 3, with an open end; BULK-READS §2)."""
    start = max(int(since or 0) - int(overlap or 0), 1)
    return json.dumps({f"{column}_operator": 3, f"{column}_from": start, f"{column}_to": 0}, separators=(",", ":"))


REPORT_FUNCTIONS: dict[str, Any] = {"moodle_link_id": moodle_link_id, "moodle_userdate": moodle_userdate,
                                    "moodle_yesno": moodle_yesno, "moodle_first_userdate": moodle_first_userdate,
                                    "moodle_date_filter": moodle_date_filter}
