"""Courses, categories and course contents (reads and writes)."""

from __future__ import annotations

from typing import Any

from ._access import Call, moodle_error
from ._errors import InvalidParameter, MoodleError
from ._model import Course, CourseModule
from ._site import BASE_TIME

__all__ = ["FUNCTIONS"]

_PURPOSE = {"assign": "assessment", "quiz": "assessment", "lesson": "content", "forum": "collaboration",
            "page": "content", "url": "content", "resource": "content", "workshop": "assessment"}
_PLURAL = {"assign": "Assignments", "quiz": "Quizzes", "forum": "Forums", "page": "Pages", "url": "URLs",
           "resource": "Files", "lesson": "Lessons", "workshop": "Workshops"}


def _format_options(course: Course) -> list[dict]:
    if course.format == "site":
        return []
    return [{"name": "hiddensections", "value": course.hiddensections}, {"name": "coursedisplay", "value": 0}]


def _course_row(call: Call, course: Course) -> dict:
    row: dict[str, Any] = {
        "id": course.id, "shortname": course.shortname, "categoryid": course.category,
        "fullname": course.fullname, "displayname": course.fullname, "summary": course.summary,
        "summaryformat": course.summaryformat, "format": course.format, "startdate": course.startdate,
        "enddate": course.enddate, "showactivitydates": course.showactivitydates,
        "showcompletionconditions": course.showcompletionconditions, "customfields": [],
        "pdfexportfont": "",
    }
    if call.can("moodle/course:update"):
        cat = call.site.categories.get(course.category)
        row.update(categorysortorder=cat.sortorder if cat else 0, idnumber=course.idnumber,
                   showgrades=course.showgrades, showreports=course.showreports, newsitems=course.newsitems,
                   visible=course.visible, maxbytes=course.maxbytes, groupmode=course.groupmode,
                   groupmodeforce=course.groupmodeforce, defaultgroupingid=course.defaultgroupingid,
                   lang=course.lang, timecreated=course.timecreated, timemodified=course.timemodified,
                   forcetheme=course.theme, enablecompletion=course.enablecompletion,
                   completionnotify=course.completionnotify, courseformatoptions=_format_options(course))
        if course.format != "site":
            row["hiddensections"] = course.hiddensections
    return row


def get_courses(call: Call, params: dict) -> list:
    """core_course_get_courses: every course incl. the site course unless ids are given."""
    site = call.site
    ids = params["options"].get("ids") if isinstance(params["options"], dict) else None
    courses = [site.courses[i] for i in dict.fromkeys(ids) if i in site.courses] if ids else \
        list(site.courses.values())
    out = []
    for course in courses:
        call.validate_course(course)
        if course.id != 1:
            call.require("moodle/course:view")
        if course.visible or call.sees_hidden(course):
            out.append(_course_row(call, course))
    return out


def _public_info(call: Call, course: Course) -> dict:
    site = call.site
    cat = site.categories.get(course.category)
    teachers = [uid for uid, roles in site.course_roles.get(course.id, {}).items() if 3 in roles]
    return {
        "id": course.id, "fullname": course.fullname, "displayname": course.fullname,
        "shortname": course.shortname, "courseimage": f"{site.wwwroot}/course/generated/{course.id}.svg",
        "categoryid": course.category, "categoryname": cat.name if cat else "",
        "sortorder": course.sortorder, "summary": course.summary, "summaryformat": course.summaryformat,
        "summaryfiles": [], "overviewfiles": [], "showactivitydates": course.showactivitydates,
        "showcompletionconditions": course.showcompletionconditions,
        "contacts": [{"id": uid, "fullname": f"{site.users[uid].firstname} {site.users[uid].lastname}"}
                     for uid in sorted(teachers) if site.live_user(uid)],
        "enrollmentmethods": [i.enrol for i in site.course_instances.get(course.id, ()) if i.status == 0],
        "customfields": [],
    }


def _full_info(call: Call, course: Course) -> dict:
    row = _public_info(call, course)
    for key in ("format", "showgrades", "newsitems", "startdate", "enddate", "maxbytes", "showreports",
                "visible", "groupmode", "groupmodeforce", "defaultgroupingid", "enablecompletion",
                "completionnotify", "lang", "theme", "marker"):
        row[key] = getattr(course, key)
    if call.can("moodle/course:update"):
        row.update(idnumber=course.idnumber, legacyfiles=0, calendartype="", timecreated=course.timecreated,
                   timemodified=course.timemodified, requested=0, cacherev=course.cacherev)
    row["courseformatoptions"] = _format_options(course)
    row["filters"] = [{"filter": "mathjaxloader", "localstate": 0, "inheritedstate": 1}]
    return row


