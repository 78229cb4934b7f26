"""API serializers (lib/api/v1/*.rb): users, courses, enrollments, progress, outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._model import Course, Enrollment, Outcome, OutcomeGroup, OutcomeLink, User
from ._wire import iso

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["user_json", "course_json", "created_course_json", "enrollment_json", "progress_json", "group_json",
           "outcome_json", "link_json", "api_workflow_state", "NOT_MODULE_BASED"]

NOT_MODULE_BASED = ("no progress available because this course is not module based (has modules and module "
                    "completion requirements) or the user is not enrolled as a student in this course")


def user_json(user: User, ctx: "Ctx", includes: set[str] = frozenset()) -> dict:
    """Api::V1::User#user_json: id, name, created_at, sortable_name, short_name, then what the
    caller may see (sis ids with read_sis, login_id with view_user_logins) and the includes."""
    out: dict[str, Any] = {"id": user.id, "name": user.name, "created_at": iso(user.created_at),
                           "sortable_name": user.sortable_name, "short_name": user.short_name}
    login = user.login
    if ctx.can_read_sis:
        out["sis_user_id"] = login.sis_user_id if login else None
        out["integration_id"] = login.integration_id if login else None
        if ctx.token.can("manage_sis"):
            out["sis_import_id"] = None
    if login and (ctx.can_view_logins or ctx.user.id == user.id):
        out["login_id"] = login.unique_id
    if "avatar_url" in includes:
        out["avatar_url"] = f"{ctx.host}/images/messages/avatar-50.png"
    if "email" in includes and (ctx.token.can("read_email_addresses") or ctx.user.id == user.id):
        out["email"] = user.email
    if "last_login" in includes:
        out["last_login"] = iso(user.last_login)
    if "time_zone" in includes:
        out["time_zone"] = user.time_zone
    if "uuid" in includes:
        out["uuid"] = user.uuid
    if "locale" in includes:
        out["locale"] = user.locale
    if "effective_locale" in includes:
        out["effective_locale"] = user.locale or "en"
    return out


def api_workflow_state(course: Course) -> str:
    """created/claimed are rendered 'unpublished'."""
    return "unpublished" if course.workflow_state in ("created", "claimed") else course.workflow_state


def _concluded(course: Course, now: int) -> bool:
    return course.workflow_state == "completed" or (course.end_at is not None and course.end_at < now)


def course_json(course: Course, ctx: "Ctx", includes: set[str] = frozenset()) -> dict:
    """Api::V1::Course#course_json (the fields of a current Canvas answer, in its order)."""
    site = ctx.site
    out: dict[str, Any] = {
        "id": course.id, "name": course.name, "account_id": course.account_id, "uuid": course.uuid,
        "start_at": iso(course.start_at), "grading_standard_id": None, "is_public": course.is_public,
        "created_at": iso(course.created_at), "course_code": course.course_code,
        "default_view": course.default_view, "root_account_id": course.root_account_id,
        "enrollment_term_id": course.enrollment_term_id, "license": course.license,
        "grade_passback_setting": None, "end_at": iso(course.end_at), "public_syllabus": False,
        "public_syllabus_to_auth": False, "storage_quota_mb": 500, "is_public_to_auth_users": False,
        "homeroom_course": False, "course_color": None, "friendly_name": None,
        "apply_assignment_group_weights": False,
        "calendar": {"ics": f"{ctx.host}/feeds/calendars/course_{course.uuid}.ics"},
        "time_zone": course.time_zone, "blueprint": False, "template": False,
    }
    if ctx.can_read_sis:
        out["sis_course_id"] = course.sis_course_id
        out["sis_import_id"] = course.sis_import_id
        out["integration_id"] = course.integration_id
    if course.locale:
        out["locale"] = course.locale
    out["enrollments"] = [
        {"type": e.type.removesuffix("Enrollment").lower(), "role": e.type, "role_id": e.role_id,
         "user_id": e.user_id, "enrollment_state": e.workflow_state, "limit_privileges_to_course_section": False}
        for e in site.enrollments_of_user(ctx.user.id)
        if e.course_id == course.id and e.workflow_state not in ("deleted", "rejected")]
    out["hide_final_grades"] = False
    out["workflow_state"] = api_workflow_state(course)
    out["restrict_enrollments_to_course_dates"] = False
    if "syllabus_body" in includes:
        out["syllabus_body"] = course.syllabus_body
    if "public_description" in includes:
        out["public_description"] = course.public_description
    if "term" in includes:
        term = site.terms.get(course.enrollment_term_id)
        out["term"] = term and {"id": term.id, "name": term.name, "start_at": iso(term.start_at),
                                "end_at": iso(term.end_at), "created_at": iso(term.created_at),
                                "workflow_state": term.workflow_state, "grading_period_group_id": None}
    if "total_students" in includes:
        out["total_students"] = len({e.user_id for e in site.enrollments_of_course(course.id)
                                     if e.type == "StudentEnrollment" and e.workflow_state in ("active", "invited")})
    if "teachers" in includes:
        out["teachers"] = [_display_user(site.users[e.user_id], course.id, ctx)
                           for e in site.enrollments_of_course(course.id)
                           if e.type == "TeacherEnrollment" and e.workflow_state in ("active", "invited")]
    if "account_name" in includes:
        out["account_name"] = site.accounts[course.account_id].name
    if "concluded" in includes:
        out["concluded"] = _concluded(course, site.now())
    if "course_progress" in includes:
        out["course_progress"] = progress_json(course, ctx.user.id, ctx)
    return out


