"""Enrollments (enrollments_api_controller): list for a course or user (bookmarked pages),
enroll, conclude/delete/inactivate, reactivate."""

from __future__ import annotations

from ._context import Answer, Ctx
from ._json import enrollment_json
from ._model import BASE_ROLE_IDS, ENROLLMENT_TYPES, Course, Enrollment
from ._wire import BadRequest, NotFound, Unauthorized, parse_time

__all__ = ["ROUTES"]

# state[] values that expand to several workflow states (Enrollment::QueryBuilder)
_STATE_SETS = {
    "current_and_invited": {"active", "invited"},
    "current_and_future": {"active", "invited", "creation_pending"},
    "current_future_and_restricted": {"active", "invited", "creation_pending", "inactive"},
    "current_and_concluded": {"active", "completed"},
}
_DEFAULT_STATES = {"active", "invited", "creation_pending"}   # not rejected/completed/deleted/inactive
_ERRORS = {
    "missing_parameters": "No parameters given",
    "missing_user_id": "Can't create an enrollment without a user. Include enrollment[user_id] to create an enrollment",
    "bad_type": "Invalid type",
    "bad_role": "Invalid role",
    "concluded_course": "Can't add an enrollment to a concluded course.",
}
_ROLE_BY_ID = {v: k for k, v in BASE_ROLE_IDS.items()}
_ADD = {"StudentEnrollment": "add_student_to_course", "ObserverEnrollment": "add_student_to_course"}
_REMOVE = {"StudentEnrollment": "remove_student_from_course", "ObserverEnrollment": "remove_student_from_course"}


def _states(ctx: Ctx) -> set[str] | None:
    wanted = ctx.list_param("state")
    if not wanted:
        return None
    states: set[str] = set()
    for state in wanted:
        states |= _STATE_SETS.get(state, {state})
    return states


def _filter(ctx: Ctx, rows: list[Enrollment]) -> list[Enrollment]:
    states = _states(ctx) or _DEFAULT_STATES
    types = set(ctx.list_param("type"))
    roles = set(ctx.list_param("role"))
    role_ids = {r for r in ctx.list_param("role_id")}
    out = []
    for e in rows:
        if e.workflow_state not in states:
            continue
        if roles and e.type not in roles:
            continue
        if not roles and types and e.type not in types:
            continue
        if role_ids and str(e.role_id) not in role_ids:
            continue
        out.append(e)
    return out


def course_enrollments(ctx: Ctx, course_id: str) -> Answer:
    """GET /api/v1/courses/:id/enrollments: type[], role[], state[], user_id; bookmarked pages
    (rel current/next/first only)."""
    course = ctx.course(course_id)
    rows = list(ctx.site.enrollments_of_course(course.id))
    user_ref = ctx.str_param("user_id")
    if user_ref:
        user = ctx.site.find_user(user_ref, ctx.user.id)
        if user is None:
            raise NotFound()
        rows = [e for e in rows if e.user_id == user.id]
        if user.id != ctx.user.id and not (ctx.token.can("read_roster") or ctx.enrolled(course)):
            raise Unauthorized()
    elif not (ctx.token.can("read_roster") or ctx.token.can("view_all_grades") or ctx.enrolled(course)):
        raise Unauthorized()
    rows = _filter(ctx, rows)
    rows.sort(key=lambda e: e.id)
    includes = ctx.includes()
    return Answer([enrollment_json(e, ctx, includes) for e in ctx.bookmarked(rows, key=lambda e: [e.id])])


def user_enrollments(ctx: Ctx, user_id: str) -> Answer:
    """GET /api/v1/users/:id/enrollments: the user's enrollments (own, or with read_roster)."""
    user = ctx.user_ref(user_id)
    if user.id != ctx.user.id and not ctx.token.can("read_roster"):
        raise Unauthorized()
    rows = [e for e in ctx.site.enrollments_of_user(user.id)
            if ctx.site.courses[e.course_id].workflow_state != "deleted"]
    rows = _filter(ctx, rows)
    rows.sort(key=lambda e: e.id)
    includes = ctx.includes()
    return Answer([enrollment_json(e, ctx, includes) for e in ctx.bookmarked(rows, key=lambda e: [e.id])])


def show_enrollment(ctx: Ctx, account_id: str, enrollment_id: str) -> Answer:
    """GET /api/v1/accounts/:account_id/enrollments/:id (Enrollment by ID; there is no account-wide list)."""
    ctx.account(account_id)
    enrollment = ctx.site.enrollments.get(int(enrollment_id)) if enrollment_id.isdigit() else None
    if enrollment is None:
        raise NotFound()
    if enrollment.user_id != ctx.user.id and not ctx.token.can("read_roster"):
        raise Unauthorized()
    return Answer(enrollment_json(enrollment, ctx))


def _can_add(ctx: Ctx, course: Course, type_: str) -> bool:
    permission = _ADD.get(type_, "add_teacher_to_course")
    if ctx.token.can(permission):
        return True
    teacher = ctx.enrolled(course, types=("TeacherEnrollment",))
    return teacher and type_ == "StudentEnrollment"


