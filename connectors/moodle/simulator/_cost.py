"""Moodle-side cost model: an estimate of the PHP time a real site spends answering each call.

The figures come from ``shared/moodle-ws/BULK-READS.md`` (a real Moodle 5.0 site on a small 2-core
machine; relative, what matters is the ratio between routes):

* §1: a standard call costs Moodle **30–150 ms** of PHP; a full read of 150,000 enrolments through
  the standard functions is ~78,000 calls = 65–195 minutes (≈ 50–150 ms per call on average).
* §3: ``core_enrol_get_enrolled_users_with_capability`` for all 12 courses of the small site ≈ 650 ms.
* §2 (report builder): the whole small site (~166 rows) in one ``retrieve_report`` call takes 77–123 ms;
  150,000 enrolments in one ``perpage=0`` call take 24 s; pages of 10,000 rows take 2.1–2.4 s each,
  because every page re-runs the counted, sorted query over all rows.

The report cost is therefore modelled as ``base + scanned_rows * a + returned_rows * b``. Solving
with the two 150,000-row figures (24 s for all rows, 2.2 s for a 10,000-row page) gives
b ≈ 0.156 ms per returned (formatted) row and a ≈ 0.0036 ms per scanned (counted, sorted) row; with
the 90 ms base the small site (166 rows) costs ≈ 116 ms, inside the observed 77–123 ms.

Per-function figures for the standard functions are estimates placed inside the observed 30–150 ms
band: heavier for functions that build full user records or walk completion, lighter for site info.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["FUNCTION_MS", "DEFAULT_MS", "REJECTED_MS", "REPORT_BASE_MS", "REPORT_MS_PER_SCANNED_ROW",
           "REPORT_MS_PER_RETURNED_ROW", "report_rows_ms", "PhpCost"]

# ms of Moodle PHP per call, by function (BULK-READS.md §1: 30–150 ms per standard call).
FUNCTION_MS: dict[str, float] = {
    "core_webservice_get_site_info": 35.0,
    "core_enrol_get_enrolled_users": 120.0,          # full user records + roles + enrolled courses
    "core_enrol_get_users_courses": 90.0,            # progress/completion per course
    "core_enrol_get_enrolled_users_with_capability": 650.0,  # §3: 12 courses of the small site ≈ 650 ms
    "core_completion_get_course_completion_status": 60.0,
    "core_completion_get_activities_completion_status": 80.0,
    "core_completion_override_activity_completion_status": 70.0,
    "core_user_get_users": 150.0,
    "core_user_get_users_by_field": 60.0,
    "core_course_get_courses": 100.0,
    "core_course_get_courses_by_field": 120.0,
    "core_course_get_contents": 110.0,
    "core_course_get_categories": 40.0,
    "gradereport_user_get_grade_items": 150.0,
    "core_grades_update_grades": 80.0,
    "enrol_manual_enrol_users": 70.0,
    "enrol_manual_unenrol_users": 60.0,
    # Report builder bookkeeping calls: one small query each (inside the 30–150 ms band).
    "core_reportbuilder_list_reports": 40.0,
    "core_reportbuilder_view_report": 35.0,
    "core_reportbuilder_set_filters": 35.0,
    "core_reportbuilder_filters_reset": 35.0,
    # core_reportbuilder_retrieve_report: REPORT_BASE_MS + report_rows_ms(...)
    "core_reportbuilder_retrieve_report": 90.0,
}
DEFAULT_MS = 50.0      # any other function: §1's 30–150 ms band, lower half
REJECTED_MS = 30.0     # refused before the function ran (token, access, unknown function): §1's lower bound
REPORT_BASE_MS = FUNCTION_MS["core_reportbuilder_retrieve_report"]
REPORT_MS_PER_SCANNED_ROW = 0.0036   # §2: the counted, sorted query over every row, on each page
REPORT_MS_PER_RETURNED_ROW = 0.156   # §2: formatting one returned row (userdate, links, strings)


def report_rows_ms(scanned: int, returned: int) -> float:
    """Variable PHP cost of one report page: all `scanned` rows queried, `returned` rows formatted."""
    return scanned * REPORT_MS_PER_SCANNED_ROW + returned * REPORT_MS_PER_RETURNED_ROW


@dataclass
class PhpCost:
    """Accumulated estimate of the PHP time a site spent (one per `MoodleSite`, read by tests and benches)."""

    total_ms: float = 0.0
    by_function: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)

    @staticmethod
    def base_ms(function: str) -> float:
        """The fixed cost of one call of `function`."""
        return FUNCTION_MS.get(function, DEFAULT_MS)

    def charge(self, function: str, ms: float) -> None:
        """Add `ms` of PHP time spent answering one call of `function`."""
        self.total_ms += ms
        self.by_function[function] += ms
        self.calls[function] += 1

    @property
    def total_s(self) -> float:
        """`total_ms` in seconds."""
        return self.total_ms / 1000.0

    def reset(self) -> None:
        """Zero every counter."""
        self.total_ms = 0.0
        self.by_function.clear()
        self.calls.clear()
