"""Completion (activity and course) and grades functions (report builder: _fn_reportbuilder.py)."""

from __future__ import annotations

from typing import Any

from ._access import Call, moodle_error
from ._errors import MissingRecord
from ._model import Course, CourseModule
from ._site import COMPLETE_STATES

__all__ = ["FUNCTIONS"]


def _tracked(call: Call, course: Course, userid: int) -> bool:
    """completion_info::is_tracked_user: active enrolment with the student role."""
    roles = call.site.course_roles.get(course.id, {}).get(userid, ())
    return 5 in roles and call.site.is_active_in(course.id, userid)


def _completion_on(call: Call, course: Course) -> bool:
    return bool(call.site.completion_enabled and course.enablecompletion)


def _requirement(cm: CourseModule) -> str:
    if cm.completion == 1:
        return "Marking yourself complete"
    if cm.completionpassgrade:
        return "Achieving grade, Achieving passing grade"
    return "Viewing"


def get_course_completion_status(call: Call, params: dict) -> dict:
    """core_completion_get_course_completion_status."""
    site = call.site
    course = call.course(params["courseid"])
    user = call.active_user(params["userid"])
    call.validate_course(course, wrap=False)
    own = user.id == call.caller.id
    if not _completion_on(call, course) or not (own or call.can("report/completion:view")):
        raise moodle_error("cannotviewreport", "You cannot view this report")
    if not _tracked(call, course, user.id):
        if own:
            raise moodle_error("notenroled", "You are not enrolled in this course")
        raise moodle_error("usernotenroled", "User is not enrolled in this course")
    if not course.criteria_cmids:
        raise moodle_error("nocriteriaset", "No completion criteria set for this course")
    rows = []
    for cmid in course.criteria_cmids:
        cm = site.cms[cmid]
        rec = site.cm_completion.get((cmid, user.id))
        done = rec is not None and rec.state in COMPLETE_STATES
        link = f'<a href="{site.wwwroot}/mod/{cm.modname}/view.php?id={cm.id}">{cm.name}</a>'
        rows.append({"type": 4, "title": "Activity completion", "status": "Yes" if done else "No",
                     "complete": done, "timecompleted": rec.timemodified if done else None,
                     "details": {"type": "Activity completion", "criteria": link,
                                 "requirement": _requirement(cm), "status": ""}})
    return {"completionstatus": {"completed": (course.id, user.id) in site.course_completions,
                                 "aggregation": course.aggregation, "completions": rows},
            "warnings": []}


def _status_row(call: Call, course: Course, cm: CourseModule, userid: int) -> dict:
    rec = call.site.cm_completion.get((cm.id, userid))
    state = rec.state if rec else 0
    details = []
    if cm.completion == 2:
        rule = "completionpassgrade" if cm.completionpassgrade else "completionview"
        details.append({"rulename": rule, "rulevalue": {
            "status": state, "description": "Receive a passing grade" if cm.completionpassgrade else "View"}})
    return {"cmid": cm.id, "modname": cm.modname, "instance": cm.instance, "state": state,
            "timecompleted": rec.timemodified if rec else 0, "tracking": cm.completion,
            "overrideby": rec.overrideby if rec else None, "valueused": False, "hascompletion": True,
            "isautomatic": cm.completion == 2, "istrackeduser": _tracked(call, course, userid),
            "uservisible": True, "details": details, "isoverallcomplete": state in (1, 2)}


def get_activities_completion_status(call: Call, params: dict) -> dict:
    """core_completion_get_activities_completion_status (tracked activities only)."""
    course = call.course(params["courseid"])
    user = call.active_user(params["userid"])
    call.validate_course(course, wrap=False)
    if user.id != call.caller.id:
        call.require("report/progress:view")
    statuses = []
    if _completion_on(call, course):
        for sec in course.sections:
            for cmid in sec.cmids:
                cm = call.site.cms[cmid]
                if cm.completion:
                    statuses.append(_status_row(call, course, cm, user.id))
    return {"statuses": statuses, "warnings": []}


