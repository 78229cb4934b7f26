"""The operator console over real HTTP (plain httpx, no JavaScript): login (refused without a
key, with a key limited to integrations, without CSRF), the session cookie and its expiry
(injected clock), server-side authorisation (forged, revoked), CSRF on every POST, the pages'
actions (confirm held deletions, scope test, model test, sync now, webhook retry, API keys,
explorer paging) and escaping of remote data."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._console_session import SESSION_COOKIE, ConsoleSessions
from engine.store.base import Integration, Query, Store, WebhookDelivery, WebhookEndpoint

from .conftest import make_store, mrec, write

XSS = "<img src=x onerror=alert(1)>"
IID, OTHER = "moodle:CONSOLEAAAAAAAAAAAAAAAA", "moodle:CONSOLEBBBBBBBBBBBBBBBB"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """An adjustable clock for the sessions."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Stubs:
    """Engine services that record their calls."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def force_sync(self, iid: str, kind: str) -> tuple[str, bool]:
        self.calls.append(("sync", iid, kind))
        return "sync1", False

    def scope_test(self, integration: Integration) -> dict[str, Any]:
        self.calls.append(("scope", integration.id))
        return {"entries": [{"name": "users", "kind": "model", "status": "OK", "missing_functions": [],
                             "missing_capabilities": [], "withheld_fields": [], "detail": ""},
                            {"name": "skills", "kind": "model", "status": "MISSING",
                             "missing_functions": ["core_competency_list_competencies"], "missing_capabilities": [],
                             "withheld_fields": [], "detail": XSS}],
                "functions_to_add": [], "checklist": ["Add the functions"], "remote_info": {}}

    def test_model(self, integration: Integration, model: str, pages: int, parents: int) -> dict[str, Any]:
        self.calls.append(("model", integration.id, model, pages, parents))
        return {"integration_id": integration.id, "model": model, "verdict": "passed", "pages": [], "calls": 2,
                "extracted": 7, "mapped": 7, "invalid": 0, "truncated": False, "warnings": [XSS], "error": None,
                "sample": {}}


@dataclass
class Console:
    store: Store
    url: str
    admin_key: str
    narrow_key: str
    clock: Clock
    stubs: Stubs

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    @contextlib.contextmanager
    def login(self, key: str | None = None) -> Iterator[httpx.Client]:
        """A client with a live session (and the session's CSRF secret in ``.csrf``)."""
        with self.client() as c:
            page = c.get("/console/login")
            resp = c.post("/console/login", data={"csrf": _csrf(page.text), "api_key": key or self.admin_key})
            assert resp.status_code == 303 and resp.headers["location"] == "/console/", resp.text
            home = c.get("/console/")
            assert home.status_code == 200, home.text
            c.csrf = _csrf(home.text)  # type: ignore[attr-defined]
            yield c


def _csrf(text: str) -> str:
    found = _CSRF.search(text)
    assert found, text[:500]
    return found.group(1)


def _flip(text: str) -> str:
    """*text* with its last character changed."""
    return text[:-1] + ("B" if text.endswith("A") else "A")


def _seed(store: Store) -> None:
    for iid in (IID, OTHER):
        store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    users = [mrec(IID, "users", f"u{n:02d}", {"first_name": f"First{n}", "last_name": "L", "work_email": None,
                                              "status": "ACTIVE", "remote_created_at": None, "custom_fields": None,
                                              "integration_fields": []}) for n in range(30)]
    write(store, IID, "users", users, T0)
    course = mrec(IID, "courses", "c1", {"provider_id": None, "origin_id": None, "remote_created_at": None,
                                         "custom_fields": None, "integration_fields": []})
    write(store, IID, "courses", [course], T0)
    rev = mrec(IID, "course_revisions", "r1", {"course_id": course.id, "title": XSS, "description": XSS,
                                               "remote_url": None, "status": "ACTIVE", "remote_created_at": None,
                                               "custom_fields": None, "integration_fields": []})
    rev.remote_data = {"core_course_get_courses": {"id": 1, "fullname": XSS}}
    write(store, IID, "course_revisions", [rev], T0)


def _held_run(store: Store, iid: str = IID) -> str:
    """A finished FULL run of *iid* whose guard held 3 user deletions."""
    run = store.start_run(iid, "FULL", datetime.now(UTC))
    ids = sorted(r.id for r in store.query(Query(integration_id=iid, model="users", limit=1000)))[:3]
    store.hold(run.id, iid, "users", "delete", [(rid, None) for rid in ids])  # type: ignore[attr-defined]
    run.status, run.finished_at = "succeeded", datetime.now(UTC)
    run.stats = {"users": {"created": 0, "updated": 0, "unchanged": 27, "deleted": 0, "held_deletions": 3}}
    run.warnings = [f"deletions held: users 3 of 30 (over the 20% guard); confirm with `lmsync deletions confirm {run.id}`"]
    store.finish_run(run)
    return run.id


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    store = make_store(tmp_path_factory)
    _seed(store)
    stubs, clock = Stubs(), Clock()
    app = create_app(store, services=ApiServices(force_sync=stubs.force_sync, scope_test=stubs.scope_test,
                                                 test_model=stubs.test_model))
    app.state.console_sessions = ConsoleSessions(now=clock)
    with serve_in_thread(app) as url:
        yield Console(store, url, create_api_key(store, "operator"), create_api_key(store, "narrow", [IID]), clock, stubs)
    store.close()


@pytest.fixture(autouse=True)
def _clock_now(console):
    console.clock.at = datetime.now(UTC)  # each test starts at the real time


def test_login_is_refused_without_a_key_with_a_narrow_key_and_without_csrf(console):
    with console.client() as c:
        assert c.get("/console/").headers["location"] == "/console/login"
        page = c.get("/console/login")
        assert page.status_code == 200 and 'type="password"' in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        token = _csrf(page.text)
        empty = c.post("/console/login", data={"csrf": token, "api_key": ""})
        assert empty.status_code == 401 and "not a valid API key" in empty.text
        wrong = c.post("/console/login", data={"csrf": token, "api_key": console.admin_key + "x"})
        assert wrong.status_code == 401
        narrow = c.post("/console/login", data={"csrf": token, "api_key": console.narrow_key})
        assert narrow.status_code == 403 and "admin API key" in narrow.text
        no_csrf = c.post("/console/login", data={"api_key": console.admin_key})
        assert no_csrf.status_code == 403 and f"{SESSION_COOKIE}=" not in no_csrf.headers.get("set-cookie", "")
        assert c.get("/console/").status_code == 303  # none of these opened a session
    with console.client() as c:
        token = _csrf(c.get("/console/login").text)
        ok = c.post("/console/login", data={"csrf": token, "api_key": console.admin_key})
        cookie = next(v for v in ok.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE + "="))
        low = cookie.lower()
        assert ok.status_code == 303 and "httponly" in low and "samesite=strict" in low and "path=/console" in low
        assert "max-age=86400" in low
        assert console.admin_key not in cookie  # the key itself never goes into the cookie


