"""``lmsync passthrough``, ``lmsync scope-test``, ``lmsync test-model`` and the API services
behind the same operations (``tool_services``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.cli._target import chosen_integration
from engine.errors import LmsyncError
from engine.model_test import run_model_test
from engine.passthrough import run_passthrough
from engine.scope import run_scope_test
from engine.store.base import Integration
from engine.sync import SyncEngine

__all__ = ["passthrough", "scope_test", "test_model", "tool_services"]

IntegrationOpt = typer.Option(None, "--integration", metavar="ID", help="Integration id (default: the only one, or the embedded demo site).")

T = TypeVar("T")


def _on_target(store_url: str, integration: str | None, run: Callable[[SyncEngine, Integration], T], code: int = 1) -> T:
    """*run* with a sync engine and the chosen integration; an lmsync error ends the command
    with exit *code*."""
    store = get_store(store_url)
    engine = SyncEngine(store)
    with chosen_integration(store, integration) as target:
        try:
            return run(engine, target)
        except LmsyncError as exc:
            raise fail(str(exc), code) from None


def tool_services(engine: SyncEngine) -> dict[str, Any]:
    """``ApiServices`` keyword arguments for the passthrough, scope-test and test-model routes."""
    return {
        "passthrough": lambda integration, request: run_passthrough(engine, integration, request),
        "scope_test": lambda integration: run_scope_test(engine, integration).as_dict(),
        "scope_probe": lambda integration: run_scope_test(engine, integration, save=False),
        "test_model": lambda integration, model, pages, parents: run_model_test(
            engine, integration, model, pages=pages, parents=parents).as_dict(),
    }


def _param(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise fail(f"--param {item!r}: expected key=value", 2)
    if value[:1] in ("[", "{"):
        try:
            return key, json.loads(value)
        except ValueError:
            raise fail(f"--param {key}: the value is not valid JSON", 2) from None
    return key, value


def passthrough(
    function: str = typer.Argument(..., metavar="FUNCTION", help="The remote function or endpoint, as the connector's mappings name calls."),
    param: list[str] = typer.Option([], "--param", metavar="KEY=VALUE", help="key=value parameter (repeatable; bracket keys and JSON values allowed)."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Call one remote function with the integration's credentials and print the raw answer."""
    data = dict(_param(p) for p in param)
    result = _on_target(store_url, integration,
                        lambda engine, target: run_passthrough(engine, target, {"method": "POST", "call": function, "data": data}))

    def human(c: Console) -> None:
        c.print(f"{result['status']} {result['url']}", highlight=False, markup=False)
        c.print_json(json.dumps(result["data"], default=str))
        for w in result.get("warnings", []):
            c.print(f"warning: {w}", highlight=False, markup=False)

    emit(result, human, as_json)
    if result["status"] >= 400:
        raise typer.Exit(1)


def _scope_table(report: dict[str, Any]) -> Table:
    table = Table("name", "kind", "status", "missing functions", "missing capabilities", "withheld fields", title="scope test")
    colours = {"OK": "green", "DEGRADED": "yellow", "FORBIDDEN": "red", "MISSING": "red"}
    for e in report["entries"]:
        status = f"[{colours.get(e['status'], 'white')}]{e['status']}[/]"
        table.add_row(e["name"], e["kind"], status, ", ".join(e["missing_functions"]), ", ".join(e["missing_capabilities"]),
                      ", ".join(e["withheld_fields"]))
    return table


def scope_test(integration: str = IntegrationOpt, store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Probe what the integration's credentials can read and write; print the setup checklist."""
    report = _on_target(store_url, integration, lambda engine, target: run_scope_test(engine, target).as_dict())

    def human(c: Console) -> None:
        c.print(_scope_table(report))
        c.print("[bold]Setup checklist[/bold]")
        for n, step in enumerate(report["checklist"], 1):
            c.print(f"  {n}. {step}", highlight=False, markup=False)

    emit(report, human, as_json)
    if any(e["status"] in ("MISSING", "FORBIDDEN") for e in report["entries"]):
        raise typer.Exit(1)


def test_model(
    model: str = typer.Argument(..., metavar="MODEL", help="The unified model, e.g. users."),
    pages: int = typer.Option(1, "--pages", metavar="N", min=1, max=10, help="Pages per paginated stream."),
    parents: int = typer.Option(3, "--parents", metavar="N", min=1, max=50, help="Parent records per fan-out."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Read one model on a small sample, map and validate it, store nothing, report each call."""
    report = _on_target(store_url, integration,
                        lambda engine, target: run_model_test(engine, target, model, pages=pages, parents=parents).as_dict(), 2)

    def human(c: Console) -> None:
        for p in report["pages"]:
            c.print(f"[bold]#{p['index']} {p['call']}[/bold] ({p['role']}) params={json.dumps(p['params'])}", highlight=False)
            if p["error"]:
                c.print(f"  [red]call failed:[/red] {p['error']}", highlight=False)
            c.print(f"  response: {p['response_excerpt'][:300]}", highlight=False, markup=False)
            if p["role"] == "source":
                c.print(f"  extracted {p['records_in_response']}, mapped {p['mapped']}, invalid {p['invalid']}", highlight=False)
            for r in p["records"][:2]:
                c.print(f"  record: {json.dumps(r, default=str)[:300]}", highlight=False, markup=False)
            for e in p["errors"]:
                c.print(f"  [red]invalid:[/red] {e}", highlight=False)
        for w in report["warnings"]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
        colour = "green" if report["verdict"] == "passed" else "red"
        c.print(f"[{colour}]{report['verdict']}[/]: {report['calls']} calls, {report['extracted']} extracted, "
                f"{report['mapped']} mapped, {report['invalid']} invalid" + (f"; {report['error']}" if report["error"] else ""))

    emit(report, human, as_json)
    if report["verdict"] != "passed":
        raise typer.Exit(1)
