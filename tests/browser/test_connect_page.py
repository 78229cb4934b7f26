"""The Connect page in a real browser (Playwright driving Debian's Chromium): the whole flow
against the Moodle simulator from a link made by the API — a token missing functions, the
matrix, the fix, a retry with the same link, the first sync's progress, integration-by-token —,
a relink keeping the record ids, and remote data rendered as text. Screenshots go to ``$LMSYNC_SCREENSHOTS`` (else a temporary
folder; its path is printed)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from connectors.moodle.simulator import ADMIN_TOKEN, REDUCED_TOKEN
from engine.store.base import Query
from tests.api.test_connect_page_http import XSS, connect_server, moodle

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("LMSYNC_SCREENSHOTS") or tmp_path_factory.mktemp("connect_screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nConnect page screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with connect_server(tmp_path_factory.mktemp("connect_browser")) as s:
        yield s


def test_the_whole_flow_with_a_fix_and_a_retry_on_the_same_link(browser, server, shots):
    expect = sync_api.expect
    with moodle() as (site, url):
        path = server.new_link(integration_tool="moodle")
        page = browser.new_page()
        page.goto(server.url + path)
        page.get_by_label("Site URL").fill(url + "/webservice/rest/server.php")
        page.get_by_label("Site URL").press("Enter")  # keyboard only
        expect(page.get_by_role("heading", name="Create the credentials")).to_be_visible()
        expect(page.get_by_text(f"Site: {url}")).to_be_visible()  # the pasted endpoint was reduced to the site root
        expect(page.locator("pre").filter(has_text="core_competency_list_competencies")).to_be_visible()
        expect(page.get_by_role("button", name="Copy").first).to_be_visible()  # the script's enhancement
        page.screenshot(path=str(shots / "1-instructions.png"), full_page=True)

        page.get_by_label("Moodle token").fill(REDUCED_TOKEN)
        page.get_by_role("button", name="Connect").click()
        gaps = page.locator("#scope-gaps")
        expect(gaps).to_be_visible()
        skills = gaps.locator('tr[data-name="skills"]')
        expect(skills).to_contain_text("✗ Functions missing")
        expect(skills).to_contain_text("Add these functions to the service: core_competency_list_competencies")
        expect(gaps.locator('tr[data-name="users"]')).to_contain_text("✓ OK")
        assert page.get_by_label("Moodle token").input_value() == ""  # never echoed back
        assert REDUCED_TOKEN not in page.content()
        page.screenshot(path=str(shots / "2-missing-functions.png"), full_page=True)

        site.add_token(replace(site.tokens[REDUCED_TOKEN], functions=site.tokens[ADMIN_TOKEN].functions))
        site.touch()  # the admin added the functions; the simulator drops its cached answers
        page.get_by_label("Moodle token").fill(REDUCED_TOKEN)
        page.get_by_label("Moodle token").press("Enter")
        expect(page.locator("#connected")).to_contain_text("Your LMS is connected")
        expect(page.locator("#sync-state")).to_have_attribute("data-state", "succeeded", timeout=20_000)
        expect(page.locator('tr[data-model="users"]')).to_contain_text("✓ done")
        assert page.locator("tr[data-model]").count() == page.locator('tr[data-model][data-state="done"]').count() > 0
        page.screenshot(path=str(shots / "3-connected-synced.png"), full_page=True)
        exchange = page.locator("#connected").get_attribute("data-exchange-token")
        page.close()
    got = server.integration_by_token(exchange)
    assert got.status_code == 200, got.text
    data = got.json()["data"]
    assert (data["tool"], data["end_user_organization_name"], data["setup_status"]) == ("moodle", "Lovelace School", "COMPLETED")


def test_remote_data_is_rendered_as_text(browser, server, shots):
    expect = sync_api.expect
    with moodle(sitename=XSS) as (_site, url):
        path = server.new_link(integration_tool="moodle", end_user_organization_name=XSS)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url + path)
        expect(page.locator(".org")).to_contain_text(XSS)
        page.get_by_label("Site URL").fill(url)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Moodle token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Connect").click()
        expect(page.locator("#remote")).to_contain_text(f"Site name: {XSS}")
        expect(page.locator("#sync-state")).to_have_attribute("data-state", "succeeded", timeout=20_000)
        assert page.locator("img").count() == 0 and dialogs == []
        page.screenshot(path=str(shots / "4-escaped-site-name.png"), full_page=True)
        page.close()


def test_relink_in_the_browser_keeps_the_integration_and_its_record_ids(browser, server, shots):
    """A rotated token through a relink link: the same integration id, the same record ids."""
    expect = sync_api.expect
    with moodle() as (site, url):
        page = browser.new_page()
        page.goto(server.url + server.new_link(integration_tool="moodle"))
        page.get_by_label("Site URL").fill(url)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Moodle token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Connect").click()
        expect(page.locator("#sync-state")).to_have_attribute("data-state", "succeeded", timeout=20_000)
        iid = server.integration_by_token(page.locator("#connected").get_attribute("data-exchange-token")).json()["data"]["id"]
        ids = sorted(r.id for r in server.store.query(Query(integration_id=iid, model="course_progressions", limit=1000)))
        assert ids

        rotated = "rotated-token-0123456789abcdef0123"
        site.add_token(replace(site.tokens[ADMIN_TOKEN], token=rotated))
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}) as admin:
            relink = urlsplit(admin.post(f"/v1/integrations/{iid}/relink", json={}).json()["data"]["link"]).path
        page.goto(server.url + relink)
        expect(page.get_by_label("Site URL")).to_have_value(url)  # the integration's own site, prefilled
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Moodle token").fill(rotated)
        page.get_by_role("button", name="Connect").click()
        expect(page.locator("#connected")).to_contain_text("Your LMS is connected")
        expect(page.locator("#sync-state")).to_have_attribute("data-state", "succeeded", timeout=20_000)
        page.screenshot(path=str(shots / "5-relinked.png"), full_page=True)
        page.close()
    assert server.store.get_integration(iid).credentials["token"] == rotated
    assert sorted(r.id for r in server.store.query(Query(integration_id=iid, model="course_progressions", limit=1000))) == ids
