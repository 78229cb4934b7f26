"""Typed environment settings: valid values, and invalid ones with the message they give."""

from __future__ import annotations

import pytest

from engine.config import env_float, lock_timing
from engine.errors import ConfigError
from engine.sync import SyncEngine

VALID = [({}, (10.0, 60.0)), ({"LMSYNC_HEARTBEAT_S": "2", "LMSYNC_STALE_AFTER_S": "5"}, (2.0, 5.0)),
         ({"LMSYNC_HEARTBEAT_S": " ", "LMSYNC_STALE_AFTER_S": "30"}, (10.0, 30.0))]
INVALID = [
    ({"LMSYNC_STALE_AFTER_S": "-5"}, "LMSYNC_STALE_AFTER_S='-5' is out of range: it must be above 0"),
    ({"LMSYNC_STALE_AFTER_S": "0"}, "LMSYNC_STALE_AFTER_S='0' is out of range"),
    ({"LMSYNC_HEARTBEAT_S": "abc"}, "LMSYNC_HEARTBEAT_S='abc' is not a number"),
    ({"LMSYNC_HEARTBEAT_S": "nan"}, "LMSYNC_HEARTBEAT_S='nan' is out of range"),
    ({"LMSYNC_HEARTBEAT_S": "inf"}, "LMSYNC_HEARTBEAT_S='inf' is out of range"),
    ({"LMSYNC_HEARTBEAT_S": "30"}, "LMSYNC_STALE_AFTER_S (60 s) must be more than twice LMSYNC_HEARTBEAT_S (30 s)"),
]


@pytest.mark.parametrize(("env", "expected"), VALID)
def test_valid_lock_timing(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert lock_timing() == expected


@pytest.mark.parametrize(("env", "message"), INVALID)
def test_invalid_lock_timing_is_refused_with_its_name(monkeypatch, tmp_path, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        lock_timing()
    assert message in str(info.value)
    from engine.store.sqlite import SQLiteStore

    with pytest.raises(ConfigError):  # the engine refuses at start, before any run
        SyncEngine(SQLiteStore(tmp_path / "s.sqlite3"))


def test_env_float_bounds(monkeypatch):
    monkeypatch.setenv("X_N", "7")
    assert env_float("X_N", 1, maximum=7) == 7
    with pytest.raises(ConfigError, match="at most 6"):
        env_float("X_N", 1, maximum=6)
