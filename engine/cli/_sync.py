"""``lmsync sync``, ``lmsync serve``, ``lmsync demo``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.api import ApiServices, create_api_key, create_app, run_server
from engine.actions import ActionService
from engine.cli._common import JsonOpt, StoreOpt, emit, err, fail, get_store
from engine.cli._target import chosen_integration, demo_integration
from engine.cli._tools import tool_services
from engine.jobs import LocalSyncQueue, make_sync_queue
from engine.schedule import Scheduler
from engine.store.base import Store, SyncAlreadyRunning, SyncRun
from engine.webhooks import sender_for
from engine.sync import ModelProgress, SyncEngine


def run_with_progress(engine: SyncEngine, integration_id: str, kind: str, models: list[str] | None, console: Console) -> SyncRun:
    """Run a sync with a progress line per model on *console* (stderr)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def on_progress(p: ModelProgress) -> None:
            if p.model not in tasks:
                tasks[p.model] = bar.add_task(p.model, total=None, info="")
            info = f"{p.records} records, {p.invalid} invalid, {p.calls} calls"
            bar.update(tasks[p.model], info=info, completed=1 if p.done else 0, total=1 if p.done else None)

        return engine.sync(integration_id, kind, models, on_progress=on_progress)


def summary_table(run: SyncRun) -> Table:
    """Per model: records, invalid, remote calls, seconds."""
    table = Table("model", "records", "created", "updated", "unchanged", "deleted", "invalid", "calls", "seconds", title=f"sync {run.id}: {run.status}")
    for model, s in run.stats.items():
        total = s.get("created", 0) + s.get("updated", 0) + s.get("unchanged", 0)
        table.add_row(model, *(str(v) for v in (total, s.get("created"), s.get("updated"), s.get("unchanged"), s.get("deleted"), s.get("invalid"), s.get("calls"), s.get("seconds"))))
    return table


def _report(run: SyncRun, as_json: bool) -> None:
    def human(c: Console) -> None:
        c.print(summary_table(run))
        for w in run.warnings[:20]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False, markup=True)
        if run.error:
            c.print(f"[red]failed:[/red] {run.error}", highlight=False, markup=True)

    emit(run.__dict__, human, as_json)


def sync(
    integration: str = typer.Option(None, "--integration", help="Integration id (default: the only one, or the embedded demo site)."),
    kind: str = typer.Option("FULL", "--kind", help="FULL or DELTA."),
    model: list[str] = typer.Option([], "--model", help="Only these models (repeatable)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Sync an integration into the store; without one, sync the embedded simulator."""
    kind = kind.upper()
    if kind not in ("FULL", "DELTA"):
        raise fail("--kind must be FULL or DELTA", 2)
    store = get_store(store_url)
    engine = SyncEngine(store)
    try:
        with chosen_integration(store, integration) as target:
            run = run_with_progress(engine, target.id, kind, model or None, err)
    except SyncAlreadyRunning as exc:
        raise fail(str(exc)) from None
    _report(run, as_json)
    if run.status != "succeeded":
        raise typer.Exit(1)


def api_app(store: Store, engine: SyncEngine, *, scheduler: bool = False):
    """The ASGI app with the engine's services (sync queue, write actions) wired in.

    Syncs go to Celery when ``$LMSYNC_BROKER_URL`` is set, else run in this process; then
    *scheduler* also starts the in-process scheduler thread (periodic FULL/DELTA syncs)."""
    queue = make_sync_queue(engine)
    if scheduler and isinstance(queue, LocalSyncQueue):
        Scheduler(store, queue.force_sync, on_tick=sender_for(store).resume_pending).start()
    return create_app(store, services=ApiServices(force_sync=queue.force_sync, actions=ActionService(engine), **tool_services(engine)))


def serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000), store_url: str = StoreOpt,
          scheduler: bool = typer.Option(True, "--scheduler/--no-scheduler",
                                         help="Run periodic syncs in this process (ignored with a broker: run `lmsync scheduler`).")) -> None:
    """Serve the unified API over HTTP (uvicorn)."""
    store = get_store(store_url)
    err.print(f"serving the lmsync API on http://{host}:{port}/v1 (OpenAPI: /v1/openapi.json)")
    run_server(api_app(store, SyncEngine(store), scheduler=scheduler), host, port)


def demo(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000), store_url: str = StoreOpt) -> None:
    """Start the embedded simulator, sync it, then serve the API (Ctrl-C stops both)."""
    store = get_store(store_url)
    engine = SyncEngine(store)
    with demo_integration(store) as integration:
        run = run_with_progress(engine, integration.id, "FULL", None, err)
        _report(run, False)
        if run.status != "succeeded":
            raise typer.Exit(1)
        key = create_api_key(store, "demo", [integration.id])
        base = f"http://{host}:{port}/v1"
        err.print(f"\n[bold]lmsync API:[/bold] {base}   (OpenAPI: {base}/openapi.json)", soft_wrap=True)
        err.print(f"[bold]API key:[/bold] {key}\n[bold]Integration:[/bold] {integration.id}\ntry:", soft_wrap=True)
        err.print(f"  curl -s -H 'Authorization: Bearer {key}' -H 'X-Integration-Id: {integration.id}' '{base}/lms/courses?page_size=2'", highlight=False, markup=False, soft_wrap=True)
        run_server(api_app(store, engine, scheduler=True), host, port)
