"""The engine's own behaviour, registered as a plugin of the same hooks connectors use.

Generic JMESPath functions for mapping specs, and the fallbacks of every ``firstresult`` hook
(``trylast``): a plain-JSON response parser, credential redaction, and "not available" answers
for actions and passthrough that a connector does not implement.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import orjson
from jmespath.functions import signature

from engine.errors import ActionNotAvailable, BadResponse
from engine.hookspecs import hookimpl
from engine.secrets import redact_text, secret_pattern

__all__ = ["unix_to_iso", "html_to_text", "iso_from_datetime"]


def iso_from_datetime(dt: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (``2022-08-07T14:01:29.196Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def unix_to_iso(value: Any) -> str | None:
    """Unix seconds → ISO 8601 UTC; ``None``, ``0`` and ``""`` (the usual "never") → ``None``."""
    if value in (None, 0, "", "0") or isinstance(value, bool):
        return None
    return iso_from_datetime(datetime.fromtimestamp(float(value), UTC))


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_SPACES = re.compile(r"[ \t\r\f\v]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def html_to_text(value: str | None) -> str | None:
    """HTML → plain text: tags removed, entities decoded, block elements become line breaks,
    runs of white space folded. ``None`` stays ``None``; text without ``<`` is only unescaped."""
    if value is None:
        return None
    if "<" not in value:
        text = html.unescape(value)
    else:
        parser = _TextExtractor()
        parser.feed(value)
        parser.close()
        text = "".join(parser.parts)
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


class _Functions:
    """Holder of the decorated generic functions (collected into a dict below)."""

    @staticmethod
    @signature({"types": [], "variadic": True})
    def key(*parts: Any) -> str:
        """``key(a, b, ...)``: a composite key, each part stringified and joined with ``:``."""
        return ":".join(_str(p) for p in parts)

    @staticmethod
    @signature({"types": ["number", "string", "null", "boolean"]})
    def unix_to_iso(value: Any) -> str | None:
        """``unix_to_iso(n)``: unix seconds → ISO 8601 UTC, 0/null → null."""
        return unix_to_iso(value)

    @staticmethod
    @signature({"types": ["string", "null"]})
    def html_to_text(value: str | None) -> str | None:
        """``html_to_text(s)``: HTML → plain text."""
        return html_to_text(value)

    @staticmethod
    @signature({"types": []}, {"types": ["object"]}, {"types": []})
    def enum_map(value: Any, table: dict, default: Any) -> Any:
        """``enum_map(v, table, default)``: ``table[v]`` (keys compared as strings) or *default*."""
        return table.get(_str(value), default)

    @staticmethod
    @signature({"types": [], "variadic": True})
    def coalesce(*values: Any) -> Any:
        """``coalesce(a, b, ...)``: the first argument that is not null."""
        return next((v for v in values if v is not None), None)

    @staticmethod
    @signature({"types": []})
    def to_bool(value: Any) -> bool:
        """``to_bool(v)``: true for ``true``, ``1``, ``"1"``, ``"true"``; false otherwise."""
        return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("1", "true"))


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


GENERIC_FUNCTIONS = {
    name: getattr(_Functions, name)
    for name in ("key", "unix_to_iso", "html_to_text", "enum_map", "coalesce", "to_bool")
}


@hookimpl
def lmsync_jmespath_functions() -> dict[str, Any]:
    """The generic functions every spec may use."""
    return dict(GENERIC_FUNCTIONS)


@hookimpl(trylast=True)
def lmsync_parse_response(integration, call: str, response) -> Any:
    """Default: the body must be JSON."""
    try:
        return orjson.loads(response.content)
    except ValueError as exc:
        raise BadResponse(f"response is not JSON ({exc.msg} at byte {exc.pos})", call=call) from None


@hookimpl(trylast=True)
def lmsync_redact(integration, text: str) -> str:
    """Default: replace every credential value of the integration, in every encoding it may
    travel in (``engine.secrets.secret_variants``), with one cached pattern per set of credentials."""
    return redact_text(text, secret_pattern((integration.credentials or {}).values()))


@hookimpl(trylast=True)
def lmsync_run_action(integration, transport, action: str, payload: dict) -> dict:
    """Default: the connector does not implement *action*."""
    raise ActionNotAvailable(f"the {integration.connector} connector does not implement the {action} action")


@hookimpl(trylast=True)
def lmsync_passthrough(integration, transport, request: dict) -> dict:
    """Default: no passthrough."""
    raise ActionNotAvailable(f"the {integration.connector} connector does not offer passthrough")
