"""YAML reading that remembers where every value came from (for located error messages)."""

from __future__ import annotations

from typing import Any

import yaml

from engine.errors import SpecError

__all__ = ["Located", "load_located"]

Path = tuple[Any, ...]


class Located:
    """Parsed YAML data plus the 1-based line of every mapping key / sequence item."""

    def __init__(self, data: Any, lines: dict[Path, int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line(self, path: Path) -> int | None:
        """The line of *path*, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def error(self, path: Path, message: str, cls: type[SpecError] = SpecError) -> SpecError:
        """A ``SpecError`` located at *path* (field shown as ``a.b[0].c``)."""
        return cls(message, file=self.file, line=self.line(path), field=dotted(path) or None)


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


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*path, key_node.value)
                lines.setdefault(child, key_node.start_mark.line + 1)
                _walk(value_node, child, lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines.setdefault(child, item.start_mark.line + 1)
            _walk(item, child, lines, depth + 1)


def load_located(text: str, file: str) -> Located:
    """Parse *text*; any YAML problem becomes a ``SpecError`` naming file and line."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax: {problem}", file=file, line=line) from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise SpecError(f"YAML: {exc.__class__.__name__}: {exc}", file=file) from None
    lines: dict[Path, int] = {(): 1}
    if root is not None:
        _walk(root, (), lines)
    return Located(data, lines, file)
