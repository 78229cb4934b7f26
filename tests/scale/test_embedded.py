"""The embedded default (no broker): scheduling, the in-process queue, webhooks and their CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from connectors.moodle.simulator import create_app, run_in_thread, tiny_site
from engine.cli import app as cli
from engine.jobs import LocalSyncQueue, make_sync_queue
from engine.schedule import Intervals, Scheduler, due_syncs
from engine.store.base import Integration, WebhookEndpoint
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.webhooks import DeliveryPolicy, WebhookSender, new_secret, verify
from scale_helpers import ADMIN_TOKEN, Receiver

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqlite(tmp_path):
    s = SQLiteStore(tmp_path / "lmsync.sqlite3")
    s.migrate()
    yield s
    s.close()


def _integration(store, iid: str, **settings) -> str:
    store.add_integration(Integration(id=iid, connector="moodle", base_url="http://127.0.0.1:9", credentials={"token": "t"},
                                      settings=settings))
    return iid


def _run(store, iid: str, kind: str, hours_ago: float, status: str = "succeeded") -> None:
    run = store.start_run(iid, kind, NOW - timedelta(hours=hours_ago), stale_after_s=0)
    run.status, run.finished_at = status, NOW - timedelta(hours=hours_ago) + timedelta(minutes=1)
    store.finish_run(run)


def test_due_syncs_follow_the_runs_table(sqlite):
    never = _integration(sqlite, "moodle:never")
    fresh = _integration(sqlite, "moodle:fresh")
    _run(sqlite, fresh, "FULL", 1)
    delta_due = _integration(sqlite, "moodle:delta")
    _run(sqlite, delta_due, "FULL", 4)
    full_due = _integration(sqlite, "moodle:full")
    _run(sqlite, full_due, "FULL", 11)
    _run(sqlite, full_due, "DELTA", 0.5)  # a recent delta does not postpone the full sync
    recent_delta = _integration(sqlite, "moodle:recentdelta")
    _run(sqlite, recent_delta, "FULL", 5)
    _run(sqlite, recent_delta, "DELTA", 1)
    failing = _integration(sqlite, "moodle:failing")
    _run(sqlite, failing, "FULL", 0.1, status="failed")  # not hammered right after a failure
    failed_long_ago = _integration(sqlite, "moodle:failedlongago")
    _run(sqlite, failed_long_ago, "FULL", 2, status="failed")
    custom = _integration(sqlite, "moodle:custom", full_sync_interval_hours=1)
    _run(sqlite, custom, "FULL", 2)
    no_delta = _integration(sqlite, "moodle:nodelta", delta_sync_interval_hours=0)
    _run(sqlite, no_delta, "FULL", 4)
    disabled = _integration(sqlite, "moodle:disabled")
    i = sqlite.get_integration(disabled)
    i.enabled = False
    sqlite.update_integration(i)
    running = _integration(sqlite, "moodle:running")
    sqlite.start_run(running, "FULL", datetime.now(UTC))

    due = dict(due_syncs(sqlite, NOW, Intervals()))
    assert due == {never: "FULL", delta_due: "DELTA", full_due: "FULL", failed_long_ago: "FULL", custom: "FULL"}
    assert dict(due_syncs(sqlite, NOW, Intervals(full_hours=20, delta_hours=6))) == {
        never: "FULL", failed_long_ago: "FULL", custom: "FULL"}  # its own setting wins


def test_scheduler_tick_queues_due_syncs_once(sqlite):
    iid = _integration(sqlite, "moodle:one")
    calls = []

    def submit(integration_id: str, kind: str) -> tuple[str, bool]:
        calls.append((integration_id, kind))
        return f"sync-{len(calls)}", len(calls) > 1

    ticks = []
    scheduler = Scheduler(sqlite, submit, on_tick=lambda: ticks.append(1))
    assert scheduler.tick(NOW) == [(iid, "FULL", "sync-1", False)]
    assert scheduler.tick(NOW) == [(iid, "FULL", "sync-2", True)]
    assert calls == [(iid, "FULL")] * 2 and ticks == [1, 1]


def test_local_queue_answers_already_queued_with_the_run_id(sqlite, monkeypatch):
    monkeypatch.delenv("LMSYNC_BROKER_URL", raising=False)
    with run_in_thread(create_app(tiny_site())) as url:
        sqlite.add_integration(Integration(id="moodle:local", connector="moodle", base_url=url,
                                           credentials={"token": ADMIN_TOKEN}))
        queue = make_sync_queue(SyncEngine(sqlite))
        assert isinstance(queue, LocalSyncQueue)
        first, already = queue.force_sync("moodle:local")
        second, again = queue.force_sync("moodle:local")
        assert not already and again and second == first
        queue.wait("moodle:local", timeout=60)
        assert sqlite.get_run(first).status == "succeeded"  # the answered id is the run's id
        third, already = queue.force_sync("moodle:local", "DELTA")
        assert not already and third != first
        queue.shutdown()


def test_embedded_delivery_gives_up_after_max_attempts(sqlite):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    hits = []

    class Always500(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hits.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Always500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sqlite.add_webhook(WebhookEndpoint(id="wh_x", url=f"http://127.0.0.1:{server.server_address[1]}/", secret=new_secret(),
                                           events=["sync-finished"]))
        iid = _integration(sqlite, "moodle:hooked")
        run = sqlite.start_run(iid, "FULL", NOW)
        run.status, run.finished_at = "failed", NOW
        sender = WebhookSender(sqlite, DeliveryPolicy(max_attempts=3, base_delay=0.01))
        published = sender.publish(sqlite.get_integration(iid), run, ["users"])  # data-changed not subscribed
        assert len(published) == 1 and sender.flush(30)
    finally:
        server.shutdown()
        server.server_close()
    [d] = sqlite.list_deliveries()
    assert (d.status, d.attempts, d.response_status, d.error) == ("failed", 3, 500, "HTTP 500")
    assert len(hits) == 3 and json.loads(hits[0])["data"]["sync_state"] == "FAILED"


def test_embedded_sync_sends_webhooks_through_the_builtin_plugin(sqlite):
    with Receiver() as receiver, run_in_thread(create_app(tiny_site())) as url:
        secret = new_secret()
        sqlite.add_webhook(WebhookEndpoint(id="wh_embedded", url=receiver.url, secret=secret))
        sqlite.add_integration(Integration(id="moodle:embedded", connector="moodle", base_url=url,
                                           credentials={"token": ADMIN_TOKEN}))
        engine = SyncEngine(sqlite)
        assert engine.sync("moodle:embedded").status == "succeeded"
        from engine.webhooks import sender_for

        sender = sender_for(sqlite)
        sender.policy = DeliveryPolicy(max_attempts=3, base_delay=0.05)
        assert sender.flush(30)
        assert engine.sync("moodle:embedded").status == "succeeded"  # nothing changed: no data-changed
        assert sender.flush(30)
    delivered = [json.loads(b)["type"] for h, b in receiver.requests if verify(secret, b, h["X-Lmsync-Timestamp"], h["X-Lmsync-Signature"])]
    assert len(delivered) == len(receiver.requests)
    assert sorted(set(delivered)) == ["data-changed", "sync-finished"]
    assert delivered.count("data-changed") == 2 and delivered.count("sync-finished") == 4  # each retried once after a 500
    assert {d.status for d in sqlite.list_deliveries()} == {"delivered"} and len(sqlite.list_deliveries()) == 3


def test_webhooks_cli_prints_the_secret_once(tmp_path):
    store_url = f"sqlite:///{tmp_path}/cli.sqlite3"
    runner = CliRunner()
    added = runner.invoke(cli, ["webhooks", "add", "https://example.com/hooks", "--store", store_url, "--json"])
    assert added.exit_code == 0, added.output
    created = json.loads(added.stdout)
    assert created["secret"].startswith("whsec_")
    listed = runner.invoke(cli, ["webhooks", "list", "--store", store_url, "--json"])
    assert created["secret"] not in listed.output and json.loads(listed.stdout)[0]["id"] == created["id"]
    bad = runner.invoke(cli, ["webhooks", "add", "https://example.com/x", "--event", "nope", "--store", store_url])
    assert bad.exit_code == 2
    assert runner.invoke(cli, ["webhooks", "remove", created["id"], "--store", store_url]).exit_code == 0
    assert runner.invoke(cli, ["webhooks", "remove", created["id"], "--store", store_url]).exit_code == 1
    assert runner.invoke(cli, ["webhooks", "deliveries", "--store", store_url]).exit_code == 0
