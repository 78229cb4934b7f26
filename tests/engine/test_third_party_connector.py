"""A connector in its own installed package: ``tests/data/lmsync-tinylms`` (entry point group
``lmsync``, its own mappings directory) is pip-installed into this venv, and the real ``lmsync``
command lists it, checks its specs and syncs a TinyLMS site with it — no file of lmsync edited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.moodle.simulator import run_in_thread

PACKAGE = Path(__file__).resolve().parents[1] / "data" / "lmsync-tinylms"
TOKEN = "tiny-secret-token-0001"
PEOPLE = [{"id": 1, "given": "Ada", "family": "Lovelace", "mail": "ada@example.org", "active": True},
          {"id": 2, "given": "Alan", "family": "Turing", "mail": "alan@example.org", "active": False}]


def _tiny_site() -> Starlette:
    async def users(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"people": PEOPLE})

    return Starlette(routes=[Route("/api/users", users)])


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True, timeout=300,
                   capture_output=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    source = tmp_path_factory.mktemp("pkg") / PACKAGE.name  # a copy: building writes next to the sources
    shutil.copytree(PACKAGE, source)
    _pip("install", "--no-deps", str(source))  # built in isolation, like any package a user installs
    try:
        yield
    finally:
        _pip("uninstall", "-y", "lmsync-tinylms")


def _lmsync(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_an_installed_package_is_a_connector(installed, tmp_path):
    env = {**os.environ, "LMSYNC_HOME": str(tmp_path / "home")}
    env.pop("LMSYNC_DATABASE_URL", None)
    listed = _lmsync("integrations", "connectors", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "tinylms" in {c["name"] for c in json.loads(listed.stdout)}
    checked = _lmsync("mappings", "check", "--json", env=env)
    assert checked.returncode == 0, checked.stdout
    assert any("lmsync_tinylms" in f and f.endswith("users.yaml") for f in json.loads(checked.stdout)["valid"])
    with run_in_thread(_tiny_site()) as base:
        added = _lmsync("integrations", "add", "tinylms", "--url", base, "--token", TOKEN, "--json", env=env)
        assert added.returncode == 0, added.stderr
        iid = json.loads(added.stdout)["id"]
        run = _lmsync("sync", "--integration", iid, "--json", env=env)
        assert run.returncode == 0, run.stderr
        data = json.loads(run.stdout)
        assert data["status"] == "succeeded" and data["stats"]["users"]["created"] == 2
        assert TOKEN not in run.stdout + run.stderr
