"""Scope checks of the report route: is the integration's enrolment report one a sync can read?

With the setting ``enrolment_report_id`` course_progressions is read from one report-builder
custom report (``mappings/moodle/course_progressions.report.yaml``; ``BULK-READS.md`` §2). The
report is built by an admin in the UI and nothing over web services says how it was built, so
each requirement is checked from what ``core_reportbuilder_retrieve_report`` answers:

* access: ``report_access_exception`` / ``errorreportview`` → moodle/reportbuilder:view + viewall;
* source: ``details.source`` is the Course participants datasource;
* default setup off: ``details.conditiondata`` holds no *enrolment status* condition;
* columns: their count, their default English headings in order (headings are localized and not
  unique; the two "Time started" cannot be told apart) and the shape of the sampled cells;
* sorting: page 1 of half the size repeats the second half of the first read, and every course's
  rows (and every user's within a course) are together; which columns sort is not visible with the report's read access;
* dates: a date cell reads as English ``userdate()`` text or epoch seconds (report_lang);
* timezone: the token user's ``timezone`` (``core_user_get_users_by_field``) equals
  report_timezone; "99" (the site default) and ``forcetimezone`` cannot be read over WS.

Every failing check gives a ``MISCONFIGURED:`` problem and the admin's fix; ``setup_steps`` is the
whole printable set-up checklist. Without the setting, ``report_hints`` points at an existing
Course participants report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.moodle._report_functions import moodle_date_filter, moodle_link_id, parse_userdate
from connectors.moodle.plugin import SETTINGS_SCHEMA
from engine.errors import RemoteError

__all__ = ["REPORT_COLUMNS", "SORT_COLUMNS", "DELTA_FILTERS", "SOURCE", "ACCESS_CAPABILITIES", "ReportColumn", "ReportCheck",
           "check_report", "participants_reports", "report_hints", "setup_steps"]

SOURCE = "core_course\\reportbuilder\\datasource\\participants"
SOURCE_NAME = "Course participants"
ACCESS_CAPABILITIES = ["moodle/reportbuilder:view", "moodle/reportbuilder:viewall"]
# the functions besides the route's own that the checks use when the service offers them
TIMEZONE_FUNCTION = "core_user_get_users_by_field"
LIST_FUNCTION = "core_reportbuilder_list_reports"
_SAMPLE = 50  # rows of the first page read by the checks (the second half is read again as page 1)
_STATUSES = ("Active", "Suspended", "Not current")
_YESNO = ("Yes", "No", "")
_DEFAULTS = {k: SETTINGS_SCHEMA["properties"][k]["default"] for k in ("report_timezone", "report_lang", "report_delta_filters")}


@dataclass(frozen=True)
class ReportColumn:
    """One column the report route needs: datasource identifier, the report editor's entity group,
    the default English heading, and what its cells hold (``link:course``, ``link:user``, ``text``,
    ``status``, ``date``, ``yesno``, ``role``)."""

    identifier: str
    entity: str
    title: str
    cells: str

    @property
    def label(self) -> str:
        """How the admin finds it in the report editor: ``Entity › Title (identifier)``."""
        return f"{self.entity} › {self.title} ({self.identifier})"


# The order of mappings/moodle/course_progressions.report.yaml (its expressions index columns[N]).
REPORT_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("course:courseshortnamewithlink", "Course", "Course short name with link", "link:course"),
    ReportColumn("user:fullnamewithlink", "User", "Full name with link", "link:user"),
    ReportColumn("enrol:plugin", "Enrolment method", "Plugin", "text"),
    ReportColumn("enrolment:status", "Enrolment", "Status", "status"),
    ReportColumn("enrolment:timecreated", "Enrolment", "Time created", "date"),
    ReportColumn("enrolment:timestarted", "Enrolment", "Time started", "date"),
    ReportColumn("enrolment:timeended", "Enrolment", "Time ended", "date"),
    ReportColumn("role:shortname", "Role", "Short name", "role"),
    ReportColumn("completion:completed", "Course completion", "Completed", "yesno"),
    ReportColumn("completion:timecompleted", "Course completion", "Time completed", "date"),
    ReportColumn("completion:timestarted", "Course completion", "Time started", "date"),
    ReportColumn("user:username", "User", "Username", "text"),
)
SORT_COLUMNS = ("course:courseshortnamewithlink", "user:username")
# the date filters a DELTA narrows the report with (course_progressions.report.yaml, delta.reads)
DELTA_FILTERS: tuple[ReportColumn, ...] = (REPORT_COLUMNS[9], REPORT_COLUMNS[10], REPORT_COLUMNS[4])
SET_FILTERS = "core_reportbuilder_set_filters"
_FAR_FUTURE = 4102444800  # 2100-01-01: a date filter that exists selects no row from it


@dataclass
class ReportCheck:
    """What the report checks found: ``status`` OK or FORBIDDEN, the capabilities to add,
    ``problems`` (one per failing check), ``fixes`` (the admin's steps) and ``notes`` (what could
    not be checked, and why)."""

    report_id: int
    integration_id: str = "ID"
    status: str = "OK"
    capabilities: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, problem: str, fix: str) -> None:
        """Record a failing check and its fix (``update ID`` in it names the integration)."""
        self.status = "FORBIDDEN"
        self.problems.append(f"MISCONFIGURED: report {self.report_id}: {problem}")
        self.fixes.append(fix.replace("integrations update ID ", f"integrations update {self.integration_id} "))

    @property
    def detail(self) -> str:
        """Problems, then notes, as one line."""
        return "; ".join([*self.problems, *(f"report {self.report_id}: {n}" for n in self.notes)])


def _setting(settings: dict[str, Any], name: str) -> Any:
    value = settings.get(name)
    return _DEFAULTS.get(name) if value in (None, "") else value


def _english(lang: str) -> bool:
    return lang == "en" or lang.startswith("en_")


def _short(text: Any, size: int = 60) -> str:
    text = "null" if text is None else str(text)
    return repr(text if len(text) <= size else text[:size] + "…")


def _rows(answer: Any) -> tuple[dict[str, Any], list[str], list[list[Any]]]:
    body = answer if isinstance(answer, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    rows = [r.get("columns") or [] for r in data.get("rows") or [] if isinstance(r, dict)]
    headers = [str(h) for h in data.get("headers") or []]
    return (body.get("details") if isinstance(body.get("details"), dict) else {}), headers, rows


def _condition_names(conditiondata: Any) -> list[str]:
    """``entity:column`` of each condition in ``details.conditiondata`` (keys like
    ``enrolment:status_operator``)."""
    try:
        data = json.loads(conditiondata) if isinstance(conditiondata, str) and conditiondata else {}
    except ValueError:
        return []
    names = [str(k).split("_", 1)[0] for k in data] if isinstance(data, dict) else []
    return sorted(set(names))


def _check_details(check: ReportCheck, details: dict[str, Any]) -> bool:
    """Source and conditions; False when the source is wrong (the other checks are then moot)."""
    name = details.get("name")
    source = details.get("source")
    if source != SOURCE:
        check.fail(f"{_short(name)} has the source {source}, not '{SOURCE_NAME}' ({SOURCE})",
                   f"Create a new custom report of source '{SOURCE_NAME}' (a report's source cannot be changed) "
                   "and point enrolment_report_id at it (the set-up steps below)")
        return False
    conditions = _condition_names(details.get("conditiondata"))
    if "enrolment:status" in conditions:
        check.fail("it has the condition 'Enrolment status' ('Include default setup' was ticked): suspended and "
                   "expired enrolments are left out, and a sync would take them for deleted",
                   f"Report builder › report {check.report_id} › Conditions: delete the condition 'Status' "
                   "(Enrolment)")
    others = [c for c in conditions if c not in ("enrolment:status", "user:username")]
    if others:
        check.notes.append(f"conditions on {', '.join(others)}: enrolments they leave out look deleted to a sync")
    return True


def _check_headers(check: ReportCheck, headers: list[str], lang: str) -> bool:
    """Column count and default English headings in order; False when the columns are wrong."""
    wanted = [c.title for c in REPORT_COLUMNS]
    fix = (f"Report builder › report {check.report_id}: make the columns exactly, in this order: "
           + "; ".join(f"{i}. {c.label}" for i, c in enumerate(REPORT_COLUMNS, 1))
           + " (default headings; the two 'Time started' are Enrolment's, then Course completion's)")
    if len(headers) != len(wanted):
        check.fail(f"it has {len(headers)} columns ({', '.join(map(repr, headers))}), the report route needs "
                   f"{len(wanted)}", fix)
        return False
    if not _english(lang):
        check.notes.append(f"column headings not checked: report_lang {lang!r} is not English")
        return True
    wrong = [f"column {i} is {h!r}, expected {c.title!r} ({c.identifier})"
             for i, (h, c) in enumerate(zip(headers, REPORT_COLUMNS), 1) if h != c.title]
    if wrong:
        check.fail("; ".join(wrong) + " (a renamed heading counts as wrong: restore the default)", fix)
        return False
    return True


def _cell_ok(column: ReportColumn, cell: Any) -> bool:
    text = "" if cell is None else str(cell)
    kind = column.cells
    if kind.startswith("link:"):
        try:
            return moodle_link_id(text, kind[5:]) is not None
        except ValueError:
            return False
    if kind == "status":
        return text in _STATUSES
    if kind == "yesno":
        return text in _YESNO
    if kind == "text":
        return bool(text) and "<a " not in text
    return kind in ("role", "date")  # dates: _check_dates; a role may be empty (no role assignment)


def _user_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows with a user (an enrol instance without users gives a row with an empty user)."""
    return [r for r in rows if len(r) == len(REPORT_COLUMNS) and r[1]]


