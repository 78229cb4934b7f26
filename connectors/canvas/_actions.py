"""Canvas write actions: course upsert, deactivate (unpublish), enroll, complete (conclude).

Every handler takes ``(integration, transport, payload)`` — the payload validated and with ids
resolved by the engine (``<x>_id`` lmsync id, ``<x>_remote_id`` Canvas id) — and returns
``{"remote_id", "refresh": [...], "warnings": [...]}`` (see ``engine.actions``). Canvas errors
stay the engine's typed errors (``connectors.canvas._errors``).

* **upsert_course**: ``origin_id`` is the course's ``sis_course_id``. Found with ``GET
  /courses/hex:sis_course_id:<hex>`` (the hex form carries any character); created in the
  ``account_id`` account (published, ``enable_sis_reactivation`` so a deleted course with that
  SIS id comes back instead of clashing) or updated (name, syllabus, locale, image). Canvas
  silently drops ``sis_course_id`` for a user without ``manage_sis``, which would make every
  retry a new course, so that permission is checked before a create. Two writers of one
  ``origin_id`` end in one course: the loser's create is refused ("already in use"), it re-reads
  and updates.
* **deactivate_course**: ``course[event]=claim`` — unpublished: students lose access, every
  enrollment and its progress stays. Concluding (the alternative) would turn every active
  enrollment into a completed one, i.e. mark every learner COMPLETED.
* **enroll**: a ``StudentEnrollment`` (or the ``student_role_id`` custom role), state
  ``active``, no notification. Canvas re-uses the user's existing enrollment in the section.
* **complete**: ``DELETE /courses/:course_id/enrollments/:id?task=conclude``. Canvas has no
  course score to set (grades belong to assignments): a ``score`` is refused with
  ``ActionNotAvailable`` before anything is written; ``completed_at`` cannot be back-dated
  (Canvas stamps the conclusion time): a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.action_inputs import course_text, origin_lock
from engine.errors import ActionInputInvalid, ActionNotAvailable, PermissionMissing, RemoteError, RemoteInputInvalid, RemoteNotFound
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["run_action", "REQUIREMENTS", "progression_ids", "sis_ref", "course_fields"]

FIND = "GET /api/v1/courses/{course_id}"
CREATE = "POST /api/v1/accounts/{account_id}/courses"
UPDATE = "PUT /api/v1/courses/{course_id}"
PERMISSIONS = "GET /api/v1/accounts/{account_id}/permissions"
ENROLL = "POST /api/v1/courses/{course_id}/enrollments"
CONCLUDE = "DELETE /api/v1/courses/{course_id}/enrollments/{enrollment_id}"

REQUIREMENTS: dict[str, list[str]] = {
    "upsert_course": [FIND, PERMISSIONS, CREATE, UPDATE],
    "deactivate_course": [UPDATE],
    "enroll": [ENROLL],
    "complete": [CONCLUDE],
}
_NAME_MAX = 255
_SIS_MAX = 255
_DEFAULTS = {"account_id": "1"}

def _setting(integration: Integration, name: str) -> Any:
    return (integration.settings or {}).get(name, _DEFAULTS.get(name))


def _canvas_id(value: Any, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ActionInputInvalid(f"{what}: {value!r} is not a Canvas id (a positive integer)")
    return int(text)


def progression_ids(value: Any) -> tuple[int, int]:
    """``(course id, enrollment id)`` from a progression's remote id ``"<course>:<enrollment>"``."""
    course, sep, enrollment = str(value).partition(":")
    if not sep:
        raise ActionInputInvalid(f"course_progression_id: {value!r} is not a Canvas progression id ('<course id>:<enrollment id>')")
    return _canvas_id(course, "course_progression_id"), _canvas_id(enrollment, "course_progression_id")


def sis_ref(origin_id: str) -> str:
    """The course reference of a SIS id in Canvas's hex form (any character survives the URL)."""
    return "hex:sis_course_id:" + origin_id.encode("utf-8").hex()


