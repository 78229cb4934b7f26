"""Scope testing against a Canvas site: what the integration's token can really read and write.

Two things can stop a Canvas call: a **developer-key scope** (a token of a scoped developer
key may only call the endpoints whose ``url:METHOD|/api/v1/…`` scopes the key holds; Canvas
answers 401 "Insufficient scopes on access token.") and an **account-role permission** of the
token's user (401 "user not authorized to perform that action"). Every read endpoint a model
needs is probed with a one-record call (``per_page=1``): an insufficient-scope answer makes the
model MISSING with the scopes to add; an unauthorized answer FORBIDDEN with the permissions to
grant. Fields Canvas withholds silently make a model DEGRADED (``email`` without
``read_email_addresses``; ``sis_course_id`` — the origin id — without ``read_sis``).

Writes are not probed by writing: their permissions come from ``GET
/api/v1/accounts/:id/permissions`` (side-effect free) and the conclude endpoint's scope from a
``DELETE`` of enrollment 0 (the scope is checked before the record is looked up: a 404 means
the scope is held). The scopes of the other write endpoints cannot be checked without writing;
the entry says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.connector import ScopeEntry, ScopeReport
from engine.errors import AccessDenied, AuthenticationFailed, PermissionMissing, RemoteError, RemoteNotFound
from engine.models import MODELS
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["scope_test", "scope_name", "PERMISSIONS"]

# endpoint → the account-role permissions it needs (Canvas RoleOverride names)
PERMISSIONS: dict[str, list[str]] = {
    "GET /api/v1/accounts/{account_id}/users": ["read_roster"],
    "GET /api/v1/users/{user_id}/logins": ["read_roster"],
    "GET /api/v1/accounts/{account_id}/outcome_group_links": ["read_outcomes"],
    "GET /api/v1/accounts/{account_id}/courses": ["read_course_list"],
    "GET /api/v1/courses/{course_id}": ["read_course_content"],
    "GET /api/v1/courses/{course_id}/outcome_group_links": ["read_outcomes"],
    "GET /api/v1/courses/{course_id}/enrollments": ["read_roster"],
    "GET /api/v1/courses/{course_id}/bulk_user_progress": ["view_all_grades"],
    "POST /api/v1/accounts/{account_id}/courses": ["manage_courses_add", "manage_sis"],
    "PUT /api/v1/courses/{course_id}": ["manage_courses_admin"],
    "POST /api/v1/courses/{course_id}/enrollments": ["add_student_to_course"],
    "DELETE /api/v1/courses/{course_id}/enrollments/{enrollment_id}": ["remove_student_from_course"],
}
# an action whose permissions are not its endpoints': deactivate only sends course[event]=claim
_ACTION_PERMISSIONS = {"deactivate_course": {"PUT /api/v1/courses/{course_id}": ["manage_courses_publish"]}}
# extra parameters of a probe, so it shows the fields the mapping reads
_PROBE_PARAMS = {"GET /api/v1/accounts/{account_id}/users": {"include": ["email"]}}
_PERMISSIONS_CALL = "GET /api/v1/accounts/{account_id}/permissions"
_SELF = "GET /api/v1/users/self"
_WRITE_UNTESTED = "its developer-key scope cannot be checked without writing; make sure the key holds {scope}"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def scope_name(endpoint: str) -> str:
    """The developer-key scope of an endpoint template: ``url:GET|/api/v1/accounts/:account_id/users``."""
    method, _, path = endpoint.partition(" ")
    return f"url:{method}|" + _PLACEHOLDER.sub(r":\1", path)


@dataclass
class _Result:
    status: str  # OK | DEGRADED | FORBIDDEN | MISSING | UNTESTED
    scopes: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    detail: str = ""


class _Prober:
    """Probes each endpoint once, remembering ids found on the way for later probes."""

    def __init__(self, integration: Integration, transport: Transport, me: dict[str, Any]) -> None:
        self.call = transport.call
        settings = integration.settings or {}
        self.account = settings.get("account_id", "1")
        self.me = me
        self.course: int | None = None
        self.user: Any = None  # a listed user (probes per-user endpoints on someone else if possible)
        self.granted: dict[str, bool] | None = None
        self.results: dict[str, _Result] = {}

    def result(self, endpoint: str) -> _Result:
        if endpoint not in self.results:
            self.results[endpoint] = self._probe(endpoint)
        return self.results[endpoint]

    def _params(self, endpoint: str) -> dict[str, Any] | None:
        params: dict[str, Any] = {"per_page": 1, **_PROBE_PARAMS.get(endpoint, {})}
        for name in _PLACEHOLDER.findall(endpoint):
            if name == "account_id":
                params[name] = self.account
            elif name == "user_id":
                params[name] = self.user or self.me.get("id", "self")
            elif name == "course_id":
                if self._first_course() is None:
                    return None
                params[name] = self.course
            else:
                return None
        return params

    def _first_course(self) -> int | None:
        if self.course is None:
            try:
                page = self.call("GET /api/v1/accounts/{account_id}/courses", {"account_id": self.account, "per_page": 1})
                items = page.get("items") if isinstance(page, dict) else None
                self.course = int(items[0]["id"]) if items else None
            except RemoteError:
                self.course = None
        return self.course

    def _granted(self) -> dict[str, bool]:
        if self.granted is None:
            special = [p for table in _ACTION_PERMISSIONS.values() for ps in table.values() for p in ps]
            wanted = sorted({*(p for ps in PERMISSIONS.values() for p in ps), *special})
            try:
                answer = self.call(_PERMISSIONS_CALL, {"account_id": self.account, "permissions": wanted})
            except RemoteError:
                answer = {}
            self.granted = {p: answer.get(p) in (True, "true") for p in wanted} if isinstance(answer, dict) else {}
        return self.granted

    def _probe(self, endpoint: str) -> _Result:
        method = endpoint.split(" ", 1)[0]
        scope = scope_name(endpoint)
        if method != "GET":
            return self._write(endpoint, scope)
        params = self._params(endpoint)
        if params is None:
            return _Result("UNTESTED", detail=f"{endpoint}: no course to probe with")
        try:
            answer = self.call(endpoint, params)
        except AuthenticationFailed:
            raise
        except AccessDenied as exc:
            return _Result("MISSING", scopes=[scope], detail=f"{endpoint}: {exc.remote_message}")
        except PermissionMissing as exc:
            return _Result("FORBIDDEN", permissions=PERMISSIONS.get(endpoint, []), detail=f"{endpoint}: {exc.remote_message}")
        except RemoteNotFound as exc:
            return _Result("FORBIDDEN", detail=f"{endpoint}: {exc.remote_message} (account_id {self.account!r} is not an "
                                               "account the token's user can see)")
        except RemoteError as exc:
            if exc.code == "not_module_based":
                return _Result("OK")
            return _Result("UNTESTED", detail=f"{endpoint}: the probe got an unexpected answer ({exc})")
        return self._withheld(endpoint, answer)

    def _withheld(self, endpoint: str, answer: Any) -> _Result:
        items = answer.get("items") if isinstance(answer, dict) else None
        sample = items[0] if items else None
        if not isinstance(sample, dict):
            return _Result("OK")
        if endpoint.endswith("/accounts/{account_id}/users"):
            self.user = sample.get("id")
        if endpoint.endswith("/accounts/{account_id}/users") and "email" not in sample:
            return _Result("DEGRADED", permissions=["read_email_addresses"], withheld=["work_email"],
                           detail=f"{endpoint}: without read_email_addresses Canvas leaves out users' email")
        if endpoint.endswith("/accounts/{account_id}/courses") and "sis_course_id" not in sample:
            return _Result("DEGRADED", permissions=["read_sis"], withheld=["origin_id"],
                           detail=f"{endpoint}: without read_sis Canvas leaves out sis_course_id (the origin id)")
        return _Result("OK")

    def permitted(self, endpoint: str, permissions: list[str]) -> _Result:
        """FORBIDDEN naming what the token's user lacks of *permissions*, else the endpoint's result."""
        granted = self._granted()
        lacking = [p for p in permissions if not granted.get(p, False)]
        if lacking:
            return _Result("FORBIDDEN", permissions=lacking, detail=f"{endpoint}: the token's user lacks {', '.join(lacking)}")
        return _Result("OK")

    def _write(self, endpoint: str, scope: str) -> _Result:
        granted = self._granted()
        lacking = [p for p in PERMISSIONS.get(endpoint, []) if not granted.get(p, False)]
        if lacking:
            return _Result("FORBIDDEN", permissions=lacking, detail=f"{endpoint}: the token's user lacks {', '.join(lacking)}")
        if endpoint.startswith("DELETE ") and self._first_course() is not None:
            try:
                self.call(endpoint, {"course_id": self.course, "enrollment_id": 0})
            except AccessDenied as exc:
                return _Result("MISSING", scopes=[scope], detail=f"{endpoint}: {exc.remote_message}")
            except RemoteError:
                pass  # 404 for enrollment 0: the scope is held
            return _Result("OK")
        return _Result("OK", detail=f"{endpoint}: " + _WRITE_UNTESTED.format(scope=scope))


def _entry(name: str, endpoints: list[str], prober: _Prober) -> ScopeEntry:
    kind = "model" if name in MODELS else "action"
    special = _ACTION_PERMISSIONS.get(name, {})
    results = [prober.permitted(e, special[e]) if e in special else prober.result(e) for e in endpoints]
    entry = ScopeEntry(name=name, kind=kind, status="OK")
    scopes = sorted({s for r in results for s in r.scopes})
    forbidden = [r for r in results if r.status == "FORBIDDEN"]
    degraded = [r for r in results if r.status == "DEGRADED"]
    if scopes:
        entry.status, entry.missing_functions = "MISSING", scopes
    elif forbidden:
        entry.status = "FORBIDDEN"
        entry.missing_capabilities = sorted({p for r in forbidden for p in r.permissions})
    elif degraded:
        entry.status = "DEGRADED"
        entry.missing_capabilities = sorted({p for r in degraded for p in r.permissions})
        entry.withheld_fields = sorted({f for r in degraded for f in r.withheld})
    entry.detail = "; ".join(dict.fromkeys(r.detail for r in results if r.detail))
    return entry


def _checklist(entries: list[ScopeEntry], to_add: list[str], who: str) -> list[str]:
    steps: list[str] = []
    if to_add:
        steps.append("Admin > Developer Keys > (the token's key) > Enforce Scopes: add " + ", ".join(to_add))
    perms = sorted({p for e in entries if e.status == "FORBIDDEN" for p in e.missing_capabilities})
    if perms:
        steps.append(f"Admin > (account) > Permissions: give {who}'s account role these permissions: {', '.join(perms)}")
    optional = sorted({p for e in entries if e.status == "DEGRADED" for p in e.missing_capabilities} - set(perms))
    if optional:
        steps.append(f"Optional, so Canvas stops withholding fields: allow {', '.join(optional)} for {who}")
    for e in entries:
        if e.status == "OK" and e.detail:
            steps.append(f"Check ({e.name}): {e.detail}")
    if not to_add and not perms and not optional:
        steps.insert(0, "Nothing to add: the token can read every model and call every action's endpoints.")
    return steps


def scope_test(integration: Integration, transport: Transport, needs: dict[str, list[str]]) -> ScopeReport:
    """Probe the site with *integration*'s token and classify every model and action in *needs*."""
    me = transport.call(_SELF, {}) or {}
    prober = _Prober(integration, transport, me if isinstance(me, dict) else {})
    entries = [_entry(name, sorted(endpoints), prober) for name, endpoints in needs.items()]
    to_add = sorted({s for e in entries for s in e.missing_functions})
    who = str(me.get("name") or "the token's user") if isinstance(me, dict) else "the token's user"
    remote = {"user_id": me.get("id"), "user_name": me.get("name"), "account_id": prober.account} if isinstance(me, dict) else {}
    return ScopeReport(entries=entries, functions_to_add=to_add, checklist=_checklist(entries, to_add, who), remote_info=remote)
