"""JMESPath compiled once, with located errors; evaluated by fast paths for plain field look-ups,
otherwise by closures compiled from the AST (``_jclosure``), the interpreter as last resort."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import exceptions as jexc
from jmespath import functions as jfunctions
from jmespath.visitor import Options

from engine.errors import ExpressionError
from engine.spec._jclosure import compile_closure

__all__ = ["FunctionSet", "Expr", "compile_expr", "caret", "root_fields"]


class FunctionSet:
    """The JMESPath functions available to specs: JMESPath's own plus plugin functions.

    Built once per plugin manager. ``options`` is the shared ``Options`` object passed to every
    search, so no per-record allocation happens.
    """

    def __init__(self, custom: Mapping[str, Callable[..., Any]]) -> None:
        methods = {f"_func_{name}": _as_method(fn) for name, fn in custom.items()}
        cls = type("LmsyncFunctions", (jfunctions.Functions,), methods)
        self.instance = cls()
        self.options = Options(custom_functions=self.instance)
        self.table: dict[str, dict[str, Any]] = cls.FUNCTION_TABLE

    def arity(self, name: str) -> tuple[int, bool] | None:
        """``(number of declared arguments, variadic)`` of *name*, or None if unknown."""
        entry = self.table.get(name)
        if entry is None:
            return None
        sig = entry["signature"]
        return len(sig), bool(sig and sig[-1].get("variadic"))


def _as_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain function so JMESPath can call it as a method (it passes ``self``)."""

    def method(self: Any, *args: Any) -> Any:
        return fn(*args)

    method.signature = fn.signature  # type: ignore[attr-defined]
    method.__doc__ = fn.__doc__
    method.__wrapped__ = fn  # type: ignore[attr-defined]  # the compiled fast path calls it directly
    return method


def caret(expression: str, position: int | None) -> str:
    """The expression on one line and a caret under *position* on the next."""
    if position is None or position < 0:
        return f"    {expression}"
    return f"    {expression}\n    {' ' * min(position, len(expression))}^"


@dataclass(frozen=True)
class Expr:
    """A compiled expression. Call ``expr(data)`` to evaluate it."""

    source: str
    where: str
    evaluate: Callable[[Any], Any]

    def __call__(self, data: Any) -> Any:
        return self.evaluate(data)


def _function_calls(node: Any) -> Iterator[tuple[str, int]]:
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            yield node["value"], len(node.get("children", []))
        for child in node.get("children", []):
            yield from _function_calls(child)
    elif isinstance(node, list):
        for child in node:
            yield from _function_calls(child)


def _function_problem(source: str, ast: Any, functions: FunctionSet) -> tuple[str, int, str] | None:
    """``(message, offset in source, trailer)`` of the first unknown or mis-called function."""
    for name, nargs in _function_calls(ast):
        arity = functions.arity(name)
        pos = source.find(name + "(")
        if arity is None:
            close = difflib.get_close_matches(name, functions.table, n=1)
            hint = f"; did you mean {close[0]}()?" if close else ""
            return f"unknown function {name}() in expression{hint}", pos, f"\n    known functions: {', '.join(sorted(functions.table))}"
        declared, variadic = arity
        if (variadic and nargs < declared) or (not variadic and nargs != declared):
            return (f"function {name}() takes {'at least ' if variadic else ''}{declared} argument(s), got {nargs}", pos, "")
    return None


def _fast_path(ast: dict[str, Any]) -> Callable[[Any], Any] | None:
    """Plain ``a`` or ``a.b.c`` look-ups bypass the interpreter (the common case in field maps)."""
    if ast.get("type") == "field":
        name = ast["value"]
        return lambda data: data.get(name) if isinstance(data, dict) else None
    if ast.get("type") == "subexpression":
        names = []
        for child in ast["children"]:
            if child.get("type") != "field":
                return None
            names.append(child["value"])

        def walk(data: Any) -> Any:
            for name in names:
                if not isinstance(data, dict):
                    return None
                data = data.get(name)
            return data

        return walk
    if ast.get("type") == "current":
        return lambda data: data
    return None


Locate = Callable[[int | None], tuple[int | None, int | None, str]]


def compile_expr(source: Any, functions: FunctionSet, *, file: str, line: int | None, field: str,
                 locate: Locate | None = None) -> Expr:
    """Compile *source* or raise ``ExpressionError`` naming file, line and field, with a caret.

    Without *locate* the caret is drawn under the expression itself. *locate* maps a character
    offset of *source* (None: unknown) to ``(line, column, caret text)`` in the file it came
    from; the error is then located at the bad token and the caret drawn under the file's line."""
    if not isinstance(source, str) or not source.strip():
        message = f"expected a JMESPath expression (a non-empty string), got {source!r}"
        line, column, shown = locate(None) if locate else (line, None, "")
        raise ExpressionError(message + shown, file=file, line=line, column=column, field=field)
    parsed, problem = _parse(source, functions)
    if problem is not None:
        message, offset, trailer = problem
        if locate is None:
            raise ExpressionError(f"{message}\n{caret(source, offset)}{trailer}", file=file, line=line, field=field)
        at_line, column, shown = locate(offset)
        raise ExpressionError(message + shown + trailer, file=file, line=at_line, column=column, field=field)
    where = f"{file}:{line} {field}"
    fast = _fast_path(parsed.parsed) or compile_closure(parsed.parsed, functions.instance)
    if fast is not None:
        return Expr(source, where, fast)
    options = functions.options
    return Expr(source, where, lambda data: parsed.search(data, options=options))


def _parse(source: str, functions: FunctionSet) -> tuple[Any, tuple[str, int | None, str] | None]:
    """``(parsed, None)``, or ``(None, (message, offset of the bad token or None, trailer))``."""
    try:
        parsed = jmespath.compile(source)
    except jexc.LexerError as exc:  # its ``msg`` is generic; ``message`` says what ("Unknown token #")
        return None, (f"invalid JMESPath expression: {getattr(exc, 'message', None) or exc.msg}", exc.lex_position, "")
    except jexc.IncompleteExpressionError:
        return None, ("invalid JMESPath expression: incomplete expression", len(source), "")
    except jexc.ParseError as exc:
        return None, (f"invalid JMESPath expression: {exc.msg}", exc.lex_position, "")
    except (jexc.JMESPathError, RecursionError, ValueError) as exc:
        return None, (f"invalid JMESPath expression: {exc}", None, "")
    problem = _function_problem(source, parsed.parsed, functions)
    return (None, problem) if problem else (parsed, None)


# node types whose children after the first are evaluated on something else than the input
_RIGHT_SIDE_ELSEWHERE = frozenset({"subexpression", "pipe", "projection", "value_projection", "filter_projection",
                                   "index_expression"})


def root_fields(source: str) -> frozenset[str]:
    """The top-level keys of its input that expression *source* reads (``a`` in ``a.b``,
    ``f(a, c)``, ``a[?x]``; not ``b``). Compile-time analysis: which look-up feeds a field."""
    found: set[str] = set()

    def walk(node: Any, at_root: bool) -> None:
        if not isinstance(node, dict):
            return
        kind, children = node.get("type"), node.get("children", [])
        if kind == "field" and at_root:
            found.add(node["value"])
        if kind == "expref":
            return  # evaluated on the elements a function hands it
        for i, child in enumerate(children):
            walk(child, at_root and (i == 0 or kind not in _RIGHT_SIDE_ELSEWHERE))

    walk(jmespath.compile(source).parsed, True)
    return frozenset(found)
