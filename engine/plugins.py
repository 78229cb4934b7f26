"""The plugin manager: connectors from entry points, the engine's defaults as plugins.

``get_plugin_manager()`` registers the built-in plugins (``engine.builtins``, webhook delivery
``engine.webhooks._plugin``) first, then every
module in the ``lmsync`` entry-point group, then validates: an implementation whose name is not
a hook of ``engine.hookspecs`` (a misspelling) fails start-up with ``PluginValidationError``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from types import ModuleType

import pluggy

from engine import builtins, hookspecs
from engine.connector import ConnectorInfo
from engine.errors import LmsyncError
from engine.webhooks import _plugin as webhook_plugin

__all__ = ["get_plugin_manager", "make_plugin_manager", "connectors"]


def make_plugin_manager(extra: Iterable[ModuleType | object] = (), *, entry_points: bool = True) -> pluggy.PluginManager:
    """Build and validate a plugin manager. *extra* plugins are registered after entry points
    (tests use this to add fakes)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(builtins, name="lmsync-builtins")
    pm.register(webhook_plugin, name="lmsync-webhooks")
    if entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built once)."""
    return make_plugin_manager()


def connectors(pm: pluggy.PluginManager) -> dict[str, ConnectorInfo]:
    """All connectors the registered plugins provide, by name."""
    found: dict[str, ConnectorInfo] = {}
    for infos in pm.hook.lmsync_connectors():
        for info in infos or ():
            if info.name in found:
                raise LmsyncError(f"connector {info.name!r} is provided by two plugins")
            found[info.name] = info
    return found
