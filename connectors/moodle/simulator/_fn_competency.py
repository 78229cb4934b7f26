"""core_competency_* read functions."""

from __future__ import annotations

from typing import Any

from ._access import Call, moodle_error
from ._errors import InvalidParameter, MissingRecord, MoodleError
from ._fn_users import CONTEXT_LEVELS
from ._model import Competency, CourseCompetency, Framework

__all__ = ["FUNCTIONS"]

_COMP_COLUMNS = ("id", "shortname", "description", "sortorder", "idnumber", "parentid", "competencyframeworkid")
_COMP_SORT = set(_COMP_COLUMNS) | {"path", "ruleoutcome", "ruletype", "scaleid", "timecreated",
                                   "timemodified", "usermodified", "descriptionformat"}
_FW_SORT = {"id", "shortname", "idnumber", "description", "visible", "scaleid", "contextid",
            "timecreated", "timemodified", "usermodified", "descriptionformat", "taxonomies"}


def _enabled(call: Call) -> None:
    if not call.site.competencies_enabled:
        raise moodle_error("competenciesarenotenabled", "Competencies are not enabled")


def _dml_read() -> MoodleError:
    return MoodleError("dmlreadexception", "Error reading from database", "ERROR: column does not exist",
                       kind="dml_read_exception")


def _order(value: str) -> None:
    if value not in ("", "ASC", "DESC"):
        raise InvalidParameter("Invalid order param. Must be ASC, DESC or empty.")


def _sort(records: list, sort: str, order: str, allowed: set[str]) -> list:
    if not sort:
        return records
    if sort not in allowed:
        raise _dml_read()

    def key(rec: Any) -> Any:
        value = getattr(rec, sort)
        return (value is None, value if not isinstance(value, str) else value.lower())
    return sorted(records, key=key, reverse=order == "DESC")


def _page(records: list, skip: int, limit: int) -> list:
    skip = max(skip, 0)
    return records[skip:skip + limit] if limit > 0 else records[skip:]


def competency_row(comp: Competency) -> dict:
    """Exporter output of one competency."""
    return {k: getattr(comp, k) for k in (
        "shortname", "idnumber", "description", "descriptionformat", "sortorder", "parentid", "path",
        "ruleoutcome", "ruletype", "ruleconfig", "scaleid", "scaleconfiguration", "competencyframeworkid",
        "id", "timecreated", "timemodified", "usermodified")}


def framework_row(call: Call, fw: Framework) -> dict:
    """Exporter output of one framework (with the computed properties)."""
    row = {k: getattr(fw, k) for k in (
        "shortname", "idnumber", "description", "descriptionformat", "visible", "scaleid",
        "scaleconfiguration", "contextid", "taxonomies", "id", "timecreated", "timemodified", "usermodified")}
    row.update(canmanage=call.token.is_admin,
               competenciescount=len(call.site.framework_competencies.get(fw.id, ())),
               contextname="System", contextnamenoprefix="System")
    return row


def _context(call: Call, ctx: dict) -> int:
    if ctx.get("contextid"):
        if ctx["contextid"] not in call.site.contexts:
            raise MissingRecord("context")
        return ctx["contextid"]
    if ctx.get("contextlevel"):
        level = CONTEXT_LEVELS.get(ctx["contextlevel"])
        if level is None:
            raise InvalidParameter(f"Invalid context level = {ctx['contextlevel']}")
        found = call.site.context_index.get((level, ctx.get("instanceid", 0)))
        if found is None:
            raise MissingRecord("context")
        return found
    raise InvalidParameter("Missing parameters, please provide either context level with instance id or contextid")


def list_frameworks(call: Call, params: dict) -> list:
    """core_competency_list_competency_frameworks."""
    _enabled(call)
    _order(params["order"])
    _context(call, params["context"])
    call.require("moodle/competency:competencyview")
    fws = sorted(call.site.frameworks.values(), key=lambda f: f.id)
    if params["onlyvisible"]:
        fws = [f for f in fws if f.visible]
    query = params["query"].lower()
    if query:
        fws = [f for f in fws if query in f.shortname.lower() or query in f.idnumber.lower()]
    fws = _page(_sort(fws, params["sort"], params["order"], _FW_SORT), params["skip"], params["limit"])
    return [framework_row(call, f) for f in fws]


def _filtered(call: Call, filters: list[dict]) -> list[Competency]:
    wanted: dict[str, str] = {}
    for flt in filters:
        if flt["column"] not in _COMP_COLUMNS:
            raise InvalidParameter("Filter column was invalid")
        wanted[flt["column"]] = flt["value"]
    fwid = wanted.get("competencyframeworkid")
    if fwid is not None:
        if not fwid.isdigit() or int(fwid) not in call.site.frameworks:
            raise MissingRecord("competency_framework")
    call.require("moodle/competency:competencyview")
    pool = call.site.framework_competencies.get(int(fwid), []) if fwid is not None else sorted(call.site.competencies)
    comps = [call.site.competencies[cid] for cid in pool]
    for column, value in wanted.items():
        comps = [c for c in comps if str(getattr(c, column)) == value]
    return comps


def list_competencies(call: Call, params: dict) -> list:
    """core_competency_list_competencies (filters ANDed, sort/order/skip/limit)."""
    _enabled(call)
    _order(params["order"])
    comps = _filtered(call, params["filters"])
    comps = _page(_sort(comps, params["sort"], params["order"], _COMP_SORT), params["skip"], params["limit"])
    return [competency_row(c) for c in comps]


def count_competencies(call: Call, params: dict) -> int:
    """core_competency_count_competencies: bare integer."""
    _enabled(call)
    return len(_filtered(call, params["filters"]))


def _course_links(call: Call, courseid: int) -> list[CourseCompetency]:
    _enabled(call)
    course = call.course(courseid)
    call.validate_course(course, wrap=False)
    call.require("moodle/competency:coursecompetencyview")
    return sorted(call.site.course_competencies.get(course.id, []), key=lambda link: link.sortorder)


def list_course_competencies(call: Call, params: dict) -> list:
    """core_competency_list_course_competencies: in course-competency sortorder."""
    out = []
    for link in _course_links(call, params["id"]):
        comp = call.site.competencies.get(link.competencyid)
        if comp is None:
            continue
        out.append({"competency": competency_row(comp), "coursecompetency": {k: getattr(link, k) for k in (
            "courseid", "competencyid", "sortorder", "ruleoutcome", "id", "timecreated", "timemodified",
            "usermodified")}})
    return out


def count_in_course(call: Call, params: dict) -> int:
    """core_competency_count_competencies_in_course."""
    return len(_course_links(call, params["id"]))


def read_competency(call: Call, params: dict) -> dict:
    """core_competency_read_competency."""
    _enabled(call)
    comp = call.site.competencies.get(params["id"])
    if comp is None:
        raise MissingRecord("competency")
    call.require("moodle/competency:competencyview")
    return competency_row(comp)


def read_framework(call: Call, params: dict) -> dict:
    """core_competency_read_competency_framework."""
    _enabled(call)
    fw = call.site.frameworks.get(params["id"])
    if fw is None:
        raise MissingRecord("competency_framework")
    call.require("moodle/competency:competencyview")
    return framework_row(call, fw)


FUNCTIONS = {
    "core_competency_list_competency_frameworks": list_frameworks,
    "core_competency_list_competencies": list_competencies,
    "core_competency_count_competencies": count_competencies,
    "core_competency_list_course_competencies": list_course_competencies,
    "core_competency_count_competencies_in_course": count_in_course,
    "core_competency_read_competency": read_competency,
    "core_competency_read_competency_framework": read_framework,
}
