"""``lmsync integrations …``, ``lmsync api-keys …``, ``lmsync runs``."""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime, timedelta

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store, iso
from engine import guard
from engine.cli._common import err
from engine.config import data_dir
from engine.connector import ConnectorInfo, check_settings, parse_setting, setting_types
from engine.ids import random_id
from engine.integrations import (IntegrationChange, SiteUrlError, UnknownConnector, connector_info,
                                 normalize_site_url, update_integration)
from engine.store.base import ApiKey, Store
from engine.plugins import connectors, get_plugin_manager
from engine.store.base import Integration, SyncRun
from engine.sync import now_utc

integrations = typer.Typer(help="Manage integrations (a connector + credentials + settings).", no_args_is_help=True)
api_keys = typer.Typer(help="Manage API keys of the HTTP API.", no_args_is_help=True)


def check_site_url(url: str, info: ConnectorInfo | None = None) -> tuple[str, str]:
    """``(normalised site URL, note of what was changed)``, or ``typer.BadParameter`` saying what
    is wrong (``engine.integrations.normalize_site_url``)."""
    try:
        return normalize_site_url(url, info)
    except SiteUrlError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_settings(info: ConnectorInfo, items: list[str], base: dict | None = None) -> dict:
    """*base* updated with ``key=value`` items typed and checked by the connector's schema."""
    return check_settings(info, {**(base or {}), **_typed_settings(info, items)})


def _connector(name: str) -> ConnectorInfo:
    try:
        return connector_info(name)
    except UnknownConnector as exc:
        raise fail(str(exc), 2) from None


def _interactive() -> bool:
    return sys.stdin.isatty() and not os.environ.get("CI")


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
    force: bool = typer.Option(False, "--force", help="Add even if an integration with this URL and token exists."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add an integration. The token is encrypted at rest and never printed."""
    info = _connector(connector)
    settings = parse_settings(info, setting)
    base_url, note = check_site_url(url, info)
    if note:
        err.print(note, highlight=False, soft_wrap=True)
    store = get_store(store_url)
    twin = next((i for i in store.list_integrations() if i.connector == connector and i.base_url == base_url
                 and i.credentials.get("token") == token), None)
    if twin is not None and not force:
        raise fail(f"integration {twin.id} already uses this URL and token; update it with "
                   f"`lmsync integrations update {twin.id}` or pass --force to add a second one")
    integration = new_integration(connector, base_url, {"token": token}, settings)
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


@integrations.command("connectors")
def connectors_(as_json: bool = JsonOpt) -> None:
    """List the installed connectors, their credentials and settings (type, default)."""
    items = connectors(get_plugin_manager())
    view = [{"name": c.name, "label": c.label, "credentials": list(c.credential_names),
             "settings": {k: {"type": v.get("type"), "default": c.default_settings.get(k, v.get("default")),
                              "description": v.get("description", "")}
                          for k, v in setting_types(c).items() if k != "demo"}} for c in items.values()]

    def human(con: Console) -> None:
        table = Table("connector", "label", "credentials", "settings (type = default)")
        for c in view:
            table.add_row(c["name"], c["label"], ", ".join(c["credentials"]),
                          "\n".join(f"{k} ({v['type']}) = {v['default']}" for k, v in c["settings"].items()))
        con.print(table)

    emit(view, human, as_json)


@integrations.command("update")
def update(
    integration_id: str,
    url: str = typer.Option(None, "--url", help="A new site URL."),
    token: str = typer.Option(None, "--token", help="A new web-service token."),
    prompt_token: bool = typer.Option(False, "--prompt-token", help="Ask for the new token (hidden)."),
    setting: list[str] = typer.Option([], "--setting", help="key=value setting to set (repeatable)."),
    unset: list[str] = typer.Option([], "--unset-setting", help="A setting to remove (back to its default)."),
    enabled: bool = typer.Option(None, "--enable/--disable", help="Enable or disable scheduled syncs."),
    scope_test: bool = typer.Option(False, "--scope-test", help="Run the scope test after a URL/token change."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change an integration in place: same id, same synced records; credentials re-encrypted."""
    store = get_store(store_url)
    found = store.get_integration(integration_id)
    if found is None:
        raise fail(f"no integration {integration_id!r} (see `lmsync integrations list`)", 2)
    info = _connector(found.connector)
    if prompt_token:
        token = typer.prompt("token", hide_input=True)
    if url:
        check_site_url(url, info)  # a bad URL is a usage error (exit 2) before anything is stored
    change = IntegrationChange(base_url=url or None, credentials={"token": token} if token else None,
                               settings=_typed_settings(info, setting), unset=list(unset), enabled=enabled)
    outcome = update_integration(store, integration_id, change)
    for note in outcome.notes:
        err.print(note, highlight=False, soft_wrap=True)
    updated = outcome.integration
    emit(integration_view(updated), lambda c: c.print(f"updated integration [bold]{updated.id}[/bold]"), as_json)
    if outcome.scope_test_advised:
        _offer_scope_test(store, updated, scope_test)


def _typed_settings(info: ConnectorInfo, items: list[str]) -> dict:
    """``key=value`` items typed by the connector's schema (not yet checked together)."""
    typed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"--setting {item!r}: expected key=value", 2)
        typed[key.strip()] = parse_setting(info, key.strip(), value)
    return typed


