"""``lmsync webhooks add|list|remove|deliveries``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._admin import check_site_url
from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.ids import random_id
from engine.store.base import WebhookDelivery, WebhookEndpoint
from engine.sync import now_utc
from engine.webhooks import EVENT_TYPES, new_secret

webhooks = typer.Typer(help="Manage webhook endpoints (signed data-changed, sync-finished, integration-created, connection-flow-failed events).", no_args_is_help=True)
_EVENTS = EVENT_TYPES


def endpoint_view(e: WebhookEndpoint) -> dict:
    """A printable endpoint (never the secret)."""
    return {"id": e.id, "url": e.url, "events": e.events, "enabled": e.enabled, "created_at": e.created_at}


@webhooks.command("add")
def add(
    url: str = typer.Argument(..., help="The receiver's URL (http or https)."),
    event: list[str] = typer.Option([], "--event", help="Only these events (repeatable): " + ", ".join(EVENT_TYPES) + "."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add an endpoint. Its signing secret is printed once and stored encrypted."""
    unknown = set(event) - set(_EVENTS)
    if unknown:
        raise fail(f"unknown event(s) {', '.join(sorted(unknown))}; expected {', '.join(_EVENTS)}", 2)
    endpoint = WebhookEndpoint(id="wh_" + random_id(), url=check_site_url(url)[0], secret=new_secret(),
                               events=list(event or _EVENTS), created_at=now_utc())
    get_store(store_url).add_webhook(endpoint)

    def human(c: Console) -> None:
        c.print(f"added webhook [bold]{endpoint.id}[/bold] → {endpoint.url}", highlight=False)
        c.print(f"signing secret (shown once): [bold]{endpoint.secret}[/bold]", highlight=False)

    emit({**endpoint_view(endpoint), "secret": endpoint.secret}, human, as_json)


@webhooks.command("list")
def list_(store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List endpoints (secrets are not shown)."""
    items = get_store(store_url).list_webhooks()

    def human(c: Console) -> None:
        table = Table("id", "url", "events", "enabled")
        for e in items:
            table.add_row(e.id, e.url, ", ".join(e.events), str(e.enabled))
        c.print(table)

    emit([endpoint_view(e) for e in items], human, as_json)


@webhooks.command("remove")
def remove(endpoint_id: str, store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Remove an endpoint (its delivery log stays)."""
    removed = get_store(store_url).remove_webhook(endpoint_id)
    emit({"removed": removed}, lambda c: c.print("removed" if removed else f"no webhook {endpoint_id}"), as_json)
    if not removed:
        raise typer.Exit(1)


def delivery_view(d: WebhookDelivery) -> dict:
    """A printable delivery log entry (without the body)."""
    return {k: v for k, v in d.__dict__.items() if k != "body"}


@webhooks.command("deliveries")
def deliveries(
    limit: int = typer.Option(50, "--limit"),
    status: str = typer.Option(None, "--status", help="pending, delivered or failed."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The delivery log, newest first: event, endpoint, status, attempts, last HTTP status."""
    items = get_store(store_url).list_deliveries(limit, status)

    def human(c: Console) -> None:
        table = Table("delivery", "event", "integration", "endpoint", "status", "attempts", "http", "last attempt", "error")
        for d in items:
            last = d.last_attempt_at.isoformat(timespec="seconds") if d.last_attempt_at else "-"
            table.add_row(d.id, d.event_type, d.integration_id, d.endpoint_id, d.status, str(d.attempts),
                          str(d.response_status or "-"), last, d.error or "")
        c.print(table)

    emit([delivery_view(d) for d in items], human, as_json)
