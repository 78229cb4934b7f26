"""The Connect API (Kombo-compatible) over real HTTP on loopback, partly through Kombo's own
Python SDK (``kombo``): create-link, integration-by-token, relink, the integration's
end_user / setup_status / availability, the webhooks, and the tokens at rest."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from kombo import Kombo, errors as kombo_errors
from kombo.models import ConnectionFlowFailedWebhookPayload, IntegrationCreatedWebhookPayload

from connectors.moodle.simulator import ADMIN_TOKEN, SimControl, run_in_thread, tiny_site
from connectors.moodle.simulator import create_app as simulator_app
from engine.connect import (ConnectFlowFailed, ConnectInputError, EndUser, LinkExpired, LinkUsed, complete_flow,
                            create_link, hash_token, integration_by_token, scope_verifier, start_flow)
from engine.ids import random_id
from engine.store.base import WebhookEndpoint
from engine.sync import SyncEngine
from engine.transport import RetryPolicy
from engine.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, new_secret, sender_for, verify

from .conftest import assert_error, response_validator
from tests.webhook_receiver import Receiver

EMAIL, ORG, ORIGIN = "ada@school.example", "Lovelace School", "org-42"
ROTATED_TOKEN = "9e8d7c6b5a4938271605f4e3d2c1b0a9"  # a second full-access token of the same admin


@pytest.fixture(scope="module")
def site():
    """A Moodle simulator on loopback (the end user's LMS)."""
    moodle = tiny_site()
    moodle.add_token(replace(moodle.tokens[ADMIN_TOKEN], token=ROTATED_TOKEN))
    with run_in_thread(simulator_app(moodle, SimControl())) as url:
        yield url


@pytest.fixture(scope="module")
def engine(env):
    return SyncEngine(env.store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))


@pytest.fixture
def hooks(env):
    receiver = Receiver().__enter__()
    endpoint = WebhookEndpoint(id="wh_" + random_id(), url=receiver.url, secret=new_secret(),
                               events=["integration-created", "connection-flow-failed"], created_at=datetime.now(UTC))
    env.store.add_webhook(endpoint)
    receiver.secret = endpoint.secret
    yield receiver
    env.store.remove_webhook(endpoint.id)
    receiver.__exit__()


def sdk(env, key: str | None = None) -> Kombo:
    """Kombo's SDK pointed at this lmsync server."""
    return Kombo(api_key=key or env.key_all, server_url=f"{env.url}/v1")


def token_of(link: str) -> str:
    parts = urlsplit(link)
    assert parts.path.startswith("/connect/"), link
    return parts.path.removeprefix("/connect/")


def new_link(env, **body: Any) -> str:
    with env.client(env.key_all, None) as c:
        resp = c.post("/v1/connect/create-link", json={"end_user_email": EMAIL, "end_user_organization_name": ORG,
                                                        "end_user_origin_id": ORIGIN, "integration_category": "LMS",
                                                        "integration_tool": "moodle", **body})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["link"]


def get_integration(env, iid: str) -> dict[str, Any]:
    with env.client(env.key_all, iid) as c:
        body = c.get(f"/v1/integrations/{iid}").json()
    response_validator("/integrations/{integration_id}").validate(body)
    return body["data"]


def test_create_link_with_the_kombo_sdk(env, monkeypatch):
    monkeypatch.delenv("LMSYNC_PUBLIC_URL", raising=False)
    before = datetime.now(UTC)
    answer = sdk(env).connect.create_connection_link(end_user_email=EMAIL, end_user_organization_name=ORG,
                                                     end_user_origin_id=ORIGIN, integration_category="LMS",
                                                     integration_tool="moodle", language="de", link_type="MAGIC_LINK")
    token = token_of(answer.data.link)
    assert answer.data.link == f"http://127.0.0.1:8000/connect/{token}" and len(token) >= 43  # 32 random bytes
    stored = env.store.connect_link_by_hash(hash_token(token))
    assert (stored.kind, stored.link_type, stored.tool, stored.language) == ("create", "MAGIC_LINK", "moodle", "de")
    assert (stored.end_user_email, stored.end_user_organization_name, stored.end_user_origin_id) == (EMAIL, ORG, ORIGIN)
    assert timedelta(days=30) <= stored.expires_at - before < timedelta(days=30, minutes=1)
    embedded = sdk(env).connect.create_connection_link(end_user_email=EMAIL, end_user_organization_name=ORG,
                                                       integration_category="LMS")
    stored = env.store.connect_link_by_hash(hash_token(token_of(embedded.data.link)))
    assert stored.link_type == "EMBEDDED" and stored.tool is None and stored.end_user_origin_id is None
    assert timedelta(hours=1) <= stored.expires_at - before < timedelta(hours=1, minutes=1)


