"""Site info, user look-ups, enrolment reads/writes and role assignment."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ._access import Call, moodle_error
from ._errors import InvalidParameter, MissingRecord, MoodleError
from ._model import User

__all__ = ["FUNCTIONS", "like_matcher", "CONTEXT_LEVELS"]

RELEASE = "5.0 (Build: 20250414)"
VERSION = "2025041400"
CONTEXT_LEVELS = {"system": 10, "user": 30, "coursecat": 40, "course": 50, "module": 70, "block": 80}
_USER_FIELDS = frozenset(
    "id username fullname firstname lastname email address phone1 phone2 department institution "
    "interests firstaccess lastaccess auth confirmed idnumber lang theme timezone mailformat "
    "description descriptionformat city country profileimageurlsmall profileimageurl customfields "
    "groups roles preferences enrolledcourses suspended lastcourseaccess trackforums initials".split())


def like_matcher(pattern: str) -> re.Pattern[str]:
    """Case-insensitive SQL LIKE (`%`, `_`, backslash escape) as a compiled regex."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def php_int(value: str) -> int:
    """PHP `(int)$value`: leading numeric prefix, else 0."""
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


def _initials(user: User) -> str:
    return (user.firstname[:1] + user.lastname.strip()[:1]).upper()


# ------------------------------------------------------------------------ site info

def get_site_info(call: Call, params: dict) -> dict:
    """core_webservice_get_site_info."""
    site, user, token = call.site, call.caller, call.token
    names = sorted(token.functions) if token.functions is not None else []
    features = ["usecomments", "usetags", "enablenotes", "messaging", "enableblogs", "enablecompletion",
                "enablebadges", "messagingallusers", "enablecustomreports", "enableglobalsearch",
                "mnet_dispatcher_mode", "enablecompetencies"]
    values = {"enablecompletion": int(site.completion_enabled),
              "enablecompetencies": int(site.competencies_enabled), "mnet_dispatcher_mode": 0,
              "enableglobalsearch": 0, "messagingallusers": 0}
    out = {
        "sitename": site.sitename, "username": user.username, "firstname": user.firstname,
        "lastname": user.lastname, "fullname": f"{user.firstname} {user.lastname}", "lang": user.lang,
        "userid": user.id, "siteurl": site.wwwroot,
        "userpictureurl": f"{site.wwwroot}/theme/image.php/boost/core/1/u/f1",
        "functions": [{"name": n, "version": VERSION} for n in names],
        "downloadfiles": 1, "uploadfiles": 1, "release": RELEASE, "version": VERSION,
        "mobilecssurl": "", "advancedfeatures": [{"name": f, "value": values.get(f, 1)} for f in features],
        "usercanmanageownfiles": True, "userquota": 104857600, "usermaxuploadfilesize": 104857600,
        "userhomepage": 1, "userhomepageurl": f"{site.wwwroot}/my/",
        "userprivateaccesskey": hashlib.md5(f"key{token.token}".encode()).hexdigest(),
        "siteid": 1, "sitecalendartype": "gregorian", "usercalendartype": "gregorian",
        "userissiteadmin": token.is_admin, "theme": "boost", "limitconcurrentlogins": 0,
        "policyagreed": 0, "usercanchangeconfig": token.is_admin, "usercanviewconfig": token.is_admin,
    }
    if token.is_admin:
        out["sitesecret"] = hashlib.md5(site.sitename.encode()).hexdigest()
    return out


# ------------------------------------------------------------------------ users

def _criterion(key: str, value: str):
    if key == "id":
        wanted = php_int(value)
        return lambda u: u.id == wanted
    if key in ("idnumber", "username", "auth"):
        wanted = value.strip().lower() if key == "username" else value
        return lambda u: getattr(u, key) == wanted
    rx = like_matcher(value.strip() if key == "email" else value)
    return lambda u: rx.fullmatch(getattr(u, key)) is not None


def _passes(tests: list, user: User) -> bool:
    for test in tests:
        if not test(user):
            return False
    return True


