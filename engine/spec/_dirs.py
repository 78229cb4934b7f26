"""Where a connector's specs come from: its package, overlaid by the operator's own directory.

An operator changes a mapping without editing the installed package: a spec file in
``$LMSYNC_MAPPINGS_DIR/<connector>/`` (default ``$LMSYNC_HOME/mappings/<connector>/``) replaces
the packaged spec of the same *model* (whatever its file name); a model the package has no spec
for is added. ``lmsync mappings export`` copies the packaged specs there as a starting point.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.spec._jmes import FunctionSet
from engine.spec._loader import SpecSet, load_spec_file

__all__ = ["SpecFile", "user_mappings_dir", "spec_files", "load_connector_specs"]

PACKAGE, USER = "package", "user"


@dataclass(frozen=True)
class SpecFile:
    """One spec file of a connector and where it comes from (``package`` or ``user``)."""

    path: Any  # a Path, or an importlib Traversable inside the installed package
    origin: str


def user_mappings_dir(connector: str | None = None) -> Path:
    """``$LMSYNC_MAPPINGS_DIR`` (default ``<data dir>/mappings``), or its *connector* subdirectory.

    Not created here: a missing directory simply holds no overrides."""
    raw = os.environ.get("LMSYNC_MAPPINGS_DIR")
    if raw:
        root = Path(raw).expanduser()
    else:
        from engine.config import data_dir  # the data dir is created on demand; only then

        root = data_dir() / "mappings"
    return root / connector if connector else root


def _yaml_entries(directory: Any) -> list[Any]:
    if directory is None or not directory.is_dir():
        return []
    return sorted((e for e in directory.iterdir() if e.name.endswith((".yaml", ".yml"))), key=lambda e: e.name)


def spec_files(connector: str, packaged: Any) -> list[SpecFile]:
    """The packaged spec files of *connector*, then the operator's (unloaded)."""
    return ([SpecFile(e, PACKAGE) for e in _yaml_entries(packaged)]
            + [SpecFile(e, USER) for e in _yaml_entries(user_mappings_dir(connector))])


def load_connector_specs(connector: str, packaged: Any, functions: FunctionSet, *,
                         known_calls: Collection[str] | None = None) -> tuple[SpecSet, dict[str, SpecFile]]:
    """The connector's ``SpecSet`` with the operator's overrides applied, and the file of each
    spec (keyed by ``Spec.file``). A user spec replaces the packaged spec of the same model and
    ``when``; two specs for one model and condition from the same origin are an error naming both."""
    specset = SpecSet(connector, {})
    files: dict[str, SpecFile] = {}
    for file in spec_files(connector, packaged):
        spec = load_spec_file(file.path, functions, known_calls=known_calls)
        condition = spec.when.source if spec.when is not None else None
        earlier = next((s for s in specset.all_specs() if s.model == spec.model
                        and (s.when.source if s.when is not None else None) == condition), None)
        specset.add(spec, replace=earlier is not None and files[earlier.file].origin != file.origin)
        files[spec.file] = file
    specset.check()
    return specset, {f: file for f, file in files.items() if any(s.file == f for s in specset.all_specs())}
