"""``lmsync connect create-link|relink``: Connect links from the command line (``engine.connect``)."""

from __future__ import annotations

import typer
from rich.console import Console

from engine.cli._common import JsonOpt, StoreOpt, emit, err, fail, get_store, iso
from engine.connect import ConnectInputError, EndUser, IssuedLink, create_link, create_relink
from engine.integrations import IntegrationMissing

__all__ = ["connect"]

connect = typer.Typer(help="Connect links: let an end user connect their LMS (the same as POST /v1/connect/create-link).",
                      no_args_is_help=True)


def _print(issued: IssuedLink, as_json: bool) -> None:
    view = {"link": issued.url, "link_id": issued.link.id, "kind": issued.link.kind, "link_type": issued.link.link_type,
            "expires_at": iso(issued.link.expires_at)}

    def human(c: Console) -> None:  # only the link on stdout, so `$(lmsync connect create-link …)` is the link
        c.print(issued.url, highlight=False, soft_wrap=True)
        err.print(f"{issued.link.link_type} link, valid once, until {iso(issued.link.expires_at)}"
                " (shown once: only its hash is stored)", highlight=False, style="dim", soft_wrap=True)

    emit(view, human, as_json)


@connect.command("create-link")
def create_link_cmd(
    email: str = typer.Option(..., "--email", help="The end user's email address."),
    org: str = typer.Option(..., "--org", help="The end user's organization name."),
    origin_id: str = typer.Option(None, "--origin-id", help="The organization's id in your own system."),
    tool: str = typer.Option(None, "--tool", help="Pre-select the connector (see `lmsync integrations connectors`)."),
    language: str = typer.Option(None, "--language", help="en, de, fr, it or es."),
    magic: bool = typer.Option(False, "--magic", help="A MAGIC_LINK valid 30 days (default: EMBEDDED, 1 hour)."),
    scope_config: str = typer.Option(None, "--scope-config", help="Bind the new integration to this scope config "
                                                                  "(id or name); its OPTIONAL items can be declined."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print a link for an end user to connect their LMS ({LMSYNC_PUBLIC_URL}/connect/<token>)."""
    try:
        issued = create_link(get_store(store_url), EndUser(email, org, origin_id), tool=tool, language=language,
                             link_type="MAGIC_LINK" if magic else "EMBEDDED", scope_config_id=scope_config)
    except ConnectInputError as exc:
        option = {"end_user_email": "--email", "end_user_organization_name": "--org",
                  "integration_tool": "--tool", "scope_config_id": "--scope-config"}.get(exc.field, f"--{exc.field.replace('_', '-')}")
        raise fail(f"{option}: {str(exc).split(': ', 1)[1]}", 2) from None
    _print(issued, as_json)


@connect.command("relink")
def relink_cmd(
    integration_id: str = typer.Argument(..., help="The integration whose credentials the end user replaces."),
    magic: bool = typer.Option(False, "--magic", help="A MAGIC_LINK valid 30 days (default: EMBEDDED, 1 hour)."),
    store_url: str = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print a link that replaces an integration's site URL and credentials (same id, same records)."""
    try:
        issued = create_relink(get_store(store_url), integration_id, link_type="MAGIC_LINK" if magic else "EMBEDDED")
    except IntegrationMissing:
        raise fail(f"no integration {integration_id!r} (see `lmsync integrations list`)", 2) from None
    _print(issued, as_json)
