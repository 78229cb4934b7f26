"""The Connect page's server-side rules over real HTTP (plain httpx, no JavaScript): link states,
CSRF, URL normalisation and field errors, the scope-test matrix and a retry with the same link,
the release warning, the first sync's progress, escaping, and the credential never echoed."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from connectors.moodle.simulator import ADMIN_TOKEN, REDUCED_TOKEN, SimControl, run_in_thread, tiny_site
from connectors.moodle.simulator import create_app as simulator_app
from engine.api import create_api_key
from engine.connect import EndUser, create_link
from engine.store.base import Store
from tests.served_app import csrf_of, served_app, wait_finished

EMAIL, ORG = "ada@school.example", "Lovelace School"
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Server:
    """An lmsync API with the real engine services (sync queue, scope probe) on loopback."""

    store: Store
    url: str
    admin_key: str

    def new_link(self, **body: Any) -> str:
        """A link made through the API; its path (``/connect/<token>``)."""
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}) as c:
            resp = c.post("/v1/connect/create-link", json={"end_user_email": EMAIL, "end_user_organization_name": ORG,
                                                            "integration_category": "LMS", **body})
        assert resp.status_code == 200, resp.text
        return urlsplit(resp.json()["data"]["link"]).path

    def integration_by_token(self, token: str) -> httpx.Response:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}) as c:
            return c.get(f"/v1/connect/integration-by-token/{token}")


@contextlib.contextmanager
def connect_server(tmp_path) -> Iterator[Server]:
    """The app as ``lmsync serve`` wires it (without the scheduler), on a fresh SQLite store."""
    with served_app(tmp_path / "connect.db") as (store, url):
        yield Server(store, url, create_api_key(store, "admin"))


@contextlib.contextmanager
def moodle(sitename: str | None = None) -> Iterator[tuple[Any, str]]:
    """A tiny Moodle simulator; (site, base URL)."""
    site = tiny_site()
    if sitename is not None:
        site.sitename = sitename
    with run_in_thread(simulator_app(site, SimControl())) as url:
        yield site, url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with connect_server(tmp_path_factory.mktemp("connect_page")) as s:
        yield s


def test_unknown_used_and_expired_links_say_which(server):
    with httpx.Client(base_url=server.url) as c:
        missing = c.get("/connect/" + "x" * 43)
        assert missing.status_code == 404 and "does not exist" in missing.text
        assert missing.headers["content-type"].startswith("text/html") and missing.headers["cache-control"] == "no-store"
        old = create_link(server.store, EndUser(EMAIL, ORG), now=datetime.now(UTC) - timedelta(hours=2))
        expired = c.get(f"/connect/{old.token}")
        assert expired.status_code == 410 and "has expired" in expired.text and "already used" not in expired.text


def test_forms_need_the_csrf_cookie_and_field(server):
    path = server.new_link(integration_tool="moodle")
    links = len(server.store.list_integrations())
    form = {"step": "site", "tool": "moodle", "base_url": "https://lms.example.org"}
    with httpx.Client(base_url=server.url) as c:
        assert c.post(path, data={**form, "csrf": "a" * 43}).status_code == 403  # no cookie (e.g. another site's form)
        page = c.get(path)
        assert page.status_code == 200
        cookie = page.headers["set-cookie"].lower()
        assert "samesite=strict" in cookie and "httponly" in cookie and f"path={path.lower()}" in cookie
        wrong = c.post(path, data={**form, "csrf": "b" * 43})
        assert wrong.status_code == 403 and "Form expired" in wrong.text
        assert len(server.store.list_integrations()) == links  # nothing was started
        assert c.post(path, data={**form, "csrf": csrf_of(page.text)}).status_code == 200


def test_site_step_normalises_the_url_and_shows_errors_next_to_the_field(server):
    path = server.new_link()  # no tool: the page asks for it
    with httpx.Client(base_url=server.url) as c:
        page = c.get(path).text
        assert 'type="radio" name="tool" value="moodle"' in page and 'value="canvas"' in page
        csrf = csrf_of(page)
        no_tool = c.post(path, data={"csrf": csrf, "step": "site", "base_url": "https://lms.example.org"})
        assert no_tool.status_code == 400 and 'id="tool-error"' in no_tool.text
        bad = c.post(path, data={"csrf": csrf, "step": "site", "tool": "moodle", "base_url": "ftp://lms.example.org"})
        assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
        assert re.search(r'id="base_url-error">.*is not an http\(s\) URL', bad.text)
        ok = c.post(path, data={"csrf": csrf, "step": "site", "tool": "moodle",
                                "base_url": "https://lms.example.org/moodle/webservice/rest/server.php"})
    assert ok.status_code == 200
    assert 'name="base_url" value="https://lms.example.org/moodle"' in ok.text
    assert "core_webservice_get_site_info" in ok.text and "webservice/rest:use" in ok.text  # the connector's guide
    assert 'type="password"' in ok.text


def test_missing_functions_show_the_matrix_then_the_same_link_connects_and_syncs(server):
    with moodle() as (site, url), httpx.Client(base_url=server.url, timeout=30) as c:
        path = server.new_link(integration_tool="moodle")
        csrf = csrf_of(c.get(path).text)
        step2 = c.post(path, data={"csrf": csrf, "step": "site", "base_url": url + "/login/index.php"})
        assert 'name="tool"' in step2.text and "Which LMS" not in step2.text  # the link fixed the tool
        form = {"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": url}
        failed = c.post(path, data={**form, "credential_token": REDUCED_TOKEN})
        assert failed.status_code == 422 and 'id="scope-gaps"' in failed.text
        assert 'data-name="skills" data-status="MISSING"' in failed.text
        assert "Add these functions to the service: core_competency_list_competencies" in failed.text
        assert REDUCED_TOKEN not in failed.text  # never echoed
        bad = c.post(path, data={**form, "credential_token": "f" * 32})
        assert bad.status_code == 422 and "The credentials did not work" in bad.text and "f" * 32 not in bad.text

        site.add_token(replace(site.tokens[REDUCED_TOKEN], functions=site.tokens[ADMIN_TOKEN].functions))  # the fix
        site.touch()  # a changed service invalidates the simulator's cached answers
        done = c.post(path, data={**form, "credential_token": REDUCED_TOKEN})
        assert done.status_code == 200 and 'id="connected"' in done.text, done.text
        assert REDUCED_TOKEN not in done.text
        exchange = re.search(r'data-exchange-token="([^"]+)"', done.text).group(1)
        status = wait_finished(c, path)
        assert status["sync"]["status"] == "succeeded" and status["setup_status"] == "COMPLETED"
        assert {m["model"]: m["state"] for m in status["models"]}["users"] == "done"
        assert all(m["state"] == "done" for m in status["models"]) and status["models"]
        progress = c.get(f"{path}/progress")
        assert progress.status_code == 200 and "✓ finished" in progress.text and 'http-equiv="refresh"' not in progress.text
        assert c.get(path).status_code == 410  # used up
    got = server.integration_by_token(exchange)
    assert got.status_code == 200 and got.json()["data"]["tool"] == "moodle"
    assert server.store.get_integration(got.json()["data"]["id"]).credentials == {"token": REDUCED_TOKEN}


def test_a_release_other_than_5x_warns_but_connects(server, monkeypatch):
    monkeypatch.setattr("connectors.moodle.simulator._fn_users.RELEASE", "4.4.2 (Build: 20240805)")
    with moodle() as (_site, url), httpx.Client(base_url=server.url, timeout=30) as c:
        path = server.new_link(integration_tool="moodle")
        csrf = csrf_of(c.get(path).text)
        done = c.post(path, data={"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": url,
                                  "credential_token": ADMIN_TOKEN})
        assert done.status_code == 200 and 'id="connected"' in done.text
        assert "reports Moodle release 4.4.2 (Build: 20240805)" in done.text and "built and tested for Moodle 5.x" in done.text
        wait_finished(c, path)


def test_remote_and_link_data_are_escaped(server):
    with moodle(sitename=XSS) as (_site, url), httpx.Client(base_url=server.url, timeout=30) as c:
        path = server.new_link(integration_tool="moodle", end_user_organization_name=XSS)
        first = c.get(path).text
        assert XSS not in first and html.escape(XSS) in first
        csrf = csrf_of(first)
        done = c.post(path, data={"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": url,
                                  "credential_token": ADMIN_TOKEN})
        assert done.status_code == 200 and XSS not in done.text
        assert f"Site name: {html.escape(XSS)}" in done.text
        assert "script-src 'self'" in done.headers["content-security-policy"]
        wait_finished(c, path)


def test_a_relink_link_keeps_the_integration_and_prefills_its_site(server):
    with moodle() as (_site, url), httpx.Client(base_url=server.url, timeout=30) as c:
        first = server.new_link(integration_tool="moodle", language="de")
        page = c.get(first).text
        assert '<html lang="en">' in page  # no German strings yet: English, and said so
        done = c.post(first, data={"csrf": csrf_of(page), "step": "credentials", "tool": "moodle", "base_url": url,
                                   "credential_token": ADMIN_TOKEN})
        iid = server.integration_by_token(re.search(r'data-exchange-token="([^"]+)"', done.text).group(1)).json()["data"]["id"]
        wait_finished(c, first)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}) as admin:
            relink = urlsplit(admin.post(f"/v1/integrations/{iid}/relink", json={}).json()["data"]["link"]).path
        page = c.get(relink).text
        assert 'name="tool"' in page and 'type="radio"' not in page and f'value="{url}"' in page
        again = c.post(relink, data={"csrf": csrf_of(page), "step": "credentials", "tool": "moodle", "base_url": url,
                                     "credential_token": ADMIN_TOKEN})
        assert again.status_code == 200 and 'id="connected"' in again.text
        assert wait_finished(c, relink)["sync"]["status"] == "succeeded"
    got = server.integration_by_token(re.search(r'data-exchange-token="([^"]+)"', again.text).group(1))
    assert got.json()["data"]["id"] == iid
