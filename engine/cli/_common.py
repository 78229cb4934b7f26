"""Shared plumbing of the command line: output conventions, opening the store, user errors.

Conventions for every command: ``--help``; ``--json`` prints one JSON document on stdout and
moves the human display to stderr; exit code 0 success, 1 a failure found, 2 usage error;
progress bars go to stderr. A user error (bad configuration, unreachable store, broken spec)
is one ``error: …`` line on stderr naming the setting or file and the fix; ``-v`` adds the
traceback (see ``user_error`` and ``engine.cli.main``).
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import typer
from cryptography.fernet import Fernet
from rich.console import Console

from engine.config import check_env_numbers, data_dir, database_url
from engine.errors import LmsyncError
from engine.secrets import SecretError
from engine.store import Store, StoreError, open_store

__all__ = ["JsonOpt", "out", "err", "emit", "fail", "get_store", "StoreOpt", "preflight", "user_error",
           "check_environment"]

err = Console(stderr=True)
out = Console()

JsonOpt = typer.Option(False, "--json", metavar="", help="Print machine-readable JSON on stdout (human output goes to stderr).")
StoreOpt = typer.Option(None, "--store", metavar="URL", envvar="LMSYNC_DATABASE_URL", help="Store URL (sqlite path or postgresql://…).")

_KEY_HINT = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


def iso(value: Any) -> Any:
    """A datetime as ISO 8601 UTC with ``T`` and ``Z`` (tables and ``--json`` print the same); other values as they are."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value


def emit(data: Any, human: Callable[[Console], None], as_json: bool) -> None:
    """Show *data*: JSON on stdout with ``--json`` (human display on stderr), else human."""
    if as_json:
        human(err)
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        human(out)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print *message* in red on stderr and return the ``typer.Exit`` to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def check_environment() -> None:
    """Raise ``LmsyncError`` naming the first ``LMSYNC_*`` number setting that is not valid
    (``engine.config.ENV_NUMBERS``), or a secret key that Fernet cannot use."""
    check_env_numbers()
    _check_secret_key()


def _check_secret_key() -> None:
    raw, source = os.environ.get("LMSYNC_SECRET_KEY", "").strip(), "LMSYNC_SECRET_KEY"
    if not raw:
        path = data_dir() / "secret.key"
        if not path.exists():
            return
        raw, source = path.read_text().strip(), f"the key file {path}"
    try:
        Fernet(raw.encode())
    except ValueError:
        raise LmsyncError(f"{source} is not a Fernet key (32 url-safe base64-encoded bytes); "
                          f"make one with: {_KEY_HINT}") from None


def _pg_where(url: str) -> tuple[str, str, str, str]:
    """(host, port, user, database) of a PostgreSQL URL, defaults filled in as libpq would."""
    parts = urlsplit(url)
    host = parts.hostname or os.environ.get("PGHOST") or "localhost"
    port = str(parts.port or os.environ.get("PGPORT") or 5432)
    user = unquote(parts.username or "") or os.environ.get("PGUSER") or getpass.getuser()
    db = unquote(parts.path.lstrip("/")) or os.environ.get("PGDATABASE") or user
    return host, port, user, db


def _postgres_problem(exc: Exception, url: str) -> str | None:
    """A one-line explanation of a psycopg connection error on *url*, else ``None``."""
    if not type(exc).__module__.startswith("psycopg") or type(exc).__name__ != "OperationalError":
        return None
    host, port, user, db = _pg_where(url)
    text = str(exc)
    if "does not exist" in text and "database" in text:
        return f"PostgreSQL database {db!r} does not exist on {host}:{port}; create it: createdb -h {host} -p {port} -U {user} {db}"
    if "refused" in text or "could not connect" in text or "No such file" in text:
        return f"cannot connect to PostgreSQL at {host}:{port} (connection refused): start the server or fix LMSYNC_DATABASE_URL"
    if "authentication failed" in text or "password" in text:
        return f"PostgreSQL at {host}:{port} refused user {user!r} (authentication failed): fix the user/password in LMSYNC_DATABASE_URL"
    first = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
    return f"cannot open the PostgreSQL store {host}:{port}/{db}: {first} (check LMSYNC_DATABASE_URL)"


def get_store(url: str | None = None) -> Store:
    """Open and migrate the store at *url* (default: ``LMSYNC_DATABASE_URL`` or the data dir).

    Configuration problems raise ``LmsyncError`` with one line saying what to fix."""
    check_environment()
    url = url or database_url()
    try:
        store = open_store(url)
        store.migrate()
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "psycopg":
            raise
        raise LmsyncError("a postgresql:// store needs the PostgreSQL driver: pip install 'lmsync[postgres]'") from exc
    except sqlite3.Error as exc:
        raise LmsyncError(f"cannot open the SQLite store {url}: {exc} (check LMSYNC_DATABASE_URL / --store)") from exc
    except Exception as exc:
        message = _postgres_problem(exc, url)
        if message is None:
            raise
        raise LmsyncError(message) from exc
    return store


def preflight(store: Store, engine: Any) -> None:
    """Fail before serving if anything a request would need is unusable: every connector's
    specs load (and their schemas), and the store answers. *engine* is a ``SyncEngine``."""
    for name in engine.connectors:
        engine.specset(name)
    store.list_integrations()


def user_error(exc: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or ``None`` for a bug."""
    if isinstance(exc, (LmsyncError, StoreError, SecretError)):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc}"
    if type(exc).__module__.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        lines = str(exc).strip().splitlines()
        return f"PostgreSQL: {lines[-1] if lines else type(exc).__name__} (check LMSYNC_DATABASE_URL)"
    return None