def _check_cells(check: ReportCheck, rows: list[list[Any]]) -> None:
    for i, column in enumerate(REPORT_COLUMNS):
        bad = next((r[i] for r in rows if not _cell_ok(column, r[i])), "ok")
        if bad != "ok":
            english = " (English texts expected)" if column.cells in ("status", "yesno") else ""
            check.fail(f"column {i + 1} should be {column.label} but holds {_short(bad)}{english}",
                       f"Report builder › report {check.report_id}: column {i + 1} must be {column.label}")


def _check_dates(check: ReportCheck, rows: list[list[Any]], settings: dict[str, Any]) -> bool | None:
    """True when the dates are epoch seconds, False when English text, None when unreadable/absent."""
    lang, tz = str(_setting(settings, "report_lang")), str(_setting(settings, "report_timezone"))
    cells = [str(r[i]) for r in rows for i, c in enumerate(REPORT_COLUMNS) if c.cells == "date" and r[i]]
    if not cells:
        check.notes.append("dates not checked: the first rows have no date")
        return None
    for cell in cells:
        try:
            parse_userdate(cell, tz)
        except ValueError as exc:
            if "timezone" in str(exc):
                check.fail(f"report_timezone {tz!r} is not a timezone", "lmsync integrations update ID --setting "
                           "report_timezone=UTC (an IANA name such as UTC or Europe/Berlin)")
                return None
            check.fail(f"dates read with report_lang {lang!r} come back as {_short(cell)}: lmsync reads English "
                       "dates or epoch seconds",
                       "lmsync integrations update ID --setting report_lang=en (or an English child language pack "
                       "whose strftimedaydatetime, strftimedatetime and strftimedatetimeaccurate are %s)")
            return None
    epoch = all(c.isdigit() for c in cells)
    if not epoch and lang != "en":
        check.notes.append(f"report_lang {lang!r} gave English text, not epoch seconds (Moodle silently ignores a "
                           "language pack it does not have): dates are read to the minute")
    return epoch


