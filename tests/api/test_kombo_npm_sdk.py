"""Kombo's npm SDK (``@kombo-api/sdk``, pinned in tests/npm_sdk/package.json) drives lmsync over
real HTTP on loopback: tests/npm_sdk/drive.mjs calls the SDK's own client (its zod schemas must
accept every answer) and prints one JSON document, asserted on here. The SDK has no LMS namespace,
so the driver fetches the LMS read endpoints with the SDK's ``HTTPClient`` and this module
validates those pages against the served OpenAPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.moodle.simulator import ADMIN_TOKEN, create_app as sim_app, run_in_thread, tiny_site
from engine.api import serve_in_thread
from engine.api._contract import served_openapi
from engine.ids import random_id
from engine.store.base import Integration
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

pytestmark = pytest.mark.slow

NPM_DIR = Path(__file__).resolve().parent.parent / "npm_sdk"
SHIRT = {"type": "text", "shortname": "tshirt", "name": "T-Shirt Size", "value": "XL", "displayvalue": "XL"}
_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH")


def _pinned_version() -> str:
    return json.loads((NPM_DIR / "package.json").read_text())["dependencies"]["@kombo-api/sdk"]


def _installed_version() -> str | None:
    manifest = NPM_DIR / "node_modules" / "@kombo-api" / "sdk" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def _installed_as_locked() -> bool:
    """node_modules holds package-lock.json's packages: npm's hidden lockfile matches, and each
    package's manifest is there with the locked version."""
    hidden = NPM_DIR / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return False
    locked = json.loads((NPM_DIR / "package-lock.json").read_text())["packages"]
    locked.pop("", None)  # the project itself
    if json.loads(hidden.read_text()).get("packages") != locked:
        return False
    manifests = {path: NPM_DIR / path / "package.json" for path in locked}
    return all(m.is_file() and json.loads(m.read_text()).get("version") == locked[path]["version"]
               for path, m in manifests.items())


@pytest.fixture(scope="module")
def node() -> str:
    """The ``node`` binary, with the pinned SDK installed by ``npm ci`` into tests/npm_sdk/node_modules
    (once: while node_modules matches package-lock.json, a re-run installs nothing)."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if not node_bin or not npm_bin:
        pytest.skip("node/npm not on PATH: Kombo's npm SDK cannot be run")
    major = subprocess.run([node_bin, "--version"], capture_output=True, text=True, check=True).stdout
    if int(major.strip().lstrip("v").split(".")[0]) < 18:
        pytest.skip(f"node {major.strip()} is too old for @kombo-api/sdk (needs fetch, node >= 18)")
    if not _installed_as_locked():
        done = subprocess.run([npm_bin, "ci", "--prefer-offline", "--no-audit", "--no-fund"], cwd=NPM_DIR,
                              capture_output=True, text=True, timeout=300)
        if done.returncode and any(code in done.stderr for code in _NETWORK_ERRORS):
            pytest.skip(f"npm registry unreachable, @kombo-api/sdk not installed: {done.stderr.strip()[-300:]}")
        assert done.returncode == 0, f"npm ci in {NPM_DIR} failed:\n{done.stdout}\n{done.stderr}"
    assert _installed_version() == _pinned_version()
    return node_bin


def drive(node_bin: str, url: str, key: str, iid: str, *doomed: str) -> tuple[int, dict[str, Any], str]:
    """Run the driver (it deletes the *doomed* integration, if given); its exit code, the JSON
    document it printed, its stderr."""
    done = subprocess.run([node_bin, str(NPM_DIR / "drive.mjs"), url, key, iid, *doomed], cwd=NPM_DIR,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    try:
        doc = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the driver printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}") from exc
    return done.returncode, doc, done.stderr


@pytest.fixture(scope="module")
def synced(env):
    """A Moodle integration synced from a simulated tiny site (one user with a ``tshirt`` custom
    profile field), bound to a scope config declaring three custom fields."""
    site = tiny_site()
    user = site.add_user("npmshirt", "Npm", "Shirt", "npm-shirt@example.org", customfields=[dict(SHIRT)])
    iid = "moodle:" + random_id()
    with run_in_thread(sim_app(site)) as base_url:
        env.store.add_integration(Integration(iid, "moodle", base_url, {"token": ADMIN_TOKEN}))
        engine = SyncEngine(env.store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))
        run = engine.sync(iid, "FULL")  # every model
        assert run.status == "succeeded", run.error
    config = env.store.add_scope_config(f"npm-{random_id()}", {"custom_fields": {
        "users": [{"key": "shirt_size", "label": "Shirt size"}, {"key": "city"}], "courses": [{"key": "level"}]}})
    env.store.bind_scope_config(iid, config.id)
    return iid, str(user.id)


@pytest.fixture(scope="module")
def run(env, node, synced) -> dict[str, Any]:
    """The driver's document for the synced integration; any SDK failure (a response its zod
    schemas reject included) fails here with the SDK's own description."""
    iid, _ = synced
    doomed = "moodle:" + random_id()
    env.store.add_integration(Integration(doomed, "moodle", "https://lms.example.com", {"token": "x"}))
    code, doc, stderr = drive(node, env.url, env.key_all, iid, doomed)
    doc["doomed"] = doomed
    assert doc["failures"] == [], json.dumps(doc["failures"], indent=1)
    assert code == 0, stderr
    return doc


