"""Turn stored records into the contract's JSON shapes.

Embedded shapes are composed from already-fetched maps (see ``_compose``), never by querying
per record. Dates go out as ISO 8601 with milliseconds and ``Z``.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from engine.store._fields import IntegrationField
from engine.store.base import StoredRecord

__all__ = [
    "iso",
    "user_json",
    "skill_json",
    "course_json",
    "revision_json",
    "progression_json",
    "revision_summary",
    "field_json",
    "passthrough_values",
]

_DATE_FIELDS = frozenset({"remote_created_at", "enrolled_at", "completed_at"})


def iso(value: datetime | str | None) -> str | None:
    """``YYYY-MM-DDTHH:mm:ss.sssZ`` for a datetime or an ISO string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 24 and value[19] == "." and value[23] == "Z":
            return value  # already in this form (how mappings store dates)
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return _iso_datetime(value)


@functools.lru_cache(maxsize=4096)
def _iso_datetime(value: datetime) -> str:
    # cached: the records of one sync share a handful of changed_at instants
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


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


def _user_summary(user_id: str, user: dict[str, Any] | None) -> dict[str, Any]:
    if user is None:  # dangling reference: keep the shape, say what we know
        return {"id": user_id, "remote_id": "", "first_name": None, "last_name": None, "work_email": None}
    return user


def revision_summary(rev_id: str, rev: dict[str, Any] | None, courses: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``course_revision`` of a progression from a revision summary (``title``,
    ``course_id``) and the page's course summaries (``id``, ``remote_id``)."""
    if rev is None:
        return {"id": rev_id, "remote_id": "", "title": None, "course": None}
    return {"id": rev["id"], "remote_id": rev["remote_id"], "title": rev["title"], "course": courses.get(rev["course_id"])}


def progression_json(
    rec: StoredRecord,
    users: dict[str, dict[str, Any]],
    revisions: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A progression with embedded user and revision summaries, looked up in the page's maps:
    *users* as from ``Store.summaries`` with ``first_name``, ``last_name``, ``work_email``;
    *revisions* already in the embedded shape (see ``revision_summary``)."""
    f = rec.fields
    user_id, rev_id = f.get("user_id"), f.get("course_revision_id")
    return {
        "id": rec.id,
        "remote_id": rec.remote_id,
        "user_id": user_id,
        "course_revision_id": rev_id,
        "status": f.get("status"),
        "enrolled_at": iso(f.get("enrolled_at")),
        "completed_at": iso(f.get("completed_at")),
        "remote_deleted_at": iso(rec.remote_deleted_at),
        "changed_at": iso(rec.changed_at),
        "remote_data": rec.remote_data,
        "user": _user_summary(user_id, users.get(user_id)),
        "course_revision": revisions.get(rev_id) or revision_summary(rev_id, None, {}),
    }


def field_json(f: IntegrationField, model: str) -> dict[str, Any]:
    """An integration field in the GetIntegrationsIntegrationIdIntegrationFields result shape
    (*model* as Kombo names it, e.g. ``lms_users``)."""
    return {"id": f.id, "key": f.key, "model": model, "type": f.type, "label": f.label,
            "is_passthrough_enabled": f.passthrough, "is_writable": False}


def passthrough_values(enabled: list[IntegrationField], source: dict[str, Any],
                       custom: dict[str, str] | None) -> list[dict[str, Any]]:
    """The ``integration_fields`` entries (``{id, key, type, value, label}``) of one record whose
    source-call object is *source*; *custom* says where its custom-field entries are
    (``ConnectorInfo.custom_fields``). A field the record lacks has value ``None``."""
    entries: dict[str, dict[str, Any]] = {}
    if custom is not None and isinstance(source.get(custom["list"]), list):
        entries = {e[custom["key"]]: e for e in source[custom["list"]]
                   if isinstance(e, dict) and isinstance(e.get(custom["key"]), str)}
    out = []
    for f in enabled:
        if f.type == "CUSTOM":
            entry = entries.get(f.key)
            value = entry.get(custom["value"]) if entry is not None and custom is not None else None
        else:
            value = source.get(f.key)
        out.append({"id": f.id, "key": f.key, "type": f.type, "value": value, "label": f.label})
    return out
