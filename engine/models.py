"""The unified LMS model: which models exist, how they relate, and what they are called.

This is connector-independent. A connector supplies one mapping spec per model; the store keeps
one table (or one partition) per model; the API composes the embedded shapes (courses with their
revisions and skill assignments, progressions with user and revision summaries) from these flat
models by following ``refs``.

Model order matters: a full sync runs models in ``MODEL_ORDER`` so that referenced records are
written before the records that point at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelInfo", "MODELS", "MODEL_ORDER", "REGRESSIONS", "get_model", "UnknownModelError"]


@dataclass(frozen=True)
class ModelInfo:
    """Static facts about one unified model.

    ``fields`` are the unified fields a mapping spec produces (without the bookkeeping fields
    ``id``, ``remote_id``, ``changed_at``, ``remote_deleted_at``, ``remote_data``).
    ``refs`` maps a field holding an lmsync id to the model that id belongs to; the store
    indexes these fields so the API can filter by related ids.
    ``parent`` names the ref field that makes this model a child embedded in another model's
    API shape (revisions in courses, skill assignments in revisions); ``None`` for top-level.
    """

    name: str
    webhook_name: str
    schema_file: str
    fields: tuple[str, ...]
    refs: dict[str, str] = field(default_factory=dict)
    parent: str | None = None


_DEFAULT_FIELDS = ("custom_fields", "integration_fields")

MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "users",
            "lms_users",
            "user.schema.json",
            ("first_name", "last_name", "work_email", "status", "remote_created_at", *_DEFAULT_FIELDS),
        ),
        ModelInfo(
            "skills",
            "lms_skills",
            "skill.schema.json",
            ("name", "remote_created_at", *_DEFAULT_FIELDS),
        ),
        ModelInfo(
            "courses",
            "lms_courses",
            "course.schema.json",
            ("provider_id", "origin_id", "remote_created_at", *_DEFAULT_FIELDS),
        ),
        ModelInfo(
            "course_revisions",
            "lms_course_revisions",
            "course-revision.schema.json",
            (
                "course_id",
                "title",
                "description",
                "remote_url",
                "status",
                "remote_created_at",
                *_DEFAULT_FIELDS,
            ),
            refs={"course_id": "courses"},
            parent="course_id",
        ),
        ModelInfo(
            "revision_skills",
            "lms_join_revisions_skills",
            "revision-skill.schema.json",
            ("course_revision_id", "skill_id"),
            refs={"course_revision_id": "course_revisions", "skill_id": "skills"},
            parent="course_revision_id",
        ),
        ModelInfo(
            "course_progressions",
            "lms_course_progressions",
            "course-progression.schema.json",
            ("user_id", "course_revision_id", "status", "enrolled_at", "completed_at"),
            refs={"user_id": "users", "course_revision_id": "course_revisions"},
        ),
    )
}

MODEL_ORDER: tuple[str, ...] = (
    "users",
    "skills",
    "courses",
    "course_revisions",
    "revision_skills",
    "course_progressions",
)

#: Field transitions that count as a regression for the guard (``engine.guard``):
#: ``{model: {field: [(stored value, new value or "*")]}}``.
REGRESSIONS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "course_progressions": {"status": [("COMPLETED", "*"), ("DROPPED", "ENROLLED"), ("IN_PROGRESS", "ENROLLED")]},
}


class UnknownModelError(KeyError):
    """Raised when a model name is not one of ``MODELS``."""


def get_model(name: str) -> ModelInfo:
    """Return the ``ModelInfo`` for *name*, or raise ``UnknownModelError`` listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}") from None