def test_forged_and_tampered_cookies_are_sent_to_the_login(console):
    with console.login() as c:
        real = c.cookies[SESSION_COOKIE]
    sid, _, sig = real.partition(".")
    forged = ["x.y", f"{sid}.{_flip(sig)}", f"{_flip(sid)}.{sig}", sid, "", "Zm9v.YmFy", f"{sid}.{sig}x"]
    for value in forged:
        with console.client() as c:
            c.cookies.set(SESSION_COOKIE, value, path="/console")
            resp = c.get("/console/keys")
            assert resp.status_code == 303 and resp.headers["location"] == "/console/login", value
            assert c.get(f"/console/integrations/{quote(IID, safe='')}/progress").status_code == 401
    with console.client() as c:
        c.cookies.set(SESSION_COOKIE, real, path="/console")
        assert c.get("/console/keys").status_code == 200  # the genuine one still works


def test_sessions_expire_when_idle_and_absolutely_and_on_logout(console):
    clock = console.clock
    with console.login() as c:
        clock.at += timedelta(hours=7, minutes=59)
        assert c.get("/console/").status_code == 200  # active: idle timer restarts
        clock.at += timedelta(hours=8, seconds=1)
        assert c.get("/console/").headers["location"] == "/console/login"
    with console.login() as c:
        for _ in range(3):
            clock.at += timedelta(hours=7)
            assert c.get("/console/").status_code == 200
        clock.at += timedelta(hours=3, seconds=1)  # 24 h since login, though never idle for 8 h
        assert c.get("/console/").status_code == 303
    with console.login() as c:
        cookie = c.cookies[SESSION_COOKIE]
        assert c.post("/console/logout", data={"csrf": c.csrf}).status_code == 303
    with console.client() as c:
        c.cookies.set(SESSION_COOKIE, cookie, path="/console")  # a copy of the cookie is dead too
        assert c.get("/console/").status_code == 303


