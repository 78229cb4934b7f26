"""Shared plumbing of the command line: output conventions, opening the store.

Conventions for every command: ``--help``; ``--json`` prints one JSON document on stdout and
moves the human display to stderr; exit code 0 success, 1 a failure found, 2 usage error;
progress bars go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from engine.config import database_url
from engine.store import Store, open_store

__all__ = ["JsonOpt", "out", "err", "emit", "fail", "get_store", "StoreOpt"]

err = Console(stderr=True)
out = Console()

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout (human output goes to stderr).")
StoreOpt = typer.Option(None, "--store", envvar="LMSYNC_DATABASE_URL", help="Store URL (sqlite path or postgresql://…).")


def emit(data: Any, human: Callable[[Console], None], as_json: bool) -> None:
    """Show *data*: JSON on stdout with ``--json`` (human display on stderr), else human."""
    if as_json:
        human(err)
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        human(out)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print *message* in red on stderr and return the ``typer.Exit`` to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def get_store(url: str | None = None) -> Store:
    """Open and migrate the store at *url* (default: ``LMSYNC_DATABASE_URL`` or the data dir)."""
    store = open_store(url or database_url())
    store.migrate()
    return store
