"""``lmsync sync``, ``lmsync serve``, ``lmsync demo``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from datetime import timedelta
from collections.abc import Iterator
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, err, fail, get_store, iso
from engine.cli._target import chosen_integration, demo_integration
from engine.store.base import Store, SyncAlreadyRunning, SyncRun
from engine.webhooks import sender_for
from engine.errors import SyncError
from engine.sync import ModelProgress, SyncEngine, now_utc


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def run_with_progress(engine: SyncEngine, integration_id: str, kind: str, models: list[str] | None, console: Console) -> SyncRun:
    """Run a sync with a live line per model on *console* (stderr): records read, remote calls
    and elapsed time, refreshed twice a second also while a look-up or join yields nothing.
    The display starts with the first model, so a run that fails before prints nothing."""
    with contextlib.ExitStack() as stack:
        tasks: dict[str, TaskID] = {}
        bars: list[Progress] = []
        lock = threading.Lock()  # the engine's ticker thread reports too

        def on_progress(p: ModelProgress) -> None:
            with lock:
                if not bars:
                    bars.append(stack.enter_context(Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                                             TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                                             console=console, transient=False)))
            bar = bars[0]
            if p.model not in tasks:
                tasks[p.model] = bar.add_task(p.model, total=None, info="")
            info = f"{p.read} read, {p.invalid} invalid, {p.calls} calls"
            bar.update(tasks[p.model], info=info, completed=1 if p.done else 0, total=1 if p.done else None)

        return engine.sync(integration_id, kind, models, on_progress=on_progress)


_COLUMNS = (("total", None), ("new", "created"), ("upd", "updated"), ("same", "unchanged"), ("del", "deleted"),
            ("inv", "invalid"), ("calls", "calls"), ("secs", "seconds"))


def summary_table(run: SyncRun) -> Table:
    """Per model: records, created, updated, unchanged, deleted, invalid, calls, seconds (fits 80 columns)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"sync {run.id}: {run.status} ({iso(run.started_at)})",
                  caption="new/upd/same/del/inv: created, updated, unchanged, deleted, invalid records")
    table.add_column("model", no_wrap=True, min_width=max((len(m) for m in run.stats), default=5))
    for header, _ in _COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for model, s in run.stats.items():
        total = s.get("created", 0) + s.get("updated", 0) + s.get("unchanged", 0)
        secs = s.get("seconds")
        values = [total, *(s.get(key) for _, key in _COLUMNS[1:-1]), None if secs is None else f"{secs:.1f}"]
        table.add_row(model, *(_cell(v) for v in values))
    return table


def _report(run: SyncRun, as_json: bool, pending: int = 0) -> None:
    def human(c: Console) -> None:
        c.print(summary_table(run))
        for w in run.warnings[:20]:
            c.print(f"[yellow]warning:[/yellow] {w}", highlight=False, markup=True)
        if run.error:
            c.print(f"[red]failed:[/red] {run.error}", highlight=False, markup=True)
        if pending:
            c.print(f"{pending} webhook deliver{'y' if pending == 1 else 'ies'} pending (lmsync webhooks deliveries)", highlight=False)

    emit({k: iso(v) for k, v in run.__dict__.items()}, human, as_json)


def _refusal(store: Store, engine: SyncEngine, exc: SyncAlreadyRunning) -> str:
    """Why a sync is refused: which run holds the lock, since when, and until when it counts."""
    held = store.get_run(exc.run_id)
    if held is None:
        return str(exc)
    beat = held.heartbeat_at or held.started_at
    stale = beat + timedelta(seconds=engine.stale_after_s)
    return (f"integration {exc.integration_id} is locked by run {held.id} ({held.kind}, started {iso(held.started_at)}, "
            f"last heartbeat {iso(beat)}); it counts as stale (taken over) after {iso(stale)}")


def _exit_now(code: int) -> None:
    """Exit at once: the run is recorded and unlocked; calls still in flight on worker threads
    are abandoned instead of waited for (a second signal during that wait would kill the
    process with no exit code of ours)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so a killed sync records itself cancelled."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def sync(
    integration: str = typer.Option(None, "--integration", metavar="ID", help="Integration id (default: the only one, or the embedded demo site)."),
    kind: str = typer.Option("FULL", "--kind", metavar="FULL|DELTA", help="FULL or DELTA."),
    model: list[str] = typer.Option([], "--model", metavar="MODEL", help="Only these models (repeatable)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Sync an integration into the store; without one, sync the embedded simulator."""
    kind = kind.upper()
    if kind not in ("FULL", "DELTA"):
        raise fail("--kind must be FULL or DELTA", 2)
    store = get_store(store_url)
    engine = SyncEngine(store)
    sender = sender_for(store)
    sender.defer = True
    _raise_on_sigterm()
    with chosen_integration(store, integration) as target:
        try:
            run = run_with_progress(engine, target.id, kind, model or None, err)
        except SyncAlreadyRunning as exc:
            raise fail(_refusal(store, engine, exc)) from None
        except SyncError as exc:
            raise fail(str(exc), 2) from None
        except KeyboardInterrupt:
            last = next(iter(store.list_runs(target.id, limit=1)), None)
            if last is not None and last.status == "running":  # interrupted between taking the lock and its try
                last.status, last.error, last.finished_at = "cancelled", "cancelled (KeyboardInterrupt)", now_utc()
                store.finish_run(last)
            err.print(f"cancelled: run {last.id if last else '-'} marked cancelled; the integration is unlocked", highlight=False)
            _exit_now(130)
    pending = sender.try_deferred()
    _report(run, as_json, pending)
    if run.status != "succeeded":
        raise typer.Exit(1)


