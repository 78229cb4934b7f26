"""Small helpers shared by the Moodle actions: remote ids, settings, ``warnings`` arrays."""

from __future__ import annotations

from typing import Any

from connectors.moodle._errors import error_from_body
from engine.errors import ActionInputInvalid
from engine.store.base import Integration

__all__ = ["DEFAULT_SETTINGS", "setting", "course_id", "user_id", "progression_ids", "raise_warnings"]

DEFAULT_SETTINGS: dict[str, Any] = {"student_role_id": 5, "course_category_id": 1, "page_size": 1000}
_SITE_COURSE = 1


def setting(integration: Integration, name: str) -> Any:
    """An integration setting, or the connector's default."""
    return (integration.settings or {}).get(name, DEFAULT_SETTINGS.get(name))


def _positive_int(value: Any, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ActionInputInvalid(f"{what}: {value!r} is not a Moodle id (a positive integer)")
    return int(text)


def course_id(value: Any, what: str) -> int:
    """A Moodle course id (a course's one revision has the course's id); never the site course."""
    cid = _positive_int(value, what)
    if cid == _SITE_COURSE:
        raise ActionInputInvalid(f"{what}: course 1 is Moodle's site front page, not a course")
    return cid


def user_id(value: Any) -> int:
    """A Moodle user id."""
    return _positive_int(value, "user_id")


def progression_ids(value: Any) -> tuple[int, int]:
    """``(course id, user id)`` from a progression's remote id ``"<course>:<user>"``."""
    course, sep, user = str(value).partition(":")
    if not sep:
        raise ActionInputInvalid(f"course_progression_id: {value!r} is not a Moodle progression id ('<course>:<user>')")
    return course_id(course, "course_progression_id"), _positive_int(user, "course_progression_id")


def raise_warnings(call: str, result: Any) -> None:
    """``core_course_update_courses`` reports per-course failures as warnings (PROTOCOL §4.2):
    raise the first one as the typed error its ``warningcode`` stands for."""
    warnings = result.get("warnings") if isinstance(result, dict) else None
    if warnings:
        first = warnings[0]
        raise error_from_body(call, {"exception": "warning", "errorcode": first.get("warningcode") or None,
                                     "message": first.get("message") or "Moodle reported a warning"})
