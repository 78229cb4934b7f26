"""The integration's life: settings schema, URL normalisation, and through the real `lmsync`
(subprocesses): update (token rotation keeps every id), remove (asks first), add twice (needs
--force), API keys (list, revoke, expiry) checked over real HTTP on loopback."""

import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from connectors.moodle.plugin import normalize_site_url
from connectors.moodle.simulator import ADMIN_TOKEN, Token, create_app, run_in_thread, tiny_site
from connectors.moodle.simulator._registry import all_function_names
from engine.api import ApiServices, serve_in_thread
from engine.api import create_app as create_api
from engine.connector import SettingsError, check_settings, parse_setting
from engine.models import MODELS
from engine.plugins import connectors, get_plugin_manager
from engine.store import open_store
from engine.store.base import Query

MOODLE = connectors(get_plugin_manager())["moodle"]


@pytest.mark.parametrize("url, root", [
    ("https://m.example/webservice/rest/server.php", "https://m.example"),
    ("https://m.example/moodle/login/index.php?x=1", "https://m.example/moodle"),
    ("https://m.example/moodle//", "https://m.example/moodle"),
    ("http://m.example", "http://m.example"),
])
def test_url_normalisation(url, root):
    assert normalize_site_url(url)[0] == root


@pytest.mark.parametrize("url", ["ftp://x", "https://a:b@x.example", "not a url"])
def test_bad_url(url):
    with pytest.raises(ValueError):
        normalize_site_url(url)


@pytest.mark.parametrize("key, raw, value", [("student_role_id", "7", 7), ("course_category_id", "2", 2), ("page_size", "50", 50)])
def test_valid_setting(key, raw, value):
    assert parse_setting(MOODLE, key, raw) == value
    assert check_settings(MOODLE, {key: value}) == {key: value}


@pytest.mark.parametrize("key, raw, message", [
    ("studnt_role_id", "5", "unknown setting 'studnt_role_id' for the moodle connector; did you mean 'student_role_id'?"),
    ("course_category_id", "abc", "setting course_category_id='abc': expected an integer"),
])
def test_invalid_setting(key, raw, message):
    with pytest.raises(SettingsError, match=message.replace("?", r"\?")):
        parse_setting(MOODLE, key, raw)


def test_check_settings_refuses_ill_typed():
    with pytest.raises(SettingsError, match="student_role_id"):
        check_settings(MOODLE, {"student_role_id": 0})


REPO = Path(__file__).resolve().parents[2]
LMSYNC = [sys.executable, "-m", "engine.cli"]
ROTATED_TOKEN = "9e8d7c6b5a4938271605f4e3d2c1b0a9"


