"""Report builder custom reports over the simulated site's own tables (source "Course participants").

The reference is ``shared/moodle-ws/BULK-READS.md`` §2 (a real Moodle 5.0 site). A report is
configured like the admin would in the UI, then read with ``core_reportbuilder_retrieve_report``:

* rows: one per (enrol instance × user enrolment × role assignment in the course context); an enrol
  instance without users gives one row with an empty user; the site course and deleted users are
  left out; hidden courses, suspended users, suspended/expired enrolments and teachers are included.
* cells: strings (``None`` for a raw column whose joined row is missing: ``user:username``,
  ``user:idnumber``, ``role:shortname``); ids only inside link HTML; names HTML-escaped; dates as
  ``userdate()`` text to the minute in the reading user's timezone (``strftimedaydatetime``).
* no ORDER BY unless column sorting is enabled: rows come in a different order on every call.
* filter values are stored per (user, report) and narrow the rows until reset.

Rows are rebuilt from `MoodleSite` tables on demand (cached until the next mutation), so they
agree with what core_enrol_* and core_completion_* answer for the same data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ._model import ROLES, Course, EnrolInstance, User, UserEnrolment
from ._site import COMPLETE_STATES, MoodleSite

__all__ = [
    "CustomReport", "ReportRow", "COLUMNS", "SYNC_COLUMNS", "DEFAULT_SETUP_COLUMNS", "CONDITIONS",
    "DATE_FILTERS", "SYNC_SORTING", "SYNC_FILTERS", "SOURCE", "SOURCE_NAME", "add_participants_report", "userdate", "user_timezone",
    "report_rows", "format_rows", "ROLE_AGGREGATIONS", "Column",
]

SOURCE = "core_course\\reportbuilder\\datasource\\participants"
SOURCE_NAME = "Course participants"
ROLE_AGGREGATIONS = ("", "groupconcatdistinct")

# The columns a sync needs (BULK-READS.md §2), in a sensible order.
SYNC_COLUMNS = (
    "course:courseshortnamewithlink", "user:fullnamewithlink", "enrol:plugin", "enrolment:status",
    "enrolment:timecreated", "enrolment:timestarted", "enrolment:timeended", "role:shortname",
    "completion:completed", "completion:timecompleted", "completion:timestarted", "user:username",
)
# What lmsync's set-up checklist asks for: sorting by course then username (rows of one
# (user, course) adjacent) and the date filters a report-route DELTA narrows the report with.
SYNC_SORTING = ("course:courseshortnamewithlink", "user:username")
SYNC_FILTERS = ("completion:timecompleted", "completion:timestarted", "enrolment:timecreated")
# "Include default setup" ticked: the datasource's default columns and the Active-only condition.
DEFAULT_SETUP_COLUMNS = ("course:coursefullnamewithlink", "enrol:plugin", "user:fullnamewithlink")

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_PLUGINS = {"manual": "Manual enrolments", "self": "Self enrolment", "guest": "Guest access",
            "cohort": "Cohort sync", "meta": "Course meta link", "database": "External database",
            "flatfile": "Flat file (CSV)", "lti": "Publish as LTI tool", "fee": "Enrolment on payment"}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def user_timezone(site: MoodleSite, user: User) -> str:
    """core_date::get_user_timezone(): forcetimezone, else the user's zone, else the site's ("99")."""
    if site.forcetimezone and site.forcetimezone != "99":
        return site.forcetimezone
    return site.timezone if user.timezone in ("", "99") else user.timezone


@lru_cache(maxsize=65536)
def userdate(timestamp: int, tz: str) -> str:
    """userdate($t, strftimedaydatetime) in English: "Wednesday, 2 December 2026, 6:44 AM"."""
    dt = datetime.fromtimestamp(timestamp, _zone(tz))
    hour = dt.hour % 12 or 12
    return (f"{_DAYS[dt.weekday()]}, {dt.day} {_MONTHS[dt.month - 1]} {dt.year}, "
            f"{hour}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}")


def _s(text: str) -> str:
    """s(): htmlspecialchars with ENT_QUOTES (the way names come out inside report links)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#039;"))