def test_the_kombo_sdk_passes_scope_config_id_and_lmsync_binds_it(env, site):
    config = env.store.add_scope_config(f"sdk-{random_id()}", {"models": {"skills": "OPTIONAL"}})
    answer = sdk(env).connect.create_connection_link(end_user_email=EMAIL, end_user_organization_name=ORG,
                                                     integration_category="LMS", integration_tool="moodle",
                                                     scope_config_id=config.id)
    token = token_of(answer.data.link)
    assert env.store.connect_link_by_hash(hash_token(token)).scope_config_id == config.id
    started = start_flow(env.store, token, base_url=site)
    assert env.store.scope_config_of(started.id).id == config.id  # bound before the credentials step
    iid = complete_flow(env.store, token, credentials={"token": ADMIN_TOKEN}, opt_outs=["models.skills"]).integration.id
    data = get_integration(env, iid)
    assert data["scope_config"] == {"id": config.id, "name": config.name}
    skills = next(m for m in data["read_models"] if m["id"] == "lms_skills")
    assert (skills["scope_config_setting"], skills["opted_out_by_customer"]) == ("OPTIONAL", True)

    relink = sdk(env).general.create_reconnection_link(integration_id=iid, scope_config_id="default")
    relink_token = token_of(relink.data.link)
    assert env.store.connect_link_by_hash(hash_token(relink_token)).scope_config_id == "default"
    assert env.store.scope_config_of(iid).id == config.id  # only the completed flow rebinds
    complete_flow(env.store, relink_token, credentials={"token": ADMIN_TOKEN})
    assert get_integration(env, iid)["scope_config"] == {"id": "default", "name": "default"}
    with pytest.raises(kombo_errors.KomboGeneralError) as caught:
        sdk(env).connect.create_connection_link(end_user_email=EMAIL, end_user_organization_name=ORG,
                                                integration_category="LMS", scope_config_id="sc_missing")
    assert caught.value.data.error.code == "PLATFORM.INPUT_INVALID"
    assert "no scope config 'sc_missing'; existing ids: default" in caught.value.data.error.message
    assert caught.value.data.error.message.endswith("(see GET /v1/scope-configs)")  # the session's store may hold many


def test_the_link_url_follows_lmsync_public_url(env, monkeypatch):
    monkeypatch.setenv("LMSYNC_PUBLIC_URL", "https://lms-api.example.org/")
    assert new_link(env).startswith("https://lms-api.example.org/connect/")


@pytest.mark.parametrize("body, status, needle", [
    ({"integration_tool": "moodel"}, 400, "at integration_tool: unknown connector 'moodel'; installed: moodle"),
    ({"end_user_email": "not-an-address"}, 400, "at end_user_email: 'not-an-address' is not an email address"),
    ({"end_user_organization_name": ""}, 400, "at end_user_organization_name"),
    ({"end_usr_email": EMAIL}, 400, "Unknown field 'end_usr_email' in the request body. Allowed: end_user_email,"),
    ({"integration_category": "HRIS"}, 400, "at integration_category: 'HRIS' is not one of ['LMS']"),
    ({"link_type": "FOREVER"}, 400, "at link_type: 'FOREVER' is not one of"),
    ({"language": "xx"}, 400, "at language:"),
    ({"enable_filtering": True}, 400, "at enable_filtering: lmsync does not offer this Kombo feature; send false"),
    ({"scope_config_id": "sc1"}, 400, "at scope_config_id: no scope config 'sc1'; existing ids: default"),
    ({"scope_config_id": 1}, 400, "at scope_config_id"),
])
def test_create_link_refuses_bad_bodies_naming_the_field(env, body, status, needle):
    full = {"end_user_email": EMAIL, "end_user_organization_name": ORG, **body}
    if "end_usr_email" in body:
        del full["end_user_email"]
    with env.client(env.key_all, None) as c:
        links = len(env.store.list_connect_links())
        error = assert_error(c.post("/v1/connect/create-link", json=full), status, "PLATFORM.INPUT_INVALID")
    assert needle in error["error"]["message"]
    assert len(env.store.list_connect_links()) == links  # nothing stored


def test_the_sdk_default_category_is_refused_and_kombo_parses_the_error(env):
    with pytest.raises(kombo_errors.KomboGeneralError) as caught:
        sdk(env).connect.create_connection_link(end_user_email=EMAIL, end_user_organization_name=ORG)  # HRIS default
    assert caught.value.data.error.code == "PLATFORM.INPUT_INVALID" and "integration_category" in str(caught.value)


