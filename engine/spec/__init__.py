"""The mapping language: load, validate and compile YAML specs.

Public entry points: ``load_spec_text``, ``load_spec_file``, ``load_specs`` (a connector's
directory as a ``SpecSet``), ``load_connector_specs`` (a connector's packaged specs overlaid by
the operator's ``$LMSYNC_MAPPINGS_DIR``), ``function_set`` (the JMESPath functions of a plugin
manager).
"""

from __future__ import annotations

from typing import Any

import pluggy

from engine.errors import LmsyncError
from engine.spec._jmes import Expr, FunctionSet, caret, compile_expr
from engine.spec._loader import SpecSet, load_spec_file, load_spec_text, load_specs, spec_schema
from engine.spec._model import NEXT_URL_PARAM, FanOut, FieldMap, Group, Join, Lookup, Pagination, ParamTemplate, Prepare, Spec, Stream
from engine.spec._dirs import SpecFile, load_connector_specs, user_mappings_dir

__all__ = [
    "NEXT_URL_PARAM",
    "Expr",
    "FanOut",
    "FieldMap",
    "FunctionSet",
    "Group",
    "Join",
    "Lookup",
    "Pagination",
    "ParamTemplate",
    "Prepare",
    "Spec",
    "SpecFile",
    "SpecSet",
    "Stream",
    "caret",
    "compile_expr",
    "function_set",
    "load_spec_file",
    "load_connector_specs",
    "load_spec_text",
    "load_specs",
    "spec_schema",
    "user_mappings_dir",
]


def function_set(pm: pluggy.PluginManager) -> FunctionSet:
    """Merge every plugin's ``lmsync_jmespath_functions``; a name defined twice is an error."""
    merged: dict[str, Any] = {}
    for result in pm.hook.lmsync_jmespath_functions():
        for name, fn in (result or {}).items():
            if name in merged and merged[name] is not fn:
                raise LmsyncError(f"JMESPath function {name}() is defined by two plugins")
            merged[name] = fn
    return FunctionSet(merged)
