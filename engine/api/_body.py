"""Reading and validating JSON request bodies (size limit, content type, schema).

Contract endpoints are validated against the Kombo contract's components (``read_json_body``);
lmsync's own endpoints against a schema of ``schemas/`` (``read_lmsync_body``). Both refuse
unknown top-level fields with a 400 naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from jsonschema import Draft202012Validator

from schemas._loader import load_schema, validator_for

from ._contract import body_validator, contract
from ._errors import BodyTooLarge, InputInvalid, UnsupportedMediaType

__all__ = ["MAX_BODY_BYTES", "read_json_body", "read_lmsync_body"]

MAX_BODY_BYTES = 1024 * 1024


# a JSON string (its closing quote optional: the prefix may end inside one) or a structural character
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[{}\[\]:,]')
_TOO_LARGE = f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes (1 MiB)."


def items_within(prefix: bytes, field: str, limit: int = MAX_BODY_BYTES) -> int | None:
    """How many leading elements of the top-level array *field* of a JSON object end within
    *limit* bytes of *prefix* with room left to close the array and the object (``]}``): the
    number of items a request of at most *limit* bytes can carry. ``None`` if *prefix* does not
    start such an array."""
    key = b'"' + field.encode() + b'"'
    depth, in_items, pending_key, after_colon, fitted = 0, False, False, False, 0
    for token in _TOKENS.finditer(prefix):
        text = token.group()
        if text in (b"{", b"["):
            if depth == 1 and text == b"[" and pending_key and after_colon:
                in_items = True
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
            if in_items and depth == 2 and token.end() + 2 <= limit:
                fitted += 1
            if in_items and depth == 1:
                return fitted
        elif depth == 1 and text.startswith(b'"'):
            pending_key, after_colon = text == key, False
        elif depth == 1 and text == b":":
            after_colon = True
        elif depth == 1 and text == b",":
            pending_key = after_colon = False
    return fitted if in_items else None


def _too_large(prefix: bytes, count_items: str | None, length: int | None) -> BodyTooLarge:
    fitted = items_within(prefix, count_items) if count_items else None
    if fitted is None:
        return BodyTooLarge(_TOO_LARGE)
    size = f" ({length:,} bytes)" if length is not None else ""
    return BodyTooLarge(f"The request body{size} exceeds the limit of {MAX_BODY_BYTES} bytes (1 MiB): "
                        f"the first {fitted:,} {count_items} fit; send at most {fitted:,} {count_items} per request.")


async def _read_limited(request: Request, count_items: str | None = None) -> bytes:
    """The body, at most ``MAX_BODY_BYTES``; beyond, ``BodyTooLarge`` (with *count_items*, the
    name of the body's item array, it says how many leading items would have fitted)."""
    length = request.headers.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit()):
        raise InputInvalid("The Content-Length header is invalid.")
    declared = int(length) if length is not None else None
    if declared is not None and declared > MAX_BODY_BYTES and count_items is None:
        raise BodyTooLarge(_TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(b"".join(chunks)[:MAX_BODY_BYTES + 1], count_items, declared)
    return b"".join(chunks)


def _check_content_type(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"The request body must be application/json, got {media or 'no content type'!r}.")


def _refuse_unknown_fields(data: Any, known: dict[str, Any] | None) -> None:
    """Top-level fields the body schema does not name (*known*: its ``properties``) are refused
    (a typo such as ``user_ids`` must not be silently ignored)."""
    if not isinstance(data, dict) or known is None:
        return
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputInvalid(f"Unknown field {unknown[0]!r} in the request body. Allowed: {', '.join(known) or 'none'}.")


async def _parse(request: Request, required: bool, count_items: str | None = None) -> Any:
    raw = await _read_limited(request, count_items)
    if not raw.strip():
        if required:
            raise InputInvalid("A JSON request body is required.")
        if raw:  # whitespace is not JSON: a body that is there must parse (no body at all is fine)
            raise InputInvalid("The request body is not valid JSON (only whitespace); send {} or no body.")
        return {}
    _check_content_type(request)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputInvalid("The request body is not valid JSON.") from None
    except RecursionError:
        raise InputInvalid("The request body is nested too deeply.") from None


def _validate(data: Any, known: dict[str, Any] | None, validator: Draft202012Validator) -> dict[str, Any]:
    _refuse_unknown_fields(data, known)
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    except RecursionError:
        raise InputInvalid("The request body is nested too deeply.") from None
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "body"
        raise InputInvalid(f"Invalid request body at {where}: {errors[0].message}")
    return data


async def read_json_body(request: Request, component: str, *, required: bool,
                         count_items: str | None = None) -> dict[str, Any]:
    """The request's JSON body validated against contract component *component*.

    An empty body is ``{}`` when the body is optional (then validated like any other).
    *count_items* names the body's item array (bulk endpoints): a body over the limit is
    answered with how many of its leading items would fit.
    """
    data = await _parse(request, required, count_items)
    known = contract()["components"]["schemas"][component].get("properties")
    return _validate(data, known, body_validator(component))


async def read_lmsync_body(request: Request, schema_file: str, *, required: bool) -> dict[str, Any]:
    """The request's JSON body validated against ``schemas/<schema_file>`` (an lmsync endpoint
    the contract does not have); errors as ``read_json_body``'s."""
    data = await _parse(request, required)
    schema = load_schema(schema_file)
    return _validate(data, schema.get("properties"), validator_for(schema["$id"]))
