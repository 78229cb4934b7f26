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


NUMBERS_INVALID = [
    ("LMSYNC_WEBHOOK_MAX_ATTEMPTS", "2.5", "LMSYNC_WEBHOOK_MAX_ATTEMPTS='2.5' is not a whole number; set e.g. LMSYNC_WEBHOOK_MAX_ATTEMPTS=6"),
    ("LMSYNC_FULL_SYNC_HOURS", "daily", "LMSYNC_FULL_SYNC_HOURS='daily' is not a number; set e.g. LMSYNC_FULL_SYNC_HOURS=10"),
    ("LMSYNC_DB_POOL_SIZE", "0", "LMSYNC_DB_POOL_SIZE='0' is out of range"),
]


@pytest.mark.parametrize(("name", "value", "message"), NUMBERS_INVALID)
def test_every_number_setting_is_checked_by_name(monkeypatch, name, value, message):
    from engine.config import check_env_numbers

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        check_env_numbers()
    assert message in str(info.value)


def test_the_table_defaults_are_the_readers_defaults(monkeypatch):
    """One table feeds every reader: its defaults are what each reader uses when unset."""
    from engine.config import ENV_NUMBERS, env_number
    from engine.schedule import Intervals
    from engine.store._pool import pool_size
    from engine.webhooks._deliver import DeliveryPolicy

    for name in ENV_NUMBERS:
        monkeypatch.delenv(name, raising=False)
    intervals, policy = Intervals.from_env(), DeliveryPolicy.from_env()
    assert (intervals.full_hours, intervals.delta_hours, intervals.retry_after_s) == (Intervals.full_hours, Intervals.delta_hours,
                                                                                   Intervals.retry_after_s)
    assert (policy.max_attempts, policy.base_delay, policy.timeout) == (DeliveryPolicy.max_attempts, DeliveryPolicy.base_delay,
                                                                     DeliveryPolicy.timeout)
    assert pool_size() == 8 and lock_timing() == (10.0, 60.0)
    monkeypatch.setenv("LMSYNC_WEBHOOK_MAX_ATTEMPTS", "3")
    assert env_number("LMSYNC_WEBHOOK_MAX_ATTEMPTS") == 3 and DeliveryPolicy.from_env().max_attempts == 3