def get_courses_by_field(call: Call, params: dict) -> dict:
    """core_course_get_courses_by_field."""
    site, field, value = call.site, params["field"], params["value"]
    if field not in ("", "id", "ids", "shortname", "idnumber", "category", "sectionid"):
        raise InvalidParameter("Invalid field name")
    warnings: list[dict] = []
    courses = sorted(site.courses.values(), key=lambda c: c.id)
    if field in ("id", "category"):
        num = int(value) if value.strip().lstrip("-").isdigit() else 0
        courses = [c for c in courses if (c.id if field == "id" else c.category) == num]
    elif field == "ids":
        wanted = [int(v) for v in "".join(ch for ch in value if ch.isdigit() or ch == ",").split(",") if v]
        if any(i not in site.courses for i in wanted):
            raise MoodleError(None, 'Attempt to assign property "contextvalidated" on null', kind="Error")
        courses = [site.courses[i] for i in sorted(set(wanted))]
    elif field in ("shortname", "idnumber"):
        courses = [c for c in courses if getattr(c, field) == value]
    elif field == "sectionid":
        courses = [c for c in courses if any(s.id == (int(value) if value.isdigit() else 0) for s in c.sections)]
    out = []
    for course in courses:
        if not course.visible and not call.sees_hidden(course):
            continue
        out.append(_public_info(call, course) if call.login_problem(course) else _full_info(call, course))
    return {"courses": out, "warnings": warnings}


# ------------------------------------------------------------------------ categories

def _category_matches(call: Call, criteria: list[dict]) -> list[int] | None:
    site, seen, result = call.site, set(), None
    manage = call.can("moodle/category:manage")
    for crit in criteria:
        key, value = crit["key"], crit["value"]
        if key in seen:
            continue
        seen.add(key)
        if key not in ("id", "ids", "name", "parent", "idnumber", "visible", "theme"):
            raise moodle_error("criteriaerror", "Missing permissions to search on a criterion.",
                               f"You can not search on this criteria: {key}")
        if key in ("idnumber", "theme") and not manage or key == "visible" and not (
                manage or call.can("moodle/category:viewhiddencategories")):
            raise moodle_error("criteriaerror", "Missing permissions to search on a criterion.",
                               f"You don't have the permissions to search on the \"{key}\" field.")
        if key == "ids":
            wanted = {int(v) for v in value.split(",") if v.strip().isdigit()}
            match = {c.id for c in site.categories.values() if c.id in wanted}
        else:
            attr = {"id": "id", "parent": "parent"}.get(key, key)
            match = {c.id for c in site.categories.values() if str(getattr(c, attr) or "") == value}
        result = match if result is None else result & match
    return None if result is None else sorted(result)


def get_categories(call: Call, params: dict) -> list:
    """core_course_get_categories (sorted by sortorder as strings)."""
    site = call.site
    matched = _category_matches(call, params["criteria"])
    if matched is None:
        ids = set(site.categories)
    else:
        ids = set(matched)
        if params["addsubcategories"]:
            for cid in matched:
                prefix = site.categories[cid].path + "/"
                ids |= {c.id for c in site.categories.values() if c.path.startswith(prefix)}
    manage = call.can("moodle/category:manage")
    counts: dict[int, int] = {}
    for course in site.courses.values():
        counts[course.category] = counts.get(course.category, 0) + 1
    out = []
    for cid in ids:
        cat = site.categories[cid]
        if not cat.visible and not (manage or call.can("moodle/category:viewhiddencategories")):
            continue
        row = {"id": cat.id, "name": cat.name, "description": cat.description,
               "descriptionformat": cat.descriptionformat, "parent": cat.parent, "sortorder": cat.sortorder,
               "coursecount": counts.get(cat.id, 0), "depth": cat.depth, "path": cat.path}
        if manage:
            row.update(idnumber=cat.idnumber, visible=cat.visible, visibleold=cat.visibleold,
                       timemodified=cat.timemodified, theme=cat.theme)
        out.append(row)
    out.sort(key=lambda r: str(r["sortorder"]))
    return out


# ------------------------------------------------------------------------ writes