@dataclass(slots=True)
class ReportRow:
    """One joined source row: course × enrol instance × user enrolment × role(s)."""

    course: Course
    inst: EnrolInstance | None
    ue: UserEnrolment | None
    user: User | None
    roles: tuple[int, ...]  # () = no role assignment; several only with role aggregation


class _Ctx:
    """What a column callback needs besides the row: the site, the clock, the reader's timezone and
    whether the request's language pack formats dates as epoch seconds (``%s``)."""

    __slots__ = ("site", "now", "tz", "epoch")

    def __init__(self, site: MoodleSite, tz: str, epoch: bool = False) -> None:
        self.site, self.now, self.tz, self.epoch = site, site.now(), tz, epoch

    def date(self, value: int) -> str:
        return str(value) if self.epoch else userdate(value, self.tz)


# ---------------------------------------------------------------------------- raw values

def _timestarted(row: ReportRow, ctx: _Ctx) -> int | None:
    return None if row.ue is None else (row.ue.timestart or row.ue.timecreated)


def _timecompleted(row: ReportRow, ctx: _Ctx) -> int | None:
    return None if row.user is None else ctx.site.course_completions.get((row.course.id, row.user.id))


def _timeinprogress(row: ReportRow, ctx: _Ctx) -> int | None:
    """course_completions.timestarted: set when the first completion criterion is met
    (completion_criteria_completion::mark_complete → completion_completion::mark_inprogress);
    here the earliest completion of a criteria activity, else the course's completion time."""
    if row.user is None:
        return None
    site, course = ctx.site, row.course
    times = [rec.timemodified for cmid in course.criteria_cmids
             if (rec := site.cm_completion.get((cmid, row.user.id))) is not None and rec.state in COMPLETE_STATES]
    return min(times) if times else _timecompleted(row, ctx)


def _status(row: ReportRow, ctx: _Ctx) -> str:
    """Active / Suspended / Not current (outside the window or a disabled instance), "" without a user."""
    ue = row.ue
    if ue is None or row.user is None:
        return ""
    if ue.status != 0:
        return "Suspended"
    return "Active" if ctx.site.is_active_enrolment(ue, ctx.now) else "Not current"


def _completed(row: ReportRow, ctx: _Ctx) -> str:
    """Yes / No / "" (no course_completions row).

    The simulator has a course_completions row for a (course, user) once it is completed, and
    assumes the completion tasks created one (not completed yet) for every student of a course
    with completion enabled and criteria set.
    """
    if row.user is None:
        return ""
    key = (row.course.id, row.user.id)
    if key in ctx.site.course_completions:
        return "Yes"
    course = row.course
    if (ctx.site.completion_enabled and course.enablecompletion and course.criteria_cmids
            and 5 in ctx.site.course_roles.get(course.id, {}).get(row.user.id, ())):
        return "No"
    return ""


def _link(url: str, text: str) -> str:
    return f'<a href="{url}">{text}</a>'


def _course_link(attr: str) -> Callable[[ReportRow, _Ctx], str]:
    def cell(row: ReportRow, ctx: _Ctx) -> str:
        return _link(f"{ctx.site.wwwroot}/course/view.php?id={row.course.id}", _s(getattr(row.course, attr)))
    return cell


def _user_link(row: ReportRow, ctx: _Ctx) -> str:
    if row.user is None:
        return ""
    name = _s(f"{row.user.firstname} {row.user.lastname}")
    return _link(f"{ctx.site.wwwroot}/user/profile.php?id={row.user.id}", name)


def _roles(row: ReportRow, ctx: _Ctx) -> str | None:
    if not row.roles:
        return None
    return ", ".join(sorted({ROLES[r][0] for r in row.roles}))


@dataclass(frozen=True, slots=True)
class Column:
    """A datasource column: its English title, its formatted cell and its raw value (sort/filter)."""

    title: str
    cell: Callable[[ReportRow, _Ctx], str | None]
    raw: Callable[[ReportRow, _Ctx], Any]


def _date_column(title: str, raw: Callable[[ReportRow, _Ctx], int | None], empty: str = "") -> Column:
    def cell(row: ReportRow, ctx: _Ctx) -> str:
        value = raw(row, ctx)
        return ctx.date(value) if value else empty
    return Column(title, cell, raw)