def create_enrollment(ctx: Ctx, course_id: str) -> Answer:
    """POST /api/v1/courses/:id/enrollments: enrollment[user_id], enrollment[type] or
    enrollment[role_id], enrollment[enrollment_state] (active | invited | inactive). An existing
    enrollment of the same user and type is updated instead of duplicated (Course#enroll_user)."""
    course = ctx.course(course_id)
    fields = ctx.params.get("enrollment")
    errors: list[str] = []
    if not isinstance(fields, dict) or not fields:
        errors.append(_ERRORS["missing_parameters"])
        fields = {}
    type_ = fields.get("type")
    role_id = fields.get("role_id")
    if type_ in ENROLLMENT_TYPES:
        if role_id not in (None, "") and str(role_id) != str(BASE_ROLE_IDS[type_]):
            errors.append(_ERRORS["bad_role"])
    elif role_id not in (None, ""):
        type_ = _ROLE_BY_ID.get(int(role_id)) if str(role_id).isdigit() else None
        if type_ is None:
            errors.append(_ERRORS["bad_role"])
    elif fields:
        errors.append(_ERRORS["bad_type"])
    user_ref = fields.get("user_id")
    if fields and not (isinstance(user_ref, (str, int)) and str(user_ref)):
        errors.append(_ERRORS["missing_user_id"])
    if errors:
        raise BadRequest({"message": ", ".join(errors)})
    user = ctx.site.find_user(str(user_ref), ctx.user.id)
    if user is None or user.deleted:
        raise NotFound()
    if not _can_add(ctx, course, type_):
        raise Unauthorized()
    if course.workflow_state == "completed":
        raise BadRequest({"message": _ERRORS["concluded_course"]})
    state = fields.get("enrollment_state") or "invited"
    if state not in ("active", "invited", "inactive"):
        state = "invited"
    try:
        start_at = parse_time(fields.get("start_at"))
        end_at = parse_time(fields.get("end_at"))
    except (ValueError, TypeError):
        raise BadRequest({"message": "Invalid date or invalid datetime for enrollment"}) from None
    now = ctx.site.now()
    existing = next((e for e in ctx.site.enrollments_of_course(course.id)
                     if e.user_id == user.id and e.type == type_), None)
    if existing is not None:
        existing.workflow_state = state
        existing.start_at, existing.end_at = start_at, end_at
        existing.completed_at = None
        existing.updated_at = now
        enrollment = existing
    else:
        enrollment = ctx.site.enroll(course.id, user.id, type_, state, now, start_at=start_at, end_at=end_at)
    ctx.items = 1
    return Answer(enrollment_json(enrollment, ctx))


def _enrollment(ctx: Ctx, course: Course, enrollment_id: str) -> Enrollment:
    enrollment = ctx.site.enrollments.get(int(enrollment_id)) if enrollment_id.isdigit() else None
    if enrollment is None or enrollment.course_id != course.id:
        raise NotFound()
    return enrollment


def delete_enrollment(ctx: Ctx, course_id: str, enrollment_id: str) -> Answer:
    """DELETE /api/v1/courses/:id/enrollments/:id?task=conclude (default) | delete | inactivate |
    deactivate; answers the enrollment as it now is."""
    course = ctx.course(course_id)
    enrollment = _enrollment(ctx, course, enrollment_id)
    task = ctx.str_param("task")
    task = task if task in ("conclude", "delete", "inactivate", "deactivate") else "conclude"
    if not ctx.token.can(_REMOVE.get(enrollment.type, "remove_teacher_from_course")):
        raise Unauthorized()
    if enrollment.workflow_state == "deleted":
        raise NotFound()
    now = ctx.site.now()
    if task == "conclude":
        if enrollment.workflow_state == "completed":
            raise BadRequest({"message": "Can't conclude an already concluded enrollment"})
        enrollment.workflow_state = "completed"
        enrollment.completed_at = now
    elif task == "delete":
        enrollment.workflow_state = "deleted"
    else:
        enrollment.workflow_state = "inactive"
    enrollment.updated_at = now
    ctx.items = 1
    return Answer(enrollment_json(enrollment, ctx))


def reactivate_enrollment(ctx: Ctx, course_id: str, enrollment_id: str) -> Answer:
    """PUT /api/v1/courses/:id/enrollments/:id/reactivate (inactive → active)."""
    course = ctx.course(course_id)
    enrollment = _enrollment(ctx, course, enrollment_id)
    if not ctx.token.can(_ADD.get(enrollment.type, "add_teacher_to_course")):
        raise Unauthorized()
    if enrollment.workflow_state != "inactive":
        raise BadRequest({"message": "Can only reactivate enrollments that are inactive"})
    enrollment.workflow_state = "active"
    enrollment.updated_at = ctx.site.now()
    ctx.items = 1
    return Answer(enrollment_json(enrollment, ctx))


ROUTES = [
    ("GET", "/api/v1/courses/{course_id}/enrollments", course_enrollments),
    ("POST", "/api/v1/courses/{course_id}/enrollments", create_enrollment),
    ("DELETE", "/api/v1/courses/{course_id}/enrollments/{enrollment_id}", delete_enrollment),
    ("PUT", "/api/v1/courses/{course_id}/enrollments/{enrollment_id}/reactivate", reactivate_enrollment),
    ("GET", "/api/v1/users/{user_id}/enrollments", user_enrollments),
    ("GET", "/api/v1/accounts/{account_id}/enrollments/{enrollment_id}", show_enrollment),
]
