"""The raw limit: plain httpx making exactly the Moodle calls of lmsync's Moodle strategy.

Same functions, same parameters, same pages, same concurrency (8 per fan-out or look-up, 4 for
frameworks), JSON parsed with the stdlib — and nothing else: no mapping, no validation, no
storage. Also derives the quantities of the call formula (U, C, F, K_f, E_c, S_c, X) from what
it read, so the bench can check lmsync's counted calls against the formula.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

__all__ = ["run_raw"]

_PAGE = 1000


class _Client:
    def __init__(self, base_url: str, token: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.http = httpx.Client(timeout=120, limits=limits)
        self.url = base_url + "/webservice/rest/server.php"
        self.token = token
        self.calls: Counter[str] = Counter()
        self.wait_s = 0.0  # summed over threads: time from send to the last byte received
        self.lock = threading.Lock()

    def call(self, function: str, form: list[tuple[str, Any]]) -> Any:
        data = [("wstoken", self.token), ("wsfunction", function), ("moodlewsrestformat", "json"), *form]
        started = time.perf_counter()
        response = self.http.post(self.url, content=str(httpx.QueryParams(data)).encode(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        with self.lock:
            self.wait_s += time.perf_counter() - started
            self.calls[function] += 1
        return orjson.loads(response.content)


def _paged(client: _Client, function: str, form: list[tuple[str, Any]], offset_keys: tuple[str, str]) -> list[dict]:
    out: list[dict] = []
    offset = 0
    while True:
        page = client.call(function, [*form, (offset_keys[0], offset), (offset_keys[1], _PAGE)])
        out.extend(page)
        if len(page) < _PAGE:
            return out
        offset += len(page)


def run_raw(base_url: str, token: str, concurrency: int = 8, report_id: int | None = None) -> dict[str, Any]:
    """Make every call; return wall seconds, calls per model, records per model and formula inputs.
    With *report_id*, course_progressions are read as the report route reads them."""
    client = _Client(base_url, token, concurrency)
    pool = ThreadPoolExecutor(concurrency)
    pool4 = ThreadPoolExecutor(4)
    calls: dict[str, int] = {}
    records: dict[str, int] = {}
    t0 = time.perf_counter()

    def mark(model: str, before: int) -> None:
        calls[model] = sum(client.calls.values()) - before

    n = sum(client.calls.values())
    users = [u for u in client.call("core_user_get_users", [("criteria[0][key]", "lastname"), ("criteria[0][value]", "%")])["users"]
             if u["id"] != 1 and u.get("username") != "guest"]
    records["users"] = len(users)
    mark("users", n)

    n = sum(client.calls.values())
    frameworks = client.call("core_competency_list_competency_frameworks",
                             [("sort", "id"), ("order", "ASC"), ("context[contextid]", 1), ("includes", "children")])
    comp_form = lambda fw: [("filters[0][column]", "competencyframeworkid"), ("filters[0][value]", str(fw["id"])),  # noqa: E731
                            ("sort", "id"), ("order", "ASC")]
    per_fw = list(pool4.map(lambda fw: _paged(client, "core_competency_list_competencies", comp_form(fw), ("skip", "limit")), frameworks))
    records["skills"] = sum(map(len, per_fw))
    mark("skills", n)

    n = sum(client.calls.values())
    courses = [c for c in client.call("core_course_get_courses", []) if c.get("format") != "site" and c["id"] != 1]
    records["courses"] = records["course_revisions"] = len(courses)
    mark("courses", n)
    calls["course_revisions"] = 0

    n = sum(client.calls.values())
    links = list(pool.map(lambda c: client.call("core_competency_list_course_competencies", [("id", c["id"])]), courses))
    records["revision_skills"] = sum(map(len, links))
    mark("revision_skills", n)

    n = sum(client.calls.values())
    if report_id is not None:
        rows, pairs = _report(client, report_id)
        records["course_progressions"] = pairs
        mark("course_progressions", n)
        wall = time.perf_counter() - t0
        pool.shutdown()
        pool4.shutdown()
        client.http.close()
        return {"wall_s": wall, "calls": calls, "records": records, "wait_s": client.wait_s,
                "formula_inputs": {"U": len(users), "C": len(courses), "F": len(frameworks), "K": [len(x) for x in per_fw],
                                   "R": rows, "P": REPORT_PAGE}}
    suspended_lists = list(pool.map(lambda c: _enrolled(client, c["id"], True), courses))
    suspended = {(c["id"], u["id"]) for c, lst in zip(courses, suspended_lists) for u in lst}
    usercourses = list(pool.map(lambda u: client.call("core_enrol_get_users_courses", [("userid", u["id"]), ("returnusercount", 0)]), users))
    uc_index = {}
    for u, lst in zip(users, usercourses):
        for c in lst:
            uc_index.setdefault((c["id"], u["id"]), c)
    enrolled_lists = list(pool.map(lambda c: _enrolled(client, c["id"], False), courses))
    needs = []
    for c, lst in zip(courses, enrolled_lists):
        for u in lst:
            key = (c["id"], u["id"])
            if key in suspended:
                continue
            uc = uc_index.get(key)
            if uc is None or _moodle_bool(uc.get("completed")):
                needs.append(key)
    list(pool.map(lambda k: client.call("core_completion_get_course_completion_status",
                                        [("courseid", k[0]), ("userid", k[1])]), needs))
    records["course_progressions"] = sum(map(len, enrolled_lists))
    mark("course_progressions", n)
    wall = time.perf_counter() - t0
    pool.shutdown()
    pool4.shutdown()
    client.http.close()
    return {
        "wall_s": wall, "calls": calls, "records": records, "wait_s": client.wait_s,
        "formula_inputs": {
            "U": len(users), "C": len(courses), "F": len(frameworks), "K": [len(x) for x in per_fw],
            "E": [len(x) for x in enrolled_lists], "S": [len(x) for x in suspended_lists], "X": len(needs),
        },
    }


REPORT_PAGE = 10_000


def _report(client: _Client, report_id: int) -> tuple[int, int]:
    """The report route's calls: a filter reset, then sorted pages until the row count is
    reached; ``(rows, distinct (course, user) pairs with a user)``."""
    client.call("core_reportbuilder_filters_reset", [("reportid", report_id)])
    rows = page = 0
    pairs: set[tuple[str, str]] = set()
    while True:
        answer = client.call("core_reportbuilder_retrieve_report", [("reportid", report_id), ("page", page),
                                                                   ("perpage", REPORT_PAGE), ("moodlewssettinglang", "en")])
        got = answer["data"]["rows"]
        rows += len(got)
        pairs.update((r["columns"][0], r["columns"][1]) for r in got if r["columns"][1])
        if not got or rows >= answer["data"]["totalrowcount"]:
            return rows, len(pairs)
        page += 1


def _enrolled(client: _Client, course_id: int, only_suspended: bool) -> list[dict]:
    out: list[dict] = []
    offset = 0
    while True:
        opts: list[tuple[str, Any]] = [("onlysuspended", 1)] if only_suspended else []
        opts += [("userfields", "id"), ("limitfrom", offset), ("limitnumber", _PAGE)]
        form: list[tuple[str, Any]] = [("courseid", course_id)]
        for i, (name, value) in enumerate(opts):
            form += [(f"options[{i}][name]", name), (f"options[{i}][value]", value)]
        page = client.call("core_enrol_get_enrolled_users", form)
        out.extend(page)
        if len(page) < _PAGE:
            return out
        offset += len(page)


def _moodle_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)