def _user_attr(attr: str) -> Callable[[ReportRow, _Ctx], str | None]:
    return lambda row, ctx: None if row.user is None else getattr(row.user, attr)


COLUMNS: dict[str, Column] = {
    "course:courseshortnamewithlink": Column("Course short name with link", _course_link("shortname"),
                                             lambda r, c: r.course.shortname),
    "course:coursefullnamewithlink": Column("Course full name with link", _course_link("fullname"),
                                            lambda r, c: r.course.fullname),
    "course:shortname": Column("Course short name", lambda r, c: _s(r.course.shortname),
                               lambda r, c: r.course.shortname),
    "course:fullname": Column("Course full name", lambda r, c: _s(r.course.fullname), lambda r, c: r.course.fullname),
    "course:idnumber": Column("Course ID number", lambda r, c: r.course.idnumber, lambda r, c: r.course.idnumber),
    "user:fullnamewithlink": Column("Full name with link", _user_link,
                                    lambda r, c: None if r.user is None else (r.user.firstname, r.user.lastname)),
    "user:username": Column("Username", _user_attr("username"), _user_attr("username")),
    "user:idnumber": Column("ID number", _user_attr("idnumber"), _user_attr("idnumber")),
    "enrol:plugin": Column("Plugin", lambda r, c: "" if r.inst is None else _PLUGINS.get(r.inst.enrol, r.inst.enrol),
                           lambda r, c: None if r.inst is None else r.inst.enrol),
    "enrolment:status": Column("Status", _status, _status),
    "enrolment:timecreated": _date_column("Time created", lambda r, c: None if r.ue is None else r.ue.timecreated),
    "enrolment:timestarted": _date_column("Time started", _timestarted),
    "enrolment:timeended": _date_column("Time ended", lambda r, c: None if r.ue is None else r.ue.timeend),
    "role:shortname": Column("Short name", _roles, _roles),
    "completion:completed": Column("Completed", _completed, _completed),
    "completion:timecompleted": _date_column("Time completed", _timecompleted),
    "completion:timestarted": _date_column("Time started", _timeinprogress),
    "access:timeaccess": _date_column("Time of last access",
                                      lambda r, c: None if r.user is None else r.user.lastaccess, "Never"),
}
DATE_FILTERS = frozenset({"enrolment:timecreated", "enrolment:timestarted", "enrolment:timeended",
                          "completion:timecompleted", "completion:timestarted", "access:timeaccess"})


def _cond_active(row: ReportRow, ctx: _Ctx) -> bool:
    return _status(row, ctx) == "Active"


# Conditions an admin can add in the UI (their values cannot be set over WS), with conditiondata.
CONDITIONS: dict[str, tuple[Callable[[ReportRow, _Ctx], bool], dict[str, Any]]] = {
    "enrolment:status": (_cond_active, {"enrolment:status_operator": 1, "enrolment:status_value": 0}),
    "user:username": (lambda row, ctx: bool(row.user is not None and row.user.username),
                      {"user:username_operator": 8}),
}