def _check_new_course(call: Call, item: dict, shortnames: set[str], idnumbers: set[str]) -> dict:
    site = call.site
    cat = site.categories.get(item["categoryid"])
    if cat is None:
        raise moodle_error("errorcatcontextnotvalid",
                           f"You cannot execute functions in the category context (category id:{item['categoryid']}). "
                           "The context error message was: Invalid parameter value detected")
    call.require("moodle/course:create")
    for key in ("fullname", "shortname"):
        if item[key].strip() == "":
            raise moodle_error("errorinvalidparam", f'The param "{key}" is invalid.')
    if "lang" in item and item["lang"] not in ("", "en"):
        raise moodle_error("errorinvalidparam", 'The param "lang" is invalid.')
    if not call.can("moodle/course:visibility"):
        item["visible"] = cat.visible
    if item["shortname"] in site.shortname_index or item["shortname"] in shortnames:
        raise moodle_error("shortnametaken", f"Short name is already used for another course ({item['shortname']})")
    idn = item.get("idnumber", "")
    if idn and (idn in site.idnumber_index or idn in idnumbers):
        raise moodle_error("courseidnumbertaken", f"ID number is already used for another course ({idn})")
    now = site.now()
    item.setdefault("startdate", now - now % 86400)
    item.setdefault("enddate", item["startdate"] + 365 * 86400)
    if item["enddate"] and item["enddate"] < item["startdate"]:
        raise moodle_error("enddatebeforestartdate", "The course end date must be after the start date.")
    shortnames.add(item["shortname"])
    if idn:
        idnumbers.add(idn)
    return item


_COURSE_KEYS = ("idnumber", "summary", "summaryformat", "format", "showgrades", "newsitems", "startdate",
                "enddate", "maxbytes", "showreports", "visible", "hiddensections", "groupmode",
                "groupmodeforce", "defaultgroupingid", "enablecompletion", "completionnotify", "lang")


def create_courses(call: Call, params: dict) -> list:
    """core_course_create_courses: one transaction, first failure creates nothing."""
    site, shortnames, idnumbers = call.site, set(), set()
    checked = [_check_new_course(call, dict(item), shortnames, idnumbers) for item in params["courses"]]
    out = []
    for item in checked:
        fields = {k: item[k] for k in _COURSE_KEYS if k in item}
        if not site.completion_enabled:
            fields["enablecompletion"] = 0
        if "forcetheme" in item:
            fields["theme"] = item["forcetheme"]
        course = site.add_course(item["fullname"], item["shortname"], item["categoryid"],
                                 sections=item.get("numsections", 4), manual_enrol=True,
                                 sortorder=site.categories[item["categoryid"]].sortorder + len(site.courses),
                                 **fields)
        site.add_enrol_instance(course.id, "guest", status=1)
        site.add_enrol_instance(course.id, "self", status=1)
        out.append({"id": course.id, "shortname": course.shortname})
    return out


_CHANGE_CAPS = {"categoryid": "moodle/course:changecategory", "fullname": "moodle/course:changefullname",
                "shortname": "moodle/course:changeshortname", "idnumber": "moodle/course:changeidnumber",
                "summary": "moodle/course:changesummary", "visible": "moodle/course:visibility"}


def _update_one(call: Call, item: dict) -> None:
    site = call.site
    course = call.course(item["id"])
    call.validate_course(course)
    call.require("moodle/course:update")
    changes: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("id", "courseformatoptions", "customfields"):
            continue
        attr = {"categoryid": "category", "forcetheme": "theme"}.get(key, key)
        if getattr(course, attr, None) == value:
            continue
        if key in _CHANGE_CAPS:
            call.require(_CHANGE_CAPS[key])
        if key in ("fullname", "shortname") and value.strip() == "":
            raise moodle_error("errorinvalidparam", f'The param "{key}" is invalid.')
        changes[attr] = value
    if "category" in changes and changes["category"] not in site.categories:
        raise moodle_error("invalidcategoryid", "Invalid category ID")
    other = site.shortname_index.get(changes.get("shortname", ""))
    if other is not None and other != course.id:
        raise moodle_error("shortnametaken", f"Short name is already used for another course ({changes['shortname']})")
    other = site.idnumber_index.get(changes.get("idnumber", "")) if changes.get("idnumber") else None
    if other is not None and other != course.id:
        raise moodle_error("courseidnumbertaken", f"ID number is already used for another course ({changes['idnumber']})")
    start, end = changes.get("startdate", course.startdate), changes.get("enddate", course.enddate)
    if end and end < start:
        raise moodle_error("enddatebeforestartdate", "The course end date must be after the start date.")
    if "visible" in changes:
        changes["visibleold"] = changes["visible"]
    site.update_course(course.id, **changes)


def update_courses(call: Call, params: dict) -> dict:
    """core_course_update_courses: per-course problems become warnings."""
    warnings = []
    for item in params["courses"]:
        try:
            _update_one(call, item)
        except MoodleError as exc:
            warnings.append({"item": "course", "itemid": item["id"],
                             "warningcode": exc.code_for(call.debug) or "0", "message": exc.message_for(call.debug)})
    return {"warnings": warnings}


