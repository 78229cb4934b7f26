"""Scope testing against a Moodle site: what the integration's token can really read and write.

``core_webservice_get_site_info.functions`` lists the functions of the token's *service* only,
not what the token's user may do (OBSERVED-5.0 §6). So every needed function that is in the
service is probed with a minimal call and the answer classified:

* ``accessexception`` → not in the service (MISSING);
* ``nopermissions``, ``errorcoursecontextnotvalid``, ``requireloginerror``, ``cannotviewreport``
  and the like → a capability is missing (FORBIDDEN);
* a normal answer that lacks fields Moodle only sends with a capability (course ``idnumber``,
  ``visible``, ``timecreated``, ``timemodified`` without ``moodle/course:update``; user
  ``username``/``auth``/``idnumber`` without ``moodle/user:viewalldetails``) → DEGRADED for the
  models that map those fields;
* ``core_user_get_users`` returning nobody but the token's own user, or fewer users than
  ``core_enrol_get_enrolled_users`` shows for the first courses → FORBIDDEN with a "PARTIAL: the
  token's user sees N of at least M users" detail (Moodle silently drops users whose details the
  caller may not see; a sync would take the missing ones for deleted).

With the setting ``enrolment_report_id`` (the report route) the report-builder functions are
checked against that report: access, source, conditions, columns, sorting, dates, timezone
(``_scope_report``); without it, an existing Course participants report is named as a hint.

Write functions are probed only where Moodle checks the capability before an input error that
stops the write (a blank course name, user id 0); where it does not, the entry says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.moodle._scope_report import ReportCheck, check_report, report_hints, setup_steps
from engine.connector import ScopeEntry, ScopeReport
from engine.errors import AccessDenied, AuthenticationFailed, RemoteError
from engine.models import MODELS
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["scope_test"]

_FORBIDDEN_CODES = frozenset({
    "nopermissions", "errorcoursecontextnotvalid", "errorcatcontextnotvalid", "requireloginerror",
    "cannotviewreport", "restrictedcontextexception", "nopermissiontoviewgrades", "wsusercannotassign",
    "accessdenied", "competenciesarenotenabled",
})
# The capability to name when Moodle's error only gives its display name.
_CAPABILITY = {
    "core_course_get_courses": ["moodle/course:view"],
    "core_user_get_users": ["moodle/user:viewdetails"],
    "core_enrol_get_enrolled_users": ["moodle/course:viewparticipants"],
    "core_enrol_get_users_courses": ["moodle/course:viewparticipants"],
    "core_completion_get_course_completion_status": ["report/completion:view"],
    "core_completion_get_activities_completion_status": ["report/progress:view"],
    "core_competency_list_competency_frameworks": ["moodle/competency:competencyview"],
    "core_competency_list_competencies": ["moodle/competency:competencyview"],
    "core_competency_list_course_competencies": ["moodle/competency:coursecompetencyview"],
    "core_course_create_courses": ["moodle/course:create"],
    "core_course_update_courses": ["moodle/course:update"],
    "enrol_manual_enrol_users": ["enrol/manual:enrol"],
    "core_course_get_contents": ["moodle/course:view"],
    "gradereport_user_get_grade_items": ["gradereport/user:view"],
}
_CAPABILITY_NAMES = {
    "update course settings": "moodle/course:update",
    "change course full name": "moodle/course:changefullname",
    "create courses": "moodle/course:create",
}
_ENROLLED_SAMPLE = 500  # enrolled users read per course to check that core_user_get_users shows them
_CAP_RE = re.compile(r"\b(?:moodle|report|enrol|gradereport|webservice)/[a-z_]+:[a-z_]+\b")
# function → (fields Moodle withholds without the capability, that capability)
_WITHHOLDING = {
    "core_course_get_courses": (("idnumber", "timecreated", "timemodified", "visible"), "moodle/course:update"),
    "core_user_get_users": (("auth", "idnumber", "username"), "moodle/user:viewalldetails"),
}
# model → the function whose withheld fields its mapping reads (mappings/moodle/*.yaml)
_READS = {"courses": "core_course_get_courses", "course_revisions": "core_course_get_courses", "users": "core_user_get_users"}
_NO_PROBE = {
    "core_completion_override_activity_completion_status": (
        "moodle/course:overridecompletion cannot be checked without changing a completion state: "
        "make sure the token user holds it"),
    "core_grades_update_grades": (
        "moodle/grade:edit and moodle/grade:manage cannot be checked without writing a grade: "
        "make sure the token user holds them"),
}


@dataclass
class _Result:
    """What probing one function found. UNTESTED counts as usable; its detail is reported."""

    status: str
    capabilities: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    detail: str = ""


def _capabilities(function: str, exc: RemoteError) -> list[str]:
    if exc.code in ("errorcoursecontextnotvalid", "requireloginerror") and "hidden" in str(exc.remote_message).lower():
        return ["moodle/course:viewhiddencourses"]
    found = _CAP_RE.findall(str(exc))
    if not found:
        text = str(exc.remote_message).lower()
        found = [cap for name, cap in _CAPABILITY_NAMES.items() if f"({name})" in text]
    return sorted(set(found or _CAPABILITY.get(function, [])))


def _forbidden(function: str, exc: RemoteError) -> _Result:
    if exc.code == "competenciesarenotenabled":
        return _Result("FORBIDDEN", detail=f"{function}: competencies are disabled on the site (enable them under Advanced features)")
    return _Result("FORBIDDEN", _capabilities(function, exc), detail=f"{function}: {exc.remote_message}")


class _Prober:
    """Probes functions once each, remembering ids found on the way for later probes."""

    def __init__(self, integration: Integration, call: Callable[[str, dict[str, Any]], Any], offered: set[str] | None, caller: int | None):
        self.call = call
        self.offered = offered
        self.caller = caller
        settings = integration.settings or {}
        self.settings = settings
        self.integration_id = integration.id
        self.report: ReportCheck | None = None
        self.category = int(settings.get("course_category_id", 1))
        self.student_role = int(settings.get("student_role_id", 5))
        self.results: dict[str, _Result] = {}
        self.courses: list[int] = []
        self.user: int | None = None
        self.user_course: int | None = None
        self.completion_course: int | None = None
        self.framework: int | None = None

    def result(self, function: str) -> _Result:
        if function not in self.results:
            self.results[function] = self._probe(function)
        return self.results[function]

    def _probe(self, function: str) -> _Result:
        if self.offered is not None and function not in self.offered:
            return _Result("MISSING")
        if function in _NO_PROBE:
            return _Result("UNTESTED", detail=f"{function}: {_NO_PROBE[function]}")
        probe = getattr(self, "p_" + function, None)
        if probe is None:
            return _Result("UNTESTED", detail=f"{function}: in the service; no side-effect-free probe")
        try:
            return probe()
        except AuthenticationFailed:
            raise
        except AccessDenied as exc:
            return _Result("MISSING", detail=f"{function}: {exc.remote_message}")
        except RemoteError as exc:
            if exc.code in _FORBIDDEN_CODES:
                return _forbidden(function, exc)
            return _Result("UNTESTED", detail=f"{function}: the probe got an unexpected answer ({exc})")

    def _need_course(self) -> int | None:
        if not self.courses and "core_course_get_courses" not in self.results:
            self.result("core_course_get_courses")
        if not self.courses and "core_course_get_courses_by_field" in (self.offered or ()):
            try:  # lists the visible courses without course:view or viewhiddencourses
                found = (self.call("core_course_get_courses_by_field", {}) or {}).get("courses") or []
            except RemoteError:
                found = []
            self.courses = [c["id"] for c in found if isinstance(c, dict) and c.get("id") != 1 and c.get("format") != "site"]
        return self.courses[0] if self.courses else None

    def _other_users(self) -> list[int]:
        return [u for u in (self.user, 2, 1) if u is not None and u != self.caller]

    # --- read probes ------------------------------------------------------------------
    def p_core_course_get_courses(self) -> _Result:
        rows = [r for r in self.call("core_course_get_courses", {}) or [] if isinstance(r, dict)]
        real = [r for r in rows if r.get("id") != 1 and r.get("format") != "site"]
        self.courses = [r["id"] for r in sorted(real, key=lambda r: r.get("visible", 1) == 0)]
        sample = (real or rows or [{}])[0]
        fields, capability = _WITHHOLDING["core_course_get_courses"]
        withheld = [f for f in fields if f not in sample] if sample else []
        if not withheld:
            return _Result("OK")
        return _Result("DEGRADED", [capability], withheld,
                       f"core_course_get_courses: without {capability} Moodle withholds {', '.join(withheld)}; hidden courses "
                       "are also left out unless the token user holds it or moodle/course:viewhiddencourses")

    def _enrolled_ids(self) -> set[int]:
        """Users enrolled in the first courses (what the token sees without user details)."""
        if (self.offered is not None and "core_enrol_get_enrolled_users" not in self.offered) or self._need_course() is None:
            return set()
        options = [{"name": "userfields", "value": "id"}, {"name": "limitnumber", "value": _ENROLLED_SAMPLE}]
        found: set[int] = set()
        for course in self.courses[:3]:
            try:
                users = self.call("core_enrol_get_enrolled_users", {"courseid": course, "options": options}) or []
            except RemoteError:
                continue
            found.update(u["id"] for u in users if isinstance(u, dict) and isinstance(u.get("id"), int))
        return found

    def _partial_users(self) -> _Result | None:
        """FORBIDDEN (PARTIAL) when core_user_get_users leaves out users the enrolments show."""
        enrolled = self._enrolled_ids() - {self.caller}
        if not enrolled:
            return None
        answer = self.call("core_user_get_users", {"criteria": [{"key": "lastname", "value": "%"}]}) or {}
        seen = {u.get("id") for u in answer.get("users") or [] if isinstance(u, dict)} if isinstance(answer, dict) else set()
        hidden = sorted(enrolled - seen)
        if not hidden:
            return None
        shown = ", ".join(map(str, hidden[:5])) + (", …" if len(hidden) > 5 else "")
        return _Result("FORBIDDEN", ["moodle/user:viewdetails"], detail=(
            f"PARTIAL: the token's user sees {len(seen)}{' (only itself)' if seen <= {self.caller} else ''} of at least "
            f"{len(seen | enrolled)} users (core_user_get_users "
            f"silently leaves out users whose details it may not see, e.g. enrolled user ids {shown}; a sync would "
            "report them deleted); add capability moodle/user:viewdetails (and moodle/user:viewalldetails) to the "
            "service user's role in the system context"))

    def p_core_user_get_users(self) -> _Result:
        partial = self._partial_users()
        if partial is not None:
            return partial
        for uid in [u for u in (2, 1) if u != self.caller]:
            found = (self.call("core_user_get_users", {"criteria": [{"key": "id", "value": str(uid)}]}) or {}).get("users") or []
            if found:
                fields, capability = _WITHHOLDING["core_user_get_users"]
                withheld = [f for f in fields if f not in found[0] and f != "idnumber"]
                if not withheld:
                    return _Result("OK")
                withheld = sorted({*withheld, "idnumber"})
                return _Result("DEGRADED", [capability], withheld,
                               f"core_user_get_users: without {capability} Moodle withholds {', '.join(withheld)} of other users")
        return _Result("FORBIDDEN", ["moodle/user:viewdetails"],
                       detail="core_user_get_users: Moodle returned no user but the token's own (it silently drops users "
                              "whose details the token user may not see)")

    def p_core_enrol_get_enrolled_users(self) -> _Result:
        if self._need_course() is None:
            return _Result("UNTESTED", detail="core_enrol_get_enrolled_users: no course to probe with")
        options = [{"name": "userfields", "value": "id"}, {"name": "limitnumber", "value": 5}]
        for course in self.courses[:3]:
            users = self.call("core_enrol_get_enrolled_users", {"courseid": course, "options": options}) or []
            others = [u["id"] for u in users if isinstance(u, dict) and u.get("id") != self.caller]
            if others:
                self.user, self.user_course = others[0], course
                break
        return _Result("OK")

    def p_core_enrol_get_users_courses(self) -> _Result:
        if self.user is None and "core_enrol_get_enrolled_users" in (self.offered or ()):
            self.result("core_enrol_get_enrolled_users")
        users = self._other_users()
        if not users:
            return _Result("UNTESTED", detail="core_enrol_get_users_courses: no other user to probe with")
        courses = self.call("core_enrol_get_users_courses", {"userid": users[0], "returnusercount": 0}) or []
        enabled = [c["id"] for c in courses if isinstance(c, dict) and c.get("enablecompletion") in (True, 1)]
        if enabled and users[0] == self.user:
            self.completion_course = enabled[0]
        return _Result("OK")

    def p_core_completion_get_course_completion_status(self) -> _Result:
        if "core_enrol_get_users_courses" in (self.offered or ()):
            self.result("core_enrol_get_users_courses")
        course = self.completion_course or self.user_course or self._need_course()
        users = self._other_users()
        if course is None or not users:
            return _Result("UNTESTED", detail="core_completion_get_course_completion_status: no course and user to probe with")
        try:
            self.call("core_completion_get_course_completion_status", {"courseid": course, "userid": users[0]})
        except RemoteError as exc:
            if exc.code == "cannotviewreport" and self.completion_course is None:
                return _Result("UNTESTED", detail="core_completion_get_course_completion_status: cannotviewreport on a course whose "
                               "completion state is unknown; the token user may lack report/completion:view")
            if exc.code in _FORBIDDEN_CODES:
                raise
        return _Result("OK")

    def p_core_completion_get_activities_completion_status(self) -> _Result:
        course, users = self._need_course(), self._other_users()
        if course is None or not users:
            return _Result("UNTESTED", detail="core_completion_get_activities_completion_status: nothing to probe with")
        self.call("core_completion_get_activities_completion_status", {"courseid": course, "userid": users[0]})
        return _Result("OK")

    def p_gradereport_user_get_grade_items(self) -> _Result:
        course, users = self._need_course(), self._other_users()
        if course is None or not users:
            return _Result("UNTESTED", detail="gradereport_user_get_grade_items: nothing to probe with")
        try:
            self.call("gradereport_user_get_grade_items", {"courseid": course, "userid": users[0]})
        except RemoteError as exc:
            if exc.code == "nopermissiontoviewgrades":
                return _Result("FORBIDDEN", ["moodle/grade:viewall"], detail=f"gradereport_user_get_grade_items: {exc.remote_message}")
            if exc.code in _FORBIDDEN_CODES:
                raise
        return _Result("OK")

    def p_core_competency_list_competency_frameworks(self) -> _Result:
        params = {"sort": "id", "order": "ASC", "skip": 0, "limit": 1, "context": {"contextid": 1}, "includes": "children"}
        found = self.call("core_competency_list_competency_frameworks", params) or []
        self.framework = found[0]["id"] if found and isinstance(found[0], dict) else None
        return _Result("OK")

    def p_core_competency_list_competencies(self) -> _Result:
        if "core_competency_list_competency_frameworks" in (self.offered or ()):
            self.result("core_competency_list_competency_frameworks")
        filters = [{"column": "competencyframeworkid", "value": str(self.framework or 0)}]
        self.call("core_competency_list_competencies", {"filters": filters, "sort": "id", "order": "ASC", "skip": 0, "limit": 1})
        return _Result("OK")

    def p_core_competency_list_course_competencies(self) -> _Result:
        course = self._need_course()
        if course is None:
            return _Result("UNTESTED", detail="core_competency_list_course_competencies: no course to probe with")
        self.call("core_competency_list_course_competencies", {"id": course})
        return _Result("OK")

    def p_core_course_get_courses_by_field(self) -> _Result:
        course = self._need_course()
        self.call("core_course_get_courses_by_field", {"field": "id", "value": str(course)} if course else {"field": "id", "value": "1"})
        return _Result("OK")

    def p_core_course_get_contents(self) -> _Result:
        course = self._need_course()
        if course is None:
            return _Result("UNTESTED", detail="core_course_get_contents: no course to probe with")
        self.call("core_course_get_contents", {"courseid": course, "options": [{"name": "excludemodules", "value": 1}]})
        return _Result("OK")

    def p_core_reportbuilder_retrieve_report(self) -> _Result:
        if self.settings.get("enrolment_report_id") is None:
            return _Result("UNTESTED", detail="core_reportbuilder_retrieve_report: in the service; no report to probe with")
        self.report = check_report(self.call, self.settings, self.caller, self.offered, self.integration_id)
        return _Result(self.report.status, self.report.capabilities, detail=self.report.detail)

    def p_core_reportbuilder_filters_reset(self) -> _Result:
        # not called: it drops the token user's own filter values; Moodle checks the same access as for a read
        read = self.result("core_reportbuilder_retrieve_report")
        return _Result("FORBIDDEN", read.capabilities) if read.capabilities else _Result("OK")

    def p_core_reportbuilder_set_filters(self) -> _Result:
        # called by the report check (with report_delta_filters) and reset at once; the same access as a read
        return self.p_core_reportbuilder_filters_reset()

    # --- write probes (the capability check comes before an input error: nothing is written) ---
    def p_core_course_create_courses(self) -> _Result:
        probe = {"courses": [{"fullname": " ", "shortname": "lmsync-scope-probe", "categoryid": self.category}]}
        try:
            self.call("core_course_create_courses", probe)
        except RemoteError as exc:
            if exc.code == "errorcatcontextnotvalid":
                return _Result("FORBIDDEN", ["moodle/course:create"],
                               detail=f"core_course_create_courses: course category {self.category} is not accessible ({exc.remote_message})")
            if exc.code in _FORBIDDEN_CODES:
                raise
            return _Result("OK")
        return _Result("UNTESTED", detail="core_course_create_courses: the probe (blank course name) was not rejected; check the site")

    def p_core_course_update_courses(self) -> _Result:
        course = self._need_course()
        if course is None:
            return _Result("UNTESTED", detail="core_course_update_courses: no course to probe with")
        answer = self.call("core_course_update_courses", {"courses": [{"id": course, "fullname": " "}]}) or {}
        for warning in answer.get("warnings") or []:
            code = warning.get("warningcode")
            if code in _FORBIDDEN_CODES:
                return _forbidden("core_course_update_courses", RemoteError(str(warning.get("message", "")), code=code))
        return _Result("UNTESTED", detail="core_course_update_courses: moodle/course:update and changefullname are held; "
                       "moodle/course:visibility (deactivate) cannot be checked without changing a course")

    def p_enrol_manual_enrol_users(self) -> _Result:
        course = self._need_course()
        if course is None:
            return _Result("UNTESTED", detail="enrol_manual_enrol_users: no course to probe with")
        probe = {"enrolments": [{"roleid": self.student_role, "userid": 0, "courseid": course}]}
        try:
            self.call("enrol_manual_enrol_users", probe)
        except RemoteError as exc:
            if exc.code == "wsusercannotassign":
                return _Result("FORBIDDEN", ["moodle/role:assign"],
                               detail=f"enrol_manual_enrol_users: the token user may not assign role {self.student_role} (student_role_id)")
            if exc.code in _FORBIDDEN_CODES:
                raise
            if exc.code == "wsnoinstance":
                return _Result("OK", detail=f"enrol_manual_enrol_users: course {course} has no manual enrolment instance; "
                               "courses need one to enroll users")
        return _Result("OK")


def _entry(name: str, functions: list[str], prober: _Prober) -> ScopeEntry:
    kind = "model" if name in MODELS else "action"
    results = {f: prober.result(f) for f in functions}
    missing = sorted(f for f, r in results.items() if r.status == "MISSING")
    forbidden = [r for r in results.values() if r.status == "FORBIDDEN"]
    details = [r.detail for r in results.values() if r.detail and r.status != "DEGRADED"]
    entry = ScopeEntry(name=name, kind=kind, status="OK", missing_functions=missing)
    if missing:
        entry.status = "MISSING"
    elif forbidden:
        entry.status = "FORBIDDEN"
        entry.missing_capabilities = sorted({c for r in forbidden for c in r.capabilities})
    elif kind == "model" and name in _READS and results.get(_READS[name], _Result("OK")).status == "DEGRADED":
        degraded = results[_READS[name]]
        entry.status, entry.withheld_fields, entry.missing_capabilities = "DEGRADED", degraded.withheld, degraded.capabilities
        details.insert(0, degraded.detail)
    entry.detail = "; ".join(dict.fromkeys(details))
    return entry


def _checklist(entries: list[ScopeEntry], to_add: list[str], info: dict[str, Any], fixes: list[str],
               hints: list[str]) -> list[str]:
    who = info.get("username") or "the token's user"
    steps: list[str] = []
    if to_add:
        steps.append("Site administration > Server > Web services > External services > (the token's service) > Functions: "
                     f"add {', '.join(to_add)}")
    caps = sorted({c for e in entries if e.status == "FORBIDDEN" for c in e.missing_capabilities})
    if caps:
        steps.append(f"Give {who} a role (system context) that allows: {', '.join(caps)}")
    optional = sorted({c for e in entries if e.status == "DEGRADED" for c in e.missing_capabilities} - set(caps))
    if optional:
        steps.append(f"Optional, so Moodle stops withholding fields: allow {', '.join(optional)} for {who}")
    steps.extend(fixes)
    for e in entries:
        if e.status == "OK" and e.detail:
            steps.append(f"Check ({e.name}): {e.detail}")
    if not to_add and not caps and not optional and not fixes:
        steps.insert(0, "Nothing to add: the token can read every model and call every action's functions.")
    return steps + hints


def _report_steps(integration: Integration, prober: _Prober, call: Callable[[str, dict[str, Any]], Any],
                  info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(fixes, hints) of the report route: the failed checks' fixes and the set-up checklist when
    the configured report is missing or misconfigured; without one, the reports that could be."""
    settings = integration.settings or {}
    if settings.get("enrolment_report_id") is None:
        return [], report_hints(call, prober.offered, integration.id)
    check = prober.report
    if check is None or check.status == "OK":
        return [], []
    who = info.get("username") or "the token's user"
    return [*check.fixes, *setup_steps(integration.id, who, settings)], []


def scope_test(integration: Integration, transport: Transport, needs: dict[str, list[str]]) -> ScopeReport:
    """Probe the site with *integration*'s token and classify every model and action in *needs*."""
    try:
        info = transport.call("core_webservice_get_site_info", {}) or {}
        offered: set[str] | None = {f["name"] for f in info.get("functions") or [] if isinstance(f, dict)}
    except AccessDenied:
        info, offered = {}, None
    prober = _Prober(integration, transport.call, offered, info.get("userid"))
    entries = [_entry(name, sorted(functions), prober) for name, functions in needs.items()]
    to_add = sorted({f for e in entries for f in e.missing_functions})
    fixes, hints = _report_steps(integration, prober, transport.call, info)
    remote = {k: info[k] for k in ("sitename", "siteurl", "release", "version", "username", "userid", "userissiteadmin") if k in info}
    remote["functions_in_service"] = len(offered) if offered is not None else None
    return ScopeReport(entries=entries, functions_to_add=to_add, checklist=_checklist(entries, to_add, info, fixes, hints), remote_info=remote)