@dataclass
class CustomReport:
    """A custom report (type 0) of source "Course participants" as configured in the UI.

    `columns` are datasource column identifiers in display order; `sorting` the identifiers with
    initial sorting enabled (ascending, in priority order; empty = no ORDER BY); `conditions` keys
    of `CONDITIONS`; `filters` date-column identifiers that have a filter; `audience` user ids of a
    "Manually added users" audience; `role_aggregation` "" or "groupconcatdistinct" for the role
    column; `user_filters` the stored filter values per user id.
    """

    id: int
    name: str
    columns: tuple[str, ...]
    usercreated: int = 2
    timecreated: int = 0
    timemodified: int = 0
    usermodified: int = 2
    sorting: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    audience: frozenset[int] = frozenset()
    role_aggregation: str = ""
    shuffle_seed: int = 0
    user_filters: dict[int, dict[str, Any]] = field(default_factory=dict)
    reads: int = 0
    source: str = SOURCE

    def configure(self, site: MoodleSite, **changes: Any) -> None:
        """Edit the report like the admin in the UI (bumps `timemodified`, drops cached rows)."""
        for key, value in changes.items():
            if not hasattr(self, key) or key in ("id", "user_filters", "reads"):
                raise ValueError(f"_reportbuilder.py: CustomReport.configure: unknown setting {key!r}")
            setattr(self, key, tuple(value) if key in ("columns", "sorting", "conditions", "filters") else value)
        _check(self)
        self.timemodified = max(site.now(), self.timemodified)
        site.touch()

    @property
    def conditiondata(self) -> str | None:
        """The stored condition values (JSON) or None without conditions (inferred shape)."""
        if not self.conditions:
            return None
        data: dict[str, Any] = {}
        for name in self.conditions:
            data.update(CONDITIONS[name][1])
        return json.dumps(data, separators=(",", ":"))

    @property
    def headers(self) -> list[str]:
        """Localized (English) column titles; not unique."""
        return [COLUMNS[c].title for c in self.columns]


def _check(report: CustomReport) -> None:
    for kind, names, known in (("column", report.columns, COLUMNS), ("sorting", report.sorting, report.columns),
                               ("condition", report.conditions, CONDITIONS), ("filter", report.filters, DATE_FILTERS)):
        for name in names:
            if name not in known:
                raise ValueError(f"_reportbuilder.py: report {report.id}: unknown {kind} {name!r}")
    if report.role_aggregation not in ROLE_AGGREGATIONS:
        raise ValueError(f"_reportbuilder.py: report {report.id}: role_aggregation "
                         f"{report.role_aggregation!r} not in {ROLE_AGGREGATIONS}")


def add_participants_report(site: MoodleSite, name: str = "lmsync enrolments", *,
                            columns: Iterable[str] | None = None, sorting: Iterable[str] = (),
                            include_default_setup: bool = False, conditions: Iterable[str] = (),
                            filters: Iterable[str] = (), audience: Iterable[int] = (),
                            role_aggregation: str = "", usercreated: int = 2, shuffle_seed: int = 0) -> CustomReport:
    """Create a "Course participants" custom report on `site` (what the admin does once in the UI).

    `include_default_setup` mirrors the UI checkbox: default columns (unless `columns` is given) and
    the condition *enrolment status = Active*, which drops suspended and expired enrolments.
    """
    conds = tuple(conditions)
    if include_default_setup and "enrolment:status" not in conds:
        conds = ("enrolment:status", *conds)
    cols = tuple(columns) if columns is not None else (DEFAULT_SETUP_COLUMNS if include_default_setup else SYNC_COLUMNS)
    now = site.now()
    report = CustomReport(site.next_id("reportbuilder_report"), name, cols, usercreated, now, now, usercreated,
                          tuple(sorting), conds, tuple(filters), frozenset(audience), role_aggregation, shuffle_seed)
    _check(report)
    site.reports[report.id] = report  # type: ignore[assignment]  # shares the table with static reports
    site.touch()
    return report


# ---------------------------------------------------------------------------- rows