# ------------------------------------------------------------------------ contents

def _completiondata(call: Call, course: Course, cm: CourseModule) -> dict:
    rec = call.site.cm_completion.get((cm.id, call.caller.id))
    tracked = 5 in call.site.course_roles.get(course.id, {}).get(call.caller.id, ())
    details = []
    if cm.completion == 2 and cm.completionpassgrade:
        details.append({"rulename": "completionpassgrade",
                        "rulevalue": {"status": rec.state if rec else 0, "description": "Receive a passing grade"}})
    elif cm.completion == 2:
        details.append({"rulename": "completionview",
                        "rulevalue": {"status": rec.state if rec else 0, "description": "View"}})
    return {"state": rec.state if rec else 0, "timecompleted": rec.timemodified if rec else 0,
            "overrideby": rec.overrideby if rec else None, "valueused": False, "hascompletion": True,
            "isautomatic": cm.completion == 2, "istrackeduser": tracked, "uservisible": True,
            "details": details, "isoverallcomplete": bool(rec and rec.state in (1, 2))}


def _module(call: Call, course: Course, cm: CourseModule, contents: bool) -> dict:
    www = call.site.wwwroot
    enabled = bool(course.enablecompletion and call.site.completion_enabled)
    mod: dict[str, Any] = {
        "id": cm.id, "url": f"{www}/mod/{cm.modname}/view.php?id={cm.id}", "name": cm.name,
        "instance": cm.instance, "contextid": cm.contextid, "visible": cm.visible, "uservisible": True,
        "visibleoncoursepage": 1, "modicon": f"{www}/theme/image.php/boost/{cm.modname}/1/monologo?filtericon=1",
        "modname": cm.modname, "purpose": _PURPOSE.get(cm.modname, "other"), "branded": False,
        "modplural": _PLURAL.get(cm.modname, cm.modname.title() + "s"), "indent": 0, "onclick": "",
        "afterlink": None, "customdata": '""', "noviewlink": False,
        "completion": cm.completion if enabled else 0, "downloadcontent": 1, "dates": [], "groupmode": 0,
    }
    if enabled and cm.completion:
        mod["completiondata"] = _completiondata(call, course, cm)
    if contents and cm.modname in ("page", "url"):
        kind = "file" if cm.modname == "page" else "url"
        mod["contents"] = [{"type": kind, "filename": "index.html" if kind == "file" else cm.name,
                            "filepath": "/", "filesize": 0, "fileurl": f"{www}/webservice/pluginfile.php/{cm.contextid}/mod_page/content/index.html",
                            "timecreated": BASE_TIME, "timemodified": BASE_TIME, "sortorder": 1,
                            "userid": 2, "author": "Admin User", "license": "unknown"}]
    return mod


def get_contents(call: Call, params: dict) -> list:
    """core_course_get_contents: sections with modules and completion data."""
    course = call.course(params["courseid"])
    opts: dict[str, Any] = {}
    for opt in params["options"]:
        name = opt["name"].lower()
        if name not in ("excludemodules", "excludecontents", "includestealthmodules", "sectionid",
                        "sectionnumber", "cmid", "modid", "modname"):
            raise moodle_error("errorinvalidparam", f'The param "{name}" is invalid.')
        opts[name] = opt["value"]
    call.validate_course(course)
    out = []
    for sec in course.sections:
        if "sectionid" in opts and str(sec.id) != opts["sectionid"]:
            continue
        if "sectionnumber" in opts and str(sec.section) != opts["sectionnumber"]:
            continue
        modules = []
        if opts.get("excludemodules") not in ("1", "true"):
            for cmid in sec.cmids:
                cm = call.site.cms[cmid]
                if ("cmid" in opts and str(cmid) != opts["cmid"]) or ("modname" in opts and cm.modname != opts["modname"]):
                    continue
                modules.append(_module(call, course, cm, opts.get("excludecontents") not in ("1", "true")))
        out.append({"id": sec.id, "name": sec.name or ("General" if sec.section == 0 else f"Topic {sec.section}"),
                    "visible": sec.visible, "summary": sec.summary, "summaryformat": sec.summaryformat,
                    "section": sec.section, "hiddenbynumsections": 0, "uservisible": True, "modules": modules})
    return out


FUNCTIONS = {
    "core_course_get_courses": get_courses,
    "core_course_get_courses_by_field": get_courses_by_field,
    "core_course_get_categories": get_categories,
    "core_course_create_courses": create_courses,
    "core_course_update_courses": update_courses,
    "core_course_get_contents": get_contents,
}