def test_connect_routes_need_an_admin_key(env):
    body = {"end_user_email": EMAIL, "end_user_organization_name": ORG}
    with env.client(env.key_a, None) as c:
        error = assert_error(c.post("/v1/connect/create-link", json=body), 403, "PLATFORM.AUTHENTICATION_INVALID")
        assert "admin API key" in error["error"]["message"]
        assert_error(c.get("/v1/connect/integration-by-token/abc"), 403, "PLATFORM.AUTHENTICATION_INVALID")
        assert_error(c.post("/v1/integrations/moodle:AAAAAAAAAAAAAAAAAAAAAAAA/relink", json={}), 403,
                     "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(None, None) as c:
        assert_error(c.post("/v1/connect/create-link", json=body), 401, "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(env.key_all, None) as c:
        assert_error(c.post("/v1/integrations/moodle:NoSuchIntegration0000000/relink", json={}), 404,
                     "PLATFORM.INTEGRATION_NOT_FOUND")


def test_a_completed_flow_then_integration_by_token_once(env, site, engine, hooks):
    token = token_of(new_link(env))
    started = start_flow(env.store, token, base_url=site + "/login/index.php")
    data = get_integration(env, started.id)
    assert (data["setup_status"], data["status"]) == ("INCOMPLETE", "INACTIVE")
    assert data["end_user"] == {"organization_name": ORG, "creator_email": EMAIL, "origin_id": ORIGIN}
    with env.client(env.key_all, started.id) as c:  # no credentials yet: nothing may sync it
        assert_error(c.post("/v1/force-sync", json={}), 400, "PLATFORM.INPUT_INVALID")

    result = complete_flow(env.store, token, credentials={"token": ADMIN_TOKEN}, verify=scope_verifier(engine))
    iid = result.integration.id
    assert iid == started.id and result.relinked is False and result.integration.base_url == site
    data = get_integration(env, iid)
    assert (data["setup_status"], data["status"]) == ("FINAL_SYNC_PENDING", "ACTIVE")
    assert data["tool"]["id"] == "moodle" and data["end_user"]["creator_email"] == EMAIL
    assert {m["id"]: (m["is_available"], m["coverage_status"]) for m in data["read_models"]}["lms_users"] == (True, "SUPPORTED")
    assert all(a["coverage_status"] == "SUPPORTED" for a in data["write_actions"])  # from the scope test

    got = sdk(env).connect.get_integration_by_token(token=result.exchange_token)
    assert got.data.model_dump() == {"id": iid, "tool": "moodle", "end_user_origin_id": ORIGIN,
                                     "end_user_organization_name": ORG, "end_user_email": EMAIL,
                                     "setup_status": "FINAL_SYNC_PENDING"}
    with env.client(env.key_all, None) as c:
        again = assert_error(c.get(f"/v1/connect/integration-by-token/{result.exchange_token}"), 410, "PLATFORM.INPUT_INVALID")
        assert "already used" in again["error"]["message"]
        assert_error(c.get(f"/v1/connect/integration-by-token/{token}"), 404, "PLATFORM.INPUT_INVALID")  # a link is no exchange token
        assert_error(c.get("/v1/connect/integration-by-token/" + "x" * 43), 404, "PLATFORM.INPUT_INVALID")
    with pytest.raises(LinkUsed, match="already used"):  # the link itself is used up too
        complete_flow(env.store, token, credentials={"token": ADMIN_TOKEN})

    run = engine.sync(iid, "FULL")
    assert run.status == "succeeded"
    assert get_integration(env, iid)["setup_status"] == "COMPLETED"

    assert sender_for(env.store).flush(10)
    [created] = hooks.events("integration-created")
    IntegrationCreatedWebhookPayload.model_validate(created)  # Kombo's own model of the payload
    assert created["data"] == {"id": iid, "tool": "moodle", "category": "LMS",
                               "end_user": {"organization_name": ORG, "creator_email": EMAIL, "origin_id": ORIGIN}}
    headers, body = hooks.requests[0]
    assert verify(hooks.secret, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])


def test_a_flow_in_one_call_and_wrong_credentials_fire_connection_flow_failed(env, site, engine, hooks):
    token = token_of(new_link(env))
    with pytest.raises(ConnectFlowFailed, match="invalidtoken"):
        complete_flow(env.store, token, base_url=site, credentials={"token": "f" * 32}, verify=scope_verifier(engine))
    with pytest.raises(ConnectInputError, match="credentials: unknown credential 'password'"):
        complete_flow(env.store, token, base_url=site, credentials={"password": "x"})
    result = complete_flow(env.store, token, base_url=site, credentials={"token": ADMIN_TOKEN}, verify=scope_verifier(engine))
    assert env.store.get_integration(result.integration.id).credentials == {"token": ADMIN_TOKEN}
    assert sender_for(env.store).flush(10)
    [failed] = hooks.events("connection-flow-failed")
    ConnectionFlowFailedWebhookPayload.model_validate(failed)
    assert failed["data"]["integration_tool"] == "moodle" and failed["data"]["end_user"]["origin_id"] == ORIGIN
    assert "f" * 32 not in json.dumps(failed)
    link_id = env.store.connect_link_by_hash(hash_token(token)).id
    assert failed["data"]["log_url"].endswith(f"/v1/connect/links/{link_id}")
    with env.client(env.key_all, None) as c:
        state = c.get(f"/v1/connect/links/{link_id}").json()["data"]
    assert (state["kind"], state["state"], state["integration_id"]) == ("CREATE", "USED", result.integration.id)
    assert token not in json.dumps(state)
    assert len(hooks.events("integration-created")) == 1


def test_expired_links_and_tokens_are_refused(env, site):
    old = create_link(env.store, EndUser(EMAIL, ORG), tool="moodle", now=datetime.now(UTC) - timedelta(hours=1, seconds=1))
    with pytest.raises(LinkExpired, match="expired at"):
        complete_flow(env.store, old.token, base_url=site, credentials={"token": ADMIN_TOKEN})
    with pytest.raises(LinkExpired):
        start_flow(env.store, old.token, base_url=site)
    magic = create_link(env.store, EndUser(EMAIL, ORG), tool="moodle", link_type="MAGIC_LINK",
                        now=datetime.now(UTC) - timedelta(days=29))
    result = complete_flow(env.store, magic.token, base_url=site, credentials={"token": ADMIN_TOKEN},
                           now=datetime.now(UTC) - timedelta(days=29))  # its exchange token expired long ago
    with env.client(env.key_all, None) as c:
        gone = assert_error(c.get(f"/v1/connect/integration-by-token/{result.exchange_token}"), 410, "PLATFORM.INPUT_INVALID")
    assert "expired at" in gone["error"]["message"]


def test_relink_keeps_the_integration_and_record_ids(env, site, engine):
    result = complete_flow(env.store, token_of(new_link(env)), base_url=site, credentials={"token": ADMIN_TOKEN},
                           verify=scope_verifier(engine))
    iid = result.integration.id
    assert engine.sync(iid, "FULL").status == "succeeded"
    with env.client(env.key_all, iid) as c:
        users = sorted(u["id"] for u in c.get("/v1/lms/users").json()["data"]["results"])
    assert users

    answer = sdk(env).general.create_reconnection_link(integration_id=iid, link_type="MAGIC_LINK")
    token = token_of(answer.data.link)
    stored = env.store.connect_link_by_hash(hash_token(token))
    assert (stored.kind, stored.integration_id, stored.end_user_email) == ("relink", iid, EMAIL)
    with pytest.raises(ConnectFlowFailed):  # a bad token must not break the working integration
        complete_flow(env.store, token, credentials={"token": "0" * 32}, verify=scope_verifier(engine))
    assert env.store.get_integration(iid).credentials == {"token": ADMIN_TOKEN}

    relinked = complete_flow(env.store, token, base_url=site + "/", credentials={"token": ROTATED_TOKEN},
                             verify=scope_verifier(engine))
    assert relinked.relinked is True and relinked.integration.id == iid
    assert env.store.get_integration(iid).credentials == {"token": ROTATED_TOKEN}
    assert engine.sync(iid, "FULL").status == "succeeded"
    with env.client(env.key_all, iid) as c:
        assert sorted(u["id"] for u in c.get("/v1/lms/users").json()["data"]["results"]) == users
    data = get_integration(env, iid)
    assert data["id"] == iid and data["setup_status"] == "COMPLETED"
    assert sdk(env).connect.get_integration_by_token(token=relinked.exchange_token).data.id == iid
    with env.client(env.key_all, None) as c:
        assert_error(c.post(f"/v1/integrations/{iid}/relink", json={"link_typ": "EMBEDDED"}), 400, "PLATFORM.INPUT_INVALID")


def test_integration_by_token_is_single_use_under_a_race(env, site):
    result = complete_flow(env.store, token_of(new_link(env)), base_url=site, credentials={"token": ADMIN_TOKEN})
    outcomes: list[str] = []

    def take() -> None:
        try:
            integration_by_token(env.store, result.exchange_token)
            outcomes.append("ok")
        except LinkUsed:
            outcomes.append("used")

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["used"] * 5


def test_tokens_are_stored_only_as_hashes(env, site):
    link = new_link(env)
    token = token_of(link)
    result = complete_flow(env.store, token, base_url=site, credentials={"token": ADMIN_TOKEN})
    rows = env.store._fetchall("SELECT * FROM connect_links")
    dump = json.dumps([list(map(str, r)) for r in rows])
    for secret in (token, result.exchange_token):
        assert secret not in dump and hashlib.sha256(secret.encode()).hexdigest() in dump
    files = [env.store.path, env.store.path.with_name(env.store.path.name + "-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert token.encode() not in raw and result.exchange_token.encode() not in raw
    assert ADMIN_TOKEN.encode() not in raw  # credentials are encrypted at rest

