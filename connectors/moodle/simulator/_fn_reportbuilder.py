"""core_reportbuilder_* web-service functions (custom reports; BULK-READS.md §2 is the reference).

Permissions follow ``core_reportbuilder\\permission``: the report list needs one of
moodle/reportbuilder:view|edit|editall; a report additionally needs editall, viewall, being its
creator with edit, or being in its audience. Refusals are ``report_access_exception`` /
``errorreportview`` / "You cannot view this report".
"""

from __future__ import annotations

import json
from typing import Any

from ._access import Call
from ._cost import report_rows_ms
from ._errors import MissingRecord, MoodleError
from ._model import Report, User
from ._reportbuilder import SOURCE_NAME, CustomReport, format_rows, report_rows

__all__ = ["FUNCTIONS", "ReportAccessDenied"]

_VIEW, _VIEWALL = "moodle/reportbuilder:view", "moodle/reportbuilder:viewall"
_EDIT, _EDITALL = "moodle/reportbuilder:edit", "moodle/reportbuilder:editall"


class ReportAccessDenied(MoodleError):
    """core_reportbuilder\\report_access_exception (a moodle_exception of component reportbuilder)."""

    kind = "core_reportbuilder\\report_access_exception"

    def __init__(self) -> None:
        super().__init__("errorreportview", "You cannot view this report")


def _can_list(call: Call) -> bool:
    return call.can(_VIEW) or call.can(_EDIT) or call.can(_EDITALL)


def _usercreated(report: CustomReport | Report) -> int:
    return report.usercreated if isinstance(report, CustomReport) else 2


def _can_view(call: Call, report: CustomReport | Report) -> bool:
    if not _can_list(call):
        return False
    if call.can(_EDITALL) or call.can(_VIEWALL):
        return True
    if _usercreated(report) == call.caller.id and call.can(_EDIT):
        return True
    return isinstance(report, CustomReport) and call.caller.id in report.audience


def _report(call: Call, reportid: int) -> CustomReport | Report:
    """manager::get_report_from_id() (invalidrecord) + permission::require_can_view_report()."""
    report = call.site.reports.get(reportid)
    if report is None:
        raise MissingRecord("reportbuilder_report",
                            f"SELECT * FROM {{reportbuilder_report}} WHERE id = ?\n[array (\n  0 => {reportid},\n)]")
    if not _can_view(call, report):
        raise ReportAccessDenied()
    return report


def _user_summary(call: Call, user: User | None, userid: int) -> dict[str, Any]:
    """core_user\\external\\user_summary_exporter (identity = email, the default showuseridentity)."""
    root = call.site.wwwroot
    pic = f"{root}/theme/image.php/boost/core/1/u/"
    if user is None:
        return {"id": userid, "fullname": "", "identity": "", "profileurl": f"{root}/user/profile.php?id={userid}",
                "profileimageurl": pic + "f1", "profileimageurlsmall": pic + "f2"}
    return {"id": user.id, "email": user.email, "idnumber": user.idnumber, "phone1": user.phone1,
            "phone2": user.phone2, "department": user.department, "institution": user.institution,
            "fullname": f"{user.firstname} {user.lastname}", "identity": user.email,
            "profileurl": f"{root}/user/profile.php?id={user.id}",
            "profileimageurl": pic + "f1", "profileimageurlsmall": pic + "f2"}


def _details(call: Call, report: CustomReport | Report) -> dict[str, Any]:
    """custom_report_details_exporter."""
    custom = isinstance(report, CustomReport)
    modifier = report.usermodified if custom else 2
    return {"name": report.name, "source": report.source, "type": 0, "uniquerows": False,
            "conditiondata": report.conditiondata if custom else None, "settingsdata": None, "contextid": 1,
            "component": "", "area": "", "itemid": 0, "usercreated": _usercreated(report), "id": report.id,
            "timecreated": report.timecreated if custom else 0, "timemodified": report.timemodified if custom else 0,
            "usermodified": modifier, "sourcename": SOURCE_NAME,
            "modifiedby": _user_summary(call, call.site.users.get(modifier), modifier)}


def list_reports(call: Call, params: dict) -> dict:
    """core_reportbuilder_list_reports: reports the user may view, ORDER BY name, id, paged."""
    if not _can_list(call):
        raise ReportAccessDenied()
    visible = sorted((r for r in call.site.reports.values() if _can_view(call, r)), key=lambda r: (r.name or "", r.id))
    page, perpage = params["page"], params["perpage"]
    if perpage > 0:
        start = max(page * perpage, 0)
        visible = visible[start:start + perpage]
    return {"reports": [_details(call, r) for r in visible], "warnings": []}


def _page(rows: list, page: int, perpage: int) -> list:
    """table_sql::query_db(): LIMIT perpage OFFSET page*perpage; perpage <= 0 = every row."""
    if perpage <= 0:
        return rows
    start = max(page * perpage, 0)
    return rows[start:start + perpage]


def retrieve_report(call: Call, params: dict) -> dict:
    """core_reportbuilder_retrieve_report: details + one page of formatted rows."""
    report = _report(call, params["reportid"])
    if isinstance(report, CustomReport):
        rows, ctx = report_rows(call.site, report, call.caller, call.settings.get("lang", ""))
        chunk = _page(rows, params["page"], params["perpage"])
        out_rows = format_rows(report, chunk, ctx)
        headers, total = report.headers, len(rows)
    else:  # a static report registered with MoodleSite.add_report()
        chunk = _page(report.rows, params["page"], params["perpage"])
        out_rows = [{"columns": list(r)} for r in chunk]
        headers, total = report.headers, len(report.rows)
    call.extra_ms += report_rows_ms(total, len(chunk))
    return {"details": _details(call, report),
            # BULK-READS.md §2: a page past the end answers totalrowcount 0, not the real count.
            "data": {"headers": headers, "rows": out_rows, "totalrowcount": total if out_rows else 0},
            "warnings": []}


def view_report(call: Call, params: dict) -> dict:
    """core_reportbuilder_view_report: permission check, report_viewed event (not modelled)."""
    _report(call, params["reportid"])
    return {"status": True, "warnings": []}


def _decode_object(text: str) -> dict[str, Any]:
    """(array) json_decode($text): a JSON object → its members; anything else → []."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def set_filters(call: Call, params: dict) -> bool:
    """core_reportbuilder_set_filters: store the CALLING user's filter values (replacing earlier ones)."""
    report = _report(call, params["reportid"])
    if isinstance(report, CustomReport):
        report.user_filters[call.caller.id] = _decode_object(params["values"])
        call.site.touch()
    return True


def filters_reset(call: Call, params: dict) -> bool:
    """core_reportbuilder_filters_reset: drop the calling user's filter values for the report."""
    report = _report(call, params["reportid"])
    if isinstance(report, CustomReport) and report.user_filters.pop(call.caller.id, None) is not None:
        call.site.touch()
    return True


FUNCTIONS = {
    "core_reportbuilder_list_reports": list_reports,
    "core_reportbuilder_retrieve_report": retrieve_report,
    "core_reportbuilder_view_report": view_report,
    "core_reportbuilder_set_filters": set_filters,
    "core_reportbuilder_filters_reset": filters_reset,
}
