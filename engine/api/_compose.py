"""Compose embedded API shapes for a page of records in a fixed number of store calls."""

from __future__ import annotations

from typing import Any

from engine.store.base import Store, StoredRecord

from ._serialize import course_json, progression_json, revision_json, revision_summary, skill_json, user_json

__all__ = ["compose_page"]

_USER_SUMMARY = ("first_name", "last_name", "work_email")


def _live(records: list[StoredRecord], include_deleted: bool) -> list[StoredRecord]:
    return records if include_deleted else [r for r in records if r.remote_deleted_at is None]


def _courses(store: Store, iid: str, page: list[StoredRecord], include_deleted: bool) -> list[dict[str, Any]]:
    """Courses with revisions and skill assignments: 3 store calls for the whole page."""
    revs = store.children(iid, "course_revisions", "course_id", [c.id for c in page]) if page else []
    revs = _live(revs, include_deleted)
    joins = store.children(iid, "revision_skills", "course_revision_id", [r.id for r in revs]) if revs else []
    joins = _live(joins, include_deleted)
    skill_ids = sorted({j.fields["skill_id"] for j in joins})
    skills = store.get_many(iid, "skills", skill_ids, with_remote_data=False) if skill_ids else {}
    skills_by_rev: dict[str, list[StoredRecord]] = {}
    for j in joins:
        skill = skills.get(j.fields["skill_id"])
        if skill is not None and (include_deleted or skill.remote_deleted_at is None):
            skills_by_rev.setdefault(j.fields["course_revision_id"], []).append(skill)
    revs_by_course: dict[str, list[dict[str, Any]]] = {}
    for r in revs:
        revs_by_course.setdefault(r.fields["course_id"], []).append(revision_json(r, skills_by_rev.get(r.id, [])))
    return [course_json(c, revs_by_course.get(c.id, [])) for c in page]


def _progressions(store: Store, iid: str, page: list[StoredRecord]) -> list[dict[str, Any]]:
    """Progressions with user and revision (+course) summaries: 3 store calls for the page."""
    user_ids = sorted({p.fields["user_id"] for p in page if p.fields.get("user_id")})
    rev_ids = sorted({p.fields["course_revision_id"] for p in page if p.fields.get("course_revision_id")})
    users = store.summaries(iid, "users", user_ids, _USER_SUMMARY)
    revs = store.summaries(iid, "course_revisions", rev_ids, ("title", "course_id"))
    course_ids = sorted({r["course_id"] for r in revs.values() if r["course_id"]})
    courses = store.summaries(iid, "courses", course_ids, ())
    rev_json = {rid: revision_summary(rid, rev, courses) for rid, rev in revs.items()}
    return [progression_json(p, users, rev_json) for p in page]


def compose_page(store: Store, iid: str, model: str, page: list[StoredRecord], include_deleted: bool) -> list[dict[str, Any]]:
    """The API JSON of *page* (records of *model*), embedded shapes included."""
    if model == "courses":
        return _courses(store, iid, page, include_deleted)
    if model == "course_progressions":
        return _progressions(store, iid, page)
    if model == "users":
        return [user_json(r) for r in page]
    if model == "skills":
        return [skill_json(r) for r in page]
    raise ValueError(f"model {model!r} has no list endpoint")
