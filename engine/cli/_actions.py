"""``lmsync courses upsert|deactivate``, ``lmsync enroll``, ``lmsync complete``: write actions.

They run the same ``engine.actions.ActionService`` as the HTTP API (the bulk upsert runs in
the foreground here) and print the API's JSON shapes with ``--json``. Exit codes: 0 done,
1 the action (or an item of it) failed, 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.errors import LmsyncError
from engine.store.base import Store
from schemas._loader import load_schema

if TYPE_CHECKING:  # imported where used: the actions and API stacks load only for these commands
    from jsonschema import Draft202012Validator

    from engine.actions import ActionResult, ActionService

__all__ = ["courses", "enroll", "complete"]

courses = typer.Typer(help="Create, update and deactivate courses in the remote LMS.", no_args_is_help=True)
IntegrationOpt = typer.Option(None, "--integration", help="Integration id (default: the only one).")
T = TypeVar("T")

_EXIT_CODES = ("Exit codes: 0 done; 1 the action failed (one line `error: CODE: message` on stderr, "
               "e.g. PLATFORM.INPUT_INVALID, REMOTE.INPUT_INVALID); 2 usage error (bad option, no integration).")
_UPSERT_EPILOG = """items.json is the POST /lms/courses/bulk body {"items": [...]} or just the list:

[{"origin_id": "course-1",
  "course": {"type": "EXTERNAL", "title": "Intro to SQL",
             "course_url": "https://content.example/sql",
             "description": "Optional.", "languages": ["en"]}}]

Each item needs origin_id (your stable id: an existing course with that id is updated, else one is created) and course.type ("EXTERNAL"), course.title and course.course_url (http/https). Optional: description, thumbnail_url, duration (minutes), languages (e.g. "en", "de-CH").

Schema: schemas/upsert-courses-item.schema.json. The whole file is checked before anything is sent.

Exit codes: 0 every item upserted; 1 any item (or the task) failed, see the table or --json; 2 usage error (items.json unreadable, not a list of objects, an item failing the schema)."""


def _service(store_url: str | None, integration: str | None) -> tuple[Store, ActionService, str]:
    store = get_store(store_url)
    if integration is None:
        existing = [i.id for i in store.list_integrations()]
        if len(existing) != 1:
            raise fail("choose an integration with --integration" if existing else "no integration exists; add one with `lmsync integrations add`", 2)
        integration = existing[0]
    from engine.actions import ActionService
    from engine.sync import SyncEngine

    return store, ActionService(SyncEngine(store), workers=1), integration


def _attempt(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except LmsyncError as exc:
        from engine.actions import error_code

        raise fail(f"{error_code(exc)}: {exc}") from None


def _print_warnings(c: Console, warnings: list[str]) -> None:
    for w in warnings:
        c.print(f"[yellow]warning:[/yellow] {w}", highlight=False, markup=True)


def _show_result(store: Store, iid: str, result: ActionResult, as_json: bool, label: str) -> None:
    from engine.api import record_json

    data = record_json(store, iid, result.model, result.record)

    def human(c: Console) -> None:
        status = data.get("status") or next((r.get("status") for r in data.get("revisions", [])), None)
        c.print(f"{label}: {result.model} [bold]{data['id']}[/bold] (remote {data['remote_id']}) status {status}")
        _print_warnings(c, result.warnings)

    emit({"data": data, "warnings": [{"message": w} for w in result.warnings]}, human, as_json)


@cache
def _item_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("upsert-courses-item"))


def _item_problem(item: Any) -> str | None:
    """The first schema complaint about one upsert item (naming the field), else ``None``."""
    from jsonschema.exceptions import best_match

    error = best_match(_item_validator().iter_errors(item))  # descends into the course's oneOf
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path))
    return f"{where}: {error.message}" if where else error.message


def _read_items(path: Path) -> list[dict[str, Any]]:
    """The items of *path*, every one checked against the schema; a usage error (exit 2) names
    the file and the zero-based item index of the first problem."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror or exc}", 2) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: not JSON: {exc}", 2) from None
    items = doc.get("items") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise fail(f"{path}: expected a list of items or {{\"items\": [...]}} (the POST /lms/courses/bulk body), "
                   f"got {type(items).__name__ if items is not None else 'an object without items'}", 2)
    if not items:
        raise fail(f"{path}: no items to upsert", 2)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise fail(f"{path}: items[{index}]: expected an object {{\"origin_id\": …, \"course\": {{…}}}}, "
                       f"got {json.dumps(item)[:60]}", 2)
        problem = _item_problem(item)
        if problem:
            origin = f" (origin_id {item['origin_id']!r})" if isinstance(item.get("origin_id"), str) else ""
            raise fail(f"{path}: items[{index}]{origin}: {problem}", 2)
    return items


def _headline(results: list[dict[str, Any]], total: int) -> str:
    done = sum(r["status"] == "SUCCEEDED" for r in results)
    failed = len(results) - done
    text = f"{done} of {total} courses upserted"
    if failed:
        text += f", {failed} failed"
    if len(results) < total:
        text += f", {total - len(results)} not attempted"
    return text


@courses.command("upsert", epilog=_UPSERT_EPILOG)
def upsert(
    items_file: Path = typer.Argument(..., help="JSON: the bulk body {\"items\": [...]} or a list of items (see below)."),
    integration: str = IntegrationOpt,
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create or update courses by origin_id (the API's bulk upsert, run in the foreground)."""
    items = _read_items(items_file)
    store, service, iid = _service(store_url, integration)
    task = _attempt(lambda: service.run_upsert(iid, items))
    from engine.api import task_json

    data = task_json(task)
    ok = task.status == "COMPLETED" and all(r["status"] == "SUCCEEDED" for r in task.results)

    def human(c: Console) -> None:
        colour = "green" if ok else "red"
        c.print(f"[{colour}]{_headline(task.results, len(items))}[/{colour}] (task {task.id})", highlight=False, markup=True)
        table = Table("origin_id", "status", "course id / error")
        for r in task.results:
            detail = r["data"]["id"] if r["status"] == "SUCCEEDED" else f"{r['error']['code']}: {r['error']['message']}"
            table.add_row(r["origin_id"], r["status"], detail)
        c.print(table)
        if task.error:
            c.print(f"[red]failed:[/red] {task.error['code']}: {task.error['message']}", highlight=False, markup=True)
        _print_warnings(c, task.warnings)

    emit({"data": data, "warnings": [{"message": w} for w in task.warnings]}, human, as_json)
    if not ok:
        raise typer.Exit(1)


@courses.command("deactivate", epilog=_EXIT_CODES)
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
    """Enroll a user in a course revision; prints the progression.

    Exit codes: 0 enrolled; 1 the action failed (one line `error: CODE: message` on stderr); 2 usage error (bad option, no integration).
    """
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
    """Mark a course progression completed; prints the progression.

    Exit codes: 0 completed; 1 the action failed (one line `error: CODE: message` on stderr, e.g. PLATFORM.INPUT_INVALID when the course has nothing to grade); 2 usage error (bad option, --score outside 0-100, no integration).
    """
    body: dict[str, Any] = {k: v for k, v in (("score", score), ("completed_at", completed_at)) if v is not None}
    store, service, iid = _service(store_url, integration)
    result = _attempt(lambda: service.complete(iid, progression_id, body))
    _show_result(store, iid, result, as_json, "completed")
