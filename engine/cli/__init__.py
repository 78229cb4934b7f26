"""The ``lmsync`` command line (typer + rich). See ``engine.cli._common`` for the conventions."""

from __future__ import annotations

import logging
import sys
import traceback

import click
import typer

from engine.cli import _actions, _admin, _capture, _connect, _deletions, _mappings, _sync, _tools, _webhooks, _workers
from engine.cli._scope_configs import scope_configs
from engine.cli._common import err, user_error
from engine.plugins import get_plugin_manager

__all__ = ["app", "main"]

app = typer.Typer(help="lmsync: a self-hosted unified LMS API.", no_args_is_help=True, pretty_exceptions_show_locals=False,
                  pretty_exceptions_enable=False)
_mappings.app.command("capture")(_capture.capture)
_mappings.app.command("list")(_capture.list_specs)
_mappings.app.command("export")(_capture.export_specs)
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
app.add_typer(_deletions.deletions, name="deletions")
app.add_typer(scope_configs, name="scope-configs")
app.add_typer(_connect.connect, name="connect")
app.command("worker")(_workers.worker)
app.command("scheduler")(_workers.scheduler)


_state = {"verbose": False}


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr; show tracebacks of errors.")) -> None:
    _state["verbose"] = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


get_plugin_manager().hook.lmsync_cli_commands(app=app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app; a user error (``user_error``) becomes one
    ``error: …`` line on stderr and exit code 1 (``-v`` prints the traceback first)."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="lmsync", standalone_mode=False)
    except click.ClickException as exc:
        typer.rich_utils.rich_format_error(exc)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("aborted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        message = user_error(exc)
        if message is None:
            raise
        if _state["verbose"]:
            traceback.print_exc()
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
