"""The Connect page offers the OPTIONAL items of the integration's scope config as checkboxes and
records what the end user's admin unticks (plain HTTP forms, no browser); the first sync already
leaves the opted-out model out. Also ``lmsync scope-configs show`` / ``opt-out``."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from typer.testing import CliRunner

from connectors.moodle.simulator import ADMIN_TOKEN, SimControl, run_in_thread, tiny_site
from connectors.moodle.simulator import create_app as simulator_app
from engine.api import create_api_key
from engine.cli import app as cli_app
from engine.store import open_store
from engine.store.base import Integration
from tests.served_app import csrf_of as _csrf, served_app, wait_finished as _wait_finished

IID = "moodle:OptOutConnect0000000000000"
CONFIG = {"models": {"skills": "OPTIONAL"}, "fields": {"users.work_email": "OPTIONAL"},
          "actions": {"deactivate_course": "OPTIONAL"}}
ITEMS = ("models.skills", "fields.users.work_email", "actions.deactivate_course")


@contextlib.contextmanager
def _server(tmp_path) -> Iterator[tuple[Any, str, str, str]]:
    """(store, lmsync URL, admin key, simulator URL): the app as ``lmsync serve`` wires it, and an
    integration on a tiny Moodle simulator bound to ``CONFIG``."""
    with run_in_thread(simulator_app(tiny_site(), SimControl())) as sim, \
            served_app(tmp_path / "optout.db") as (store, url):
        store.add_integration(Integration(IID, "moodle", sim, {"token": ADMIN_TOKEN}))
        store.add_scope_config("choices", CONFIG)
        store.bind_scope_config(IID, "choices")
        yield store, url, create_api_key(store, "admin"), sim


def _relink(url: str, key: str) -> str:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as admin:
        resp = admin.post(f"/v1/integrations/{IID}/relink", json={})
    assert resp.status_code == 200, resp.text
    return urlsplit(resp.json()["data"]["link"]).path


def _checkboxes(page: str) -> dict[str, bool]:
    """``{item: checked}`` of the page's opt-out checkboxes."""
    found = re.findall(r'<input type="checkbox" name="share_([^"]+)" value="1"[^>]*?( checked)?>', page)
    return {item: bool(checked) for item, checked in found}


def test_the_connect_form_records_opt_outs_and_the_first_sync_leaves_them_out(tmp_path):
    with _server(tmp_path) as (store, url, key, sim), httpx.Client(base_url=url, timeout=60) as c:
        path = _relink(url, key)
        csrf = _csrf(c.get(path).text)
        step2 = c.post(path, data={"csrf": csrf, "step": "site", "base_url": sim})
        assert step2.status_code == 200 and 'id="scope-choices"' in step2.text
        assert _checkboxes(step2.text) == dict.fromkeys(ITEMS, True)  # OPTIONAL = shared until unticked
        assert "Users: work email" in step2.text and "Deactivate course" in step2.text
        form = {"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": sim, "credential_token": ADMIN_TOKEN,
                **{f"offer_{i}": "1" for i in ITEMS}, "share_fields.users.work_email": "1"}

        forged = c.post(path, data={**form, "offer_fields.users.first_name": "1"})  # not OPTIONAL: refused
        assert forged.status_code == 400 and 'id="choices-error"' in forged.text
        assert "opt-out &#39;fields.users.first_name&#39;: scope config &#39;choices&#39; has it ENABLED" in forged.text
        assert _checkboxes(forged.text) == {"models.skills": False, "fields.users.work_email": True,
                                            "actions.deactivate_course": False}  # the admin's choice is kept
        assert store.opt_outs_of(IID) == frozenset()  # nothing recorded, the link still works

        done = c.post(path, data=form)
        assert done.status_code == 200 and 'id="connected"' in done.text, done.text
        assert store.opt_outs_of(IID) == {"models.skills", "actions.deactivate_course"}
        status = _wait_finished(c, path)
        assert status["sync"]["status"] == "succeeded", status
    run = next(r for r in store_runs(tmp_path) if r.kind == "FULL")
    assert run.stats["skills"]["calls"] == 0 and run.stats["users"]["calls"] > 0


def store_runs(tmp_path) -> list[Any]:
    """The runs of the integration, read from the test's store file after the server stopped."""
    store = open_store(f"sqlite://{tmp_path / 'optout.db'}")
    try:
        return store.list_runs(IID)
    finally:
        store.close()


def test_a_relink_shows_the_current_choices_and_a_form_without_them_keeps_them(tmp_path):
    with _server(tmp_path) as (store, url, key, sim), httpx.Client(base_url=url, timeout=60) as c:
        store.set_opt_outs(IID, ["fields.users.work_email"])
        path = _relink(url, key)
        csrf = _csrf(c.get(path).text)
        step2 = c.post(path, data={"csrf": csrf, "step": "site", "base_url": sim})
        assert _checkboxes(step2.text) == {"models.skills": True, "fields.users.work_email": False,
                                           "actions.deactivate_course": True}
        done = c.post(path, data={"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": sim,
                                  "credential_token": ADMIN_TOKEN})  # no offer_* fields: opt-outs untouched
        assert done.status_code == 200 and 'id="connected"' in done.text
        assert store.opt_outs_of(IID) == {"fields.users.work_email"}
        assert _wait_finished(c, path)["sync"]["status"] == "succeeded"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}", "X-Integration-Id": IID}) as api:
            data = api.get(f"/v1/integrations/{IID}").json()["data"]
        users = next(m for m in data["read_models"] if m["id"] == "lms_users")
        email = next(f for f in users["fields"] if f["id"] == "work_email")
        assert (email["opted_out_by_customer"], email["is_available"]) == (True, False)
        assert data["data_expired_at"] is None  # set by the opt-out, cleared by the FULL sync after it
        store_url = f"sqlite://{tmp_path / 'optout.db'}"
        shown = CliRunner().invoke(cli_app, ["scope-configs", "show", IID, "--store", store_url, "--json"])
        assert shown.exit_code == 0, shown.output
        state = json.loads(shown.stdout)
        assert state["opt_outs"] == ["fields.users.work_email"] and state["optional"] == list(ITEMS)
        refused = CliRunner().invoke(cli_app, ["scope-configs", "opt-out", IID, "fields.users.first_name", "--store", store_url])
        assert refused.exit_code == 2 and "has it ENABLED; only OPTIONAL items can be opted out" in refused.output
        changed = CliRunner().invoke(cli_app, ["scope-configs", "opt-out", IID, "models.skills", "--store", store_url])
        assert changed.exit_code == 0 and "opted out by the customer: models.skills" in changed.output
        assert "data expired at" in changed.output  # skills were shared before: narrowing
        assert store.opt_outs_of(IID) == {"models.skills"}
