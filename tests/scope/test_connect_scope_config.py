"""A Connect link names a scope config (``scope_config_id`` of ``POST /v1/connect/create-link``
and of relink): the new integration is bound to it before the credentials step, which offers
the config's OPTIONAL items as checkboxes, and the opt-outs of the first submit are stored
before the first sync. Plain HTTP forms on loopback against a Moodle simulator (no browser)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.moodle.simulator import ADMIN_TOKEN, SimControl, run_in_thread, tiny_site
from connectors.moodle.simulator import create_app as simulator_app
from engine.api import create_api_key
from engine.connect import hash_token
from tests.served_app import served_app

from test_opt_outs_connect import _checkboxes, _csrf, _wait_finished

CHOICES = {"models": {"skills": "OPTIONAL"}, "fields": {"users.work_email": "OPTIONAL"}}
OTHER = {"fields": {"users.last_name": "OPTIONAL"}}
EMAIL, ORG = "ada@school.example", "Lovelace School"


@dataclass
class Server:
    """The running app, its store, an admin key, the simulator's URL and the two configs' ids."""

    store: Any
    url: str
    key: str
    sim: str
    choices: str
    other: str

    def admin(self) -> httpx.Client:
        """An HTTP client with the admin key."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)


@contextlib.contextmanager
def _server(tmp_path) -> Iterator[Server]:
    """The app as ``lmsync serve`` wires it (scope test, sync queue) with two stored configs and
    no integration yet."""
    with run_in_thread(simulator_app(tiny_site(), SimControl())) as sim, \
            served_app(tmp_path / "linkscope.db") as (store, url):
        choices, other = store.add_scope_config("choices", CHOICES), store.add_scope_config("other", OTHER)
        yield Server(store, url, create_api_key(store, "admin"), sim, choices.id, other.id)


def _create_link(server: Server, scope_config_id: str | None) -> httpx.Response:
    with server.admin() as admin:
        return admin.post("/v1/connect/create-link", json={
            "end_user_email": EMAIL, "end_user_organization_name": ORG, "integration_category": "LMS",
            "integration_tool": "moodle", "scope_config_id": scope_config_id})