def _groups_together(keys: list[Any]) -> bool:
    seen: set[Any] = set()
    previous = object()
    for key in keys:
        if key != previous and key in seen:
            return False
        seen.add(key)
        previous = key
    return True


def _check_sorting(check: ReportCheck, call: Callable[[str, dict[str, Any]], Any], params: dict[str, Any],
                   rows: list[list[Any]]) -> None:
    if len(rows) < 2:
        check.notes.append("sorting not checked: the report has fewer than 2 rows")
        return
    fix = (f"Report builder › report {check.report_id} › Sorting: enable sorting on "
           f"{REPORT_COLUMNS[0].title}, then {REPORT_COLUMNS[11].title}, both ascending")
    half = len(rows) // 2  # page 1 of half the size must be the second half of the first read
    _, _, again = _rows(call("core_reportbuilder_retrieve_report", {**params, "page": 1, "perpage": half}))
    if again != rows[half:2 * half]:
        check.fail(f"rows {half + 1}-{2 * half} read as page 1 of {half} differ from the same rows of one read: "
                   "sorting is off (no ORDER BY), so pages would skip and repeat rows", fix)
        return
    keys = [(moodle_link_id(str(r[0]), "course"), str(r[11] or "")) for r in rows]
    if not _groups_together([k[0] for k in keys]) or not _groups_together(keys):
        check.fail("the rows of one course (or of one user in a course) are not together: the report is not "
                   "sorted by course, then username", fix)