def created_course_json(course: Course, ctx: "Ctx") -> dict:
    """The answer of POST /accounts/:id/courses (courses_api_spec "creates a new course"): the
    course fields plus its settings, without the caller's enrollments and the template flag."""
    out = course_json(course, ctx)
    for key in ("enrollments", "template", "calendar"):
        out.pop(key, None)
    out.update({"calendar": {"ics": f"{ctx.host}/feeds/calendars/course_{course.uuid}.ics"},
                "allow_wiki_comments": False, "allow_student_forum_attachments": False, "open_enrollment": False,
                "self_enrollment": False, "public_description": course.public_description})
    if not ctx.can_read_sis:  # the create answer always names the SIS fields
        out.update({"sis_course_id": None, "sis_import_id": None, "integration_id": None})
    return out


def _display_user(user: User, course_id: int, ctx: "Ctx") -> dict:
    """Api::V1::User#user_display_json."""
    return {"id": user.id, "anonymous_id": format(user.id, "x"), "display_name": user.short_name,
            "avatar_image_url": f"{ctx.host}/images/messages/avatar-50.png",
            "html_url": f"{ctx.host}/courses/{course_id}/users/{user.id}", "pronouns": user.pronouns}


def enrollment_json(e: Enrollment, ctx: "Ctx", includes: set[str] = frozenset()) -> dict:
    """Api::V1::Enrollment#enrollment_json."""
    site = ctx.site
    course = site.courses[e.course_id]
    user = site.users[e.user_id]
    out: dict[str, Any] = {
        "id": e.id, "user_id": e.user_id, "course_id": e.course_id, "type": e.type,
        "created_at": iso(e.created_at), "updated_at": iso(e.updated_at), "associated_user_id": None,
        "start_at": iso(e.start_at), "end_at": iso(e.end_at), "course_section_id": e.course_section_id,
        "root_account_id": course.root_account_id, "limit_privileges_to_course_section": False,
        "enrollment_state": e.workflow_state, "role": e.type, "role_id": e.role_id,
        "last_activity_at": iso(e.last_activity_at), "last_attended_at": None,
        "total_activity_time": e.total_activity_time,
    }
    if e.workflow_state == "completed":
        out["completed_at"] = iso(e.completed_at)
    if ctx.can_read_sis:
        login = user.login
        out.update({"sis_import_id": e.sis_import_id, "sis_account_id": site.accounts[course.account_id].sis_account_id,
                    "sis_course_id": course.sis_course_id, "course_integration_id": course.integration_id,
                    "sis_section_id": None, "section_integration_id": None,
                    "sis_user_id": login.sis_user_id if login else None})
    if e.type == "StudentEnrollment" and (ctx.token.can("view_all_grades") or e.user_id == ctx.user.id):
        out["grades"] = {"html_url": f"{ctx.host}/courses/{course.id}/grades/{user.id}",
                         "current_grade": None, "current_score": e.current_score, "final_grade": None,
                         "final_score": e.final_score, "unposted_current_score": e.current_score,
                         "unposted_current_grade": None, "unposted_final_score": e.final_score,
                         "unposted_final_grade": None}
    out["html_url"] = f"{ctx.host}/courses/{course.id}/users/{user.id}"
    out["user"] = user_json(user, ctx, includes & {"avatar_url", "uuid"})
    if "can_be_removed" in includes:
        out["can_be_removed"] = ctx.token.can("remove_student_from_course")
    return out


