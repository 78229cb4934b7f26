"""What connectors make of the unified action inputs (``schemas/actions/*``), shared so each
connector does not write it again. Light on purpose: connector modules import it at start-up."""

from __future__ import annotations

import html
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

from engine.errors import ActionInputInvalid

__all__ = ["course_text", "origin_lock"]

_locks: weakref.WeakValueDictionary[tuple[str, str], threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def origin_lock(integration_id: str, origin_id: str) -> threading.Lock:
    """The lock of one upsert key (an integration's ``origin_id``): two upserts of one origin in
    one process find-or-create one course, not two. Kept while someone holds a reference."""
    key = (integration_id, origin_id)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.Lock()
        return lock


def course_text(course: dict[str, Any], max_title: int, lms: str, warnings: list[str]) -> tuple[str, str, str]:
    """``(title, course URL, HTML description)`` of an upsert item's ``course``, for a connector:
    the title with its white space collapsed (blank → ``ActionInputInvalid``; cut to *max_title*
    with a warning naming *lms*), the course URL checked to be http(s), and the description as
    escaped HTML paragraphs ending with a link to the course URL."""
    title = " ".join(str(course["title"]).split())
    if not title:
        raise ActionInputInvalid("course.title must not be blank")
    if len(title) > max_title:
        warnings.append(f"title was cut to {lms}'s {max_title} characters")
        title = title[:max_title]
    url = str(course["course_url"]).strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ActionInputInvalid(f"course.course_url {url!r} is not an http(s) URL")
    link = f'<p><a href="{html.escape(url, quote=True)}">{html.escape(url)}</a></p>'
    description = course.get("description")
    if not description or not description.strip():
        return title, url, link
    return title, url, "<p>" + html.escape(description.strip()).replace("\n", "<br>") + "</p>" + link