def test_a_revoked_or_expired_key_ends_its_session(console):
    key = create_api_key(console.store, "short-lived")
    with console.login(key) as c:
        key_id = key.split("_")[1]
        console.store.remove_api_key(key_id)
        assert c.get("/console/").status_code == 303
    key = create_api_key(console.store, "expiring", expires_at=datetime.now(UTC) + timedelta(hours=1))
    with console.login(key) as c:
        console.clock.at += timedelta(hours=1, seconds=1)
        assert c.get("/console/").status_code == 303


POSTS = ["/console/logout", "/console/runs/{run}/confirm", "/console/integrations/{iid}/scope-test",
         "/console/integrations/{iid}/test-model", "/console/integrations/{iid}/sync", "/console/deliveries/d1/retry",
         "/console/keys", "/console/keys/{key}/revoke"]


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_session_csrf_secret(console, path):
    run = _held_run(console.store)
    key = create_api_key(console.store, "victim")
    url = path.format(run=run, iid=quote(IID, safe=""), key=key.split("_")[1])
    before = (len(console.stubs.calls), len(console.store.list_api_keys()))
    with console.login() as c:
        with console.login() as other:  # another session's secret does not do either
            for data in ({}, {"csrf": ""}, {"csrf": other.csrf}, {"csrf": _flip(c.csrf)}):
                resp = c.post(url, data={**data, "model": "users", "name": "x", "kind": "FULL"})
                assert resp.status_code == 403 and "CSRF" in resp.text, (url, data)
        assert c.get("/console/").status_code == 200  # still logged in (logout was refused)
    assert (len(console.stubs.calls), len(console.store.list_api_keys())) == before
    assert console.store.held(run)  # type: ignore[attr-defined]  # not confirmed


def test_confirming_held_deletions_applies_them(console):
    run = _held_run(console.store)
    with console.login() as c:
        home = c.get("/console/")
        assert f'action="/console/runs/{run}/confirm"' in home.text and "users 3" in home.text
        page = c.get(f"/console/integrations/{quote(IID, safe='')}")
        assert run in page.text and "held deletions 3" in page.text
        done = c.post(f"/console/runs/{run}/confirm", data={"csrf": c.csrf})
        assert done.status_code == 200 and "applied: users 3" in done.text
        again = c.post(f"/console/runs/{run}/confirm", data={"csrf": c.csrf})
        assert again.status_code == 409 and "has no held changes" in again.text
    assert console.store.count(IID, "users") == 27 and not console.store.held(run)  # type: ignore[attr-defined]


def test_scope_test_model_test_and_sync_now_call_the_services(console):
    page = f"/console/integrations/{quote(IID, safe='')}"
    with console.login() as c:
        scope = c.post(page + "/scope-test", data={"csrf": c.csrf})
        assert scope.status_code == 200 and "core_competency_list_competencies" in scope.text
        assert ("scope", IID) in console.stubs.calls
        model = c.post(page + "/test-model", data={"csrf": c.csrf, "model": "courses"})
        assert model.status_code == 200 and "Verdict: <strong>passed</strong>" in model.text
        assert ("model", IID, "courses", 1, 3) in console.stubs.calls
        assert c.post(page + "/test-model", data={"csrf": c.csrf, "model": "nope"}).status_code == 400
        sync = c.post(page + "/sync", data={"csrf": c.csrf, "kind": "DELTA"})
        assert sync.status_code == 200 and "DELTA sync sync1 queued" in sync.text
        assert ("sync", IID, "DELTA") in console.stubs.calls
        assert 'data-wait-for="sync1"' in sync.text and 'http-equiv="refresh"' in sync.text  # polled, or refreshed
        for text in (scope.text, model.text):
            assert XSS not in text and html.escape(XSS, quote=False) in text
        progress = c.get(page + "/progress")
        assert progress.status_code == 200 and set(progress.json()) == {"run", "models", "finished"}


