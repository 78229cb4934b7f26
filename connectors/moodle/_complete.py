"""Completing a progression: override every tracked activity to complete, optionally grade.

Recipe (PROTOCOL §9): ``core_course_get_contents`` (excludecontents) → the cmids with
``completion > 0`` → ``core_completion_override_activity_completion_status newstate=1`` each.
With a ``score`` (0-100), every module grade item of the course gets the score scaled to its
range (``core_grades_update_grades``, component ``mod_<modname>``, activityid = cmid). Grade
items come from ``gradereport_user_get_grade_items`` (it names the cmid, module and range;
``core_grades_get_gradeitems`` does not). Everything that can make the input unusable is
checked before the first write, so an input error writes nothing.

Overrides go first: a grade written afterwards does not downgrade an overridden activity.
Moodle stamps the override time itself and aggregates course completion in its cron; the
warnings say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.moodle._moodle_ids import progression_ids
from engine.errors import ActionInputInvalid, RemoteError
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["complete", "tracked_cmids", "grade_items", "scaled"]

_CRON_WARNING = ("Moodle marks the course itself complete when its completion cron task "
                 "(\\core\\task\\completion_regular_task) runs; until then the progression shows the activities' progress")
_GRADE_STATUS = {1: "failed", 2: "multiple items", 4: "the grade item is locked"}


def tracked_cmids(contents: Any) -> list[int]:
    """The course module ids with completion tracking, from ``core_course_get_contents``."""
    return [int(m["id"]) for section in contents or [] for m in section.get("modules") or []
            if int(m.get("completion") or 0) > 0]


def grade_items(transport: Transport, cid: int, uid: int) -> list[dict[str, Any]]:
    """The course's activity grade items ``{cmid, module, itemnumber, min, max, locked}``."""
    result = transport.call("gradereport_user_get_grade_items", {"courseid": cid, "userid": uid})
    users = result.get("usergrades") if isinstance(result, dict) else None
    rows = users[0].get("gradeitems") or [] if users else []
    return [
        {"cmid": int(r["cmid"]), "module": r["itemmodule"], "itemnumber": int(r.get("itemnumber") or 0),
         "min": float(r.get("grademin") or 0), "max": float(r.get("grademax") or 0), "locked": bool(r.get("locked"))}
        for r in rows if r.get("itemtype") == "mod" and r.get("cmid") and r.get("itemmodule")
    ]


def scaled(score: int, item: dict[str, Any]) -> float:
    """*score* percent of the item's range."""
    return round(item["min"] + (item["max"] - item["min"]) * score / 100, 5)


def _write_grades(transport: Transport, cid: int, uid: int, items: list[dict[str, Any]], score: int, warnings: list[str]) -> None:
    for item in items:
        if item["locked"]:
            warnings.append(f"the grade item of activity {item['cmid']} is locked in Moodle; its grade was not changed")
            continue
        params = {"source": "lmsync", "courseid": cid, "component": f"mod_{item['module']}", "activityid": item["cmid"],
                  "itemnumber": item["itemnumber"], "grades": [{"studentid": uid, "grade": scaled(score, item)}]}
        status = transport.call("core_grades_update_grades", params)
        if status not in (0, "0"):
            what = _GRADE_STATUS.get(int(status) if str(status).isdigit() else -1, f"status {status}")
            raise RemoteError(f"grading activity {item['cmid']} failed ({what}); the activity completions were "
                              "already overridden", call="core_grades_update_grades", code=f"gradeupdate{status}")


def complete(integration: Integration, transport: Transport, payload: dict[str, Any],
             refresh: Callable[[int, int], dict[str, Any]]) -> dict[str, Any]:
    """Mark the progression's course complete for its user (see the module docstring)."""
    cid, uid = progression_ids(payload["course_progression_remote_id"])
    score = payload.get("score")
    contents = transport.call("core_course_get_contents", {"courseid": cid, "options": [{"name": "excludecontents", "value": 1}]})
    cmids = tracked_cmids(contents)
    items = grade_items(transport, cid, uid) if score is not None else []
    if score is not None and not items:
        raise ActionInputInvalid(f"course {cid} has no activity with a grade item, so a score cannot be recorded; nothing was written")
    if not cmids:
        raise ActionInputInvalid(f"course {cid} has no activity with completion tracking (or completion is disabled), "
                                 "so Moodle cannot mark it complete; nothing was written")
    warnings: list[str] = []
    for cmid in cmids:
        state = transport.call("core_completion_override_activity_completion_status", {"userid": uid, "cmid": cmid, "newstate": 1})
        if isinstance(state, dict) and not state.get("state"):
            warnings.append(f"Moodle did not record activity {cmid} as complete (state {state.get('state')})")
    if score is not None:
        _write_grades(transport, cid, uid, items, int(score), warnings)
    if payload.get("completed_at"):
        warnings.append(f"completed_at ({payload['completed_at']}) was not applied: Moodle records the time of the override")
    warnings.append(_CRON_WARNING)
    return {"remote_id": f"{cid}:{uid}", "refresh": [refresh(cid, uid)], "warnings": warnings}