def get_users(call: Call, params: dict) -> dict:
    """core_user_get_users."""
    used: set[str] = set()
    tests, warnings, keys = [], [], []
    for crit in params["criteria"]:
        key = crit["key"]
        if key in used:
            raise moodle_error("keyalreadyset", "error/keyalreadyset", f"The key {key} can only be sent once")
        used.add(key)
        if key not in ("id", "idnumber", "username", "email", "auth", "lastname", "firstname"):
            warnings.append({"item": key, "warningcode": "invalidfieldparameter",
                             "message": f"The search key '{key}' is not supported, look at the web service documentation"})
            continue
        tests.append(_criterion(key, crit["value"]))
        keys.append(key)
    users = []
    for user in call.site.users.values():
        if user.deleted or not _passes(tests, user):
            continue
        level = call.detail_level(user)
        if not level:
            continue
        details = call.user_details(user, level)
        if all(details.get(k) for k in keys):
            details["initials"] = _initials(user)
            users.append(details)
    users.sort(key=lambda d: d["id"])
    return {"users": users, "warnings": warnings}


def get_users_by_field(call: Call, params: dict) -> list:
    """core_user_get_users_by_field."""
    field = params["field"]
    if field not in ("id", "idnumber", "username", "email"):
        raise MoodleError("codingerror", "Coding error detected, it must be fixed by a programmer: invalid field parameter",
                          f"The search field '{field}' is not supported, look at the web service documentation",
                          kind="coding_exception")
    wanted = set()
    for value in params["values"]:
        cleaned: Any = value
        if field == "id":
            cleaned = str(int(value)) if re.fullmatch(r"-?\d+", value.strip() or "x") else "0"
        elif field == "username":
            cleaned = re.sub(r"[^-.@_a-z0-9]", "", value.strip().lower())
        elif field == "email":
            cleaned = value.strip()
        if cleaned != value:
            raise InvalidParameter(f"The field '{field}' value is invalid: {value}(cleaned value: {cleaned})")
        wanted.add(int(cleaned) if field == "id" else cleaned)
    out = []
    for user in sorted(call.site.users.values(), key=lambda u: u.id) if field != "id" else \
            [call.site.users[i] for i in sorted(wanted) if i in call.site.users]:
        if field != "id" and getattr(user, field) not in wanted:
            continue
        if user.deleted:
            raise MissingRecord("user")
        level = call.detail_level(user)
        if not level:
            continue
        details = call.user_details(user, level)
        if details.get(field):
            details["initials"] = _initials(user)
            out.append(details)
    return out


# ------------------------------------------------------------------------ enrolments

def _enrolled_options(call: Call, options: list[dict]) -> dict:
    opts: dict[str, Any] = {"limitfrom": 0, "limitnumber": 0, "onlyactive": False, "onlysuspended": False,
                            "userfields": None, "sortby": "id", "sortdirection": "ASC"}
    for opt in options:
        name, value = opt["name"].lower(), opt["value"]
        if name in ("limitfrom", "limitnumber", "groupid"):
            opts[name] = php_int(value)
        elif name in ("onlyactive", "onlysuspended"):
            opts[name] = value.strip().lower() in ("1", "true", "yes", "on")
        elif name == "userfields":
            fields = [f.strip() for f in value.split(",") if f.strip()]
            for field in fields:
                if field not in _USER_FIELDS:
                    raise moodle_error("invaliduserfield", f"Invalid user field: {field}")
            opts["userfields"] = frozenset(fields)
        elif name == "sortby":
            if value not in ("id", "firstname", "lastname", "siteorder"):
                raise InvalidParameter(f"Invalid value for sortby parameter (value: {value}), "
                                       "allowed values are: id,firstname,lastname,siteorder")
            opts["sortby"] = value
        elif name == "sortdirection":
            if value.upper() not in ("ASC", "DESC"):
                raise InvalidParameter(f"Invalid value for sortdirection parameter (value: {value}),"
                                       "allowed values are: ASC,DESC")
            opts["sortdirection"] = value.upper()
    if opts["onlyactive"] and opts["onlysuspended"]:
        raise MoodleError("codingerror", "Coding error detected, it must be fixed by a programmer: "
                          "Both onlyactive and onlysuspended are set, this is probably not what you want!",
                          kind="coding_exception")
    if opts["onlyactive"] or opts["onlysuspended"]:
        call.require("moodle/course:enrolreview")
    return opts


def _site_user_ids(call: Call) -> list[int]:
    key = ("siteusers",)
    ids = call.site.cache.get(key)
    if ids is None:
        ids = sorted(u.id for u in call.site.users.values() if not u.deleted)
        call.site.cache[key] = ids
    return ids


