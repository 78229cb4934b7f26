"""Webhooks: signed contract payloads from worker-run syncs, retried after a 500, logged."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from engine.ids import random_id
from engine.store.base import WebhookEndpoint
from engine.webhooks import new_secret, sign, verify
from engine.worker import CelerySyncQueue
from scale_helpers import ROOT, Receiver, add_integration, simulators, small_site, wait_for

CONTRACT = json.loads((ROOT / "engine/api/openapi-lms.json").read_text())  # the served copy of the contract


def _nullable(node):
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema ``type: [t, "null"]``."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        return node
    return [_nullable(v) for v in node] if isinstance(node, list) else node


def _schema(name: str) -> dict:
    return _nullable(CONTRACT["components"]["schemas"][name])


def test_signature_round_trip():
    secret, body = new_secret(), b'{"id":"x"}'
    header = sign(secret, 1_700_000_000, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(secret, body, "1700000000", header, now=1_700_000_100)
    assert not verify(secret, body + b" ", "1700000000", header, now=1_700_000_100)  # body changed
    assert not verify(secret, body, "1700000001", header, now=1_700_000_100)  # timestamp changed
    assert not verify(new_secret(), body, "1700000000", header, now=1_700_000_100)  # other secret
    assert not verify(secret, body, "1700000000", header, now=1_700_001_000)  # too old


@pytest.mark.scale
@pytest.mark.postgres
def test_worker_syncs_deliver_signed_webhooks_with_retries(store, workers, scale_env, tmp_path, box):
    workers.start("hooks")
    with Receiver() as receiver, simulators([small_site(7)]) as (url,):
        secret = new_secret()
        store.add_webhook(WebhookEndpoint(id="wh_" + random_id(), url=receiver.url, secret=secret))
        integration = add_integration(store, "moodle:Hooksxxxxxxxxxxxxxxxxxxx", url)
        queue = CelerySyncQueue(store)
        sync_id, _ = queue.force_sync(integration.id, "FULL")
        deliveries = wait_for(lambda: (d := store.list_deliveries()) and len(d) == 2
                              and all(x.status == "delivered" for x in d) and d, 40, "two delivered events")
        queue.close()

    assert {d.event_type for d in deliveries} == {"data-changed", "sync-finished"}
    assert all(d.attempts == 2 and d.response_status == 200 for d in deliveries)  # a 500 first, then retried
    assert len(receiver.requests) == 4
    events = {}
    for headers, body in receiver.requests:
        assert verify(secret, body, headers["X-Lmsync-Timestamp"], headers["X-Lmsync-Signature"])
        event = json.loads(body)
        assert headers["X-Lmsync-Event-Id"] == event["id"] and headers["X-Lmsync-Event"] == event["type"]
        events[event["type"]] = event
    jsonschema.validate(events["data-changed"], _schema("DataChangedWebhookPayload"))
    jsonschema.validate(events["sync-finished"], _schema("SyncFinishedWebhookPayload"))
    assert {m["name"] for m in events["data-changed"]["data"]["changed_models"]} == {
        "lms_users", "lms_skills", "lms_courses", "lms_course_revisions", "lms_course_progressions",
        "lms_join_revisions_skills"}
    finished = events["sync-finished"]["data"]
    assert finished["sync_id"] == sync_id and finished["sync_state"] == "SUCCEEDED"
    assert finished["integration_id"] == integration.id and finished["integration_tool"] == "moodle"

    # the secret is stored encrypted, and the CLI shows the log but never the secret
    raw = store._fetchall("SELECT secret FROM webhook_endpoints")[0][0]
    assert secret not in raw and box.decrypt_json(raw) == secret
    cli = subprocess.run([sys.executable, "-m", "engine.cli", "webhooks", "deliveries", "--json"], cwd=ROOT,
                         env=workers.env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    logged = json.loads(cli.stdout)
    assert {d["status"] for d in logged} == {"delivered"} and secret not in cli.stdout + cli.stderr
    assert secret not in workers.log("hooks")