def _offer_scope_test(store: Store, integration: Integration, run: bool) -> None:
    if not run:
        err.print(f"check what the new credentials can reach: lmsync scope-test --integration {integration.id}",
                  highlight=False, markup=False, soft_wrap=True)
        return
    from engine.scope import run_scope_test
    from engine.sync import SyncEngine

    report = run_scope_test(SyncEngine(store), integration)
    for entry in report.entries:
        err.print(f"{entry.kind} {entry.name}: {entry.status}", highlight=False, markup=False)


@integrations.command("remove")
def remove(integration_id: str, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
           store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Remove an integration and everything synced from it (asks first; --yes skips)."""
    store = get_store(store_url)
    if not yes and store.get_integration(integration_id) is not None:
        if not _interactive():
            raise fail(f"refusing to remove {integration_id} without confirmation: pass --yes", 2)
        if not typer.confirm(f"remove {integration_id} and every record synced from it?", default=False):
            raise fail("not removed", 1)
    removed = store.remove_integration(integration_id)
    emit({"removed": removed}, lambda c: c.print("removed" if removed else f"no integration {integration_id}"), as_json)
    if not removed:
        raise typer.Exit(1)


_EXPIRES = re.compile(r"(\d{1,6})([dhm])")
_UNITS = {"d": 86400, "h": 3600, "m": 60}
_MAX_EXPIRY_S = 3650 * 86400


def parse_expires_in(text: str) -> timedelta:
    """``30d`` / ``12h`` / ``45m`` as a ``timedelta`` (1 minute up to 3650 days); anything else
    is refused with one line saying what is accepted (exit 2)."""
    match = _EXPIRES.fullmatch(text.strip())
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or seconds <= 0 or seconds > _MAX_EXPIRY_S:
        raise fail(f"--expires-in {text!r}: expected a whole number of days, hours or minutes "
                   "from 1m to 3650d, e.g. 30d, 12h or 45m", 2)
    return timedelta(seconds=seconds)


@api_keys.command("create")
def create_key(
    name: str = typer.Option("default", help="A label for the key."),
    integration: list[str] = typer.Option([], "--integration", help="Limit the key to these integration ids (repeatable); without it: an admin key."),
    expires_in: str = typer.Option(None, "--expires-in", metavar="30d|12h|45m", help="Expire the key after this long (default: never)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create an API key; the key is shown once and stored hashed."""
    expires_at = now_utc() + parse_expires_in(expires_in) if expires_in is not None else None
    store = get_store(store_url)
    known = {i.id for i in store.list_integrations()}
    unknown = [i for i in integration if i not in known]
    if unknown:
        raise fail(f"--integration {unknown[0]!r}: no such integration (known: {', '.join(sorted(known)) or 'none'})", 2)
    from engine.api import create_api_key  # the API package (starlette) only where a key is made

    key = create_api_key(store, name, integration or None, expires_at)
    until = f" (expires {iso(expires_at)})" if expires_at else ""
    emit({"api_key": key, "expires_at": iso(expires_at)},
         lambda c: c.print(f"API key (shown once): [bold]{key}[/bold]{until}", soft_wrap=True), as_json)


def key_view(key: ApiKey, now: datetime) -> dict:
    """A printable API key (never the key or its hash); timestamps ISO 8601 UTC."""
    return {"id": key.key_id, "name": key.name, "integrations": key.integration_ids,
            "admin": key.integration_ids is None, "created_at": iso(key.created_at),
            "expires_at": iso(key.expires_at), "expired": key.expired(now)}


def keys_table(keys: list[ApiKey], now: datetime) -> Table:
    """API keys in 80 columns: creation and expiry on two lines of one cell, the state (active
    or EXPIRED), and the integrations of each limited key in the caption."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), title="API keys", caption_justify="left")
    for column in ("id", "name", "scope", "created (UTC)\nexpires (UTC)", "state"):
        table.add_column(column, no_wrap=column != "name", overflow="fold")
    limited = []
    for k in keys:
        scope = "all" if k.integration_ids is None else str(len(k.integration_ids))
        expires = "never" if k.expires_at is None else iso(k.expires_at)
        table.add_row(k.key_id, k.name, scope, f"{iso(k.created_at)}\n{expires}", "EXPIRED" if k.expired(now) else "active")
        if k.integration_ids is not None:
            limited.append(f"{k.key_id}: {', '.join(k.integration_ids) or 'none'}")
    table.caption = "\n".join(["scope: all = an admin key; else how many integrations the key may use:", *limited]) \
        if limited else "scope: all = an admin key (every integration)"
    return table


@api_keys.command("list")
def list_keys(store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List API keys (id, name, integrations, created, expiry); never the keys themselves."""
    keys = get_store(store_url).list_api_keys()
    now = now_utc()
    emit([key_view(k, now) for k in keys], lambda c: c.print(keys_table(keys, now)), as_json)


@api_keys.command("revoke")
def revoke_key(key_id: str, store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Revoke (delete) an API key by its id (`lmsync api-keys list`)."""
    removed = get_store(store_url).remove_api_key(key_id)
    emit({"revoked": removed}, lambda c: c.print(f"revoked {key_id}" if removed else f"no API key {key_id}"), as_json)
    if not removed:
        raise typer.Exit(1)


def demo_api_key(store: Store, integration_id: str) -> str:
    """The demo's API key for *integration_id*: the one kept in ``<data dir>/demo-api-key``
    (mode 0600) while the store still accepts it, else a new one written there."""
    from engine.api import create_api_key
    from engine.api._keys import verify_key

    path = data_dir() / "demo-api-key"
    if path.exists():
        kept = path.read_text().strip()
        found = verify_key(store, kept)
        if found is not None and not found.expired(now_utc()) and (found.integration_ids is None or integration_id in found.integration_ids):
            return kept
    key = create_api_key(store, "demo", [integration_id])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def runs_table(runs: list[SyncRun]) -> Table:
    """A rich table of runs (fits 80 columns): totals over models; per-model counts with ``--json``."""
    integrations = {r.integration_id for r in runs}
    title = f"runs of {next(iter(integrations))}" if len(integrations) == 1 else "runs"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), title=title,
                  caption="changes: records created/updated/deleted (all models; --json: each)")
    for name in ("run", *(("integration",) if len(integrations) > 1 else ()), "kind", "status", "started (UTC)"):
        table.add_column(name, no_wrap=True)
    for name in ("secs", "changes"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in runs:
        secs = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "-"
        counts = "/".join(str(sum(s.get(k) or 0 for s in r.stats.values())) for k in ("created", "updated", "deleted"))
        started = iso(r.started_at)
        row = [r.id, *((r.integration_id,) if len(integrations) > 1 else ()), r.kind, r.status, started, secs, counts]
        table.add_row(*row)
        if r.error:
            table.add_row("", f"error: {r.error}", end_section=False)
        if held := guard.held_counts(r):
            table.add_row("", "held: " + ", ".join(f"{m} {n:,}" for m, n in held.items()) + " (lmsync deletions)")
        elif guard.confirmed(r):
            table.add_row("", "held changes confirmed")
    return table


def runs(integration: str = typer.Option(None, "--integration", metavar="ID", help="Only the runs of this integration."),
         limit: int = typer.Option(20, "--limit", metavar="N", help="How many runs, newest first."), store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Show the run history, newest first."""
    items = get_store(store_url).list_runs(integration, limit)
    emit([{k: iso(v) for k, v in r.__dict__.items()} for r in items], lambda c: c.print(runs_table(items)), as_json)
