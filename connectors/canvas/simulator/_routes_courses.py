"""Courses: list/create in an account, show, update (with events), delete/conclude, permissions,
module progress (courses_controller, accounts_controller#courses_api)."""

from __future__ import annotations

from typing import Any

from ._context import Answer, Ctx
from ._json import NOT_MODULE_BASED, course_json, created_course_json, progress_json
from ._model import PERMISSIONS, Course
from ._wire import BadRequest, NotFound, Unauthorized, field_errors, parse_time, value_to_boolean

__all__ = ["ROUTES"]

_STATES = {"created", "claimed", "available", "completed", "deleted"}
_EVENTS = {"claim": "claimed", "offer": "available", "conclude": "completed", "delete": "deleted",
           "undelete": "claimed"}
_EVENT_PERMISSION = {"claim": "manage_courses_publish", "offer": "manage_courses_publish",
                     "conclude": "manage_courses_conclude", "delete": "manage_courses_delete",
                     "undelete": "manage_courses_delete"}


def account_courses(ctx: Ctx, account_id: str) -> Answer:
    """GET /api/v1/accounts/:id/courses: courses of the account and its sub-accounts, every state
    but deleted unless state[] says otherwise; ordinal pages with a total."""
    account = ctx.account(account_id)
    ctx.require("read_course_list")
    accounts = ctx.site.subaccount_ids(account.id)
    states = set(ctx.list_param("state"))
    if "all" in states:
        states = set(_STATES)
    states = (states & _STATES) or (_STATES - {"deleted"})
    courses = [c for c in ctx.site.courses.values() if c.account_id in accounts and c.workflow_state in states]
    params = ctx.params
    if "published" in params:
        published = value_to_boolean(params["published"])
        courses = [c for c in courses if (c.workflow_state == "available") == published]
    if "completed" in params:
        done = value_to_boolean(params["completed"])
        now = ctx.site.now()
        courses = [c for c in courses if (c.workflow_state == "completed"
                                          or (c.end_at is not None and c.end_at < now)) == done]
    if "with_enrollments" in params:
        want = value_to_boolean(params["with_enrollments"])
        courses = [c for c in courses if any(e.workflow_state != "deleted"
                                             for e in ctx.site.enrollments_of_course(c.id)) == want]
    term_id = ctx.str_param("enrollment_term_id")
    if term_id:
        courses = [c for c in courses if str(c.enrollment_term_id) == term_id]
    term = ctx.str_param("search_term")
    if term:
        if len(term) < 2:
            raise BadRequest({"errors": [{"field": "search_term", "code": "invalid",
                                          "message": "search_term of 1 character is too short"}]})
        low = term.lower()
        courses = [c for c in courses if low in c.name.lower() or low in c.course_code.lower()
                   or (c.sis_course_id and low in c.sis_course_id.lower()) or term == str(c.id)]
    sort = ctx.str_param("sort")
    desc = ctx.str_param("order") == "desc"
    key = {"sis_course_id": lambda c: (c.sis_course_id or "").casefold(),
           "course_status": lambda c: c.workflow_state,
           "account_name": lambda c: ctx.site.accounts[c.account_id].name.casefold()}.get(
        sort or "", lambda c: c.name.casefold())
    courses.sort(key=lambda c: (key(c), c.id), reverse=desc)
    includes = ctx.includes()
    return Answer([course_json(c, ctx, includes) for c in ctx.ordinal(courses)])


