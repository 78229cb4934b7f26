"""Which integration a command works on: the one named, the only one, or the embedded demo."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from engine.cli._admin import new_integration
from engine.cli._common import fail
from engine.connector import DemoSite
from engine.plugins import get_plugin_manager
from engine.store.base import Integration, Store

__all__ = ["demo_integration", "chosen_integration"]


@contextlib.contextmanager
def demo_integration(store: Store, connector: str | None = None) -> Iterator[Integration]:
    """Start the connector's local stand-in (simulator) and yield an integration pointing at it.

    The demo integration is reused across runs (found by its ``demo`` setting); its URL and
    credentials are refreshed because the stand-in listens on a new port each time."""
    cm = get_plugin_manager().hook.lmsync_demo_site(connector=connector)
    if cm is None:
        raise fail("no installed connector offers a demo site; add an integration with `lmsync integrations add`")
    with cm as site:
        site: DemoSite
        found = next((i for i in store.list_integrations() if i.connector == site.connector and i.settings.get("demo")), None)
        if found is None:
            found = new_integration(site.connector, site.base_url, dict(site.credentials), {"demo": True})
            store.add_integration(found)
        else:
            found.base_url, found.credentials = site.base_url, dict(site.credentials)
            store.update_integration(found)
        yield found


@contextlib.contextmanager
def chosen_integration(store: Store, integration_id: str | None) -> Iterator[Integration]:
    """The integration named, else the only one, else the embedded demo site's."""
    if integration_id:
        found = store.get_integration(integration_id)
        if found is None:
            raise fail(f"no integration {integration_id!r}", 2)
        yield found
        return
    existing = [i for i in store.list_integrations() if not i.settings.get("demo")]
    if len(existing) > 1:
        raise fail("several integrations exist; choose one with --integration", 2)
    if existing:
        yield existing[0]
        return
    with demo_integration(store) as demo:
        yield demo
