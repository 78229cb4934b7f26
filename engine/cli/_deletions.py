"""``lmsync deletions list|confirm``: the changes the guard held (see ``engine.guard``)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.errors import LmsyncError
from engine.guard import confirm as confirm_held
from engine.guard import held_counts
from engine.sync import now_utc

__all__ = ["deletions"]

deletions = typer.Typer(help="Deletions and regressions a sync held back (the guard).", no_args_is_help=True)


@deletions.command("list")
def list_held(integration: str = typer.Option(None, "--integration"), store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Runs with held changes, newest first; only the latest successful run can be confirmed."""
    store = get_store(store_url)
    runs = [store.get_run(rid) for rid in store.held_runs(integration)]
    runs = sorted((r for r in runs if r), key=lambda r: r.started_at, reverse=True)
    latest = {}
    for r in runs:
        if r.integration_id not in latest:
            newest = next((x for x in store.list_runs(r.integration_id, 200) if x.status == "succeeded"), None)
            latest[r.integration_id] = newest.id if newest else None
    rows = [{"run": r.id, "integration": r.integration_id, "started_at": r.started_at.isoformat(timespec="seconds"),
             "held": held_counts(r), "confirmable": latest[r.integration_id] == r.id} for r in runs]

    def human(c: Console) -> None:
        table = Table("run", "integration", "started", "held", "confirmable")
        for row in rows:
            held = ", ".join(f"{m} {n:,}" for m, n in row["held"].items())
            table.add_row(row["run"], row["integration"], row["started_at"], held,
                          "yes" if row["confirmable"] else "no (newer run)")
        c.print(table if rows else "nothing held")

    emit(rows, human, as_json)


@deletions.command("confirm")
def confirm(run_id: str = typer.Argument(..., help="The run whose held changes to apply."),
            yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
            store_url: str = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Apply a run's held deletions and regressions (only if it is still the latest successful run)."""
    store = get_store(store_url)
    run = store.get_run(run_id)
    if run is None:
        raise fail(f"no run {run_id!r}")
    counts = held_counts(run)
    if not yes and not typer.confirm(f"apply {', '.join(f'{m} {n:,}' for m, n in counts.items()) or 'nothing'}"
                                     f" held by run {run_id}?"):
        raise fail("not confirmed")
    try:
        applied = confirm_held(store, run_id, now_utc())
    except LmsyncError as exc:
        raise fail(str(exc)) from None
    emit(applied, lambda c: c.print(f"applied: {', '.join(f'{m} {n:,}' for m, n in applied.items())}"), as_json)
