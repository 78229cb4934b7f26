"""The operator console in a real browser (Playwright driving Debian's Chromium) against the
Moodle simulator: log in with the admin key, see the integration, run a scope test, page through
the explorer, confirm the deletions the guard held (seeded by syncing, emptying the skills of
the simulated site and syncing again), then sync now and watch the script follow the progress."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from connectors.moodle.simulator import ADMIN_TOKEN
from engine.ids import random_id
from engine.store.base import Integration
from engine.sync import SyncEngine
from engine.transport import RetryPolicy
from tests.api.test_connect_page_http import connect_server, moodle

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")


def test_log_in_scope_test_explore_and_confirm_held_deletions(tmp_path):
    expect = sync_api.expect
    shots = Path(os.environ.get("LMSYNC_SCREENSHOTS") or tmp_path / "console_screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nConsole screenshots: {shots}")
    with connect_server(tmp_path) as server, moodle() as (site, url):
        iid = "moodle:" + random_id()
        server.store.add_integration(Integration(iid, "moodle", url, {"token": ADMIN_TOKEN}))
        engine = SyncEngine(server.store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))
        assert engine.sync(iid, "FULL").status == "succeeded"
        site.competencies.clear()
        site.framework_competencies.clear()
        site.course_competencies.clear()
        site.touch()
        held = engine.sync(iid, "FULL")
        assert held.stats["skills"]["held_deletions"] == server.store.count(iid, "skills") > 0
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(server.url + "/console/")
            expect(page.get_by_role("heading", name="Operator login")).to_be_visible()
            page.get_by_label("Admin API key").fill(server.admin_key)
            page.get_by_label("Admin API key").press("Enter")  # keyboard only
            row = page.locator(f'tr[data-integration="{iid}"]')
            expect(row).to_contain_text(url)
            expect(row).to_contain_text("succeeded")
            expect(row.locator(".held")).to_contain_text("skills")
            page.screenshot(path=str(shots / "console-1-integrations.png"), full_page=True)

            row.get_by_role("link", name=iid).click()
            page.get_by_role("button", name="Scope test").click()
            expect(page.locator('#scope-result tr[data-name="users"]')).to_contain_text("OK")
            expect(page.locator("#runs tr[data-run]")).to_have_count(2)
            page.screenshot(path=str(shots / "console-2-integration-scope-test.png"), full_page=True)

            page.goto(server.url + "/console/explorer?size=4")
            page.get_by_label("Integration").select_option(iid)
            page.get_by_label("Model", exact=True).select_option("users")
            page.get_by_role("button", name="Show records").click()
            expect(page.locator("#records tr[data-id]")).to_have_count(4)
            first = page.locator("#records tr[data-id]").first.get_attribute("data-id")
            page.get_by_role("link", name="Next page").click()
            expect(page.locator("#records tr[data-id]")).to_have_count(4)
            assert page.locator("#records tr[data-id]").first.get_attribute("data-id") != first
            page.locator("#records th a").first.click()
            expect(page.locator("#remote-data")).to_contain_text('"')
            page.screenshot(path=str(shots / "console-3-record.png"), full_page=True)

            page.get_by_role("link", name="Integrations").click()
            page.get_by_role("button", name=f"Confirm {sum(held.stats[m].get('held_deletions', 0) for m in held.stats)} "
                                            f"held changes of run {held.id}").click()
            expect(page.locator("#notice")).to_contain_text(f"Held changes of run {held.id} applied")
            expect(page.locator(f'tr[data-integration="{iid}"] .held')).to_have_text("none")

            page.get_by_role("link", name=iid).click()  # sync now; the script follows its progress
            page.get_by_role("button", name="Sync now").click()
            expect(page.locator("#sync-notice")).to_contain_text("FULL sync")
            expect(page.locator("#run-state")).to_have_attribute("data-state", "succeeded", timeout=10_000)
            expect(page.locator("#progress")).to_have_attribute("data-finished", "true")
            expect(page.locator('#progress tr[data-model="users"]')).to_have_attribute("data-state", "done")
            page.screenshot(path=str(shots / "console-4-synced.png"), full_page=True)
            browser.close()
        assert server.store.count(iid, "skills") == 0
