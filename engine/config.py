"""Process-wide configuration read from the environment.

* ``LMSYNC_HOME``: the data directory (default ``~/.lmsync``), created on demand.
* ``LMSYNC_DATABASE_URL``: the store URL (default ``sqlite:///<data dir>/lmsync.sqlite3``).
* ``LMSYNC_SECRET_KEY``: the Fernet key for credentials at rest (see ``engine.secrets``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["data_dir", "database_url", "env_float", "env_number", "check_env_numbers", "ENV_NUMBERS", "lock_timing"]


def data_dir() -> Path:
    """The data directory: ``$LMSYNC_HOME`` or ``~/.lmsync``; created (mode 0700) if missing."""
    raw = os.environ.get("LMSYNC_HOME") or "~/.lmsync"
    path = Path(raw).expanduser().resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The store URL: ``$LMSYNC_DATABASE_URL`` or a SQLite file in the data directory."""
    url = os.environ.get("LMSYNC_DATABASE_URL")
    if url:
        return url
    return "sqlite://" + (data_dir() / "lmsync.sqlite3").as_posix()  # sqlite:///abs/path


def env_float(name: str, default: float, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    """``$name`` as a number of seconds (or a count) in ``(minimum, maximum]``, else *default*
    when unset; a value that is not a finite number in range is a ``ConfigError`` naming it."""
    from engine.errors import ConfigError

    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set e.g. {name}={default:g} or unset it") from None
    if not math.isfinite(value) or value <= minimum or value > maximum:
        bound = f"above {minimum:g}" + (f" and at most {maximum:g}" if math.isfinite(maximum) else "")
        raise ConfigError(f"{name}={raw!r} is out of range: it must be {bound}")
    return value


# Every LMSYNC_* setting read as a number: name → (default, whole number?). Readers call
# ``env_number`` and the CLI checks them all up front (``check_env_numbers``), so a bad value is
# one clear line before anything starts, and the message's example is the real default.
ENV_NUMBERS: dict[str, tuple[float, bool]] = {
    "LMSYNC_HEARTBEAT_S": (10, False), "LMSYNC_STALE_AFTER_S": (60, False),
    "LMSYNC_VISIBILITY_TIMEOUT_S": (300, False),
    "LMSYNC_FULL_SYNC_HOURS": (10, False), "LMSYNC_DELTA_SYNC_HOURS": (3, False), "LMSYNC_RETRY_FAILED_S": (900, False),
    "LMSYNC_WEBHOOK_MAX_ATTEMPTS": (6, True), "LMSYNC_WEBHOOK_BACKOFF_S": (2, False), "LMSYNC_WEBHOOK_TIMEOUT_S": (10, False),
    "LMSYNC_DB_POOL_SIZE": (8, True),
}


def env_number(name: str) -> float | int:
    """``$name`` (one of ``ENV_NUMBERS``) as a number above 0, else its default; a whole number
    where the table says so. A bad value is a ``ConfigError`` naming it with the default."""
    from engine.errors import ConfigError

    default, whole = ENV_NUMBERS[name]
    value = env_float(name, float(default))
    if whole:
        if not value.is_integer():
            raise ConfigError(f"{name}={os.environ.get(name)!r} is not a whole number; set e.g. {name}={default:g} or unset it")
        return int(value)
    return value


def check_env_numbers() -> None:
    """Read every ``ENV_NUMBERS`` setting once: ``ConfigError`` for the first bad one."""
    for name in ENV_NUMBERS:
        env_number(name)


def lock_timing(heartbeat_s: float | None = None, stale_after_s: float | None = None) -> tuple[float, float]:
    """The run lock's heartbeat and takeover age: given values, else ``LMSYNC_HEARTBEAT_S``
    (10) and ``LMSYNC_STALE_AFTER_S`` (60). The takeover age must be more than twice the
    heartbeat, or a live run would be taken over between two beats."""
    from engine.errors import ConfigError

    beat = heartbeat_s if heartbeat_s is not None else env_number("LMSYNC_HEARTBEAT_S")
    stale = stale_after_s if stale_after_s is not None else env_number("LMSYNC_STALE_AFTER_S")
    if not (beat > 0 and stale > 2 * beat):
        raise ConfigError(f"LMSYNC_STALE_AFTER_S ({stale:g} s) must be more than twice LMSYNC_HEARTBEAT_S ({beat:g} s), "
                          "or a live sync would be taken over between two heartbeats")
    return beat, stale
