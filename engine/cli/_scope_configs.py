"""``lmsync scope-configs create|list|bind|show|opt-out`` (``engine.scope_config``)."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.scope_config import ScopeConfigError, scope_config_for
from engine.store.base import NotFound, StoreError

__all__ = ["scope_configs"]

scope_configs = typer.Typer(help="Named scope configs: which models, fields and write actions an integration "
                                 "syncs and serves, and whether remote_data is stored.", no_args_is_help=True)


def _settings(values: list[str], setting: str) -> dict[str, str]:
    return {v: setting for v in values}


@scope_configs.command("create")
def create(
    name: str = typer.Argument(..., help="The config's name (unique; 'default' is the built-in one)."),
    disable_model: list[str] = typer.Option([], "--disable-model", help="A model not to sync or serve (repeatable)."),
    disable_field: list[str] = typer.Option([], "--disable-field", help="MODEL.FIELD not to map, store or serve, "
                                                                         "e.g. users.work_email (repeatable)."),
    optional_field: list[str] = typer.Option([], "--optional-field", help="MODEL.FIELD the end customer may decline "
                                                                           "in the Connect flow (OPTIONAL; repeatable)."),
    optional_model: list[str] = typer.Option([], "--optional-model", help="A model the end customer may decline "
                                                                           "(OPTIONAL; repeatable)."),
    optional_action: list[str] = typer.Option([], "--optional-action", help="A write action the end customer may "
                                                                             "decline (OPTIONAL; repeatable)."),
    disable_action: list[str] = typer.Option([], "--disable-action", help="A write action to refuse: upsert_course, "
                                                                           "deactivate_course, enroll, complete (repeatable)."),
    no_remote_data: bool = typer.Option(False, "--no-remote-data", help="Store remote_data as {} (nothing raw is kept)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a scope config; bind it with ``lmsync scope-configs bind INTEGRATION NAME``."""
    config = {"models": {**_settings(optional_model, "OPTIONAL"), **_settings(disable_model, "DISABLED")},
              "fields": {**_settings(optional_field, "OPTIONAL"), **_settings(disable_field, "DISABLED")},
              "actions": {**_settings(optional_action, "OPTIONAL"), **_settings(disable_action, "DISABLED")},
              "store_remote_data": not no_remote_data}
    try:
        created = get_store(store_url).add_scope_config(name, config)  # type: ignore[attr-defined]
    except (ScopeConfigError, StoreError) as exc:
        raise fail(str(exc), 2) from None
    emit(created.summary(), lambda c: c.print(f"created scope config [bold]{created.name}[/bold] ({created.id})",
                                               highlight=False), as_json)


@scope_configs.command("list")
def list_(store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List the scope configs (the built-in default first)."""
    items = [c.summary() for c in get_store(store_url).list_scope_configs()]  # type: ignore[attr-defined]

    def human(c: Console) -> None:
        table = Table("id", "name", "disabled models", "fields", "disabled actions", "remote_data")
        for s in items:
            fields = ", ".join(f"{k}={v}" for k, v in s["fields"].items())
            table.add_row(s["id"], s["name"], ", ".join(k for k, v in s["models"].items() if v == "DISABLED"), fields,
                          ", ".join(k for k, v in s["actions"].items() if v == "DISABLED"),
                          "stored" if s["store_remote_data"] else "not stored")
        c.print(table)

    emit(items, human, as_json)


@scope_configs.command("bind")
def bind(
    integration_id: str = typer.Argument(..., help="The integration."),
    config: str = typer.Argument(..., help="The scope config's id or name ('default' for the built-in one)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Bind an integration to a scope config. The next sync applies it: a narrower config removes
    what it no longer covers, a wider one is backfilled by the next full sync."""
    store = get_store(store_url)
    try:
        store.bind_scope_config(integration_id, config)  # type: ignore[attr-defined]
    except NotFound as exc:
        raise fail(str(exc), 1) from None
    state = _state(store, integration_id)
    emit(state, lambda c: (c.print(f"{integration_id} now uses scope config [bold]{state['scope_config']['name']}"
                                   "[/bold]; the next sync applies it", highlight=False), _show_state(c, state)), as_json)


def _state(store: Any, integration_id: str) -> dict[str, Any]:
    """The integration's scope config, its opt-outs (in effect or not) and ``data_expired_at``."""
    scope = scope_config_for(store, integration_id)
    stored = store.opt_outs_of(integration_id)
    expired = store.data_expired_at(integration_id)
    return {"integration_id": integration_id, "scope_config": {"id": scope.id, "name": scope.name},
            "optional": scope.optional_items(), "opt_outs": sorted(scope.opted_out),
            "opt_outs_not_in_effect": sorted(stored - scope.opted_out),
            "data_expired_at": expired.isoformat() if expired else None}


def _show_state(c: Console, state: dict[str, Any]) -> None:
    opted = set(state["opt_outs"])
    shared = [i for i in state["optional"] if i not in opted]
    c.print(f"optional, shared: {', '.join(shared) or '-'}", highlight=False)
    c.print(f"opted out by the customer: {', '.join(state['opt_outs']) or '-'}", highlight=False)
    if state["opt_outs_not_in_effect"]:
        c.print(f"opt-outs of items no longer OPTIONAL (no effect): {', '.join(state['opt_outs_not_in_effect'])}",
                highlight=False)
    if state["data_expired_at"]:
        c.print(f"data expired at {state['data_expired_at']} (the scope narrowed; the next full sync removes "
                "what is no longer covered)", highlight=False)


@scope_configs.command("show")
def show(integration_id: str = typer.Argument(..., help="The integration."), store_url: str = StoreOpt,
         as_json: bool = JsonOpt) -> None:
    """Show an integration's scope config, its OPTIONAL items, the customer's opt-outs and
    ``data_expired_at``."""
    store = get_store(store_url)
    if store.get_integration(integration_id) is None:
        raise fail(f"no integration {integration_id!r}", 1)
    state = _state(store, integration_id)
    emit(state, lambda c: (c.print(f"{integration_id} uses scope config [bold]{state['scope_config']['name']}[/bold] "
                                   f"({state['scope_config']['id']})", highlight=False), _show_state(c, state)), as_json)


@scope_configs.command("opt-out")
def opt_out(
    integration_id: str = typer.Argument(..., help="The integration."),
    items: list[str] = typer.Argument(None, help="OPTIONAL items to decline: models.MODEL, fields.MODEL.FIELD, "
                                                  "actions.ACTION; none clears every opt-out."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set the integration's opt-outs (what the Connect page records when the customer unticks
    an OPTIONAL item), replacing the previous ones."""
    store = get_store(store_url)
    try:
        store.set_opt_outs(integration_id, items or [])  # type: ignore[attr-defined]
    except NotFound as exc:
        raise fail(str(exc), 1) from None
    except ScopeConfigError as exc:
        raise fail(str(exc), 2) from None
    state = _state(store, integration_id)
    emit(state, lambda c: _show_state(c, state), as_json)