def _validator(component: str) -> Draft202012Validator:
    doc = served_openapi()
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": doc["components"]})


def _records(pages: list[dict], component: str) -> list[dict]:
    for page in pages:
        _validator(component).validate(page)
    return [r for page in pages for r in page["data"]["results"]]


def _stored_remote_ids(env, iid: str, path: str) -> list[str]:
    with env.client(env.key_all, iid) as c:
        body = c.get(f"/v1{path}", params={"page_size": 250}).json()
    assert body["data"]["next"] is None
    return [r["remote_id"] for r in body["data"]["results"]]


def test_the_pinned_sdk_and_the_platform_calls(run, env, synced):
    iid, _ = synced
    assert run["sdk"] == {"name": "@kombo-api/sdk", "version": _pinned_version()}
    assert run["check_api_key"]["status"] == "success"
    details = run["integration"]["data"]
    assert details["id"] == iid and details["tool"]["id"] == "moodle" and details["category"] == "LMS"
    tools = {t["id"]: t for t in run["tools"]["data"]["tools"]}
    assert {"moodle", "canvas"} <= set(tools)
    assert all(tools[t]["coverage"]["read_models"] for t in ("moodle", "canvas"))
    assert run["trigger_sync"]["data"]["already_queued"] in (True, False)
    assert (iid, "FULL") in env.services.calls
    assert "/connect/" in run["connection_link"]["data"]["link"]
    assert run["set_integration_enabled"] == {"status": "success", "data": {}} and env.store.get_integration(iid).enabled
    relink = run["reconnection_link"]["data"]["link"]
    assert "/connect/" in relink and relink != run["connection_link"]["data"]["link"]
    assert run["delete_integration"]["status"] == "success" and env.store.get_integration(run["doomed"]) is None


def test_lms_reads_follow_the_cursor_to_the_end(run, env, synced):
    iid, uid = synced
    for name, path, component, page_size in (("users", "/lms/users", "GetLmsUsersPositiveResponse", 3),
                                             ("courses", "/lms/courses", "GetLmsCoursesPositiveResponse", 2),
                                             ("course_progressions", "/lms/course-progressions",
                                              "GetLmsCourseProgressionsPositiveResponse", 4)):
        pages = run["lms"][name]
        assert len(pages) >= 2, f"{name}: the cursor never reached page 2"
        assert all(len(p["data"]["results"]) == page_size for p in pages[:-1])
        records = _records(pages, component)
        assert [r["remote_id"] for r in records] == _stored_remote_ids(env, iid, path), name
    users = {u["remote_id"]: u for u in _records(run["lms"]["users"], "GetLmsUsersPositiveResponse")}
    assert users[uid]["first_name"] == "Npm" and users[uid]["work_email"] == "npm-shirt@example.org"
    courses = {c["id"]: c for c in _records(run["lms"]["courses"], "GetLmsCoursesPositiveResponse")}
    assert all(c["revisions"] and all(r["title"] for r in c["revisions"]) for c in courses.values())
    revisions = {r["id"]: cid for cid, c in courses.items() for r in c["revisions"]}
    for p in _records(run["lms"]["course_progressions"], "GetLmsCourseProgressionsPositiveResponse"):
        assert p["user"]["id"] in {u["id"] for u in users.values()}
        assert revisions[p["course_revision"]["id"]] == p["course_revision"]["course"]["id"], p


