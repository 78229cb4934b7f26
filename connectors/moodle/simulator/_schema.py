"""functions.json → compiled parameter validators and return cleaners (once per function).

`load_registry()` reads the shipped ``functions.json`` and builds, for every function, a
`FunctionSpec` whose `validate(params)` mirrors ``external_api::validate_parameters`` and
whose `clean(result)` mirrors ``external_api::clean_returnvalue``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ._errors import InvalidParameter, InvalidResponse
from ._params import php_str, scalar_validator, param_type_name

__all__ = ["Node", "FunctionSpec", "load_registry", "FUNCTIONS_JSON"]

FUNCTIONS_JSON = Path(__file__).with_name("functions.json")
_MISSING = object()

# Site defaults standing in for "<moodlecourse/...>" placeholders in functions.json.
_PLACEHOLDERS = {
    "<moodlecourse/format": "topics", "<moodlecourse/showgrades>": 1,
    "<moodlecourse/newsitems>": 5, "<moodlecourse/maxbytes>": 0,
    "<moodlecourse/showreports>": 0, "<moodlecourse/groupmode>": 0,
    "<moodlecourse/groupmodeforce>": 0,
}


@dataclass
class Node:
    """One external_value / external_single_structure / external_multiple_structure."""

    kind: str
    req: str = "required"
    param: str = ""
    default: Any = _MISSING
    nullable: bool = True
    keys: dict[str, "Node"] = field(default_factory=dict)
    items: "Node | None" = None


@dataclass
class FunctionSpec:
    """A compiled web-service function description."""

    name: str
    raw: dict
    params: Node
    returns: Node | None
    validate: Callable[[Any], Any]
    clean: Callable[[Any], Any]


def _placeholder(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("<"):
        for prefix, real in _PLACEHOLDERS.items():
            if value.startswith(prefix):
                return real
    return value


def compile_node(raw: dict, shared: dict) -> Node:
    """Turn a functions.json node (with `$ref` resolved) into a `Node` tree."""
    if "$ref" in raw:
        base = dict(shared[raw["$ref"].rsplit("/", 1)[-1]])
        base.update({k: v for k, v in raw.items() if k not in ("$ref", "note", "desc")})
        raw = base
    node = Node(kind=raw["kind"], req=raw.get("req", "required"),
                param=raw.get("param", ""), nullable=raw.get("nullable", True))
    if "default" in raw:
        node.default = _placeholder(raw["default"])
    if node.kind == "single":
        node.keys = {k: compile_node(v, shared) for k, v in raw.get("keys", {}).items()}
    elif node.kind == "multiple":
        node.items = compile_node(raw["items"], shared)
    return node


# ------------------------------------------------------------------------ validation

def _nest(key: str, exc: InvalidParameter) -> InvalidParameter:
    return InvalidParameter(f"{key} => Invalid parameter value detected: {exc.debuginfo}")


def _bad_array(value: Any) -> InvalidParameter:
    return InvalidParameter(f"Only arrays accepted. The bad value is: '{php_str(value)}'")


def build_validator(node: Node) -> Callable[[Any], Any]:
    """validate_parameters() for `node`: raw decoded request value → cleaned value."""
    if node.kind == "value":
        check = scalar_validator(node.param)

        def value(v: Any) -> Any:
            if isinstance(v, (dict, list)):
                raise InvalidParameter("Scalar type expected, array or object received.")
            if v is None:
                if node.nullable:
                    return None
                raise InvalidParameter(f'Invalid external api parameter: the value is "", '
                                       f'the server was expecting "{param_type_name(node.param)}" type')
            return check(v)
        return value
    if node.kind == "multiple":
        item = build_validator(node.items)

        def multiple(v: Any) -> list:
            if isinstance(v, dict):
                return [item(x) for x in v.values()]
            if isinstance(v, list):
                return [item(x) for x in v]
            raise _bad_array(v)
        return multiple
    spec = [(k, sub.req, build_validator(sub), sub.default) for k, sub in node.keys.items()]

    def single(v: Any) -> dict:
        if isinstance(v, list):
            v = dict(enumerate(v))
        elif not isinstance(v, dict):
            raise _bad_array(v)
        out: dict = {}
        for key, req, fn, default in spec:
            if key in v:
                try:
                    out[key] = fn(v[key])
                except InvalidParameter as exc:
                    raise _nest(key, exc) from None
            elif req == "required":
                raise InvalidParameter(f"Missing required key in single structure: {key}")
            elif req == "default":
                try:
                    out[key] = fn(default)
                except InvalidParameter as exc:
                    raise _nest(key, exc) from None
        extra = [php_str(k) for k in v if k not in node.keys]
        if extra:
            raise InvalidParameter(f"Unexpected keys ({', '.join(extra)}) detected in parameter array.")
        return out
    return single


# -------------------------------------------------------------------------- cleaning

def _value_cleaner(node: Node) -> Callable[[Any], Any]:
    check = scalar_validator(node.param)
    nullable = node.nullable
    tname = param_type_name(node.param)
    is_int = node.param == "PARAM_INT"
    is_bool = node.param == "PARAM_BOOL"
    fast_raw = node.param in ("PARAM_RAW", "PARAM_URL", "PARAM_LOCALURL")
    fast_notags = node.param in ("PARAM_TEXT", "PARAM_NOTAGS")

    def clean(v: Any) -> Any:
        tv = type(v)
        if tv is str:
            if fast_raw or (fast_notags and "<" not in v):
                return v
        elif tv is int:
            if is_int:
                return v
        elif tv is bool:
            if is_bool:
                return v
        elif v is None:
            if nullable:
                return None
            raise InvalidResponse(f'Invalid external api response: the value is "", '
                                  f'the server was expecting "{tname}" type')
        elif tv is dict or tv is list:
            raise InvalidResponse("Scalar type expected, array or object received.")
        try:
            return check(v)
        except InvalidParameter as exc:
            raise InvalidResponse(exc.debuginfo.replace("external api parameter",
                                                        "external api response")) from None
    return clean


class _Never:
    """A type no value has (disables the inline fast path)."""


def _fast_type(node: Node) -> tuple[type, bool]:
    """(type accepted unchanged, needs a no-tags check) for inline cleaning of scalars."""
    if node.kind != "value":
        return _Never, False
    if node.param == "PARAM_INT":
        return int, False
    if node.param == "PARAM_BOOL":
        return bool, False
    if node.param == "PARAM_FLOAT":
        return float, False
    if node.param in ("PARAM_RAW", "PARAM_URL", "PARAM_LOCALURL"):
        return str, False
    if node.param in ("PARAM_TEXT", "PARAM_NOTAGS"):
        return str, True
    return _Never, False


def build_cleaner(node: Node | None) -> Callable[[Any], Any]:
    """clean_returnvalue() for `node`: function result → JSON-ready value."""
    if node is None:
        return lambda v: None
    if node.kind == "value":
        return _value_cleaner(node)
    if node.kind == "multiple":
        item = build_cleaner(node.items)

        def multiple(v: Any) -> list:
            if isinstance(v, list):
                return [item(x) for x in v]
            if isinstance(v, dict):
                return [item(x) for x in v.values()]
            raise InvalidResponse(f"Only arrays accepted. The bad value is: '{php_str(v)}'")
        return multiple
    spec = []
    for key, sub in node.keys.items():
        default = _MISSING
        if sub.kind == "value" and sub.req == "default":
            default = _value_cleaner(sub)(sub.default)
        fast_t, notags = _fast_type(sub)
        spec.append((key, sub.req == "required", build_cleaner(sub), default, fast_t, notags))

    def single(v: Any) -> Any:
        if not isinstance(v, dict):
            if v == []:
                v = {}
            else:
                raise InvalidResponse(f"Only arrays/objects accepted. The bad value is: '{php_str(v)}'")
        out = {}
        for key, required, fn, default, fast_t, notags in spec:
            if key in v:
                x = v[key]
                if type(x) is fast_t and not (notags and "<" in x):
                    out[key] = x
                    continue
                try:
                    out[key] = fn(x)
                except InvalidResponse as exc:
                    raise InvalidResponse(
                        f"{key} => Invalid response value detected: {exc.debuginfo}") from None
            elif required:
                raise InvalidResponse(
                    f"Error in response - Missing following required key in a single structure: {key}")
            elif default is not _MISSING:
                out[key] = default
        return out if out else []
    return single


@cache
def load_registry(path: str = str(FUNCTIONS_JSON)) -> dict[str, FunctionSpec]:
    """Compile every function of functions.json (cached per path)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    shared = data["shared_structures"]
    registry = {}
    for name, raw in data["functions"].items():
        params = Node(kind="single", keys={k: compile_node(v, shared) for k, v in raw["params"].items()})
        returns = compile_node(raw["returns"], shared) if raw.get("returns") else None
        registry[name] = FunctionSpec(name, raw, params, returns,
                                      build_validator(params), build_cleaner(returns))
    return registry
