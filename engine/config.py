"""Process-wide configuration read from the environment.

* ``LMSYNC_HOME``: the data directory (default ``~/.lmsync``), created on demand.
* ``LMSYNC_DATABASE_URL``: the store URL (default ``sqlite:///<data dir>/lmsync.sqlite3``).
* ``LMSYNC_SECRET_KEY``: the Fernet key for credentials at rest (see ``engine.secrets``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "database_url"]


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
