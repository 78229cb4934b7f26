"""``lmsync integrations …``, ``lmsync api-keys …``, ``lmsync runs``."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from engine.api import create_api_key
from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.ids import random_id
from engine.plugins import connectors, get_plugin_manager
from engine.store.base import Integration, SyncRun
from engine.sync import now_utc

integrations = typer.Typer(help="Manage integrations (a connector + credentials + settings).", no_args_is_help=True)
api_keys = typer.Typer(help="Manage API keys of the HTTP API.", no_args_is_help=True)


def check_site_url(url: str) -> str:
    """A normalised site URL, or ``typer.BadParameter`` saying what is wrong with it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise typer.BadParameter("the site URL must not carry credentials, a query or a fragment")
    return url.strip().rstrip("/")


def integration_view(i: Integration) -> dict:
    """A printable integration (never the credentials)."""
    return {"id": i.id, "connector": i.connector, "base_url": i.base_url, "enabled": i.enabled,
            "settings": i.settings, "created_at": i.created_at, "availability": i.availability}


def new_integration(connector: str, url: str, credentials: dict[str, str], settings: dict) -> Integration:
    """An integration with a fresh ``<connector>:<24 chars>`` id."""
    return Integration(id=f"{connector}:{random_id()}", connector=connector, base_url=url,
                       credentials=credentials, settings=settings, created_at=now_utc())


@integrations.command("add")
def add(
    connector: str = typer.Argument(..., help="Connector name, e.g. the one `lmsync integrations connectors` lists."),
    url: str = typer.Option(..., "--url", help="The site's base URL."),
    token: str = typer.Option(..., "--token", envvar="LMSYNC_TOKEN", prompt=True, hide_input=True, help="The web-service token (or env LMSYNC_TOKEN)."),
    setting: list[str] = typer.Option([], "--setting", help="key=value connector setting (repeatable)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add an integration. The token is encrypted at rest and never printed."""
    known = connectors(get_plugin_manager())
    if connector not in known:
        raise fail(f"unknown connector {connector!r}; installed: {', '.join(known)}", 2)
    settings = {}
    for item in setting:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"--setting {item!r}: expected key=value", 2)
        settings[key] = int(value) if value.isdigit() else value
    integration = new_integration(connector, check_site_url(url), {"token": token}, settings)
    store = get_store(store_url)
    store.add_integration(integration)
    emit(integration_view(integration), lambda c: c.print(f"added integration [bold]{integration.id}[/bold]"), as_json)


@integrations.command("list")
def list_(store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List integrations."""
    items = get_store(store_url).list_integrations()

    def human(c: Console) -> None:
        table = Table("id", "connector", "url", "enabled")
        for i in items:
            table.add_row(i.id, i.connector, i.base_url, str(i.enabled))
        c.print(table)

    emit([integration_view(i) for i in items], human, as_json)


@integrations.command("remove")
def remove(integration_id: str, store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Remove an integration and everything synced from it."""
    removed = get_store(store_url).remove_integration(integration_id)
    emit({"removed": removed}, lambda c: c.print("removed" if removed else f"no integration {integration_id}"), as_json)
    if not removed:
        raise typer.Exit(1)


@api_keys.command("create")
def create_key(
    name: str = typer.Option("default", help="A label for the key."),
    integration: list[str] = typer.Option([], "--integration", help="Limit the key to these integration ids (repeatable)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create an API key; the key is shown once and stored hashed."""
    key = create_api_key(get_store(store_url), name, integration or None)
    emit({"api_key": key}, lambda c: c.print(f"API key (shown once): [bold]{key}[/bold]", soft_wrap=True), as_json)


def runs_table(runs: list[SyncRun]) -> Table:
    """A rich table of runs with per-model counts."""
    table = Table("run", "integration", "kind", "status", "started", "seconds", "models (created/updated/unchanged/deleted/invalid, calls)", "error")
    for r in runs:
        secs = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "-"
        models = "; ".join(
            f"{m} {s.get('created', 0)}/{s.get('updated', 0)}/{s.get('unchanged', 0)}/{s.get('deleted', 0)}/{s.get('invalid', 0)}, {s.get('calls', 0)}"
            for m, s in r.stats.items()
        )
        table.add_row(r.id, r.integration_id, r.kind, r.status, r.started_at.isoformat(timespec="seconds"), secs, models, r.error or "")
    return table


def runs(integration: str = typer.Option(None, "--integration"), limit: int = typer.Option(20), store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Show the run history, newest first."""
    items = get_store(store_url).list_runs(integration, limit)
    emit([r.__dict__ for r in items], lambda c: c.print(runs_table(items)), as_json)