def _course_fields(ctx: Ctx, course: Course, fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate course[…] attributes; raise 400 with ActiveModel-style errors."""
    errors: dict[str, list[tuple[str, str]]] = {}
    changes: dict[str, Any] = {}
    for name in ("name", "course_code", "syllabus_body", "public_description", "default_view", "time_zone",
                 "locale", "license"):
        if name in fields and isinstance(fields[name], str):
            changes[name] = fields[name]
    for name in ("name", "course_code"):
        if name in changes and len(changes[name]) > 255:
            errors.setdefault(name, []).append(("too_long", "is too long (maximum is 255 characters)"))
    if "name" in changes and not changes["name"].strip() and not creating:
        errors.setdefault("name", []).append(("blank", "can't be blank"))
    for name, attr in (("start_at", "start_at"), ("end_at", "end_at")):
        if name in fields:
            try:
                changes[attr] = parse_time(fields[name])
            except (ValueError, TypeError):
                errors.setdefault(name, []).append(("invalid", "is not a valid date"))
    if "is_public" in fields:
        changes["is_public"] = value_to_boolean(fields["is_public"])
    if "term_id" in fields:
        term = str(fields["term_id"])
        if not term.isdigit() or int(term) not in ctx.site.terms:
            errors.setdefault("enrollment_term", []).append(("invalid", "is invalid"))
        else:
            changes["enrollment_term_id"] = int(term)
    if ctx.token.can("manage_sis"):  # without manage_sis Canvas silently ignores SIS ids
        for name, attr in (("sis_course_id", "sis_course_id"), ("integration_id", "integration_id")):
            if name in fields:
                value = fields[name] or None
                taken = value is not None and any(
                    getattr(c, attr) == value and c.id != course.id for c in ctx.site.courses.values())
                if taken:
                    column = "sis_source_id" if attr == "sis_course_id" else "integration_id"
                    label = "SIS ID" if attr == "sis_course_id" else "Integration ID"
                    errors.setdefault(column, []).append((f'{label} "{value}" is already in use',
                                                          f'{label} "{value}" is already in use'))
                changes[attr] = value
    start = changes.get("start_at", course.start_at)
    end = changes.get("end_at", course.end_at)
    if start is not None and end is not None and end < start and "end_at" not in errors:
        errors.setdefault("conclude_at", []).append(("End date cannot be before start date",
                                                      "End date cannot be before start date"))
    if errors:
        raise BadRequest(field_errors(errors))
    return changes


def create_course(ctx: Ctx, account_id: str) -> Answer:
    """POST /api/v1/accounts/:id/courses: course[name], course[course_code], course[sis_course_id]
    (manage_sis only), course[start_at]/[end_at], course[term_id], offer=true publishes."""
    account = ctx.account(account_id)
    ctx.require("manage_courses_add", "manage_courses_admin")
    fields = ctx.params.get("course") if isinstance(ctx.params.get("course"), dict) else {}
    draft = Course(0, "", "", account.id)
    changes = _course_fields(ctx, draft, fields, creating=True)
    now = ctx.site.now()
    name = changes.pop("name", None) or "Unnamed Course"
    code = changes.pop("course_code", None) or "Unnamed"
    state = "available" if value_to_boolean(ctx.params.get("offer")) else "claimed"
    course = ctx.site.add_course(name, code, account.id, workflow_state=state, created_at=now, **changes)
    ctx.items = 1
    return Answer(created_course_json(course, ctx))


def show_course(ctx: Ctx, course_id: str) -> Answer:
    """GET /api/v1/courses/:id (include[]=syllabus_body, term, total_students, teachers…)."""
    course = ctx.course(course_id)
    if not ctx.can_read_course(course):
        raise Unauthorized()
    return Answer(course_json(course, ctx, ctx.includes()))


def update_course(ctx: Ctx, course_id: str) -> Answer:
    """PUT /api/v1/courses/:id: course[…] attributes and course[event] = claim | offer | conclude |
    delete | undelete (each checked against its granular permission)."""
    course = ctx.course(course_id, deleted=True)
    fields = ctx.params.get("course") if isinstance(ctx.params.get("course"), dict) else {}
    event = fields.get("event")
    attributes = {k: v for k, v in fields.items() if k != "event"}
    if course.workflow_state == "deleted" and event != "undelete":
        raise NotFound()
    if attributes:
        ctx.require("manage_courses_admin")
    if event is not None:
        if event not in _EVENTS:
            raise BadRequest(field_errors({"event": [("invalid", f"{event} is not a valid event")]}))
        ctx.require(_EVENT_PERMISSION[event], "manage_courses_admin")
    elif not attributes:
        ctx.require("manage_courses_admin")
    changes = _course_fields(ctx, course, attributes, creating=False)
    for attr, value in changes.items():
        setattr(course, attr, value)
    if event is not None:
        course.workflow_state = _EVENTS[event]
        if event == "conclude":
            for e in ctx.site.enrollments_of_course(course.id):
                if e.workflow_state in ("active", "invited"):
                    e.workflow_state = "completed"
                    e.completed_at = ctx.site.now()
    course.updated_at = ctx.site.now()
    ctx.items = 1
    return Answer(course_json(course, ctx))


def delete_course(ctx: Ctx, course_id: str) -> Answer:
    """DELETE /api/v1/courses/:id?event=delete|conclude → {"delete": true} / {"conclude": true}."""
    course = ctx.course(course_id)
    event = ctx.str_param("event")
    if event not in ("delete", "conclude"):
        raise BadRequest({"message": "Only 'delete' and 'conclude' events are allowed."})
    ctx.require(_EVENT_PERMISSION[event], "manage_courses_admin")
    course.workflow_state = _EVENTS[event]
    course.updated_at = ctx.site.now()
    return Answer({event: True})


def course_permissions(ctx: Ctx, course_id: str) -> Answer:
    """GET /api/v1/courses/:id/permissions?permissions[]=…."""
    course = ctx.course(course_id)
    if not ctx.can_read_course(course):
        raise Unauthorized()
    teacher = ctx.enrolled(course, types=("TeacherEnrollment", "TaEnrollment"))
    teacher_rights = {"read_roster", "view_all_grades", "read_outcomes", "add_student_to_course",
                      "remove_student_from_course", "read_course_content"}
    return Answer({name: name in PERMISSIONS and (ctx.token.can(name) or (teacher and name in teacher_rights))
                   for name in ctx.list_param("permissions")})


def _can_view_grades(ctx: Ctx, course: Course) -> bool:
    return ctx.token.can("view_all_grades") or ctx.enrolled(course, types=("TeacherEnrollment", "TaEnrollment"))


def bulk_user_progress(ctx: Ctx, course_id: str) -> Answer:
    """GET /api/v1/courses/:id/bulk_user_progress: every student's module progress, page numbers;
    400 when the course has no module completion requirements (courses_api_spec)."""
    course = ctx.course(course_id)
    if not _can_view_grades(ctx, course):
        raise Unauthorized()
    if not course.requirement_count:
        raise BadRequest({"error": {"message": NOT_MODULE_BASED}})
    seen: set[int] = set()
    students = []
    for e in ctx.site.enrollments_of_course(course.id):
        if e.type == "StudentEnrollment" and e.workflow_state in ("active", "invited", "completed", "inactive") \
                and e.user_id not in seen:
            seen.add(e.user_id)
            students.append(ctx.site.users[e.user_id])
    students.sort(key=lambda u: (u.sortable_name.casefold(), u.id))
    out = []
    for user in ctx.ordinal(students):
        out.append({"id": user.id, "display_name": user.short_name,
                    "avatar_image_url": f"{ctx.host}/images/messages/avatar-50.png",
                    "html_url": f"{ctx.host}/courses/{course.id}/users/{user.id}", "pronouns": user.pronouns,
                    "progress": progress_json(course, user.id, ctx)})
    return Answer(out)


def user_progress(ctx: Ctx, course_id: str, user_id: str) -> Answer:
    """GET /api/v1/courses/:id/users/:user_id/progress (CourseProgress)."""
    course = ctx.course(course_id)
    user = ctx.user_ref(user_id)
    if user.id != ctx.user.id and not _can_view_grades(ctx, course):
        raise Unauthorized()
    return Answer(progress_json(course, user.id, ctx))


ROUTES = [
    ("GET", "/api/v1/accounts/{account_id}/courses", account_courses),
    ("POST", "/api/v1/accounts/{account_id}/courses", create_course),
    ("GET", "/api/v1/courses/{course_id}", show_course),
    ("PUT", "/api/v1/courses/{course_id}", update_course),
    ("DELETE", "/api/v1/courses/{course_id}", delete_course),
    ("GET", "/api/v1/courses/{course_id}/permissions", course_permissions),
    ("GET", "/api/v1/courses/{course_id}/bulk_user_progress", bulk_user_progress),
    ("GET", "/api/v1/courses/{course_id}/users/{user_id}/progress", user_progress),
]