def test_integration_field_passthrough_took_effect(run, env, synced):
    iid, uid = synced
    listed = run["integration_fields"]
    assert listed["pages"] >= 2 and listed["first_next"]
    ids = [f["id"] for f in listed["results"]]
    assert len(ids) == len(set(ids)) == len(env.store.list_integration_fields(iid, None, 2000))
    shirt = next(f for f in listed["results"] if (f["model"], f["type"], f["key"]) == ("lms_users", "CUSTOM", "tshirt"))
    assert shirt["label"] == "T-Shirt Size" and shirt["is_passthrough_enabled"] is False  # as listed before the update
    changed = run["update_integration_field"]["data"]
    assert changed["id"] == shirt["id"] and changed["is_passthrough_enabled"] is True
    assert env.store.get_integration_field(iid, shirt["id"]).passthrough is True
    users = {u["remote_id"]: u for u in _records(run["lms"]["users"], "GetLmsUsersPositiveResponse")}
    assert {"id": shirt["id"], "key": "tshirt", "type": "CUSTOM", "value": "XL", "label": "T-Shirt Size"} \
        in users[uid]["integration_fields"]


def test_custom_field_mapping_took_effect(run, env, synced):
    iid, uid = synced
    listed = run["custom_fields"]
    assert listed["pages"] == 2 and listed["first_next"]  # 3 declared keys, page_size 2
    by_key = {c["key"]: c for c in listed["results"]}
    assert set(by_key) == {"shirt_size", "city", "level"} and by_key["shirt_size"]["integration_field"] is None
    mapped = run["update_custom_field_mapping"]["data"]
    shirt_field = run["update_integration_field"]["data"]["id"]
    assert mapped["id"] == by_key["shirt_size"]["id"] and mapped["integration_field"]["id"] == shirt_field
    after = {c["key"]: c for c in run["custom_fields_after"]}
    assert after["shirt_size"]["integration_field"]["id"] == shirt_field and after["city"]["integration_field"] is None
    users = {u["remote_id"]: u for u in _records(run["lms"]["users"], "GetLmsUsersPositiveResponse")}
    assert users[uid]["custom_fields"]["shirt_size"] == "XL"
    assert all(u["custom_fields"]["shirt_size"] is None for rid, u in users.items() if rid != uid)


def test_errors_are_the_sdks_typed_errors(run):
    errors = run["errors"]
    for name, status, code in (("unknown_integration", 404, "PLATFORM.INTEGRATION_NOT_FOUND"),
                               ("unknown_integration_fields", 404, "PLATFORM.INTEGRATION_NOT_FOUND"),
                               ("bad_api_key", 401, "PLATFORM.AUTHENTICATION_INVALID")):
        got = errors[name]
        assert (got["class"], got["status_code"], got["status"], got["code"]) == \
            ("KomboGeneralError", status, "error", code), got
        assert got["is_general_error"] and got["is_kombo_error"] and not got["is_validation_error"]
    deleted = errors["deleted_integration"]
    assert (deleted["class"], deleted["status_code"], deleted["code"]) == \
        ("KomboGeneralError", 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    # the shared server has no passthrough service: the SDK's typed error carries lmsync's reason
    passthrough = errors["passthrough"]
    assert (passthrough["class"], passthrough["status_code"], passthrough["code"]) == \
        ("KomboGeneralError", 403, "PLATFORM.INPUT_INVALID")
    assert passthrough["message"].startswith("[INTEGRATION.ACTION_NOT_AVAILABLE]")


def _malformed_app() -> Starlette:
    """Answers that break the SDK's schemas: an integration without its required fields."""
    async def broken(request):
        return JSONResponse({"status": "success", "data": {"id": 42}})

    return Starlette(routes=[Route("/v1/{path:path}", broken, methods=["GET", "POST", "PUT", "PATCH"])])


def test_a_response_the_sdk_rejects_fails_the_run(node):
    """The guard itself: an answer the SDK's zod schemas reject is a recorded failure and exit 1."""
    with serve_in_thread(_malformed_app()) as url:
        code, doc, _ = drive(node, url, "lms_x", "moodle:x")
    assert code == 1
    by_step = {f["step"]: f for f in doc["failures"]}
    assert by_step["integration"]["class"] == "ResponseValidationError" and by_step["integration"]["is_validation_error"]
    assert "data" in by_step["integration"]["pretty"]