def _missing_filters(call: Callable[[str, dict[str, Any]], Any], params: dict[str, Any]) -> list[ReportColumn]:
    """The DELTA_FILTERS the report lacks: with a filter's value set to "from 2100", a report that
    has the filter answers no row; set_filters silently stores values for filters it lacks."""
    missing = []
    try:
        for column in DELTA_FILTERS:
            values = moodle_date_filter(column.identifier, _FAR_FUTURE, 0)
            call(SET_FILTERS, {"reportid": params["reportid"], "values": values})
            _, _, rows = _rows(call("core_reportbuilder_retrieve_report", {**params, "page": 0, "perpage": 1}))
            if rows:
                missing.append(column)
    finally:
        call("core_reportbuilder_filters_reset", {"reportid": params["reportid"]})
    return missing


def _check_filters(check: ReportCheck, call: Callable[[str, dict[str, Any]], Any], params: dict[str, Any],
                   settings: dict[str, Any], offered: set[str] | None) -> None:
    wanted = bool(_setting(settings, "report_delta_filters"))
    if offered is not None and SET_FILTERS not in offered:
        if wanted:
            check.fail(f"report_delta_filters is set but the token's service lacks {SET_FILTERS}: every DELTA "
                       "would fail", f"Add {SET_FILTERS} to the token's service")
        return
    missing = _missing_filters(call, params)
    names = ", ".join(c.label for c in missing)
    if wanted and missing:
        check.fail(f"report_delta_filters is set but the report has no filter on {names}: a DELTA would read the "
                   "whole report once per missing filter",
                   f"Report builder › report {check.report_id} › Filters: add {names}; or lmsync integrations "
                   "update ID --setting report_delta_filters=false")
    elif not wanted and not missing:
        check.notes.append("the report has the DELTA date filters: lmsync integrations update "
                           f"{check.integration_id} --setting report_delta_filters=true makes a DELTA read only "
                           "the rows changed since the last sync")


def _check_timezone(check: ReportCheck, call: Callable[[str, dict[str, Any]], Any], settings: dict[str, Any],
                    caller: int | None, offered: set[str] | None) -> None:
    wanted = str(_setting(settings, "report_timezone"))
    if caller is None:
        check.notes.append("the token user's timezone not checked: core_webservice_get_site_info gave no user id")
        return
    if offered is not None and TIMEZONE_FUNCTION not in offered:
        check.notes.append(f"the token user's timezone not checked: add {TIMEZONE_FUNCTION} to the service to "
                           f"let the scope test read it, or make sure it is {wanted}")
        return
    try:
        found = call(TIMEZONE_FUNCTION, {"field": "id", "values": [caller]}) or []
    except RemoteError as exc:
        check.notes.append(f"the token user's timezone not checked: {TIMEZONE_FUNCTION} failed ({exc})")
        return
    me = next((u for u in found if isinstance(u, dict) and u.get("id") == caller), {}) if isinstance(found, list) else {}
    zone = str(me.get("timezone") or "99")
    if zone == "99":
        check.notes.append(f"the token user's timezone is the site default ('99'), which web services do not show "
                           f"(nor Force timezone): dates are read as {wanted} (report_timezone); set the user's "
                           f"timezone to {wanted} explicitly (Edit profile › Timezone)")
    elif zone != wanted:
        check.fail(f"the token user's timezone is {zone!r} but report_timezone is {wanted!r}: every date would be "
                   "shifted",
                   f"Set the sync user's timezone to {wanted} (Site administration › Users › Browse list of users "
                   f"› the user › Edit profile › Timezone), or lmsync integrations update ID --setting "
                   f"report_timezone={zone}")


