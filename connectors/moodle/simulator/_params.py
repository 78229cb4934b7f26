"""PHP request decoding (bracket syntax) and `validate_param()` for scalar PARAM types.

`decode_form()` reproduces PHP's `parse_str`: insertion order is kept, repeated keys
overwrite in place, ``a[]`` appends after the largest integer index.
`scalar_validator(param)` returns a function that takes the raw request value and returns
the cleaned Python value or raises `InvalidParameter` exactly where Moodle's
``(string)$param !== (string)clean_param($param)`` test rejects it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from ._errors import InvalidParameter

__all__ = ["decode_form", "scalar_validator", "param_type_name", "php_str"]

_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"[+-]?[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?\Z")
_PLUGIN_RE = re.compile(r"[a-z](?:[a-z0-9_](?!__))*[a-z0-9]+\Z")
_COMPONENT_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z][a-z0-9_]*)?[a-z0-9]+\Z")
_TAG_RE = re.compile(r"<(?=[A-Za-z/!?])[^>]*(?:>|\Z)")
_STRIP = {
    "PARAM_ALPHA": re.compile(r"[^a-zA-Z]"),
    "PARAM_ALPHAEXT": re.compile(r"[^a-zA-Z_-]"),
    "PARAM_ALPHANUM": re.compile(r"[^A-Za-z0-9]"),
    "PARAM_ALPHANUMEXT": re.compile(r"[^A-Za-z0-9_-]"),
    "PARAM_SAFEDIR": re.compile(r"[^a-zA-Z0-9_-]"),
    "PARAM_SAFEPATH": re.compile(r"[^a-zA-Z0-9/_-]"),
    "PARAM_SEQUENCE": re.compile(r"[^0-9,]"),
    "PARAM_USERNAME": re.compile(r"[^-.@_a-z0-9]"),
}
_CLEANHTML_BAD = re.compile(
    r"&(?!(?:amp|lt|gt|quot);)|<(?![A-Za-z/!])|<\s*(?:script|style|iframe|object|embed)\b"
    r"|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
_INT64 = 2 ** 63


def php_str(value: Any) -> str:
    """PHP string conversion used in error texts (true → "1", false/None → "")."""
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def param_type_name(param: str) -> str:
    """`PARAM_INT` → ``int`` (the PHP constant value shown in debuginfo)."""
    return param[6:].lower() if param.startswith("PARAM_") else param


def _set_path(root: dict, name: str, keys: list[str], value: str) -> None:
    node = root
    path = [name, *keys]
    for i, key in enumerate(path):
        last = i == len(path) - 1
        if key == "":
            ints = [k for k in node if isinstance(k, int)]
            key = max(ints) + 1 if ints else 0
        elif _INT_RE.match(key) and not key.startswith("-"):
            key = int(key)
        if last:
            node[key] = value
        else:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child


def _split_name(raw: str) -> tuple[str, list[str]]:
    """`a[b][]` → ('a', ['b', '']); malformed brackets follow PHP's underscore rule."""
    pos = raw.find("[")
    base = raw if pos < 0 else raw[:pos]
    base = base.replace(" ", "_").replace(".", "_")
    if pos <= 0:
        return (raw.replace(" ", "_").replace(".", "_") if pos < 0 else raw), []
    keys: list[str] = []
    rest = raw[pos:]
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            if not keys:
                return base + "_" + rest[1:], []
            break
        keys.append(rest[1:end])
        rest = rest[end + 1:]
    return base, keys


def decode_form(body: str) -> dict:
    """Decode an ``application/x-www-form-urlencoded`` string like PHP's `parse_str`."""
    result: dict = {}
    if not body:
        return result
    for pair in body.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name)
        if not name:
            continue
        base, keys = _split_name(name)
        if not base:
            continue
        _set_path(result, base, keys, unquote_plus(value))
    return result


# ---------------------------------------------------------------------------- scalars

def _reject(value: Any, param: str) -> InvalidParameter:
    return InvalidParameter(
        f'Invalid external api parameter: the value is "{php_str(value)}", '
        f'the server was expecting "{param_type_name(param)}" type')


def _v_int(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> int:
        if type(value) is int:
            return value
        if type(value) is bool:
            return int(value)
        if isinstance(value, str) and _INT_RE.match(value) and value != "-0":
            number = int(value)
            if -_INT64 <= number < _INT64:
                return number
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _reject(value, param)
    return check


def _v_bool(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> bool:
        if value is True or value is False:
            return value
        if value in (0, 1, "0", "1") and type(value) in (int, str):
            return bool(int(value))
        raise _reject(value, param)
    return check


def _v_float(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> float:
        if type(value) in (int, float):
            return float(value)
        if isinstance(value, str) and value and _FLOAT_RE.match(value):
            try:
                return float(value)
            except ValueError:
                pass
        raise _reject(value, param)
    return check


def _v_strip(param: str, pattern: re.Pattern[str]) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        text = php_str(value)
        if pattern.search(text):
            raise _reject(value, param)
        return text
    return check


def _v_match(param: str, pattern: re.Pattern[str]) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        text = php_str(value)
        if text and not pattern.match(text):
            raise _reject(value, param)
        return text
    return check


def _v_notags(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        text = php_str(value)
        if "<" in text and _TAG_RE.search(text):
            raise _reject(value, param)
        return text
    return check


def _v_cleanhtml(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        text = php_str(value)
        if text != text.strip() or _CLEANHTML_BAD.search(text):
            raise _reject(value, param)
        return text
    return check


def _v_trimmed(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        text = php_str(value)
        if text != text.strip():
            raise _reject(value, param)
        return text
    return check


def _v_raw(param: str) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        return value if type(value) is str else php_str(value)
    return check


def _v_username(param: str) -> Callable[[Any], Any]:
    strip = _STRIP["PARAM_USERNAME"]

    def check(value: Any) -> str:
        text = php_str(value)
        if text != text.strip().lower() or strip.search(text):
            raise _reject(value, param)
        return text
    return check


def scalar_validator(param: str) -> Callable[[Any], Any]:
    """Validator for one PARAM type: raw value in, cleaned value out, else InvalidParameter."""
    if param == "PARAM_INT":
        return _v_int(param)
    if param == "PARAM_BOOL":
        return _v_bool(param)
    if param == "PARAM_FLOAT":
        return _v_float(param)
    if param in ("PARAM_PLUGIN", "PARAM_AREA", "PARAM_AUTH", "PARAM_THEME"):
        return _v_match(param, _PLUGIN_RE)
    if param == "PARAM_COMPONENT":
        return _v_match(param, _COMPONENT_RE)
    if param == "PARAM_USERNAME":
        return _v_username(param)
    if param in _STRIP:
        return _v_strip(param, _STRIP[param])
    if param in ("PARAM_TEXT", "PARAM_NOTAGS", "PARAM_FILE", "PARAM_MULTILANG"):
        return _v_notags(param)
    if param == "PARAM_CLEANHTML":
        return _v_cleanhtml(param)
    if param in ("PARAM_RAW_TRIMMED", "PARAM_EMAIL"):
        return _v_trimmed(param)
    return _v_raw(param)