@pytest.fixture
def env(tmp_path):
    """The environment of one `lmsync` store (SQLite in tmp_path), 80 columns, not in CI mode."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "LMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'life.sqlite3'}", "COLUMNS": "80"}


def lmsync(env, *args, stdin=subprocess.DEVNULL, timeout=120):
    return subprocess.run([*LMSYNC, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=stdin)


def lmsync_json(env, *args):
    done = lmsync(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def store_of(env):
    store = open_store(env["LMSYNC_DATABASE_URL"])
    store.migrate()
    return store


def record_ids(store, iid: str) -> dict[str, list[tuple[str, str]]]:
    """``{model: [(remote id, lmsync id)]}`` of every stored record, deleted ones marked."""
    out = {}
    for model in MODELS:
        rows = store.query(Query(iid, model, limit=100_000, include_deleted=True))
        out[model] = sorted((r.remote_id, r.id + (" deleted" if r.remote_deleted_at else "")) for r in rows)
    return out


@pytest.fixture
def site():
    """The tiny Moodle simulator on loopback: (base URL, its MoodleSite)."""
    moodle = tiny_site()
    with run_in_thread(create_app(moodle)) as base:
        yield base, moodle


def test_token_rotation_keeps_the_integration_and_record_ids(env, site):
    base, moodle = site
    added = lmsync_json(env, "integrations", "add", "moodle", "--url", base, "--token", ADMIN_TOKEN)
    first = lmsync_json(env, "sync", "--integration", added["id"])
    assert first["status"] == "succeeded" and first["stats"]["users"]["created"] == 9
    before = record_ids(store_of(env), added["id"])
    assert sum(map(len, before.values())) > 20
    # the Moodle admin rotates the token: the old one stops working
    moodle.add_token(Token(ROTATED_TOKEN, 2, functions=all_function_names(), service="lmsync_full"))
    del moodle.tokens[ADMIN_TOKEN]
    stale = lmsync(env, "sync", "--integration", added["id"], "--json")
    assert stale.returncode == 1 and json.loads(stale.stdout)["status"] == "failed"
    updated = lmsync(env, "integrations", "update", added["id"], "--token", ROTATED_TOKEN, "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["id"] == added["id"]
    assert f"lmsync scope-test --integration {added['id']}" in updated.stderr
    assert ROTATED_TOKEN not in updated.stdout + updated.stderr
    again = lmsync_json(env, "sync", "--integration", added["id"])
    assert again["status"] == "succeeded" and again["integration_id"] == added["id"]
    assert sum(s["created"] + s["deleted"] for s in again["stats"].values()) == 0
    store = store_of(env)
    assert [i.id for i in store.list_integrations()] == [added["id"]]
    assert store.get_integration(added["id"]).credentials == {"token": ROTATED_TOKEN}
    assert record_ids(store, added["id"]) == before


def test_adding_the_same_site_and_token_twice_needs_force(env):
    args = ["integrations", "add", "moodle", "--url", "https://moodle.example/", "--token", ADMIN_TOKEN]
    first = lmsync_json(env, *args)
    twice = lmsync(env, *args)
    assert twice.returncode == 1
    assert f"integration {first['id']} already uses this URL and token" in twice.stderr and "--force" in twice.stderr
    assert [i["id"] for i in lmsync_json(env, "integrations", "list")] == [first["id"]]
    other_token = lmsync_json(env, *args[:-1], "another-token")  # same site, another token: a second integration
    forced = lmsync_json(env, *args, "--force")
    ids = {i["id"] for i in lmsync_json(env, "integrations", "list")}
    assert ids == {first["id"], other_token["id"], forced["id"]} and len(ids) == 3


def _answer_on_a_tty(env, args, answer: bytes, prompt: bytes = b"?") -> tuple[int, str]:
    """Run `lmsync *args` with a terminal as stdin/stdout, type *answer* after the prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*LMSYNC, *args], env=env, cwd=REPO, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen, deadline, answered = b"", time.monotonic() + 60, False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and prompt in seen:
            os.write(master, answer)
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    return proc.wait(30), seen.decode(errors="replace")


def test_remove_asks_and_removes_nothing_without_a_yes(env, site):
    base, _ = site
    added = lmsync_json(env, "integrations", "add", "moodle", "--url", base, "--token", ADMIN_TOKEN)
    assert lmsync_json(env, "sync", "--integration", added["id"], "--model", "users")["status"] == "succeeded"
    kept = record_ids(store_of(env), added["id"])
    assert len(kept["users"]) == 9
    no_tty = lmsync(env, "integrations", "remove", added["id"])
    assert no_tty.returncode == 2 and "pass --yes" in no_tty.stderr
    code, screen = _answer_on_a_tty(env, ["integrations", "remove", added["id"]], b"n\n")
    assert code == 1 and f"remove {added['id']} and every record synced from it?" in screen and "not removed" in screen
    code, _ = _answer_on_a_tty(env, ["integrations", "remove", added["id"]], b"\n")  # the default is no
    assert code == 1
    store = store_of(env)
    assert store.get_integration(added["id"]) is not None and record_ids(store, added["id"]) == kept
    code, screen = _answer_on_a_tty(env, ["integrations", "remove", added["id"]], b"y\n")
    assert code == 0 and "removed" in screen
    assert store.get_integration(added["id"]) is None and record_ids(store, added["id"])["users"] == []


