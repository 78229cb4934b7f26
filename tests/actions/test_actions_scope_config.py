"""A write action the integration's scope config disables is refused before anything is written
(``INTEGRATION.ACTION_DISABLED``, 403 over HTTP); the others still run."""

from __future__ import annotations

import pytest

from engine.api._routes_actions import ActionFailed
from engine.errors import ActionError


def test_disabled_action_is_refused_and_writes_nothing(menv):
    menv.store.add_scope_config("no-deactivate", {"actions": {"lms_deactivate_course": "DISABLED"}})
    menv.store.bind_scope_config(menv.integration_id, "no-deactivate")
    with pytest.raises(ActionError) as err:
        menv.actions.deactivate_course(menv.integration_id, menv.rid("courses", 2))
    assert err.value.code == "INTEGRATION.ACTION_DISABLED"
    assert "deactivate_course action is disabled by the integration's scope config 'no-deactivate'" in str(err.value)
    assert menv.site.courses[2].visible == 1  # nothing reached the remote
    failed = ActionFailed(err.value)
    assert (failed.status, failed.code) == (403, "PLATFORM.INPUT_INVALID")
    assert failed.message.startswith("[INTEGRATION.ACTION_DISABLED]")
    menv.store.bind_scope_config(menv.integration_id, "default")
    assert menv.actions.deactivate_course(menv.integration_id, menv.rid("courses", 2)).record is not None
    assert menv.site.courses[2].visible == 0
