"""Reading and validating JSON request bodies (size limit, content type, contract schema)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ._contract import body_validator, contract
from ._errors import BodyTooLarge, InputInvalid, UnsupportedMediaType

__all__ = ["MAX_BODY_BYTES", "read_json_body"]

MAX_BODY_BYTES = 1024 * 1024


async def _read_limited(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit()):
        raise InputInvalid("The Content-Length header is invalid.")
    if length is not None and int(length) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes (1 MiB).")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"The request body exceeds the limit of {MAX_BODY_BYTES} bytes (1 MiB).")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_content_type(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"The request body must be application/json, got {media or 'no content type'!r}.")


def _refuse_unknown_fields(data: Any, component: str) -> None:
    """Top-level fields the contract's body schema does not name are refused (a typo such as
    ``user_ids`` must not be silently ignored)."""
    known = contract()["components"]["schemas"][component].get("properties")
    if not isinstance(data, dict) or known is None:
        return
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputInvalid(f"Unknown field {unknown[0]!r} in the request body. Allowed: {', '.join(known) or 'none'}.")


async def read_json_body(request: Request, component: str, *, required: bool) -> dict[str, Any]:
    """The request's JSON body validated against contract component *component*.

    An empty body is ``{}`` when the body is optional (then validated like any other).
    """
    raw = await _read_limited(request)
    if not raw.strip():
        if required:
            raise InputInvalid("A JSON request body is required.")
        data: Any = {}
    else:
        _check_content_type(request)
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InputInvalid("The request body is not valid JSON.") from None
        except RecursionError:
            raise InputInvalid("The request body is nested too deeply.") from None
    _refuse_unknown_fields(data, component)
    try:
        errors = sorted(body_validator(component).iter_errors(data), key=lambda e: list(e.absolute_path))
    except RecursionError:
        raise InputInvalid("The request body is nested too deeply.") from None
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "body"
        raise InputInvalid(f"Invalid request body at {where}: {errors[0].message}")
    return data