@pytest.fixture
def api(env):
    """The HTTP API on loopback over the same store the `lmsync` subprocesses use."""
    store = store_of(env)
    with serve_in_thread(create_api(store, services=ApiServices(force_sync=lambda iid, kind: ("s", False)))) as url:
        yield lambda key: httpx.get(f"{url}/v1/check-api-key", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    store.close()


def test_api_keys_list_and_revoke(env, api):
    iid = lmsync_json(env, "integrations", "add", "moodle", "--url", "https://m.example", "--token", "t")["id"]
    admin = lmsync_json(env, "api-keys", "create", "--name", "ops")
    limited = lmsync_json(env, "api-keys", "create", "--name", "app", "--integration", iid, "--expires-in", "30d")
    assert admin["expires_at"] is None
    listed = lmsync_json(env, "api-keys", "list")
    assert [(k["name"], k["admin"], k["integrations"], k["expired"]) for k in listed] == [
        ("ops", True, None, False), ("app", False, [iid], False)]
    created = datetime.fromisoformat(listed[1]["created_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(listed[1]["expires_at"].replace("Z", "+00:00"))
    assert listed[1]["expires_at"] == limited["expires_at"] and listed[1]["created_at"].endswith("Z")
    assert timedelta(days=30) - timedelta(seconds=5) < expires - created <= timedelta(days=30)
    table = lmsync(env, "api-keys", "list").stdout
    assert all(len(line) <= 80 for line in table.splitlines()) and "…" not in table
    assert listed[0]["id"] in table and listed[1]["id"] in table and iid in table
    assert "never" in table and listed[1]["expires_at"] in table and listed[1]["created_at"] in table
    assert "EXPIRED" not in table and admin["api_key"] not in table
    assert api(admin["api_key"]).status_code == 200 and api(limited["api_key"]).status_code == 200
    revoked = lmsync(env, "api-keys", "revoke", listed[1]["id"], "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout) == {"revoked": True}
    answer = api(limited["api_key"])
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "PLATFORM.AUTHENTICATION_INVALID"
    assert api(admin["api_key"]).status_code == 200
    assert [k["id"] for k in lmsync_json(env, "api-keys", "list")] == [listed[0]["id"]]
    again = lmsync(env, "api-keys", "revoke", listed[1]["id"])
    assert again.returncode == 1 and "no API key" in again.stdout


def test_an_expired_key_gets_401_and_is_listed_as_expired(env, api):
    made = lmsync_json(env, "api-keys", "create", "--name", "short", "--expires-in", "1m")
    expires = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=50) < expires - datetime.now(timezone.utc) <= timedelta(seconds=60)
    assert api(made["api_key"]).status_code == 200
    key_id = lmsync_json(env, "api-keys", "list")[0]["id"]
    store_of(env).set_api_key_expiry(key_id, datetime.now(timezone.utc) - timedelta(seconds=1))  # a minute passed
    answer = api(made["api_key"])
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "PLATFORM.AUTHENTICATION_INVALID"
    assert "expired at" in answer.json()["error"]["message"]
    assert lmsync_json(env, "api-keys", "list")[0]["expired"] is True
    table = lmsync(env, "api-keys", "list").stdout
    assert "EXPIRED" in table and all(len(line) <= 80 for line in table.splitlines())


@pytest.mark.parametrize("value", ["30", "2w", "0d", "1.5h", "-1d", "3651d", "d", "30 d x"])
def test_expires_in_refuses_anything_but_days_hours_minutes_in_one_line(env, value):
    done = lmsync(env, "api-keys", "create", "--expires-in", value)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --expires-in {value!r}") and "30d, 12h or 45m" in lines[0]
    assert store_of(env).list_api_keys() == []