def test_api_keys_are_created_once_listed_and_revoked(console):
    with console.login() as c:
        made = c.post("/console/keys", data={"csrf": c.csrf, "name": "ci", "integrations": IID, "days": "30"})
        assert made.status_code == 200
        plaintext = re.search(r'<pre id="new-key">([^<]+)</pre>', made.text).group(1)
        key_id = plaintext.split("_")[1]
        listing = c.get("/console/keys").text
        assert key_id in listing and plaintext not in listing and IID in listing
        assert c.post("/console/keys", data={"csrf": c.csrf, "name": "x", "days": "0"}).status_code == 400
        assert c.post("/console/keys", data={"csrf": c.csrf, "name": "x", "integrations": "nope"}).status_code == 400
        gone = c.post(f"/console/keys/{key_id}/revoke", data={"csrf": c.csrf})
        assert gone.status_code == 200 and f"API key {key_id} revoked" in gone.text
        assert console.store.get_api_key(key_id) is None


@contextlib.contextmanager
def _receiver() -> Iterator[tuple[str, list[bytes]]]:
    got: list[bytes] = []

    async def hook(request):
        got.append(await request.body())
        return Response("ok")

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield url + "/hook", got


def test_a_failed_delivery_is_retried_from_the_webhooks_page(console):
    with _receiver() as (url, got):
        console.store.add_webhook(WebhookEndpoint(id="wh_console", url=url, secret="s" * 32, created_at=T0))
        console.store.put_delivery(WebhookDelivery(id="d1", endpoint_id="wh_console", event_id="ev1",
                                                   event_type="sync-finished", integration_id=IID, status="failed",
                                                   body='{"id":"ev1"}', created_at=T0, attempts=6, error="HTTP 500"))
        with console.login() as c:
            page = c.get("/console/webhooks")
            assert "wh_console" in page.text and 'action="/console/deliveries/d1/retry"' in page.text
            assert "s" * 32 not in page.text  # never the secret
            done = c.post("/console/deliveries/d1/retry", data={"csrf": c.csrf})
            assert done.status_code == 200 and "Delivery d1: delivered" in done.text
    assert got == [b'{"id":"ev1"}']
    assert console.store.get_delivery("d1").status == "delivered"


def test_the_explorer_pages_through_records_and_escapes_remote_data(console):
    with console.login() as c:
        first = c.get("/console/explorer", params={"integration": IID, "model": "users"})
        assert first.status_code == 200 and first.text.count("<tr data-id=") == 25
        nxt = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1)
        second = c.get(html.unescape(nxt))
        assert 0 < second.text.count("<tr data-id=") < 25
        assert 'rel="next"' not in second.text and 'rel="first"' in second.text
        ids = re.findall(r'<tr data-id="([^"]+)"', first.text + second.text)
        assert len(ids) == len(set(ids)) == console.store.count(IID, "users")
        revs = c.get("/console/explorer", params={"integration": IID, "model": "course_revisions"})
        link = html.unescape(re.search(r'<th scope="row"><a href="([^"]+)"', revs.text).group(1))
        rec = c.get(link)
        for text in (revs.text, rec.text):
            assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
        assert "core_course_get_courses" in rec.text
        assert c.get("/console/explorer", params={"integration": IID, "model": "nope"}).status_code == 400
        assert c.get("/console/explorer", params={"integration": "nope", "model": "users"}).status_code == 404
        assert c.get("/console/explorer/record", params={"integration": IID, "model": "users", "id": "x"}).status_code == 404