def get_enrolled_users(call: Call, params: dict) -> list:
    """core_enrol_get_enrolled_users (paged by user id)."""
    site = call.site
    course = call.course(params["courseid"])
    call.validate_course(course)
    call.require("moodle/course:viewparticipants")
    opts = _enrolled_options(call, params["options"])
    now = site.now()
    if course.id == 1:
        ids = _site_user_ids(call)
    else:
        per_course = site.course_enrolments.get(course.id, {})
        ids = sorted(uid for uid in per_course if (u := site.users.get(uid)) is not None and not u.deleted)
        if opts["onlyactive"] or opts["onlysuspended"]:
            want = opts["onlyactive"]
            ids = [uid for uid in ids if site.is_active_in(course.id, uid, now) == want]
    if opts["sortby"] in ("firstname", "lastname"):
        ids.sort(key=lambda uid: (getattr(site.users[uid], opts["sortby"]), uid))
    if opts["sortdirection"] == "DESC":
        ids = ids[::-1]
    start = max(opts["limitfrom"], 0)
    ids = ids[start:start + opts["limitnumber"]] if opts["limitnumber"] > 0 else ids[start:]
    out = []
    for uid in ids:
        user = site.users[uid]
        level = call.detail_level(user, course)
        out.append(call.user_details(user, level, opts["userfields"], course))
    return out


def _progress(call: Call, course, userid: int) -> float | None:
    tracked = [cmid for sec in course.sections for cmid in sec.cmids if call.site.cms[cmid].completion]
    if not tracked:
        return None
    done = 0
    for cmid in tracked:
        rec = call.site.cm_completion.get((cmid, userid))
        if rec is not None and rec.state in (1, 2):
            done += 1
    return done / len(tracked) * 100


def get_users_courses(call: Call, params: dict) -> list:
    """core_enrol_get_users_courses: active enrolments, hidden courses left out."""
    site, userid = call.site, params["userid"]
    target = site.users.get(userid)
    if target is None or target.deleted:
        return []
    out = []
    for cid in sorted(site.user_courses.get(userid, ())):
        course = site.courses.get(cid)
        if course is None or not site.is_active_in(cid, userid) or call.login_problem(course):
            continue
        if not course.visible and userid not in site.admin_ids:
            continue
        if userid != call.caller.id and not call.can("moodle/course:viewparticipants"):
            continue
        out.append(_user_course(call, course, userid, params["returnusercount"]))
    return out


def _user_course(call: Call, course, userid: int, with_count: bool) -> dict:
    site = call.site
    row: dict[str, Any] = {
        "id": course.id, "shortname": course.shortname, "fullname": course.fullname,
        "displayname": course.fullname, "idnumber": course.idnumber, "visible": course.visible,
        "summary": course.summary, "summaryformat": course.summaryformat, "format": course.format,
        "courseimage": f"{site.wwwroot}/course/generated/{course.id}.svg",
        "showgrades": bool(course.showgrades), "lang": course.lang,
        "enablecompletion": bool(course.enablecompletion), "completionhascriteria": False,
        "completionusertracked": False, "category": course.category, "progress": None,
        "completed": None, "startdate": course.startdate, "enddate": course.enddate,
        "marker": course.marker, "lastaccess": site.users[userid].lastaccess or None,
        "isfavourite": False, "hidden": False, "overviewfiles": [],
        "showactivitydates": course.showactivitydates,
        "showcompletionconditions": course.showcompletionconditions, "timemodified": course.timemodified,
    }
    if with_count:
        row["enrolledusercount"] = sum(1 for uid in site.course_enrolments.get(course.id, {})
                                       if site.is_active_in(course.id, uid))
    viewable = userid == call.caller.id or call.can("report/completion:view")
    if viewable and course.enablecompletion and site.completion_enabled:
        row["completed"] = (course.id, userid) in site.course_completions
        row["completionhascriteria"] = bool(course.criteria_cmids)
        row["completionusertracked"] = 5 in site.course_roles.get(course.id, {}).get(userid, ())
        row["progress"] = _progress(call, course, userid)
    return row


