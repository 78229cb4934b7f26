"""``lmsync mappings check|preview`` (``capture|list|export`` are in ``engine.cli._capture``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.capture import Capture, is_capture
from engine.cli._capture import connector_specs
from engine.cli._common import JsonOpt, emit, fail
from engine.errors import ConfigError, LmsyncError, SpecError
from engine.plugins import connectors, get_plugin_manager
from engine.preview import preview_capture, preview_response, unwrap_answer
from engine.spec import function_set, load_spec_file, load_specs
from engine.spec._dirs import load_connector_specs, user_mappings_dir
from schemas._loader import check_schemas

app = typer.Typer(help="Validate and try out mapping specs.", no_args_is_help=True)


def _spec_files(target: Any) -> list[Any]:
    if target.is_file():
        return [target]
    return sorted((f for f in target.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)


def _connector_of(path: Path, infos: dict[str, Any]) -> str | None:
    """The installed connector whose specs *path* is: the one whose mappings directory holds
    it, else the one its directory is named after (``mappings/<connector>/``)."""
    directory = (path if path.is_dir() else path.parent).resolve()
    for name, info in infos.items():
        try:
            if Path(str(info.mappings)).resolve() == directory:
                return name
        except (OSError, ValueError):
            continue
    return directory.name if directory.name in infos else None


def check_paths(path: Path | None, connector: str | None = None) -> tuple[list[str], list[str]]:
    """Check every spec under *path* (default: every connector's); ``(ok files, errors)``.

    Each file is checked on its own (so every broken file is reported, each of its problems as
    one error), then a directory is checked as a set (references between specs, cycles) if its
    files were all valid. The calls are checked against the known functions of *connector*
    (default: the connector *path* belongs to, see ``_connector_of``), if it lists them."""
    pm = get_plugin_manager()
    functions = function_set(pm)
    infos = connectors(pm)
    if path is None:
        targets = [(n, i.mappings) for n, i in infos.items()]
        targets += [(n, user_mappings_dir(n)) for n in infos if user_mappings_dir(n).is_dir()]
    else:
        targets = [(connector or _connector_of(path, infos) or path.name, path)]
    ok: list[str] = []
    errors: list[str] = []
    try:  # the unified schemas every spec maps into (a broken one would only fail at sync time)
        check_schemas()
    except ConfigError as exc:
        errors.append(str(exc))
    for name, target in targets:
        calls = infos[name].known_calls if name in infos else None
        files = _spec_files(target)
        before = len(errors)
        for file in files:
            try:
                load_spec_file(file, functions, known_calls=calls)
                ok.append(str(file))
            except SpecError as exc:
                errors.extend(str(e) for e in exc.errors)
        if not target.is_file() and len(errors) == before:
            try:
                _check_set(name, target, infos, functions, calls)
            except SpecError as exc:
                errors.extend(str(e) for e in exc.errors)
    return ok, errors


def _check_set(name: str, target: Any, infos: dict[str, Any], functions: Any, calls: Any) -> None:
    """A directory's specs as one set; the operator's own directory of a connector together
    with the packaged specs it overlays (as a sync loads them)."""
    if name in infos and Path(str(target)).resolve() == user_mappings_dir(name).resolve():
        load_connector_specs(name, infos[name].mappings, functions, known_calls=calls)
    else:
        load_specs(target, name, functions, known_calls=calls)


@app.command("check")
def check(path: Path = typer.Argument(None, help="A spec file or a directory of specs (default: every installed connector's)."),
          connector: str = typer.Option(None, "--connector", "-c",
                                        help="Check calls against this connector's functions (default: the one PATH belongs to)."),
          as_json: bool = JsonOpt) -> None:
    """Validate mapping specs; exit 1 listing every error (file:line:column, with a caret)."""
    if path is not None and not path.exists():
        raise fail(f"{path}: no such file or directory", 2)
    if connector is not None:
        installed = connectors(get_plugin_manager())
        if connector not in installed:
            raise fail(f"--connector {connector!r}: no such connector (installed: {', '.join(installed) or 'none'})", 2)
    ok, errors = check_paths(path, connector)

    def human(c: Console) -> None:
        for e in errors:
            c.print(f"[red]✗[/red] {escape(e)}", highlight=False, markup=True, soft_wrap=True)
        c.print(f"{len(ok)} spec file(s) valid, {len(errors)} error(s)")

    emit({"valid": ok, "errors": errors}, human, as_json)
    if errors:
        raise typer.Exit(1)


@app.command("preview")
def preview(
    spec: Path = typer.Argument(..., exists=True, dir_okay=False, help="The mapping spec (YAML)."),
    input: Path = typer.Option(..., "--input", "-i", exists=True, dir_okay=False,
                               help="A capture (lmsync mappings capture), lmsync passthrough output (plain or --json), or a saved answer (JSON)."),
    base_url: str = typer.Option("https://remote.example", help="Site URL used by fields that build links (a capture has its own)."),
    as_json: bool = JsonOpt,
) -> None:
    """Show the records SPEC maps from INPUT, with invalid records and silent-null warnings; exit 1 on errors or 0 records."""
    try:
        loaded = load_spec_file(spec, function_set(get_plugin_manager()))
    except SpecError as exc:
        raise fail(str(exc)) from None
    result = _preview_input(loaded, input, base_url)

    def human(c: Console) -> None:
        table = Table(title=f"{loaded.model}: {len(result.records)} mapped, {result.skipped} skipped, {len(result.errors)} invalid")
        columns = ["remote_id", *[f.name for f in loaded.fields]]
        for col in columns:
            table.add_column(col, overflow="fold")
        for rec in result.records[:200]:
            table.add_row(*[str(rec.get(col)) for col in columns])
        c.print(table)
        for e in result.errors:
            c.print(f"[red]✗[/red] {escape(e)}", highlight=False, markup=True, soft_wrap=True)
        for w in result.warnings:
            c.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False, markup=True, soft_wrap=True)

    emit(result.as_dict(), human, as_json)
    if result.errors:
        raise typer.Exit(1)
    if not result.records:
        raise fail(f"0 records mapped from {input}: {_why_none(loaded, result)}")


def _preview_input(loaded: Any, input: Path, base_url: str) -> Any:
    text = input.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if is_capture(data):
        try:
            capture = Capture.from_dict(data, str(input))
        except LmsyncError as exc:
            raise fail(str(exc)) from None
        specset, _ = connector_specs(capture.connector)
        return preview_capture(loaded, specset, capture)
    try:
        response = unwrap_answer(text, data)
    except ValueError as exc:
        raise fail(f"{input}: {exc}") from None
    return preview_response(loaded, response, base_url=base_url)


def _why_none(spec: Any, result: Any) -> str:
    if result.extracted and result.skipped == result.extracted:
        return f"the filter {spec.source.filter.source!r} skipped all {result.extracted} records"
    if result.input_kind == "capture":
        return "the capture holds no records for this spec's source"
    return (f"the source's records expression {spec.source.records.source!r} found none in the answer"
            " (is it the answer of the spec's call?)")