def check_report(call: Callable[[str, dict[str, Any]], Any], settings: dict[str, Any], caller: int | None,
                 offered: set[str] | None, integration_id: str) -> ReportCheck:
    """Check the report of ``settings['enrolment_report_id']`` with the token's own access
    (*call* is the transport's). Lets ``AuthenticationFailed``/``AccessDenied`` (not in the service)
    and unexpected errors propagate to the prober."""
    check = ReportCheck(int(settings["enrolment_report_id"]), integration_id)
    params = {"reportid": check.report_id, "page": 0, "perpage": _SAMPLE,
              "moodlewssettinglang": str(_setting(settings, "report_lang"))}
    try:
        first = call("core_reportbuilder_retrieve_report", params)
    except RemoteError as exc:
        if exc.code == "errorreportview":
            check.status, check.capabilities = "FORBIDDEN", list(ACCESS_CAPABILITIES)
            check.problems.append(f"core_reportbuilder_retrieve_report: report {check.report_id}: {exc.remote_message} "
                                  "(the token user needs moodle/reportbuilder:view and moodle/reportbuilder:viewall, "
                                  "or to be in the report's audience)")
            return check
        if exc.code in ("invalidrecord", "invalidrecordunknown"):
            check.fail("no such report on the site", "Create the report (the set-up steps below) and set its id")
            check.fixes.extend(report_hints(call, offered, integration_id))
            return check
        raise
    details, headers, rows = _rows(first)
    if not _check_details(check, details):
        return check
    if not rows:
        check.notes.append("columns, dates and sorting not checked: the report has no rows yet")
        _check_headers(check, headers, str(_setting(settings, "report_lang")))
        return check
    if _check_headers(check, headers, str(_setting(settings, "report_lang"))):
        users = _user_rows(rows)
        before = len(check.problems)
        _check_cells(check, users)
        if len(check.problems) == before:  # dates, order and timezone mean nothing in wrong columns
            epoch = _check_dates(check, users, settings)
            _check_sorting(check, call, params, rows)
            _check_filters(check, call, params, settings, offered)
            if epoch:
                check.notes.append("dates are epoch seconds (report_lang): the timezone does not matter")
            else:
                _check_timezone(check, call, settings, caller, offered)
    return check


def participants_reports(call: Callable[[str, dict[str, Any]], Any], offered: set[str] | None) -> list[dict[str, Any]]:
    """The Course participants reports the token user can list (none when it may not)."""
    if offered is not None and LIST_FUNCTION not in offered:
        return []
    try:
        answer = call(LIST_FUNCTION, {"page": 0, "perpage": 50}) or {}
    except RemoteError:
        return []
    found = answer.get("reports") if isinstance(answer, dict) else None
    return [r for r in found or [] if isinstance(r, dict) and r.get("source") == SOURCE and isinstance(r.get("id"), int)]


def report_hints(call: Callable[[str, dict[str, Any]], Any], offered: set[str] | None, integration_id: str,
                 exclude: int | None = None) -> list[str]:
    """A checklist hint per Course participants report found (the report route is not set up)."""
    return [f"Large sites: report {r['id']} {str(r.get('name') or '')!r} found: set it with lmsync integrations "
            f"update {integration_id} --setting enrolment_report_id={r['id']} (course_progressions then comes from "
            "that report: about one call per report_page_size enrolments; see docs/connect-moodle.md)"
            for r in participants_reports(call, offered) if r["id"] != exclude]


def setup_steps(integration_id: str, who: str, settings: dict[str, Any]) -> list[str]:
    """The printable set-up checklist of the report route (docs/connect-moodle.md has the same)."""
    tz = _setting(settings, "report_timezone")
    columns = "; ".join(f"{i}. {c.label}" for i, c in enumerate(REPORT_COLUMNS, 1))
    steps = [
        "Site administration › Reports › Report builder › Custom reports › New report: a name (e.g. 'lmsync "
        f"enrolments'), Report source '{SOURCE_NAME}', 'Include default setup' UNTICKED",
        f"Add the columns in this order, nothing else: {columns}",
        f"Sorting: enable {REPORT_COLUMNS[0].title}, then {REPORT_COLUMNS[11].title}, both ascending",
        "Conditions: none (optionally 'Username is not empty'); Audience: none needed with viewall",
        "For DELTA runs that read only what changed: Filters: add "
        f"{', '.join(c.label for c in DELTA_FILTERS)}; add {SET_FILTERS} to the token's service; then "
        f"lmsync integrations update {integration_id} --setting report_delta_filters=true",
        f"Give {who} a system role allowing {' and '.join(ACCESS_CAPABILITIES)}; add "
        "core_reportbuilder_retrieve_report, core_reportbuilder_filters_reset (and for this check "
        f"{LIST_FUNCTION}, {TIMEZONE_FUNCTION}) to the token's service",
        f"Set {who}'s timezone to {tz} (Edit profile › Timezone; report_timezone) and leave Force timezone unset",
        f"lmsync integrations update {integration_id} --setting enrolment_report_id=N (N: the id in the report's "
        "address, …/reportbuilder/edit.php?id=N), then run lmsync scope-test again",
    ]
    return [f"Report route set-up {i}/{len(steps)}: {s}" for i, s in enumerate(steps, 1)]
