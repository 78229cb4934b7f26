"""The integration object shows the newest run and the changes its guard held back."""

from __future__ import annotations

from datetime import timedelta

from .conftest import C, T0, response_validator


def test_held_changes_are_visible_on_the_integration(env):
    with env.client(env.key_all, iid=C) as c:
        assert c.get(f"/v1/integrations/{C}").json()["data"]["lmsync_last_sync"] is None
    run = env.store.start_run(C, "FULL", T0)
    run.status, run.finished_at = "succeeded", T0 + timedelta(seconds=5)
    run.stats = {"users": {"created": 0, "updated": 0, "unchanged": 4, "deleted": 0, "held_deletions": 4}}
    run.warnings = ["deletions held: users 4 of 4 (over the 20% guard)"]
    env.store.finish_run(run)
    with env.client(env.key_all, iid=C) as c:
        body = c.get(f"/v1/integrations/{C}").json()
    response_validator("/integrations/{integration_id}").validate(body)
    last = body["data"]["lmsync_last_sync"]
    assert last["id"] == run.id and last["status"] == "SUCCEEDED" and last["type"] == "FULL"
    assert last["held_changes"] == {"users": 4}
    assert last["confirm_command"] == f"lmsync deletions confirm {run.id}"
    assert last["warnings"] == run.warnings
