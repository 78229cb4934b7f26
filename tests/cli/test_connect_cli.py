"""`lmsync connect create-link|relink` through the real `lmsync` (subprocesses)."""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.connect import hash_token
from engine.store import open_store

REPO = Path(__file__).resolve().parents[2]
LMSYNC = [sys.executable, "-m", "engine.cli"]


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LMSYNC_PUBLIC_URL")}
    return {**env, "LMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'connect.sqlite3'}", "COLUMNS": "200",
            "LMSYNC_HOME": str(tmp_path), "LMSYNC_PUBLIC_URL": "https://lmsync.school.example"}


def lmsync(env, *args):
    return subprocess.run([*LMSYNC, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def stored(env, link: str):
    store = open_store(env["LMSYNC_DATABASE_URL"])
    try:
        return store.connect_link_by_hash(hash_token(link.rsplit("/", 1)[-1]))
    finally:
        store.close()


def test_create_link_prints_the_link_and_stores_only_its_hash(env):
    done = lmsync(env, "connect", "create-link", "--email", "ada@school.example", "--org", "Lovelace", "--tool", "moodle")
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("https://lmsync.school.example/connect/") and "valid once" in done.stdout + done.stderr
    row = stored(env, link)
    assert (row.kind, row.link_type, row.tool, row.end_user_organization_name) == ("create", "EMBEDDED", "moodle", "Lovelace")
    magic = lmsync(env, "connect", "create-link", "--email", "ada@school.example", "--org", "Lovelace", "--magic", "--json")
    assert magic.returncode == 0, magic.stderr
    view = json.loads(magic.stdout)
    assert view["link_type"] == "MAGIC_LINK" and view["expires_at"].endswith("Z")
    expires = datetime.fromisoformat(view["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=30)
    assert stored(env, view["link"]).id == view["link_id"]


@pytest.mark.parametrize("args, needle", [
    (["--email", "nope", "--org", "X"], "error: --email: 'nope' is not an email address"),
    (["--email", "a@b.example", "--org", "X", "--tool", "moodel"], "error: --tool: unknown connector 'moodel'"),
    (["--email", "a@b.example", "--org", " "], "error: --org: must not be empty"),
])
def test_create_link_usage_errors(env, args, needle):
    done = lmsync(env, "connect", "create-link", *args)
    assert done.returncode == 2 and needle in done.stderr and done.stdout == ""


def test_relink(env):
    added = lmsync(env, "integrations", "add", "moodle", "--url", "https://m.example", "--token", "t" * 32, "--json")
    assert added.returncode == 0, added.stderr
    iid = json.loads(added.stdout)["id"]
    done = lmsync(env, "connect", "relink", iid, "--json")
    assert done.returncode == 0, done.stderr
    row = stored(env, json.loads(done.stdout)["link"])
    assert (row.kind, row.integration_id, row.tool) == ("relink", iid, "moodle")
    missing = lmsync(env, "connect", "relink", "moodle:Nope")
    assert missing.returncode == 2 and "no integration 'moodle:Nope'" in missing.stderr
