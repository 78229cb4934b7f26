"""``lmsync scope-configs create|list|bind`` (``engine.scope_config``)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.scope_config import ScopeConfigError
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
    optional_field: list[str] = typer.Option([], "--optional-field", help="MODEL.FIELD shown as OPTIONAL (repeatable)."),
    disable_action: list[str] = typer.Option([], "--disable-action", help="A write action to refuse: upsert_course, "
                                                                           "deactivate_course, enroll, complete (repeatable)."),
    no_remote_data: bool = typer.Option(False, "--no-remote-data", help="Store remote_data as {} (nothing raw is kept)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a scope config; bind it with ``lmsync scope-configs bind INTEGRATION NAME``."""
    config = {"models": _settings(disable_model, "DISABLED"),
              "fields": {**_settings(optional_field, "OPTIONAL"), **_settings(disable_field, "DISABLED")},
              "actions": _settings(disable_action, "DISABLED"), "store_remote_data": not no_remote_data}
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
    try:
        bound = get_store(store_url).bind_scope_config(integration_id, config)  # type: ignore[attr-defined]
    except NotFound as exc:
        raise fail(str(exc), 1) from None
    emit({"integration_id": integration_id, "scope_config": {"id": bound.id, "name": bound.name}},
         lambda c: c.print(f"{integration_id} now uses scope config [bold]{bound.name}[/bold]; "
                           "the next sync applies it", highlight=False), as_json)