def override_activity_completion(call: Call, params: dict) -> dict:
    """core_completion_override_activity_completion_status."""
    site = call.site
    cm = site.cms.get(params["cmid"])
    if cm is None:
        raise MissingRecord("course_modules")
    course = site.courses[cm.course]
    call.validate_course(course, wrap=False)
    if not _completion_on(call, course):
        raise moodle_error("completionnotenabled", "Completion is not enabled")
    userid, newstate = params["userid"], params["newstate"]
    if cm.completion:
        call.require("moodle/course:overridecompletion")
        rec = site.cm_completion.get((cm.id, userid))
        current = rec.state if rec else 0
        unchanged = newstate == current or (newstate == 1 and current in (2, 3))
        if not unchanged:
            if newstate not in (0, 1):
                raise moodle_error(
                    "err_system", "An internal error occurred in the completion system. (System administrators "
                    "can enable debugging information to see more detail.)",
                    f"Unexpected manual completion state for {cm.id}: {newstate}")
            site.set_activity_state(cm.id, userid, newstate, overrideby=call.caller.id)
    rec = site.cm_completion.get((cm.id, userid)) if cm.completion else None
    return {"cmid": cm.id, "userid": userid, "state": rec.state if rec else 0,
            "timecompleted": rec.timemodified if rec else 0, "overrideby": rec.overrideby if rec else None,
            "tracking": cm.completion}


# ------------------------------------------------------------------------ grades

def get_gradeitems(call: Call, params: dict) -> dict:
    """core_grades_get_gradeitems: module/manual items, ids as strings."""
    course = call.course(params["courseid"])
    call.validate_course(course, wrap=False)
    items = [{"id": str(item.id), "itemname": item.itemname, "category": course.fullname}
             for item in call.site.course_grade_items.get(course.id, []) if item.itemtype != "course"]
    return {"gradeItems": items, "warnings": []}


def _apply_grade_completion(call: Call, cm: CourseModule, userid: int, grade: float, gradepass: float) -> None:
    if cm.completion != 2 or not cm.completionpassgrade:
        return
    rec = call.site.cm_completion.get((cm.id, userid))
    if rec is not None and rec.overrideby is not None:
        return
    state = 2 if grade >= gradepass else 3
    if rec is None or rec.state != state:
        call.site.set_activity_state(cm.id, userid, state)


def update_grades(call: Call, params: dict) -> int:
    """core_grades_update_grades: rawgrade on a module item; bare int status."""
    site = call.site
    component = params["component"]
    module = component[4:] if component.startswith("mod_") else component
    cm = site.cms.get(params["activityid"])
    if cm is None or cm.modname != module:
        raise moodle_error("invalidcoursemodule", "Invalid course module ID")
    course = site.courses.get(params["courseid"])
    if course is None:
        raise MissingRecord("context")
    call.validate_course(course)
    details = params["itemdetails"] if isinstance(params["itemdetails"], dict) else {}
    if details and "hidden" not in details and not call.can("moodle/grade:manage"):
        raise moodle_error("nopermissiontoviewgrades", "Cannot view grades.", "moodle/grade:manage required to edit grade information")
    if "hidden" in details and not call.can("moodle/grade:hide"):
        raise moodle_error("nopermissiontoviewgrades", "Cannot view grades.", "moodle/grade:hide required to hide grade items")
    if params["grades"] and not call.can("moodle/grade:edit"):
        raise moodle_error("nopermissiontoviewgrades", "Cannot view grades.", "moodle/grade:edit required to edit grades")
    item = site.grade_items.get(cm.gradeitemid) if cm.gradeitemid else None
    if item is None or item.courseid != course.id or params["itemnumber"] != item.itemnumber:
        return 1
    if item.locked:
        return 4
    if "hidden" in details:
        item.hidden = bool(details["hidden"])
    for row in params["grades"]:
        if site.live_user(row["studentid"]) is None:
            return 1
        raw = row["grade"]
        site.set_grade(item.id, row["studentid"], raw)
        site.grades[(item.id, row["studentid"])].finalgrade = min(max(raw, item.grademin), item.grademax)
        _apply_grade_completion(call, cm, row["studentid"], raw, item.gradepass)
    site.touch()
    return 0