def _path(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return urlsplit(resp.json()["data"]["link"]).path


def _site_step(client: httpx.Client, path: str, sim: str) -> tuple[str, httpx.Response]:
    """Open the link and give the site URL: (csrf, the step-2 answer)."""
    csrf = _csrf(client.get(path).text)
    step2 = client.post(path, data={"csrf": csrf, "step": "site", "base_url": sim})
    assert step2.status_code == 200 and 'name="credential_token"' in step2.text, step2.text
    return csrf, step2


def _submit(client: httpx.Client, path: str, csrf: str, sim: str, offered: list[str], shared: list[str]) -> httpx.Response:
    form = {"csrf": csrf, "step": "credentials", "tool": "moodle", "base_url": sim, "credential_token": ADMIN_TOKEN,
            **{f"offer_{i}": "1" for i in offered}, **{f"share_{i}": "1" for i in shared}}
    done = client.post(path, data=form)
    assert done.status_code == 200 and 'id="connected"' in done.text, done.text
    return done


def _integration_of(server: Server, path: str) -> str:
    link = server.store.connect_link_by_hash(hash_token(path.removeprefix("/connect/")))
    assert link is not None and link.integration_id
    return link.integration_id


def _integration_json(server: Server, iid: str) -> dict[str, Any]:
    with server.admin() as admin:
        resp = admin.get(f"/v1/integrations/{iid}", headers={"X-Integration-Id": iid})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_a_link_naming_a_config_binds_the_new_integration_and_records_the_first_opt_outs(tmp_path):
    with _server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        path = _path(_create_link(server, server.choices))
        assert server.store.connect_link_by_hash(hash_token(path.removeprefix("/connect/"))).scope_config_id \
            == server.choices
        csrf, step2 = _site_step(c, path, server.sim)
        assert 'id="scope-choices"' in step2.text
        assert _checkboxes(step2.text) == {"models.skills": True, "fields.users.work_email": True}
        iid = _integration_of(server, path)
        assert server.store.scope_config_of(iid).id == server.choices  # bound before the credentials are given
        assert server.store.get_integration(iid).enabled is False

        _submit(c, path, csrf, server.sim, ["models.skills", "fields.users.work_email"], ["fields.users.work_email"])
        assert server.store.scope_config_of(iid).name == "choices"
        assert server.store.opt_outs_of(iid) == {"models.skills"}
        assert _wait_finished(c, path)["sync"]["status"] == "succeeded"
        run = next(r for r in server.store.list_runs(iid) if r.kind == "FULL")
        # the opt-out was stored before the first sync was queued: it never read skills
        assert run.stats["skills"]["calls"] == 0 and run.stats["users"]["calls"] > 0
        data = _integration_json(server, iid)
        assert data["scope_config"] == {"id": server.choices, "name": "choices"}
        skills = next(m for m in data["read_models"] if m["id"] == "lms_skills")
        assert (skills["scope_config_setting"], skills["opted_out_by_customer"], skills["is_available"]) == \
            ("OPTIONAL", True, False)
        users = next(m for m in data["read_models"] if m["id"] == "lms_users")
        email = next(f for f in users["fields"] if f["id"] == "work_email")
        assert (email["scope_config_setting"], email["opted_out_by_customer"], email["is_available"]) == \
            ("OPTIONAL", False, True)


def test_an_unknown_scope_config_id_is_refused_naming_it_and_the_existing_ids(tmp_path):
    with _server(tmp_path) as server:
        before = len(server.store.list_connect_links())
        resp = _create_link(server, "sc_nope")
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["code"] == "PLATFORM.INPUT_INVALID"
        assert (f"Invalid request body at scope_config_id: no scope config 'sc_nope'; existing ids: default, "
                f"{server.choices} (choices), {server.other} (other) (see GET /v1/scope-configs)") in error["message"]
        assert len(server.store.list_connect_links()) == before  # nothing stored
        assert server.store.list_integrations() == []
        with server.admin() as admin:
            wrong_type = admin.post("/v1/connect/create-link", json={
                "end_user_email": EMAIL, "end_user_organization_name": ORG, "integration_category": "LMS",
                "scope_config_id": 7})
        assert wrong_type.status_code == 400 and "scope_config_id" in wrong_type.json()["error"]["message"]


def test_a_config_may_be_named_by_its_name_and_null_means_the_default(tmp_path):
    with _server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        by_name = _path(_create_link(server, "choices"))
        assert server.store.connect_link_by_hash(hash_token(by_name.removeprefix("/connect/"))).scope_config_id \
            == server.choices  # stored as the id

        path = _path(_create_link(server, None))
        csrf, step2 = _site_step(c, path, server.sim)
        assert 'id="scope-choices"' not in step2.text and _checkboxes(step2.text) == {}
        _submit(c, path, csrf, server.sim, [], [])
        iid = _integration_of(server, path)
        assert server.store.scope_config_of(iid).id == "default" and server.store.opt_outs_of(iid) == frozenset()
        assert _integration_json(server, iid)["scope_config"] == {"id": "default", "name": "default"}
        assert _wait_finished(c, path)["sync"]["status"] == "succeeded"


def test_a_relink_keeps_the_binding_unless_it_names_a_config_which_it_binds_on_completion(tmp_path):
    with _server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        first = _path(_create_link(server, server.choices))
        csrf, _ = _site_step(c, first, server.sim)
        _submit(c, first, csrf, server.sim, ["models.skills", "fields.users.work_email"], ["fields.users.work_email"])
        iid = _integration_of(server, first)
        assert server.store.opt_outs_of(iid) == {"models.skills"}
        assert _wait_finished(c, first)["sync"]["status"] == "succeeded"

        with server.admin() as admin:  # no scope_config_id: the binding and the choices stay
            keep = _path(admin.post(f"/v1/integrations/{iid}/relink", json={"scope_config_id": None}))
            unknown = admin.post(f"/v1/integrations/{iid}/relink", json={"scope_config_id": "sc_nope"})
            switch = _path(admin.post(f"/v1/integrations/{iid}/relink", json={"scope_config_id": "other"}))
        assert unknown.status_code == 400 and "no scope config 'sc_nope'; existing ids: default" in unknown.text
        csrf, step2 = _site_step(c, keep, server.sim)
        assert _checkboxes(step2.text) == {"models.skills": False, "fields.users.work_email": True}
        _submit(c, keep, csrf, server.sim, [], [])  # a form offering nothing leaves the opt-outs
        assert server.store.scope_config_of(iid).id == server.choices
        assert server.store.opt_outs_of(iid) == {"models.skills"}

        csrf, step2 = _site_step(c, switch, server.sim)  # the named config's items are offered ...
        assert _checkboxes(step2.text) == {"fields.users.last_name": True}
        assert server.store.scope_config_of(iid).id == server.choices  # ... but nothing changes before submit
        _submit(c, switch, csrf, server.sim, ["fields.users.last_name"], [])
        assert server.store.scope_config_of(iid).id == server.other
        assert server.store.opt_outs_of(iid) == {"fields.users.last_name"}
        data = _integration_json(server, iid)
        assert data["scope_config"] == {"id": server.other, "name": "other"} and data["id"] == iid
        users = next(m for m in data["read_models"] if m["id"] == "lms_users")
        last = next(f for f in users["fields"] if f["id"] == "last_name")
        assert (last["scope_config_setting"], last["opted_out_by_customer"]) == ("OPTIONAL", True)
        skills = next(m for m in data["read_models"] if m["id"] == "lms_skills")
        assert (skills["scope_config_setting"], skills["opted_out_by_customer"]) == ("ENABLED", False)
        with server.admin() as admin:
            link_id = server.store.connect_link_by_hash(hash_token(switch.removeprefix("/connect/"))).id
            state = admin.get(f"/v1/connect/links/{link_id}").json()["data"]
        assert (state["kind"], state["state"], state["scope_config_id"]) == ("RELINK", "USED", server.other)


def test_the_served_openapi_documents_scope_config_id_as_string_or_null(tmp_path):
    with _server(tmp_path) as server, server.admin() as admin:
        doc = admin.get("/v1/openapi.json").json()
    for path in ("/v1/connect/create-link", "/v1/integrations/{integration_id}/relink"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        prop = body["properties"]["scope_config_id"]
        assert prop["type"] == ["string", "null"] and "GET /v1/scope-configs" in prop["description"], path
        assert body["properties"].get("remote_environment", {"type": "null"})["type"] == "null"  # still off only
    state = doc["paths"]["/v1/connect/links/{link_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert state["schema"]["properties"]["data"]["properties"]["scope_config_id"]["type"] == ["string", "null"]