def progress_json(course: Course, user_id: int, ctx: "Ctx") -> dict:
    """CourseProgress#to_json, or its 'not module based' error object."""
    student = any(e.type == "StudentEnrollment" and e.workflow_state not in ("deleted", "rejected")
                  for e in ctx.site.enrollments_of_user(user_id) if e.course_id == course.id)
    if not course.requirement_count or not student:
        return {"error": {"message": NOT_MODULE_BASED}}
    progress = ctx.site.progress.get((course.id, user_id))
    done = min(progress.completed, course.requirement_count) if progress else 0
    nxt = None  # a student who never opened the modules has no progression yet, hence no next item
    if progress and done < course.requirement_count:
        item = progress.next_item_id or course.id * 1000 + done + 1
        nxt = f"{ctx.host}/courses/{course.id}/modules/items/{item}"
    return {"requirement_count": course.requirement_count, "requirement_completed_count": done,
            "next_requirement_url": nxt,
            "completed_at": iso(progress.completed_at) if progress and done >= course.requirement_count else None}


def _context_path(context_type: str, context_id: int) -> str:
    return f"/api/v1/{'accounts' if context_type == 'Account' else 'courses'}/{context_id}"


def group_json(group: OutcomeGroup, ctx: "Ctx", *, abbreviated: bool = False) -> dict:
    """Api::V1::Outcome#outcome_group_json (abbreviated: the form nested in links)."""
    base = f"{_context_path(group.context_type, group.context_id)}/outcome_groups/{group.id}"
    out: dict[str, Any] = {"id": group.id, "title": group.title, "vendor_guid": group.vendor_guid, "url": base,
                           "subgroups_url": f"{base}/subgroups", "outcomes_url": f"{base}/outcomes",
                           "can_edit": ctx.token.can("manage_outcomes")}
    if abbreviated:
        return out
    out["import_url"] = f"{base}/import"
    parent = ctx.site.groups.get(group.parent_id) if group.parent_id else None
    out["parent_outcome_group"] = group_json(parent, ctx, abbreviated=True) if parent else None
    out["context_id"] = group.context_id
    out["context_type"] = group.context_type
    out["description"] = group.description
    return out


def outcome_json(outcome: Outcome, ctx: "Ctx", *, abbreviated: bool = False) -> dict:
    """Api::V1::Outcome#outcome_json."""
    out: dict[str, Any] = {"id": outcome.id, "title": outcome.title, "display_name": outcome.display_name,
                           "url": f"/api/v1/outcomes/{outcome.id}", "context_id": outcome.context_id,
                           "context_type": outcome.context_type, "vendor_guid": outcome.vendor_guid,
                           "can_edit": ctx.token.can("manage_outcomes")}
    if abbreviated:
        return out
    out.update({"description": outcome.description, "points_possible": outcome.points_possible,
                "mastery_points": outcome.mastery_points, "ratings": [dict(r) for r in outcome.ratings],
                "calculation_method": outcome.calculation_method, "assessed": False,
                "has_updateable_rubrics": False})
    if outcome.calculation_int is not None:
        out["calculation_int"] = outcome.calculation_int
    return out


def link_json(link: OutcomeLink, ctx: "Ctx", *, outcome_style: str = "abbrev", group_style: str = "abbrev") -> dict:
    """Api::V1::Outcome#outcome_link_json."""
    group = ctx.site.groups[link.group_id]
    outcome = ctx.site.outcomes[link.outcome_id]
    return {"url": f"{_context_path(link.context_type, link.context_id)}/outcome_groups/{group.id}"
                   f"/outcomes/{outcome.id}",
            "context_id": link.context_id, "context_type": link.context_type,
            "outcome_group": group_json(group, ctx, abbreviated=group_style != "full"),
            "outcome": outcome_json(outcome, ctx, abbreviated=outcome_style != "full"),
            "assessed": False, "can_unlink": ctx.token.can("manage_outcomes")}
