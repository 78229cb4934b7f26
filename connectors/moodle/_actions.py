"""Moodle write actions: dispatch, deactivate a course, enrol a user (PROTOCOL §8-9).

Course upsert lives in ``_upsert.py``, completion in ``_complete.py``. Every handler takes
``(integration, transport, payload)`` — the payload validated and with ids resolved by the
engine (``<x>_id`` lmsync id, ``<x>_remote_id`` Moodle id) — and returns
``{"remote_id", "refresh": [...], "warnings": [...]}`` (see ``engine.actions``).
Remote errors stay the engine's typed errors (``connectors.moodle._errors``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.moodle._complete import complete
from connectors.moodle._moodle_ids import course_id, raise_warnings, setting, user_id
from connectors.moodle._upsert import upsert_course
from engine.errors import ActionInputInvalid, ActionNotAvailable, RemoteError, RemoteInputInvalid, RemoteNotFound
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["run_action", "REQUIREMENTS"]

# action -> the Moodle functions it calls (scope testing); re-reads use the mapping specs' own.
REQUIREMENTS: dict[str, list[str]] = {
    "upsert_course": ["core_course_get_courses_by_field", "core_course_create_courses", "core_course_update_courses"],
    "deactivate_course": ["core_course_update_courses"],
    "enroll": ["enrol_manual_enrol_users"],
    "complete": ["core_course_get_contents", "core_completion_override_activity_completion_status",
                 "gradereport_user_get_grade_items", "core_grades_update_grades"],
}

_NO_INSTANCE_HINT = ("the course has no enabled 'Manual enrolments' method; add or enable it under the course's "
                     "Participants > Enrolment methods")


def _course_refresh(cid: int) -> list[dict[str, Any]]:
    return [{"model": "courses", "remote_ids": [str(cid)]}, {"model": "course_revisions", "remote_ids": [str(cid)]}]


def deactivate_course(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Hide the course (``visible=0``): its revision becomes INACTIVE, enrolments and progress stay."""
    cid = course_id(payload["course_remote_id"], "course_id")
    result = transport.call("core_course_update_courses", {"courses": [{"id": cid, "visible": 0}]})
    raise_warnings("core_course_update_courses", result)
    return {"remote_id": str(cid), "refresh": _course_refresh(cid), "warnings": []}


def _enrol_failed(transport: Transport, exc: RemoteError, uid: int) -> RemoteError:
    """A clearer error for the two failures Moodle words badly (see OBSERVED-5.0 §2.4)."""
    if exc.code == "wsnoinstance":
        return RemoteInputInvalid(f"{exc.remote_message}: {_NO_INSTANCE_HINT}", call=exc.call, code=exc.code)
    if exc.code is None:  # an unknown user id makes Moodle fail with a raw PHP TypeError
        users = transport.call("core_user_get_users_by_field", {"field": "id", "values": [uid]})
        if not users:
            return RemoteNotFound(f"Moodle has no user with id {uid}", call=exc.call, code="invaliduser")
    return exc


def enroll(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Manual enrolment with the student role (setting ``student_role_id``, default 5).

    Enrolling an already enrolled user updates the enrolment (re-activates a suspended one)."""
    cid = course_id(payload["course_revision_remote_id"], "course_revision_id")
    uid = user_id(payload["user_remote_id"])
    role = int(setting(integration, "student_role_id"))
    enrolment = {"roleid": role, "userid": uid, "courseid": cid}
    try:
        transport.call("enrol_manual_enrol_users", {"enrolments": [enrolment]})
    except RemoteError as exc:
        raise _enrol_failed(transport, exc, uid) from None
    return {"remote_id": f"{cid}:{uid}", "refresh": [progression_refresh(cid, uid)], "warnings": []}


def progression_refresh(cid: int, uid: int) -> dict[str, Any]:
    """The re-read of one progression: its fan-outs limited to that course and that user."""
    return {"model": "course_progressions", "remote_ids": [f"{cid}:{uid}"],
            "parents": {"courses": [{"id": cid}], "users": [{"id": uid}]}}


_HANDLERS: dict[str, Callable[[Integration, Transport, dict[str, Any]], dict[str, Any]]] = {
    "upsert_course": upsert_course,
    "deactivate_course": deactivate_course,
    "enroll": enroll,
    "complete": lambda i, t, p: complete(i, t, p, progression_refresh),
}


def run_action(integration: Integration, transport: Transport, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Perform *action* on the integration's Moodle site."""
    handler = _HANDLERS.get(action)
    if handler is None:
        raise ActionNotAvailable(f"the moodle connector does not implement the {action} action")
    if not isinstance(payload, dict):
        raise ActionInputInvalid("the action input must be an object")
    return handler(integration, transport, payload)