def _source_rows(site: MoodleSite, aggregate_roles: bool) -> list[ReportRow]:
    """The joined source rows (site course and deleted users left out), cached until the next mutation."""
    key = ("reportbuilder_rows", aggregate_roles)
    hit = site.cache.get(key)
    if hit is not None:
        return hit
    rows: list[ReportRow] = []
    for course in site.courses.values():
        if course.id == 1 or course.format == "site":
            continue
        instances = site.course_instances.get(course.id, [])
        if not instances:
            rows.append(ReportRow(course, None, None, None, ()))
            continue
        enrolled = site.course_enrolments.get(course.id, {})
        roles = site.course_roles.get(course.id, {})
        by_instance: dict[int, list[UserEnrolment]] = {}
        for per_user in enrolled.values():
            for ue in per_user:
                by_instance.setdefault(ue.enrolid, []).append(ue)
        for inst in instances:
            ues = by_instance.get(inst.id)
            if not ues:
                rows.append(ReportRow(course, inst, None, None, ()))
                continue
            for ue in ues:
                user = site.users.get(ue.userid)
                if user is None or user.deleted:
                    continue
                held = tuple(sorted(roles.get(user.id, ())))
                if aggregate_roles or len(held) <= 1:
                    rows.append(ReportRow(course, inst, ue, user, held))
                else:
                    rows.extend(ReportRow(course, inst, ue, user, (rid,)) for rid in held)
    site.cache[key] = rows
    return rows


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _date_filter(name: str, values: dict[str, Any], now: int) -> Callable[[int | None], bool] | None:
    """core_reportbuilder\\local\\filters\\date for the operators a sync uses; None = no restriction."""
    operator = _int(values.get(f"{name}_operator"))
    if operator == 0:
        return None
    if operator == 1:
        return lambda v: bool(v)
    if operator == 2:
        return lambda v: not v
    if operator == 3:
        start, end = _int(values.get(f"{name}_from")), _int(values.get(f"{name}_to"))
        return lambda v: v is not None and (not start or v >= start) and (not end or v < end)
    if operator == 7:
        return lambda v: v is not None and v < now
    if operator == 8:
        return lambda v: v is not None and v > now
    from ._access import moodle_error
    raise moodle_error("simulatornotimplemented",
                       f"The Moodle simulator does not implement date filter operator {operator} ({name})")


def report_rows(site: MoodleSite, report: CustomReport, reader: User,
                lang: str = "") -> tuple[list[ReportRow], _Ctx]:
    """Every row the reader gets (conditions, then the reader's filters), in query order.

    `lang` is the request's moodlewssettinglang: an installed ``%s`` date pack (`site.epoch_date_langs`)
    makes date cells epoch seconds; any other value keeps English userdate() text (an unknown pack is
    silently ignored, like the real site).
    """
    ctx = _Ctx(site, user_timezone(site, reader), lang in site.epoch_date_langs)
    values = report.user_filters.get(reader.id, {})
    if report.sorting:  # the same query gives the same rows until the next mutation: keep them
        key = ("reportbuilder_sorted", report.id, report.sorting, report.conditions, report.filters,
               report.role_aggregation, json.dumps(values, sort_keys=True, default=str), ctx.now)
        hit = site.cache.get(key)
        if hit is None:
            hit = site.cache[key] = _query(site, report, values, ctx)
        return hit, ctx
    return _query(site, report, values, ctx), ctx


def _query(site: MoodleSite, report: CustomReport, values: dict[str, Any], ctx: _Ctx) -> list[ReportRow]:
    rows = _source_rows(site, report.role_aggregation == "groupconcatdistinct")
    for name in report.conditions:
        keep = CONDITIONS[name][0]
        rows = [r for r in rows if keep(r, ctx)]
    for name in report.filters:
        test = _date_filter(name, values, ctx.now)
        if test is not None:
            raw = COLUMNS[name].raw
            rows = [r for r in rows if test(raw(r, ctx))]
    if report.sorting:
        keys = [COLUMNS[c].raw for c in report.sorting]
        # The ids only break ties so the simulator's order is stable; a real database is stable in practice.
        rows = sorted(rows, key=lambda r: (*(_sortable(k(r, ctx)) for k in keys), r.course.id,
                                           r.inst.id if r.inst else 0, r.ue.id if r.ue else 0, r.roles))
    else:
        report.reads += 1
        rows = list(rows)
        random.Random(f"{report.shuffle_seed}:{report.id}:{report.reads}").shuffle(rows)
    return rows


def _sortable(value: Any) -> tuple:
    """ASC with NULLs last (PostgreSQL, the reference site's database), text case-insensitively."""
    if value is None:
        return (1, "")
    if isinstance(value, tuple):
        return (0, tuple(str(v).casefold() for v in value))
    return (0, value.casefold() if isinstance(value, str) else value)


def format_rows(report: CustomReport, rows: list[ReportRow], ctx: _Ctx) -> list[dict[str, list[str | None]]]:
    """custom_report_table_view::format_row() for each row: {"columns": [cell, ...]}."""
    cells = [COLUMNS[c].cell for c in report.columns]
    return [{"columns": [cell(row, ctx) for cell in cells]} for row in rows]
