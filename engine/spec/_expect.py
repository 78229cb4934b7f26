"""Answer shapes (``expect``): what a remote answer must look like before records are taken.

A stream's ``records`` must give a list and a look-up's ``result`` must give a value; an answer
of another shape (a missing key, ``null``, an object where a list belongs) is a ``BadResponse``
naming the call, the path and what came — never "zero records", which a sync would turn into
deletions. ``optional`` accepts a missing (null) value as "nothing"; ``keys`` lists top-level
keys the answer object must carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import BadResponse
from engine.spec._jmes import Expr

__all__ = ["Expect", "describe"]


def describe(value: Any) -> str:
    """A short description of what an answer is: ``null``, ``an object with keys: a, b``..."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        keys = sorted(map(str, value))
        shown = ", ".join(keys[:8]) + (f", … ({len(keys)} keys)" if len(keys) > 8 else "")
        return f"an object with keys: {shown}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})" if value else "an empty string"
    return type(value).__name__


@dataclass(frozen=True)
class Expect:
    """The expected shape of one call's answer, compiled from ``records``/``result`` + ``expect``.

    ``kind`` is ``"list"`` (a stream's records) or ``"value"`` (a look-up's result).
    """

    path: Expr
    kind: str = "list"
    optional: bool = False
    keys: tuple[str, ...] = ()

    def take(self, call: str | None, answer: Any) -> Any:
        """The records (or result) of *answer*, or ``BadResponse`` if its shape is wrong."""
        if self.keys:
            missing = [k for k in self.keys if not isinstance(answer, dict) or k not in answer]
            if missing:
                raise BadResponse(f"answer lacks key(s) {', '.join(missing)} (got {describe(answer)})", call=call)
        value = self.path(answer)
        if value is None and self.optional:
            return [] if self.kind == "list" else None
        what = "list" if self.kind == "list" else "value"
        if value is None or (self.kind == "list" and not isinstance(value, list)):
            if self.path.source == "@":
                raise BadResponse(f"the answer is not a {what} (got {describe(answer)})", call=call)
            present = value is not None or (isinstance(answer, dict) and self.path.source in answer)
            got = f"`{self.path.source}` is {describe(value)}" if present else f"got {describe(answer)}"
            raise BadResponse(f"answer has no {what} at `{self.path.source}` ({got})", call=call)
        if self.kind == "list":
            for rec in value:
                if not isinstance(rec, dict):
                    raise BadResponse(f"a record at `{self.path.source}` is {describe(rec)}, expected an object", call=call)
        return value
