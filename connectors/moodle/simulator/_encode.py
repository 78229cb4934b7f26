"""Response bodies: PHP `json_encode` style JSON, the REST server's XML, error bodies."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from ._errors import MoodleError
from ._schema import Node

__all__ = ["php_json", "xml_response", "json_error", "xml_error", "JSON_HEADERS", "XML_HEADERS"]

_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)

_COMMON = [
    (b"cache-control", b"private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    (b"expires", b"Thu, 01 Jan 1970 00:00:00 GMT"),
    (b"pragma", b"no-cache"),
    (b"accept-ranges", b"none"),
    (b"access-control-allow-origin", b"*"),
]
JSON_HEADERS = [(b"Content-type", b"application/json"), *_COMMON]
XML_HEADERS = [(b"content-type", b"application/xml; charset=utf-8"),
               (b"content-disposition", b'inline; filename="response.xml"'), *_COMMON]


def php_json(value: Any) -> bytes:
    """`json_encode($value)` with default flags: `\\/` escaped, non-ASCII as `\\uXXXX`."""
    return _encoder.encode(value).replace("/", "\\/").encode("ascii")


def _xml_text(value: Any) -> str:
    return escape(str(value), {'"': "&quot;"})


def _xmlize(value: Any, node: Node | None, out: list[str]) -> None:
    if node is None:
        return
    if node.kind == "value":
        if value is None:
            out.append('<VALUE null="null"/>\n')
        else:
            if value is True or value is False:
                value = int(value)
            out.append(f"<VALUE>{_xml_text(value)}</VALUE>\n")
    elif node.kind == "multiple":
        out.append("<MULTIPLE>\n")
        for item in (value or []):
            _xmlize(item, node.items, out)
        out.append("</MULTIPLE>\n")
    else:
        src = value if isinstance(value, dict) else {}
        out.append("<SINGLE>\n")
        for key, sub in node.keys.items():
            out.append(f'<KEY name="{key}">')
            _xmlize(src.get(key), sub, out)
            out.append("</KEY>\n")
        out.append("</SINGLE>\n")


def xml_response(value: Any, node: Node | None) -> bytes:
    """The REST server's XML rendering of a cleaned result."""
    out = ['<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n']
    _xmlize(value, node, out)
    out.append("</RESPONSE>\n")
    return "".join(out).encode("utf-8")


def _error_parts(exc: MoodleError, debug: bool, style: str, debug_in_message: bool):
    message = exc.message_for(debug)
    if debug and debug_in_message and exc.debuginfo:
        message = f"{message} ({exc.debuginfo})"
    return exc.class_name(style), exc.code_for(debug), message


def json_error(exc: MoodleError, *, debug: bool, style: str, debug_in_message: bool = False) -> bytes:
    """JSON error object: exception, errorcode (when set), message, debuginfo (debug only)."""
    cls, code, message = _error_parts(exc, debug, style, debug_in_message)
    body: dict[str, Any] = {"exception": cls}
    if code is not None:
        body["errorcode"] = code
    body["message"] = message
    if debug and exc.debuginfo is not None:
        body["debuginfo"] = exc.debuginfo
    return php_json(body)


def xml_error(exc: MoodleError, *, debug: bool, style: str, debug_in_message: bool = False) -> bytes:
    """XML `<EXCEPTION>` error body."""
    cls, code, message = _error_parts(exc, debug, style, debug_in_message)
    parts = ['<?xml version="1.0" encoding="UTF-8" ?>\n', f'<EXCEPTION class="{_xml_text(cls)}">\n',
             f"<ERRORCODE>{_xml_text(code or '')}</ERRORCODE>\n",
             f"<MESSAGE>{_xml_text(message)}</MESSAGE>\n"]
    if debug and exc.debuginfo is not None:
        parts.append(f"<DEBUGINFO>{_xml_text(exc.debuginfo)}</DEBUGINFO>\n")
    parts.append("</EXCEPTION>\n")
    return "".join(parts).encode("utf-8")