def _manual_enrol_check(call: Call, item: dict) -> tuple:
    site = call.site
    course = site.courses.get(item["courseid"])
    if course is None:
        raise InvalidParameter("Context does not exist")
    call.validate_course(course, wrap=False)
    call.require("enrol/manual:enrol")
    if item["roleid"] not in call.token.assignable_roles:
        raise moodle_error("wsusercannotassign",
                           f"You don't have the permission to assign this role ({item['roleid']}) to this user "
                           f"({item['userid']}) in this course ({course.id}).")
    instance = site.manual_instance(course.id)
    if instance is None:
        raise moodle_error("wsnoinstance", "Manual enrolment plugin instance doesn't exist or is disabled "
                           f"for the course (id = {course.id})")
    if item["userid"] not in site.users:
        raise MoodleError(None, "core_user::require_active_user(): Argument #1 ($user) must be of type "
                          "stdClass, bool given, called in /var/www/moodle/public/enrol/manual/externallib.php "
                          "on line 105", kind="TypeError")
    call.active_user(item["userid"])
    return course, instance


def enrol_users(call: Call, params: dict) -> None:
    """enrol_manual_enrol_users: all-or-nothing, re-enrol updates."""
    plan = [(item, *_manual_enrol_check(call, item)) for item in params["enrolments"]]
    for item, course, instance in plan:
        call.site.enrol(course.id, item["userid"], item["roleid"], status=1 if item.get("suspend") else 0,
                        timestart=item.get("timestart", 0), timeend=item.get("timeend", 0), instance=instance)
    return None


def unenrol_users(call: Call, params: dict) -> None:
    """enrol_manual_unenrol_users: all-or-nothing, silent no-op when not enrolled."""
    site, plan = call.site, []
    for item in params["enrolments"]:
        course = call.course(item["courseid"])
        call.validate_course(course, wrap=False)
        call.require("enrol/manual:unenrol")
        if site.manual_instance(course.id, enabled_only=False) is None:
            raise moodle_error("wsnoinstance", "Manual enrolment plugin instance doesn't exist or is disabled "
                               f"for the course (id = {course.id})")
        if item["userid"] not in site.users:
            raise InvalidParameter(f"User id not exist: {item['userid']}")
        plan.append((course.id, item["userid"]))
    for courseid, userid in plan:
        if userid in site.course_enrolments.get(courseid, {}):
            site.unenrol(courseid, userid)
    return None


def _assignment_context(call: Call, item: dict) -> int:
    site = call.site
    if item.get("contextid"):
        if item["contextid"] not in site.contexts:
            raise InvalidParameter("Context does not exist")
        return item["contextid"]
    if "contextlevel" not in item or "instanceid" not in item:
        raise InvalidParameter("Missing parameters, please provide either context level with instance id or contextid")
    level = CONTEXT_LEVELS.get(item["contextlevel"])
    if level is None:
        raise InvalidParameter(f"Invalid context level = {item['contextlevel']}")
    exists = ((level, item["instanceid"]) in site.context_index
              or (level == 30 and site.live_user(item["instanceid"]) is not None))
    if not exists:
        raise InvalidParameter("Context does not exist")
    return site.context_id(level, item["instanceid"])


def assign_roles(call: Call, params: dict) -> None:
    """core_role_assign_roles: one transaction, no enrolment created."""
    site, plan = call.site, []
    for item in params["assignments"]:
        ctx = _assignment_context(call, item)
        level, instance = site.contexts[ctx]
        if level == 50:
            call.validate_course(site.courses[instance], wrap=False)
        call.require("moodle/role:assign")
        if item["roleid"] not in call.token.assignable_roles:
            raise InvalidParameter(f"Can not assign roleid={item['roleid']} in contextid={ctx}")
        call.active_user(item["userid"])
        plan.append((level, instance, ctx, item))
    for level, instance, ctx, item in plan:
        if level == 50:
            site.course_roles[instance].setdefault(item["userid"], set()).add(item["roleid"])
        else:
            site.other_roles.add((ctx, item["userid"], item["roleid"]))
    site.touch()
    return None


FUNCTIONS = {
    "core_webservice_get_site_info": get_site_info,
    "core_user_get_users": get_users,
    "core_user_get_users_by_field": get_users_by_field,
    "core_enrol_get_enrolled_users": get_enrolled_users,
    "core_enrol_get_users_courses": get_users_courses,
    "enrol_manual_enrol_users": enrol_users,
    "enrol_manual_unenrol_users": unenrol_users,
    "core_role_assign_roles": assign_roles,
}
