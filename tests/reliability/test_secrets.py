"""No secret anywhere: sync with a recognisable token, then scan everything lmsync wrote or
printed — the database file, logs, run history, remote_data, API answers, CLI output."""

from __future__ import annotations

import html
import json
import logging
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import httpx
import pytest
from typer.testing import CliRunner

from connectors.moodle.simulator import SimControl, Token, tiny_site
from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.cli import app
from engine.passthrough import run_passthrough
from engine.plugins import get_plugin_manager
from engine.secrets import SecretLogFilter, SecretRegistry, redact_text, secret_pattern, secret_variants
from engine.store.base import Integration
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine

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


# --- every encoding of a secret -------------------------------------------------------------

TOKENS = ["ab+c/d=e&f\"g\u00e9h\\i<j>'k l", "0123456789abcdef0123456789abcdef"]


def _leaks(secret: str, text: str) -> set[str]:
    return {v for v in secret_variants(secret) if v in text}


def test_variants_cover_every_encoding():
    token = TOKENS[0]
    variants = secret_variants(token)
    for encoded in (token, quote(token, safe=""), quote_plus(token), quote(token, safe="").lower(),
                    json.dumps(token)[1:-1], json.dumps(token, ensure_ascii=False)[1:-1], html.escape(token)):
        assert encoded in variants
        assert redact_text(f"x{encoded}y", secret_pattern([token])) == "x[REDACTED]y"
    assert secret_variants("") == set() and secret_pattern(["", None]) is None


def test_pattern_is_compiled_once_per_set_of_secrets():
    assert secret_pattern(["s3cret-a", "s3cret-b"]) is secret_pattern(["s3cret-b", "s3cret-a", ""])


def test_longest_variant_wins_so_json_stays_valid():
    token = "tok\\en"  # its raw form is a prefix of its JSON-escaped form
    text = json.dumps({"k": f"a {token} b"})
    assert json.loads(redact_text(text, secret_pattern([token]))) == {"k": "a [REDACTED] b"}


def test_log_filter_formats_args_and_forgets_closed_transports():
    registry = SecretRegistry()
    flt = SecretLogFilter(registry)
    added = registry.add(["hunter2-token"])
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("GET", "https://x/?t=hunter2-token"), None)
    assert flt.filter(record) and record.getMessage() == "HTTP Request: GET https://x/?t=[REDACTED]" and record.args == ()
    registry.discard(added)
    assert registry.pattern() is None


class _Echo:
    """Answers like Moodle, echoing the query (token included) in a header and inside the body."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        token = parse_qs(query)["wstoken"][0]
        return httpx.Response(200, headers={"x-echo": query},
                              json={"note": f"your token is {token}!", "html": f"<b>{html.escape(token)}</b>", "q": query})


@pytest.mark.parametrize("token", TOKENS)
def test_passthrough_get_leaks_no_variant(tmp_path, caplog, token):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.migrate()
    engine = SyncEngine(store, get_plugin_manager(), client_factory=lambda: httpx.Client(transport=httpx.MockTransport(_Echo())))
    target = Integration(id="moodle:Mocked000000000000000000", connector="moodle", base_url="https://lms.example.org/moodle",
                         credentials={"token": token})
    result = run_passthrough(engine, target, {"method": "GET", "path": "/webservice/rest/server.php",
                                              "params": {"wsfunction": "core_webservice_get_site_info"}})
    assert any(r.name == "httpx" and "HTTP Request" in r.getMessage() for r in caplog.records)  # the log is scanned
    assert "wstoken=[REDACTED]" in result["url"] and result["data"]["note"] == "your token is [REDACTED]!"
    assert not _leaks(token, caplog.text), "logs"
    assert not _leaks(token, json.dumps(result)) and not _leaks(token, json.dumps(result, ensure_ascii=False)), "answer"
    assert not _leaks(token, str(result)), "answer"


@pytest.mark.parametrize("token", TOKENS)
def test_token_echoed_inside_user_data_is_not_stored(tmp_path, token):
    site = tiny_site()
    site.add_token(Token(token, 2))
    site.add_user("echo01", "Echo", "Echo", "echo@example.com",
                  description=f"<p>Surname-{token}-x {html.escape(token)} / {quote(token, safe='')}</p>")
    with moodle_env(tmp_path, site, token=token) as env:
        run = env.sync()
        assert run.status == "succeeded", run.error
        key = create_api_key(env.store, "t", [env.integration_id])
        with serve_in_thread(create_app(env.store, services=ApiServices(force_sync=lambda i, k: ("x", False)))) as base:
            headers = {"Authorization": f"Bearer {key}", "X-Integration-Id": env.integration_id}
            api = httpx.get(base + "/v1/lms/users", headers=headers).text  # remote_data included
        db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("lmsync.sqlite3*"))
    assert "Surname-[REDACTED]-x" in api  # the remote did echo it: the scan looks at real content
    assert not _leaks(token, api), "api"
    for variant in secret_variants(token):
        assert variant.encode() not in db_bytes, variant
