"""YAML reading that remembers where every value came from (for located error messages).

Every mapping key and sequence item gets a position (1-based line and column): a scalar value
is located at the value itself, a block value (mapping, list) at its key. Errors show the
source line with a caret under that position."""

from __future__ import annotations

from typing import Any

import yaml

from engine.errors import SpecError

__all__ = ["Located", "load_located", "dotted", "source_caret"]

Path = tuple[Any, ...]
Position = tuple[int, int]  # (line, column), both 1-based
Scalar = tuple[int, int, str | None]  # (start index, end index, style) of a scalar in the text


class Located:
    """Parsed YAML data plus the position of every mapping key / sequence item."""

    def __init__(self, data: Any, positions: dict[Path, Position], file: str, text: str = "",
                 keys: dict[Path, Position] | None = None, scalars: dict[Path, Scalar] | None = None) -> None:
        self.data = data
        self.positions = positions
        self.keys = keys or {}
        self.scalars = scalars or {}
        self.file = file
        self.text = text
        self.text_lines = text.splitlines()

    @property
    def lines(self) -> dict[Path, int]:
        """``{path: line}`` (the line of each key / item)."""
        return {p: pos[0] for p, pos in self.positions.items()}

    def position(self, path: Path, *, on_key: bool = False) -> Position:
        """The position of *path* (its key with *on_key*), or of its nearest ancestor that has one."""
        path = tuple(path)
        table = self.keys if on_key else self.positions
        while path:
            if path in table:
                return table[path]
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def offset_position(self, path: Path, offset: int) -> Position | None:
        """The file position of character *offset* of the string scalar at *path*, or None.

        Quotes, escapes, block indicators and folded line breaks are skipped by matching the
        value's characters against the scalar's source text in order (exact for plain and
        quoted one-line scalars, the right line for block scalars)."""
        where, value = self.scalars.get(tuple(path)), self._value(path)
        if where is None or not isinstance(value, str) or not 0 <= offset <= len(value):
            return None
        start, end, style = where
        raw = self.text[start:end]
        j = 1 if style in ('"', "'") else (raw.find("\n") + 1 if style in ("|", ">") else 0)
        for ch in value[:offset]:
            if ch.isspace():
                j += 1 if j < len(raw) and raw[j].isspace() else 0
                continue
            k = raw.find(ch, j)
            if k < 0:
                return None
            j = k + 1
        if offset < len(value) and not value[offset].isspace():
            k = raw.find(value[offset], j)
            j = k if k >= 0 else j
        return _index_position(self.text, start + min(j, len(raw)))

    def _value(self, path: Path) -> Any:
        node = self.data
        for part in path:
            try:
                node = node[part]
            except (LookupError, TypeError):
                return None
        return node

    def line(self, path: Path) -> int | None:
        """The line of *path*, or of its nearest ancestor that has one."""
        return self.position(path)[0]

    def error(self, path: Path, message: str, cls: type[SpecError] = SpecError, *, on_key: bool = False) -> SpecError:
        """A ``SpecError`` located at *path* (field shown as ``a.b[0].c``), with a caret."""
        line, column = self.position(path, on_key=on_key)
        return cls(message + source_caret(self.text_lines, line, column), file=self.file, line=line, column=column,
                   field=dotted(path) or None)


def source_caret(lines: list[str], line: int | None, column: int | None) -> str:
    """``\\n    <source line>\\n    <caret under column>``, or "" when the line is unknown."""
    if not line or not column or line > len(lines):
        return ""
    text = lines[line - 1].replace("\t", " ")
    return f"\n    {text}\n    {' ' * (column - 1)}^"


def _index_position(text: str, index: int) -> Position:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def dotted(path: Path) -> str:
    """``("source", "params", "criteria", 0)`` → ``source.params.criteria[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that rejects duplicate mapping keys instead of silently keeping the last."""

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML override
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "unhashable mapping key", key_node.start_mark) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _mark(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _walk(node: yaml.Node, path: Path, out: dict[Path, Position], keys: dict[Path, Position],
          scalars: dict[Path, Scalar], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(node, yaml.ScalarNode):
        scalars.setdefault(path, (node.start_mark.index, node.end_mark.index, node.style))
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*path, key_node.value)
                keys.setdefault(child, _mark(key_node.start_mark))
                at = value_node if isinstance(value_node, yaml.ScalarNode) and value_node.start_mark.line == key_node.start_mark.line else key_node
                out.setdefault(child, _mark(at.start_mark))
                _walk(value_node, child, out, keys, scalars, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            out.setdefault(child, _mark(item.start_mark))
            keys.setdefault(child, _mark(item.start_mark))
            _walk(item, child, out, keys, scalars, depth + 1)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    # An unclosed quote or bracket is only noticed at the end of the stream; the context mark
    # ("while scanning a quoted scalar") is where it was opened, which is what the author needs.
    late = exc.problem_mark is None or (exc.context_mark is not None and "end of stream" in (exc.problem or ""))
    mark = exc.context_mark if late and exc.context_mark else exc.problem_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if late and exc.context:
        problem = f"{problem} {exc.context} opened here"
    line, column = _mark(mark) if mark else (None, None)
    return SpecError(f"YAML syntax: {problem}" + source_caret(text.splitlines(), line, column), file=file, line=line, column=column)


def load_located(text: str, file: str) -> Located:
    """Parse *text*; any YAML problem becomes a ``SpecError`` naming file, line and column."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise SpecError(f"YAML: {exc.__class__.__name__}: {exc}", file=file) from None
    positions: dict[Path, Position] = {(): (1, 1)}
    keys: dict[Path, Position] = {}
    scalars: dict[Path, Scalar] = {}
    if root is not None:
        _walk(root, (), positions, keys, scalars)
    return Located(data, positions, file, text, keys, scalars)