def api_app(store: Store, engine: SyncEngine, *, scheduler: bool = False):
    """The ASGI app with the engine's services (sync queue, write actions) wired in.

    Syncs go to Celery when ``$LMSYNC_BROKER_URL`` is set, else run in this process; then
    *scheduler* also starts the in-process scheduler thread (periodic FULL/DELTA syncs)."""
    # the API stack (starlette, uvicorn) is imported only by the commands that serve
    from engine.actions import ActionService
    from engine.api import ApiServices, create_app
    from engine.cli._tools import tool_services
    from engine.jobs import LocalSyncQueue, make_sync_queue
    from engine.schedule import Scheduler

    queue = make_sync_queue(engine)
    if scheduler and isinstance(queue, LocalSyncQueue):
        Scheduler(store, queue.force_sync, on_tick=sender_for(store).resume_pending).start()
    return create_app(store, services=ApiServices(force_sync=queue.force_sync, actions=ActionService(engine), **tool_services(engine)))


@contextlib.contextmanager
def _port_held(host: str, port: int) -> Iterator[None]:
    """Bind *host*:*port* first (a busy port is one line, exit 2) and hold it until the block
    ends, right before the server binds it again."""
    from engine.api import listening_socket

    try:
        sock = listening_socket(host, port)
    except OSError:
        raise fail(f"port {port} is in use; choose another with --port", 2) from None
    try:
        yield
    finally:
        sock.close()


HostOpt = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Interface to listen on.")
PortOpt = typer.Option(8000, "--port", metavar="PORT", help="TCP port to listen on.")


def serve(host: str = HostOpt, port: int = PortOpt, store_url: str = StoreOpt,
          scheduler: bool = typer.Option(True, "--scheduler/--no-scheduler",
                                         help="Run periodic syncs in this process (ignored with a broker: run `lmsync scheduler`).")) -> None:
    """Serve the unified API over HTTP (uvicorn)."""
    with _port_held(host, port):
        store = get_store(store_url)
        engine = SyncEngine(store)
        from engine.cli._common import preflight  # specs and store must work before the port is bound
        preflight(store, engine)
        app = api_app(store, engine, scheduler=scheduler)
    from engine.api import run_server

    err.print(f"serving the lmsync API on http://{host}:{port}/v1 (OpenAPI: /v1/openapi.json)")
    run_server(app, host, port)


def demo(host: str = HostOpt, port: int = PortOpt, store_url: str = StoreOpt,
         connector: str = typer.Option(None, "--connector", metavar="NAME",
                                       help="Whose simulator (default: the first installed connector that offers one).")) -> None:
    """Start the embedded simulator, sync it, then serve the API (Ctrl-C stops both)."""
    with _port_held(host, port):
        store = get_store(store_url)
        engine = SyncEngine(store)
        if connector is not None and connector not in engine.connectors:
            raise fail(f"--connector {connector!r}: no such connector (installed: {', '.join(engine.connectors)})", 2)
        stack = contextlib.ExitStack()
        integration = stack.enter_context(demo_integration(store, connector))
    with stack:
        run = run_with_progress(engine, integration.id, "FULL", None, err)
        _report(run, False)
        if run.status != "succeeded":
            raise typer.Exit(1)
        from engine.cli._admin import demo_api_key  # reuses <data dir>/demo-api-key while valid
        key = demo_api_key(store, integration.id)
        base = f"http://{host}:{port}/v1"
        err.print(f"\n[bold]lmsync API:[/bold] {base}   (OpenAPI: {base}/openapi.json)", soft_wrap=True)
        err.print(f"[bold]API key:[/bold] {key}\n[bold]Integration:[/bold] {integration.id}\ntry:", soft_wrap=True)
        err.print(f"  curl -s -H 'Authorization: Bearer {key}' -H 'X-Integration-Id: {integration.id}' '{base}/lms/courses?page_size=2'", highlight=False, markup=False, soft_wrap=True)
        from engine.api import run_server

        run_server(api_app(store, engine, scheduler=True), host, port)
