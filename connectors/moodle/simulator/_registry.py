"""The function table: name → implementation, built from the per-area modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._access import Call
from ._errors import MoodleError
from ._fn_competency import FUNCTIONS as _COMPETENCY
from ._fn_courses import FUNCTIONS as _COURSES
from ._fn_progress import FUNCTIONS as _PROGRESS
from ._fn_reportbuilder import FUNCTIONS as _REPORTBUILDER
from ._fn_users import FUNCTIONS as _USERS
from ._schema import load_registry
from ._site import MoodleSite
from ._tokens import install_tokens

__all__ = ["IMPLEMENTATIONS", "implementation", "all_function_names", "install_default_tokens"]

Impl = Callable[[Call, dict], Any]
IMPLEMENTATIONS: dict[str, Impl] = {**_USERS, **_COURSES, **_PROGRESS, **_COMPETENCY, **_REPORTBUILDER}


def _not_implemented(call: Call, params: dict) -> Any:
    raise MoodleError("simulatornotimplemented",
                      f"The Moodle simulator does not implement {call.function}",
                      kind="moodle_exception")


def implementation(name: str) -> Impl:
    """The implementation of a registered function (a clear simulator error if none)."""
    return IMPLEMENTATIONS.get(name, _not_implemented)


def all_function_names() -> frozenset[str]:
    """Every function name in functions.json."""
    return frozenset(load_registry())


def install_default_tokens(site: MoodleSite) -> None:
    """Install the preset tokens (ADMIN, REDUCED, RESTRICTED, EXPIRED, SUSPENDED)."""
    install_tokens(site, all_function_names())
