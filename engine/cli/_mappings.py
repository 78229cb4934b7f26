"""``lmsync mappings check|preview``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.cli._common import JsonOpt, emit, fail
from engine.errors import ConfigError, SpecError
from engine.plugins import connectors, get_plugin_manager
from engine.preview import preview_response
from engine.spec import function_set, load_spec_file, load_specs
from schemas._loader import check_schemas

app = typer.Typer(help="Validate and try out mapping specs.", no_args_is_help=True)


def _spec_files(target: Any) -> list[Any]:
    if target.is_file():
        return [target]
    return sorted((f for f in target.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)


def check_paths(path: Path | None) -> tuple[list[str], list[str]]:
    """Check every spec under *path* (default: every connector's); ``(ok files, errors)``.

    Each file is checked on its own (so every broken file is reported), then a directory is
    checked as a set (references between specs, cycles) if its files were all valid."""
    pm = get_plugin_manager()
    functions = function_set(pm)
    targets = [(n, i.mappings) for n, i in connectors(pm).items()] if path is None else [(path.name, path)]
    ok: list[str] = []
    errors: list[str] = []
    try:  # the unified schemas every spec maps into (a broken one would only fail at sync time)
        check_schemas()
    except ConfigError as exc:
        errors.append(str(exc))
    for connector, target in targets:
        files = _spec_files(target)
        before = len(errors)
        for file in files:
            try:
                load_spec_file(file, functions)
                ok.append(str(file))
            except SpecError as exc:
                errors.append(str(exc))
        if not target.is_file() and len(errors) == before:
            try:
                load_specs(target, connector, functions)
            except SpecError as exc:
                errors.append(str(exc))
    return ok, errors


@app.command("check")
def check(path: Path = typer.Argument(None, help="A spec file or a directory of specs (default: every installed connector's)."), as_json: bool = JsonOpt) -> None:
    """Validate mapping specs; exit 1 with located errors."""
    if path is not None and not path.exists():
        raise fail(f"{path}: no such file or directory", 2)
    ok, errors = check_paths(path)

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
    input: Path = typer.Option(..., "--input", "-i", exists=True, dir_okay=False, help="A saved response (JSON)."),
    base_url: str = typer.Option("https://remote.example", help="Site URL used by fields that build links."),
    as_json: bool = JsonOpt,
) -> None:
    """Show the records SPEC extracts and maps from a saved response, with validation errors."""
    try:
        loaded = load_spec_file(spec, function_set(get_plugin_manager()))
    except SpecError as exc:
        raise fail(str(exc)) from None
    try:
        response = json.loads(input.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{input}: not JSON: {exc}") from None
    result = preview_response(loaded, response, base_url=base_url)

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

    emit(result.as_dict(), human, as_json)
    if result.errors:
        raise typer.Exit(1)
