"""Which integration a command works on: the one named, the only one, or the embedded demo.

The demo integration (setting ``demo: true``) keeps one loopback base URL for good: its port
is chosen once, when the integration is made, and every later demo start binds that port
again, so URLs inside records (``remote_url`` …) do not change between restarts and a re-sync
of the unchanged demo site writes nothing. When that site is already being served (by a
``lmsync demo`` in another process), commands use it as it is and never repoint it.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from engine.cli._admin import new_integration
from engine.cli._common import fail
from engine.connector import DemoSite
from engine.plugins import get_plugin_manager
from engine.store.base import Integration, Store

__all__ = ["demo_integration", "chosen_integration", "site_reachable"]


def site_reachable(base_url: str, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at *base_url*'s host and port."""
    parts = urlsplit(base_url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _demo_of(store: Store, connector: str | None) -> Integration | None:
    return next((i for i in store.list_integrations()
                 if i.settings.get("demo") and connector in (None, i.connector)), None)


def _start_site(connector: str | None, port: int) -> contextlib.AbstractContextManager[DemoSite]:
    cm = get_plugin_manager().hook.lmsync_demo_site(connector=connector, port=port)
    if cm is None:
        raise fail("no installed connector offers a demo site; add an integration with `lmsync integrations add`")
    return cm


@contextlib.contextmanager
def _running_site(connector: str | None, port: int) -> Iterator[DemoSite]:
    """The demo site on *port*, else (taken by something else) on a free port."""
    with contextlib.ExitStack() as stack:
        try:
            site = stack.enter_context(_start_site(connector, port))
        except OSError:
            if not port:
                raise
            site = stack.enter_context(_start_site(connector, 0))
        yield site


@contextlib.contextmanager
def demo_integration(store: Store, connector: str | None = None) -> Iterator[Integration]:
    """Yield the demo integration with its site running: the site another process already
    serves at the integration's URL, else a local stand-in started here on the stored port.

    The integration is made on first use; its URL changes only if its port was taken."""
    found = _demo_of(store, connector)
    if found is not None and site_reachable(found.base_url):
        yield found
        return
    port = (urlsplit(found.base_url).port or 0) if found is not None else 0
    # an existing demo restarts its own connector's site (never another connector's)
    with _running_site(found.connector if found is not None else connector, port) as site:
        if found is None:
            found = new_integration(site.connector, site.base_url, dict(site.credentials), {"demo": True})
            store.add_integration(found)
        elif (found.base_url, found.credentials) != (site.base_url, dict(site.credentials)):
            found.base_url, found.credentials = site.base_url, dict(site.credentials)
            store.update_integration(found)
        yield found


@contextlib.contextmanager
def chosen_integration(store: Store, integration_id: str | None) -> Iterator[Integration]:
    """The integration named, else the only non-demo one, else the embedded demo site's."""
    if integration_id:
        found = store.get_integration(integration_id)
        if found is None:
            raise fail(f"no integration {integration_id!r}", 2)
        yield found
        return
    existing = [i for i in store.list_integrations() if not i.settings.get("demo")]
    if len(existing) > 1:
        names = ", ".join(f"{i.id} ({i.connector})" for i in existing)
        raise fail(f"several integrations exist ({names}); choose one with --integration", 2)
    if existing:
        yield existing[0]
        return
    with demo_integration(store) as demo:
        yield demo