def _course_refresh(cid: int) -> list[dict[str, Any]]:
    return [{"model": "courses", "remote_ids": [str(cid)]}, {"model": "course_revisions", "remote_ids": [str(cid)]}]


def _progression_refresh(cid: int, eid: int) -> dict[str, Any]:
    return {"model": "course_progressions", "remote_ids": [f"{cid}:{eid}"], "parents": {"courses": [{"id": cid}]}}


# --- upsert ---------------------------------------------------------------------------------
def course_fields(course: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The Canvas ``course[…]`` attributes for an upsert item's ``course`` (warnings for what is dropped)."""
    title, url, description = course_text(course, _NAME_MAX, "Canvas", warnings)
    fields: dict[str, Any] = {"name": title, "syllabus_body": description}
    if course.get("thumbnail_url"):
        fields["image_url"] = str(course["thumbnail_url"])
    if course.get("duration") is not None:
        warnings.append("duration was not stored: Canvas courses have no duration field")
    languages = [lang for lang in course.get("languages") or [] if lang]
    if languages:
        fields["locale"] = languages[0].split("-")[0]
        if len(languages) > 1:
            warnings.append(f"Canvas courses have one language: {fields['locale']!r} was used, {', '.join(languages[1:])} ignored")
    return fields


def _find(transport: Transport, origin_id: str) -> int | None:
    try:
        found = transport.call(FIND, {"course_id": sis_ref(origin_id)})
    except RemoteNotFound:
        return None
    return int(found["id"]) if isinstance(found, dict) and found.get("id") else None


def _lenient_locale(send: Callable[[dict[str, Any]], Any], fields: dict[str, Any], warnings: list[str]) -> Any:
    """Send *fields*; if Canvas rejects the locale, send them without it (a warning says so)."""
    try:
        return send(fields)
    except RemoteInputInvalid as exc:
        if "locale" not in fields or "locale" not in str(exc.remote_message).lower():
            raise
        warnings.append(f"Canvas rejected the locale {fields['locale']!r}; the course uses the account's default language")
        return send({k: v for k, v in fields.items() if k != "locale"})


def _may_set_sis(transport: Transport, account: Any) -> None:
    answer = transport.call(PERMISSIONS, {"account_id": account, "permissions": ["manage_sis"]})
    if not (isinstance(answer, dict) and answer.get("manage_sis") in (True, "true")):
        raise PermissionMissing(f"the token's user lacks the account permission manage_sis in account {account}: Canvas "
                                "would create the course without its sis_course_id (origin_id), so nothing was created",
                                call=PERMISSIONS, code="unauthorized")


def _create(transport: Transport, integration: Integration, origin_id: str, fields: dict[str, Any],
            warnings: list[str]) -> tuple[int, bool]:
    """``(course id, created)``: created, or found after losing a race (then not updated yet)."""
    account = _setting(integration, "account_id")
    _may_set_sis(transport, account)

    def send(f: dict[str, Any]) -> Any:
        course = {**f, "course_code": origin_id[:_NAME_MAX], "sis_course_id": origin_id}
        return transport.call(CREATE, {"account_id": account, "course": course, "offer": True,
                                       "enable_sis_reactivation": True})

    try:
        created = _lenient_locale(send, fields, warnings)
    except RemoteInputInvalid as exc:
        if "already in use" not in str(exc.remote_message).lower():
            raise
        found = _find(transport, origin_id)  # a concurrent writer of this origin_id won the race
        if found is None:  # held by a course this token cannot see (another account, or deleted)
            raise
        return found, False
    return int(created["id"]), True


def upsert_course(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Create or update the course whose ``sis_course_id`` is ``payload["origin_id"]``."""
    origin_id = str(payload["origin_id"]).strip()
    if not origin_id or len(origin_id) > _SIS_MAX:
        raise ActionInputInvalid(f"origin_id must have 1 to {_SIS_MAX} characters (Canvas keeps it in the course's sis_course_id)")
    warnings: list[str] = []
    fields = course_fields(payload["course"], warnings)
    with origin_lock(integration.id, origin_id):
        cid = _find(transport, origin_id)
        created = False
        if cid is None:
            cid, created = _create(transport, integration, origin_id, fields, warnings)
        if not created:
            _lenient_locale(lambda f: transport.call(UPDATE, {"course_id": cid, "course": f}), fields, warnings)
    return {"remote_id": str(cid), "refresh": _course_refresh(cid), "warnings": warnings}


# --- deactivate, enroll, complete -----------------------------------------------------------
def deactivate_course(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Unpublish the course (``event=claim``): its revision becomes INACTIVE, enrollments and progress stay."""
    cid = _canvas_id(payload["course_remote_id"], "course_id")
    try:
        transport.call(UPDATE, {"course_id": cid, "course": {"event": "claim"}})
    except RemoteInputInvalid as exc:
        raise RemoteInputInvalid(f"{exc.remote_message} (Canvas refuses to unpublish a course with graded submissions; "
                                 "conclude or hide it in Canvas instead)", call=exc.call, code=exc.code) from None
    return {"remote_id": str(cid), "refresh": _course_refresh(cid), "warnings": []}


def enroll(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """An active student enrollment (``student_role_id`` setting for a custom student role)."""
    cid = _canvas_id(payload["course_revision_remote_id"], "course_revision_id")
    uid = _canvas_id(payload["user_remote_id"], "user_id")
    enrollment: dict[str, Any] = {"user_id": uid, "enrollment_state": "active", "notify": False}
    role = _setting(integration, "student_role_id")
    if role:
        enrollment["role_id"] = int(role)
    else:
        enrollment["type"] = "StudentEnrollment"
    answer = transport.call(ENROLL, {"course_id": cid, "enrollment": enrollment})
    if not isinstance(answer, dict) or not answer.get("id"):
        raise RemoteError(f"Canvas answered the enrollment of user {uid} in course {cid} without an enrollment id", call=ENROLL)
    eid = int(answer["id"])
    warnings = []
    if answer.get("enrollment_state") not in (None, "active"):
        warnings.append(f"Canvas left the enrollment {answer.get('enrollment_state')!r} (e.g. the course or its term has not "
                        "started, or the course is unpublished)")
    return {"remote_id": f"{cid}:{eid}", "refresh": [_progression_refresh(cid, eid)], "warnings": warnings}


def complete(integration: Integration, transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Conclude the enrollment: its progression becomes COMPLETED (see the module docstring)."""
    cid, eid = progression_ids(payload["course_progression_remote_id"])
    if payload.get("score") is not None:
        raise ActionNotAvailable("Canvas cannot record a course score: grades belong to assignments (post one through the "
                                 "Submissions API); send the completion without a score. Nothing was written")
    warnings: list[str] = []
    try:
        transport.call(CONCLUDE, {"course_id": cid, "enrollment_id": eid, "task": "conclude"})
    except RemoteInputInvalid as exc:
        if "already concluded" not in str(exc.remote_message).lower():
            raise
        warnings.append("the enrollment was already concluded in Canvas")
    if payload.get("completed_at"):
        warnings.append(f"completed_at ({payload['completed_at']}) was not applied: Canvas records the time of the conclusion")
    return {"remote_id": f"{cid}:{eid}", "refresh": [_progression_refresh(cid, eid)], "warnings": warnings}


_HANDLERS: dict[str, Callable[[Integration, Transport, dict[str, Any]], dict[str, Any]]] = {
    "upsert_course": upsert_course,
    "deactivate_course": deactivate_course,
    "enroll": enroll,
    "complete": complete,
}


def run_action(integration: Integration, transport: Transport, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Perform *action* on the integration's Canvas site."""
    handler = _HANDLERS.get(action)
    if handler is None:
        raise ActionNotAvailable(f"the canvas connector does not implement the {action} action")
    if not isinstance(payload, dict):
        raise ActionInputInvalid("the action input must be an object")
    return handler(integration, transport, payload)
