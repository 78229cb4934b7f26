"""No secret anywhere: sync with a recognisable token, then scan everything lmsync wrote or
printed — the database file, logs, run history, remote_data, API answers, CLI output."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from connectors.moodle.simulator import SimControl, Token, tiny_site
from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.cli import app

sys.path.insert(0, str(Path(__file__).parents[1] / "moodle"))
from simenv import moodle_env  # noqa: E402

TOKEN = "5ec7e75ec7e75ec7e75ec7e75ec7e7aa"


def _site():
    site = tiny_site()
    site.add_token(Token(TOKEN, 2))
    return site


def test_token_never_written_or_printed(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    control = SimControl(fault_rate=0.2, fault_kinds=("http500", "truncated", "html"), seed=3, retry_after=0)
    with moodle_env(tmp_path, _site(), token=TOKEN, control=control) as env:
        run = env.sync()
        assert run.status == "succeeded", run.error
        env.control.fault_rate, env.control.fault_kinds = 1.0, ("http503",)
        env.engine.policy = type(env.engine.policy)(attempts=2, base_delay=0.001, max_delay=0.001, max_retry_after=0.001)
        failed = env.sync()
        assert failed.status == "failed"
        env.control.fault_rate = 0
        # everything readable through the API
        key = create_api_key(env.store, "t", [env.integration_id])
        texts = []
        with serve_in_thread(create_app(env.store, services=ApiServices(force_sync=lambda i, k: ("x", False)))) as base:
            headers = {"Authorization": f"Bearer {key}", "X-Integration-Id": env.integration_id}
            for path in ("/v1/lms/users", "/v1/lms/courses", "/v1/lms/skills", "/v1/lms/course-progressions", f"/v1/integrations/{env.integration_id}"):
                texts.append(httpx.get(base + path, headers=headers, params={"include_deleted": "true"} if "lms" in path else None).text)
        runs = [json.dumps(r.__dict__, default=str) for r in env.store.list_runs(env.integration_id)]
        db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("lmsync.sqlite3*"))
    cli = CliRunner().invoke(app, ["integrations", "list", "--json", "--store", f"sqlite:///{tmp_path / 'lmsync.sqlite3'}"])
    assert cli.exit_code == 0 and env.integration_id in cli.stdout
    haystacks = {"logs": caplog.text, "runs": "\n".join(runs), "api": "\n".join(texts), "cli": cli.stdout + cli.stderr,
                 "captured": "".join(capsys.readouterr())}
    for name, text in haystacks.items():
        assert TOKEN not in text, name
    assert TOKEN.encode() not in db_bytes
    assert "Ryan" not in haystacks["api"]  # sanity: the scans look at real content
    assert "Müller" in haystacks["api"] or "M\\u00fcller" in haystacks["api"]
