"""``lmsync mappings capture|list|export``: the authoring loop's capture and the operator's own specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from engine.capture import run_capture
from engine.cli._common import JsonOpt, StoreOpt, emit, fail, get_store
from engine.cli._target import chosen_integration
from engine.errors import LmsyncError, SpecError
from engine.models import MODEL_ORDER
from engine.plugins import connectors, get_plugin_manager
from engine.spec import function_set
from engine.spec._dirs import USER, load_connector_specs, spec_files, user_mappings_dir
from engine.sync import SyncEngine

__all__ = ["capture", "list_specs", "export_specs", "connector_specs"]


def connector_specs(connector: str) -> tuple[Any, dict[str, Any]]:
    """The connector's specs as a sync would load them (overrides applied, calls checked) and
    the file of each (keyed by ``Spec.file``)."""
    pm = get_plugin_manager()
    info = connectors(pm).get(connector)
    if info is None:
        raise fail(f"no connector named {connector!r} (installed: {', '.join(connectors(pm)) or 'none'})", 2)
    try:
        return load_connector_specs(connector, info.mappings, function_set(pm), known_calls=info.known_calls)
    except SpecError as exc:
        raise fail(str(exc)) from None


def capture(
    model: str = typer.Argument(..., help="The unified model, e.g. users or course_progressions."),
    output: Path = typer.Option(None, "--output", "-o", help="Where to save it (default: MODEL.capture.json)."),
    integration: str = typer.Option(None, "--integration", metavar="ID", help="Integration id (default: the only one, or the embedded demo site)."),
    pages: int = typer.Option(1, min=1, help="Pages read per paginated stream."),
    parents: int = typer.Option(3, min=1, help="Parents visited per fan-out."),
    records: int = typer.Option(200, min=1, help="Records read at most."),
    store_url: str = StoreOpt,
) -> None:
    """Save every call MODEL's sample needs (source pages, fan-out parents, joins, look-ups) for `mappings preview`.

    Example: lmsync mappings capture course_progressions, then lmsync mappings preview
    <the spec it names> --input course_progressions.capture.json"""
    store = get_store(store_url)
    engine = SyncEngine(store)
    with chosen_integration(store, integration) as target:
        try:
            result = run_capture(engine, target, model, pages=pages, parents=parents, max_records=records)
            spec_file = engine.specset_for(target).specs[model].file
        except LmsyncError as exc:
            raise fail(str(exc)) from None
    path = output or Path(f"{model}.capture.json")
    text = json.dumps(result.as_dict(), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    err = Console(stderr=True, highlight=False)
    if result.error:
        err.print(f"warning: the capture ended early: {result.error}", markup=False)
    err.print(f"saved {len(result.calls)} calls ({len(text) // 1024 or 1} KiB) of {target.id} to {path}", markup=False)
    err.print(f"preview a spec with it: lmsync mappings preview {spec_file} --input {path}", markup=False, soft_wrap=True)
    if result.error and not result.calls:
        raise typer.Exit(1)


def list_specs(connector: str = typer.Argument(None, help="Only this connector's."), as_json: bool = JsonOpt) -> None:
    """List the spec a sync uses for each model, and whether it is the package's or your own."""
    names = [connector] if connector else sorted(connectors(get_plugin_manager()))
    rows = []
    for name in names:
        specset, files = connector_specs(name)
        for spec in sorted(specset.all_specs(), key=lambda s: (MODEL_ORDER.index(s.model), s.when is not None)):
            rows.append({"connector": name, "model": spec.model, "when": spec.when.source if spec.when is not None else None,
                         "origin": files[spec.file].origin, "file": str(files[spec.file].path)})

    def human(c: Console) -> None:
        table = Table("connector", "model", "from")
        table.add_column("file", overflow="fold")
        for r in rows:
            model = r["model"] + (f" (when {r['when']})" if r["when"] else "")
            table.add_row(r["connector"], model, r["origin"], r["file"], style="bold" if r["origin"] == USER else None)
        c.print(table)
        c.print(f"your own specs go in {user_mappings_dir()}/<connector>/ (LMSYNC_MAPPINGS_DIR); "
                "one there replaces the package's spec for the same model", soft_wrap=True, highlight=False)

    emit({"specs": rows, "user_dir": str(user_mappings_dir())}, human, as_json)


def export_specs(
    connector: str = typer.Argument(..., help="The connector whose packaged specs to copy."),
    models: list[str] = typer.Argument(None, help="Only these models (default: all)."),
    to: Path = typer.Option(None, "--to", help="Target directory (default: LMSYNC_MAPPINGS_DIR/<connector>)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist."),
) -> None:
    """Copy packaged specs into your own mapping directory to edit them (a sync then uses your copy)."""
    info = connectors(get_plugin_manager()).get(connector)
    if info is None:
        raise fail(f"no connector named {connector!r}", 2)
    target = to or user_mappings_dir(connector)
    packaged = {}
    for file in spec_files(connector, info.mappings):
        if file.origin != USER:
            packaged[file.path.name.rsplit(".", 1)[0]] = file.path
    wanted = models or sorted(packaged)
    unknown = [m for m in wanted if m not in packaged]
    if unknown:
        raise fail(f"no packaged spec for {', '.join(unknown)} (known: {', '.join(sorted(packaged))})", 2)
    clashes = [m for m in wanted if (target / packaged[m].name).exists()]
    if clashes and not force:
        raise fail(f"{target} already has {', '.join(packaged[m].name for m in clashes)}; add --force to overwrite", 2)
    target.mkdir(parents=True, exist_ok=True)
    for model in wanted:
        with packaged[model].open("rb") as src, (target / packaged[model].name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    typer.echo(f"copied {len(wanted)} spec(s) to {target}; edit them, then check with: lmsync mappings check {target}")
