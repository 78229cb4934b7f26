"""``lmsync courses upsert|deactivate``, ``lmsync enroll``, ``lmsync complete``: write actions.

They run the same ``engine.actions.ActionService`` as the HTTP API (the bulk upsert runs in
the foreground here) and print the API's JSON shapes with ``--json``. Exit codes: 0 done,
1 the action (or an item of it) failed, 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from engine.actions import ActionResult, ActionService, error_code
from engine.api import record_json, task_json
from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.errors import LmsyncError
from engine.store.base import Store
from engine.sync import SyncEngine

__all__ = ["courses", "enroll", "complete"]

courses = typer.Typer(help="Create, update and deactivate courses in the remote LMS.", no_args_is_help=True)
IntegrationOpt = typer.Option(None, "--integration", help="Integration id (default: the only one).")
T = TypeVar("T")


def _service(store_url: str | None, integration: str | None) -> tuple[Store, ActionService, str]:
    store = get_store(store_url)
    if integration is None:
        existing = [i.id for i in store.list_integrations()]
        if len(existing) != 1:
            raise fail("choose an integration with --integration" if existing else "no integration exists; add one with `lmsync integrations add`", 2)
        integration = existing[0]
    return store, ActionService(SyncEngine(store), workers=1), integration


def _attempt(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except LmsyncError as exc:
        raise fail(f"{error_code(exc)}: {exc}") from None


def _print_warnings(c: Console, warnings: list[str]) -> None:
    for w in warnings:
        c.print(f"[yellow]warning:[/yellow] {w}", highlight=False, markup=True)


def _show_result(store: Store, iid: str, result: ActionResult, as_json: bool, label: str) -> None:
    data = record_json(store, iid, result.model, result.record)

    def human(c: Console) -> None:
        status = data.get("status") or next((r.get("status") for r in data.get("revisions", [])), None)
        c.print(f"{label}: {result.model} [bold]{data['id']}[/bold] (remote {data['remote_id']}) status {status}")
        _print_warnings(c, result.warnings)

    emit({"data": data, "warnings": [{"message": w} for w in result.warnings]}, human, as_json)


def _read_items(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot read JSON: {exc}", 2) from None
    items = doc.get("items") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise fail(f"{path}: expected a list of items or {{\"items\": [...]}} (the POST /lms/courses/bulk body)", 2)
    return items


@courses.command("upsert")
def upsert(
    items_file: Path = typer.Argument(..., help="JSON: the bulk body {\"items\": [...]} or a list of items."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create or update courses by origin_id (the API's bulk upsert, run in the foreground)."""
    items = _read_items(items_file)
    store, service, iid = _service(store_url, integration)
    task = _attempt(lambda: service.run_upsert(iid, items))
    data = task_json(task)

    def human(c: Console) -> None:
        table = Table("origin_id", "status", "course id / error", title=f"upsert {task.id}: {task.status}")
        for r in task.results:
            detail = r["data"]["id"] if r["status"] == "SUCCEEDED" else f"{r['error']['code']}: {r['error']['message']}"
            table.add_row(r["origin_id"], r["status"], detail)
        c.print(table)
        if task.error:
            c.print(f"[red]failed:[/red] {task.error['code']}: {task.error['message']}", highlight=False, markup=True)
        _print_warnings(c, task.warnings)

    emit({"data": data, "warnings": [{"message": w} for w in task.warnings]}, human, as_json)
    if task.status != "COMPLETED" or any(r["status"] != "SUCCEEDED" for r in task.results):
        raise typer.Exit(1)


@courses.command("deactivate")
def deactivate(
    course_id: str = typer.Argument(..., help="lmsync course id or remote:<id>."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Deactivate a course (existing progress is kept)."""
    store, service, iid = _service(store_url, integration)
    result = _attempt(lambda: service.deactivate_course(iid, course_id))
    _show_result(store, iid, result, as_json, "deactivated")


def enroll(
    user: str = typer.Option(..., "--user", help="lmsync user id or remote:<id>."),
    course_revision: str = typer.Option(..., "--course-revision", help="lmsync course revision id or remote:<id>."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Enroll a user in a course revision; prints the progression."""
    store, service, iid = _service(store_url, integration)
    result = _attempt(lambda: service.enroll(iid, {"user_id": user, "course_revision_id": course_revision}))
    _show_result(store, iid, result, as_json, "enrolled")


def complete(
    progression_id: str = typer.Argument(..., help="lmsync course progression id or remote:<id>."),
    score: int = typer.Option(None, "--score", min=0, max=100, help="Score 0-100, written to the course's graded activities."),
    completed_at: str = typer.Option(None, "--completed-at", help="ISO date or date-time of completion."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Mark a course progression completed; prints the progression."""
    body: dict[str, Any] = {k: v for k, v in (("score", score), ("completed_at", completed_at)) if v is not None}
    store, service, iid = _service(store_url, integration)
    result = _attempt(lambda: service.complete(iid, progression_id, body))
    _show_result(store, iid, result, as_json, "completed")