def _grade_row(call: Call, course: Course, item, userid: int, total: float | None) -> dict[str, Any]:
    grade = call.site.grades.get((item.id, userid))
    value = total if item.itemtype == "course" else (grade.finalgrade if grade else None)
    row: dict[str, Any] = {
        "id": item.id, "itemname": item.itemname or None, "itemtype": item.itemtype,
        "itemmodule": item.itemmodule or None, "iteminstance": item.iteminstance or course.id,
        "itemnumber": item.itemnumber if item.itemtype == "mod" else None, "idnumber": item.idnumber,
        "categoryid": None if item.itemtype == "course" else item.categoryid, "outcomeid": None,
        "scaleid": None, "locked": item.locked, "weightraw": None, "status": "",
        "graderaw": grade.rawgrade if grade and item.itemtype != "course" else None,
        "gradedatesubmitted": None, "gradedategraded": grade.timemodified if grade else None,
        "gradehiddenbydate": False, "gradeneedsupdate": False, "gradeishidden": item.hidden,
        "gradeislocked": False, "gradeisoverridden": False,
        "gradeformatted": f"{value:.2f}" if value is not None else "-",
        "grademin": item.grademin, "grademax": item.grademax,
        "rangeformatted": f"{item.grademin:.2f}&ndash;{item.grademax:.2f}",
        "percentageformatted": f"{value / item.grademax * 100:.2f} %" if value is not None else "-",
        "feedback": "", "feedbackformat": 0,
    }
    if item.cmid:
        row["cmid"] = item.cmid
    return row


def get_grade_items(call: Call, params: dict) -> dict:
    """gradereport_user_get_grade_items (userid=0 = every gradable user)."""
    site = call.site
    course = call.course(params["courseid"])
    call.validate_course(course, wrap=False)
    call.require("gradereport/user:view")
    if params["userid"] == 0:
        call.require("moodle/grade:viewall")
        users = [uid for uid in sorted(site.course_enrolments.get(course.id, {}))
                 if _tracked(call, course, uid) and site.live_user(uid)]
    else:
        user = call.active_user(params["userid"])
        if user.id != call.caller.id and not call.can("moodle/grade:viewall"):
            raise moodle_error("nopermissiontoviewgrades", "Cannot view grades.")
        users = [user.id]
    items = site.course_grade_items.get(course.id, [])
    mods = [i for i in items if i.itemtype != "course"]
    ordered = mods + [i for i in items if i.itemtype == "course"]
    out = []
    for uid in users:
        values = [site.grades[(i.id, uid)].finalgrade for i in mods if (i.id, uid) in site.grades]
        total = sum(values) / len(values) if values else None
        user = site.users[uid]
        out.append({"courseid": course.id, "courseidnumber": course.idnumber, "userid": uid,
                    "userfullname": f"{user.firstname} {user.lastname}", "useridnumber": user.idnumber,
                    "maxdepth": 2, "gradeitems": [_grade_row(call, course, i, uid, total) for i in ordered]})
    return {"usergrades": out, "warnings": []}


FUNCTIONS = {
    "core_completion_get_course_completion_status": get_course_completion_status,
    "core_completion_get_activities_completion_status": get_activities_completion_status,
    "core_completion_override_activity_completion_status": override_activity_completion,
    "core_grades_get_gradeitems": get_gradeitems,
    "core_grades_update_grades": update_grades,
    "gradereport_user_get_grade_items": get_grade_items,
}
