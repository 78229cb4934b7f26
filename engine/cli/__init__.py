"""The ``lmsync`` command line (typer + rich). See ``engine.cli._common`` for the conventions."""

from __future__ import annotations

import logging

import typer

from engine.cli import _actions, _admin, _mappings, _sync, _tools, _webhooks, _workers
from engine.plugins import get_plugin_manager

__all__ = ["app", "main"]

app = typer.Typer(help="lmsync: a self-hosted unified LMS API.", no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(_mappings.app, name="mappings")
app.add_typer(_admin.integrations, name="integrations")
app.add_typer(_admin.api_keys, name="api-keys")
app.command("runs")(_admin.runs)
app.command("sync")(_sync.sync)
app.command("serve")(_sync.serve)
app.command("demo")(_sync.demo)
app.add_typer(_actions.courses, name="courses")
app.command("enroll")(_actions.enroll)
app.command("complete")(_actions.complete)
app.command("passthrough")(_tools.passthrough)
app.command("scope-test")(_tools.scope_test)
app.command("test-model")(_tools.test_model)
app.add_typer(_webhooks.webhooks, name="webhooks")
app.command("worker")(_workers.worker)
app.command("scheduler")(_workers.scheduler)


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


get_plugin_manager().hook.lmsync_cli_commands(app=app)


def main() -> None:
    """Console-script entry point."""
    app()
