"""Turn stored records into the contract's JSON shapes.

Embedded shapes are composed from already-fetched maps (see ``_compose``), never by querying
per record. Dates go out as ISO 8601 with milliseconds and ``Z``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from engine.store.base import StoredRecord

__all__ = [
    "iso",
    "user_json",
    "skill_json",
    "course_json",
    "revision_json",
    "progression_json",
]

_DATE_FIELDS = frozenset({"remote_created_at", "enrolled_at", "completed_at"})


def iso(value: datetime | str | None) -> str | None:
    """``YYYY-MM-DDTHH:mm:ss.sssZ`` for a datetime or an ISO string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _field(rec: StoredRecord, name: str) -> Any:
    value = rec.fields.get(name)
    return iso(value) if name in _DATE_FIELDS else value


def _record(rec: StoredRecord, names: tuple[str, ...], *, extras: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rec.id, "remote_id": rec.remote_id}
    out.update((name, _field(rec, name)) for name in names)
    out["remote_deleted_at"] = iso(rec.remote_deleted_at)
    out["changed_at"] = iso(rec.changed_at)
    out["remote_data"] = rec.remote_data
    if extras:
        out["custom_fields"] = rec.fields.get("custom_fields")
        out["integration_fields"] = rec.fields.get("integration_fields") or []
    return out


def user_json(rec: StoredRecord) -> dict[str, Any]:
    """A user in the GetLmsUsers result shape."""
    return _record(rec, ("first_name", "last_name", "work_email", "status", "remote_created_at"))


def skill_json(rec: StoredRecord) -> dict[str, Any]:
    """A skill in the GetLmsSkills result shape."""
    return _record(rec, ("name", "remote_created_at"))


def revision_json(rec: StoredRecord, skills: list[StoredRecord]) -> dict[str, Any]:
    """A course revision with its skill assignments (*skills* already resolved)."""
    out = _record(rec, ("course_id", "title", "description", "remote_url", "status", "remote_created_at"))
    out["skill_assignments"] = [
        {"skill": {"id": s.id, "remote_id": s.remote_id, "name": s.fields.get("name")}} for s in skills
    ]
    return out


def course_json(rec: StoredRecord, revisions: list[dict[str, Any]]) -> dict[str, Any]:
    """A course with already-serialized revisions. lmsync has no provider model: ``provider`` is null."""
    out = _record(rec, ("provider_id", "origin_id", "remote_created_at"))
    out["provider"] = None
    out["revisions"] = revisions
    return out


def _user_summary(user_id: str, user: StoredRecord | None) -> dict[str, Any]:
    if user is None:  # dangling reference: keep the shape, say what we know
        return {"id": user_id, "remote_id": "", "first_name": None, "last_name": None, "work_email": None}
    f = user.fields
    return {
        "id": user.id,
        "remote_id": user.remote_id,
        "first_name": f.get("first_name"),
        "last_name": f.get("last_name"),
        "work_email": f.get("work_email"),
    }


def _revision_summary(rev_id: str, rev: StoredRecord | None, course: StoredRecord | None) -> dict[str, Any]:
    course_json_ = {"id": course.id, "remote_id": course.remote_id} if course else None
    if rev is None:
        return {"id": rev_id, "remote_id": "", "title": None, "course": None}
    return {"id": rev.id, "remote_id": rev.remote_id, "title": rev.fields.get("title"), "course": course_json_}


def progression_json(
    rec: StoredRecord,
    users: dict[str, StoredRecord],
    revisions: dict[str, StoredRecord],
    courses: dict[str, StoredRecord],
) -> dict[str, Any]:
    """A progression with embedded user and revision summaries resolved from the given maps."""
    out = _record(rec, ("user_id", "course_revision_id", "status", "enrolled_at", "completed_at"), extras=False)
    user_id, rev_id = rec.fields.get("user_id"), rec.fields.get("course_revision_id")
    rev = revisions.get(rev_id)
    course = courses.get(rev.fields.get("course_id")) if rev else None
    out["user"] = _user_summary(user_id, users.get(user_id))
    out["course_revision"] = _revision_summary(rev_id, rev, course)
    return out
