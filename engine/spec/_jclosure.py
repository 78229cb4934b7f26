"""JMESPath ASTs compiled to nested Python closures (evaluated without the tree interpreter).

Each ``_c_<node type>`` mirrors ``jmespath.visitor.TreeInterpreter.visit_<node type>`` of
jmespath 1.x exactly (same truthiness, comparisons, projections; functions go through the same
``Functions.call_function``, so argument type checks and errors are identical). A node type
without a compiler here (``expref``, as in ``sort_by(xs, &k)``) makes ``compile_closure``
return ``None`` and the caller keeps the interpreter for that expression.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

from jmespath import functions as jfunctions
from jmespath.visitor import _equals, _is_actual_number, _is_comparable

__all__ = ["compile_closure"]

Fn = Callable[[Any], Any]


class _Unsupported(Exception):
    pass


def _is_false(value: Any) -> bool:
    if value is None or value is False:
        return True
    kind = type(value)
    if kind is str or kind is list or kind is dict:
        return not value
    if kind is int or kind is float or kind is bool:
        return False
    return value == "" or value == [] or value == {}  # subclasses and other types: jmespath's own test


_ORDER = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def _chain(fns: list[Fn]) -> Fn:
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        a, b = fns
        return lambda v: b(a(v))

    def run(value: Any) -> Any:
        for fn in fns:
            value = fn(value)
        return value

    return run


def _c_field(node: dict, functions: Any) -> Fn:
    name = node["value"]

    def field(value: Any) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None

    return field


def _c_subexpression(node: dict, functions: Any) -> Fn:
    children = node["children"]
    if all(c["type"] == "field" for c in children):  # a.b.c: one function, not a chain of them
        names = [c["value"] for c in children]

        def fields(value: Any) -> Any:
            for name in names:
                try:
                    value = value.get(name)
                except AttributeError:
                    return None
            return value

        return fields
    return _chain([_compile(c, functions) for c in children])


def _c_index_expression(node: dict, functions: Any) -> Fn:
    children = node["children"]
    if len(children) == 2 and children[0]["type"] == "field" and children[1]["type"] == "index":
        name, index = children[0]["value"], children[1]["value"]

        def field_at(value: Any) -> Any:  # columns[3]: the field's element in one step
            try:
                value = value.get(name)
            except AttributeError:
                return None
            if not isinstance(value, list):
                return None
            try:
                return value[index]
            except IndexError:
                return None

        return field_at
    return _chain([_compile(c, functions) for c in children])


_c_pipe = _c_subexpression


def _c_comparator(node: dict, functions: Any) -> Fn:
    left_node, right_node = node["children"]
    left, right = _compile(left_node, functions), _compile(right_node, functions)
    op = node["value"]
    if op in ("eq", "ne"):
        # against a string or null literal jmespath's 0/1-vs-boolean special case cannot apply,
        # so its equality is plain ==
        for side, other in ((right_node, left), (left_node, right)):
            if side["type"] == "literal" and (side["value"] is None or type(side["value"]) is str):
                literal = side["value"]
                if op == "eq":
                    return lambda v: other(v) == literal
                return lambda v: other(v) != literal
    if op == "eq":
        return lambda v: _equals(left(v), right(v))
    if op == "ne":
        return lambda v: not _equals(left(v), right(v))
    func = _ORDER[op]

    def compare(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return func(a, b)

    return compare


def _c_current(node: dict, functions: Any) -> Fn:
    return lambda v: v


_c_identity = _c_current


_CHECKING = ("call_function", "_validate_arguments", "_type_check", "_type_check_single", "_get_allowed_pytypes")


def _checked_call(functions: Any, name: str, nargs: int) -> tuple[Callable[..., Any], list[tuple[int, frozenset[str]]]] | None:
    """``(function, [(argument index, allowed python type names)])`` when a call of *name* with
    *nargs* arguments can be checked here exactly as ``Functions.call_function`` checks it (by
    type name, arity known to match); None when it must go through ``call_function`` (unknown
    function, wrong arity, typed arrays, a ``Functions`` subclass that changes the checking)."""
    for attr in _CHECKING:
        if getattr(type(functions), attr, None) is not getattr(jfunctions.Functions, attr):
            return None
    entry = functions.FUNCTION_TABLE.get(name)
    if entry is None:
        return None
    signature = entry["signature"]
    variadic = bool(signature and signature[-1].get("variadic"))
    if (nargs < len(signature)) if variadic else (nargs != len(signature)):
        return None
    checks = []
    for index, arg in enumerate(signature):
        if not arg["types"]:
            continue
        allowed, subtypes = functions._get_allowed_pytypes(arg["types"])
        if subtypes:
            return None
        checks.append((index, frozenset(allowed)))
    function = entry["function"]
    plain = getattr(function, "__wrapped__", None)  # a plugin function: no ``self``, no wrapper frame
    return (plain if plain is not None else functools.partial(function, functions)), checks


def _c_function_expression(node: dict, functions: Any) -> Fn:
    name = node["value"]
    args = [_compile(c, functions) for c in node["children"]]
    call = functions.call_function
    checked = _checked_call(functions, name, len(args))
    if checked is None:
        return lambda v: call(name, [a(v) for a in args])
    function, checks = checked

    def run(value: Any) -> Any:
        resolved = [a(value) for a in args]
        for index, allowed in checks:
            if type(resolved[index]).__name__ not in allowed:
                return call(name, resolved)  # raises jmespath's own error
        return function(*resolved)

    if len(args) == 2 and len(checks) == 2:
        (first, second), ((_, allowed1), (_, allowed2)) = args, checks

        def run2(value: Any) -> Any:
            a, b = first(value), second(value)
            if type(a).__name__ not in allowed1 or type(b).__name__ not in allowed2:
                return call(name, [a, b])
            return function(a, b)

        return run2
    if len(args) == 1 and len(checks) == 1:  # the common case without the loop
        (only,), ((_, allowed),) = args, checks

        def run1(value: Any) -> Any:
            arg = only(value)
            if type(arg).__name__ not in allowed:
                return call(name, [arg])
            return function(arg)

        return run1
    return run


def _project(each_fn: Fn, elements: Any) -> list:
    """*each_fn* of every element, results that are None left out (a projection's right side)."""
    return [current for current in map(each_fn, elements) if current is not None]


def _c_filter_projection(node: dict, functions: Any) -> Fn:
    base_fn, each_fn, cond_fn = (_compile(c, functions) for c in node["children"])

    def filtered(value: Any) -> Any:
        base = base_fn(value)
        if not isinstance(base, list):
            return None
        return _project(each_fn, (element for element in base if not _is_false(cond_fn(element))))

    return filtered


def _c_flatten(node: dict, functions: Any) -> Fn:
    base_fn = _compile(node["children"][0], functions)

    def flatten(value: Any) -> Any:
        base = base_fn(value)
        if not isinstance(base, list):
            return None
        merged: list[Any] = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


def _c_index(node: dict, functions: Any) -> Fn:
    index = node["value"]

    def at(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[index]
        except IndexError:
            return None

    return at


def _c_slice(node: dict, functions: Any) -> Fn:
    s = slice(*node["children"])
    return lambda v: v[s] if isinstance(v, list) else None


def _c_key_val_pair(node: dict, functions: Any) -> Fn:
    return _compile(node["children"][0], functions)


def _c_literal(node: dict, functions: Any) -> Fn:
    literal = node["value"]
    return lambda v: literal


def _c_multi_select_dict(node: dict, functions: Any) -> Fn:
    pairs = [(c["value"], _compile(c, functions)) for c in node["children"]]
    return lambda v: None if v is None else {k: fn(v) for k, fn in pairs}


def _c_multi_select_list(node: dict, functions: Any) -> Fn:
    fns = [_compile(c, functions) for c in node["children"]]
    return lambda v: None if v is None else [fn(v) for fn in fns]


def _c_or_expression(node: dict, functions: Any) -> Fn:
    left, right = (_compile(c, functions) for c in node["children"])

    def either(value: Any) -> Any:
        matched = left(value)
        if _is_false(matched):
            matched = right(value)
        return matched

    return either


def _c_and_expression(node: dict, functions: Any) -> Fn:
    left, right = (_compile(c, functions) for c in node["children"])

    def both(value: Any) -> Any:
        matched = left(value)
        if _is_false(matched):
            return matched
        return right(value)

    return both


def _c_not_expression(node: dict, functions: Any) -> Fn:
    inner = _compile(node["children"][0], functions)

    def negate(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:
            return False
        return not result

    return negate


def _c_projection(node: dict, functions: Any) -> Fn:
    base_fn, each_fn = (_compile(c, functions) for c in node["children"])

    def project(value: Any) -> Any:
        base = base_fn(value)
        return _project(each_fn, base) if isinstance(base, list) else None

    return project


def _c_value_projection(node: dict, functions: Any) -> Fn:
    base_fn, each_fn = (_compile(c, functions) for c in node["children"])

    def project(value: Any) -> Any:
        base = base_fn(value)
        try:
            base = base.values()
        except AttributeError:
            return None
        return _project(each_fn, base)

    return project


_COMPILERS: dict[str, Callable[[dict, Any], Fn]] = {
    name[3:]: fn for name, fn in globals().items() if name.startswith("_c_")
}


def _compile(node: dict, functions: Any) -> Fn:
    compiler = _COMPILERS.get(node["type"])
    if compiler is None:
        raise _Unsupported(node["type"])
    return compiler(node, functions)


def compile_closure(ast: dict, functions: Any) -> Fn | None:
    """A function evaluating *ast* like the tree interpreter would, or None if some node type
    is not compiled here. *functions* is the ``jmespath.functions.Functions`` instance."""
    try:
        return _compile(ast, functions)
    except _Unsupported:
        return None
